package defaultmodel

import (
	"testing"

	"github.com/taxieta/taxieta/internal/trip"
)

func TestLoad(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != "od" || a.Metrics.Valid == nil || len(a.Training.Files) != 4 {
		t.Fatalf("default model: kind %s, %d training files, valid metrics %v", a.Kind, len(a.Training.Files), a.Metrics.Valid)
	}
	if z, ok := a.Zones.Get(132); !ok || z.Name != "JFK Airport" {
		t.Errorf("zone 132 = %+v; want JFK Airport", z)
	}
	p := a.Model.Predict(trip.Trip{PULocationID: 74, DOLocationID: 75, Passengers: 1})
	if p.Minutes < 1 || p.Minutes > 60 || p.Low >= p.Minutes || p.High <= p.Minutes {
		t.Errorf("prediction %+v", p)
	}
}
