package httpapi

import (
	"fmt"
	"net/http"
	"strings"
)

// Route is one entry of the route table (routes.go): everything the
// server, its metrics, its 405 answers and its OpenAPI document know of
// one method on one path.
type Route struct {
	// Method is the HTTP method, "GET" or "POST"; GET also answers HEAD.
	// Empty matches every method, which only the catch-all should need.
	Method string
	// Path is a net/http ServeMux path pattern: "/predict",
	// "/v2/models/{name}/infer", "/{$}" for the root alone.
	Path string
	// Label is the route label of the request metrics; empty means the
	// path as the OpenAPI document writes it ("/v2/models/{name}/infer"),
	// which keeps the label's values few whatever the requests' paths.
	Label string
	// Op describes the route as an API operation in the OpenAPI document.
	// A route is either an operation or Unlisted, never neither.
	Op *Operation
	// Unlisted says why a route that is not an API operation (static
	// assets, the catch-all) is left out of the OpenAPI document.
	Unlisted string
	// Handler answers the route. The server wraps it with the request id,
	// panic safety, metrics and the access log. The table's handlers are
	// apiFuncs behind Server.api; a handler from another package speaking
	// another protocol classifies its errors with ErrorKind and writes the
	// kind's code in its protocol's format (apierr.Kind.HTTPStatus,
	// GRPCCode).
	Handler http.Handler
}

// Operation is a route's OpenAPI operation.
type Operation struct {
	// ID is the operationId, unique in the document: "predict".
	ID          string
	Summary     string
	Description string
	Tags        []string
	// Params are the query (and header) parameters; path parameters are
	// added from the path's wildcards unless listed here.
	Params []Param
	// Body is the request body, required when set.
	Body *Content
	// Responses are every status the route answers with on purpose. The
	// coverage test (openapi_coverage_test.go) makes each of them happen
	// and checks the answer against its schema.
	Responses []Response
}

// Param is a parameter of an operation; its schema is a string.
type Param struct {
	Name, In, Description, Example string
	Required                       bool
}

// Response is one status of an operation and what its body may hold.
type Response struct {
	Status      int
	Description string
	Content     []Content
}

// Content is a body in one media type.
type Content struct {
	// Type is the media type, "application/json".
	Type string
	// Of is a value of the Go type whose schema the body has: a wire type
	// of types.go, a slice of one, or "" for text.
	Of any
	// Schema holds keywords added to the generated schema, such as
	// {"maxItems": 100}.
	Schema map[string]any
}

// JSONReply is a response with a JSON body of v's type.
func JSONReply(status int, desc string, v any) Response {
	return Response{Status: status, Description: desc, Content: []Content{{Type: "application/json", Of: v}}}
}

// ProblemReply is an error response with a problem+json body.
func ProblemReply(status int, desc string) Response {
	return Response{Status: status, Description: desc, Content: []Content{{Type: "application/problem+json", Of: Problem{}}}}
}

// pattern is the route's ServeMux pattern.
func (rt *Route) pattern() string {
	if rt.Method == "" {
		return rt.Path
	}
	return rt.Method + " " + rt.Path
}

// docPath is the route's path as OpenAPI writes it: "/{$}" is "/", and a
// "{rest...}" wildcard is "{rest}".
func (rt *Route) docPath() string {
	p := strings.TrimSuffix(rt.Path, "{$}")
	if p == "" {
		p = "/"
	}
	return strings.ReplaceAll(p, "...}", "}")
}

// label is the route's metrics label.
func (rt *Route) label() string {
	if rt.Label != "" {
		return rt.Label
	}
	return rt.docPath()
}

// check refuses a route the table cannot use.
func (rt *Route) check() error {
	switch {
	case rt.Path == "" || rt.Path[0] != '/':
		return fmt.Errorf("route %q: the path must start with /", rt.pattern())
	case rt.Handler == nil:
		return fmt.Errorf("route %q: no handler", rt.pattern())
	case (rt.Op == nil) == (rt.Unlisted == ""):
		return fmt.Errorf("route %q: give either an OpenAPI operation or the reason it is unlisted", rt.pattern())
	case rt.Op != nil && rt.Method == "":
		return fmt.Errorf("route %q: an operation needs a method", rt.pattern())
	case rt.Op != nil && (rt.Op.ID == "" || len(rt.Op.Responses) == 0):
		return fmt.Errorf("route %q: an operation needs an id and its responses", rt.pattern())
	}
	return nil
}

// allowed is the methods a path answers, for 405 answers; it is the
// handler of the allow mux, matched but never served.
type allowed []string

func (allowed) ServeHTTP(http.ResponseWriter, *http.Request) {}

// mount registers the routes on the server's mux and builds the allow mux,
// which matches a request's path alone against the routes' paths.
func (s *Server) mount(routes []Route) (err error) {
	defer func() { // ServeMux panics on conflicting patterns
		if p := recover(); p != nil {
			err = fmt.Errorf("api routes: %v", p)
		}
	}()
	ids := map[string]string{}
	methods := map[string]allowed{}
	var paths []string
	for i := range routes {
		rt := &routes[i]
		if err := rt.check(); err != nil {
			return fmt.Errorf("api routes: %w", err)
		}
		if rt.Op != nil {
			if other, dup := ids[rt.Op.ID]; dup {
				return fmt.Errorf("api routes: operation id %q is both %q and %q", rt.Op.ID, other, rt.pattern())
			}
			ids[rt.Op.ID] = rt.pattern()
		}
		s.mux.Handle(rt.pattern(), s.instrument(rt.Method, rt.label(), rt.Handler))
		if rt.Method != "" {
			if _, ok := methods[rt.Path]; !ok {
				paths = append(paths, rt.Path)
			}
			methods[rt.Path] = append(methods[rt.Path], rt.Method)
		}
	}
	s.allow = http.NewServeMux()
	for _, p := range paths {
		s.allow.Handle(p, methods[p])
	}
	s.routes = routes
	return nil
}

// allowedMethods returns the methods of the routes whose path matches r's,
// nil when none does.
func (s *Server) allowedMethods(r *http.Request) []string {
	h, pattern := s.allow.Handler(r)
	if a, ok := h.(allowed); ok && pattern != "" {
		return a
	}
	return nil
}
