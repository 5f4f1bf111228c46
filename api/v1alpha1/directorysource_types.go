package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DirectorySourceSpec says where people come from: an LDAP / Active Directory server or an HR record.
// Exactly one of ldap or hr is set.
// +kubebuilder:validation:XValidation:rule="[has(self.ldap), has(self.hr)].filter(x, x).size() == 1",message="exactly one of spec.ldap or spec.hr must be set"
type DirectorySourceSpec struct {
	// LDAP reads people from an LDAP or Active Directory server.
	// +optional
	LDAP *LDAPSource `json:"ldap,omitempty"`
	// HR reads people from an HR record (CSV or JSON): the list of all active employees.
	// Absence from the record means the person has left.
	// +optional
	HR *HRSource `json:"hr,omitempty"`
	// ProbeInterval is how often the operator checks that the source is reachable and counts its entries.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="probeInterval must be positive"
	// +optional
	ProbeInterval *metav1.Duration `json:"probeInterval,omitempty"`
}

// LDAPFlavor selects defaults that fit a directory product.
// +kubebuilder:validation:Enum=OpenLDAP;ActiveDirectory
type LDAPFlavor string

const (
	FlavorOpenLDAP        LDAPFlavor = "OpenLDAP"
	FlavorActiveDirectory LDAPFlavor = "ActiveDirectory"
)

