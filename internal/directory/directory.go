// Package directory defines how people are read from a directory: the Source interface that the LDAP/AD
// and HR-record readers implement, and typed errors that let status say why a read failed.
package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Source reads the people of one directory.
type Source interface {
	// Read returns every person in scope. A partial read returns an error (and, where useful, the
	// records read so far in a snapshot with Complete=false); callers must not offboard on it.
	Read(ctx context.Context) (*model.Snapshot, error)
}

// ErrorKind classifies read failures; it becomes the reason of the SourceReachable condition.
type ErrorKind string

const (
	KindUnreachable ErrorKind = "Unreachable" // network, DNS, timeout
	KindTLSFailed   ErrorKind = "TLSFailed"   // TLS handshake or certificate verification failed
	KindAuthFailed  ErrorKind = "AuthFailed"  // bind rejected, HTTP 401/403, unauthenticated operation
	// KindTransportSecurityRequired: the server refuses a simple bind over an unencrypted connection
	// (Active Directory's default); the fix is ldaps:// or StartTLS, not the credentials.
	KindTransportSecurityRequired ErrorKind = "TransportSecurityRequired"
	// KindIncomplete: the server answered only part of the read (referrals, a group it would not
	// show); the records read are not the whole directory.
	KindIncomplete    ErrorKind = "Incomplete"
	KindInvalidFilter ErrorKind = "InvalidFilter" // the server rejected the search filter
	KindInvalidConfig ErrorKind = "InvalidConfig" // spec or referenced data is unusable
	KindNotFound      ErrorKind = "NotFound"      // base DN, URL or key does not exist
	KindMalformed     ErrorKind = "Malformed"     // the data could not be parsed at all
	KindTooLarge      ErrorKind = "TooLarge"      // the HR record exceeds the size limit
	KindInternal      ErrorKind = "Internal"
)

// Error is a read failure of a known kind.
type Error struct {
	Kind ErrorKind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind.
func Errorf(kind ErrorKind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of err, or KindInternal for errors that carry none.
func KindOf(err error) ErrorKind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return KindInternal
}
