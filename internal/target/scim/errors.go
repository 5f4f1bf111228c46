package scim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// maxErrorBody bounds how much of a target's error body ends up in an Error.
const maxErrorBody = 512

// Error is a non-2xx answer of the SCIM service provider (RFC 7644 §3.12).
type Error struct {
	Status   int    // HTTP status code
	ScimType string // e.g. "uniqueness", "invalidFilter"; may be empty
	Detail   string // the target's detail, or the start of its body, at most 512 bytes
	Method   string
	Path     string // request path without the base URL
	// RetryAfter is the delay the target asked for with Retry-After (0 when absent).
	RetryAfter time.Duration
}

// Error names the request, the status and the RFC 7644 scimType. It never quotes Detail: that is
// the server's own text, which may echo what it was sent (the token, a person's data) and would
// reach status, events and logs; callers that need it read the field.
func (e *Error) Error() string {
	msg := fmt.Sprintf("scim: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if knownScimTypes[e.ScimType] {
		msg += " (" + e.ScimType + ")"
	}
	return msg
}

// knownScimTypes are the error types of RFC 7644 §3.12 table 9; any other value is the server's
// free text and is not repeated.
var knownScimTypes = map[string]bool{
	"invalidFilter": true, "tooMany": true, "uniqueness": true, "mutability": true, "invalidSyntax": true,
	"invalidPath": true, "noTarget": true, "invalidValue": true, "invalidVers": true, "sensitive": true,
}

func (e *Error) retryable() bool {
	return e.Status == http.StatusTooManyRequests ||
		(e.Status >= 500 && e.Status != http.StatusNotImplemented && e.Status != http.StatusHTTPVersionNotSupported)
}

// IsConflict reports whether err is a 409 (typically scimType "uniqueness").
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }

// IsNotFound reports whether err is a 404.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsRetryable reports whether err is worth retrying later: 429, 5xx (except 501/505) or a
// transport timeout.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.retryable()
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}
