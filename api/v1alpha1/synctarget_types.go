package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SyncTargetSpec says where users go, from which source, by which rules, how often, and how people
// who leave are offboarded. Exactly one target type (today only scim) is set.
// +kubebuilder:validation:XValidation:rule="[has(self.scim)].filter(x, x).size() == 1",message="exactly one target type must be set: spec.scim"
type SyncTargetSpec struct {
	// SourceRef names the DirectorySource (same namespace).
	SourceRef LocalObjectReference `json:"sourceRef"`
	// MappingRefs name the MappingRules (same namespace) applied, ordered by their priority.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	MappingRefs []LocalObjectReference `json:"mappingRefs"`
	// SCIM is a SCIM 2.0 service provider (RFC 7643/7644). It is the first target type; exactly one
	// target type is set.
	// +optional
	SCIM *SCIMTarget `json:"scim,omitempty"`
	// Interval between sync runs.
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
	// DryRun computes the plan and publishes it in status.plan without writing to the target.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Suspend stops syncing until set to false again. Nothing is written while suspended.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// Offboarding says what happens to managed users who leave the directory or the rules' scope.
	// +optional
	Offboarding Offboarding `json:"offboarding,omitempty"`
	// Safety limits what one run may do.
	// +optional
	Safety Safety `json:"safety,omitempty"`
	// ExternalIDPrefix marks the users and groups this SyncTarget manages; it ends with ':'. A user's
	// externalId is this prefix followed by the directory ID with ':' and '%' percent-encoded, a
	// group's is this prefix, "group:" and its name. Ownership is exact: "hr:" never owns "hr:eu:…".
	// Users and groups of another shape are never changed, suspended or deleted. SyncTargets writing
	// to the same app must use prefixes of which none is a prefix of another (OwnershipConflict).
	// Do not change it once users are synced.
	// +kubebuilder:default="dirsync:"
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`:$`
	// +optional
	ExternalIDPrefix string `json:"externalIDPrefix,omitempty"`
	// Adoption takes over target users (enabled) and groups (groups) no SyncTarget owns yet; off
	// unless set.
	// +optional
	Adoption *Adoption `json:"adoption,omitempty"`
	// Actions switches kinds of writes off, e.g. a first run that only updates existing users.
	// +optional
	Actions Actions `json:"actions,omitempty"`
	// Reports keeps each run's complete report in ConfigMaps (see README "Run reports").
	// +optional
	Reports Reports `json:"reports,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// SCIMTarget is a SCIM 2.0 endpoint.
// +kubebuilder:validation:XValidation:rule="has(self.tokenSecretRef) != has(self.oauth2)",message="set exactly one of tokenSecretRef and oauth2"
type SCIMTarget struct {
	// URL is the SCIM base URL, e.g. https://app.example.com/scim/v2.
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// TokenSecretRef names the Secret key holding a static bearer token. Set it or oauth2.
	// +optional
	TokenSecretRef *SecretKeySelector `json:"tokenSecretRef,omitempty"`
	// OAuth2 obtains bearer tokens with the OAuth 2.0 client credentials grant (RFC 6749 §4.4),
	// renewed before they expire. Set it or tokenSecretRef.
	// +optional
	OAuth2 *OAuth2ClientCredentials `json:"oauth2,omitempty"`
	// TLS configures server verification.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
	// Timeout of each request; at most 5m.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('5m')",message="timeout must be positive and at most 5m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// MaxConcurrency bounds parallel requests to the target.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +kubebuilder:default=4
	// +optional
	MaxConcurrency int32 `json:"maxConcurrency,omitempty"`
	// PageSize of listings. Default: the largest the target advertises (filter.maxResults, at most
	// 1000), else 100; never more than the target advertises.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	PageSize int32 `json:"pageSize,omitempty"`
	// MaxMembersPerRequest bounds the group members one PATCH operation adds or removes; targets cap
	// it (100 is common). Lowered to bulk.maxOperations where the target advertises one.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=50
	// +optional
	MaxMembersPerRequest int32 `json:"maxMembersPerRequest,omitempty"`
	// MaxRequestsPerSecond paces every request to the target; 0 does not pace. 429 answers and their
	// Retry-After (or RateLimit-Reset, X-RateLimit-Reset, X-Retry-After) are honoured either way.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxRequestsPerSecond int32 `json:"maxRequestsPerSecond,omitempty"`
	// Capabilities override what the target's /ServiceProviderConfig says, for servers that lie.
	// +optional
	Capabilities *SCIMCapabilities `json:"capabilities,omitempty"`
	// AnonymizedEmail is the email an anonymized user keeps where the target requires one;
	// "{hash}" is replaced by a hash of the user's externalId. Default anon-{hash}@invalid.example
	// (a reserved domain: no mail can reach anyone).
	// +kubebuilder:validation:Pattern=`^[^@\s]*\{hash\}[^@\s]*@[^@\s]+$`
	// +optional
	AnonymizedEmail string `json:"anonymizedEmail,omitempty"`
}

// OAuth2ClientCredentials configures the OAuth 2.0 client credentials grant.
type OAuth2ClientCredentials struct {
	// TokenURL is the authorization server's token endpoint.
	// +kubebuilder:validation:Pattern=`^https?://`
	TokenURL string `json:"tokenURL"`
	// ClientSecretRef names the Secret holding the client id and secret.
	ClientSecretRef OAuth2ClientSecretRef `json:"clientSecretRef"`
	// Scopes to request.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Scopes []string `json:"scopes,omitempty"`
}

