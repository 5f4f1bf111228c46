package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MappingRuleSpec says how a directory entry becomes a target user.
//
// Expressions are CEL (https://cel.dev) over one variable, record, with these fields:
// record.id (string), record.dn (string), record.attrs (map of attribute name to its first value),
// record.values (map of attribute name to all values), record.groups (list of group names),
// record.disabled (bool). Lookup tables are available as lookups.<name>, a map of key to value.
// Example: lookups.departments[record.attrs.departmentNumber].
type MappingRuleSpec struct {
	// Priority orders rules that set the same field for one SyncTarget: the higher priority wins;
	// equal priorities are ordered by name. A record must be in scope of a rule to be set by it.
	// +optional
	Priority int32 `json:"priority,omitempty"`
	// Scope is a CEL expression returning bool; only records for which it is true are synced by this
	// rule. Start with a few test users, e.g. "'pilot' in record.groups", then widen it. Empty = all.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Scope string `json:"scope,omitempty"`
	// IncludeDisabled keeps disabled accounts as inactive users (default): existing users are suspended,
	// and people disabled when first seen are created (inactive) only when the SyncTarget's
	// offboarding.firstSeenDisabled is CreateSuspended. When false they are treated as absent from the
	// directory, so they are suspended and later offboarded.
	// +kubebuilder:default=true
	// +optional
	IncludeDisabled *bool `json:"includeDisabled,omitempty"`
	// Fields maps target fields. userName is required across the rules of a SyncTarget.
	// +listType=map
	// +listMapKey=target
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Fields []FieldMapping `json:"fields"`
	// Lookups are named tables such as department code to department name.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Lookups []LookupTable `json:"lookups,omitempty"`
}

// TargetField names what a field mapping sets: one of the names userName, displayName, givenName,
// familyName, email, phoneNumber, title, department, employeeNumber, manager, role, active, groups,
// or a SCIM attribute path (RFC 7644 §3.10): "nickName", "name.middleName",
// `emails[type eq "home"].value`, `addresses[type eq "work"].locality`, "roles", "entitlements",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", or an attribute of any
// custom extension, "urn:example:params:scim:schemas:extension:acme:2.0:User:badgeId".
// The names are aliases of paths: email is `emails[type eq "work"].value`, department the
// enterprise department, and so on (see the README).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:Pattern=`^(urn:[A-Za-z0-9:._-]+:)?[A-Za-z][A-Za-z0-9_$-]*(\[ *[tT][yY][pP][eE] +[eE][qQ] +"[^"\\]*" *\])?(\.[A-Za-z$][A-Za-z0-9_$-]*)?$`
type TargetField string

// FieldMapping produces one target field from the record.
// +kubebuilder:validation:XValidation:rule="!(has(self.from) && has(self.expression))",message="set at most one of from or expression"
// +kubebuilder:validation:XValidation:rule="has(self.from) || has(self.expression) || has(self.default)",message="set from, expression or default"
// +kubebuilder:validation:XValidation:rule="!has(self.lookup) || has(self.from) || has(self.expression)",message="lookup needs from or expression to give the key"
type FieldMapping struct {
	// Target field or attribute path. groups takes a list of strings, active a bool, the others a
	// string unless the attribute's type (or type below) says otherwise. manager takes a reference to
	// the manager's directory record: its id or its DN (as AD's manager attribute holds it).
	Target TargetField `json:"target"`
	// From copies the first value of a directory attribute, e.g. mail or telephoneNumber
	// (for groups: all values of the attribute).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	From string `json:"from,omitempty"`
	// Expression computes the value with CEL, e.g. "record.attrs.givenName + ' ' + record.attrs.sn".
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Expression string `json:"expression,omitempty"`
	// Lookup names a table of spec.lookups that translates the value, e.g. 102 to "Supply Chain".
	// A key missing from the table skips the record (reason UnknownLookupKey) unless the table has a default.
	// +optional
	Lookup string `json:"lookup,omitempty"`
	// Default is used when the value is empty or the attribute is missing, e.g. role "Member".
	// +optional
	Default *string `json:"default,omitempty"`
	// Required skips records whose value is empty (reason MissingField), e.g. users without email.
	// +optional
	Required bool `json:"required,omitempty"`
	// Type of the value for attributes RFC 7643 does not define (custom extensions): string (default),
	// boolean, integer, dateTime (RFC 3339; LDAP GeneralizedTime is converted) or stringList (a
	// multi-valued attribute's values). Known attributes have their RFC type; setting another is an error.
	// +kubebuilder:validation:Enum=string;boolean;integer;dateTime;stringList
	// +optional
	Type string `json:"type,omitempty"`
	// ApplyOn says when the value is written: Always (default) keeps the target in step with the
	// directory; Create sets it only when the user is created and leaves it to the app afterwards
	// (e.g. a default role that admins change in the app).
	// +kubebuilder:validation:Enum=Always;Create
	// +optional
	ApplyOn ApplyOn `json:"applyOn,omitempty"`
}

// ApplyOn says when a field mapping writes its value.
type ApplyOn string

const (
	ApplyAlways ApplyOn = "Always"
	ApplyCreate ApplyOn = "Create"
)

// LookupTable translates keys to values.
type LookupTable struct {
	// Name of the table, used by fields[].lookup and in expressions as lookups.<name>.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	Name string `json:"name"`
	// Entries map a key to its value, e.g. {"102": "Supply Chain"}.
	// +kubebuilder:validation:MinProperties=1
	Entries map[string]string `json:"entries"`
	// Default is the value of keys missing from entries; when unset such records are skipped.
	// +optional
	Default *string `json:"default,omitempty"`
}

// MappingRuleStatus reports whether the rule compiles and who uses it.
type MappingRuleStatus struct {
	// Conditions: Ready and Valid (reason InvalidExpression with the compile error).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// UsedBy lists the SyncTargets that use this rule.
	// +optional
	UsedBy []string `json:"usedBy,omitempty"`
}

// MappingRule maps directory entries to target users with attribute mappings, CEL expressions,
// lookup tables, defaults and a scoping filter.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mrule,categories=directorysync
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scope`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MappingRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MappingRuleSpec   `json:"spec"`
	Status MappingRuleStatus `json:"status,omitempty"`
}

// MappingRuleList is a list of MappingRules.
// +kubebuilder:object:root=true
type MappingRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MappingRule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MappingRule{}, &MappingRuleList{})
}
