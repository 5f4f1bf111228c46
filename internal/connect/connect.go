// Package connect builds the runtime parts of a sync — a directory.Source and a target.Target — from
// the v1alpha1 specs and the Secret and ConfigMap data they refer to. Each source and target type
// has one descriptor (sources.go, targets.go) saying which spec member selects it, what it reads and
// how it is built. Reading Secrets and ConfigMaps is left to a Resolver, so this package needs no
// Kubernetes client and is testable on its own.
package connect

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/directory/ldap"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
)

// Resolver reads referenced data from the object's namespace.
type Resolver interface {
	SecretKey(ctx context.Context, name, key string) ([]byte, error)
	ConfigMapKey(ctx context.Context, name, key string) ([]byte, error)
}

// A Resolver's errors for a missing object and for a missing key of an existing one; they are
// reported with different reasons (SecretNotFound, KeyNotFound).
var (
	ErrObjectNotFound = errors.New("not found")
	ErrKeyNotFound    = errors.New("key not found")
)

// RefError says that a referenced Secret or ConfigMap (or a key of it) is missing.
type RefError struct {
	Kind, Name, Key string
	Err             error
}

func (e *RefError) Error() string {
	if errors.Is(e.Err, ErrKeyNotFound) {
		return fmt.Sprintf("%s %q has no key %q", e.Kind, e.Name, e.Key)
	}
	if errors.Is(e.Err, ErrObjectNotFound) {
		return fmt.Sprintf("%s %q not found (key %q)", e.Kind, e.Name, e.Key)
	}
	return fmt.Sprintf("%s %q key %q: %v", e.Kind, e.Name, e.Key, e.Err)
}

// KeyMissing reports whether the object exists but lacks the key.
func (e *RefError) KeyMissing() bool { return errors.Is(e.Err, ErrKeyNotFound) }

func (e *RefError) Unwrap() error { return e.Err }

// IsRefError reports whether err is a missing reference.
func IsRefError(err error) bool {
	var re *RefError
	return errors.As(err, &re)
}

func secret(ctx context.Context, r Resolver, name, key string) ([]byte, error) {
	b, err := r.SecretKey(ctx, name, key)
	if err != nil {
		return nil, &RefError{Kind: "Secret", Name: name, Key: key, Err: err}
	}
	return b, nil
}

func configMap(ctx context.Context, r Resolver, name, key string) ([]byte, error) {
	b, err := r.ConfigMapKey(ctx, name, key)
	if err != nil {
		return nil, &RefError{Kind: "ConfigMap", Name: name, Key: key, Err: err}
	}
	return b, nil
}

// caBundle reads a CA bundle reference; nil when unset.
func caBundle(ctx context.Context, r Resolver, tlsCfg *v1.TLSConfig) ([]byte, error) {
	if tlsCfg == nil || tlsCfg.CA == nil {
		return nil, nil
	}
	if ref := tlsCfg.CA.SecretRef; ref != nil {
		return secret(ctx, r, ref.Name, ref.Key)
	}
	if ref := tlsCfg.CA.ConfigMapRef; ref != nil {
		return configMap(ctx, r, ref.Name, ref.Key)
	}
	return nil, nil
}

// OpenLDAPUserFilter is the user filter when the spec sets none and the flavor is not
// ActiveDirectory (whose default is ldap.ADUserFilter).
const OpenLDAPUserFilter = "(objectClass=person)"

