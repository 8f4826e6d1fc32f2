package onnx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx"
	"github.com/taxieta/taxieta/internal/onnx/onnxpb"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// tolerance is the acceptance bound, in minutes; the graphs are meant to
// agree exactly, and the test logs how far they are.
const tolerance = 1e-4

var fixture struct {
	once   sync.Once
	od     *model.Artifact
	linear *model.Artifact
	month  []trip.Raw
	err    error
}

// artifacts returns the embedded od model, a linear model trained on green
// 2023-01, and every row of green 2024-03.
func artifacts(t *testing.T) (od, linear *model.Artifact, month []trip.Raw) {
	t.Helper()
	dir := testenv.DataDir(t)
	fixture.once.Do(func() {
		ctx := context.Background()
		if fixture.od, fixture.err = defaultmodel.Load(); fixture.err != nil {
			return
		}
		var examples []trip.Example
		var st trip.Stats
		rules := trip.DefaultRules()
		fixture.err = tlc.ReadFile(ctx, filepath.Join(dir, "green_tripdata_2023-01.parquet"), func(rows []trip.Raw) error {
			for _, r := range rows {
				if ex, ok := rules.Clean(r, &st); ok {
					examples = append(examples, ex)
				}
			}
			return nil
		})
		if fixture.err != nil {
			return
		}
		m, err := model.LinearEstimator{}.Fit(ctx, examples)
		if err != nil {
			fixture.err = err
			return
		}
		if fixture.linear, fixture.err = model.NewArtifact(m, model.Artifact{CreatedAt: time.Unix(1700000000, 0).UTC(), Trainer: "test"}); fixture.err != nil {
			return
		}
		var b []byte
		if b, fixture.err = fixture.linear.Encode(); fixture.err != nil {
			return
		}
		if fixture.linear, fixture.err = model.Decode(b); fixture.err != nil {
			return
		}
		fixture.err = tlc.ReadFile(ctx, filepath.Join(dir, "green_tripdata_2024-03.parquet"), func(rows []trip.Raw) error {
			fixture.month = append(fixture.month, rows...)
			return nil
		})
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.od, fixture.linear, fixture.month
}

// tripOf is the trip the Go model scores for a raw row: zones outside
// 1..265 become 0, which the model treats as unknown, as does the graph
// for the raw value.
func tripOf(r trip.Raw, withTime bool) trip.Trip {
	t := trip.Trip{Passengers: trip.PassengersOf(r.Passengers)}
	if trip.ValidZone(r.PULocationID) && trip.ValidZone(r.DOLocationID) {
		t.PULocationID, t.DOLocationID = uint16(r.PULocationID), uint16(r.DOLocationID)
	}
	if withTime {
		t.Pickup = time.UnixMicro(r.PickupMicros).UTC()
	}
	return t
}

func writeInt64s(t *testing.T, path string, v []int64) {
	t.Helper()
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFloat32s(t *testing.T, path string, n int) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*n {
		t.Fatalf("%s: %d bytes; want %d float32s", path, len(b), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestOnnxRuntimeMatchesGo scores every row of a real month with the
// exported graph in onnxruntime (Python) and with the Go model, for both
// kinds, with and without pickup time.
func TestOnnxRuntimeMatchesGo(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_ONNX_PYTHON")
	od, linear, month := artifacts(t)
	script, err := filepath.Abs(filepath.Join("testdata", "ort_predict.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*model.Artifact{od, linear} {
		for _, withTime := range []bool{false, true} {
			name := a.Kind + "/without_time"
			if withTime {
				name = a.Kind + "/with_time"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				b, err := onnx.Export(a, onnx.Options{ProducerVersion: "test"})
				if err != nil {
					t.Fatal(err)
				}
				modelPath := filepath.Join(dir, "model.onnx")
				if err := os.WriteFile(modelPath, b, 0o644); err != nil {
					t.Fatal(err)
				}
				n := len(month)
				pu, do, pax, how := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
				trips := make([]trip.Trip, n)
				timed := 0
				for i, r := range month {
					trips[i] = tripOf(r, withTime)
					pu[i], do[i], pax[i] = r.PULocationID, r.DOLocationID, int64(trips[i].Passengers)
					how[i] = int64(trip.HourOfWeek(trips[i].Pickup))
					if how[i] >= 0 {
						timed++
					}
				}
				if withTime && timed != n || !withTime && timed != 0 {
					t.Fatalf("%d of %d trips have a pickup hour", timed, n)
				}
				writeInt64s(t, filepath.Join(dir, onnx.InputPU+".bin"), pu)
				writeInt64s(t, filepath.Join(dir, onnx.InputDO+".bin"), do)
				writeInt64s(t, filepath.Join(dir, onnx.InputPassengers+".bin"), pax)
				writeInt64s(t, filepath.Join(dir, onnx.InputHourOfWeek+".bin"), how)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				if out, err := exec.CommandContext(ctx, python, script, modelPath, dir).CombinedOutput(); err != nil {
					t.Fatalf("onnxruntime: %v\n%s", err, out)
				}
				want := make([]trip.Prediction, n)
				a.Model.PredictBatch(trips, want)
				got := [3][]float32{
					readFloat32s(t, filepath.Join(dir, onnx.OutputMinutes+".bin"), n),
					readFloat32s(t, filepath.Join(dir, onnx.OutputLow+".bin"), n),
					readFloat32s(t, filepath.Join(dir, onnx.OutputHigh+".bin"), n),
				}
				var maxDiff [3]float64
				var differ [3]int
				for i, p := range want {
					for k, w := range []float32{p.Minutes, p.Low, p.High} {
						d := math.Abs(float64(got[k][i]) - float64(w))
						if d > maxDiff[k] {
							maxDiff[k] = d
						}
						if d != 0 {
							differ[k]++
						}
						if d > tolerance && differ[k] <= 3 {
							t.Errorf("row %d (%+v): %s %g, Go %g", i, month[i], onnx.Outputs[k], got[k][i], w)
						}
					}
				}
				t.Logf("%d trips: max |onnxruntime - Go| estimate %g, low %g, high %g minutes (rows differing at all: %v)",
					n, maxDiff[0], maxDiff[1], maxDiff[2], differ)
			})
		}
	}
}

// TestExportIsDeterministic: the same artifact gives the same bytes, and
// the graph declares the documented interface.
func TestExportIsDeterministic(t *testing.T) {
	od, linear, _ := artifacts(t)
	for _, a := range []*model.Artifact{od, linear} {
		t.Run(a.Kind, func(t *testing.T) {
			b1, err := onnx.Export(a, onnx.Options{ProducerVersion: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			b2, err := onnx.Export(a, onnx.Options{ProducerVersion: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b1, b2) {
				t.Fatal("two exports of one artifact differ")
			}
			var m onnxpb.ModelProto
			if err := proto.Unmarshal(b1, &m); err != nil {
				t.Fatal(err)
			}
			if m.GetIrVersion() != onnx.IRVersion || len(m.GetOpsetImport()) != 1 || m.GetOpsetImport()[0].GetVersion() != onnx.Opset {
				t.Errorf("IR %d, opsets %v; want IR %d, opset %d", m.GetIrVersion(), m.GetOpsetImport(), onnx.IRVersion, onnx.Opset)
			}
			check := func(what string, vis []*onnxpb.ValueInfoProto, names []string, elem onnxpb.TensorProto_DataType) {
				if len(vis) != len(names) {
					t.Fatalf("%d %s; want %v", len(vis), what, names)
				}
				for i, vi := range vis {
					tt := vi.GetType().GetTensorType()
					if vi.GetName() != names[i] || tt.GetElemType() != int32(elem) || len(tt.GetShape().GetDim()) != 1 {
						t.Errorf("%s %d is %s %v; want %s %v [N]", what, i, vi.GetName(), tt, names[i], elem)
					}
				}
			}
			check("inputs", m.GetGraph().GetInput(), onnx.Inputs, onnxpb.TensorProto_INT64)
			check("outputs", m.GetGraph().GetOutput(), onnx.Outputs, onnxpb.TensorProto_FLOAT)
			var sum string
			for _, p := range m.GetMetadataProps() {
				if p.GetKey() == "taxieta.sha256" {
					sum = p.GetValue()
				}
			}
			if sum != a.Checksum {
				t.Errorf("metadata taxieta.sha256 %q; want the artifact's %s", sum, a.Checksum)
			}
		})
	}
}

func TestExportNeedsAModel(t *testing.T) {
	if _, err := onnx.Export(&model.Artifact{Name: "x"}, onnx.Options{}); err == nil {
		t.Fatal("exported an artifact without a model")
	}
}
