package model

import (
	"bytes"
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/zones"
)

var fixture struct {
	once     sync.Once
	examples []trip.Example
	zones    zones.Table
	od       Model
	linear   Model
	err      error
}

// trained fits both kinds once on green 2023-01.
func trained(t testing.TB) (od, linear Model, examples []trip.Example) {
	t.Helper()
	dir := testenv.DataDir(t)
	fixture.once.Do(func() {
		rules := trip.DefaultRules()
		var st trip.Stats
		fixture.err = tlc.ReadFile(context.Background(), filepath.Join(dir, "green_tripdata_2023-01.parquet"), func(rows []trip.Raw) error {
			for _, r := range rows {
				if ex, ok := rules.Clean(r, &st); ok {
					fixture.examples = append(fixture.examples, ex)
				}
			}
			return nil
		})
		if fixture.err != nil {
			return
		}
		if fixture.zones, fixture.err = zones.ReadLookupFile(filepath.Join(dir, "taxi_zone_lookup.csv")); fixture.err != nil {
			return
		}
		if fixture.err = fixture.zones.AddCentroidsFile(filepath.Join(dir, "taxi_zones.geojson")); fixture.err != nil {
			return
		}
		est := &ODEstimator{Zones: fixture.zones, Settings: DefaultODSettings()}
		if fixture.od, fixture.err = est.Fit(context.Background(), fixture.examples); fixture.err != nil {
			return
		}
		fixture.linear, fixture.err = LinearEstimator{}.Fit(context.Background(), fixture.examples)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.od, fixture.linear, fixture.examples
}

func artifactOf(t testing.TB, m Model) *Artifact {
	t.Helper()
	a, err := NewArtifact(m, Artifact{CreatedAt: time.Unix(1700000000, 0).UTC(), Trainer: "test", Zones: fixture.zones})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestArtifactRoundTrip(t *testing.T) {
	od, linear, examples := trained(t)
	for _, m := range []Model{od, linear} {
		t.Run(m.Kind(), func(t *testing.T) {
			a := artifactOf(t, m)
			b1, err := a.Encode()
			if err != nil {
				t.Fatal(err)
			}
			b2, _ := artifactOf(t, m).Encode()
			if !bytes.Equal(b1, b2) {
				t.Fatal("the same model encoded to different bytes")
			}
			got, err := Decode(b1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != m.Kind() || got.Checksum != a.Checksum || len(got.Zones) != trip.MaxZone+1 {
				t.Errorf("decoded kind %q checksum %s zones %d", got.Kind, got.Checksum, len(got.Zones))
			}
			// The decoded model predicts what the fitted one does, to the
			// precision the artifact keeps (1e-4 minutes).
			for _, ex := range examples[:2000] {
				want, have := m.Predict(ex.Trip), got.Model.Predict(ex.Trip)
				if math.Abs(float64(want.Minutes-have.Minutes)) > 1e-3 || math.Abs(float64(want.High-have.High)) > 1e-2 {
					t.Fatalf("trip %+v: fitted %+v, decoded %+v", ex.Trip, want, have)
				}
			}
			again, _ := got.Encode()
			if !bytes.Equal(again, b1) {
				t.Error("decode then encode changed the bytes")
			}
		})
	}
}

func TestArtifactBadFiles(t *testing.T) {
	od, _, _ := trained(t)
	good, err := artifactOf(t, od).Encode()
	if err != nil {
		t.Fatal(err)
	}
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x20
	future := append([]byte("taxieta-model v99\n"), good[bytes.IndexByte(good, '\n')+1:]...)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrNotArtifact},
		{"not a model", []byte("PAR1 this is something else\n"), ErrNotArtifact},
		{"truncated at half", good[:len(good)/2], ErrTruncated},
		{"truncated in checksum", good[:len(good)-10], ErrTruncated},
		{"truncated in magic", good[:5], ErrTruncated},
		{"one byte changed", flip, ErrCorrupt},
		{"unknown version", future, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestPredictEdgeInputs(t *testing.T) {
	od, linear, _ := trained(t)
	trips := []trip.Trip{
		{PULocationID: 0, DOLocationID: 0, Passengers: trip.NoPassengers},
		{PULocationID: 999, DOLocationID: 65535, Passengers: 127},
		{PULocationID: 264, DOLocationID: 265, Passengers: -100},
		{PULocationID: 1, DOLocationID: 1, Passengers: 0, Pickup: time.Date(2024, 3, 4, 23, 59, 0, 0, time.UTC)},
		{PULocationID: 74, DOLocationID: 75, Passengers: 9, Pickup: time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))},
	}
	for _, m := range []Model{od, linear} {
		for _, tr := range trips {
			p := m.Predict(tr)
			if math.IsNaN(float64(p.Minutes)) || p.Low > p.Minutes || p.High < p.Minutes || p.Low < 0 {
				t.Errorf("%s: %+v → %+v: want a finite estimate inside its range", m.Kind(), tr, p)
			}
		}
	}
}

func TestPredictAllocatesNothing(t *testing.T) {
	od, linear, examples := trained(t)
	trips := make([]trip.Trip, 256)
	for i := range trips {
		trips[i] = examples[i].Trip
	}
	out := make([]trip.Prediction, len(trips))
	for _, m := range []Model{od, linear} {
		if n := testing.AllocsPerRun(100, func() { m.Predict(trips[7]) }); n != 0 {
			t.Errorf("%s Predict allocates %v times", m.Kind(), n)
		}
		if n := testing.AllocsPerRun(100, func() { m.PredictBatch(trips, out) }); n != 0 {
			t.Errorf("%s PredictBatch allocates %v times", m.Kind(), n)
		}
	}
}

// The pickup time is optional: without it the od model predicts as before.
func TestODPickupTimeOptional(t *testing.T) {
	od, _, examples := trained(t)
	ex := examples[100].Trip
	noTime := ex
	noTime.Pickup = time.Time{}
	a, b := od.Predict(noTime), od.Predict(ex)
	if a == b {
		t.Errorf("pickup time made no difference: %+v", a)
	}
	if od.Predict(noTime) != a {
		t.Error("prediction not deterministic")
	}
}

func BenchmarkPredict(b *testing.B) {
	od, linear, examples := trained(b)
	for _, m := range []Model{od, linear} {
		for _, withTime := range []bool{false, true} {
			name := m.Kind()
			if withTime {
				name += "/with-time"
			}
			b.Run(name, func(b *testing.B) {
				trips := make([]trip.Trip, 1024)
				for i := range trips {
					trips[i] = examples[i*31%len(examples)].Trip
					if !withTime {
						trips[i].Pickup = time.Time{}
					}
				}
				b.ReportAllocs()
				var sink float32
				i := 0
				for b.Loop() {
					sink += m.Predict(trips[i&1023]).Minutes
					i++
				}
				_ = sink
			})
		}
	}
}

func BenchmarkPredictBatch(b *testing.B) {
	od, _, examples := trained(b)
	trips := make([]trip.Trip, 10000)
	for i := range trips {
		trips[i] = examples[i%len(examples)].Trip
	}
	out := make([]trip.Prediction, len(trips))
	b.ReportAllocs()
	for b.Loop() {
		od.PredictBatch(trips, out)
	}
	b.ReportMetric(float64(b.N)*float64(len(trips))/b.Elapsed().Seconds(), "predictions/s")
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("taxieta-model v1\n{}\nsha256 0000000000000000000000000000000000000000000000000000000000000000\n"))
	f.Add([]byte("taxieta-model v1\n"))
	f.Add([]byte("taxieta-model vX\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err == nil && a.Model == nil {
			t.Fatal("decoded an artifact without a model")
		}
	})
}

// TestArtifactProfile: a drift profile travels in the artifact, one that
// breaks its rules makes the file corrupt, and an artifact without one
// (every other test's) loads with Profile nil.
func TestArtifactProfile(t *testing.T) {
	od, _, examples := trained(t)
	s := drift.DefaultSettings()
	s.Replicates = 20
	p, err := drift.NewProfile(examples[:20000], nil, od, s)
	if err != nil {
		t.Fatal(err)
	}
	a := artifactOf(t, od)
	plain, _ := a.Encode()
	if got, err := Decode(plain); err != nil || got.Profile != nil {
		t.Fatalf("without a profile: %v, profile %v", err, got.Profile)
	}
	a.Profile = p
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile == nil || got.Profile.Trips != 20000 || got.Profile.EstimateSource != "training" {
		t.Fatalf("decoded profile %+v", got.Profile)
	}
	a.Profile.Features[0].Counts = a.Profile.Features[0].Counts[:10]
	bad, _ := a.Encode()
	if _, err := Decode(bad); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "pickup_zone: 10 counts") {
		t.Errorf("a profile with 10 pickup zone counts: err = %v; want ErrCorrupt naming it", err)
	}
}
