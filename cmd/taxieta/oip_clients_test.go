package main

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/testenv"
)

// TestOIPClients calls the real server's Open Inference Protocol v2 REST
// endpoints with tritonclient and the KServe SDK, and its gRPC listener
// with tritonclient.grpc and the health service with grpcio (scripts/oip_clients.py, from the venv of
// scripts/services/oip-clients.sh): metadata and readiness, then 1 and
// 10,000 real trips of green 2024-03, in JSON and binary tensors, which must
// be what POST /predict/batch answers for the same trips (it rounds to two
// decimals, so the v2 values are rounded the same way before comparing).
func TestOIPClients(t *testing.T) {
	python := testenv.Service(t, "TAXIETA_OIP_PYTHON")
	data := testenv.DataDir(t)
	const n = 10000
	batchBody, _ := predictRequests(t, data, n)
	var reqs []struct {
		PU     int64   `json:"PULocationID"`
		DO     int64   `json:"DOLocationID"`
		Pax    *int64  `json:"passenger_count"`
		Pickup *string `json:"pickup_datetime"`
	}
	if err := json.Unmarshal(batchBody, &reqs); err != nil {
		t.Fatal(err)
	}
	cols := struct {
		PU     []int64  `json:"pu"`
		DO     []int64  `json:"do"`
		Pax    []int64  `json:"pax"`
		Pickup []string `json:"pickup"`
	}{}
	for _, r := range reqs {
		cols.PU, cols.DO = append(cols.PU, r.PU), append(cols.DO, r.DO)
		p, s := int64(-1), ""
		if r.Pax != nil {
			p = *r.Pax
		}
		if r.Pickup != nil {
			s = *r.Pickup
		}
		cols.Pax, cols.Pickup = append(cols.Pax, p), append(cols.Pickup, s)
	}
	dir := t.TempDir()
	tripsFile := filepath.Join(dir, "trips.json")
	b, err := json.Marshal(cols)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tripsFile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	bin := buildBinary(t)
	_, base, logs := startServer(t, bin)
	grpcAddr := servingGRPCAddr(t, logs.String())
	resp, err := http.Post(base+"/predict/batch", "application/json", strings.NewReader(string(batchBody)))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Model struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"model"`
		Predictions []struct {
			Minutes  float64 `json:"trip_duration_prediction"`
			Interval struct {
				Low  float64 `json:"low"`
				High float64 `json:"high"`
			} `json:"interval"`
		} `json:"predictions"`
	}
	err = json.NewDecoder(resp.Body).Decode(&want)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(want.Predictions) != n {
		t.Fatalf("POST /predict/batch: %d, %v, %d predictions", resp.StatusCode, err, len(want.Predictions))
	}

	out := filepath.Join(dir, "out.json")
	grpcOut := filepath.Join(dir, "out-grpc.json")
	script := filepath.Join(testenv.RepoRoot(), "scripts", "oip_clients.py")
	for _, args := range [][]string{
		{script, strings.TrimPrefix(base, "http://"), want.Model.Name, tripsFile, out},
		{script, "--grpc", grpcAddr, want.Model.Name, tripsFile, grpcOut},
	} {
		if msg, err := exec.Command(python, args...).CombinedOutput(); err != nil {
			t.Fatalf("oip_clients.py %s: %v\n%s", args[1], err, msg)
		}
	}
	type metadata struct {
		Live       bool `json:"live"`
		Ready      bool `json:"ready"`
		ModelReady bool `json:"model_ready"`
		Server     struct {
			Name       string   `json:"name"`
			Extensions []string `json:"extensions"`
		} `json:"server"`
		Model struct {
			Name     string   `json:"name"`
			Versions []string `json:"versions"`
			Inputs   []struct {
				Name string `json:"name"`
			} `json:"inputs"`
		} `json:"model"`
	}
	var got struct {
		metadata
		GRPC struct {
			metadata
			Health struct{ Check, Watch string } `json:"health"`
		} `json:"grpc"`
		Results map[string]struct {
			Minutes      []float64 `json:"duration_minutes"`
			Low          []float64 `json:"low_minutes"`
			High         []float64 `json:"high_minutes"`
			ID           string    `json:"id"`
			ModelVersion string    `json:"model_version"`
		} `json:"results"`
	}
	for _, f := range []string{out, grpcOut} { // the second adds its results to the first's
		b, err = os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
	}
	if !got.Live || !got.Ready || !got.ModelReady || got.Server.Name != "taxieta" || !slices.Contains(got.Server.Extensions, "binary_tensor_data") {
		t.Errorf("health and server metadata: %+v", got)
	}
	if got.Model.Name != want.Model.Name || !slices.Equal(got.Model.Versions, []string{want.Model.Version}) || len(got.Model.Inputs) != 4 {
		t.Errorf("model metadata: %+v", got.Model)
	}
	if g := got.GRPC; !g.Live || !g.Ready || !g.ModelReady || g.Server.Name != "taxieta" || g.Model.Name != want.Model.Name ||
		!slices.Equal(g.Model.Versions, []string{want.Model.Version}) || len(g.Model.Inputs) != 4 {
		t.Errorf("gRPC health and metadata: %+v", g)
	}
	if h := got.GRPC.Health; h.Check != "SERVING" || h.Watch != "SERVING" {
		t.Errorf("grpcio's health Check and Watch: %+v; want SERVING", h)
	}
	round := func(v float64) float64 { return math.Round(float64(float32(v))*100) / 100 }
	for _, key := range []string{"http-json-1", "http-json-10000", "http-binary-1", "http-binary-10000", "kserve-json-1", "kserve-json-10000", "kserve-binary-1", "kserve-binary-10000", "grpc-1", "grpc-10000"} {
		r, ok := got.Results[key]
		if !ok {
			t.Errorf("%s: no result", key)
			continue
		}
		m := len(r.Minutes)
		if want := map[bool]int{true: 1, false: n}[strings.HasSuffix(key, "-1")]; m != want || len(r.Low) != m || len(r.High) != m {
			t.Errorf("%s: %d/%d/%d outputs, want %d", key, m, len(r.Low), len(r.High), want)
			continue
		}
		// KServe's InferResponse.from_bytes (0.21.0) keeps the model's
		// name but drops model_version, so only tritonclient shows it.
		if (r.ModelVersion != want.Model.Version && !strings.HasPrefix(key, "kserve")) || r.ID == "" {
			t.Errorf("%s: model_version %q, id %q", key, r.ModelVersion, r.ID)
		}
		bad := 0
		for i := range m {
			w := want.Predictions[i]
			if round(r.Minutes[i]) != w.Minutes || round(r.Low[i]) != w.Interval.Low || round(r.High[i]) != w.Interval.High {
				if bad++; bad <= 5 {
					t.Errorf("%s: trip %d: %v/%v/%v, /predict/batch %+v", key, i, r.Minutes[i], r.Low[i], r.High[i], w)
				}
			}
		}
	}
}

// servingGRPCAddr is the gRPC address in serve's "serving" log line.
func servingGRPCAddr(t *testing.T, logs string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			Msg      string `json:"msg"`
			GRPCAddr string `json:"grpc_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" && rec.GRPCAddr != "" && rec.GRPCAddr != "off" {
			return rec.GRPCAddr
		}
	}
	t.Fatalf("no gRPC address in serve's log:\n%s", logs)
	return ""
}
