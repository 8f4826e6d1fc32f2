package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3.1 document is generated from the wire types in types.go by
// reflection: field names from json tags, descriptions from doc tags, and
// the rules (minimum, maximum, format, example) from tags of the same names.

type operation struct {
	method, path, id, summary, description string
	query                                  []map[string]any
	body                                   map[string]any
	responses                              map[int]map[string]any
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses).
type schemaGen struct {
	components map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != timeType {
		if _, ok := g.components[t.Name()]; !ok {
			g.components[t.Name()] = nil // reserve, for recursion
			g.components[t.Name()] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + t.Name()}
	}
	return g.schema(t)
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		s := g.schema(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
			return s
		}
		return map[string]any{"anyOf": []any{g.ref(t.Elem()), map[string]any{"type": "null"}}}
	case reflect.Struct:
		if t == timeType {
			return map[string]any{"type": "string", "format": "date-time"}
		}
		return g.ref(t)
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	}
	panic(fmt.Sprintf("openapi: no schema for %s", t)) // programming error, caught by tests
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		if _, isRef := s["$ref"]; isRef && f.Tag.Get("doc") != "" {
			s = map[string]any{"allOf": []any{s}}
		}
		if d := f.Tag.Get("doc"); d != "" {
			s["description"] = d
		}
		for _, k := range []string{"minimum", "maximum"} {
			if v := f.Tag.Get(k); v != "" {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					panic(fmt.Sprintf("openapi: %s.%s: bad %s tag %q", t.Name(), f.Name, k, v))
				}
				s[k] = n
			}
		}
		if v := f.Tag.Get("format"); v != "" {
			s["format"] = v
		}
		if v := f.Tag.Get("example"); v != "" {
			s["examples"] = []any{exampleValue(f.Type, v)}
		}
		props[name] = s
		if f.Type.Kind() != reflect.Pointer && !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func exampleValue(t reflect.Type, v string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case reflect.Float32, reflect.Float64:
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return n
		}
	}
	return v
}

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

func (g *schemaGen) response(desc string, v any, ct string) map[string]any {
	r := map[string]any{"description": desc}
	if v != nil {
		r["content"] = map[string]any{ct: map[string]any{"schema": g.ref(reflect.TypeOf(v))}}
	}
	return r
}

// openAPIDocument renders the API's OpenAPI 3.1 document.
func openAPIDocument(cfg Config) ([]byte, error) {
	g := &schemaGen{components: map[string]any{}}
	problem := func(desc string) map[string]any { return g.response(desc, Problem{}, "application/problem+json") }
	versionParam := map[string]any{
		"name": "model_version", "in": "query", "required": false,
		"description": "Answer with this model version instead of the served default (see GET /models).",
		"schema":      map[string]any{"type": "string"}, "example": "3",
	}
	tripSchema := g.ref(reflect.TypeOf(TripRequest{}))
	predictErrors := map[int]map[string]any{
		400: problem("Malformed JSON"),
		404: problem("Unknown model_version"),
		413: problem("Body too large"),
		415: problem("Content type is not application/json"),
		422: problem("A field breaks a rule; errors names each"),
		503: problem("No model loaded"),
	}
	with := func(ok map[string]any, errs map[int]map[string]any) map[int]map[string]any {
		out := map[int]map[string]any{200: ok}
		for k, v := range errs {
			out[k] = v
		}
		return out
	}
	ops := []operation{
		{method: "post", path: PathPredict, id: "predict", summary: "Estimate one trip",
			description: "Estimates the duration of one trip in minutes, with the range in which about eight trips in ten fall.",
			query:       []map[string]any{versionParam},
			body:        map[string]any{"required": true, "content": jsonContent(tripSchema)},
			responses:   with(g.response("The estimate", PredictionResponse{}, "application/json"), predictErrors)},
		{method: "post", path: PathPredictBatch, id: "predictBatch", summary: "Estimate many trips",
			description: fmt.Sprintf("Estimates up to %d trips in one request; answers in request order.", cfg.MaxBatch),
			query:       []map[string]any{versionParam},
			body: map[string]any{"required": true, "content": jsonContent(map[string]any{
				"type": "array", "items": tripSchema, "minItems": 1, "maxItems": cfg.MaxBatch})},
			responses: with(g.response("The estimates, in request order", BatchResponse{}, "application/json"), predictErrors)},
		{method: "get", path: "/", id: "home", summary: "Home page",
			description: "An HTML page for browsers; the same information as JSON for clients that accept application/json.",
			responses:   map[int]map[string]any{200: {"description": "Home page", "content": map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}, "application/json": map[string]any{"schema": g.ref(reflect.TypeOf(InfoResponse{}))}}}}},
		{method: "get", path: "/info", id: "info", summary: "What is running", responses: map[int]map[string]any{200: g.response("App and model information", InfoResponse{}, "application/json")}},
		{method: "get", path: "/zones", id: "zones", summary: "TLC taxi zones", description: "The zones the served model knows, with names and boroughs.",
			responses: map[int]map[string]any{200: g.response("Zones", ZonesResponse{}, "application/json"), 503: problem("No model loaded")}},
		{method: "get", path: "/models", id: "models", summary: "Model versions", description: "The model versions available, which are loaded, and the default.",
			responses: map[int]map[string]any{200: g.response("Models", ModelsResponse{}, "application/json"), 503: problem("Registry unavailable")}},
		{method: "post", path: "/admin/reload", id: "reload", summary: "Re-resolve the served model reference now",
			description: "Loads and checks the version the served reference (e.g. an alias) now points to, then swaps atomically. Needs the admin bearer token; off when none is configured.",
			responses: map[int]map[string]any{200: g.response("The model now served", ReloadResponse{}, "application/json"),
				401: problem("Missing or wrong token"), 404: problem("Admin routes are off"), 409: problem("Nothing to reload"), 502: problem("The new version was refused; the old one keeps serving")}},
		{method: "get", path: PathHealthz, id: "healthz", summary: "Liveness probe", responses: map[int]map[string]any{200: g.response("Alive", Health{}, "application/json")}},
		{method: "get", path: PathReadyz, id: "readyz", summary: "Readiness probe", description: "200 when a model is loaded and the server is not draining.",
			responses: map[int]map[string]any{200: g.response("Ready", Health{}, "application/json"), 503: g.response("Not ready", Health{}, "application/json")}},
		{method: "get", path: PathMetrics, id: "metrics", summary: "Prometheus metrics",
			responses: map[int]map[string]any{200: {"description": "Metrics in the Prometheus text format", "content": map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}}}},
	}
	paths := map[string]any{}
	for _, op := range ops {
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		o := map[string]any{"operationId": op.id, "summary": op.summary}
		if op.description != "" {
			o["description"] = op.description
		}
		if op.query != nil {
			o["parameters"] = op.query
		}
		if op.body != nil {
			o["requestBody"] = op.body
		}
		resps := map[string]any{}
		for code, r := range op.responses {
			resps[strconv.Itoa(code)] = r
		}
		o["responses"] = resps
		item[op.method] = o
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title": cfg.Title, "version": cfg.Version, "description": cfg.Description,
			"license": map[string]any{"name": "TLC trip record data: NYC Open Data terms"},
		},
		"paths":      paths,
		"components": map[string]any{"schemas": g.components},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render OpenAPI document: %w", err)
	}
	return b, nil
}
