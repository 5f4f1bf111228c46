package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-logr/logr"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

var scopes = map[string]int{
	ScopeSub:  ldap.ScopeWholeSubtree,
	ScopeOne:  ldap.ScopeSingleLevel,
	ScopeBase: ldap.ScopeBaseObject,
}

// Source reads people from one LDAP directory. It is safe for concurrent use: every Read and
// Probe opens its own connection.
type Source struct {
	cfg Config
	log logr.Logger
	now func() time.Time
}

var _ directory.Source = (*Source)(nil)

// Option customises a Source.
type Option func(*Source)

// WithLogger sets the logger (page progress is logged at V(1)).
func WithLogger(l logr.Logger) Option { return func(s *Source) { s.log = l } }

// WithClock sets the clock used for Snapshot.ReadAt.
func WithClock(now func() time.Time) Option { return func(s *Source) { s.now = now } }

// New validates cfg and returns a Source.
func New(cfg Config, opts ...Option) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg.withDefaults(), log: logr.Discard(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// conn is a bound connection that is closed when the context ends.
type conn struct {
	*ldap.Conn
	stop func() bool
}

func (c *conn) close() {
	c.stop()
	c.Close()
}

func certPool(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

func (s *Source) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.cfg.InsecureSkipVerify} //nolint:gosec // opt-in
	tc.ServerName = s.cfg.ServerName
	if tc.ServerName == "" {
		u, err := url.Parse(s.cfg.URL)
		if err != nil {
			return nil, err
		}
		tc.ServerName = u.Hostname()
	}
	if len(s.cfg.CACertPEM) > 0 {
		pool, err := certPool(s.cfg.CACertPEM)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// connect dials, upgrades with StartTLS if configured, and binds.
func (s *Source) connect(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(ctx, err, "connect")
	}
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, directory.Errorf(directory.KindInvalidConfig, err, "TLS configuration")
	}
	timeout := s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	lc, err := ldap.DialURL(s.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: timeout}), ldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, classify(ctx, err, "connect to "+s.cfg.URL)
	}
	lc.SetTimeout(s.cfg.Timeout)
	c := &conn{Conn: lc, stop: context.AfterFunc(ctx, func() { lc.Close() })}
	if s.cfg.StartTLS {
		if err := lc.StartTLS(tc); err != nil {
			c.close()
			return nil, classify(ctx, err, "StartTLS with "+s.cfg.URL)
		}
	}
	if s.cfg.BindDN != "" {
		if err := lc.Bind(s.cfg.BindDN, s.cfg.BindPassword); err != nil {
			c.close()
			return nil, classify(ctx, err, "bind") // the bind DN comes from a Secret: not repeated
		}
	}
	return c, nil
}

// Probe connects, binds and checks that the base DN exists.
func (s *Source) Probe(ctx context.Context) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	req := ldap.NewSearchRequest(s.cfg.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
		"(objectClass=*)", []string{"1.1"}, nil)
	if _, err := c.Search(req); err != nil {
		return classify(ctx, err, "read base DN "+s.cfg.BaseDN)
	}
	return nil
}

func (s *Source) timeLimit() int { return int(s.cfg.Timeout / time.Second) }

// pagedSearch runs a search with the RFC 2696 paged results control and calls each for every
// entry, including entries received before an error.
func (s *Source) pagedSearch(ctx context.Context, c *conn, base string, scope int, filter string, attrs []string,
	each func(*ldap.Entry)) error {
	paging := ldap.NewControlPaging(uint32(s.cfg.PageSize))
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, s.timeLimit(), false, filter, attrs,
		[]ldap.Control{paging})
	for page := 1; ; page++ {
		res, err := c.Search(req)
		if res != nil {
			for _, e := range res.Entries {
				each(e)
			}
		}
		if err != nil {
			return classify(ctx, err, "search "+base)
		}
		s.log.V(1).Info("read page", "base", base, "page", page, "entries", len(res.Entries))
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(ctrl.Cookie) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return classify(ctx, err, "search "+base)
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

// userAttributes lists what to fetch for user entries: the configured attributes plus what the
// ID, disabled, group and incremental settings need, deduplicated case-insensitively.
func (s *Source) userAttributes() []string {
	want := slices.Clone(s.cfg.Attributes)
	if len(want) == 0 {
		want = append(want, "*") // all user attributes; operational ones below are named explicitly
	}
	want = append(want, s.cfg.IDAttribute)
	switch s.cfg.Disabled.Mode {
	case DisabledActiveDirectory:
		want = append(want, "userAccountControl")
	case DisabledAttribute:
		want = append(want, s.cfg.Disabled.Attribute)
	}
	if s.cfg.Groups.Mode == GroupsMemberOf {
		want = append(want, "memberOf")
	}
	if s.cfg.Incremental.Attribute != "" {
		want = append(want, s.cfg.Incremental.Attribute)
	}
	seen := map[string]bool{}
	out := want[:0]
	for _, a := range want {
		if k := strings.ToLower(a); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}

// UserFilter returns the filter Read sends for user entries.
func (s *Source) UserFilter() (string, error) {
	var clauses []Clause
	if inc := s.cfg.Incremental; inc.Attribute != "" && inc.Since != "" {
		clauses = append(clauses, Clause{Attribute: inc.Attribute, Op: OpGreaterOrEqual, Value: inc.Since})
	}
	return BuildFilter(s.cfg.UserFilter, clauses...)
}

// Read returns the people in scope. An incremental read (Incremental.Since set) returns only the
// entries changed since the mark and is therefore never Complete. When a read fails after some
// entries arrived, the error comes with a snapshot (Complete=false) of what was read.
func (s *Source) Read(ctx context.Context) (*model.Snapshot, error) {
	filter, err := s.UserFilter()
	if err != nil {
		return nil, err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()

	snap := &model.Snapshot{ReadAt: s.now(), HighWater: s.cfg.Incremental.Since}
	var memberOf map[int][]string // record index -> memberOf values (memberOf mode)
	if s.cfg.Groups.Mode == GroupsMemberOf {
		memberOf = map[int][]string{}
	}
	seen := 0
	err = s.pagedSearch(ctx, c, s.cfg.BaseDN, scopes[s.cfg.Scope], filter, s.userAttributes(), func(e *ldap.Entry) {
		seen++
		if inc := s.cfg.Incremental.Attribute; inc != "" {
			for _, v := range e.GetEqualFoldAttributeValues(inc) {
				if snap.HighWater == "" || laterMark(v, snap.HighWater) {
					snap.HighWater = v
				}
			}
		}
		rec, problem := toRecord(s.cfg, e)
		if problem != nil {
			snap.Problems = append(snap.Problems, *problem)
			return
		}
		if memberOf != nil {
			memberOf[len(snap.Records)] = e.GetEqualFoldAttributeValues("memberOf")
		}
		snap.Records = append(snap.Records, rec)
	})
	if err != nil {
		if seen == 0 {
			return nil, err
		}
		finish(snap)
		return snap, err
	}
	if err := s.resolveGroups(ctx, c, snap.Records, memberOf); err != nil {
		finish(snap)
		return snap, err
	}
	snap.Complete = s.cfg.Incremental.Since == ""
	finish(snap)
	return snap, nil
}

// finish sorts records by ID for deterministic output.
func finish(snap *model.Snapshot) {
	slices.SortStableFunc(snap.Records, func(a, b model.Record) int { return strings.Compare(a.ID, b.ID) })
}
