package syncer_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

// freshSource returns new records on each read, as a directory does, and tells when the records
// of its last read were garbage collected.
type freshSource struct {
	n         int
	collected atomic.Bool
}

func (s *freshSource) Read(context.Context) (*model.Snapshot, error) {
	recs := make([]model.Record, s.n)
	for i := range recs {
		login := fmt.Sprintf("user%02d", i)
		recs[i] = model.Record{ID: fmt.Sprintf("E%04d", i), Attributes: map[string][]string{
			"login": {login}, "mail": {login + "@example.com"}, "first": {"F"}, "last": {"L"}, "title": {"T"}, "dept": {"10"},
		}, Groups: []string{"staff"}}
	}
	s.collected.Store(false)
	runtime.AddCleanup(&recs[0], func(c *atomic.Bool) { c.Store(true) }, &s.collected)
	return &model.Snapshot{Records: recs, Complete: true, ReadAt: t0}, nil
}

// gcCheckTarget asks, when the run lists the target, whether the records were already released.
type gcCheckTarget struct {
	*memory.Target
	src      *freshSource
	released bool
}

func (t *gcCheckTarget) ListUsers(ctx context.Context) ([]model.User, error) {
	deadline := time.Now().Add(5 * time.Second)
	for !t.src.collected.Load() && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	t.released = t.src.collected.Load()
	return t.Target.ListUsers(ctx)
}

// TestRunReleasesRecordsBeforeListing: a run holds the mapped users, not the records, while it
// lists the target and plans — at a million users the records are the largest thing it would hold.
// The result keeps the snapshot's facts and the number of entries.
func TestRunReleasesRecordsBeforeListing(t *testing.T) {
	m, err := mapping.Compile(rules())
	if err != nil {
		t.Fatal(err)
	}
	src := &freshSource{n: 50}
	tgt := &gcCheckTarget{Target: memory.New(), src: src}
	res, err := syncer.Run(context.Background(), syncer.Options{Source: src, Mapper: m, Target: tgt,
		Policy: plan.Policy{ExternalIDPrefix: prefix, GracePeriod: grace, ManagedFields: m.ManagedFields(), MaxDeletions: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if !tgt.released {
		t.Error("the records were still reachable when the run listed the target")
	}
	if res.Counts.Created != 50 || res.Entries != 50 || res.Snapshot.Records != nil || !res.Snapshot.Complete || !res.Snapshot.ReadAt.Equal(t0) {
		t.Errorf("created %d, entries %d, snapshot records %d, complete %v, read at %v",
			res.Counts.Created, res.Entries, len(res.Snapshot.Records), res.Snapshot.Complete, res.Snapshot.ReadAt)
	}
}
