package model

import (
	"testing"
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// TestTablesAreCopies: what Tables returns describes the model, and writing
// to it leaves the model as it was.
func TestTablesAreCopies(t *testing.T) {
	od, linear, examples := trained(t)
	tr := examples[0].Trip
	tr.Pickup = time.Time{} // the tables without the hour-of-week factor
	before := [2]trip.Prediction{od.Predict(tr), linear.Predict(tr)}

	ot := od.(*OD).Tables()
	if len(ot.PairEstimate) != numPairs || len(ot.PassengerOffset) != numPassengerCats || len(ot.HourOfWeekFactor) != hoursPerWeek ||
		len(ot.RangeLow[0]) != 62 || len(ot.RangeHigh[1]) != 62 {
		t.Fatalf("od tables have the wrong sizes")
	}
	k := int(tr.PULocationID)*nz + int(tr.DOLocationID)
	if v := ot.PairEstimate[k] + ot.PassengerOffset[PassengerCategory(tr.Passengers)]; min(max(v, ot.MinMinutes), ot.MaxMinutes) != before[0].Minutes {
		t.Errorf("od tables give %g for %+v; Predict %g", v, tr, before[0].Minutes)
	}
	for _, s := range [][]float32{ot.PairEstimate, ot.PassengerOffset, ot.HourOfWeekFactor, ot.RangeLow[0], ot.RangeHigh[0], ot.RangeLow[1], ot.RangeHigh[1]} {
		clear(s)
	}
	lt := linear.(*Linear).Tables()
	if v := float32(((lt.Intercept + lt.PU[tr.PULocationID]) + lt.DO[tr.DOLocationID]) + lt.Passengers[PassengerCategory(tr.Passengers)]); v != before[1].Minutes {
		t.Errorf("linear tables give %g for %+v; Predict %g", v, tr, before[1].Minutes)
	}
	clear(lt.PU)
	clear(lt.DO)
	clear(lt.Passengers)
	if after := [2]trip.Prediction{od.Predict(tr), linear.Predict(tr)}; after != before {
		t.Errorf("writing to the tables changed the models: %v, then %v", before, after)
	}
}
