package connect

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-logr/logr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/target"
)

// TargetType describes one kind of target a SyncTarget writes to. A new type adds its member to
// SyncTargetSpec (and to the spec's exactly-one CEL rule), its package under internal/target/ and
// one entry in targetTypes; the controllers, the webhook and the watches learn it from here.
type TargetType struct {
	// Member is the spec field (its JSON name) that selects the type.
	Member string
	// Selected reports whether the spec sets the type's member.
	Selected func(spec *v1.SyncTargetSpec) bool
	// Refs names the Secrets and ConfigMaps the type reads; a change to one of them starts a run.
	Refs func(spec *v1.SyncTargetSpec) Refs
	// AppKey identifies the app written to: SyncTargets with the same key and overlapping
	// externalIDPrefix would claim each other's users (see Overlapping).
	AppKey func(spec *v1.SyncTargetSpec) string
	// Concurrency bounds the parallel writes of one run.
	Concurrency func(spec *v1.SyncTargetSpec) int
	// Build makes the runtime target of one run; release ends the run (closes idle connections).
	Build func(ctx context.Context, spec *v1.SyncTargetSpec, r Resolver, log logr.Logger) (t target.Target, release func(), err error)
}

// targetTypes lists every target type, in the order of the spec's members.
var targetTypes = []TargetType{scimTargetType}

var scimTargetType = TargetType{
	Member:   "scim",
	Selected: func(s *v1.SyncTargetSpec) bool { return s.SCIM != nil },
	Refs: func(s *v1.SyncTargetSpec) Refs {
		refs := tlsRefs(s.SCIM.TLS)
		switch {
		case s.SCIM.TokenSecretRef != nil:
			refs.Secrets = append(refs.Secrets, s.SCIM.TokenSecretRef.Name)
		case s.SCIM.OAuth2 != nil:
			refs.Secrets = append(refs.Secrets, s.SCIM.OAuth2.ClientSecretRef.Name)
		}
		return refs
	},
	AppKey:      func(s *v1.SyncTargetSpec) string { return AppKey(s.SCIM.URL) },
	Concurrency: func(s *v1.SyncTargetSpec) int { return s.SCIM.GetMaxConcurrency() },
	Build: func(ctx context.Context, s *v1.SyncTargetSpec, r Resolver, log logr.Logger) (target.Target, func(), error) {
		t, release, err := SCIMTarget(ctx, *s.SCIM, r, log)
		if err != nil {
			return nil, nil, fmt.Errorf("SCIM target: %w", err)
		}
		return t, release, nil
	},
}

// Refs names Secrets and ConfigMaps of the object's namespace that a spec reads.
type Refs struct {
	Secrets    []string
	ConfigMaps []string
}

func (r Refs) add(o Refs) Refs {
	return Refs{Secrets: append(r.Secrets, o.Secrets...), ConfigMaps: append(r.ConfigMaps, o.ConfigMaps...)}
}

// tlsRefs names the Secret or ConfigMap holding a CA bundle.
func tlsRefs(t *v1.TLSConfig) Refs {
	switch {
	case t == nil || t.CA == nil:
	case t.CA.SecretRef != nil:
		return Refs{Secrets: []string{t.CA.SecretRef.Name}}
	case t.CA.ConfigMapRef != nil:
		return Refs{ConfigMaps: []string{t.CA.ConfigMapRef.Name}}
	}
	return Refs{}
}

// ConfigError is a spec the operator cannot act on, whatever it reads: it needs a person.
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return e.msg }

// TargetTypeOf returns the one target type the spec sets. A spec setting none (stored where the
// CRD's validation did not run) or several gets a ConfigError naming the members.
func TargetTypeOf(spec *v1.SyncTargetSpec) (*TargetType, error) {
	var set []*TargetType
	for i := range targetTypes {
		if targetTypes[i].Selected(spec) {
			set = append(set, &targetTypes[i])
		}
	}
	if len(set) == 1 {
		return set[0], nil
	}
	members := make([]string, 0, len(targetTypes))
	for _, tt := range targetTypes {
		members = append(members, "spec."+tt.Member)
	}
	if len(set) == 0 {
		return nil, &ConfigError{"the SyncTarget sets no target type: set exactly one of " + strings.Join(members, ", ")}
	}
	names := make([]string, 0, len(set))
	for _, tt := range set {
		names = append(names, "spec."+tt.Member)
	}
	return nil, &ConfigError{fmt.Sprintf("the SyncTarget sets %d target types (%s): set exactly one of %s",
		len(set), strings.Join(names, ", "), strings.Join(members, ", "))}
}

// TargetRefs names the Secrets and ConfigMaps a SyncTarget's target reads, for every member set
// (also of a spec that sets several, so that fixing it is noticed).
func TargetRefs(spec *v1.SyncTargetSpec) Refs {
	var refs Refs
	for _, tt := range targetTypes {
		if tt.Selected(spec) {
			refs = refs.add(tt.Refs(spec))
		}
	}
	return refs
}

// TargetAppKey identifies the app a SyncTarget writes to; "" when it sets no single target type.
func TargetAppKey(spec *v1.SyncTargetSpec) string {
	tt, err := TargetTypeOf(spec)
	if err != nil {
		return ""
	}
	return tt.AppKey(spec)
}
