package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/taxieta/taxieta/internal/drift"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/zones"
)

// FormatVersion is the artifact format this build writes and reads.
const FormatVersion = 1

// magic starts every artifact; the format version follows it on the first line.
const magic = "taxieta-model v"

// DefaultName is the model name an artifact carries unless training names it.
const DefaultName = "taxi-duration"

// Errors that say why an artifact cannot be loaded.
var (
	ErrNotArtifact        = errors.New("not a taxieta model file")
	ErrTruncated          = errors.New("model file is truncated")
	ErrCorrupt            = errors.New("model file is corrupted (checksum mismatch)")
	ErrUnsupportedVersion = errors.New("unsupported model format version")
)

// Artifact is a trained model with everything needed to trust and explain
// it: what it was trained on, how the data was cleaned, how well it did.
// One file holds it: a first line naming the format version, a JSON
// document, and a last line with the sha256 of all that precedes it.
type Artifact struct {
	FormatVersion int       `json:"format_version"`
	Name          string    `json:"name"`
	Kind          string    `json:"kind"`
	CreatedAt     time.Time `json:"created_at"`
	// Trainer is the taxieta version that trained the model.
	Trainer string `json:"trainer"`
	// Inputs lists the trip fields the model reads.
	Inputs     []string   `json:"inputs"`
	Cleaning   Cleaning   `json:"cleaning"`
	Training   Dataset    `json:"training_data"`
	Validation *Dataset   `json:"validation_data,omitempty"`
	Metrics    Evaluation `json:"metrics"`
	// Zones are the TLC zones with names and boroughs (from the zone lookup
	// table when training had it), indexed by id; index 0 is unused.
	Zones zones.Table `json:"zones"`
	// Params are the model kind's learnt parameters.
	Params json.RawMessage `json:"params"`
	// Profile is the reference drift monitoring compares traffic with:
	// what the model saw in training and how it estimated the validation
	// trips. Artifacts trained before it existed have none; they are
	// served without drift monitoring.
	Profile *drift.Profile `json:"drift_profile,omitempty"`

	// Model is the decoded model, ready to predict.
	Model Model `json:"-"`
	// Checksum is the artifact's sha256 as written in its last line.
	Checksum string `json:"-"`
}

// Cleaning records the rules applied to training and validation data.
type Cleaning struct {
	Rules       trip.Rules `json:"rules"`
	Description []string   `json:"description"`
}

// Dataset describes data a model was trained or measured on.
type Dataset struct {
	Sources []string        `json:"sources"`
	Files   []trip.DataFile `json:"files"`
	Stats   trip.Stats      `json:"cleaning_stats"`
}

// Evaluation holds the metrics on training and validation data.
type Evaluation struct {
	Train Metrics  `json:"train"`
	Valid *Metrics `json:"valid,omitempty"`
}

// NewArtifact wraps a trained model with its metadata; Params is filled from the model.
func NewArtifact(m Model, meta Artifact) (*Artifact, error) {
	a := meta
	a.FormatVersion = FormatVersion
	a.Kind = m.Kind()
	a.Model = m
	if a.Name == "" {
		a.Name = DefaultName
	}
	a.Inputs = []string{"PULocationID", "DOLocationID", "passenger_count"}
	if m.UsesPickupTime() {
		a.Inputs = append(a.Inputs, "pickup_datetime")
	}
	p, err := json.Marshal(m.params())
	if err != nil {
		return nil, fmt.Errorf("encode %s parameters: %w", m.Kind(), err)
	}
	a.Params = p
	return &a, nil
}

// Encode writes a's file form. The same artifact always encodes to the same bytes.
func (a *Artifact) Encode() ([]byte, error) {
	body, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode artifact: %w", err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s%d\n", magic, FormatVersion)
	buf.Write(body)
	buf.WriteByte('\n')
	sum := sha256.Sum256(buf.Bytes())
	a.Checksum = hex.EncodeToString(sum[:])
	fmt.Fprintf(&buf, "sha256 %s\n", a.Checksum)
	return buf.Bytes(), nil
}

// WriteFile writes a to path atomically: a temporary file in the same
// directory, synced, then renamed, so a failure never leaves half a model.
func (a *Artifact) WriteFile(path string) error {
	b, err := a.Encode()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

// WriteFileAtomic writes b to path through a temporary file and a rename.
func WriteFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Decode parses an artifact, verifying its format version and checksum, and
// rebuilds its model.
func Decode(b []byte) (*Artifact, error) {
	nl := bytes.IndexByte(b, '\n')
	if !bytes.HasPrefix(b, []byte(magic)) || nl < 0 {
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: empty file", ErrNotArtifact)
		}
		if len(b) < len(magic) && bytes.HasPrefix([]byte(magic), b) {
			return nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
		}
		return nil, ErrNotArtifact
	}
	v, err := strconv.Atoi(string(b[len(magic):nl]))
	if err != nil {
		return nil, fmt.Errorf("%w: bad version line %q", ErrNotArtifact, b[:nl])
	}
	if v != FormatVersion {
		return nil, fmt.Errorf("%w %d (this build reads version %d; use a taxieta release that matches the file)", ErrUnsupportedVersion, v, FormatVersion)
	}
	// The last line is "sha256 <64 hex digits>\n".
	const trailerLen = len("sha256 ") + 64 + 1
	if len(b) < nl+1+trailerLen || b[len(b)-1] != '\n' || !bytes.HasPrefix(b[len(b)-trailerLen:], []byte("sha256 ")) {
		return nil, fmt.Errorf("%w: no checksum line at the end (%d bytes)", ErrTruncated, len(b))
	}
	content, want := b[:len(b)-trailerLen], string(b[len(b)-trailerLen+7:len(b)-1])
	sum := sha256.Sum256(content)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("%w: content hashes to %s, file says %s", ErrCorrupt, got, want)
	}
	var a Artifact
	if err := strictUnmarshal(content[nl+1:], &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if a.FormatVersion != v {
		return nil, fmt.Errorf("%w: header says version %d, body %d", ErrCorrupt, v, a.FormatVersion)
	}
	if len(a.Zones) != 0 && len(a.Zones) != trip.MaxZone+1 {
		return nil, fmt.Errorf("%w: %d zones; want %d", ErrCorrupt, len(a.Zones), trip.MaxZone+1)
	}
	if a.Profile != nil {
		if err := a.Profile.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	a.Checksum = want
	if a.Model, err = decodeParams(a.Kind, a.Params, a.Zones); err != nil {
		return nil, fmt.Errorf("model %s: %w", a.Name, err)
	}
	return &a, nil
}

// ReadFile loads and verifies the artifact at path.
func ReadFile(path string) (*Artifact, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	a, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return a, nil
}

// strictUnmarshal decodes JSON, refusing unknown fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after JSON document")
	}
	return nil
}