// LDAPSource reads people with a paged LDAP search.
// +kubebuilder:validation:XValidation:rule="!(has(self.startTLS) && self.startTLS && self.url.startsWith('ldaps://'))",message="startTLS cannot be combined with an ldaps:// url"
type LDAPSource struct {
	// URL of the server, ldap://host:389 or ldaps://host:636.
	// +kubebuilder:validation:Pattern=`^ldaps?://[^\s/]+/?$`
	URL string `json:"url"`
	// Flavor picks defaults: ActiveDirectory uses objectGUID as ID, people only (no computers) as user
	// filter, userAccountControl for disabled accounts, nested groups (InChain) without AD's built-in
	// groups, and adds each person's primary group ("Domain Users"); OpenLDAP uses entryUUID and memberOf.
	// Both resolve the manager attribute (a DN) to the manager's ID (record.managerId).
	// +kubebuilder:default=OpenLDAP
	// +optional
	Flavor LDAPFlavor `json:"flavor,omitempty"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	// +optional
	StartTLS bool `json:"startTLS,omitempty"`
	// TLS configures server verification for ldaps:// and StartTLS.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
	// BindSecretRef names the Secret with the bind credentials (simple bind).
	BindSecretRef BindSecretReference `json:"bindSecretRef"`
	// BaseDN is where the user search starts, e.g. "ou=people,dc=example,dc=com".
	// +kubebuilder:validation:MinLength=1
	BaseDN string `json:"baseDN"`
	// Scope of the user search.
	// +kubebuilder:validation:Enum=Subtree;OneLevel
	// +kubebuilder:default=Subtree
	// +optional
	Scope string `json:"scope,omitempty"`
	// UserFilter selects the people. Default: "(&(objectCategory=person)(objectClass=user))" for
	// flavor ActiveDirectory (people, not computer accounts), "(objectClass=person)" otherwise.
	// Values the operator adds to it are escaped (RFC 4515).
	// +kubebuilder:validation:XValidation:rule="self.startsWith('(') && self.endsWith(')')",message="userFilter must be a parenthesised LDAP filter such as (objectClass=person)"
	// +optional
	UserFilter string `json:"userFilter,omitempty"`
	// Attributes lists the attributes to read, e.g. [mail, telephoneNumber, department]; mapping rules
	// can use only attributes read here. When empty, every user attribute is read.
	// +listType=set
	// +optional
	Attributes []string `json:"attributes,omitempty"`
	// IDAttribute holds each person's stable identity; defaults to entryUUID (OpenLDAP) or objectGUID
	// (ActiveDirectory). It becomes the target user's externalId, so do not change it once users are synced.
	// +optional
	IDAttribute string `json:"idAttribute,omitempty"`
	// PageSize of the paged search (RFC 2696). Active Directory returns at most 1000 per page.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:default=500
	// +optional
	PageSize int32 `json:"pageSize,omitempty"`
	// Timeout for connecting and for each request; at most 5m.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('5m')",message="timeout must be positive and at most 5m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Groups configures how group memberships are read.
	// +optional
	Groups *LDAPGroups `json:"groups,omitempty"`
	// Disabled configures how disabled accounts are recognised. Disabled accounts are read, not
	// dropped: a SyncTarget suspends their users, and creates users for people already disabled when
	// first seen only with offboarding.firstSeenDisabled CreateSuspended.
	// +optional
	Disabled *LDAPDisabled `json:"disabled,omitempty"`
	// Incremental enables reading only entries changed since the last read, with a periodic full read.
	// +optional
	Incremental *LDAPIncremental `json:"incremental,omitempty"`
}

// BindSecretReference names the keys of a Secret holding a bind DN and password.
type BindSecretReference struct {
	// Name of the Secret in the same namespace.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// UsernameKey is the key holding the bind DN.
	// +kubebuilder:default=username
	// +optional
	UsernameKey string `json:"usernameKey,omitempty"`
	// PasswordKey is the key holding the password.
	// +kubebuilder:default=password
	// +optional
	PasswordKey string `json:"passwordKey,omitempty"`
}

// LDAPGroups configures group membership reading.
// +kubebuilder:validation:XValidation:rule="self.mode != 'Recursive' || (has(self.baseDN) && size(self.baseDN) > 0)",message="groups.baseDN is required when groups.mode is Recursive"
type LDAPGroups struct {
	// Mode: None; MemberOf reads the memberOf attribute (direct groups); InChain reads nested groups
	// from Active Directory (LDAP_MATCHING_RULE_IN_CHAIN, or the groups' memberOf when few users are
	// read; an error on servers that are not AD); Recursive reads groups under baseDN and expands
	// member/uniqueMember recursively (cycles are safe).
	// +kubebuilder:validation:Enum=None;MemberOf;InChain;Recursive
	// +kubebuilder:default=MemberOf
	Mode string `json:"mode"`
	// BaseDN where groups live (InChain and Recursive).
	// +optional
	BaseDN string `json:"baseDN,omitempty"`
	// Filter selecting groups, e.g. "(objectClass=groupOfNames)". Flavor ActiveDirectory defaults to
	// "(&(objectClass=group)(!(isCriticalSystemObject=TRUE)))", which leaves out the built-in groups.
	// +optional
	Filter string `json:"filter,omitempty"`
	// NameAttribute is the group attribute used as its name.
	// +kubebuilder:default=cn
	// +optional
	NameAttribute string `json:"nameAttribute,omitempty"`
}

// LDAPDisabled configures recognition of disabled accounts.
// +kubebuilder:validation:XValidation:rule="self.mode != 'Attribute' || (has(self.attribute) && size(self.attribute) > 0)",message="disabled.attribute is required when disabled.mode is Attribute"
type LDAPDisabled struct {
	// Mode: None; ActiveDirectory (userAccountControl bit 0x2); Attribute (the attribute is present,
	// or equals value when value is set, e.g. employeeType=disabled or pwdAccountLockedTime).
	// +kubebuilder:validation:Enum=None;ActiveDirectory;Attribute
	Mode string `json:"mode"`
	// Attribute that marks a disabled account (mode Attribute).
	// +optional
	Attribute string `json:"attribute,omitempty"`
	// Value the attribute must have; any value counts when empty.
	// +optional
	Value string `json:"value,omitempty"`
}

// LDAPIncremental configures incremental reads.
type LDAPIncremental struct {
	// Attribute used as the high-water mark: modifyTimestamp (generic) or uSNChanged (Active Directory).
	// Membership changes touch the group, not the member: the people in groups changed since the
	// mark (now or at the last read) are read again, or everything when they are many. A read is also
	// full, for uSNChanged, when another domain controller answers or its counter is below the mark.
	// Deleted people are noticed by full reads.
	// +kubebuilder:validation:Enum=modifyTimestamp;uSNChanged
	Attribute string `json:"attribute"`
	// FullReadInterval forces a full read this often; deletions are only detected by full reads.
	// +kubebuilder:default="1h"
	// +optional
	FullReadInterval *metav1.Duration `json:"fullReadInterval,omitempty"`
}

// HRSource reads an HR record.
// +kubebuilder:validation:XValidation:rule="[has(self.configMapRef), has(self.secretRef), has(self.http)].filter(x, x).size() == 1",message="exactly one of configMapRef, secretRef or http must be set"
type HRSource struct {
	// Format of the record.
	// +kubebuilder:validation:Enum=CSV;JSON
	Format string `json:"format"`
	// ConfigMapRef reads the record from a ConfigMap key.
	// +optional
	ConfigMapRef *ConfigMapKeySelector `json:"configMapRef,omitempty"`
	// SecretRef reads the record from a Secret key.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`
	// HTTP fetches the record from a URL.
	// +optional
	HTTP *HTTPRecordSource `json:"http,omitempty"`
	// Delimiter of CSV fields: one of , ; or a tab.
	// +kubebuilder:validation:Enum=",";";";"\t"
	// +kubebuilder:default=","
	// +optional
	Delimiter string `json:"delimiter,omitempty"`
	// IDColumn is the column (CSV) or key (JSON) holding each employee's stable ID.
	// +kubebuilder:validation:MinLength=1
	IDColumn string `json:"idColumn"`
	// GroupsColumn holds group names, separated by groupsSeparator.
	// +optional
	GroupsColumn string `json:"groupsColumn,omitempty"`
	// GroupsSeparator separates group names in groupsColumn.
	// +kubebuilder:default=";"
	// +optional
	GroupsSeparator string `json:"groupsSeparator,omitempty"`
	// DisabledColumn marks disabled employees when its value is one of disabledValues.
	// +optional
	DisabledColumn string `json:"disabledColumn,omitempty"`
	// DisabledValues of disabledColumn, e.g. [inactive, on-leave].
	// +optional
	DisabledValues []string `json:"disabledValues,omitempty"`
}

