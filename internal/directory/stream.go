package directory

import (
	"context"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Streamer is a Source that can hand its records over while it reads, batch by batch, instead of
// returning them all at once: a run maps each batch as it arrives and lets it go, so that it never
// holds every record and every mapped user at once (at a million people the records are the largest
// thing a run would hold). A source that keeps its records (an incremental source keeps its last full
// read) cannot hand them over and does not implement it.
type Streamer interface {
	Source
	// ReadStream reads like Read and calls yield with the records, in Read's order, batch by batch;
	// the snapshot it returns holds the rest (problems, completeness, read time, mark), no records.
	// A batch belongs to yield once passed: the source neither keeps nor reuses it. When yield
	// returns an error the read stops and returns that error. On a read error the batches already
	// yielded are a partial read, like the records of a snapshot Read returns with an error: nobody
	// may be offboarded on them.
	ReadStream(ctx context.Context, yield func(batch []model.Record) error) (*model.Snapshot, error)
}

// ReadAndHandOver implements ReadStream for a source whose Read returns a snapshot it does not keep:
// it reads everything, then hands the records over (HandOver). A read that fails hands nothing over.
func ReadAndHandOver(ctx context.Context, read func(context.Context) (*model.Snapshot, error), yield func(batch []model.Record) error) (*model.Snapshot, error) {
	snap, err := read(ctx)
	if err != nil {
		return nil, err
	}
	return snap, HandOver(snap, yield)
}
