package main

import (
	"fmt"
	"net/http"

	"github.com/taxieta/taxieta/internal/httpapi"
	"github.com/taxieta/taxieta/internal/mlflowserve"
	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
)

// protocolRoutes are the routes of the standard protocols the web service
// speaks besides its own API, as entries of its route table.
func protocolRoutes(svc *serving.Service, api httpapi.Config) ([]httpapi.Route, error) {
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
	return routes, nil
}
