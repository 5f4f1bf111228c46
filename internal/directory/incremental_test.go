package directory

import (
	"context"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// changeLog is a directory whose entries carry a change counter, read in full or since a mark.
type changeLog struct {
	entries map[string]int // id → change number
	title   map[string]string
	clock   int
	opened  []string
	fail    bool
}

func (c *changeLog) set(id, title string) { c.clock++; c.entries[id] = c.clock; c.title[id] = title }

func (c *changeLog) open(_ context.Context, mark string) (Source, error) {
	c.opened = append(c.opened, mark)
	return sourceFunc(func(context.Context) (*model.Snapshot, error) {
		if c.fail {
			return nil, Errorf(KindUnreachable, nil, "down")
		}
		since := 0
		if mark != "" {
			since = int(mark[0] - '0')
		}
		snap := &model.Snapshot{Complete: mark == ""}
		hw := 0
		for id, n := range c.entries {
			if n >= since {
				snap.Records = append(snap.Records, model.Record{ID: id, Attributes: map[string][]string{"title": {c.title[id]}}})
			}
			hw = max(hw, n)
		}
		snap.HighWater = string(rune('0' + hw))
		return snap, nil
	}), nil
}

type sourceFunc func(context.Context) (*model.Snapshot, error)

func (f sourceFunc) Read(ctx context.Context) (*model.Snapshot, error) { return f(ctx) }

func titles(s *model.Snapshot) map[string]string {
	out := map[string]string{}
	for _, r := range s.Records {
		out[r.ID] = r.First("title")
	}
	return out
}

func TestIncrementalMergesChangesAndRereadsInFull(t *testing.T) {
	dir := &changeLog{entries: map[string]int{}, title: map[string]string{}}
	dir.set("a", "dev")
	dir.set("b", "ops")
	now := time.Unix(0, 0)
	inc := &Incremental{Open: dir.open, FullEvery: time.Hour, Now: func() time.Time { return now }}
	ctx := context.Background()

	snap, err := inc.Read(ctx)
	if err != nil || !snap.Complete || len(snap.Records) != 2 {
		t.Fatalf("first read must be full: %+v, %v", snap, err)
	}
	dir.set("a", "lead")
	dir.set("c", "new")
	delete(dir.entries, "b") // removals are invisible to incremental reads
	now = now.Add(time.Minute)
	snap, err = inc.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := dir.opened[len(dir.opened)-1]; got != "2" {
		t.Fatalf("incremental read used mark %q, want the first read's high-water mark 2", got)
	}
	want := map[string]string{"a": "lead", "b": "ops", "c": "new"}
	if got := titles(snap); len(got) != 3 || got["a"] != want["a"] || got["b"] != want["b"] || got["c"] != want["c"] {
		t.Fatalf("merged = %v, want %v (b kept until a full read)", got, want)
	}
	if !snap.Complete || snap.HighWater != "4" {
		t.Fatalf("merged snapshot: complete=%v mark=%q", snap.Complete, snap.HighWater)
	}

	now = now.Add(time.Hour)
	snap, err = inc.Read(ctx)
	if err != nil || dir.opened[len(dir.opened)-1] != "" {
		t.Fatalf("expected a full read after FullEvery: %v %v", dir.opened, err)
	}
	if got := titles(snap); len(got) != 2 || got["b"] != "" {
		t.Fatalf("full read must drop the removed entry: %v", got)
	}
}

func TestIncrementalFailureIsNotMerged(t *testing.T) {
	dir := &changeLog{entries: map[string]int{}, title: map[string]string{}}
	dir.set("a", "dev")
	now := time.Unix(0, 0)
	inc := &Incremental{Open: dir.open, FullEvery: time.Hour, Now: func() time.Time { return now }}
	if _, err := inc.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir.fail = true
	now = now.Add(time.Minute)
	snap, err := inc.Read(context.Background())
	if KindOf(err) != KindUnreachable || snap != nil {
		t.Fatalf("want the read error and no snapshot, got %v %v", snap, err)
	}
	if inc.base == nil || len(inc.base.Records) != 1 {
		t.Fatal("a failed read must leave the cached full read intact")
	}
}

// A source that reads everything instead of a delta (it distrusts the mark) returns a Complete
// snapshot; it replaces the base, so people who left are gone and the full-read clock restarts.
func TestIncrementalTakesAFullReadFromTheSource(t *testing.T) {
	now := time.Unix(0, 0)
	reads := 0
	inc := &Incremental{FullEvery: time.Hour, Now: func() time.Time { return now }, Open: func(_ context.Context, mark string) (Source, error) {
		return sourceFunc(func(context.Context) (*model.Snapshot, error) {
			reads++
			if reads == 1 {
				return &model.Snapshot{Complete: true, HighWater: "1", Records: []model.Record{{ID: "a"}, {ID: "b"}}}, nil
			}
			return &model.Snapshot{Complete: true, HighWater: "2", Records: []model.Record{{ID: "a"}}}, nil
		}), nil
	}}
	if _, err := inc.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	snap, err := inc.Read(context.Background())
	if err != nil || len(snap.Records) != 1 || snap.Records[0].ID != "a" || snap.HighWater != "2" {
		t.Fatalf("second read = %+v, %v; want only a (b left)", snap, err)
	}
	if inc.lastFull != now {
		t.Errorf("the full read did not restart the full-read clock")
	}
}

type deltaSource struct {
	sourceFunc
	delta func(base *model.Snapshot) *model.Snapshot
}

func (d deltaSource) ReadDelta(_ context.Context, base *model.Snapshot) (*model.Snapshot, error) {
	return d.delta(base), nil
}

// A DeltaReader gets the snapshot its delta is merged into (it says who was in a changed group);
// full reads go through Read.
func TestIncrementalGivesDeltaReadersTheBase(t *testing.T) {
	now := time.Unix(0, 0)
	var bases []*model.Snapshot
	inc := &Incremental{FullEvery: time.Hour, Now: func() time.Time { return now }, Open: func(_ context.Context, mark string) (Source, error) {
		return deltaSource{
			sourceFunc: func(context.Context) (*model.Snapshot, error) {
				return &model.Snapshot{Complete: true, HighWater: "1", Records: []model.Record{{ID: "a", Groups: []string{"g"}}}}, nil
			},
			delta: func(base *model.Snapshot) *model.Snapshot {
				bases = append(bases, base)
				return &model.Snapshot{HighWater: "2", Records: []model.Record{{ID: "a"}}}
			},
		}, nil
	}}
	first, err := inc.Read(context.Background())
	if err != nil || len(bases) != 0 {
		t.Fatalf("full read = %v, ReadDelta called %d times", err, len(bases))
	}
	now = now.Add(time.Minute)
	snap, err := inc.Read(context.Background())
	if err != nil || len(bases) != 1 || bases[0] != first {
		t.Fatalf("incremental read = %v; ReadDelta got %v, want the full read", err, bases)
	}
	if len(snap.Records) != 1 || len(snap.Records[0].Groups) != 0 || snap.HighWater != "2" {
		t.Errorf("merged = %+v; want a without groups", snap.Records)
	}
}