// LDAPConfig translates an LDAPSource spec, filling in the flavor's defaults.
func LDAPConfig(ctx context.Context, spec *v1.LDAPSource, r Resolver) (ldap.Config, error) {
	ref := spec.BindSecretRef
	userKey, passKey := orDefault(ref.UsernameKey, "username"), orDefault(ref.PasswordKey, "password")
	bindDN, err := secret(ctx, r, ref.Name, userKey)
	if err != nil {
		return ldap.Config{}, err
	}
	password, err := secret(ctx, r, ref.Name, passKey)
	if err != nil {
		return ldap.Config{}, err
	}
	ca, err := caBundle(ctx, r, spec.TLS)
	if err != nil {
		return ldap.Config{}, err
	}
	ad := spec.Flavor == v1.FlavorActiveDirectory
	cfg := ldap.Config{
		URL:          spec.URL,
		StartTLS:     spec.StartTLS,
		CACertPEM:    ca,
		BindDN:       strings.TrimSpace(string(bindDN)),
		BindPassword: string(password),
		BaseDN:       spec.BaseDN,
		Scope:        ldap.ScopeSub,
		UserFilter:   spec.UserFilter,
		Attributes:   spec.Attributes,
		IDAttribute:  spec.IDAttribute,
		PageSize:     int(spec.PageSize),
		Groups:       ldap.GroupsConfig{Mode: ldap.GroupsMemberOf},
	}
	cfg.Timeout = requestTimeout(spec.GetTimeout())
	if spec.TLS != nil {
		cfg.InsecureSkipVerify = spec.TLS.InsecureSkipVerify
		cfg.ServerName = spec.TLS.ServerName
	}
	if spec.Scope == "OneLevel" {
		cfg.Scope = ldap.ScopeOne
	}
	if cfg.UserFilter == "" {
		cfg.UserFilter = OpenLDAPUserFilter
	}
	if ad {
		cfg.IDAttribute = orDefault(cfg.IDAttribute, "objectGUID")
		if spec.UserFilter == "" {
			cfg.UserFilter = ldap.ADUserFilter // people, not computers
		}
		cfg.Groups.Mode = ldap.GroupsInChain
		cfg.Disabled.Mode = ldap.DisabledActiveDirectory
	}
	if g := spec.Groups; g != nil {
		cfg.Groups = ldap.GroupsConfig{
			Mode:          map[string]string{"None": ldap.GroupsNone, "MemberOf": ldap.GroupsMemberOf, "InChain": ldap.GroupsInChain, "Recursive": ldap.GroupsRecursive}[g.Mode],
			GroupBaseDN:   g.BaseDN,
			GroupFilter:   g.Filter,
			NameAttribute: g.NameAttribute,
		}
	}
	if ad {
		// AD's built-in groups (CN=Builtin, Domain Admins, ...) are left out unless a filter says
		// otherwise; the primary group ("Domain Users") is added from primaryGroupID.
		cfg.Groups.GroupFilter = orDefault(cfg.Groups.GroupFilter, ldap.ADGroupFilter)
		cfg.Groups.PrimaryGroup = cfg.Groups.Mode != ldap.GroupsNone
	}
	if d := spec.Disabled; d != nil {
		cfg.Disabled = ldap.DisabledConfig{
			Mode:      map[string]string{"None": ldap.DisabledNone, "ActiveDirectory": ldap.DisabledActiveDirectory, "Attribute": ldap.DisabledAttribute}[d.Mode],
			Attribute: d.Attribute,
			Value:     d.Value,
		}
	}
	if inc := spec.Incremental; inc != nil {
		cfg.Incremental.Attribute = inc.Attribute
	}
	return cfg, cfg.Validate()
}

// OpenLDAP builds an LDAP source; with a non-empty mark and spec.incremental set, it reads only the
// entries changed since that high-water mark (see directory.Incremental).
func OpenLDAP(ctx context.Context, spec *v1.LDAPSource, r Resolver, log logr.Logger, mark string) (directory.Source, error) {
	cfg, err := LDAPConfig(ctx, spec, r)
	if err != nil {
		return nil, err
	}
	if cfg.Incremental.Attribute != "" {
		cfg.Incremental.Since = mark
	}
	src, err := ldap.New(cfg, ldap.WithLogger(log))
	if err != nil {
		return nil, scrubError(err, cfg.BindPassword, cfg.BindDN)
	}
	return scrub(src, cfg.BindPassword, cfg.BindDN), nil
}

