package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/mlmodel"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/onnx"
	"github.com/taxieta/taxieta/internal/registry"
)

// The forms model export writes.
const (
	formatONNX   = "onnx"   // one model.onnx file
	formatMLflow = "mlflow" // an MLflow model directory
	formatTriton = "triton" // a Triton model repository entry
)

var exportFormats = []string{formatONNX, formatMLflow, formatTriton}

const exportSynopsis = "model export --format onnx|mlflow|triton MODEL --out PATH [--registry DIR|URI]"

// runModelExport writes a model (a file, or a registry reference resolved
// as model download resolves it) in a form other runtimes load: an ONNX
// graph, an MLflow model directory, or a Triton model repository entry.
func runModelExport(ctx context.Context, env environment, args []string) error {
	var format, out string
	var tritonVersion int
	fs, rf, log, err := registryCommand(env, "model export", exportSynopsis, args, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", formatONNX, fmt.Sprintf("what to write, one of %v: onnx, a model.onnx file; mlflow, an MLflow model directory "+
			"(MLmodel, model.onnx, the taxieta artifact, requirements); triton, a Triton model repository entry (config.pbtxt and VERSION/model.onnx), named after its directory", exportFormats))
		fs.StringVar(&out, "out", "", "file (onnx) or new directory (mlflow, triton) to write; its parent directory must exist (required)")
		fs.IntVar(&tritonVersion, "triton-version", 1, "with --format triton: the model version directory")
	})
	if err != nil {
		return err
	}
	switch {
	case fs.NArg() != 1:
		return usageError{errors.New("model export: name one model: a file or a reference such as models:/taxi-duration@champion")}
	case format != formatONNX && format != formatMLflow && format != formatTriton:
		return usageError{fmt.Errorf("model export: --format %q: want one of %v", format, exportFormats)}
	case out == "":
		return usageError{errors.New("model export: --out is required")}
	case format == formatTriton && tritonVersion < 1:
		return usageError{fmt.Errorf("model export: --triton-version %d: want 1 or more", tritonVersion)}
	}
	// Check where the output goes before loading or converting anything.
	if err := checkOut(format, out); err != nil {
		return fmt.Errorf("model export: --out: %w", err)
	}
	a, encoded, from, err := loadExportModel(ctx, env, fs.Arg(0), rf, log)
	if err != nil {
		return fmt.Errorf("model export: %w", err)
	}
	opt := mlmodel.Options{ProducerVersion: buildinfo.Version()}
	switch format {
	case formatONNX:
		b, err := onnx.Export(a, onnx.Options{ProducerVersion: opt.ProducerVersion})
		if err != nil {
			return fmt.Errorf("model export: %w", err)
		}
		if err := model.WriteFileAtomic(out, b); err != nil {
			return fmt.Errorf("model export: %w", err)
		}
	case formatMLflow:
		files, err := mlmodel.Files(a, encoded, opt)
		if err != nil {
			return fmt.Errorf("model export: %w", err)
		}
		if err := mlmodel.WriteDir(out, files); err != nil {
			return fmt.Errorf("model export: %w", err)
		}
	case formatTriton:
		files, err := mlmodel.Triton(a, filepath.Base(filepath.Clean(out)), tritonVersion, opt)
		if err != nil {
			return fmt.Errorf("model export: %w", err)
		}
		if err := mlmodel.WriteDir(out, files); err != nil {
			return fmt.Errorf("model export: %w", err)
		}
	}
	_, err = fmt.Fprintf(env.stdout, "wrote %s (%s): %s model %s from %s, sha256 %s\n  inputs (int64 [N]): %s\n  outputs (float32 [N], minutes): %s\n",
		out, format, a.Kind, a.Name, from, a.Checksum, strings.Join(onnx.Inputs, ", "), strings.Join(onnx.Outputs, ", "))
	return err
}

// checkOut fails unless out can be written as format: its parent directory
// exists, and a directory form's target does not (an onnx file is replaced).
func checkOut(format, out string) error {
	parent := filepath.Dir(filepath.Clean(out))
	st, err := os.Stat(parent)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: directory %s does not exist", out, parent)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a directory", out, parent)
	}
	st, err = os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case format == formatONNX && st.IsDir():
		return fmt.Errorf("%s is a directory; want a file name such as model.onnx", out)
	case format != formatONNX:
		return fmt.Errorf("%s already exists; the %s form is a new directory", out, format)
	}
	return nil
}

// loadExportModel loads the model file or registry reference arg, verified,
// with its encoded bytes and a note of where it came from.
func loadExportModel(ctx context.Context, env environment, arg string, rf *registryFlags, log *slog.Logger) (*model.Artifact, []byte, string, error) {
	if !registry.IsRef(arg) {
		b, err := os.ReadFile(arg)
		if err != nil {
			return nil, nil, "", fmt.Errorf("load model: %w", err)
		}
		a, err := model.Decode(b)
		if err != nil {
			return nil, nil, "", fmt.Errorf("load model %s: %w", arg, err)
		}
		return a, b, arg, nil
	}
	ref, err := registry.ParseRef(arg)
	if err != nil {
		return nil, nil, "", usageError{err}
	}
	l, err := rf.loader(env, log)
	if err != nil {
		return nil, nil, "", err
	}
	got, err := l.Load(ctx, ref)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", l.Registry.Location(), err)
	}
	from := fmt.Sprintf("%s version %s in %s", ref, got.Version.Version, l.Registry.Location())
	if got.FromCache {
		from += " (registry unreachable: from the cache)"
	}
	return got.Artifact, got.Bytes, from, nil
}
