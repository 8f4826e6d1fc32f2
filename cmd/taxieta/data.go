package main

import (
	"context"
	"errors"
	"fmt"
)

func runData(ctx context.Context, env environment, args []string) error {
	if len(args) == 0 || args[0] != "fetch" {
		return usageError{errors.New("data: want \"taxieta data fetch SPEC...\"")}
	}
	fs := newFlagSet(env, "data fetch", "data fetch [flags] SPEC...")
	var d dataFlags
	d.register(fs.StringVar)
	if err := parseFlags(fs, args[1:], env.getenv); err != nil {
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
