package serving

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/trip"
)

func embedded(t testing.TB) *ModelVersion {
	t.Helper()
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &ModelVersion{Artifact: a, Name: "taxi-duration", Version: "7", Source: "embedded"}
}

// recorder is an Observer that keeps copies of what it sees.
type recorder struct{ seen []Observation }

func (r *recorder) Observe(o Observation) {
	o.Trips = append([]trip.Trip(nil), o.Trips...)
	o.Predictions = append([]trip.Prediction(nil), o.Predictions...)
	r.seen = append(r.seen, o)
}

func TestServicePredictsCountsAndObserves(t *testing.T) {
	mv := embedded(t)
	reg := prometheus.NewRegistry()
	rec := &recorder{}
	svc, err := New(NewStatic(mv), Options{Registerer: reg, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	trips := []trip.Trip{
		{PULocationID: 74, DOLocationID: 75, Passengers: 1},
		{PULocationID: 132, DOLocationID: 230, Passengers: trip.NoPassengers},
		{PULocationID: 1, DOLocationID: 265, Passengers: 4},
	}
	got := svc.Predict(Call{Protocol: REST, ID: "req-1"}, mv, trips[0])
	if want := mv.Artifact.Model.Predict(trips[0]); got != want {
		t.Errorf("Predict = %+v; the model says %+v", got, want)
	}
	out := make([]trip.Prediction, len(trips))
	svc.PredictBatch(Call{Protocol: Batch}, mv, trips, out)
	for i, tr := range trips {
		if want := mv.Artifact.Model.Predict(tr); out[i] != want {
			t.Errorf("PredictBatch[%d] = %+v; the model says %+v", i, out[i], want)
		}
	}
	measured := make([]trip.Prediction, len(trips))
	svc.Measure(mv, trips, measured)
	if measured[2] != out[2] {
		t.Errorf("Measure = %+v; PredictBatch %+v", measured[2], out[2])
	}
	svc.Predict(Call{Protocol: Stream, ID: "ride-9"}, mv, trips[1])

	for _, c := range []struct {
		p    Protocol
		want uint64
	}{{REST, 1}, {Batch, 3}, {Stream, 1}, {OIPREST, 0}, {MLflow, 0}} {
		if n := svc.Predictions(mv, c.p); n != c.want {
			t.Errorf("Predictions(%s) = %d; want %d", c.p, n, c.want)
		}
	}
	if len(rec.seen) != 3 {
		t.Fatalf("the observer saw %d calls; want 3 (Measure is not served)", len(rec.seen))
	}
	if o := rec.seen[0]; o.ID != "req-1" || o.Protocol != REST || o.Model != mv || len(o.Trips) != 1 || o.Predictions[0] != got {
		t.Errorf("first observation %+v", o)
	}
	if o := rec.seen[1]; o.Protocol != Batch || len(o.Trips) != 3 || o.Predictions[2] != out[2] {
		t.Errorf("second observation %+v", o)
	}

	got2 := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got2[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"taxieta_predictions_total,model=taxi-duration,protocol=batch,version=7":  3,
		"taxieta_predictions_total,model=taxi-duration,protocol=rest,version=7":   1,
		"taxieta_predictions_total,model=taxi-duration,protocol=stream,version=7": 1,
		"taxieta_model_loaded": 1,
	} {
		if got2[key] != want {
			t.Errorf("metric %s = %v; want %v (all: %v)", key, got2[key], want, got2)
		}
	}
	if _, ok := got2["taxieta_predictions_total,model=taxi-duration,protocol=v2-rest,version=7"]; ok {
		t.Error("a protocol with no predictions has a series")
	}
}

func TestServiceModel(t *testing.T) {
	mv := embedded(t)
	svc, err := New(NewStatic(mv), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		version string
		want    *ModelVersion
		err     error
	}{
		{"", mv, nil},
		{"7", mv, nil},
		{"8", nil, ErrUnknownVersion},
	}
	for _, tt := range tests {
		got, err := svc.Model(ctx, tt.version)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Model(%q) = %v, %v; want %v, %v", tt.version, got, err, tt.want, tt.err)
		}
	}
	if svc.Follows() {
		t.Error("a fixed model says it follows a reference")
	}
	if _, err := svc.Reload(ctx); !errors.Is(err, ErrNotFollowing) {
		t.Errorf("Reload of a fixed model: %v; want ErrNotFollowing", err)
	}

	empty, err := New(NewStatic(nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Model(ctx, ""); !errors.Is(err, ErrNoModel) {
		t.Errorf("Model with nothing loaded: %v; want ErrNoModel", err)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestServicePredictDoesNotAllocate keeps the single-prediction path of
// every deployment allocation-free, as the model's own is.
func TestServicePredictDoesNotAllocate(t *testing.T) {
	mv := embedded(t)
	reg := prometheus.NewRegistry()
	svc, err := New(NewStatic(mv), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	tr := trip.Trip{PULocationID: 74, DOLocationID: 75, Passengers: 1}
	trips := []trip.Trip{tr, tr, tr}
	out := make([]trip.Prediction, len(trips))
	if n := testing.AllocsPerRun(1000, func() { svc.Predict(Call{Protocol: REST, ID: "x"}, mv, tr) }); n != 0 {
		t.Errorf("Predict allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { svc.PredictBatch(Call{Protocol: Batch}, mv, trips, out) }); n != 0 {
		t.Errorf("PredictBatch allocates %v times per call", n)
	}
	observed, err := New(NewStatic(mv), Options{Observer: nopObserver{}})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { observed.Predict(Call{Protocol: REST, ID: "x"}, mv, tr) }); n != 0 {
		t.Errorf("Predict with an observer allocates %v times per call", n)
	}
}

type nopObserver struct{}

func (nopObserver) Observe(Observation) {}

func BenchmarkServicePredict(b *testing.B) {
	mv := embedded(b)
	svc, err := New(NewStatic(mv), Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	tr := trip.Trip{PULocationID: 74, DOLocationID: 75, Passengers: 1}
	b.ReportAllocs()
	for b.Loop() {
		svc.Predict(Call{Protocol: REST}, mv, tr)
	}
}