// HRConfig translates an HRSource spec.
func HRConfig(spec *v1.HRSource) hr.Config {
	cfg := hr.Config{
		Format:          strings.ToLower(spec.Format),
		Delimiter:       ',',
		IDColumn:        spec.IDColumn,
		GroupsColumn:    spec.GroupsColumn,
		GroupsSeparator: orDefault(spec.GroupsSeparator, ";"),
		DisabledColumn:  spec.DisabledColumn,
		DisabledValues:  spec.DisabledValues,
	}
	if d := []rune(spec.Delimiter); len(d) == 1 {
		cfg.Delimiter = d[0]
	}
	return cfg
}

// HTTPFingerprint identifies the token and CA bundle an HTTP HR source would be built with, so that
// a kept source is replaced when either changes. It reveals nothing about the secrets.
func HTTPFingerprint(ctx context.Context, spec *v1.HTTPRecordSource, r Resolver) (string, error) {
	h := sha256.New()
	if ref := spec.BearerTokenSecretRef; ref != nil {
		tok, err := secret(ctx, r, ref.Name, ref.Key)
		if err != nil {
			return "", err
		}
		h.Write(tok)
	}
	h.Write([]byte{0})
	ca, err := caBundle(ctx, r, spec.TLS)
	if err != nil {
		return "", err
	}
	h.Write(ca)
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// SCIMDiscoveryTTL bounds how long a SCIM target's discovery answers are reused by later runs
// (longer than the default interval, so that most runs skip discovery): a change that causes no
// failed request is noticed within it; one that does is noticed by the next run.
const SCIMDiscoveryTTL = time.Hour

// scimDiscovery is the manager's discovery cache, shared by every SyncTarget's runs: a client lives
// for one run, a target's capabilities much longer.
var scimDiscovery = scim.NewDiscoveryCache(SCIMDiscoveryTTL)

// discoveryKeySalt keys the hash of credentials in discovery cache keys: a key seen in a heap dump
// says nothing that an offline guess could confirm.
var discoveryKeySalt = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}()