// OAuth2ClientSecretRef names a Secret with an OAuth 2.0 client id and secret.
type OAuth2ClientSecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// ClientIDKey is the key of the client id; default client_id.
	// +optional
	ClientIDKey string `json:"clientIDKey,omitempty"`
	// ClientSecretKey is the key of the client secret; default client_secret.
	// +optional
	ClientSecretKey string `json:"clientSecretKey,omitempty"`
}

// SCIMCapabilities override discovered capabilities; unset fields keep what the target says.
type SCIMCapabilities struct {
	// FilterSupported says whether the target filters (filter.supported). The operator never
	// needs filters; it uses them to look a user up after an ambiguous failure.
	// +optional
	FilterSupported *bool `json:"filterSupported,omitempty"`
	// PatchSupported says whether the target supports PATCH (patch.supported); without it users are
	// updated by read-modify-write PUT.
	// +optional
	PatchSupported *bool `json:"patchSupported,omitempty"`
	// ETagSupported says whether the target supports ETags (etag.supported); with them PUT sends
	// If-Match.
	// +optional
	ETagSupported *bool `json:"etagSupported,omitempty"`
	// MaxResults is the largest page the target serves (filter.maxResults).
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxResults *int32 `json:"maxResults,omitempty"`
	// BulkMaxOperations (bulk.maxOperations) also caps the members per request; 0 means no bulk.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BulkMaxOperations *int32 `json:"bulkMaxOperations,omitempty"`
}

// Offboarding policy: suspend (deactivate) first; after the grace period delete, anonymize or keep.
type Offboarding struct {
	// GracePeriod between suspension and the afterGrace action, as a duration (720h = 30 days).
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="gracePeriod must not be negative"
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
	// AfterGrace: Delete removes the user, Anonymize overwrites personal data and keeps the account
	// suspended, Keep leaves it suspended.
	// +kubebuilder:validation:Enum=Delete;Anonymize;Keep
	// +kubebuilder:default=Delete
	// +optional
	AfterGrace string `json:"afterGrace,omitempty"`
	// OutOfScope says what happens to the users of people who are still in the directory but whom no
	// MappingRule's scope selects any more: Suspend offboards them like leavers (suspension, then
	// afterGrace), Keep leaves them as they are. People the directory disables are suspended either way.
	// +kubebuilder:validation:Enum=Suspend;Keep
	// +kubebuilder:default=Suspend
	// +optional
	OutOfScope string `json:"outOfScope,omitempty"`
	// FirstSeenDisabled says what happens to a person the directory already disables when the
	// operator first sees them (no user in the target yet): Skip creates nothing; CreateSuspended
	// creates the user inactive. Users who exist are suspended when disabled either way.
	// +kubebuilder:validation:Enum=Skip;CreateSuspended
	// +kubebuilder:default=Skip
	// +optional
	FirstSeenDisabled string `json:"firstSeenDisabled,omitempty"`
}

// Safety limits.
type Safety struct {
	// MaxDeletions is the most users one run may suspend, delete or anonymize. A run that would do more
	// stops before writing anything and sets Stalled (reason DeletionThresholdExceeded) until the limit
	// is raised or the annotation sync.directorysync.io/approve-deletions is set for one run.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=25
	// +optional
	MaxDeletions *int32 `json:"maxDeletions,omitempty"`
	// MaxDeletionPercent is the same limit as a percentage of managed users, rounded up (so one
	// person may always leave); 0 disables it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	MaxDeletionPercent *int32 `json:"maxDeletionPercent,omitempty"`
	// MinSourceFraction guards against a suspiciously empty read: when the source yields fewer than this
	// percentage of the currently managed users, nobody is offboarded. 0 disables it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=50
	// +optional
	MinSourcePercent *int32 `json:"minSourcePercent,omitempty"`
	// MaxCreates is the most users one run may create; more stop the run like MaxDeletions (same
	// approval). Unset is unlimited.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxCreates *int32 `json:"maxCreates,omitempty"`
	// MaxAdoptions is the most users and groups one run may adopt together (see spec.adoption); more
	// stop the run like MaxDeletions (same approval).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=100
	// +optional
	MaxAdoptions *int32 `json:"maxAdoptions,omitempty"`
	// MaxMembershipRemovals is the most group memberships one run may remove; more stop the run like
	// MaxDeletions (same approval). Unset is unlimited.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxMembershipRemovals *int32 `json:"maxMembershipRemovals,omitempty"`
}

