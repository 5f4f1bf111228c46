package directory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Incremental turns a directory that can read the entries changed since a high-water mark into a
// Source that returns complete snapshots: each incremental read is merged into the last full read,
// and everything is read again every FullEvery. Only full reads notice removed entries, so between
// them a removed person stays in the merged snapshot (offboarding waits, it never comes early).
type Incremental struct {
	// Open returns a source reading the entries changed since mark ("" reads everything).
	Open func(ctx context.Context, mark string) (Source, error)
	// FullEvery is the longest time between full reads.
	FullEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu       sync.Mutex
	base     *model.Snapshot
	lastFull time.Time
}

// Read implements Source.
func (s *Incremental) Read(ctx context.Context) (*model.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	if s.base == nil || s.base.HighWater == "" || t.Sub(s.lastFull) >= s.FullEvery {
		src, err := s.Open(ctx, "")
		if err != nil {
			return nil, err
		}
		snap, err := src.Read(ctx)
		if err == nil && snap.Complete {
			s.base, s.lastFull = snap, t
		}
		return snap, err
	}
	src, err := s.Open(ctx, s.base.HighWater)
	if err != nil {
		return nil, err
	}
	var delta *model.Snapshot
	if dr, ok := src.(DeltaReader); ok {
		delta, err = dr.ReadDelta(ctx, s.base)
	} else {
		delta, err = src.Read(ctx)
	}
	if err != nil {
		// A failed incremental read says nothing about who left; report it without merging.
		return nil, err
	}
	if delta.Complete {
		// The source read everything instead (it could not trust the mark, or groups changed).
		s.base, s.lastFull = delta, t
		return delta, nil
	}
	s.base = mergeSnapshots(s.base, delta)
	return s.base, nil
}

// DeltaReader is a source whose incremental read needs the snapshot its changes are merged into:
// what an entry derives from other entries (an LDAP user's groups) changes without the entry, and
// the previous snapshot says whose derived values may have changed (e.g. the former members of a
// changed group). Incremental calls ReadDelta instead of Read for incremental reads.
type DeltaReader interface {
	// ReadDelta reads the changes since base was read; like Read it may read everything instead
	// (a Complete snapshot). base must not be modified.
	ReadDelta(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error)
}

// mergeSnapshots replaces or adds the records of delta in base (by ID) and keeps them sorted.
func mergeSnapshots(base, delta *model.Snapshot) *model.Snapshot {
	byID := make(map[string]int, len(base.Records))
	records := make([]model.Record, len(base.Records), len(base.Records)+len(delta.Records))
	copy(records, base.Records)
	for i, r := range records {
		byID[r.ID] = i
	}
	for _, r := range delta.Records {
		if i, ok := byID[r.ID]; ok {
			records[i] = r
		} else {
			byID[r.ID] = len(records)
			records = append(records, r)
		}
	}
	sort.Slice(records, func(i, j int) bool { return records[i].ID < records[j].ID })
	mark := base.HighWater
	if delta.HighWater != "" {
		mark = delta.HighWater // the delta was read with (attr >= base mark), so its mark is not older
	}
	return &model.Snapshot{Records: records, Problems: delta.Problems, Complete: true, ReadAt: delta.ReadAt, HighWater: mark}
}
