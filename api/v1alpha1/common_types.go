package v1alpha1

// Condition types shared by the three kinds. Ready summarises the others; the rest explain why.
const (
	// ConditionReady is True when the object is fully working.
	ConditionReady = "Ready"
	// ConditionSourceReachable reports whether the directory could be read.
	ConditionSourceReachable = "SourceReachable"
	// ConditionValid reports whether a MappingRule compiles.
	ConditionValid = "Valid"
	// ConditionSynced is True when the last run applied its whole plan.
	ConditionSynced = "Synced"
	// ConditionDegraded is True when the last run finished with per-user failures or was cut short.
	ConditionDegraded = "Degraded"
	// ConditionStalled is True when the operator will not proceed without a change by a person
	// (e.g. the deletion threshold was exceeded, or the spec refers to something invalid).
	ConditionStalled = "Stalled"
)

// Condition reasons.
const (
	ReasonSucceeded   = "Succeeded"
	ReasonReconciling = "Reconciling"
	ReasonUnreachable = "Unreachable"
	ReasonAuthFailed  = "AuthFailed"
	// ReasonTransportSecurityRequired: the directory refuses a simple bind without TLS (use ldaps:// or StartTLS).
	ReasonTransportSecurityRequired = "TransportSecurityRequired"
	// ReasonTLSFailed: the TLS handshake or the server certificate's verification failed.
	ReasonTLSFailed                 = "TLSFailed"
	ReasonInvalidFilter             = "InvalidFilter"
	ReasonInvalidConfig             = "InvalidConfig"
	ReasonNotFound                  = "NotFound"
	ReasonMalformed                 = "Malformed"
	ReasonSecretNotFound            = "SecretNotFound"
	ReasonConfigMapNotFound         = "ConfigMapNotFound"
	ReasonKeyNotFound               = "KeyNotFound"
	ReasonInvalidExpression         = "InvalidExpression"
	ReasonSourceNotReady            = "SourceNotReady"
	ReasonMappingNotReady           = "MappingNotReady"
	ReasonTargetUnreachable         = "TargetUnreachable"
	ReasonTargetAuthFailed          = "TargetAuthFailed"
	ReasonTargetError               = "TargetError"
	ReasonDeletionThresholdExceeded = "DeletionThresholdExceeded"
	ReasonSourceIncomplete          = "SourceIncomplete"
	ReasonSuspiciouslyEmptySource   = "SuspiciouslyEmptySource"
	ReasonPartialFailure            = "PartialFailure"
	ReasonDryRun                    = "DryRun"
	ReasonSuspended                 = "Suspended"
	ReasonApprovalIgnored           = "ApprovalIgnored"
	ReasonOwnershipConflict         = "OwnershipConflict"
	// ReasonUnknownAttribute: a MappingRule maps an attribute the target's /Schemas does not define.
	ReasonUnknownAttribute = "UnknownAttribute"
)

// AnnotationSyncRequested, set on a SyncTarget to a new value (e.g. the current time), starts a run
// at once. The run records the value in status.lastHandledSyncRequest, so a client can wait for it.
const AnnotationSyncRequested = "sync.directorysync.io/sync-requested"

// AnnotationApproveDeletions approves one plan that a safety limit blocked: its value must be the
// fingerprint in status.pendingApproval (the Stalled message prints the kubectl command). It lifts
// the block only if the next run plans exactly that (same users, same actions); any other value is
// ignored (event ApprovalIgnored, status.ignoredApproval). Either way the value is recorded in
// status.approvedDeletionsUsed and never approves again. The annotation itself is left alone.
const AnnotationApproveDeletions = "sync.directorysync.io/approve-deletions"

// AnnotationPurge, set on a SyncTarget to userNames or externalIds (comma separated) of users it
// suspended, offboards them in the next run without waiting for the grace period to end. Users still
// in the source are never affected. One-shot: the run records the value in status.handledPurge.
const AnnotationPurge = "sync.directorysync.io/purge"

// AnnotationExtendGrace, set to "<userName or externalId>=<duration>[,...]", moves the grace clock of
// suspended users forward once (recorded in status.handledGraceExtension; see status.requests).
const AnnotationExtendGrace = "sync.directorysync.io/extend-grace"

// Reasons of the per-kind limits of spec.safety.
const (
	ReasonCreateThresholdExceeded            = "CreateThresholdExceeded"
	ReasonAdoptionThresholdExceeded          = "AdoptionThresholdExceeded"
	ReasonMembershipRemovalThresholdExceeded = "MembershipRemovalThresholdExceeded"
)

// SecretKeySelector names a key of a Secret in the object's namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key within the Secret's data.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// ConfigMapKeySelector names a key of a ConfigMap in the object's namespace.
type ConfigMapKeySelector struct {
	// Name of the ConfigMap.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key within the ConfigMap's data.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// CABundleSource names a PEM CA bundle in a Secret or a ConfigMap (exactly one).
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.configMapRef)",message="exactly one of secretRef or configMapRef must be set"
type CABundleSource struct {
	// SecretRef names a Secret key holding PEM certificates.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`
	// ConfigMapRef names a ConfigMap key holding PEM certificates.
	// +optional
	ConfigMapRef *ConfigMapKeySelector `json:"configMapRef,omitempty"`
}

// TLSConfig configures how the operator verifies a server.
type TLSConfig struct {
	// CA is the bundle used to verify the server; the system roots are used when unset.
	// +optional
	CA *CABundleSource `json:"ca,omitempty"`
	// ServerName overrides the name checked against the server certificate.
	// +optional
	ServerName string `json:"serverName,omitempty"`
	// InsecureSkipVerify disables certificate verification. Only for testing; never in production.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// UserProblem is one entry of the per-user report: an entry that could not be processed.
type UserProblem struct {
	// Subject names the entry: a userName, a directory ID, a DN or "line 12" of an HR record.
	Subject string `json:"subject"`
	// Reason is machine readable, e.g. MissingField, UnknownLookupKey, Duplicate, Conflict, TargetError.
	Reason string `json:"reason"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}
