package syncer

import (
	"context"
	"errors"
	"slices"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// readOutcome is what reading and mapping the source gave a run.
type readOutcome struct {
	// snap is the read's snapshot without its records.
	snap    *model.Snapshot
	entries int
	mapped  mapping.Outcome
	// managers indexes the records for resolveManagers; nil when no user names a manager.
	managers *managerIndex
	// sourceErr tells that the error came from the source: nothing was mapped.
	sourceErr bool
}

// readAndMap reads the source and maps its records, with externalIds under the policy's marker. A
// source that streams (directory.Streamer) hands its records over batch by batch: each batch is mapped
// while the next is read and then let go, so that the run never holds every record and every user at
// once. Other sources return all their records, which are let go once mapped unless the source keeps
// them.
func readAndMap(ctx context.Context, o *Options) (readOutcome, error) {
	m := o.Mapper.WithMarker(o.Policy.ExternalIDPrefix)
	wantManagers := slices.Contains(o.Policy.ManagedFields, model.FieldManager)
	st, ok := o.Source.(directory.Streamer)
	if !ok {
		snap, err := o.Source.Read(ctx)
		if err != nil {
			return readOutcome{sourceErr: true}, err
		}
		in := readOutcome{entries: len(snap.Records), snap: withoutRecords(snap)}
		in.mapped, err = m.MapRecords(ctx, snap.Records)
		if err != nil {
			return in, err
		}
		if wantManagers && namesManager(in.mapped.Users) {
			in.managers = newManagerIndex(len(snap.Records))
			in.managers.add(snap.Records)
		}
		return in, nil
	}

	var in readOutcome
	stream := m.StreamSized(ctx, o.ExpectedUsers)
	var idx *managerIndex
	if wantManagers {
		idx = newManagerIndex(0)
	}
	var mapErr error
	snap, readErr := st.ReadStream(ctx, func(batch []model.Record) error {
		in.entries += len(batch)
		if idx != nil {
			idx.add(batch)
		}
		if err := stream.Add(batch); err != nil {
			mapErr = err
			return err
		}
		return nil
	})
	mapped, err := stream.Close()
	switch {
	case readErr != nil && (mapErr == nil || !errors.Is(readErr, mapErr)):
		return readOutcome{sourceErr: true}, readErr
	case snap == nil && readErr == nil:
		return readOutcome{sourceErr: true}, directory.Errorf(directory.KindInternal, nil, "the source returned no snapshot")
	}
	if snap != nil {
		in.snap = withoutRecords(snap)
	} else {
		in.snap = &model.Snapshot{}
	}
	if err == nil {
		err = mapErr
	}
	if err != nil {
		return in, err
	}
	in.mapped = mapped
	if idx != nil && namesManager(mapped.Users) {
		in.managers = idx
	}
	return in, nil
}

// withoutRecords returns what a run keeps of a snapshot: everything but its records.
func withoutRecords(snap *model.Snapshot) *model.Snapshot {
	return &model.Snapshot{Problems: snap.Problems, Complete: snap.Complete, ReadAt: snap.ReadAt, HighWater: snap.HighWater}
}

func namesManager(users []model.User) bool {
	return slices.ContainsFunc(users, func(u model.User) bool { return u.Manager != "" })
}
