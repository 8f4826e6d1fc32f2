package training

import (
	"context"
	"testing"

	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

func TestTmpProf(t *testing.T) {
	r := &tlc.Resolver{DataDir: "/work/shared/data"}
	st, _, err := Aggregate(context.Background(), r, trip.DefaultRules(), []string{"green:2021-01..2021-05", "green:2022-01..2022-03", "green:2023-01..2023-04"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(st.Trips())
}
