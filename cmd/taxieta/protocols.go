package main

import (
	"fmt"
	"net/http"

	"github.com/taxieta/taxieta/internal/httpapi"
	"github.com/taxieta/taxieta/internal/mlflowserve"
	"github.com/taxieta/taxieta/internal/oip"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// protocolRoutes are the routes of the standard protocols the web service
// speaks besides its own API, as entries of its route table.
func protocolRoutes(svc *serving.Service, api httpapi.Config, v2 *oip.Server) ([]httpapi.Route, error) {
	ny, err := trip.NYC()
	if err != nil {
		return nil, err
	}
	ml, err := mlflowserve.New(svc, mlflowserve.Options{MaxRows: api.MaxBatch, MaxBodyBytes: api.MaxBodyBytes, Version: api.Version, Location: ny})
	if err != nil {
		return nil, err
	}
	mlErr := func(status int, desc string) httpapi.Response {
		return httpapi.Response{Status: status, Description: desc, Content: []httpapi.Content{{Type: "application/json", Of: mlflowserve.ErrorBody{}}}}
	}
	tags := []string{"mlflow"}
	routes := []httpapi.Route{
		{Method: "POST", Path: "/invocations", Handler: ml.Invocations(), Op: &httpapi.Operation{
			ID: "mlflowInvocations", Tags: tags, Summary: "Score trips in MLflow's scoring protocol",
			Description: fmt.Sprintf("As `mlflow models serve` answers: a JSON body with one of dataframe_split, dataframe_records, instances or inputs (and optional params), or text/csv with a header line; up to %d rows. Errors are MLflow's {error_code, message}.", api.MaxBatch),
			Body:        &httpapi.Content{Type: "application/json", Of: mlflowserve.Request{}},
			Responses: []httpapi.Response{
				httpapi.JSONReply(http.StatusOK, "One estimate per row, in order", mlflowserve.Response{}),
				mlErr(http.StatusBadRequest, "The body breaks a rule; the message names the row, the column and the rule"),
				mlErr(http.StatusRequestEntityTooLarge, "The body is over the size limit"),
				mlErr(http.StatusUnsupportedMediaType, "Not application/json or text/csv in UTF-8"),
				mlErr(http.StatusServiceUnavailable, "No model is loaded yet"),
			}}},
		{Method: "GET", Path: "/ping", Handler: ml.Ping(), Op: &httpapi.Operation{
			ID: "mlflowPing", Tags: tags, Summary: "MLflow's health check: 200 once a model is loaded, else 404",
			Responses: []httpapi.Response{{Status: 200, Description: "A model is loaded"}, {Status: 404, Description: "No model is loaded yet"}}}},
		{Method: "GET", Path: "/health", Handler: ml.Ping(), Op: &httpapi.Operation{
			ID: "mlflowHealth", Tags: tags, Summary: "MLflow's health check, as /ping",
			Responses: []httpapi.Response{{Status: 200, Description: "A model is loaded"}, {Status: 404, Description: "No model is loaded yet"}}}},
		{Method: "GET", Path: "/version", Handler: ml.VersionHandler(), Op: &httpapi.Operation{
			ID: "mlflowVersion", Tags: tags, Summary: "The taxieta build's version, where MLflow answers with its own",
			Responses: []httpapi.Response{{Status: 200, Description: "The version", Content: []httpapi.Content{{Type: "application/json", Of: ""}}}}}},
	}
	return append(routes, oipRoutes(v2, api)...), nil
}

// newOIP is the Open Inference Protocol v2 server, shared by its REST
// routes and its gRPC listener so both bindings follow the same limits.
func newOIP(svc *serving.Service, api httpapi.Config) (*oip.Server, error) {
	ny, err := trip.NYC()
	if err != nil {
		return nil, err
	}
	return oip.New(svc, oip.Options{MaxRows: api.MaxBatch, MaxBodyBytes: api.MaxBodyBytes, Version: api.Version, Location: ny})
}

// oipRoutes are the Open Inference Protocol v2 REST routes.
func oipRoutes(s *oip.Server, api httpapi.Config) []httpapi.Route {
	tags := []string{"oip"}
	errBody := func(status int, desc string) httpapi.Response {
		return httpapi.Response{Status: status, Description: desc, Content: []httpapi.Content{{Type: "application/json", Of: oip.ErrorBody{}}}}
	}
	versionParam := []httpapi.Param{{Name: "model_version", In: "query", Example: "3", Description: "The registry version to use; the current one when absent"}}
	routes := []httpapi.Route{
		{Method: "GET", Path: "/v2/health/live", Handler: s.Live(), Op: &httpapi.Operation{
			ID: "oipLive", Tags: tags, Summary: "OIP v2 liveness: 200 while the server runs",
			Responses: []httpapi.Response{{Status: 200, Description: "The server is live"}}}},
		{Method: "GET", Path: "/v2/health/ready", Handler: s.Ready(), Op: &httpapi.Operation{
			ID: "oipReady", Tags: tags, Summary: "OIP v2 readiness: 200 once a model is loaded",
			Responses: []httpapi.Response{{Status: 200, Description: "A model is loaded"}, {Status: 503, Description: "No model is loaded yet"}}}},
		{Method: "GET", Path: "/v2", Handler: s.Metadata(), Op: &httpapi.Operation{
			ID: "oipServerMetadata", Tags: tags, Summary: "OIP v2 server metadata: name, version and extensions (binary_tensor_data)",
			Responses: []httpapi.Response{httpapi.JSONReply(http.StatusOK, "The server's metadata", oip.ServerMetadata{})}}},
	}
	for _, v := range []struct{ path, id, of string }{
		{"/v2/models/{name}", "", ""},
		{"/v2/models/{name}/versions/{version}", "Version", " of a registry version"},
	} {
		var params []httpapi.Param
		if v.id == "" {
			params = versionParam
		}
		notFound := errBody(http.StatusNotFound, "The model or version is not found")
		routes = append(routes,
			httpapi.Route{Method: "GET", Path: v.path, Handler: s.ModelMetadata(), Op: &httpapi.Operation{
				ID: "oipModelMetadata" + v.id, Tags: tags, Summary: "OIP v2 model metadata" + v.of + ": its input and output tensors", Params: params,
				Responses: []httpapi.Response{httpapi.JSONReply(http.StatusOK, "The model's metadata", oip.ModelMetadata{}), notFound,
					errBody(http.StatusServiceUnavailable, "No model is loaded yet")}}},
			httpapi.Route{Method: "GET", Path: v.path + "/ready", Handler: s.ModelReady(), Op: &httpapi.Operation{
				ID: "oipModelReady" + v.id, Tags: tags, Summary: "OIP v2 model readiness" + v.of, Params: params,
				Responses: []httpapi.Response{{Status: 200, Description: "The model is ready"}, notFound,
					errBody(http.StatusServiceUnavailable, "No model is loaded yet")}}},
			httpapi.Route{Method: "POST", Path: v.path + "/infer", Handler: s.Infer(), Op: &httpapi.Operation{
				ID: "oipInfer" + v.id, Tags: tags, Summary: "OIP v2 inference" + v.of, Params: params,
				Description: fmt.Sprintf("Inputs PULocationID and DOLocationID (INT64 [N]), optional passenger_count (INT64 [N], -1 unknown) and pickup_datetime (BYTES [N], ISO 8601, New York time unless it has an offset), or one INT64 [N,3] tensor; N up to %d. Outputs duration_minutes, low_minutes, high_minutes (FP64 [N]). The binary tensor data extension is supported (Inference-Header-Content-Length).", api.MaxBatch),
				Body:        &httpapi.Content{Type: "application/json", Of: oip.InferRequest{}},
				Responses: []httpapi.Response{httpapi.JSONReply(http.StatusOK, "The outputs, in the JSON body or after its JSON header", oip.InferResponse{}),
					errBody(http.StatusBadRequest, "The request breaks a rule; the message names the tensor and the rule"), notFound,
					errBody(http.StatusRequestEntityTooLarge, "The body is over the size limit"),
					errBody(http.StatusServiceUnavailable, "No model is loaded yet")}}},
		)
	}
	return routes
}
