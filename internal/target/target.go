// Package target defines where users are written: the Target interface that the SCIM 2.0 client and
// the in-process memory store implement, mirroring internal/directory for sources.
package target

import (
	"context"
	"fmt"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Target is a user store the operator writes to (a SCIM 2.0 service provider, or an in-process one).
type Target interface {
	ListUsers(ctx context.Context) ([]model.User, error)
	ListGroups(ctx context.Context) ([]model.Group, error)
	// CreateUser must be idempotent by ExternalID: it returns the existing user's id if one exists.
	CreateUser(ctx context.Context, u model.User) (string, error)
	// UpdateUser changes only the named model fields (model.Field*), taking values from u.
	UpdateUser(ctx context.Context, targetID string, u model.User, fields []string) error
	// DeleteUser succeeds when the user is already gone.
	DeleteUser(ctx context.Context, targetID string) error
	CreateGroup(ctx context.Context, displayName, externalID string) (string, error)
	// AdoptGroup writes externalID on the existing group groupID, which must carry no externalId
	// (or that one already); a group carrying another is a *ConflictError and nothing is written.
	AdoptGroup(ctx context.Context, groupID, externalID string) error
	AddMembers(ctx context.Context, groupID string, userIDs []string) error
	RemoveMembers(ctx context.Context, groupID string, userIDs []string) error
}

// FieldsUser is implemented by targets that need to know the managed fields before ListUsers:
// attribute paths beyond the named fields (model.User.Attributes) are read and written only for
// targets implementing it. The syncer calls UseFields with plan.Policy.ManagedFields.
type FieldsUser interface {
	UseFields(fields []string)
}

// PartialUpdateError reports an UpdateUser that applied every field except Fields, for the reason
// Err (e.g. a manager that is not in the target). The syncer counts the update and reports the rest.
type PartialUpdateError struct {
	Fields []string
	Err    error
}

func (e *PartialUpdateError) Error() string {
	return fmt.Sprintf("%s left out: %v", strings.Join(e.Fields, ", "), e.Err)
}

func (e *PartialUpdateError) Unwrap() error { return e.Err }

// FieldChecker is implemented by targets that publish their schemas (SCIM /Schemas): the syncer
// checks the managed fields against them before a run.
type FieldChecker interface {
	// CheckFields looks fields (model.Field* names and attribute paths) up in the target's schemas.
	// A target that publishes no schemas returns an empty FieldCheck.
	CheckFields(ctx context.Context, fields []string) (FieldCheck, error)
}

// FieldCheck is what a target's schemas say about the managed fields.
type FieldCheck struct {
	// Unknown lists the fields the target's schemas do not define.
	Unknown []UnknownField
	// CaseExact lists the fields whose values the target compares case-sensitively.
	CaseExact []string
}

// UnknownField is a managed field missing from the target's schema Schema.
type UnknownField struct {
	Field  string
	Schema string
	Reason string // e.g. "no such attribute", "schema not published"
}