// Adoption matches unmanaged target users to mapped people, and unmanaged target groups to the
// groups the rules put people in, and takes them over: an adopted user or group gets the ownership
// marker (externalId) and is then managed like any other. A person or group matching several target
// objects, or a target object owned by anyone else, is a Conflict problem, never an adoption.
type Adoption struct {
	// Enabled turns the adoption of users on.
	Enabled bool `json:"enabled"`
	// Groups adopts groups: a target group without externalId whose displayName equals the name of
	// a group the rules put people in (case-insensitively: RFC 7643 §8.7.1 declares it
	// caseExact=false) gets the ownership marker. Several such groups, or one carrying any
	// externalId, are a Conflict problem and nothing is done for that name. An adopted group's
	// members that this SyncTarget does not own are never removed; those it owns follow the
	// directory from then on. Independent of enabled; adopted groups count against
	// safety.maxAdoptions.
	// +optional
	Groups bool `json:"groups,omitempty"`
	// MatchOn lists the attributes tried in order; the first one for which the person has a value
	// and some target user matches decides. userName and email compare case-insensitively;
	// externalId matches a target user whose externalId is the bare directory id.
	// +kubebuilder:default={userName,email}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	MatchOn []AdoptionAttribute `json:"matchOn,omitempty"`
}

// AdoptionAttribute is an attribute adoption matches on.
// +kubebuilder:validation:Enum=userName;email;employeeNumber;externalId
type AdoptionAttribute string

// Actions switches kinds of writes; every kind is on unless set to false. Switched-off actions are
// listed in the plan and the run report as withheld.
type Actions struct {
	// Create users and groups.
	// +optional
	Create *bool `json:"create,omitempty"`
	// Update users' attributes and group memberships, and reactivate users.
	// +optional
	Update *bool `json:"update,omitempty"`
	// Suspend users who left the source or were disabled there (no grace period starts while off).
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
	// Delete or anonymize users after the grace period (the grace period keeps running while off).
	// +optional
	Delete *bool `json:"delete,omitempty"`
}

// Reports configures the per-run report ConfigMaps.
type Reports struct {
	// Retain is how many run reports are kept per SyncTarget; 0 keeps none.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	Retain *int32 `json:"retain,omitempty"`
}

// SyncTargetStatus reports the last run.
type SyncTargetStatus struct {
	// Conditions: Ready, Synced, Degraded, Stalled (kstatus compatible), SourceReachable.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastSyncTime is when the last run finished.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// LastSyncDuration is how long the last run took.
	// +optional
	LastSyncDuration *metav1.Duration `json:"lastSyncDuration,omitempty"`
	// ManagedUsers is the number of target users this SyncTarget manages.
	// +optional
	ManagedUsers int32 `json:"managedUsers"`
	// LastRun counts what the last run did (or, in dry-run, would do).
	// +optional
	LastRun RunCounts `json:"lastRun,omitempty"`
	// Problems lists the first users that could not be processed; problemsTotal counts them all.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Problems []UserProblem `json:"problems,omitempty"`
	// ProblemsTotal is the number of users that could not be processed in the last run.
	// +optional
	ProblemsTotal int32 `json:"problemsTotal"`
	// Plan is the last computed plan when it was not applied (dry-run or a safety stop).
	// +optional
	Plan *PlanSummary `json:"plan,omitempty"`
	// Suspended lists the users this SyncTarget suspended, with the start of their grace period.
	// It is the operator's memory across restarts: deletion happens gracePeriod after since.
	// +listType=map
	// +listMapKey=externalID
	// +optional
	Suspended []SuspendedUser `json:"suspended,omitempty"`
	// LastHandledSyncRequest is the value of the sync-requested annotation when the last run started.
	// +optional
	LastHandledSyncRequest string `json:"lastHandledSyncRequest,omitempty"`
	// ApprovedDeletionsUsed records the value of the approval annotation already handled: consumed
	// by the run it approved, or ignored because it named no blocked plan. Either way it never lifts
	// a block again.
	// +optional
	ApprovedDeletionsUsed string `json:"approvedDeletionsUsed,omitempty"`
	// PendingApproval is the plan a safety limit blocked. An approval applies to exactly this plan:
	// set the annotation sync.directorysync.io/approve-deletions to its fingerprint.
	// +optional
	PendingApproval *PendingApproval `json:"pendingApproval,omitempty"`
	// IgnoredApproval is the last value of the approval annotation that did not name the blocked
	// plan (or came when no plan was blocked): it approved nothing.
	// +optional
	IgnoredApproval string `json:"ignoredApproval,omitempty"`
	// HandledPurge is the value of the purge annotation a run has acted on (one-shot).
	// +optional
	HandledPurge string `json:"handledPurge,omitempty"`
	// HandledGraceExtension is the value of the extend-grace annotation a run has acted on (one-shot).
	// +optional
	HandledGraceExtension string `json:"handledGraceExtension,omitempty"`
	// Requests tells what became of the last purge and grace extension requests.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Requests []string `json:"requests,omitempty"`
	// LastReport names the ConfigMap holding the last run's complete report.
	// +optional
	LastReport string `json:"lastReport,omitempty"`
	// OnDemand is the trace of the last provision-now request.
	// +optional
	OnDemand *OnDemandTrace `json:"onDemand,omitempty"`
}

