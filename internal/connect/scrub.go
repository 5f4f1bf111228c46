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
