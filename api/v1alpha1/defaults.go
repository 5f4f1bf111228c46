package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of optional fields, the same values as the +kubebuilder:default markers (defaults_test.go
// compares them with the generated CRDs). The API server fills the markers in; the accessors below
// give controllers and connect the same values for objects that bypassed defaulting (unit tests,
// objects created before a field existed).
const (
	DefaultProbeInterval      = 5 * time.Minute
	DefaultLDAPTimeout        = 30 * time.Second
	DefaultFullReadInterval   = time.Hour
	DefaultHTTPTimeout        = 30 * time.Second
	DefaultInterval           = 15 * time.Minute
	DefaultSCIMTimeout        = 30 * time.Second
	DefaultSCIMMaxConcurrency = 4
	DefaultGracePeriod        = 720 * time.Hour
	DefaultAfterGrace         = "Delete"
	DefaultExternalIDPrefix   = "dirsync:"
	DefaultMaxDeletions       = 25
	DefaultMaxDeletionPercent = 10
	DefaultMinSourcePercent   = 50
	DefaultMaxAdoptions       = 100
	DefaultReportsRetain      = 10
)

// positiveOr returns d, or def when d is unset or not positive.
func positiveOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

func int32Or(v *int32, def int) int {
	if v == nil {
		return def
	}
	return int(*v)
}

// GetProbeInterval is how often the source is probed.
func (s *DirectorySourceSpec) GetProbeInterval() time.Duration {
	return positiveOr(s.ProbeInterval, DefaultProbeInterval)
}

// GetTimeout bounds connecting and each LDAP request.
func (s *LDAPSource) GetTimeout() time.Duration { return positiveOr(s.Timeout, DefaultLDAPTimeout) }

// GetFullReadInterval is how often an incremental source reads in full.
func (s *LDAPIncremental) GetFullReadInterval() time.Duration {
	return positiveOr(s.FullReadInterval, DefaultFullReadInterval)
}

// GetTimeout bounds the HTTP request for the HR record.
func (s *HTTPRecordSource) GetTimeout() time.Duration {
	return positiveOr(s.Timeout, DefaultHTTPTimeout)
}

// GetInterval is the time between sync runs.
func (s *SyncTargetSpec) GetInterval() time.Duration { return positiveOr(s.Interval, DefaultInterval) }

// GetExternalIDPrefix is the ownership marker's prefix.
func (s *SyncTargetSpec) GetExternalIDPrefix() string {
	if s.ExternalIDPrefix == "" {
		return DefaultExternalIDPrefix
	}
	return s.ExternalIDPrefix
}

// GetTimeout bounds each SCIM request.
func (s *SCIMTarget) GetTimeout() time.Duration { return positiveOr(s.Timeout, DefaultSCIMTimeout) }

// GetMaxConcurrency bounds parallel SCIM requests.
func (s *SCIMTarget) GetMaxConcurrency() int {
	if s.MaxConcurrency <= 0 {
		return DefaultSCIMMaxConcurrency
	}
	return int(s.MaxConcurrency)
}

// GetGracePeriod is the time between suspension and afterGrace; 0 is allowed (no grace).
func (o *Offboarding) GetGracePeriod() time.Duration {
	if o.GracePeriod == nil || o.GracePeriod.Duration < 0 {
		return DefaultGracePeriod
	}
	return o.GracePeriod.Duration
}

// GetAfterGrace is Delete, Anonymize or Keep.
func (o *Offboarding) GetAfterGrace() string {
	if o.AfterGrace == "" {
		return DefaultAfterGrace
	}
	return o.AfterGrace
}

// GetMaxDeletions is the most users one run may suspend, delete or anonymize.
func (s *Safety) GetMaxDeletions() int { return int32Or(s.MaxDeletions, DefaultMaxDeletions) }

// GetMaxDeletionPercent is the same limit as a percentage of managed users; 0 disables it.
func (s *Safety) GetMaxDeletionPercent() int {
	return int32Or(s.MaxDeletionPercent, DefaultMaxDeletionPercent)
}

// GetMinSourcePercent is the smallest read, in percent of managed users, that may offboard anyone.
func (s *Safety) GetMinSourcePercent() int {
	return int32Or(s.MinSourcePercent, DefaultMinSourcePercent)
}

// GetMaxAdoptions is the most users one run may adopt.
func (s *Safety) GetMaxAdoptions() int { return int32Or(s.MaxAdoptions, DefaultMaxAdoptions) }

// GetRetain is how many run reports are kept.
func (r *Reports) GetRetain() int { return int32Or(r.Retain, DefaultReportsRetain) }
