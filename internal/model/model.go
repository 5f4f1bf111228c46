// Package model holds the vocabulary shared by the sync pipeline: what a directory yields (Record),
// what the rules make of it (User), and the reasons an entry could not be processed (Problem).
// It has no dependencies so that every other internal package can use it.
package model

import "time"

// Record is one person as read from a directory source (LDAP/AD or an HR record).
type Record struct {
	// ID is the stable identity: objectGUID (AD, canonical string form), entryUUID (OpenLDAP),
	// or the HR record's key column. It becomes the target user's externalId.
	ID string `json:"id"`
	// DN is the LDAP distinguished name; empty for HR records.
	DN string `json:"dn,omitempty"`
	// Attributes holds every attribute read, multi-valued, keyed by the attribute name as configured
	// (e.g. "mail", "telephoneNumber"). Binary values are base64 encoded.
	Attributes map[string][]string `json:"attributes"`
	// Groups holds the names (cn) of the groups the person belongs to, nested memberships included.
	Groups []string `json:"groups,omitempty"`
	// GroupDNs holds the DNs of those groups (LDAP only).
	GroupDNs []string `json:"groupDNs,omitempty"`
	// Disabled is true for accounts the directory marks as disabled; they are reported, not dropped.
	Disabled bool `json:"disabled,omitempty"`
	// ManagerID is the directory ID (the same identity as ID) of the person's manager, resolved from
	// the manager attribute (a DN in LDAP/AD); empty when there is none or it could not be found.
	// Mappings see it as record.managerId; prefixed like ExternalID it names the manager's target user.
	ManagerID string `json:"managerId,omitempty"`
}

