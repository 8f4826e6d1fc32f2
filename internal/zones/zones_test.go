package zones

import (
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
	"github.com/taxieta/taxieta/internal/trip"
)

// lookup is the real zone table from the data folder, with centroids when
// shapes is true.
func lookup(t *testing.T, shapes bool) Table {
	t.Helper()
	dir := testenv.DataDir(t)
	zt, err := ReadLookupFile(filepath.Join(dir, "taxi_zone_lookup.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if shapes {
		if err := zt.AddCentroidsFile(filepath.Join(dir, "taxi_zones.geojson")); err != nil {
			t.Fatal(err)
		}
	}
	return zt
}

func TestReadLookupFileReal(t *testing.T) {
	zt := lookup(t, false)
	if len(zt) != trip.MaxZone+1 {
		t.Fatalf("%d rows; want %d", len(zt), trip.MaxZone+1)
	}
	tests := []struct {
		id   int
		want Zone
	}{
		{1, Zone{ID: 1, Borough: "EWR", Name: "Newark Airport", ServiceZone: "EWR"}},
		{132, Zone{ID: 132, Borough: "Queens", Name: "JFK Airport", ServiceZone: "Airports"}},
		{161, Zone{ID: 161, Borough: "Manhattan", Name: "Midtown Center", ServiceZone: "Yellow Zone"}},
		{264, Zone{ID: 264, Borough: "Unknown", Name: "N/A", ServiceZone: "N/A"}},
		{265, Zone{ID: 265, Borough: "N/A", Name: "Outside of NYC", ServiceZone: "N/A"}},
	}
	for _, tt := range tests {
		if got, ok := zt.Get(tt.id); !ok || got != tt.want {
			t.Errorf("Get(%d) = %+v, %v; want %+v", tt.id, got, ok, tt.want)
		}
	}
	for id := 1; id <= trip.MaxZone; id++ {
		if z, ok := zt.Get(id); !ok || z.Borough == "" || z.Name == "" {
			t.Errorf("zone %d: %+v, %v; want it named, with a borough", id, z, ok)
		}
	}
}

func TestGet(t *testing.T) {
	// Zone 3 is missing from this table.
	zt, err := ReadLookup(strings.NewReader("LocationID,Borough,Zone\n1,Queens,A\n2,Bronx,B\n265,N/A,Outside\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id     int
		wantOK bool
		want   string
	}{
		{1, true, "A"},
		{2, true, "B"},
		{265, true, "Outside"},
		{3, false, ""},
		{0, false, ""},
		{-1, false, ""},
		{266, false, ""},
	}
	for _, tt := range tests {
		z, ok := zt.Get(tt.id)
		if ok != tt.wantOK || z.Name != tt.want {
			t.Errorf("Get(%d) = %+v, %v; want name %q, %v", tt.id, z, ok, tt.want, tt.wantOK)
		}
		if !ok && z != (Zone{}) {
			t.Errorf("Get(%d) = %+v with false; want the zero Zone", tt.id, z)
		}
	}
	if _, ok := (Table(nil)).Get(1); ok {
		t.Error("Get on a nil table found zone 1")
	}
}

func TestReadLookup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[int]Zone
		wantErr string
	}{
		{"byte order mark, any case, any column order",
			"\ufeff service_zone ,ZONE,Borough,locationId\nBoro Zone,Astoria,Queens, 7 \n",
			map[int]Zone{7: {ID: 7, Borough: "Queens", Name: "Astoria", ServiceZone: "Boro Zone"}}, ""},
		{"no service zone column", "LocationID,Borough,Zone\n12,Manhattan,Battery Park\n",
			map[int]Zone{12: {ID: 12, Borough: "Manhattan", Name: "Battery Park"}}, ""},
		{"header only", "LocationID,Borough,Zone\n", map[int]Zone{}, ""},
		{"empty", "", nil, "zone lookup header"},
		{"no zone column", "LocationID,Borough\n1,EWR\n", nil, `no "zone" column`},
		{"no id column", "Borough,Zone\nEWR,Newark\n", nil, `no "locationid" column`},
		{"id not a number", "LocationID,Borough,Zone\n1,EWR,Newark\nx,Queens,A\n", nil, `zone lookup line 3: LocationID "x" is not a zone id 1..265`},
		{"id 0", "LocationID,Borough,Zone\n0,EWR,Newark\n", nil, `line 2: LocationID "0"`},
		{"id past the last zone", "LocationID,Borough,Zone\n266,EWR,Newark\n", nil, `LocationID "266"`},
		{"ragged line", "LocationID,Borough,Zone\n1,EWR\n", nil, "zone lookup line 2"},
		{"bad quoting", "LocationID,Borough,Zone\n1,\"EWR,Newark\n", nil, "zone lookup line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zt, err := ReadLookup(strings.NewReader(tt.in))
			if failed(t, err, tt.wantErr) {
				return
			}
			if len(zt) != trip.MaxZone+1 {
				t.Fatalf("%d rows; want %d", len(zt), trip.MaxZone+1)
			}
			for id, z := range zt {
				if want := tt.want[id]; z != want {
					t.Errorf("zone %d = %+v; want %+v", id, z, want)
				}
			}
		})
	}
}

func TestReadLookupFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.csv")
	_, err := ReadLookupFile(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v; want one naming %s that is fs.ErrNotExist", err, path)
	}
	bad := filepath.Join(testenv.DataDir(t), "taxi_zones.geojson") // not a CSV of zones
	if _, err := ReadLookupFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v; want one naming %s", err, bad)
	}
}

// failed reports whether err is the error a case wants (one containing
// want), and fails the test if it is not: an error where none is wanted,
// or none or another where one is.
func failed(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatal(err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v; want one containing %q", err, want)
	}
	return err != nil
}

// square is the GeoJSON ring of the square [x0, x1]×[y0, y1], anticlockwise
// unless cw.
func square(x0, y0, x1, y1 float64, cw bool) [][2]float64 {
	r := [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
	if cw {
		slices.Reverse(r)
	}
	return r
}

func TestAddCentroids(t *testing.T) {
	const lookupCSV = "LocationID,Borough,Zone\n1,A,One\n2,A,Two\n3,B,Three\n4,B,Three\n5,B,Five\n6,C,Six\n"
	tests := []struct {
		name    string
		shapes  string
		want    map[int][2]float64 // lon, lat of the zones with a centroid
		wantErr string
	}{
		{"polygon", `{"features":[{"properties":{"LocationID":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}}]}`,
			map[int][2]float64{1: {1, 1}}, ""},
		// Two squares of areas 1 and 4, weighted by area; a clockwise
		// ring counts the same; a hole (an inner ring) is not subtracted.
		{"multipolygon", `{"features":[{"properties":{"LocationID":2},"geometry":{"type":"MultiPolygon","coordinates":[` +
			`[[[0,0],[1,0],[1,1],[0,1],[0,0]]],` +
			`[[[2,0],[2,2],[4,2],[4,0],[2,0]],[[2.5,0.5],[3,0.5],[3,1],[2.5,1],[2.5,0.5]]]]}}]}`,
			map[int][2]float64{2: {2.5, 0.9}}, ""},
		// Zone 3's shape named "Three" stands for zone 4 too; the id may be
		// a string under another spelling.
		{"same name", `{"features":[{"properties":{"location_id":"3"},"geometry":{"type":"Polygon","coordinates":[[[10,10],[12,10],[12,14],[10,14],[10,10]]]}}]}`,
			map[int][2]float64{3: {11, 12}, 4: {11, 12}}, ""},
		// Two features of one zone add up.
		{"split zone", `{"features":[` +
			`{"properties":{"locationid":5},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},` +
			`{"properties":{"locationid":5},"geometry":{"type":"Polygon","coordinates":[[[3,0],[4,0],[4,1],[3,1],[3,0]]]}}]}`,
			map[int][2]float64{5: {2, 0.5}}, ""},
		// A zone the table lacks, a degenerate ring and an empty polygon
		// set nothing.
		{"nothing to set", `{"features":[` +
			`{"properties":{"LocationID":300},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},` +
			`{"properties":{"LocationID":6},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}},` +
			`{"properties":{"LocationID":1},"geometry":{"type":"Polygon","coordinates":[]}}]}`,
			map[int][2]float64{}, ""},
		{"not JSON", `{"features":`, nil, "zone shapes"},
		{"no id", `{"features":[{"properties":{"zone":"One"},"geometry":{"type":"Polygon","coordinates":[]}}]}`, nil, "feature 0 has no LocationID"},
		{"id not a number", `{"features":[{"properties":{"LocationID":"one"},"geometry":{"type":"Polygon","coordinates":[]}}]}`, nil, "feature 0 has no LocationID"},
		{"point", `{"features":[{"properties":{"LocationID":1},"geometry":{"type":"Point","coordinates":[0,0]}}]}`, nil, `feature 0: geometry "Point"; want Polygon or MultiPolygon`},
		{"bad polygon", `{"features":[{"properties":{"LocationID":1},"geometry":{"type":"Polygon","coordinates":[0,0]}}]}`, nil, "feature 0:"},
		{"bad multipolygon", `{"features":[{"properties":{"LocationID":1},"geometry":{"type":"MultiPolygon","coordinates":[[0]]}}]}`, nil, "feature 0:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zt, err := ReadLookup(strings.NewReader(lookupCSV))
			if err != nil {
				t.Fatal(err)
			}
			err = zt.AddCentroids(strings.NewReader(tt.shapes))
			if failed(t, err, tt.wantErr) {
				return
			}
			for id, z := range zt {
				want, ok := tt.want[id]
				if z.HasCentroid != ok {
					t.Errorf("zone %d: HasCentroid %v; want %v", id, z.HasCentroid, ok)
					continue
				}
				if ok && (math.Abs(z.Lon-want[0]) > 1e-12 || math.Abs(z.Lat-want[1]) > 1e-12) {
					t.Errorf("zone %d: centroid %g, %g; want %g, %g", id, z.Lon, z.Lat, want[0], want[1])
				}
			}
		})
	}
}

