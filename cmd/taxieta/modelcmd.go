package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/model"
)

func runModel(ctx context.Context, env environment, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("model: want a subcommand: inspect")}
	}
	switch args[0] {
	case "inspect":
		return runModelInspect(env, args[1:])
	}
	return usageError{fmt.Errorf("model: unknown subcommand %q (want inspect)", args[0])}
}

func runModelInspect(env environment, args []string) error {
	fs := newFlagSet(env, "model inspect", "model inspect [--json] FILE")
	asJSON := fs.Bool("json", false, "print the artifact's metadata as JSON")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("model inspect: name one model file")}
	}
	a, err := model.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		meta := *a
		meta.Params = nil
		b, err := json.MarshalIndent(struct {
			*model.Artifact
			Params   json.RawMessage `json:"params,omitempty"`
			Checksum string          `json:"sha256"`
		}{Artifact: &meta, Checksum: a.Checksum}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%s\n", b)
		return err
	}
	describe(env.stdout, a)
	return nil
}

// describe prints an artifact for people.
func describe(w io.Writer, a *model.Artifact) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\n", a.Name)
	fmt.Fprintf(tw, "kind\t%s\n", a.Kind)
	fmt.Fprintf(tw, "format version\t%d\n", a.FormatVersion)
	fmt.Fprintf(tw, "created\t%s\n", a.CreatedAt.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(tw, "trainer\t%s\n", a.Trainer)
	fmt.Fprintf(tw, "sha256\t%s\n", a.Checksum)
	fmt.Fprintf(tw, "inputs\t%v\n", a.Inputs)
	for _, r := range a.Cleaning.Description {
		fmt.Fprintf(tw, "cleaning\t%s\n", r)
	}
	for _, f := range a.Training.Files {
		fmt.Fprintf(tw, "training file\t%s  %d rows, %d kept  sha256 %s\n", f.Name, f.Rows, f.Kept, f.SHA256)
	}
	if a.Validation != nil {
		for _, f := range a.Validation.Files {
			fmt.Fprintf(tw, "validation file\t%s  %d rows, %d kept  sha256 %s\n", f.Name, f.Rows, f.Kept, f.SHA256)
		}
	}
	m := a.Metrics.Train
	fmt.Fprintf(tw, "train metrics\trows %d  RMSE %.3f  MAE %.3f  R² %.3f  in range %.1f%%\n", m.Rows, m.RMSE, m.MAE, m.R2, 100*m.IntervalCoverage)
	if v := a.Metrics.Valid; v != nil {
		fmt.Fprintf(tw, "valid metrics\trows %d  RMSE %.3f  MAE %.3f  R² %.3f  in range %.1f%%\n", v.Rows, v.RMSE, v.MAE, v.R2, 100*v.IntervalCoverage)
		if v.RMSEWithTime != nil {
			fmt.Fprintf(tw, "valid, with pickup time\tRMSE %.3f\n", *v.RMSEWithTime)
		}
	}
	tw.Flush()
}

func runVersion(env environment) error {
	_, err := fmt.Fprintf(env.stdout, "taxieta %s (model format %d)\n", buildinfo.Version(), model.FormatVersion)
	return err
}