// SCIMTarget builds the SCIM client and model adapter of a SyncTarget. Call release when the run is
// over: it closes the run's idle connections. Discovery answers are reused across runs (see
// SCIMDiscoveryTTL) by clients with the same URL, credentials and TLS settings.
func SCIMTarget(ctx context.Context, spec v1.SCIMTarget, r Resolver, log logr.Logger) (target *scim.Target, release func(), err error) {
	ca, err := caBundle(ctx, r, spec.TLS)
	if err != nil {
		return nil, nil, err
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if spec.TLS != nil {
		tlsCfg.InsecureSkipVerify = spec.TLS.InsecureSkipVerify //nolint:gosec // explicit opt-in
		tlsCfg.ServerName = spec.TLS.ServerName
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, nil, fmt.Errorf("the CA bundle of the SCIM target holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	concurrency := spec.GetMaxConcurrency()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	// Keep a connection per concurrent request: the default of 2 idle connections per host makes
	// every further request of a run open a new one.
	transport.MaxIdleConnsPerHost = concurrency
	hc := &http.Client{Transport: transport, Timeout: requestTimeout(spec.GetTimeout())}
	opts := scim.Options{
		HTTPClient:           hc,
		Concurrency:          concurrency,
		PageSize:             int(spec.PageSize),
		MaxMembersPerRequest: int(spec.MaxMembersPerRequest),
		MaxRequestsPerSecond: float64(spec.MaxRequestsPerSecond),
		UserAgent:            "directory-sync-operator",
		Logger:               log,
	}
	if c := spec.Capabilities; c != nil {
		opts.Capabilities = scim.CapabilityOverrides{
			FilterSupported: c.FilterSupported, PatchSupported: c.PatchSupported, ETagSupported: c.ETagSupported,
			MaxResults: intPtr(c.MaxResults), BulkMaxOperations: intPtr(c.BulkMaxOperations),
		}
	}
	// Who asks, as the discovery cache tells clients of one URL apart: a hash of the credentials
	// and TLS settings, no secret.
	who := hmac.New(sha256.New, discoveryKeySalt)
	switch {
	case spec.OAuth2 != nil:
		var id, sec []byte
		if opts.TokenSource, id, sec, err = oauth2TokenSource(ctx, spec.OAuth2, r, hc); err != nil {
			return nil, nil, err
		}
		writeFields(who, "oauth2", spec.OAuth2.TokenURL, string(id), string(sec), strings.Join(spec.OAuth2.Scopes, " "))
	case spec.TokenSecretRef != nil:
		token, err := secret(ctx, r, spec.TokenSecretRef.Name, spec.TokenSecretRef.Key)
		if err != nil {
			return nil, nil, err
		}
		opts.Token = strings.TrimSpace(string(token))
		writeFields(who, "token", opts.Token)
	default:
		return nil, nil, errors.New("the SCIM target sets neither tokenSecretRef nor oauth2")
	}
	writeFields(who, string(ca), tlsCfg.ServerName, fmt.Sprint(tlsCfg.InsecureSkipVerify))
	opts.Discovery, opts.DiscoveryKey = scimDiscovery, hex.EncodeToString(who.Sum(nil))
	c, err := scim.New(spec.URL, opts)
	if err != nil {
		return nil, nil, err
	}
	return scim.NewTargetWith(c, scim.TargetOptions{AnonymizedEmail: spec.AnonymizedEmail}), transport.CloseIdleConnections, nil
}

// OAuth2TokenRenewal is how long before its expiry a token is renewed, so that no request goes out
// with a token about to lapse.
const OAuth2TokenRenewal = 30 * time.Second

// oauth2TokenSource reads the client credentials and returns a source of tokens from the token
// endpoint, renewed OAuth2TokenRenewal before they expire. hc (the target's TLS settings) fetches
// them.
func oauth2TokenSource(ctx context.Context, spec *v1.OAuth2ClientCredentials, r Resolver, hc *http.Client) (ts oauth2.TokenSource, id, sec []byte, err error) {
	ref := spec.ClientSecretRef
	id, err = secret(ctx, r, ref.Name, orDefault(ref.ClientIDKey, "client_id"))
	if err != nil {
		return nil, nil, nil, err
	}
	sec, err = secret(ctx, r, ref.Name, orDefault(ref.ClientSecretKey, "client_secret"))
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := &clientcredentials.Config{
		ClientID: strings.TrimSpace(string(id)), ClientSecret: strings.TrimSpace(string(sec)),
		TokenURL: spec.TokenURL, Scopes: spec.Scopes,
	}
	// The client secret never follows a redirect; the source outlives this call (it renews during
	// the run), so it must not end with ctx.
	tokenHC := *hc
	tokenHC.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tokenCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &tokenHC)
	fetch := tokenFunc(func() (*oauth2.Token, error) { return cfg.Token(tokenCtx) })
	return oauth2.ReuseTokenSourceWithExpiry(nil, fetch, OAuth2TokenRenewal), id, sec, nil
}

// writeFields hashes each field with its length, so that no two field lists hash alike.
func writeFields(h hash.Hash, fields ...string) {
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

func intPtr(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// Ceilings of what a spec may ask for, also enforced by the CRD's validation: one slow or hostile
// server must not hold a run, and the worker running it, for longer. Objects stored before the CRD
// had a maximum keep theirs, so the ceilings apply here too.
const (
	MaxRequestTimeout = 5 * time.Minute
	MaxHRBytes        = 256 << 20
)

// requestTimeout caps a spec's timeout (its accessor gives the default) at MaxRequestTimeout.
func requestTimeout(d time.Duration) time.Duration { return min(d, MaxRequestTimeout) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
