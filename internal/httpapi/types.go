package httpapi

import "time"

// The wire types. Requests are decoded by the hand-written decoder in
// decode.go; these types are what the OpenAPI document is generated from,
// and TestSchemaMatchesDecoder keeps the two in step.

// TripRequest is one trip to estimate, in the lab's wire format.
type TripRequest struct {
	PULocationID   int     `json:"PULocationID" minimum:"1" maximum:"265" example:"74" doc:"Pickup TLC taxi zone id (LocationID)"`
	DOLocationID   int     `json:"DOLocationID" minimum:"1" maximum:"265" example:"75" doc:"Dropoff TLC taxi zone id (LocationID)"`
	PassengerCount *int    `json:"passenger_count,omitempty" minimum:"0" maximum:"9" example:"1" doc:"Number of passengers; null or absent when unknown"`
	PickupDatetime *string `json:"pickup_datetime,omitempty" format:"date-time" example:"2024-03-04T08:15:00" doc:"Pickup time, ISO 8601. Without an offset it is NYC local time; with one it is converted. When given, the estimate accounts for the hour of the week"`
}

// Interval is the 10–90% range of the duration: about eight trips in ten
// take between Low and High minutes.
type Interval struct {
	Low  float64 `json:"low" example:"10.9" doc:"10th percentile of the duration, minutes"`
	High float64 `json:"high" example:"19.3" doc:"90th percentile of the duration, minutes"`
}

// ModelRef names the model that answered.
type ModelRef struct {
	Name    string `json:"name" example:"taxi-duration" doc:"Registered model name"`
	Version string `json:"version" example:"3" doc:"Model version, a string as registries give it"`
}

// PredictionResponse is the estimate for one trip.
type PredictionResponse struct {
	TripDurationPrediction float64  `json:"trip_duration_prediction" example:"14.2" doc:"Estimated trip duration, minutes"`
	Interval               Interval `json:"interval"`
	Model                  ModelRef `json:"model"`
}

// BatchPrediction is one estimate of a batch.
type BatchPrediction struct {
	TripDurationPrediction float64  `json:"trip_duration_prediction" example:"14.2" doc:"Estimated trip duration, minutes"`
	Interval               Interval `json:"interval"`
}

// BatchResponse holds a batch's estimates in request order.
type BatchResponse struct {
	Model       ModelRef          `json:"model"`
	Predictions []BatchPrediction `json:"predictions" doc:"One estimate per trip, in the order of the request"`
}

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type     string       `json:"type" example:"about:blank" doc:"A URI reference identifying the problem type"`
	Title    string       `json:"title" example:"Unprocessable Content" doc:"Short summary of the problem type"`
	Status   int          `json:"status" example:"422" doc:"HTTP status code"`
	Detail   string       `json:"detail,omitempty" example:"body.DOLocationID: must be a zone id from 1 to 265, got 266" doc:"What went wrong with this request"`
	Instance string       `json:"instance,omitempty" example:"/predict" doc:"The request path"`
	Errors   []FieldError `json:"errors,omitempty" doc:"Every field that broke a rule"`
}

// MetricsSummary are a model's validation figures, in minutes.
type MetricsSummary struct {
	Rows             int64    `json:"rows"`
	RMSE             float64  `json:"rmse"`
	MAE              float64  `json:"mae"`
	R2               float64  `json:"r2"`
	IntervalCoverage float64  `json:"interval_coverage" doc:"Share of trips inside the predicted 10-90% range"`
	RMSEWithTime     *float64 `json:"rmse_with_time,omitempty" doc:"RMSE when the pickup time is given"`
}

// ModelInfo describes the served model.
type ModelInfo struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Kind         string          `json:"kind" example:"od"`
	Source       string          `json:"source" doc:"embedded, a file path or a registry reference"`
	SHA256       string          `json:"sha256"`
	CreatedAt    time.Time       `json:"created_at"`
	Trainer      string          `json:"trainer"`
	Inputs       []string        `json:"inputs"`
	TrainingData []string        `json:"training_data" doc:"Trip sources the model was trained on"`
	TrainingRows int64           `json:"training_rows"`
	Validation   []string        `json:"validation_data,omitempty"`
	Valid        *MetricsSummary `json:"validation_metrics,omitempty"`
}

// InfoResponse is what GET / (for API clients) and GET /info answer.
type InfoResponse struct {
	Title       string     `json:"title" example:"taxieta"`
	Description string     `json:"description"`
	Version     string     `json:"version" doc:"taxieta build version"`
	Model       *ModelInfo `json:"model,omitempty"`
	Docs        string     `json:"docs" example:"/docs"`
	OpenAPI     string     `json:"openapi" example:"/openapi.json"`
}

// Zone is one TLC taxi zone.
type Zone struct {
	ID          int    `json:"id" example:"132"`
	Name        string `json:"zone" example:"JFK Airport"`
	Borough     string `json:"borough" example:"Queens"`
	ServiceZone string `json:"service_zone,omitempty" example:"Airports"`
}

// ZonesResponse lists the zones the served model knows.
type ZonesResponse struct {
	Zones []Zone `json:"zones"`
}

// Health is what the health probes answer.
type Health struct {
	Status string `json:"status" example:"ok" doc:"ok, or why not"`
}
