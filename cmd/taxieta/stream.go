package main

import (
	"context"
	"errors"
)

func runStream(ctx context.Context, env environment, args []string) error {
	return errors.New("stream: not implemented yet")
}
