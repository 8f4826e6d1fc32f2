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
	"syscall"
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
	return 1
}

const usage = `taxieta estimates NYC taxi trip durations.

Usage:
  taxieta train    --train SPEC... [--valid SPEC...] --out FILE   train and measure a model
  taxieta serve    [--model FILE|models:/NAME@ALIAS]             serve the REST API and the call-centre page
  taxieta data     fetch SPEC...                                 download TLC monthly files
  taxieta model    inspect FILE [--json]                         show what a model file holds
  taxieta model    list [NAME] | show REF | alias NAME ALIAS VERSION | download REF [--out FILE]
                                                                 work with the model registry
  taxieta predict  --in FILE --out FILE                          score a file of trips (batch)
  taxieta stream   [--nats URL]                                  score trip events from NATS JetStream
  taxieta healthcheck [--url URL]                                probe a running server (container HEALTHCHECK)
  taxieta version                                                print the version

SPEC is a file path or a TLC month spec such as green:2021-01 or green:2021-01..2021-03.
Run "taxieta COMMAND --help" for a command's flags; every flag can also be set
with an environment variable TAXIETA_<FLAG> (e.g. TAXIETA_DATA_DIR).
`

// run is the whole program: tests call it as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command")}
	}
	env := environment{getenv: getenv, stdout: stdout, stderr: stderr}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "train":
		return runTrain(ctx, env, rest)
	case "serve":
		return runServe(ctx, env, rest)
	case "data":
		return runData(ctx, env, rest)
	case "model":
		return runModel(ctx, env, rest)
	case "predict":
		return runPredict(ctx, env, rest)
	case "stream":
		return runStream(ctx, env, rest)
	case "healthcheck":
		return runHealthcheck(ctx, env, rest)
	case "version", "--version":
		return runVersion(env)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", cmd)}
	}
}

// environment is what commands get from the process around them.
type environment struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}