// First returns the first value of an attribute, or "".
func (r Record) First(name string) string {
	if v := r.Attributes[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Snapshot is the outcome of one read of a source.
type Snapshot struct {
	Records []Record `json:"records"`
	// Problems lists entries that could not be read (malformed HR rows, entries without an ID).
	Problems []Problem `json:"problems,omitempty"`
	// Complete is false when the read stopped early (error mid-paging); such a snapshot must never
	// cause suspensions or deletions.
	Complete bool      `json:"complete"`
	ReadAt   time.Time `json:"readAt"`
	// HighWater is the incremental-read mark (modifyTimestamp / uSNChanged) reached by this read.
	HighWater string `json:"highWater,omitempty"`
}

// User is a target user as the operator wants it (desired) or finds it (actual).
// Empty string fields mean "not set"; the planner only manages fields the rules produce.
type User struct {
	// ExternalID links the target user to its directory record; the operator's ownership marker
	// (see plan.Policy.ExternalIDPrefix) is part of it.
	ExternalID     string `json:"externalId"`
	UserName       string `json:"userName"`
	DisplayName    string `json:"displayName,omitempty"`
	GivenName      string `json:"givenName,omitempty"`
	FamilyName     string `json:"familyName,omitempty"`
	Email          string `json:"email,omitempty"`
	PhoneNumber    string `json:"phoneNumber,omitempty"`
	Title          string `json:"title,omitempty"`
	Department     string `json:"department,omitempty"`
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	// Manager is the manager's externalId (with the ownership prefix) once the syncer resolved it.
	Manager string   `json:"manager,omitempty"`
	Role    string   `json:"role,omitempty"`
	Active  bool     `json:"active"`
	Groups  []string `json:"groups,omitempty"` // group display names
	// Attributes holds the values of the attribute paths the rules map beyond the named fields
	// above (see ResolveTarget), keyed by canonical path; nil when the rules map none.
	Attributes map[string]Value `json:"attributes,omitempty"`

	// TargetID is the id the target assigned (actual users only).
	TargetID string `json:"targetId,omitempty"`
}

// Field names of User as used in mappings, patches and reports.
const (
	FieldUserName       = "userName"
	FieldDisplayName    = "displayName"
	FieldGivenName      = "givenName"
	FieldFamilyName     = "familyName"
	FieldEmail          = "email"
	FieldPhoneNumber    = "phoneNumber"
	FieldTitle          = "title"
	FieldDepartment     = "department"
	FieldEmployeeNumber = "employeeNumber"
	FieldManager        = "manager"
	FieldRole           = "role"
	FieldActive         = "active"
	FieldGroups         = "groups"
	// FieldExternalID is written only when a user is adopted: it carries the ownership marker.
	FieldExternalID = "externalId"
)

// StringFields lists the single-valued string fields of User in a fixed order.
var StringFields = []string{
	FieldUserName, FieldDisplayName, FieldGivenName, FieldFamilyName, FieldEmail, FieldPhoneNumber,
	FieldTitle, FieldDepartment, FieldEmployeeNumber, FieldManager, FieldRole,
}

// Get returns a string field by name ("" for unknown names).
func (u *User) Get(field string) string {
	if p := u.stringField(field); p != nil {
		return *p
	}
	return ""
}

// Set sets a string field by name and reports whether the name is known.
func (u *User) Set(field, value string) bool {
	if p := u.stringField(field); p != nil {
		*p = value
		return true
	}
	return false
}

func (u *User) stringField(field string) *string {
	switch field {
	case FieldUserName:
		return &u.UserName
	case FieldDisplayName:
		return &u.DisplayName
	case FieldGivenName:
		return &u.GivenName
	case FieldFamilyName:
		return &u.FamilyName
	case FieldEmail:
		return &u.Email
	case FieldPhoneNumber:
		return &u.PhoneNumber
	case FieldTitle:
		return &u.Title
	case FieldDepartment:
		return &u.Department
	case FieldEmployeeNumber:
		return &u.EmployeeNumber
	case FieldManager:
		return &u.Manager
	case FieldRole:
		return &u.Role
	}
	return nil
}

// Attr returns the value of an attribute path ("" Value when not set).
func (u *User) Attr(path string) Value { return u.Attributes[path] }

// SetAttr sets the value of an attribute path, allocating the map on first use.
func (u *User) SetAttr(path string, v Value) {
	if u.Attributes == nil {
		u.Attributes = make(map[string]Value, 4)
	}
	u.Attributes[path] = v
}

// ProblemReason is a machine-readable reason an entry was skipped or failed.
type ProblemReason string

const (
	ReasonMissingID        ProblemReason = "MissingID"
	ReasonMissingField     ProblemReason = "MissingField"     // e.g. no email
	ReasonUnknownLookupKey ProblemReason = "UnknownLookupKey" // e.g. unknown department code
	ReasonExpressionError  ProblemReason = "ExpressionError"
	ReasonDuplicate        ProblemReason = "Duplicate" // two records map to one userName/email
	ReasonMalformedRow     ProblemReason = "MalformedRow"
	ReasonConflict         ProblemReason = "Conflict" // target has an unmanaged user with that userName
	ReasonTargetError      ProblemReason = "TargetError"
	// ReasonUnresolvedManager: the manager reference matches no directory record or target user;
	// the manager is left as it is and the rest of the user is synced.
	ReasonUnresolvedManager ProblemReason = "UnresolvedManager"
	// ReasonUnknownAttribute: a rule maps an attribute the target's /Schemas does not define.
	ReasonUnknownAttribute ProblemReason = "UnknownAttribute"
)

// Problem is one entry of the per-user report.
type Problem struct {
	// Subject names the entry: a userName, record ID, DN or "line 12".
	Subject string `json:"subject"`
	// ID is the directory id of the record the problem is about, when it is known. A record that is
	// present with a known id but could not be read or mapped holds its target user unchanged; a
	// source or mapping problem without an id makes the read incomplete (nobody is offboarded).
	ID      string        `json:"id,omitempty"`
	Reason  ProblemReason `json:"reason"`
	Message string        `json:"message"`
}

// Group is a target group. Groups the operator created carry an ExternalID with the operator's
// ownership prefix; only their memberships are ever removed by the operator.
type Group struct {
	TargetID    string   `json:"targetId,omitempty"`
	DisplayName string   `json:"displayName"`
	ExternalID  string   `json:"externalId,omitempty"`
	Members     []string `json:"members,omitempty"` // target ids of member users
}
