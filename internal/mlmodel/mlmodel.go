// Package mlmodel lays out a taxieta model as an MLflow model directory, so
// that MLflow users load it with no taxieta code:
// mlflow.pyfunc.load_model(...) and `mlflow models serve` read its MLmodel,
// whose python_function flavor is MLflow's own ONNX loader (mlflow.onnx)
// over the exported graph. The directory also holds the taxieta artifact,
// which stays the source of truth (taxieta loads and verifies it, not the
// graph), pinned Python requirements, a signature with named, typed
// columns and an input example. The registry stores every version this way.
package mlmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx"
)

// File names in the directory.
const (
	MLmodelFile  = "MLmodel"
	ONNXFile     = "model.onnx"
	ArtifactFile = "model.taxieta"
	// The rest follow MLflow's own names.
	requirementsFile  = "requirements.txt"
	pythonEnvFile     = "python_env.yaml"
	condaFile         = "conda.yaml"
	inputExampleFile  = "input_example.json"
	servingInputsFile = "serving_input_example.json"
)

// Requirements returns the Python packages, pinned, that load the
// directory: MLflow's ONNX flavor needs onnx and onnxruntime, pyfunc needs
// numpy and pandas. They are the versions the tests load it with
// (scripts/services/onnx.sh); MLflow 2.22 and 3.x both load it.
func Requirements() []string {
	return []string{
		"mlflow>=2.22,<4",
		"numpy==2.4.6",
		"onnx==1.23.2",
		"onnxruntime==1.32.0",
		"pandas==3.1.1",
	}
}

// pythonVersion is the Python the pins above are built for.
const pythonVersion = "3.11"

// onnxVersion is the onnx package version the flavor records (the pin).
const onnxVersion = "1.23.2"

// mlflowVersion is the MLflow whose format the MLmodel follows. MLflow 2.22
// reads it too.
const mlflowVersion = "3.17.2"

// File is one file of the directory.
type File struct {
	Name string
	Data []byte
}

// Options say who writes the directory.
type Options struct {
	// ProducerVersion is the exporting taxieta's version, recorded in the graph.
	ProducerVersion string
}

// Files returns the directory's files for artifact a, whose encoded form
// (the bytes taxieta verifies) is encoded. MLmodel comes last.
func Files(a *model.Artifact, encoded []byte, opt Options) ([]File, error) {
	if a == nil || a.Model == nil {
		return nil, errors.New("mlflow model: no model")
	}
	graph, err := onnx.Export(a, onnx.Options{ProducerVersion: opt.ProducerVersion})
	if err != nil {
		return nil, fmt.Errorf("mlflow model: %w", err)
	}
	example := exampleFrame()
	exampleJSON, err := json.Marshal(example)
	if err != nil {
		return nil, fmt.Errorf("mlflow model: input example: %w", err)
	}
	serving, err := json.MarshalIndent(map[string]any{"dataframe_split": example}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("mlflow model: serving example: %w", err)
	}
	files := []File{
		{ArtifactFile, encoded},
		{ONNXFile, graph},
		{requirementsFile, []byte(strings.Join(Requirements(), "\n") + "\n")},
		{pythonEnvFile, []byte("python: " + pythonVersion + "\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n")},
		{condaFile, condaYAML()},
		{inputExampleFile, exampleJSON},
		{servingInputsFile, append(serving, '\n')},
	}
	size := 0
	for _, f := range files {
		size += len(f.Data)
	}
	mlm, err := mlmodelYAML(a, size)
	if err != nil {
		return nil, err
	}
	return append(files, File{MLmodelFile, mlm}), nil
}

// frame is a pandas DataFrame in MLflow's "split" orientation.
type frame struct {
	Columns []string  `json:"columns"`
	Data    [][]int64 `json:"data"`
}

// exampleFrame holds three trips: the README's JFK (132) to Times Square
// (230), Central Park (43) to Manhattan Valley (151) on a Sunday at 9 am,
// and East Harlem North (74) to South (75) with the passenger count unknown.
func exampleFrame() frame {
	return frame{Columns: onnx.Inputs, Data: [][]int64{
		{132, 230, 1, onnx.NoHour},
		{43, 151, 2, 7*24 - 15}, // Sunday 9 am
		{74, 75, -1, onnx.NoHour},
	}}
}

func condaYAML() []byte {
	var b strings.Builder
	b.WriteString("channels:\n- conda-forge\ndependencies:\n- python=" + pythonVersion + "\n- pip\n- pip:\n")
	for _, r := range Requirements() {
		b.WriteString("  - " + quote(r) + "\n")
	}
	b.WriteString("name: mlflow-env\n")
	return []byte(b.String())
}

// column is one entry of an MLflow column-based schema.
type column struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
}

func schema(names []string, typ string) (string, error) {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{Type: typ, Name: n, Required: true}
	}
	b, err := marshal(cols)
	return string(b), err
}

