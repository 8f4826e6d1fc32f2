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

// content is the OpenAPI content map of bodies.
func (g *schemaGen) content(cs []Content) map[string]any {
	out := map[string]any{}
	for _, c := range cs {
		schema := map[string]any{}
		if c.Of != nil {
			schema = g.ref(reflect.TypeOf(c.Of))
		}
		for k, v := range c.Schema {
			schema[k] = v
		}
		out[c.Type] = map[string]any{"schema": schema}
	}
	return out
}

// operation renders one route's OpenAPI operation.
func (g *schemaGen) operation(rt *Route) map[string]any {
	op := rt.Op
	o := map[string]any{"operationId": op.ID, "summary": op.Summary}
	if op.Description != "" {
		o["description"] = op.Description
	}
	if len(op.Tags) > 0 {
		o["tags"] = op.Tags
	}
	var params []map[string]any
	listed := map[string]bool{}
	for _, p := range op.Params {
		listed[p.In+" "+p.Name] = true
		m := map[string]any{"name": p.Name, "in": p.In, "required": p.Required || p.In == "path", "schema": map[string]any{"type": "string"}}
		if p.Description != "" {
			m["description"] = p.Description
		}
		if p.Example != "" {
			m["example"] = p.Example
		}
		params = append(params, m)
	}
	for _, name := range pathParams(rt.docPath()) {
		if !listed["path "+name] {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	if params != nil {
		o["parameters"] = params
	}
	if op.Body != nil {
		o["requestBody"] = map[string]any{"required": true, "content": g.content([]Content{*op.Body})}
	}
	resps := map[string]any{}
	for _, r := range op.Responses {
		m := map[string]any{"description": r.Description}
		if len(r.Content) > 0 {
			m["content"] = g.content(r.Content)
		}
		resps[strconv.Itoa(r.Status)] = m
	}
	o["responses"] = resps
	return o
}

// pathParams are the names of an OpenAPI path's {parameters}.
func pathParams(path string) []string {
	var names []string
	for {
		_, rest, ok := strings.Cut(path, "{")
		if !ok {
			return names
		}
		name, after, _ := strings.Cut(rest, "}")
		names = append(names, name)
		path = after
	}
}

// openAPIDocument renders the OpenAPI 3.1 document of the routes that are
// API operations.
func openAPIDocument(cfg Config, routes []Route) (_ []byte, err error) {
	defer func() { // schemaGen panics on a Go type it cannot describe
		if p := recover(); p != nil {
			err = fmt.Errorf("render OpenAPI document: %v", p)
		}
	}()
	g := &schemaGen{components: map[string]any{}}
	paths := map[string]any{}
	for i := range routes {
		rt := &routes[i]
		if rt.Op == nil {
			continue
		}
		item, _ := paths[rt.docPath()].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.docPath()] = item
		}
		item[strings.ToLower(rt.Method)] = g.operation(rt)
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
