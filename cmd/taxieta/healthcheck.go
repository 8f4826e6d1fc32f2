package main

import (
	"context"
	"errors"
)

func runHealthcheck(ctx context.Context, env environment, args []string) error {
	return errors.New("healthcheck: not implemented yet")
}
