package tlctest

import (
	"encoding/csv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// YellowLayout is one of the type layouts of the TLC's yellow parquet files.
type YellowLayout int

const (
	// Yellow2019 is the layout of the 2011–2022 files as the TLC issues
	// them: VendorID, PULocationID and DOLocationID int64, passenger_count,
	// RatecodeID double, payment_type int64, airport_fee (lower case)
	// double, null before 2022.
	Yellow2019 YellowLayout = iota
	// Yellow2023 is the layout from 2023: VendorID, PULocationID and
	// DOLocationID int32, passenger_count, RatecodeID and payment_type
	// int64, Airport_fee (capital A) double.
	Yellow2023
)

// yellow2019 and yellow2023 are the rows of the two layouts, columns in
// the TLC's order, times TIMESTAMP(MICROS) in NYC wall-clock time.
type yellow2019 struct {
	VendorID             int64    `parquet:"VendorID,optional"`
	Pickup               int64    `parquet:"tpep_pickup_datetime,optional,timestamp(microsecond)"`
	Dropoff              int64    `parquet:"tpep_dropoff_datetime,optional,timestamp(microsecond)"`
	PassengerCount       *float64 `parquet:"passenger_count,optional"`
	TripDistance         float64  `parquet:"trip_distance,optional"`
	RatecodeID           *float64 `parquet:"RatecodeID,optional"`
	StoreAndFwdFlag      string   `parquet:"store_and_fwd_flag,optional"`
	PULocationID         int64    `parquet:"PULocationID,optional"`
	DOLocationID         int64    `parquet:"DOLocationID,optional"`
	PaymentType          int64    `parquet:"payment_type,optional"`
	FareAmount           float64  `parquet:"fare_amount,optional"`
	Extra                float64  `parquet:"extra,optional"`
	MTATax               float64  `parquet:"mta_tax,optional"`
	TipAmount            float64  `parquet:"tip_amount,optional"`
	TollsAmount          float64  `parquet:"tolls_amount,optional"`
	ImprovementSurcharge float64  `parquet:"improvement_surcharge,optional"`
	TotalAmount          float64  `parquet:"total_amount,optional"`
	CongestionSurcharge  float64  `parquet:"congestion_surcharge,optional"`
	AirportFee           *float64 `parquet:"airport_fee,optional"`
}

type yellow2023 struct {
	VendorID             int32    `parquet:"VendorID,optional"`
	Pickup               int64    `parquet:"tpep_pickup_datetime,optional,timestamp(microsecond)"`
	Dropoff              int64    `parquet:"tpep_dropoff_datetime,optional,timestamp(microsecond)"`
	PassengerCount       *int64   `parquet:"passenger_count,optional"`
	TripDistance         float64  `parquet:"trip_distance,optional"`
	RatecodeID           *int64   `parquet:"RatecodeID,optional"`
	StoreAndFwdFlag      string   `parquet:"store_and_fwd_flag,optional"`
	PULocationID         int32    `parquet:"PULocationID,optional"`
	DOLocationID         int32    `parquet:"DOLocationID,optional"`
	PaymentType          int64    `parquet:"payment_type,optional"`
	FareAmount           float64  `parquet:"fare_amount,optional"`
	Extra                float64  `parquet:"extra,optional"`
	MTATax               float64  `parquet:"mta_tax,optional"`
	TipAmount            float64  `parquet:"tip_amount,optional"`
	TollsAmount          float64  `parquet:"tolls_amount,optional"`
	ImprovementSurcharge float64  `parquet:"improvement_surcharge,optional"`
	TotalAmount          float64  `parquet:"total_amount,optional"`
	CongestionSurcharge  float64  `parquet:"congestion_surcharge,optional"`
	AirportFee           *float64 `parquet:"Airport_fee,optional"`
}

// YellowParquet writes the rows of one of the shared yellow CSV samples
// (snake_case columns, see the data folder's PROVENANCE.md) to dst as a
// TLC yellow parquet file in layout l, with the TLC's column names and
// types and zstd, as the TLC's own files are. Every value is the sample's;
// airport_fee, which the 2019 samples lack, is null. Only a test's temporary
// directory should hold dst: the data folder keeps the TLC's own files.
func YellowParquet(t testing.TB, csvPath, dst string, l YellowLayout) {
	t.Helper()
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", csvPath, err)
	}
	if len(records) < 2 {
		t.Fatalf("%s: no rows", csvPath)
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var (
		w2019 *parquet.GenericWriter[yellow2019]
		w2023 *parquet.GenericWriter[yellow2023]
	)
	if l == Yellow2019 {
		w2019 = parquet.NewGenericWriter[yellow2019](out, parquet.Compression(&parquet.Zstd))
	} else {
		w2023 = parquet.NewGenericWriter[yellow2023](out, parquet.Compression(&parquet.Zstd))
	}
	for line, rec := range records[1:] {
		get := func(name string) string {
			i, ok := col[name]
			if !ok {
				t.Fatalf("%s: no column %s", csvPath, name)
			}
			return rec[i]
		}
		num := func(name string) float64 {
			v, err := strconv.ParseFloat(get(name), 64)
			if err != nil {
				t.Fatalf("%s line %d, %s: %v", csvPath, line+2, name, err)
			}
			return v
		}
		micros := func(name string) int64 {
			ts, err := time.Parse(time.DateTime, get(name))
			if err != nil {
				t.Fatalf("%s line %d, %s: %v", csvPath, line+2, name, err)
			}
			return ts.UnixMicro()
		}
		r := yellow2019{
			VendorID: int64(num("vendor_id")), Pickup: micros("pickup_datetime"), Dropoff: micros("dropoff_datetime"),
			TripDistance: num("trip_distance"), StoreAndFwdFlag: get("store_and_fwd_flag"),
			PULocationID: int64(num("pickup_location_id")), DOLocationID: int64(num("dropoff_location_id")),
			PaymentType: int64(num("payment_type")), FareAmount: num("fare_amount"), Extra: num("extra"),
			MTATax: num("mta_tax"), TipAmount: num("tip_amount"), TollsAmount: num("tolls_amount"),
			ImprovementSurcharge: num("improvement_surcharge"), TotalAmount: num("total_amount"),
			CongestionSurcharge: num("congestion_surcharge"),
		}
		pax, rate := num("passenger_count"), num("rate_code_id")
		if l == Yellow2019 {
			r.PassengerCount, r.RatecodeID = &pax, &rate
			_, err = w2019.Write([]yellow2019{r})
		} else {
			p, rc := int64(pax), int64(rate)
			if float64(p) != pax || float64(rc) != rate {
				t.Fatalf("%s line %d: passenger_count %v or rate code %v is not an integer, as the 2023 layout needs", csvPath, line+2, pax, rate)
			}
			_, err = w2023.Write([]yellow2023{{
				VendorID: int32(r.VendorID), Pickup: r.Pickup, Dropoff: r.Dropoff, PassengerCount: &p,
				TripDistance: r.TripDistance, RatecodeID: &rc, StoreAndFwdFlag: r.StoreAndFwdFlag,
				PULocationID: int32(r.PULocationID), DOLocationID: int32(r.DOLocationID), PaymentType: r.PaymentType,
				FareAmount: r.FareAmount, Extra: r.Extra, MTATax: r.MTATax, TipAmount: r.TipAmount,
				TollsAmount: r.TollsAmount, ImprovementSurcharge: r.ImprovementSurcharge, TotalAmount: r.TotalAmount,
				CongestionSurcharge: r.CongestionSurcharge,
			}})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if l == Yellow2019 {
		err = w2019.Close()
	} else {
		err = w2023.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