func TestRingCentroidOrientation(t *testing.T) {
	for _, cw := range []bool{false, true} {
		a, x, y := ringCentroid(square(1, 2, 4, 4, cw))
		if a != 6 || x != 2.5 || y != 3 {
			t.Errorf("clockwise %v: area %g, centroid %g, %g; want 6, 2.5, 3", cw, a, x, y)
		}
	}
}

func TestAddCentroidsFileReal(t *testing.T) {
	zt := lookup(t, true)
	for id := 1; id <= trip.MaxZone; id++ {
		z, _ := zt.Get(id)
		// 264 "Unknown" and 265 "Outside of NYC" have no shape.
		if want := id < 264; z.HasCentroid != want {
			t.Errorf("zone %d %q: HasCentroid %v; want %v", id, z.Name, z.HasCentroid, want)
			continue
		}
		// New York City and Newark airport.
		if z.HasCentroid && !(z.Lon > -74.3 && z.Lon < -73.6 && z.Lat > 40.45 && z.Lat < 40.95) {
			t.Errorf("zone %d %q: centroid %g, %g is not in New York", id, z.Name, z.Lon, z.Lat)
		}
	}
	// The shapes lack 57 (Corona) and 104, 105 (the islands): they take
	// the centroid of the zone of the same name.
	for _, tt := range [][2]int{{57, 56}, {104, 103}, {105, 103}} {
		a, b := zt[tt[0]], zt[tt[1]]
		if a.Lon != b.Lon || a.Lat != b.Lat {
			t.Errorf("zone %d at %g, %g; want zone %d's %g, %g", tt[0], a.Lon, a.Lat, tt[1], b.Lon, b.Lat)
		}
	}
	path := filepath.Join(t.TempDir(), "none.geojson")
	if err := zt.AddCentroidsFile(path); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v; want one naming %s that is fs.ErrNotExist", err, path)
	}
	bad := filepath.Join(testenv.DataDir(t), "taxi_zone_lookup.csv") // not GeoJSON
	if err := zt.AddCentroidsFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v; want one naming %s", err, bad)
	}
}

