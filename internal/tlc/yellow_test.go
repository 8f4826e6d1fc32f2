package tlc_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/tlc/tlctest"
	"github.com/taxieta/taxieta/internal/trip"
)

// readAll reads every row of a TLC file.
func readAll(t *testing.T, path string) []trip.Raw {
	t.Helper()
	var rows []trip.Raw
	if err := tlc.ReadFile(context.Background(), path, func(rs []trip.Raw) error {
		rows = append(rows, rs...)
		return nil
	}); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// Yellow parquet files read as the same trips in both of the TLC's type
// layouts (tpep_ times; zones int64 or int32; passenger_count double or
// int64; airport_fee or Airport_fee, which the reader does not need), and
// as the CSV sample they were made from (snake_case renamings).
func TestYellowParquetLayouts(t *testing.T) {
	sample := filepath.Join(testenv.DataDir(t), "yellow_tripdata_sample_2019-04.csv")
	want := readAll(t, sample)
	if len(want) != 10000 {
		t.Fatalf("the CSV sample reads as %d rows; want 10000", len(want))
	}
	for _, tt := range []struct {
		name   string
		layout tlctest.YellowLayout
		// the physical types of the zones and the passenger count, and
		// the airport fee's name
		zone, passengers parquet.Kind
		airportFee       string
	}{
		{"2019 layout", tlctest.Yellow2019, parquet.Int64, parquet.Double, "airport_fee"},
		{"2023 layout", tlctest.Yellow2023, parquet.Int32, parquet.Int64, "Airport_fee"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "yellow_tripdata_2019-04.parquet")
			tlctest.YellowParquet(t, sample, path, tt.layout)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			pf, err := parquet.OpenFile(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			kind := func(name string) parquet.Kind {
				leaf, ok := pf.Schema().Lookup(name)
				if !ok {
					t.Fatalf("no column %s", name)
				}
				return leaf.Node.Type().Kind()
			}
			if kind("PULocationID") != tt.zone || kind("DOLocationID") != tt.zone || kind("passenger_count") != tt.passengers ||
				kind(tt.airportFee) != parquet.Double || kind("tpep_pickup_datetime") != parquet.Int64 {
				t.Fatalf("schema %v is not the %s", pf.Schema(), tt.name)
			}
			got := readAll(t, path)
			if len(got) != len(want) {
				t.Fatalf("%d rows; want %d", len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.PickupMicros != w.PickupMicros || g.DropoffMicros != w.DropoffMicros || g.PULocationID != w.PULocationID ||
					g.DOLocationID != w.DOLocationID || math.Float64bits(g.Passengers) != math.Float64bits(w.Passengers) {
					t.Fatalf("row %d: %+v; the CSV says %+v", i, g, w)
				}
			}
		})
	}
}
