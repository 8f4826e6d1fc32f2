package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/taxieta/taxieta/internal/defaultmodel"
	"github.com/taxieta/taxieta/internal/drift/live"
	"github.com/taxieta/taxieta/internal/registry"
	"github.com/taxieta/taxieta/internal/serving"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.golden.json from the route table")

const goldenOpenAPI = "testdata/openapi.golden.json"

// TestOpenAPIGolden shows every change to the published document as a diff
// of testdata/openapi.golden.json; regenerate it with -update and review.
func TestOpenAPIGolden(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	got := append(bytes.Clone(s.openapi), '\n')
	if *update {
		if err := os.WriteFile(goldenOpenAPI, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenOpenAPI)
	if err != nil {
		t.Fatalf("%v (run go test -run TestOpenAPIGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("/openapi.json differs from %s; if the change is meant, run go test ./internal/httpapi -run TestOpenAPIGolden -update and review the diff.\n%s",
			goldenOpenAPI, firstDifference(got, want))
	}
}

// firstDifference shows the lines around the first line that differs.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d:\ngot:  %s\nwant: %s", i+1, strings.Join(g[lo:min(len(g), i+4)], "\n      "), strings.Join(w[lo:min(len(w), i+4)], "\n      "))
		}
	}
	return ""
}

// openAPIDoc is the part of the document the coverage tests read.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Responses   map[string]struct {
			Content map[string]json.RawMessage `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

func parseDoc(t *testing.T, b []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPICoverage fails when the route table and the document disagree,
// in either direction: every operation of the table is in the document
// with its method and statuses, no unlisted route is, and every operation
// of the document is a route the server's mux sends its requests to.
func TestOpenAPICoverage(t *testing.T) {
	s := newTestServer(t, defaultModels(t), nil)
	doc := parseDoc(t, s.openapi)
	documented := 0
	for _, rt := range s.routes {
		method := strings.ToLower(rt.Method)
		op, inDoc := doc.Paths[rt.docPath()][method]
		switch {
		case rt.Op == nil && rt.Method != "" && inDoc:
			t.Errorf("%s is unlisted (%s) but the document has it", rt.pattern(), rt.Unlisted)
		case rt.Op == nil:
		case !inDoc:
			t.Errorf("%s is an operation of the table but not in the document", rt.pattern())
		default:
			documented++
			if op.OperationID != rt.Op.ID {
				t.Errorf("%s: operationId %q; the table says %q", rt.pattern(), op.OperationID, rt.Op.ID)
			}
			var want, got []string
			for _, r := range rt.Op.Responses {
				want = append(want, strconv.Itoa(r.Status))
			}
			for code := range op.Responses {
				got = append(got, code)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: the document gives statuses %v; the table %v", rt.pattern(), got, want)
			}
		}
	}
	n := 0
	for path, item := range doc.Paths {
		for method, op := range item {
			n++
			// A request on the documented path, with its parameters filled in.
			reqPath := path
			for _, p := range pathParams(path) {
				reqPath = strings.Replace(reqPath, "{"+p+"}", "x", 1)
			}
			r := httptest.NewRequest(strings.ToUpper(method), reqPath, nil)
			_, pattern := s.mux.Handler(r)
			i := slices.IndexFunc(s.routes, func(rt Route) bool { return rt.pattern() == pattern })
			if i < 0 || s.routes[i].Op == nil || s.routes[i].Op.ID != op.OperationID {
				t.Errorf("the document's %s %s (%s) is served by route %q, which is not that operation", strings.ToUpper(method), path, op.OperationID, pattern)
			}
		}
	}
	if n != documented {
		t.Errorf("the document has %d operations; the table %d", n, documented)
	}
	// Without this, an empty table and an empty document would agree.
	if documented < 12 {
		t.Errorf("only %d operations documented", documented)
	}
}

// exchange is one request that makes an operation answer one documented status.
type exchange struct {
	op     string // operationId
	status int
	srv    string // which server of TestOpenAPIResponses answers
	method string
	path   string
	ctype  string
	body   string
	hdr    []string
	// before changes the registry before the request.
	before func(t *testing.T)
}

// TestOpenAPIResponses makes every operation answer every status its
// documentation gives, and checks each answer against the documented
// schema for that status and content type. It fails when a documented
// status has no request here (add one), when a request gets a status or
// content type the document does not give, or when a body breaks its
// schema. Request bodies are checked too: those answered 200 must fit the
// request schema and those answered 422 must not, so the schema is
// neither stricter nor looser than the server.
func TestOpenAPIResponses(t *testing.T) {
	const js = "application/json"
	trip := `{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 1, "pickup_datetime": "2024-03-04T08:15:00"}`
	reg := newRegistryFixture(t)
	servers := map[string]*Server{
		"static": newTestServer(t, defaultModels(t), func(c *Config) { c.MaxBatch = 3; c.MaxBodyBytes = 2048 }),
		"empty":  newTestServer(t, emptyModels{}, nil),
		"monitored": func() *Server {
			models := defaultModels(t)
			mon, err := live.New(models.Default, live.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return newTestServer(t, models, func(c *Config) { c.Monitor = mon })
		}(),
		"admin": newTestServer(t, defaultModels(t), func(c *Config) { c.AdminToken = "t0ken" }),
		"registry": newTestServer(t, reg.manager, func(c *Config) {
			c.AdminToken = "t0ken"
		}),
	}
	bearer := []string{"Authorization", "Bearer t0ken"}
	big := `[` + strings.Repeat(trip+",", 30) + trip + `]`
	exchanges := []exchange{
		{op: "home", status: 200, srv: "static", method: "GET", path: "/", hdr: []string{"Accept", "text/html"}},
		{op: "home", status: 200, srv: "static", method: "GET", path: "/", hdr: []string{"Accept", js}},
		{op: "info", status: 200, srv: "static", method: "GET", path: "/info"},
		{op: "info", status: 200, srv: "empty", method: "GET", path: "/info"},
		{op: "zones", status: 200, srv: "static", method: "GET", path: "/zones"},
		{op: "zones", status: 503, srv: "empty", method: "GET", path: "/zones"},

		{op: "predict", status: 200, srv: "static", method: "POST", path: "/predict", ctype: js, body: trip},
		{op: "predict", status: 200, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"PULocationID": 1, "DOLocationID": 265, "passenger_count": null, "pickup_datetime": null}`},
		{op: "predict", status: 400, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"PULocationID": 74,`},
		{op: "predict", status: 404, srv: "static", method: "POST", path: "/predict?model_version=99", ctype: js, body: trip},
		{op: "predict", status: 413, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"x": "` + strings.Repeat("a", 70<<10) + `"}`},
		{op: "predict", status: 415, srv: "static", method: "POST", path: "/predict", ctype: "text/plain", body: trip},
		{op: "predict", status: 422, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"PULocationID": 0, "DOLocationID": 266}`},
		{op: "predict", status: 422, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"PULocationID": 74, "DOLocationID": 75, "passenger_count": 10}`},
		{op: "predict", status: 422, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"PULocationID": 74, "DOLocationID": 75, "trip_distance": 3}`},
		{op: "predict", status: 422, srv: "static", method: "POST", path: "/predict", ctype: js, body: `{"PULocationID": 74}`},
		{op: "predict", status: 503, srv: "empty", method: "POST", path: "/predict", ctype: js, body: trip},

		{op: "predictBatch", status: 200, srv: "static", method: "POST", path: "/predict/batch", ctype: js, body: `[` + trip + `, {"PULocationID": 1, "DOLocationID": 1}]`},
		{op: "predictBatch", status: 400, srv: "static", method: "POST", path: "/predict/batch", ctype: js, body: `[` + trip},
		{op: "predictBatch", status: 404, srv: "static", method: "POST", path: "/predict/batch?model_version=99", ctype: js, body: `[` + trip + `]`},
		{op: "predictBatch", status: 413, srv: "static", method: "POST", path: "/predict/batch", ctype: js, body: big},
		{op: "predictBatch", status: 415, srv: "static", method: "POST", path: "/predict/batch", ctype: "", body: `[` + trip + `]`},
		{op: "predictBatch", status: 422, srv: "static", method: "POST", path: "/predict/batch", ctype: js, body: `[]`},
		{op: "predictBatch", status: 422, srv: "static", method: "POST", path: "/predict/batch", ctype: js, body: `[` + strings.Repeat(trip+",", 3) + trip + `]`},
		{op: "predictBatch", status: 422, srv: "static", method: "POST", path: "/predict/batch", ctype: js, body: `[` + trip + `, {"PULocationID": 999, "DOLocationID": 1}]`},
		{op: "predictBatch", status: 503, srv: "empty", method: "POST", path: "/predict/batch", ctype: js, body: `[` + trip + `]`},

		{op: "models", status: 200, srv: "static", method: "GET", path: "/models"},
		{op: "models", status: 200, srv: "registry", method: "GET", path: "/models"},
		{op: "models", status: 200, srv: "empty", method: "GET", path: "/models"},

		{op: "reload", status: 404, srv: "static", method: "POST", path: "/admin/reload"},
		{op: "reload", status: 401, srv: "admin", method: "POST", path: "/admin/reload"},
		{op: "reload", status: 401, srv: "admin", method: "POST", path: "/admin/reload", hdr: []string{"Authorization", "Bearer wrong"}},
		{op: "reload", status: 409, srv: "admin", method: "POST", path: "/admin/reload", hdr: bearer},
		{op: "reload", status: 200, srv: "registry", method: "POST", path: "/admin/reload", hdr: bearer},
		{op: "reload", status: 200, srv: "registry", method: "POST", path: "/admin/reload", hdr: bearer, before: reg.setAlias("2")},
		{op: "reload", status: 502, srv: "registry", method: "POST", path: "/admin/reload", hdr: bearer, before: reg.setAlias(reg.corrupt)},

		{op: "openapi", status: 200, srv: "static", method: "GET", path: "/openapi.json"},
		{op: "docs", status: 200, srv: "static", method: "GET", path: "/docs"},
		{op: "healthz", status: 200, srv: "empty", method: "GET", path: "/healthz"},
		{op: "readyz", status: 200, srv: "static", method: "GET", path: "/readyz"},
		{op: "readyz", status: 503, srv: "empty", method: "GET", path: "/readyz"},
		{op: "metrics", status: 200, srv: "static", method: "GET", path: "/metrics"},
		{op: "monitoring", status: 200, srv: "static", method: "GET", path: "/monitoring"},
		{op: "monitoring", status: 200, srv: "monitored", method: "GET", path: "/monitoring"},
		{op: "monitoring", status: 200, srv: "empty", method: "GET", path: "/monitoring"},
		{op: "monitoringDistributions", status: 200, srv: "static", method: "GET", path: "/monitoring/distributions"},
		{op: "monitoringDistributions", status: 200, srv: "monitored", method: "GET", path: "/monitoring/distributions"},
		{op: "monitoringDistributions", status: 200, srv: "empty", method: "GET", path: "/monitoring/distributions"},
		{op: "monitoringPage", status: 200, srv: "static", method: "GET", path: "/monitoring/page"},
		{op: "monitoringPage", status: 200, srv: "monitored", method: "GET", path: "/monitoring/page"},

		// Last: it takes the registry away.
		{op: "models", status: 503, srv: "registry", method: "GET", path: "/models", before: reg.remove},
	}

	s := servers["static"]
	doc := parseDoc(t, s.openapi)
	schemas := newSchemaCompiler(t, s.openapi)
	type opStatus struct {
		op     string
		status int
	}
	seen := map[opStatus]bool{}
	for _, ex := range exchanges {
		name := fmt.Sprintf("%s %d %s", ex.op, ex.status, ex.srv)
		t.Run(name, func(t *testing.T) {
			if ex.before != nil {
				ex.before(t)
			}
			w := do(servers[ex.srv], ex.method, ex.path, ex.ctype, ex.body, ex.hdr...)
			if w.Code != ex.status {
				t.Fatalf("status %d; want %d; body %s", w.Code, ex.status, truncate(w.Body.String()))
			}
			path, method := docOperation(t, doc, ex.op)
			if !strings.EqualFold(method, ex.method) || path != strings.SplitN(ex.path, "?", 2)[0] {
				t.Fatalf("the request %s %s is not operation %s (%s %s)", ex.method, ex.path, ex.op, method, path)
			}
			resp, ok := doc.Paths[path][method].Responses[strconv.Itoa(w.Code)]
			if !ok {
				t.Fatalf("%s answered %d, which its documentation does not give", ex.op, w.Code)
			}
			seen[opStatus{ex.op, w.Code}] = true
			mt, _, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
			if err != nil {
				t.Fatalf("content type %q: %v", w.Header().Get("Content-Type"), err)
			}
			if _, ok := resp.Content[mt]; !ok {
				t.Fatalf("%s %d answered %s; the document gives %v", ex.op, w.Code, mt, slices.Collect(mapKeys(resp.Content)))
			}
			if mt == "application/json" || strings.HasSuffix(mt, "+json") {
				ptr := "/paths/" + escapePointer(path) + "/" + method + "/responses/" + strconv.Itoa(w.Code) + "/content/" + escapePointer(mt) + "/schema"
				validate(t, schemas, ptr, w.Body.Bytes())
			}
			if ex.body != "" && (w.Code == 200 || w.Code == 422) {
				ptr := "/paths/" + escapePointer(path) + "/" + method + "/requestBody/content/application~1json/schema"
				err := schemas.validate(ptr, []byte(ex.body))
				if w.Code == 200 && err != nil {
					t.Errorf("the server took a body the request schema refuses: %v", err)
				}
				if w.Code == 422 && err == nil {
					t.Errorf("the server refused a body the request schema allows: %s", w.Body)
				}
			}
		})
	}
	for _, rt := range s.routes {
		if rt.Op == nil {
			continue
		}
		for _, r := range rt.Op.Responses {
			if !seen[opStatus{rt.Op.ID, r.Status}] {
				t.Errorf("%s documents status %d, which no request here made it answer (or that request failed); add one", rt.Op.ID, r.Status)
			}
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// docOperation finds an operation's path and method in the document.
func docOperation(t *testing.T, doc openAPIDoc, id string) (string, string) {
	t.Helper()
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.OperationID == id {
				return path, method
			}
		}
	}
	t.Fatalf("no operation %q in the document", id)
	return "", ""
}

func escapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// schemaCompiler compiles the document's schemas by JSON pointer.
type schemaCompiler struct {
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

func newSchemaCompiler(t *testing.T, openapi []byte) *schemaCompiler {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openapi))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return &schemaCompiler{c: c, cache: map[string]*jsonschema.Schema{}}
}

func (sc *schemaCompiler) validate(ptr string, body []byte) error {
	sch, ok := sc.cache[ptr]
	if !ok {
		var err error
		if sch, err = sc.c.Compile("openapi.json#" + (&url.URL{Fragment: ptr}).EscapedFragment()); err != nil {
			return fmt.Errorf("compile %s: %w", ptr, err)
		}
		sc.cache[ptr] = sch
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

func validate(t *testing.T, sc *schemaCompiler, ptr string, body []byte) {
	t.Helper()
	if err := sc.validate(ptr, body); err != nil {
		t.Errorf("the answer breaks its schema %s: %v\nbody: %s", ptr, err, truncate(string(body)))
	}
}

// registryFixture is a local registry with three versions of the embedded
// model, served by a Manager following the alias champion (version 1);
// version 3's artifact is corrupt, so a reload to it is refused.
type registryFixture struct {
	reg     *registry.Local
	dir     string
	corrupt string
	manager *serving.Manager
}

func newRegistryFixture(t *testing.T) *registryFixture {
	t.Helper()
	ctx := context.Background()
	f := &registryFixture{dir: t.TempDir()}
	var err error
	if f.reg, err = registry.NewLocal(f.dir); err != nil {
		t.Fatal(err)
	}
	a, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var last registry.Version
	for range 3 {
		if last, err = f.reg.Register(ctx, "taxi-duration", enc, registry.RunInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(last.Source, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.corrupt = last.Version
	if err := f.reg.SetAlias(ctx, "taxi-duration", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	src := &serving.RegistrySource{
		Loader: &registry.Loader{Registry: f.reg, Dir: t.TempDir(), Logger: quiet},
		Ref:    registry.Ref{Name: "taxi-duration", Alias: "champion"},
	}
	first, err := src.First(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.manager = serving.NewManager(src, first, serving.ManagerOptions{Logger: quiet})
	return f
}

func (f *registryFixture) setAlias(version string) func(t *testing.T) {
	return func(t *testing.T) {
		if err := f.reg.SetAlias(context.Background(), "taxi-duration", "champion", version); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *registryFixture) remove(t *testing.T) {
	if err := os.RemoveAll(filepath.Join(f.dir, "taxi-duration")); err != nil {
		t.Fatal(err)
	}
}
