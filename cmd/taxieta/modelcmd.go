package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/taxieta/taxieta/internal/buildinfo"
	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/registry"
)

// modelCommands are the subcommands of taxieta model.
func modelCommands() []command {
	return []command{
		{name: "inspect", args: "FILE [--json]", summary: "show what a model file holds", run: runModelInspect},
		{name: "list", args: "[NAME] [--json]", summary: "list the registered models, or a model's versions", run: runModelList},
		{name: "show", args: "REF [--json]", summary: "show a registered version", run: runModelShow},
		{name: "alias", args: "NAME ALIAS VERSION", summary: "point an alias at a version", run: runModelAlias},
		{name: "download", args: "REF [--out FILE]", summary: "download a registered version, verified", run: runModelDownload},
		{name: "export", args: "--format onnx|mlflow|triton MODEL --out PATH", summary: "write a model as ONNX, an MLflow model directory or a Triton entry", run: runModelExport},
	}
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (model show REF --json).
func parseInterspersed(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return parseFlags(fs, append(append(flags, "--"), pos...), getenv)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// registryCommand parses a registry subcommand's flags and opens its registry.
func registryCommand(env environment, name, synopsis string, args []string, extra func(fs *flag.FlagSet)) (*flag.FlagSet, *registryFlags, *slog.Logger, error) {
	fs := newFlagSet(env, name, synopsis)
	rf := &registryFlags{}
	rf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parseInterspersed(fs, args, env.getenv); err != nil {
		return nil, nil, nil, err
	}
	return fs, rf, newLogger(env.stderr, slog.LevelInfo), nil
}

func runModelList(ctx context.Context, env environment, args []string) error {
	var asJSON bool
	fs, rf, log, err := registryCommand(env, "model list", "model list [NAME] [--json] [--registry DIR|URI]", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{errors.New("model list: name at most one model")}
	}
	reg, err := rf.open(env, log)
	if err != nil {
		return fmt.Errorf("model list: %w", err)
	}
	if fs.NArg() == 0 {
		names, err := reg.Models(ctx)
		if err != nil {
			return fmt.Errorf("model list: %s: %w", reg.Location(), err)
		}
		if asJSON {
			return writeJSON(env.stdout, map[string]any{"registry": reg.Location(), "models": nonNilStrings(names)})
		}
		if len(names) == 0 {
			fmt.Fprintf(env.stderr, "no models registered in %s\n", reg.Location())
		}
		for _, n := range names {
			fmt.Fprintln(env.stdout, n)
		}
		return nil
	}
	vs, err := reg.List(ctx, fs.Arg(0))
	if err != nil {
		return fmt.Errorf("model list: %s: %w", reg.Location(), err)
	}
	if asJSON {
		if vs == nil {
			vs = []registry.Version{}
		}
		return writeJSON(env.stdout, map[string]any{"registry": reg.Location(), "versions": vs})
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tALIASES\tCREATED\tSHA256\tRUN")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Version, orDash(strings.Join(v.Aliases, ",")),
			v.CreatedAt.Local().Format("2006-01-02 15:04:05"), short(v.Checksum), orDash(v.RunID))
	}
	return tw.Flush()
}

func runModelShow(ctx context.Context, env environment, args []string) error {
	var asJSON bool
	fs, rf, log, err := registryCommand(env, "model show", "model show models:/NAME/VERSION|models:/NAME@ALIAS [--json] [--registry DIR|URI]", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	ref, l, got, err := loadNamedRef(ctx, env, "model show", fs, rf, log)
	if err != nil {
		return err
	}
	if asJSON {
		meta := *got.Artifact
		meta.Params = nil
		return writeJSON(env.stdout, map[string]any{
			"registry": l.Registry.Location(), "ref": ref.String(), "version": got.Version,
			"from_cache": got.FromCache, "artifact": &meta,
		})
	}
	v := got.Version
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "reference\t%s\n", ref)
	fmt.Fprintf(tw, "registry\t%s\n", l.Registry.Location())
	fmt.Fprintf(tw, "version\t%s\n", v.Version)
	fmt.Fprintf(tw, "aliases\t%s\n", orDash(strings.Join(v.Aliases, ", ")))
	fmt.Fprintf(tw, "registered\t%s\n", v.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "run\t%s\n", orDash(v.RunID))
	fmt.Fprintf(tw, "stored at\t%s\n", orDash(v.Source))
	if got.FromCache {
		fmt.Fprintf(tw, "note\tregistry unreachable: this is the cached copy\n")
	}
	tw.Flush()
	fmt.Fprintln(env.stdout)
	describe(env.stdout, got.Artifact)
	return nil
}

// loadNamedRef loads the one registry reference that cmd (model show, model
// download) names on its command line, through the cache under --cache-dir.
func loadNamedRef(ctx context.Context, env environment, cmd string, fs *flag.FlagSet, rf *registryFlags, log *slog.Logger) (registry.Ref, *registry.Loader, *registry.Loaded, error) {
	if fs.NArg() != 1 {
		return registry.Ref{}, nil, nil, usageError{fmt.Errorf("%s: name one reference, e.g. models:/taxi-duration@champion", cmd)}
	}
	ref, err := registry.ParseRef(fs.Arg(0))
	if err != nil {
		return registry.Ref{}, nil, nil, usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	l, err := rf.loader(env, log)
	if err != nil {
		return registry.Ref{}, nil, nil, fmt.Errorf("%s: %w", cmd, err)
	}
	got, err := l.Load(ctx, ref)
	if err != nil {
		return registry.Ref{}, nil, nil, fmt.Errorf("%s: %s: %w", cmd, l.Registry.Location(), err)
	}
	return ref, l, got, nil
}

func runModelAlias(ctx context.Context, env environment, args []string) error {
	fs, rf, log, err := registryCommand(env, "model alias", "model alias NAME ALIAS VERSION [--registry DIR|URI]", args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return usageError{errors.New("model alias: want NAME ALIAS VERSION, e.g. model alias taxi-duration champion 3")}
	}
	name, alias, version := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	if err := errors.Join(registry.CheckName(name), registry.CheckAlias(alias), registry.CheckVersion(version)); err != nil {
		return usageError{fmt.Errorf("model alias: %w", err)}
	}
	reg, err := rf.open(env, log)
	if err != nil {
		return fmt.Errorf("model alias: %w", err)
	}
	if err := reg.SetAlias(ctx, name, alias, version); err != nil {
		return fmt.Errorf("model alias: %s: %w", reg.Location(), err)
	}
	_, err = fmt.Fprintf(env.stdout, "models:/%s@%s -> version %s (%s)\n", name, alias, version, reg.Location())
	return err
}

func runModelDownload(ctx context.Context, env environment, args []string) error {
	var out string
	fs, rf, log, err := registryCommand(env, "model download", "model download models:/NAME/VERSION|models:/NAME@ALIAS [--out FILE] [--registry DIR|URI]", args, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "file to write (default NAME-vVERSION.taxieta)")
	})
	if err != nil {
		return err
	}
	_, _, got, err := loadNamedRef(ctx, env, "model download", fs, rf, log)
	if err != nil {
		return err
	}
	if out == "" {
		out = fmt.Sprintf("%s-v%s.taxieta", got.Version.Name, got.Version.Version)
	}
	if err := model.WriteFileAtomic(out, got.Bytes); err != nil {
		return fmt.Errorf("model download: %w", err)
	}
	note := ""
	if got.FromCache {
		note = " (registry unreachable: from the cache)"
	}
	_, err = fmt.Fprintf(env.stdout, "wrote %s: %s version %s, sha256 %s, verified%s\n", out, got.Version.Name, got.Version.Version, got.Version.Checksum, note)
	return err
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return orDash(sum)
}

func runModelInspect(_ context.Context, env environment, args []string) error {
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
		// The empty Params and the Checksum shadow the artifact's own: no
		// parameters, and the sha256 its JSON leaves out.
		return writeJSON(env.stdout, struct {
			*model.Artifact
			Params   json.RawMessage `json:"params,omitempty"`
			Checksum string          `json:"sha256"`
		}{Artifact: a, Checksum: a.Checksum})
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
	if a.Profile == nil {
		fmt.Fprintf(tw, "drift reference	none (trained before drift monitoring; served without it)\n")
	}
	tw.Flush()
	if a.Profile != nil {
		fmt.Fprintf(w, "\n%s", a.Profile.Summary())
	}
}

func runVersion(_ context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "version", "version")
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	_, err := fmt.Fprintf(env.stdout, "taxieta %s (model format %d)\n", buildinfo.Version(), model.FormatVersion)
	return err
}
