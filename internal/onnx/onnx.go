// Package onnx exports taxieta's models as ONNX graphs, so that any ONNX
// runtime (onnxruntime in Python, Triton, KServe) computes the estimates and
// ranges the Go model computes. The graphs use standard ai.onnx operators
// only: Gather over the model's dense tables, comparisons and Where for the
// zone, passenger and hour-of-week rules, and the model's own arithmetic in
// its own precision (float32 for od, float64 rounded to float32 for linear),
// so that they agree with the Go model to the last bit on the same inputs.
//
// The protobuf is written through the Go types generated from ONNX's
// onnx.proto (package onnxpb; make generate). This package knows the
// models only through model's read-only table accessors.
package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx/onnxpb"
	"github.com/taxieta/taxieta/internal/trip"
)

// The graph's inputs: int64 tensors of shape [N], one element per trip.
const (
	// InputPU and InputDO are the TLC zone ids; a trip with either outside
	// 1..265 is estimated as one between unknown zones, as in Go.
	InputPU = "PULocationID"
	InputDO = "DOLocationID"
	// InputPassengers is the passenger count 0..9; -1 (or any other
	// value) means unknown.
	InputPassengers = "passenger_count"
	// InputHourOfWeek is the pickup's hour of the week in New York time,
	// 0 (Monday 00:00–00:59) to 167, as trip.HourOfWeek counts; -1 (or any
	// value outside 0..167) means the pickup time is not known.
	InputHourOfWeek = "pickup_hour_of_week"
)

// The graph's outputs: float32 tensors of shape [N], in minutes: the
// estimate and its 10–90% range (trip.Prediction's Minutes, Low, High).
const (
	OutputMinutes = "duration_minutes"
	OutputLow     = "low_minutes"
	OutputHigh    = "high_minutes"
)

// Inputs and Outputs list the graph's inputs and outputs in order.
var (
	Inputs  = []string{InputPU, InputDO, InputPassengers, InputHourOfWeek}
	Outputs = []string{OutputMinutes, OutputLow, OutputHigh}
)

// Versions of the format written: IR version 8 and opset 17 are read by
// every onnxruntime since 1.15 (2023), and by the Triton and KServe
// releases built on them; the graph needs nothing newer.
const (
	IRVersion = 8
	Opset     = 17
)

// NoHour is the InputHourOfWeek value for a trip without pickup time.
const NoHour = -1

// Options are what an export records about where it came from.
type Options struct {
	// ProducerVersion is the exporting taxieta's version.
	ProducerVersion string
}

// Export returns the ONNX model (a serialised onnx.ModelProto) that
// computes what a's model computes. The same artifact gives the same bytes.
func Export(a *model.Artifact, opt Options) ([]byte, error) {
	m, err := Build(a, opt)
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx export of %s: %w", a.Name, err)
	}
	return b, nil
}

// Build returns the ONNX model of a's model.
func Build(a *model.Artifact, opt Options) (*onnxpb.ModelProto, error) {
	if a == nil || a.Model == nil {
		return nil, errors.New("onnx export: no model")
	}
	g := newGraph("taxieta_" + a.Kind)
	for _, in := range Inputs {
		g.input(in, onnxpb.TensorProto_INT64)
	}
	switch m := a.Model.(type) {
	case *model.OD:
		buildOD(g, m.Tables())
	case *model.Linear:
		buildLinear(g, m.Tables())
	default:
		return nil, fmt.Errorf("onnx export of %s: model kind %q has no ONNX form", a.Name, a.Kind)
	}
	for _, out := range Outputs {
		g.output(out, onnxpb.TensorProto_FLOAT)
	}
	doc := fmt.Sprintf("taxieta %s model %q (sha256 %s): NYC taxi trip duration in minutes with its 10-90%% range. "+
		"Inputs: int64 [N] %s, %s (TLC zone ids 1..265), %s (0..9, -1 unknown), %s (0 = Monday 00h .. 167 New York time, -1 no pickup time).",
		a.Kind, a.Name, a.Checksum, InputPU, InputDO, InputPassengers, InputHourOfWeek)
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String("taxieta"),
		ProducerVersion: proto.String(opt.ProducerVersion),
		Domain:          proto.String("io.github.taxieta"),
		DocString:       proto.String(doc),
		Graph:           g.g,
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("taxieta.name"), Value: proto.String(a.Name)},
			{Key: proto.String("taxieta.kind"), Value: proto.String(a.Kind)},
			{Key: proto.String("taxieta.sha256"), Value: proto.String(a.Checksum)},
		},
	}, nil
}

