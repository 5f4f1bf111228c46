package mapping

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestStreamMatchesMapRecords: records handed over in batches of any size map to exactly what
// MapRecords makes of them at once, in order: users, problems, out of scope and disabled.
func TestStreamMatchesMapRecords(t *testing.T) {
	rules := realisticRules()
	rules[0].Spec.IncludeDisabled = ptr(false)
	rules[0].Spec.Scope = "!record.id.endsWith('7')"
	m := mustCompile(t, rules...).WithMarker("hr:")
	records := benchRecords(3000)
	records[10].ID = "" // a problem without an id
	want, err := m.MapRecords(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Problems) == 0 || len(want.Disabled) == 0 || len(want.Users) == 0 || len(want.OutOfScope) == 0 {
		t.Fatalf("the records do not cover every outcome: %d users, %d problems, %d out of scope, %d disabled",
			len(want.Users), len(want.Problems), len(want.OutOfScope), len(want.Disabled))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxBatch := range []int{1, 7, 600, 5000} {
		s := m.Stream(context.Background())
		for rest := records; len(rest) > 0; {
			n := min(1+rng.IntN(maxBatch), len(rest))
			if err := s.Add(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		got, err := s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("batches up to %d: %d users, %d problems, %d out of scope, %d disabled; want %d, %d, %d, %d", maxBatch,
				len(got.Users), len(got.Problems), len(got.OutOfScope), len(got.Disabled),
				len(want.Users), len(want.Problems), len(want.OutOfScope), len(want.Disabled))
		}
	}
	empty, err := m.Stream(context.Background()).Close()
	wantEmpty, _ := m.MapRecords(context.Background(), nil)
	if err != nil || !reflect.DeepEqual(empty, wantEmpty) {
		t.Errorf("no batches: %+v, %v", empty, err)
	}
}

// TestStreamSizedByAGuess: whatever the guess of the users' number, a stream maps what MapRecords
// does; a right guess allocates the list of users once at its size, a far too large one keeps no slack.
func TestStreamSizedByAGuess(t *testing.T) {
	m := mustCompile(t, realisticRules()...).WithMarker("hr:")
	records := benchRecords(3000)
	want, err := m.MapRecords(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	n := len(want.Users)
	for _, guess := range []int{-1, 0, n / 3, n, n + 10, 50 * n} {
		s := m.StreamSized(context.Background(), guess)
		for rest := records; len(rest) > 0; rest = rest[min(512, len(rest)):] {
			if err := s.Add(rest[:min(512, len(rest))]); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("guess %d: %d users, %d problems; want %d, %d", guess, len(got.Users), len(got.Problems), n, len(want.Problems))
		}
		switch {
		case guess == n && cap(got.Users) != n:
			t.Errorf("guess %d (right): the list of users has room for %d, want exactly %d (grown instead of sized)", guess, cap(got.Users), n)
		case cap(got.Users) > 2*n+mapChunk:
			t.Errorf("guess %d: the list of %d users keeps room for %d", guess, n, cap(got.Users))
		}
	}
}

// TestStreamCancelled: once its context is done a stream refuses batches and Close reports why.
func TestStreamCancelled(t *testing.T) {
	m := mustCompile(t, realisticRules()...)
	ctx, cancel := context.WithCancel(context.Background())
	s := m.Stream(ctx)
	if err := s.Add(benchRecords(10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	var err error
	for range 100 {
		if err = s.Add(benchRecords(10)); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Add after cancel: %v", err)
	}
	if out, err := s.Close(); !errors.Is(err, context.Canceled) || out.Users != nil {
		t.Errorf("Close: %d users, %v", len(out.Users), err)
	}
}
