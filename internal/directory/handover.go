package directory

import (
	"context"
	"errors"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// HandOverBatch is how many records HandOver passes at a time.
const HandOverBatch = 4096

// HandOver implements the hand-over of Streamer.ReadStream for a source that reads everything
// before its records are final (an LDAP read resolves groups and managers over all of them): it
// passes snap's records to yield batch by batch, each batch a copy, and clears the source's own
// slots once passed, so that what the run has mapped can be collected while it maps the rest. It
// leaves snap without records. It stops at yield's first error and returns it.
func HandOver(snap *model.Snapshot, yield func(batch []model.Record) error) error {
	recs := snap.Records
	snap.Records = nil
	for start := 0; start < len(recs); start += HandOverBatch {
		end := min(start+HandOverBatch, len(recs))
		batch := make([]model.Record, end-start)
		copy(batch, recs[start:end])
		clear(recs[start:end])
		if err := yield(batch); err != nil {
			return err
		}
	}
	return nil
}

// ReadStreamWrapped is ReadStream of s for a wrapper that rewrites the read's errors with wrap
// (scrubbing secrets, explaining a deadline): an error of yield, the reader's own, comes back as it
// is, so that the reader still tells its own failure from the source's.
func ReadStreamWrapped(ctx context.Context, s Streamer, yield func(batch []model.Record) error, wrap func(error) error) (*model.Snapshot, error) {
	var yieldErr error
	snap, err := s.ReadStream(ctx, func(batch []model.Record) error {
		yieldErr = yield(batch)
		return yieldErr
	})
	if err != nil && yieldErr != nil && errors.Is(err, yieldErr) {
		return snap, err
	}
	return snap, wrap(err)
}
