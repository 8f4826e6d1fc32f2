package mlflowserve

// The wire types of the protocol, for the API's documentation (the
// handlers read and write the bytes themselves).

// Request is the JSON body of POST /invocations: exactly one of the four
// layouts MLflow accepts, and optional params (accepted, unused).
type Request struct {
	// DataframeSplit is pandas' to_dict(orient="split"): columns and rows.
	DataframeSplit *SplitFrame `json:"dataframe_split,omitempty"`
	// DataframeRecords is pandas' to_dict(orient="records"): a row object each.
	DataframeRecords []Row `json:"dataframe_records,omitempty"`
	// Instances are row objects, or rows as arrays in the signature's order
	// [PULocationID, DOLocationID, passenger_count, pickup_datetime].
	Instances []any `json:"instances,omitempty"`
	// Inputs are columns ({"PULocationID": [...], ...}) or rows as Instances.
	Inputs any            `json:"inputs,omitempty"`
	Params map[string]any `json:"params,omitempty"`
}

// SplitFrame is a table as columns and rows of values.
type SplitFrame struct {
	Columns []string `json:"columns"`
	Index   []int    `json:"index,omitempty"`
	Data    [][]any  `json:"data"`
}

// Row is one trip; columns other than these are ignored.
type Row struct {
	PULocationID int `json:"PULocationID"`
	DOLocationID int `json:"DOLocationID"`
	// PassengerCount is 0..9; null or absent when unknown.
	PassengerCount *int `json:"passenger_count,omitempty"`
	// PickupDatetime is an ISO 8601 date-time, New York time unless it has an offset.
	PickupDatetime string `json:"pickup_datetime,omitempty"`
}

// Response is the answer: one estimate per row, in order.
type Response struct {
	Predictions []Estimate `json:"predictions"`
}

// Estimate is a row's estimate and its 10–90% range, in minutes.
type Estimate struct {
	DurationMinutes float64 `json:"duration_minutes"`
	LowMinutes      float64 `json:"low_minutes"`
	HighMinutes     float64 `json:"high_minutes"`
}

// ErrorBody is MLflow's error answer.
type ErrorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}