// marshal is json.Marshal without HTML escaping, as Python's json.dumps writes.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// quote writes s as a YAML double-quoted scalar; JSON's escapes are YAML's.
func quote(s string) string {
	b, _ := marshal(s) // a string always marshals
	return string(b)
}

// mlmodelYAML is the MLmodel file: the onnx flavor, the python_function
// flavor loading it through mlflow.onnx, the signature, the input example
// and taxieta's metadata. The keys are those MLflow 3.17's mlflow.onnx
// save_model writes, less the ones MLflow 2.22 would not know.
func mlmodelYAML(a *model.Artifact, size int) ([]byte, error) {
	in, err := schema(onnx.Inputs, "long")
	if err != nil {
		return nil, fmt.Errorf("mlflow model: signature: %w", err)
	}
	out, err := schema(onnx.Outputs, "float")
	if err != nil {
		return nil, fmt.Errorf("mlflow model: signature: %w", err)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("flavors:\n")
	w("  onnx:\n")
	w("    code: null\n")
	w("    data: %s\n", ONNXFile)
	w("    onnx_session_options: null\n")
	w("    onnx_version: %s\n", quote(onnxVersion))
	w("    providers:\n    - CPUExecutionProvider\n")
	w("  python_function:\n")
	w("    data: %s\n", ONNXFile)
	w("    env:\n      conda: %s\n      virtualenv: %s\n", condaFile, pythonEnvFile)
	w("    loader_module: mlflow.onnx\n")
	w("    python_version: %s\n", quote(pythonVersion))
	w("metadata:\n")
	w("  taxieta_artifact: %s\n", ArtifactFile)
	w("  taxieta_sha256: %s\n", quote(a.Checksum))
	w("  taxieta_kind: %s\n", quote(a.Kind))
	w("  taxieta_name: %s\n", quote(a.Name))
	w("  taxieta_trainer: %s\n", quote(a.Trainer))
	w("  inputs: %s\n", quote(onnx.InputPU+", "+onnx.InputDO+": TLC zone ids 1..265; "+
		onnx.InputPassengers+": 0..9, -1 unknown; "+onnx.InputHourOfWeek+": pickup hour of the week in New York time, 0 = Monday 00h .. 167, -1 unknown"))
	w("mlflow_version: %s\n", quote(mlflowVersion))
	w("model_size_bytes: %d\n", size)
	w("model_uuid: %s\n", quote(a.Checksum[:32]))
	w("saved_input_example_info:\n")
	w("  artifact_path: %s\n", inputExampleFile)
	w("  pandas_orient: split\n")
	w("  serving_input_path: %s\n", servingInputsFile)
	w("  type: dataframe\n")
	w("signature:\n")
	w("  inputs: %s\n", quote(in))
	w("  outputs: %s\n", quote(out))
	w("  params: null\n")
	w("utc_time_created: %s\n", quote(a.CreatedAt.UTC().Format("2006-01-02 15:04:05.000000")))
	return []byte(b.String()), nil
}

// WriteDir writes files as the new directory dir, whole or not at all: into
// a temporary directory beside it, then renamed. dir must not exist; its
// parent must.
func WriteDir(dir string, files []File) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("write %s: it already exists", dir)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", dir, err)
		}
		if err := model.WriteFileAtomic(p, f.Data); err != nil {
			return fmt.Errorf("write %s: %w", dir, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	return nil
}

// Triton returns the files of a Triton Inference Server model repository
// entry named name (the entry directory's name): config.pbtxt for the
// onnxruntime backend and VERSION/model.onnx.
func Triton(a *model.Artifact, name string, version int, opt Options) ([]File, error) {
	if version < 1 {
		return nil, fmt.Errorf("triton model version %d: want 1 or more", version)
	}
	graph, err := onnx.Export(a, onnx.Options{ProducerVersion: opt.ProducerVersion})
	if err != nil {
		return nil, fmt.Errorf("triton model: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s model %s (sha256 %s), exported by taxieta.\n", name, a.Kind, a.Name, a.Checksum)
	fmt.Fprintf(&b, "name: %s\nbackend: \"onnxruntime\"\n", quote(name))
	// The graph's tensors are [N] with N the trips: Triton batches nothing itself.
	b.WriteString("max_batch_size: 0\n")
	tensors := func(kind string, names []string, typ string) {
		fmt.Fprintf(&b, "%s [\n", kind)
		for i, n := range names {
			sep := ","
			if i == len(names)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  { name: %s, data_type: %s, dims: [ -1 ] }%s\n", quote(n), typ, sep)
		}
		b.WriteString("]\n")
	}
	tensors("input", onnx.Inputs, "TYPE_INT64")
	tensors("output", onnx.Outputs, "TYPE_FP32")
	fmt.Fprintf(&b, "version_policy: { specific: { versions: [ %d ] } }\n", version)
	return []File{
		{"config.pbtxt", []byte(b.String())},
		{strconv.Itoa(version) + "/" + ONNXFile, graph},
	}, nil
}
