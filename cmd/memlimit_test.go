package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// keepMemoryLimit restores the process's memory limit and clears the variables that override
// setMemoryLimit, for the duration of one test.
func keepMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	for _, env := range []string{"GOMEMLIMIT", "AUTOMEMLIMIT"} {
		t.Setenv(env, "") // registers the restore
		if err := os.Unsetenv(env); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMemoryLimitIsARatioOfTheContainerLimit(t *testing.T) {
	keepMemoryLimit(t)
	debug.SetMemoryLimit(1 << 62)
	var container uint64 = 2 << 30
	got, err := setMemoryLimit(context.Background(), 0.9, memlimit.Limit(container), 0, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	want := int64(float64(container) * 0.9)
	if got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("limit %d, runtime %d; want %d (90%% of 2 GiB)", got, debug.SetMemoryLimit(-1), want)
	}
}

func TestMemoryLimitRatioZeroLeavesTheRuntimeAlone(t *testing.T) {
	keepMemoryLimit(t)
	debug.SetMemoryLimit(123 << 20)
	got, err := setMemoryLimit(context.Background(), 0, memlimit.Limit(2<<30), 0, logr.Discard())
	if err != nil || got != 123<<20 || debug.SetMemoryLimit(-1) != 123<<20 {
		t.Errorf("ratio 0 changed the limit: %d, %v", debug.SetMemoryLimit(-1), err)
	}
}

// An admin's explicit GOMEMLIMIT is what the runtime already uses: the container limit must not
// replace it.
func TestExplicitGOMEMLIMITWins(t *testing.T) {
	keepMemoryLimit(t)
	t.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(300 << 20) // what the runtime read from it at start
	if _, err := setMemoryLimit(context.Background(), 0.9, memlimit.Limit(2<<30), 0, logr.Discard()); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("runtime limit %d, want the explicit 300 MiB", got)
	}
}

func TestMemoryLimitRatioFlag(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	if err != nil || f.memoryLimitRatio != 0.9 {
		t.Fatalf("default ratio %v, %v; want 0.9", f, err)
	}
	for _, bad := range []string{"--memory-limit-ratio=-0.1", "--memory-limit-ratio=1.5"} {
		if _, err := parseFlags([]string{bad}, io.Discard); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
