package hr

import (
	"context"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Both sources parse their document afresh on every read (a cached HR record is a copy of its
// own), so they hand the parsed records over (see directory.Streamer).
var (
	_ directory.Streamer = (*staticSource)(nil)
	_ directory.Streamer = (*HTTPSource)(nil)
)

// ReadStream implements directory.Streamer.
func (s *staticSource) ReadStream(ctx context.Context, yield func([]model.Record) error) (*model.Snapshot, error) {
	return directory.ReadAndHandOver(ctx, s.Read, yield)
}

// ReadStream implements directory.Streamer.
func (s *HTTPSource) ReadStream(ctx context.Context, yield func([]model.Record) error) (*model.Snapshot, error) {
	return directory.ReadAndHandOver(ctx, s.Read, yield)
}
