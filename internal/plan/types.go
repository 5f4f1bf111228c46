// Package plan computes what to change in a target so that its users match the directory.
//
// Compute is pure and deterministic: no I/O, no clock (Now is an input), and the same input in any
// order yields the same Plan. The engine applies a Plan's Actions in the given order, unless
// Plan.Blocked is non-nil, in which case nothing may be applied.
//
// Safety rules, in short (details on Compute):
//   - only managed target users (ExternalID is Policy.ExternalIDPrefix + an escaped id) are ever
//     changed;
//   - a user whose record is in the source but could not be mapped (Input.Held) is never changed;
//   - offboarding (Suspend, Delete, Anonymize) is withheld when the source read is incomplete or
//     suspiciously small (Plan.OffboardingHeld);
//   - Delete/Anonymize only happen to users the planner has seen suspended for at least the grace
//     period; the grace clock restarts whenever its start is unknown;
//   - too many offboardings in one run block the whole plan unless approved (Plan.Blocked).
package plan

import (
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Input is everything the planner looks at.
type Input struct {
	// Desired lists the users the rules produce. ExternalID includes the ownership prefix;
	// Active=false marks users disabled in the directory.
	Desired []model.User
	// Actual lists every user in the target, managed or not, with TargetID set and Groups holding
	// group display names (informational; memberships are read from Groups below).
	Actual []model.User
	// Groups lists every group in the target with its members (target user ids).
	Groups []model.Group
	// State is the planner's memory from the previous run (kept in the resource status).
	State  State
	Policy Policy
	// Now is the time of this run; suspension starts are recorded with it.
	Now time.Time
	// SourceComplete is false when the directory read was partial or failed: nothing is offboarded.
	SourceComplete bool
	// IncompleteReason says why the source is incomplete, for the hold message; optional.
	IncompleteReason string
	// Held lists the externalIds (marker included, see UserExternalID) of records that are in the
	// source but could not be read or mapped. Their target users are left exactly as they are: no
	// update, no offboarding, grace clock carried unchanged.
	Held []string
	// OutOfScope lists the externalIds of records in the source that no rule's scope selects. Their
	// target users are offboarded (reason "out of scope") unless Policy.OutOfScope is Keep.
	OutOfScope []string
	// Disabled lists the externalIds of records the directory disables and the rules exclude; their
	// target users are offboarded with reason "disabled in directory", whatever Policy.OutOfScope.
	Disabled []string
}

// OffboardAction is what happens to a suspended user once the grace period is over.
type OffboardAction string

const (
	OffboardKeep      OffboardAction = "Keep" // stay suspended; also what "" means
	OffboardDelete    OffboardAction = "Delete"
	OffboardAnonymize OffboardAction = "Anonymize"
)

// OutOfScopeAction is what happens to the users of records the rules' scope no longer selects.
type OutOfScopeAction string

const (
	OutOfScopeSuspend OutOfScopeAction = "Suspend" // offboard like a leaver; also what "" means
	OutOfScopeKeep    OutOfScopeAction = "Keep"    // leave the user as it is
)

// Policy configures the planner.
type Policy struct {
	// ExternalIDPrefix is the ownership marker; it must end with ':'. A target user is managed iff
	// its ExternalID is the marker followed by an escaped directory id (no ':', see
	// UserExternalID), a group iff its ExternalID is GroupExternalID(marker, name). So marker "hr:"
	// never owns "hr:eu:…".
	ExternalIDPrefix string
	// OutOfScope says what happens to users whose record no rule's scope selects; "" is Suspend.
	OutOfScope OutOfScopeAction
	// GracePeriod is the time between suspension and AfterGrace. Must not be negative.
	GracePeriod time.Duration
	// AfterGrace applies to users suspended for at least GracePeriod; "" means Keep.
	AfterGrace OffboardAction
	// ManagedFields lists the model.Field* names and attribute paths (model.ResolveTarget) the
	// rules produce. Only these are compared and patched. model.FieldGroups enables membership
	// management. model.FieldActive (a rule maps active) changes nothing here: a user desired
	// active is always reactivated.
	ManagedFields []string
	// CreateOnlyFields lists managed fields (applyOn: Create) set when a user is created and never
	// compared or updated afterwards: the app owns them.
	CreateOnlyFields []string
	// CaseExactFields lists the managed fields whose values compare case-sensitively (the
	// target's /Schemas says caseExact). The others compare as RFC 7643 says, see compare.go.
	CaseExactFields []string
	// MaxDeletions caps offboardings (suspend+delete+anonymize, including suspensions of users
	// disabled in the directory) per run; <0 means unlimited and 0 means none without approval.
	MaxDeletions int
	// MaxDeletionPercent caps offboardings per run as a percentage of managed users, rounded up;
	// 0 is off.
	MaxDeletionPercent int
	// MinSourcePercent holds offboarding when the desired set is smaller than this percentage of
	// the managed users; 0 is off. An empty desired set with managed users is always suspicious
	// unless AllowEmptySource is set.
	MinSourcePercent int
	// AllowEmptySource lets an empty desired set offboard every managed user (decommissioning).
	AllowEmptySource bool
	// ApprovedFingerprint approves one blocked plan: when this run exceeds the deletion threshold
	// (or the limits of Controls) and its Fingerprint equals this, it is not blocked. Any other plan
	// is blocked as usual, so an old approval never lifts a later, different block.
	ApprovedFingerprint string
	// Controls holds adoption, per-action switches, the per-kind limits, purges and grace extensions.
	Controls Controls
	// CreateDisabled creates people whom the directory already disables when they are first seen,
	// as inactive users; false (the default) creates nothing for them.
	CreateDisabled bool
}

// State is carried from one run to the next.
type State struct {
	// Suspended maps the externalId of each user the planner is counting grace for to the time
	// the grace clock started. Nil when empty.
	Suspended map[string]time.Time `json:"suspended,omitempty"`
}

// Kind is the kind of an Action. Actions are ordered by kind in the order of the constants below.
type Kind string

const (
	KindAdopt        Kind = "Adopt"      // take over an unmanaged target user: write the ownership marker
	KindAdoptGroup   Kind = "AdoptGroup" // take over an unmanaged target group of a desired name
	KindCreateGroup  Kind = "CreateGroup"
	KindCreate       Kind = "Create"
	KindUpdate       Kind = "Update"
	KindReactivate   Kind = "Reactivate"
	KindAddMember    Kind = "AddMember"
	KindRemoveMember Kind = "RemoveMember"
	KindSuspend      Kind = "Suspend"
	KindAnonymize    Kind = "Anonymize"
	KindDelete       Kind = "Delete"
)

func (k Kind) rank() int {
	switch k {
	case KindAdopt:
		return -2
	case KindAdoptGroup:
		return -1
	case KindCreateGroup:
		return 0
	case KindCreate:
		return 1
	case KindUpdate:
		return 2
	case KindReactivate:
		return 3
	case KindAddMember:
		return 4
	case KindRemoveMember:
		return 5
	case KindSuspend:
		return 6
	case KindAnonymize:
		return 7
	case KindDelete:
		return 8
	}
	return 9
}

// IsOffboarding reports whether k counts against the deletion thresholds.
func (k Kind) IsOffboarding() bool {
	return k == KindSuspend || k == KindDelete || k == KindAnonymize
}

// Action is one change to the target.
//
// Users are named by ExternalID (always set for user and membership actions) and, when they exist
// already, by TargetID; the engine resolves the TargetID of users created in the same run by
// ExternalID. Groups are named by display name (Group) and, when they exist, GroupTargetID.
type Action struct {
	Kind Kind `json:"kind"`
	// ExternalID is the user's externalId; for CreateGroup and AdoptGroup the group's externalId.
	ExternalID string `json:"externalId,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
	UserName   string `json:"userName,omitempty"`
	// Fields lists the fields an Update patches, in model.StringFields order, then the attribute
	// paths in sorted order.
	Fields []string `json:"fields,omitempty"`
	// User is the desired user for Create and Update (only Fields are patched by an Update). Its
	// Groups are informational: memberships change only through AddMember/RemoveMember actions.
	User          *model.User `json:"user,omitempty"`
	Group         string      `json:"group,omitempty"`
	GroupTargetID string      `json:"groupTargetId,omitempty"`
	// Reason says why, for humans: "not in source", "disabled in directory", ...
	Reason string `json:"reason,omitempty"`
}

// Block explains why a plan must not be applied (Plan.Blocked) or why offboarding was withheld
// (Plan.OffboardingHeld).
type Block struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Block and hold reasons.
const (
	ReasonDeletionThresholdExceeded = "DeletionThresholdExceeded"
	ReasonInvalidPolicy             = "InvalidPolicy"
	ReasonSourceIncomplete          = "SourceIncomplete"
	ReasonSuspiciousSource          = "SuspiciousSource"
)

// Summary counts what a plan does.
type Summary struct {
	Desired   int `json:"desired"`
	Managed   int `json:"managed"`   // managed target users
	Unmanaged int `json:"unmanaged"` // target users the planner never touches
	// Unchanged counts managed users no action refers to.
	Unchanged int `json:"unchanged"`

	Adoptions      int `json:"adoptions,omitempty"`
	GroupAdoptions int `json:"groupAdoptions,omitempty"`
	Creates        int `json:"creates,omitempty"`
	Updates        int `json:"updates,omitempty"`
	Reactivations  int `json:"reactivations,omitempty"`
	Suspensions    int `json:"suspensions,omitempty"`
	Deletions      int `json:"deletions,omitempty"`
	Anonymizations int `json:"anonymizations,omitempty"`
	GroupCreates   int `json:"groupCreates,omitempty"`
	MemberAdds     int `json:"memberAdds,omitempty"`
	MemberRemovals int `json:"memberRemovals,omitempty"`
	// Offboardings is Suspensions+Deletions+Anonymizations, the number the thresholds limit.
	Offboardings int `json:"offboardings,omitempty"`
	Problems     int `json:"problems,omitempty"`
	// Withheld counts actions spec.actions switched off.
	Withheld int `json:"withheld,omitempty"`
	// Held counts the records present in the source that could not be mapped (Input.Held).
	Held int `json:"held,omitempty"`
}

// Plan is the planner's output. It is published in status (dry-run), hence JSON friendly.
type Plan struct {
	Actions []Action `json:"actions,omitempty"`
	// Withheld lists the actions Policy.Controls.Off switched off; they are never applied.
	Withheld []Action `json:"withheld,omitempty"`
	// Notes tell what became of purge and grace extension requests (Policy.Controls).
	Notes    []string        `json:"notes,omitempty"`
	Problems []model.Problem `json:"problems,omitempty"`
	Summary  Summary         `json:"summary"`
	// Blocked, when non-nil, forbids applying any action of this plan; Actions stay visible.
	Blocked *Block `json:"blocked,omitempty"`
	// OffboardingHeld, when non-nil, says that no user was offboarded because the source looked
	// unreliable; the other actions may be applied.
	OffboardingHeld *Block `json:"offboardingHeld,omitempty"`
	// Fingerprint identifies a plan that exceeds a limit (blocked, or approved by naming it): see
	// Fingerprint().
	Fingerprint string `json:"fingerprint,omitempty"`
	// ApprovalUsed is true when Policy.ApprovedFingerprint lifted an exceeded threshold; the
	// controller should then retire the one-shot approval.
	ApprovalUsed bool `json:"approvalUsed,omitempty"`
	// State is the state to persist once the plan has been applied (the input state when Blocked).
	State State `json:"state"`
}
