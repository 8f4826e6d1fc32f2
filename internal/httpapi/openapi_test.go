package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// TestSchemaMatchesDecoder keeps the generated OpenAPI document and the
// hand-written decoder in step: every bound the schema states is the bound
// the decoder enforces, and the required fields are the same.
func TestSchemaMatchesDecoder(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas map[string]struct {
				Required             []string                  `json:"required"`
				AdditionalProperties *bool                     `json:"additionalProperties"`
				Properties           map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, p := range []string{PathPredict, PathPredictBatch, PathHealthz, PathReadyz, PathMetrics, "/models", "/zones"} {
		if doc.Paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}
	tr := doc.Components.Schemas["TripRequest"]
	if !slices.Equal(tr.Required, []string{"PULocationID", "DOLocationID"}) {
		t.Errorf("required %v", tr.Required)
	}
	if tr.AdditionalProperties == nil || *tr.AdditionalProperties {
		t.Error("TripRequest must forbid additional properties")
	}
	ny := nyc(t)
	base := map[string]any{"PULocationID": 10, "DOLocationID": 20}
	var bounded []string
	for field, prop := range tr.Properties {
		lo, hasLo := prop["minimum"].(float64)
		hi, hasHi := prop["maximum"].(float64)
		if !hasLo || !hasHi {
			continue
		}
		bounded = append(bounded, field)
		for _, c := range []struct {
			v  float64
			ok bool
		}{{lo - 1, false}, {lo, true}, {hi, true}, {hi + 1, false}, {lo + 0.5, false}} {
			body := map[string]any{}
			for k, v := range base {
				body[k] = v
			}
			body[field] = c.v
			b, _ := json.Marshal(body)
			_, errs, err := decodeTrip(b, ny)
			if err != nil {
				t.Fatal(err)
			}
			if (len(errs) == 0) != c.ok {
				t.Errorf("%s = %v: decoder accepted=%v; schema says %v (errors %+v)", field, c.v, len(errs) == 0, c.ok, errs)
			}
		}
	}
	// Without this, a lost minimum or maximum tag would leave nothing to compare.
	slices.Sort(bounded)
	if want := []string{"DOLocationID", "PULocationID", "passenger_count"}; !slices.Equal(bounded, want) {
		t.Errorf("the schema bounds %v; want %v", bounded, want)
	}
	if _, ok := tr.Properties["pickup_datetime"]; !ok {
		t.Error("pickup_datetime missing from the schema")
	}
	if fmt.Sprint(tr.Properties["passenger_count"]["type"]) != "[integer null]" {
		t.Errorf("passenger_count type %v; want integer or null", tr.Properties["passenger_count"]["type"])
	}
}
