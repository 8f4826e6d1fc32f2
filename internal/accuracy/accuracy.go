// Package accuracy measures how wrong a deployed model was, once the TLC
// publishes the trips that actually happened: it joins what the model
// estimated (a batch output, or a prediction log) with the actual trips
// and reports, per day and overall, the RMSE, MAE, bias and the share of
// trips inside the 10–90% range. Actual trips are cleaned by the same rules
// as training and batch scoring, and the figures are added up by the same
// model.Sums, so that on a batch output they reproduce what `taxieta
// predict` printed for the same file.
package accuracy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/predlog"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// Figures are one day's (or the whole period's) accuracy. Metrics is nil
// when no trip could be judged, and Note says why, so that a report never
// shows NaN.
type Figures struct {
	// Day is YYYY-MM-DD (New York pickup date); empty for the whole period.
	Day string `json:"day,omitempty"`
	// Trips counts the estimates joined with an actual trip, Kept those whose
	// actual trip cleaning kept (the trips judged).
	Trips   int64          `json:"trips"`
	Kept    int64          `json:"kept"`
	Metrics *model.Metrics `json:"metrics,omitempty"`
	// Bias is the mean of estimate minus actual duration, minutes.
	Bias *float64 `json:"bias,omitempty"`
	Note string   `json:"note,omitempty"`
}

// Report is the accuracy of a model's estimates against actual trips.
type Report struct {
	Estimates string `json:"estimates"`
	Actuals   string `json:"actuals"`
	// Models are the model versions that made the estimates, "NAME VERSION".
	Models []string   `json:"models"`
	Rules  trip.Rules `json:"rules"`
	// Estimated counts the estimates read, Unmatched those with no actual trip.
	Estimated int64      `json:"estimated"`
	Unmatched int64      `json:"unmatched"`
	Cleaning  trip.Stats `json:"cleaning"`
	Overall   Figures    `json:"overall"`
	Days      []Figures  `json:"days"`
	// Drift is the drift of the judged trips from the training data of
	// the model that made the estimates; nil when Evaluate was not asked
	// for it (Config.Drift nil).
	Drift *Drift `json:"drift,omitempty"`
}

// Config says how Run judges estimates.
type Config struct {
	// Rules clean the actual trips; the zero Rules mean trip.DefaultRules.
	Rules trip.Rules
	// Drift, when not nil, asks for the drift of the judged trips.
	Drift *DriftConfig
}

// estimate is one estimate to judge: where it points in the actual trips
// (by row index, or by pickup time and zones) and what it said.
type estimate struct {
	index    int64 // row of the actuals file; -1 when joined by key
	key      tripKey
	pred     trip.Prediction
	model    string
	hasIndex bool
}

// tripKey joins an estimate with an actual trip when there is no row
// index: the stated pickup time (wall clock, µs) and the zones.
type tripKey struct {
	pickup int64
	pu, do int32
}

// errFormat says a file is not what the command expects.
var errFormat = errors.New("not a taxieta batch output or prediction log")

// Evaluate joins the estimates in estimates (a batch output .parquet, a
// prediction log file, or a directory of prediction log files) with the
// actual trips of the TLC file actuals, cleaned by rules.
func Evaluate(ctx context.Context, estimates, actuals string, rules trip.Rules) (*Report, error) {
	return Run(ctx, estimates, actuals, Config{Rules: rules})
}