// common adds what both kinds compute from the inputs: whether both zones
// are valid, and the passenger category.
func common(g *graph, passengerCats int) (zonesOK, pax string) {
	one, maxZone := g.int64s("one", 1), g.int64s("max_zone", trip.MaxZone)
	zonesOK = g.and(
		g.and(g.op("GreaterOrEqual", InputPU, one), g.op("LessOrEqual", InputPU, maxZone)),
		g.and(g.op("GreaterOrEqual", InputDO, one), g.op("LessOrEqual", InputDO, maxZone)))
	// Categories 0..MaxPassengers are the count; the last is unknown.
	zero, maxPax := g.int64s("zero", 0), g.int64s("max_passengers", trip.MaxPassengers)
	paxOK := g.and(g.op("GreaterOrEqual", InputPassengers, zero), g.op("LessOrEqual", InputPassengers, maxPax))
	pax = g.op("Where", paxOK, InputPassengers, g.int64s("unknown_passengers", int64(passengerCats-1)))
	return zonesOK, pax
}

// buildOD computes, in float32 as OD.Predict does:
//
//	v = clip((pair[zones ok ? pu*266+do : 0] + pax[cat]) * factor[hour], 1, 60)
//	low, high = v * ratio_low[t][int(v)], v * ratio_high[t][int(v)]
//
// where factor is 1 and t is 0 without pickup time (v*1 is v exactly), and
// t is 1 with it.
func buildOD(g *graph, t model.ODTables) {
	zonesOK, paxCat := common(g, len(t.PassengerOffset))
	pair := g.op("Add", g.op("Mul", InputPU, g.int64s("zones_per_side", trip.MaxZone+1)), InputDO)
	pair = g.op("Where", zonesOK, pair, g.int64s("unknown_pair", 0))
	v := g.op("Add",
		g.gather(g.floats("pair_estimate", t.PairEstimate), pair),
		g.gather(g.floats("passenger_offset", t.PassengerOffset), paxCat))

	hours := len(t.HourOfWeekFactor)
	hourOK := g.and(g.op("GreaterOrEqual", InputHourOfWeek, g.int64s("zero_hour", 0)),
		g.op("LessOrEqual", InputHourOfWeek, g.int64s("last_hour", int64(hours-1))))
	hour := g.op("Where", hourOK, InputHourOfWeek, g.int64s("no_hour", int64(hours)))
	factors := append(t.HourOfWeekFactor[:hours:hours], 1) // index hours: no pickup time
	v = g.op("Mul", v, g.gather(g.floats("hour_of_week_factor", factors), hour))
	v = g.op("Clip", v, g.float("min_minutes", t.MinMinutes), g.float("max_minutes", t.MaxMinutes))

	// The range tables, without then with pickup time, end to end.
	perSide := len(t.RangeLow[0])
	lo := append(append([]float32(nil), t.RangeLow[0]...), t.RangeLow[1]...)
	hi := append(append([]float32(nil), t.RangeHigh[0]...), t.RangeHigh[1]...)
	minute := g.cast(v, onnxpb.TensorProto_INT64) // truncates, as Go's int(v); v >= 1
	row := g.op("Add", g.op("Mul", g.cast(hourOK, onnxpb.TensorProto_INT64), g.int64s("range_row", int64(perSide))), minute)
	g.opTo("Identity", OutputMinutes, v)
	g.opTo("Mul", OutputLow, v, g.gather(g.floats("range_low", lo), row))
	g.opTo("Mul", OutputHigh, v, g.gather(g.floats("range_high", hi), row))
}

// buildLinear computes, in float64 as Linear.Predict does, then rounds to
// float32:
//
//	pu, do = zones ok ? (pu, do) : (0, 0)
//	v = ((intercept + PU[pu]) + DO[do]) + P[cat]
//	v, max(0, v + residual_low), v + residual_high
func buildLinear(g *graph, t model.LinearTables) {
	zonesOK, paxCat := common(g, len(t.Passengers))
	noZone := g.int64s("unknown_zone", 0)
	pu := g.op("Where", zonesOK, InputPU, noZone)
	do := g.op("Where", zonesOK, InputDO, noZone)
	v := g.op("Add", g.double("intercept", t.Intercept), g.gather(g.doubles("pu_coef", t.PU), pu))
	v = g.op("Add", v, g.gather(g.doubles("do_coef", t.DO), do))
	v = g.op("Add", v, g.gather(g.doubles("passenger_coef", t.Passengers), paxCat))
	low := g.op("Max", g.op("Add", v, g.double("residual_low", t.ResidualLow)), g.double("zero_minutes", 0))
	high := g.op("Add", v, g.double("residual_high", t.ResidualHigh))
	g.castTo(OutputMinutes, v, onnxpb.TensorProto_FLOAT)
	g.castTo(OutputLow, low, onnxpb.TensorProto_FLOAT)
	g.castTo(OutputHigh, high, onnxpb.TensorProto_FLOAT)
}
