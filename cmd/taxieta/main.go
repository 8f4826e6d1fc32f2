// Command taxieta trains, registers and serves models that estimate how long
// a New York City taxi trip takes, from the pickup zone, the dropoff zone and
// the passenger count.
//
// This package only parses flags and wires the internal packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "taxieta:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks a mistake in the command line (exit code 2).
type usageError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.As(err, &u) {
		return 2
	}
	var d driftError
	if errors.As(err, &d) {
		return exitDrift
	}
	return 1
}

// command is one taxieta command, or a group of subcommands (data, model).
// The command table (commands) is the one list of them: run dispatches by
// it, the usage texts are written from it, and the --help test walks it.
type command struct {
	name string
	// args is the synopsis after the name, summary what the command does:
	// together, its line of the usage text.
	args, summary string
	// run runs a command that has no subcommands, with the arguments after
	// its name.
	run func(ctx context.Context, env environment, args []string) error
	// subcommands are a group's commands; run is nil then.
	subcommands []command
}

// commands is the command table, in the order the usage lists them.
func commands() []command {
	return []command{
		{name: "train", args: "--train SPEC... [--valid SPEC...] --out FILE", summary: "train and measure a model (train map, train merge --help: on many machines)", run: runTrain},
		{name: "serve", args: "[--model FILE|models:/NAME@ALIAS]", summary: "serve the REST API and the call-centre page", run: runServe},
		{name: "data", summary: "work with TLC data", subcommands: dataCommands()},
		{name: "model", summary: "work with model files and the model registry", subcommands: modelCommands()},
		{name: "predict", args: "--in FILE --out FILE", summary: "score a file of trips (batch)", run: runPredict},
		{name: "stream", args: "[--nats URL]", summary: "score trip events from NATS JetStream", run: runStream},
		{name: "monitor", args: "--estimates FILE|DIR --actuals FILE|SPEC", summary: "judge estimates against the trips that happened, per day", run: runMonitor},
		{name: "healthcheck", args: "[--url URL]", summary: "probe a running server (container HEALTHCHECK)", run: runHealthcheck},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

// helpArg reports whether arg asks a command group for its usage.
func helpArg(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

// writeUsage writes the usage of the commands under prefix ("taxieta",
// "taxieta model"): one line per command, a group's subcommands indented
// under it.
func writeUsage(w io.Writer, prefix string, cmds []command) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var line func(prefix string, c command)
	line = func(prefix string, c command) {
		if c.run != nil {
			fmt.Fprintf(tw, "  %s %s %s\t%s\n", prefix, c.name, c.args, c.summary)
			return
		}
		fmt.Fprintf(tw, "  %s %s SUBCOMMAND\t%s:\n", prefix, c.name, c.summary)
		for _, sub := range c.subcommands {
			line("  "+prefix+" "+c.name, sub)
		}
	}
	for _, c := range cmds {
		line(prefix, c)
	}
	tw.Flush()
}

// usage is the program's usage text.
func usage(w io.Writer) {
	fmt.Fprint(w, "taxieta estimates NYC taxi trip durations.\n\nUsage:\n")
	writeUsage(w, "taxieta", commands())
	fmt.Fprint(w, `
SPEC is a file path or a TLC month spec such as green:2021-01 or green:2021-01..2021-03.
Run "taxieta COMMAND --help" for a command's flags; every flag can also be set
with an environment variable TAXIETA_<FLAG> (e.g. TAXIETA_DATA_DIR).
`)
}

// run is the whole program: tests call it as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usageError{errors.New("no command")}
	}
	env := environment{getenv: getenv, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "--version":
		return runVersion(ctx, env, nil)
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.dispatch(ctx, env, "taxieta", args[1:])
		}
	}
	usage(stderr)
	return usageError{fmt.Errorf("unknown command %q", args[0])}
}

// dispatch runs c with args, the arguments after its name; a group runs the
// subcommand args name, or prints its usage on stdout when args ask for
// help.
func (c command) dispatch(ctx context.Context, env environment, prefix string, args []string) error {
	if c.run != nil {
		return c.run(ctx, env, args)
	}
	path := prefix + " " + c.name
	names := make([]string, len(c.subcommands))
	for i, sub := range c.subcommands {
		names[i] = sub.name
	}
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "%s: %s.\n\nUsage:\n", path, c.summary)
		writeUsage(w, path, c.subcommands)
		fmt.Fprintf(w, "\nRun \"%s SUBCOMMAND --help\" for a subcommand's flags.\n", path)
	}
	switch {
	case len(args) == 0:
		groupUsage(env.stderr)
		return usageError{fmt.Errorf("%s: want a subcommand: %s", c.name, strings.Join(names, ", "))}
	case helpArg(args[0]):
		groupUsage(env.stdout)
		return nil
	}
	for _, sub := range c.subcommands {
		if sub.name == args[0] {
			return sub.dispatch(ctx, env, path, args[1:])
		}
	}
	groupUsage(env.stderr)
	return usageError{fmt.Errorf("%s: unknown subcommand %q (want %s)", c.name, args[0], strings.Join(names, ", "))}
}

// environment is what commands get from the process around them.
type environment struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}
