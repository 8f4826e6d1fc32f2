package main

import (
	"context"
	"errors"
)

func runServe(ctx context.Context, env environment, args []string) error {
	return errors.New("serve: not yet")
}
