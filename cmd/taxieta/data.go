package main

import (
	"context"
	"errors"
	"fmt"
)

// dataCommands are the subcommands of taxieta data.
func dataCommands() []command {
	return []command{
		{name: "fetch", args: "SPEC...", summary: "download TLC monthly files (or find them in --data-dir)", run: runDataFetch},
	}
}

func runDataFetch(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet(env, "data fetch", "data fetch [flags] SPEC...")
	var d dataFlags
	d.register(fs.StringVar)
	if err := parseFlags(fs, args, env.getenv); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("data fetch: name at least one month spec, e.g. green:2023-01")}
	}
	files, err := d.resolver(env).Resolve(ctx, fs.Args()...)
	if err != nil {
		return fmt.Errorf("data fetch: %w", err)
	}
	for _, f := range files {
		fmt.Fprintln(env.stdout, f)
	}
	return nil
}
