package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMemorySectionSmall runs the in-memory section at a tiny size: the bench's own checks (all
// created, 0 writes and 0 actions in sync, writes equal to the changed users, 0 writes after) must
// hold, and the report must carry every row with its floor.
func TestMemorySectionSmall(t *testing.T) {
	progress = io.Discard
	b := newBench(1)
	if err := b.memory(context.Background(), 300, 1_000, 20); err != nil {
		t.Fatal(err)
	}
	report := b.report()
	for _, want := range []string{
		"| a) 300 users, 20 groups, already in sync | target write calls / planned actions (all the runs) | 0 / 0 |",
		"| a) 1000 users, 20 groups, already in sync | target write calls / planned actions (all the runs) | 0 / 0 |",
		"| b) 1000 users, 1% changed (10 users' title) | target write calls / changed users | 10 / 10 |",
		"| b) 1000 users, 1% changed (10 users' title) | target write calls of the next run | 0 |",
		"| g) growth 300 → 1000 users (3× the users) | peak RSS (highest of the runs) |",
		"| g) growth 300 → 1000 users (3× the users) | in-sync run time (medians) |",
		"median of 5 runs",
		"run time vs reading both sides",
		"Machine: ",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestParseScale(t *testing.T) {
	for in, want := range map[string]float64{"full": 1, "small": 0.01, "0.5": 0.5, "2": 2} {
		if got, err := parseScale(in); err != nil || got != want {
			t.Errorf("parseScale(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "big", "Inf", "NaN"} {
		if _, err := parseScale(in); err == nil {
			t.Errorf("parseScale(%q) accepted", in)
		}
	}
	b := newBench(0.01)
	if got := b.size(100_000); got != 1000 {
		t.Errorf("size(100000) at 0.01 = %d", got)
	}
	if got := b.size(20); got != 1 {
		t.Errorf("size(20) at 0.01 = %d, want at least 1", got)
	}
	if got := b.size(0); got != 0 {
		t.Errorf("size(0) = %d, want 0 (skipped stays skipped)", got)
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	before := "# x\n\n## Performance\n\nintro\n\n" + markerStart + "\nold table\n" + markerEnd + "\n\n## Next\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceBetweenMarkers(path, "## Benchmark results\n\nnew table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# x\n\n## Performance\n\nintro\n\n" + markerStart + "\nnew table\n" + markerEnd + "\n\n## Next\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := replaceBetweenMarkers(path+".missing", "x"); err == nil {
		t.Error("a missing file was accepted")
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceBetweenMarkers(path, "x"); err == nil {
		t.Error("a file without markers was accepted")
	}
}

func TestMedian(t *testing.T) {
	xs := []float64{3, 1, 2}
	if got := median(xs); got != 2 {
		t.Errorf("median(3, 1, 2) = %v, want 2", got)
	}
	if xs[0] != 3 || xs[1] != 1 {
		t.Errorf("median sorted its argument: %v", xs)
	}
	if got := median([]int{4, 1, 3, 2}); got != 3 {
		t.Errorf("median(4, 1, 3, 2) = %v, want 3 (the upper middle)", got)
	}
}
