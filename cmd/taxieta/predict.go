package main

import (
	"context"
	"errors"
)

func runPredict(ctx context.Context, env environment, args []string) error {
	return errors.New("predict: not implemented yet")
}