// Run is Evaluate with the drift of the judged trips as well, when
// cfg.Drift asks for it.
func Run(ctx context.Context, estimates, actuals string, cfg Config) (*Report, error) {
	rules := cfg.Rules
	if rules == (trip.Rules{}) {
		rules = trip.DefaultRules()
	}
	ests, err := readEstimates(estimates)
	if err != nil {
		return nil, err
	}
	rep := &Report{Estimates: estimates, Actuals: actuals, Rules: rules, Estimated: int64(len(ests))}
	models := map[string]bool{}
	for _, e := range ests {
		if !models[e.model] {
			models[e.model] = true
			rep.Models = append(rep.Models, e.model)
		}
	}
	// The actual trips, by row and by key.
	var raws []trip.Raw
	err = tlc.ReadFile(ctx, actuals, func(rs []trip.Raw) error {
		raws = append(raws, rs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("actual trips %s: %w", actuals, err)
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("actual trips %s: the file holds no trips", actuals)
	}
	var byKey map[tripKey][]int
	for _, e := range ests {
		if !e.hasIndex {
			byKey = indexByKey(raws)
			break
		}
	}
	var all model.Sums
	days := map[string]*daySums{}
	dc := newDriftCounter(cfg.Drift, rep.Models)
	for _, e := range ests {
		i := -1
		if e.hasIndex {
			if e.index >= 0 && e.index < int64(len(raws)) {
				i = int(e.index)
			}
		} else if rows := byKey[e.key]; len(rows) > 0 {
			i, byKey[e.key] = rows[0], rows[1:]
		}
		if i < 0 {
			rep.Unmatched++
			continue
		}
		raw := raws[i]
		day := dayOf(raw.PickupMicros)
		d := days[day]
		if d == nil {
			d = &daySums{}
			days[day] = d
		}
		d.trips++
		rep.Overall.Trips++
		ex, kept := rules.Clean(raw, &rep.Cleaning)
		if !kept {
			continue
		}
		d.sums.Add(ex.Minutes, e.pred)
		all.Add(ex.Minutes, e.pred)
		dc.add(day, e.model, &ex.Trip, e.pred)
	}
	if rep.Estimated == 0 {
		return nil, fmt.Errorf("estimates %s: no estimates to judge", estimates)
	}
	rep.Overall = figures("", rep.Overall.Trips, &all)
	if rep.Overall.Trips == 0 {
		rep.Overall.Note = fmt.Sprintf("none of the %d estimates matched a trip of %s", rep.Estimated, actuals)
	}
	for _, day := range slices.Sorted(mapsKeys(days)) {
		d := days[day]
		rep.Days = append(rep.Days, figures(day, d.trips, &d.sums))
	}
	rep.Drift = dc.report()
	return rep, nil
}

type daySums struct {
	trips int64
	sums  model.Sums
}

func mapsKeys(m map[string]*daySums) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func figures(day string, trips int64, s *model.Sums) Figures {
	f := Figures{Day: day, Trips: trips, Kept: s.Rows()}
	if s.Rows() == 0 {
		if trips > 0 {
			f.Note = "no trip of this day passed cleaning, so nothing could be judged"
		}
		return f
	}
	m := s.Metrics()
	b := s.MeanError()
	f.Metrics, f.Bias = &m, &b
	return f
}

// dayOf is the New York date of a wall-clock pickup time in µs.
func dayOf(micros int64) string {
	if micros == tlc.NullTime {
		return "unknown"
	}
	return time.UnixMicro(micros).UTC().Format(time.DateOnly)
}

func indexByKey(raws []trip.Raw) map[tripKey][]int {
	m := make(map[tripKey][]int, len(raws))
	for i, r := range raws {
		k := tripKey{pickup: r.PickupMicros, pu: int32(r.PULocationID), do: int32(r.DOLocationID)}
		m[k] = append(m[k], i)
	}
	return m
}

// batchRow is the part of a batch output (`taxieta predict --out F.parquet`) read here.
type batchRow struct {
	RideID    string  `parquet:"ride_id"`
	Pickup    *int64  `parquet:"pickup_datetime,optional"`
	PU        int32   `parquet:"PULocationID"`
	DO        int32   `parquet:"DOLocationID"`
	Predicted float32 `parquet:"predicted_minutes"`
	Low       float32 `parquet:"low_minutes"`
	High      float32 `parquet:"high_minutes"`
	Model     string  `parquet:"model_name"`
	Version   string  `parquet:"model_version"`
}

// readEstimates reads a batch output, a prediction log file or a
// directory of them.
func readEstimates(path string) ([]estimate, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("estimates: %w", err)
	}
	if st.IsDir() {
		files, err := predlog.Files(path)
		if err != nil {
			return nil, fmt.Errorf("estimates %s: %w", path, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("estimates %s: no prediction log files (predictions-*.parquet) in the directory", path)
		}
		var out []estimate
		for _, f := range files {
			e, err := readLog(f)
			if err != nil {
				return nil, err
			}
			out = append(out, e...)
		}
		return out, nil
	}
	if !strings.HasSuffix(path, ".parquet") {
		return nil, fmt.Errorf("estimates %s: %w: want a .parquet batch output, a prediction log file or a directory of them", path, errFormat)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("estimates: %w", err)
	}
	defer f.Close()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("estimates %s is not a complete parquet file (truncated or half-written?): %w", path, err)
	}
	schema := pf.Schema()
	_, isLog := schema.Lookup("protocol")
	_, isBatch := schema.Lookup("ride_id")
	switch {
	case isLog:
		return readLog(path)
	case !isBatch:
		return nil, fmt.Errorf("estimates %s: %w (it has no ride_id or protocol column)", path, errFormat)
	}
	r := parquet.NewGenericReader[batchRow](pf)
	defer r.Close()
	rows := make([]batchRow, 4096)
	var out []estimate
	for {
		n, err := r.Read(rows)
		for _, b := range rows[:n] {
			e := estimate{pred: trip.Prediction{Minutes: b.Predicted, Low: b.Low, High: b.High}, model: b.Model + " " + b.Version}
			if idx, ok := rideIndex(b.RideID); ok {
				e.index, e.hasIndex = idx, true
			} else {
				e.key = tripKey{pu: b.PU, do: b.DO, pickup: tlc.NullTime}
				if b.Pickup != nil {
					e.key.pickup = *b.Pickup
				}
			}
			out = append(out, e)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("estimates %s: %w", path, err)
		}
	}
}

// rideIndex reads the row index of a TLC file's ride id, "YYYY/MM_index".
func rideIndex(id string) (int64, bool) {
	i := strings.LastIndexByte(id, '_')
	if i < 0 || !strings.Contains(id[:i], "/") {
		return 0, false
	}
	n, err := strconv.ParseInt(id[i+1:], 10, 64)
	return n, err == nil && n >= 0
}

func readLog(path string) ([]estimate, error) {
	recs, err := predlog.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]estimate, len(recs))
	for i, r := range recs {
		k := tripKey{pickup: tlc.NullTime, pu: r.PULocationID, do: r.DOLocationID}
		if r.Pickup != 0 {
			k.pickup = r.Pickup
		}
		out[i] = estimate{key: k, pred: trip.Prediction{Minutes: r.Minutes, Low: r.Low, High: r.High}, model: r.Model + " " + r.Version}
	}
	return out, nil
}

// finite reports whether v can be written as JSON.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// name is a file's base name, for titles.
func name(p string) string { return filepath.Base(p) }