// HTTPRecordSource fetches an HR record over HTTP(S).
type HTTPRecordSource struct {
	// URL of the record.
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// BearerTokenSecretRef names a Secret key with a bearer token sent in the Authorization header.
	// +optional
	BearerTokenSecretRef *SecretKeySelector `json:"bearerTokenSecretRef,omitempty"`
	// TLS configures server verification for https URLs.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
	// Timeout of the request, body included; at most 5m.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('5m')",message="timeout must be positive and at most 5m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// MaxBytes is the largest record accepted; at most 256 MiB.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=268435456
	// +kubebuilder:default=33554432
	// +optional
	MaxBytes int64 `json:"maxBytes,omitempty"`
}

// DirectorySourceStatus reports what the operator last saw of the source.
type DirectorySourceStatus struct {
	// Conditions: Ready and SourceReachable (reasons Unreachable, TLSFailed, AuthFailed,
	// TransportSecurityRequired, SourceIncomplete, InvalidFilter, NotFound, SecretNotFound,
	// InvalidConfig, Malformed).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// EntriesRead is the number of people read by the last successful read.
	// +optional
	EntriesRead int32 `json:"entriesRead,omitempty"`
	// DisabledEntries is how many of them are disabled.
	// +optional
	DisabledEntries int32 `json:"disabledEntries,omitempty"`
	// InvalidEntries is how many entries could not be read (see problems).
	// +optional
	InvalidEntries int32 `json:"invalidEntries,omitempty"`
	// Problems lists the first entries that could not be read, e.g. malformed HR rows.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Problems []UserProblem `json:"problems,omitempty"`
	// LastReadTime is when the source was last read successfully.
	// +optional
	LastReadTime *metav1.Time `json:"lastReadTime,omitempty"`
}

// DirectorySource is a directory (LDAP/Active Directory) or HR record that people are read from.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dsrc,categories=directorysync
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reachable",type=string,JSONPath=`.status.conditions[?(@.type=="SourceReachable")].reason`
// +kubebuilder:printcolumn:name="Entries",type=integer,JSONPath=`.status.entriesRead`
// +kubebuilder:printcolumn:name="Last Read",type=date,JSONPath=`.status.lastReadTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DirectorySource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DirectorySourceSpec   `json:"spec"`
	Status DirectorySourceStatus `json:"status,omitempty"`
}

// DirectorySourceList is a list of DirectorySources.
// +kubebuilder:object:root=true
type DirectorySourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DirectorySource `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DirectorySource{}, &DirectorySourceList{})
}
