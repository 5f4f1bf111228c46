package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// setMemoryLimit sets the Go runtime's soft memory limit to ratio × the container's memory limit.
// Without it the garbage collector lets the heap grow to twice what is live before it collects, so
// a run whose live data fits the container can still be OOM-killed midway; with it the collector
// works harder as the heap nears the limit. A GOMEMLIMIT or AUTOMEMLIMIT in the environment wins;
// ratio 0 leaves the runtime as it is. The limit is re-read every refresh (0: never), so that an
// in-place resize of the pod applies. It returns the limit in force (math.MaxInt64: none).
func setMemoryLimit(ctx context.Context, ratio float64, provider memlimit.Provider, refresh time.Duration, log logr.Logger) (int64, error) {
	if ratio == 0 {
		return debug.SetMemoryLimit(-1), nil
	}
	return memlimit.Set(
		memlimit.WithProvider(provider),
		memlimit.WithRatio(ratio),
		memlimit.WithLogger(slog.New(logr.ToSlogHandler(log))),
		memlimit.WithRefreshInterval(ctx, refresh),
	)
}
