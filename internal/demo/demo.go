// Package demo runs the whole sync loop on one machine without a cluster.
package demo

import (
	"context"
	"errors"
	"io"
)

// Run runs the demo, printing to out.
func Run(ctx context.Context, out io.Writer, args []string) error {
	return errors.New("the local demo is not built yet")
}
