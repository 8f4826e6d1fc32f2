package tlc

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    [NumCSVColumns]int
		wantErr string
	}{
		{"green", "VendorID,lpep_pickup_datetime,lpep_dropoff_datetime,passenger_count,PULocationID,DOLocationID", [NumCSVColumns]int{1, 2, 4, 5, 3}, ""},
		{"yellow, any case, spaces, BOM", "\ufefftpep_PICKUP_datetime, tpep_dropoff_datetime ,pulocationid,dolocationid,Passenger_Count", [NumCSVColumns]int{0, 1, 2, 3, 4}, ""},
		{"snake case", "pickup_datetime,dropoff_datetime,pickup_location_id,dropoff_location_id,passenger_count", [NumCSVColumns]int{0, 1, 2, 3, 4}, ""},
		{"no dropoff zone", "pickup_datetime,dropoff_datetime,PULocationID,passenger_count", [NumCSVColumns]int{}, "no dropoff zone column (want one of DOLocationID, dropoff_location_id)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CSVHeader(strings.Split(tt.header, ","))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want ErrFormat saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CSVHeader = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseCSVCells(t *testing.T) {
	micros := func(s string) int64 {
		tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMicro()
	}
	times := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"2021-01-01 00:15:56", micros("2021-01-01 00:15:56"), false},
		{" 2021-01-01T00:15:56 ", micros("2021-01-01 00:15:56"), false},
		{"01/01/2021 12:15:56 PM", micros("2021-01-01 12:15:56"), false},
		{"2021-01-01 00:15:56.5", micros("2021-01-01 00:15:56.5"), false},
		{"2021-01-01T00:15:56.25", micros("2021-01-01 00:15:56.25"), false},
		{"", NullTime, false},
		{"yesterday", NullTime, true},
	}
	for _, tt := range times {
		got, err := ParseCSVTime(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseCSVTime(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	zones := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"132", 132, false}, {" 132.0 ", 132, false}, {"", 0, false}, {"-4", -4, false},
		{"1.5", 0, true}, {"abc", 0, true}, {"1e300", 0, true}, {"NaN", 0, true},
	}
	for _, tt := range zones {
		got, err := ParseCSVZone(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseCSVZone(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	pax := []struct {
		in      string
		want    float64 // NaN: unknown
		wantErr bool
	}{
		{"1", 1, false}, {"2.0", 2, false}, {" ", math.NaN(), false}, {"one", math.NaN(), true},
	}
	for _, tt := range pax {
		got, err := ParseCSVPassengers(tt.in)
		same := got == tt.want || (math.IsNaN(got) && math.IsNaN(tt.want))
		if !same || (err != nil) != tt.wantErr {
			t.Errorf("ParseCSVPassengers(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