func TestDistanceKm(t *testing.T) {
	zt := lookup(t, true)
	tests := []struct {
		name   string
		a, b   int
		lo, hi float64 // km
		wantOK bool
	}{
		{"JFK to LaGuardia", 132, 138, 14, 20, true},
		{"Midtown Center to JFK", 161, 132, 18, 25, true},
		{"Newark to JFK", 1, 132, 30, 40, true},
		{"same zone", 161, 161, 0, 0, true},
		{"unknown zone", 161, 264, 0, 0, false},
		{"outside NYC", 265, 1, 0, 0, false},
		{"zone 0", 0, 1, 0, 0, false},
		{"past the last zone", 1, 266, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := zt.DistanceKm(tt.a, tt.b)
			if ok != tt.wantOK || d < tt.lo || d > tt.hi {
				t.Errorf("DistanceKm(%d, %d) = %g, %v; want %g..%g, %v", tt.a, tt.b, d, ok, tt.lo, tt.hi, tt.wantOK)
			}
			if back, _ := zt.DistanceKm(tt.b, tt.a); back != d {
				t.Errorf("DistanceKm(%d, %d) = %g, not the same back (%g)", tt.a, tt.b, d, back)
			}
		})
	}
	// Without shapes no zone has a centroid.
	if d, ok := lookup(t, false).DistanceKm(132, 138); ok {
		t.Errorf("without shapes: DistanceKm(132, 138) = %g, true", d)
	}
}

func TestHaversine(t *testing.T) {
	const r = 6371.0088
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64
	}{
		{"same point", 40.7, -74, 40.7, -74, 0},
		{"a degree along the equator", 0, 0, 0, 1, 2 * math.Pi * r / 360},
		{"a degree along a meridian", 40, -74, 41, -74, 2 * math.Pi * r / 360},
		{"pole to pole", 90, 0, -90, 0, math.Pi * r},
		// Antipodes: rounding may put the haversine above 1; it is clamped.
		{"antipodes", 0, 0, 0, 180, math.Pi * r},
		{"across the antimeridian", 0, 179.5, 0, -179.5, 2 * math.Pi * r / 360},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Haversine(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
			if math.Abs(got-tt.want) > 1e-9*math.Max(1, tt.want) {
				t.Errorf("Haversine = %.12g; want %.12g", got, tt.want)
			}
			if back := Haversine(tt.lat2, tt.lon2, tt.lat1, tt.lon1); math.Abs(back-got) > 1e-9 {
				t.Errorf("Haversine back = %.12g; want %.12g", back, got)
			}
		})
	}
	// JFK's and LaGuardia's runways are about 17 km apart.
	if d := Haversine(40.6413, -73.7781, 40.7769, -73.8740); d < 16.5 || d > 17.5 {
		t.Errorf("JFK to LaGuardia %g km; want about 17", d)
	}
}

func TestBoroughs(t *testing.T) {
	tests := []struct {
		name string
		zt   Table
		want []string
	}{
		{"real", lookup(t, false), []string{"Bronx", "Brooklyn", "EWR", "Manhattan", "N/A", "Queens", "Staten Island", "Unknown"}},
		{"empty", Table{}, nil},
		// Rows of no zone (ID 0) do not count.
		{"gaps", Table{{}, {ID: 1, Borough: "Queens"}, {}, {ID: 3, Borough: "Bronx"}, {ID: 4, Borough: "Queens"}}, []string{"Bronx", "Queens"}},
	}
	for _, tt := range tests {
		if got := tt.zt.Boroughs(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Boroughs() = %q; want %q", tt.name, got, tt.want)
		}
	}
}
