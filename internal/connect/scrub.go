package connect

import (
	"context"
	"errors"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/redact"
)

// scrubbedSource removes the bind credentials from a source's errors. LDAP errors carry the
// server's diagnostic message, worth keeping (Active Directory's "data 52e" codes), but a hostile
// or broken server may echo what it was sent in it.
type scrubbedSource struct {
	directory.Source
	secrets []string
}

func (s scrubbedSource) Read(ctx context.Context) (*model.Snapshot, error) {
	snap, err := s.Source.Read(ctx)
	return snap, scrubError(err, s.secrets...)
}

// ReadDelta passes the base on when the source reads deltas against it.
func (s scrubbedSource) ReadDelta(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error) {
	dr, ok := s.Source.(directory.DeltaReader)
	if !ok {
		return s.Read(ctx)
	}
	snap, err := dr.ReadDelta(ctx, base)
	return snap, scrubError(err, s.secrets...)
}

// scrubbedStreamer is a scrubbedSource around a source that hands its records over while it reads.
type scrubbedStreamer struct {
	scrubbedSource
}

// scrub wraps src; the wrapper streams exactly when src does.
func scrub(src directory.Source, secrets ...string) directory.Source {
	s := scrubbedSource{src, secrets}
	if _, ok := src.(directory.Streamer); ok {
		return scrubbedStreamer{s}
	}
	return s
}

// ReadStream scrubs the read's errors; an error of yield (the run's own) is returned as it is.
func (s scrubbedStreamer) ReadStream(ctx context.Context, yield func(batch []model.Record) error) (*model.Snapshot, error) {
	return directory.ReadStreamWrapped(ctx, s.Source.(directory.Streamer), yield, func(err error) error { return scrubError(err, s.secrets...) })
}

// scrubError returns err, or when its text holds a secret, a copy of it without: the same
// directory.Error kind and message with the secret replaced. The cause's chain is dropped then.
func scrubError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if redact.Scrub(msg, secrets...) == msg {
		return err
	}
	var de *directory.Error
	if !errors.As(err, &de) {
		return errors.New(redact.Scrub(msg, secrets...))
	}
	clean := &directory.Error{Kind: de.Kind, Msg: redact.Scrub(de.Msg, secrets...)}
	if de.Err != nil {
		clean.Err = errors.New(redact.Scrub(de.Err.Error(), secrets...))
	}
	return clean
}
