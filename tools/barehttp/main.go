// Command barehttp is the yardstick of `make bench`: a bare net/http server
// that decodes the same JSON as taxieta's POST /predict with encoding/json
// and answers a constant, so the benchmark can say what taxieta's
// validation, model, metrics and logging cost on top of plain Go HTTP.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
)

type tripRequest struct {
	PULocationID   int     `json:"PULocationID"`
	DOLocationID   int     `json:"DOLocationID"`
	PassengerCount *int    `json:"passenger_count"`
	PickupDatetime *string `json:"pickup_datetime"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8001", "listen address")
	flag.Parse()
	answer := []byte(`{"trip_duration_prediction":14.2,"interval":{"low":10.9,"high":19.3},"model":{"name":"taxi-duration","version":"3"}}` + "\n")
	http.HandleFunc("POST /predict", func(w http.ResponseWriter, r *http.Request) {
		var req tripRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
