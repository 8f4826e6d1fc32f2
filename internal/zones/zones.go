// Package zones reads the TLC taxi zone lookup table (names and boroughs)
// and the zone shapes (GeoJSON), reducing each zone to what models and
// people need: its name, its borough and its centroid.
package zones

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/taxieta/taxieta/internal/trip"
)

// Zone is one TLC taxi zone.
type Zone struct {
	ID          int    `json:"id"`
	Borough     string `json:"borough"`
	Name        string `json:"zone"`
	ServiceZone string `json:"service_zone,omitempty"`
	// Lon and Lat are the zone's centroid (WGS84); HasCentroid is false for
	// zones without geometry (264 "Unknown", 265 "Outside of NYC").
	Lon         float64 `json:"lon,omitempty"`
	Lat         float64 `json:"lat,omitempty"`
	HasCentroid bool    `json:"has_centroid,omitempty"`
}

// Table is the zones by id; index 0 is unused.
type Table []Zone

// Get returns zone id, or false when the table does not have it.
func (t Table) Get(id int) (Zone, bool) {
	if id <= 0 || id >= len(t) || t[id].ID != id {
		return Zone{}, false
	}
	return t[id], true
}

// ReadLookup parses taxi_zone_lookup.csv ("LocationID","Borough","Zone","service_zone").
func ReadLookup(r io.Reader) (Table, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("zone lookup header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, want := range []string{"locationid", "borough", "zone"} {
		if _, ok := col[want]; !ok {
			return nil, fmt.Errorf("zone lookup: no %q column", want)
		}
	}
	t := make(Table, trip.MaxZone+1)
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("zone lookup line %d: %w", line, err)
		}
		id, err := strconv.Atoi(strings.TrimSpace(rec[col["locationid"]]))
		if err != nil || !trip.ValidZone(int64(id)) {
			return nil, fmt.Errorf("zone lookup line %d: LocationID %q is not a zone id 1..%d", line, rec[col["locationid"]], trip.MaxZone)
		}
		z := Zone{ID: id, Borough: rec[col["borough"]], Name: rec[col["zone"]]}
		if i, ok := col["service_zone"]; ok {
			z.ServiceZone = rec[i]
		}
		t[id] = z
	}
	return t, nil
}

// ReadLookupFile is ReadLookup on a file.
func ReadLookupFile(path string) (Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone lookup %s: %w", path, err)
	}
	defer f.Close()
	t, err := ReadLookup(f)
	if err != nil {
		return nil, fmt.Errorf("zone lookup %s: %w", path, err)
	}
	return t, nil
}

type geoJSON struct {
	Features []struct {
		Properties map[string]any `json:"properties"`
		Geometry   struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	} `json:"features"`
}

// AddCentroids reads zone shapes (GeoJSON with a LocationID property, as the
// TLC shapefile converted to WGS84) and sets each zone's area-weighted
// centroid. Zones the shapes lack take the centroid of a zone with the same
// name (the TLC splits some islands), else stay without one.
func (t Table) AddCentroids(r io.Reader) error {
	var g geoJSON
	if err := json.NewDecoder(r).Decode(&g); err != nil {
		return fmt.Errorf("zone shapes: %w", err)
	}
	type acc struct{ a, x, y float64 }
	sums := map[int]*acc{}
	for i, f := range g.Features {
		id, ok := intProp(f.Properties, "LocationID", "locationid", "location_id")
		if !ok {
			return fmt.Errorf("zone shapes: feature %d has no LocationID", i)
		}
		var polys [][][][2]float64
		switch f.Geometry.Type {
		case "Polygon":
			var p [][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				return fmt.Errorf("zone shapes: feature %d: %w", i, err)
			}
			polys = [][][][2]float64{p}
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
				return fmt.Errorf("zone shapes: feature %d: %w", i, err)
			}
		default:
			return fmt.Errorf("zone shapes: feature %d: geometry %q; want Polygon or MultiPolygon", i, f.Geometry.Type)
		}
		s := sums[id]
		if s == nil {
			s = &acc{}
			sums[id] = s
		}
		for _, p := range polys {
			if len(p) == 0 {
				continue
			}
			a, x, y := ringCentroid(p[0])
			s.a += a
			s.x += a * x
			s.y += a * y
		}
	}
	for id, s := range sums {
		if id <= 0 || id >= len(t) || s.a == 0 {
			continue
		}
		t[id].Lon, t[id].Lat, t[id].HasCentroid = s.x/s.a, s.y/s.a, true
	}
	byName := map[string]Zone{}
	for _, z := range t {
		if z.HasCentroid {
			byName[z.Name] = z
		}
	}
	for i := range t {
		if z, ok := byName[t[i].Name]; ok && !t[i].HasCentroid && t[i].ID != 0 {
			t[i].Lon, t[i].Lat, t[i].HasCentroid = z.Lon, z.Lat, true
		}
	}
	return nil
}

// AddCentroidsFile is AddCentroids on a file.
func (t Table) AddCentroidsFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("zone shapes %s: %w", path, err)
	}
	defer f.Close()
	if err := t.AddCentroids(f); err != nil {
		return fmt.Errorf("zone shapes %s: %w", path, err)
	}
	return nil
}

func intProp(p map[string]any, names ...string) (int, bool) {
	for _, n := range names {
		switch v := p[n].(type) {
		case float64:
			return int(v), true
		case string:
			if i, err := strconv.Atoi(v); err == nil {
				return i, true
			}
		}
	}
	return 0, false
}

// ringCentroid returns the absolute area and centroid of a ring, on a local
// equirectangular projection (good enough for zones a few km wide).
func ringCentroid(ring [][2]float64) (area, x, y float64) {
	if len(ring) < 3 {
		return 0, 0, 0
	}
	var a, cx, cy float64
	for i := range ring {
		p, q := ring[i], ring[(i+1)%len(ring)]
		cross := p[0]*q[1] - q[0]*p[1]
		a += cross
		cx += (p[0] + q[0]) * cross
		cy += (p[1] + q[1]) * cross
	}
	if a == 0 {
		return 0, 0, 0
	}
	return math.Abs(a / 2), cx / (3 * a), cy / (3 * a)
}

// DistanceKm is the great-circle distance between two zones' centroids, and
// false when either has none.
func (t Table) DistanceKm(a, b int) (float64, bool) {
	za, ok1 := t.Get(a)
	zb, ok2 := t.Get(b)
	if !ok1 || !ok2 || !za.HasCentroid || !zb.HasCentroid {
		return 0, false
	}
	return Haversine(za.Lat, za.Lon, zb.Lat, zb.Lon), true
}

// Haversine is the great-circle distance in km between two points in degrees.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0088
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Boroughs returns the distinct borough names in t, sorted.
func (t Table) Boroughs() []string {
	seen := map[string]bool{}
	var out []string
	for _, z := range t {
		if z.ID != 0 && !seen[z.Borough] {
			seen[z.Borough] = true
			out = append(out, z.Borough)
		}
	}
	sort.Strings(out)
	return out
}
