package connect

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
)

// SourceType describes one kind of source a DirectorySource reads people from. A new type adds its
// member to DirectorySourceSpec (and to the spec's exactly-one CEL rule), its package under
// internal/directory/ and one entry in sourceTypes; the controllers and their watches learn it from
// here.
type SourceType struct {
	// Member is the spec field (its JSON name) that selects the type.
	Member string
	// Selected reports whether the spec sets the type's member.
	Selected func(spec *v1.DirectorySourceSpec) bool
	// Refs names the Secrets and ConfigMaps the type reads; a change to one of them starts a probe
	// of the DirectorySource and a run of the SyncTargets using it.
	Refs func(spec *v1.DirectorySourceSpec) Refs
	// Build makes a source for one read (a probe, a run, a provision-now).
	Build func(ctx context.Context, spec *v1.DirectorySourceSpec, r Resolver, log logr.Logger) (directory.Source, error)
	// Cache, when set, keeps a source between the runs of a SyncTarget where it holds state worth
	// keeping. It checks the spec (and the Secrets it reads) now, so that errors show up in this
	// run, and returns the cache key — what the kept source depends on beyond the DirectorySource's
	// UID and generation, e.g. a fingerprint of its Secrets — and how to build the source to keep.
	// A nil build means this spec's source is not kept: Build makes a fresh one each run.
	Cache func(ctx context.Context, spec *v1.DirectorySourceSpec, r Resolver, env Env) (key string, build func() (directory.Source, error), err error)
}