// RunCounts counts actions of one run; a missing counter is zero.
type RunCounts struct {
	// Adopted counts adopted users (adopted groups are group changes).
	// +optional
	Adopted int32 `json:"adopted,omitempty"`
	// +optional
	Created int32 `json:"created,omitempty"`
	// +optional
	Updated int32 `json:"updated,omitempty"`
	// +optional
	Suspended int32 `json:"suspended,omitempty"`
	// +optional
	Reactivated int32 `json:"reactivated,omitempty"`
	// +optional
	Deleted int32 `json:"deleted,omitempty"`
	// +optional
	Anonymized int32 `json:"anonymized,omitempty"`
	// GroupChanges counts adopted and created groups and added or removed memberships.
	// +optional
	GroupChanges int32 `json:"groupChanges,omitempty"`
	// Skipped counts entries that could not be read or mapped and plan problems (see problems).
	// +optional
	Skipped int32 `json:"skipped,omitempty"`
	// Held counts people present in the directory whose entry could not be read or mapped: their
	// users were left exactly as they are (no update, no suspension or deletion).
	// +optional
	Held int32 `json:"held,omitempty"`
	// Failed counts actions the target rejected.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Withheld counts actions spec.actions switched off.
	// +optional
	Withheld int32 `json:"withheld,omitempty"`
}

// PlanSummary is a plan that was computed but not applied.
type PlanSummary struct {
	// Counts of planned actions.
	Counts RunCounts `json:"counts"`
	// Actions lists the first planned actions in order, e.g. "create alice (alice@example.com)".
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Actions []string `json:"actions,omitempty"`
	// TotalActions is the number of planned actions.
	TotalActions int32 `json:"totalActions"`
	// Blocked says why the plan was not applied when a safety limit stopped it.
	// +optional
	Blocked string `json:"blocked,omitempty"`
}

// PendingApproval identifies a blocked plan and what it would do.
type PendingApproval struct {
	// Fingerprint identifies the blocked plan's limited actions (offboardings for the deletion
	// threshold): the value the approval annotation must carry.
	Fingerprint string `json:"fingerprint"`
	// Reason is the limit that blocked the plan, e.g. DeletionThresholdExceeded.
	Reason string `json:"reason"`
	// Counts of the blocked plan's actions.
	Counts RunCounts `json:"counts"`
}

// SuspendedUser is a user the operator suspended and may offboard after the grace period.
type SuspendedUser struct {
	// ExternalID of the target user.
	ExternalID string `json:"externalID"`
	// UserName at the time of suspension.
	// +optional
	UserName string `json:"userName,omitempty"`
	// Since is when the user was suspended; the grace period counts from here.
	Since metav1.Time `json:"since"`
}

// SyncTarget continuously syncs the people of a DirectorySource, mapped by MappingRules, into an app.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=starget,categories=directorysync
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.managedUsers`
// +kubebuilder:printcolumn:name="Problems",type=integer,JSONPath=`.status.problemsTotal`
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Dry Run",type=boolean,JSONPath=`.spec.dryRun`,priority=1
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.scim.url`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SyncTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SyncTargetSpec   `json:"spec"`
	Status SyncTargetStatus `json:"status,omitempty"`
}

// SyncTargetList is a list of SyncTargets.
// +kubebuilder:object:root=true
type SyncTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SyncTarget `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SyncTarget{}, &SyncTargetList{})
}
