package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/trip"
)

// Tag keys taxieta writes on runs and versions.
const (
	TagChecksum = "taxieta.sha256" // the artifact's checksum; on versions, what Download verifies against
	TagFile     = "taxieta.file"   // the artifact's file name under the version's artifact URI
	TagKind     = "taxieta.kind"
)

// DatasetFingerprint is the training data's identity, as logged with a run:
// each file's name, size, sha256 and row counts.
type DatasetFingerprint struct {
	Training   []trip.DataFile `json:"training"`
	Validation []trip.DataFile `json:"validation,omitempty"`
	Sources    []string        `json:"sources"`
}

// RunInfoFor describes the run that trained a: its settings as parameters,
// its metrics, tags naming its kind and checksum, and the training data's
// fingerprint.
func RunInfoFor(a *model.Artifact, started time.Time) (RunInfo, error) {
	r := a.Cleaning.Rules
	info := RunInfo{
		RunName: fmt.Sprintf("%s-%s-%s", a.Name, a.Kind, a.Checksum[:min(8, len(a.Checksum))]),
		Started: started,
		Params: map[string]string{
			"kind":          a.Kind,
			"name":          a.Name,
			"trainer":       a.Trainer,
			"inputs":        strings.Join(a.Inputs, ","),
			"min_minutes":   strconv.FormatFloat(r.MinMinutes, 'g', -1, 64),
			"max_minutes":   strconv.FormatFloat(r.MaxMinutes, 'g', -1, 64),
			"train_sources": strings.Join(a.Training.Sources, ","),
			"train_files":   strconv.Itoa(len(a.Training.Files)),
			"format":        strconv.Itoa(a.FormatVersion),
		},
		Metrics: map[string]float64{},
		Tags: map[string]string{
			TagChecksum:           a.Checksum,
			TagKind:               a.Kind,
			"taxieta.created_at":  a.CreatedAt.UTC().Format(time.RFC3339),
			"taxieta.train_rows":  strconv.FormatInt(a.Training.Stats.Read, 10),
			"taxieta.train_kept":  strconv.FormatInt(a.Training.Stats.Kept, 10),
			"mlflow.source.name":  "taxieta train",
			"mlflow.source.type":  "JOB",
			"mlflow.note.content": fmt.Sprintf("taxieta %s model %s trained on %v", a.Kind, a.Name, a.Training.Sources),
		},
	}
	addMetrics(info.Metrics, "train", &a.Metrics.Train)
	info.Inputs = append(info.Inputs, dataInput("training", &a.Training))
	fp := DatasetFingerprint{Training: a.Training.Files, Sources: a.Training.Sources}
	for i, f := range a.Training.Files {
		info.Tags[fmt.Sprintf("taxieta.train_file.%d", i)] = fileTag(f)
	}
	if v := a.Validation; v != nil {
		info.Params["valid_sources"] = strings.Join(v.Sources, ",")
		fp.Validation = v.Files
		info.Inputs = append(info.Inputs, dataInput("validation", v))
		fp.Sources = append(append([]string(nil), fp.Sources...), v.Sources...)
		for i, f := range v.Files {
			info.Tags[fmt.Sprintf("taxieta.valid_file.%d", i)] = fileTag(f)
		}
	}
	if m := a.Metrics.Valid; m != nil {
		addMetrics(info.Metrics, "valid", m)
	}
	b, err := json.MarshalIndent(fp, "", "  ")
	if err != nil {
		return RunInfo{}, fmt.Errorf("training data fingerprint: %w", err)
	}
	info.Dataset = b
	return info, nil
}

func dataInput(context string, d *model.Dataset) DataInput {
	h := sha256.New()
	for _, f := range d.Files {
		fmt.Fprintf(h, "%s %s\n", f.Name, f.SHA256)
	}
	return DataInput{
		Context: context, Name: strings.Join(d.Sources, ","), Digest: hex.EncodeToString(h.Sum(nil))[:16],
		Files: d.Files, Rows: d.Stats.Kept,
	}
}

func fileTag(f trip.DataFile) string {
	return fmt.Sprintf("%s bytes=%d rows=%d kept=%d sha256=%s", f.Name, f.Bytes, f.Rows, f.Kept, f.SHA256)
}

func addMetrics(out map[string]float64, prefix string, m *model.Metrics) {
	out[prefix+"_rows"] = float64(m.Rows)
	out[prefix+"_rmse"] = m.RMSE
	out[prefix+"_mae"] = m.MAE
	out[prefix+"_r2"] = m.R2
	out[prefix+"_interval_coverage"] = m.IntervalCoverage
	if m.RMSEWithTime != nil {
		out[prefix+"_rmse_with_time"] = *m.RMSEWithTime
	}
	if m.IntervalCoverageWithTime != nil {
		out[prefix+"_interval_coverage_with_time"] = *m.IntervalCoverageWithTime
	}
}