// Env is what a kept source needs from its caller.
type Env struct {
	Log logr.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// sourceTypes lists every source type, in the order of the spec's members.
var sourceTypes = []SourceType{ldapSourceType, hrSourceType}

var ldapSourceType = SourceType{
	Member:   "ldap",
	Selected: func(s *v1.DirectorySourceSpec) bool { return s.LDAP != nil },
	Refs: func(s *v1.DirectorySourceSpec) Refs {
		return Refs{Secrets: []string{s.LDAP.BindSecretRef.Name}}.add(tlsRefs(s.LDAP.TLS))
	},
	Build: func(ctx context.Context, s *v1.DirectorySourceSpec, r Resolver, log logr.Logger) (directory.Source, error) {
		return OpenLDAP(ctx, s.LDAP, r, log, "")
	},
	// An incremental source keeps its last full read; each read resolves the Secrets again.
	Cache: func(ctx context.Context, s *v1.DirectorySourceSpec, r Resolver, env Env) (string, func() (directory.Source, error), error) {
		if s.LDAP.Incremental == nil {
			return "", nil, nil
		}
		if _, err := LDAPConfig(ctx, s.LDAP, r); err != nil {
			return "", nil, err
		}
		spec := s.LDAP.DeepCopy()
		return "incremental", func() (directory.Source, error) {
			return &directory.Incremental{
				Open: func(ctx context.Context, mark string) (directory.Source, error) {
					return OpenLDAP(ctx, spec, r, env.Log, mark)
				},
				FullEvery: spec.Incremental.GetFullReadInterval(),
				Now:       env.Now,
			}, nil
		}, nil
	},
}

var hrSourceType = SourceType{
	Member:   "hr",
	Selected: func(s *v1.DirectorySourceSpec) bool { return s.HR != nil },
	Refs: func(s *v1.DirectorySourceSpec) Refs {
		var refs Refs
		h := s.HR
		if h.ConfigMapRef != nil {
			refs.ConfigMaps = append(refs.ConfigMaps, h.ConfigMapRef.Name)
		}
		if h.SecretRef != nil {
			refs.Secrets = append(refs.Secrets, h.SecretRef.Name)
		}
		if h.HTTP != nil {
			if h.HTTP.BearerTokenSecretRef != nil {
				refs.Secrets = append(refs.Secrets, h.HTTP.BearerTokenSecretRef.Name)
			}
			refs = refs.add(tlsRefs(h.HTTP.TLS))
		}
		return refs
	},
	Build: func(ctx context.Context, s *v1.DirectorySourceSpec, r Resolver, _ logr.Logger) (directory.Source, error) {
		return openHR(ctx, s.HR, r)
	},
	// A record fetched over HTTP keeps its ETag; it holds the token and CA it was built with, so a
	// changed Secret makes a new one.
	Cache: func(ctx context.Context, s *v1.DirectorySourceSpec, r Resolver, _ Env) (string, func() (directory.Source, error), error) {
		if s.HR.HTTP == nil {
			return "", nil, nil
		}
		fingerprint, err := HTTPFingerprint(ctx, s.HR.HTTP, r)
		if err != nil {
			return "", nil, err
		}
		h := s.HR.DeepCopy()
		return fingerprint, func() (directory.Source, error) { return openHR(ctx, h, r) }, nil
	},
}

// SourceTypeOf returns the one source type the spec sets. A spec setting none (stored where the
// CRD's validation did not run) or several is an InvalidConfig error naming the members.
func SourceTypeOf(spec *v1.DirectorySourceSpec) (*SourceType, error) {
	var set []string
	var found *SourceType
	members := make([]string, 0, len(sourceTypes))
	for i := range sourceTypes {
		members = append(members, "spec."+sourceTypes[i].Member)
		if sourceTypes[i].Selected(spec) {
			found = &sourceTypes[i]
			set = append(set, "spec."+sourceTypes[i].Member)
		}
	}
	switch len(set) {
	case 1:
		return found, nil
	case 0:
		return nil, directory.Errorf(directory.KindInvalidConfig, nil, "the DirectorySource sets no source type: set exactly one of %s", strings.Join(members, ", "))
	}
	return nil, directory.Errorf(directory.KindInvalidConfig, nil, "the DirectorySource sets %d source types (%s): set exactly one of %s",
		len(set), strings.Join(set, ", "), strings.Join(members, ", "))
}

// SourceRefs names the Secrets and ConfigMaps a DirectorySource reads, for every member set (also
// of a spec that sets several, so that fixing it is noticed).
func SourceRefs(spec *v1.DirectorySourceSpec) Refs {
	var refs Refs
	for _, st := range sourceTypes {
		if st.Selected(spec) {
			refs = refs.add(st.Refs(spec))
		}
	}
	return refs
}

// Source builds the directory.Source of a DirectorySource for one read. Sources worth keeping
// between runs are built through KeptSource instead.
func Source(ctx context.Context, spec v1.DirectorySourceSpec, r Resolver, log logr.Logger) (directory.Source, error) {
	st, err := SourceTypeOf(&spec)
	if err != nil {
		return nil, err
	}
	return st.Build(ctx, &spec, r, log)
}

// KeptSource says how to build a source worth keeping between runs (see SourceType.Cache) and its
// cache key; a nil build means: build a fresh source each run with Source.
func KeptSource(ctx context.Context, spec *v1.DirectorySourceSpec, r Resolver, env Env) (key string, build func() (directory.Source, error), err error) {
	st, err := SourceTypeOf(spec)
	if err != nil || st.Cache == nil {
		return "", nil, err
	}
	return st.Cache(ctx, spec, r, env)
}

// openHR builds an HR source from a ConfigMap, a Secret or a URL.
func openHR(ctx context.Context, h *v1.HRSource, r Resolver) (directory.Source, error) {
	cfg := HRConfig(h)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case h.ConfigMapRef != nil:
		data, err := configMap(ctx, r, h.ConfigMapRef.Name, h.ConfigMapRef.Key)
		if err != nil {
			return nil, err
		}
		return hr.NewStatic(data, cfg), nil
	case h.SecretRef != nil:
		data, err := secret(ctx, r, h.SecretRef.Name, h.SecretRef.Key)
		if err != nil {
			return nil, err
		}
		return hr.NewStatic(data, cfg), nil
	case h.HTTP != nil:
		opts := hr.HTTPOptions{Timeout: requestTimeout(h.HTTP.GetTimeout()), MaxBytes: min(h.HTTP.MaxBytes, MaxHRBytes)}
		if ref := h.HTTP.BearerTokenSecretRef; ref != nil {
			tok, err := secret(ctx, r, ref.Name, ref.Key)
			if err != nil {
				return nil, err
			}
			opts.BearerToken = strings.TrimSpace(string(tok))
		}
		ca, err := caBundle(ctx, r, h.HTTP.TLS)
		if err != nil {
			return nil, err
		}
		opts.CACertPEM = ca
		if h.HTTP.TLS != nil && h.HTTP.TLS.InsecureSkipVerify {
			opts.CACertPEM = nil
			opts.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // explicit opt-in
		}
		return hr.NewHTTP(h.HTTP.URL, cfg, opts), nil
	}
	return nil, directory.Errorf(directory.KindInvalidConfig, nil, "spec.hr sets none of configMapRef, secretRef or http")
}
