package target

import (
	"errors"
	"fmt"
)

// AuthError says the target refused the operator's credentials (HTTP 401 or 403, or a failed token
// request), so that callers can report it apart from other target failures.
type AuthError struct {
	Status int // HTTP status; 0 when the token could not be obtained
	Err    error
}

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// IsAuth reports whether err is an AuthError.
func IsAuth(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae)
}

// ConflictError says a write was refused because a unique attribute's value is taken by another
// account of the target. Retrying does not help; someone has to resolve it.
type ConflictError struct {
	// Attribute names the unique attribute ("userName", "emails", "displayName"…), or is empty when
	// the target did not say and the listing did not show which.
	Attribute string
	Err       error
}

func (e *ConflictError) Error() string {
	if e.Attribute == "" {
		return fmt.Sprintf("a unique attribute is already in use in the target: %v", e.Err)
	}
	return fmt.Sprintf("a value of %s is already in use by another account of the target (%v)", e.Attribute, e.Err)
}
func (e *ConflictError) Unwrap() error { return e.Err }

// AsConflict returns err's ConflictError, or nil.
func AsConflict(err error) *ConflictError {
	var ce *ConflictError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}
