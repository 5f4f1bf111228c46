package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
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
	// inChainStrategy forces resolveInChain's strategy ("user" or "group"); tests set it.
	inChainStrategy string
	// rereadMax overrides rereadLimit; tests set it.
	rereadMax int
	// groupListings counts the reads that listed every group with its members (Recursive mode);
	// tests read it.
	groupListings atomic.Int64
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
	tap  *entryTap // decodes the user search's entries (entrytap.go)
	stop func() bool
	root rootDSE
	// refs collects search continuation references to other servers: they make a read incomplete.
	refs []string
}

// rootDSE is what the server says about itself.
type rootDSE struct {
	namingContexts  []string
	capabilities    []string
	dsServiceName   string // AD: the DC's NTDS Settings object; identifies the DC
	highestUSN      string // AD: highestCommittedUSN
	defaultNC       string
	activeDirectory bool // announces LDAP_CAP_ACTIVE_DIRECTORY_OID (AD, Samba) or ADAM/AD LDS
}

// Capability OIDs of Active Directory (MS-ADTS 3.1.1.3.4.3).
const (
	capActiveDirectory = "1.2.840.113556.1.4.800"
	capADAM            = "1.2.840.113556.1.4.1851"
)

// readRootDSE reads the root DSE; servers that hide it yield an empty rootDSE.
func (c *conn) readRootDSE(timeLimit int) {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, timeLimit, false, "(objectClass=*)",
		[]string{"namingContexts", "supportedCapabilities", "dsServiceName", "highestCommittedUSN", "defaultNamingContext"}, nil)
	res, err := c.Search(req)
	if err != nil || len(res.Entries) != 1 {
		return
	}
	e := res.Entries[0]
	c.root = rootDSE{
		namingContexts: e.GetEqualFoldAttributeValues("namingContexts"),
		capabilities:   e.GetEqualFoldAttributeValues("supportedCapabilities"),
		dsServiceName:  e.GetEqualFoldAttributeValue("dsServiceName"),
		highestUSN:     e.GetEqualFoldAttributeValue("highestCommittedUSN"),
		defaultNC:      e.GetEqualFoldAttributeValue("defaultNamingContext"),
	}
	for _, oid := range c.root.capabilities {
		if oid == capActiveDirectory || oid == capADAM {
			c.root.activeDirectory = true
		}
	}
}

// ownNamingContext reports whether a continuation reference points at a naming context this
// server holds itself (AD refers a search from the domain root to its Configuration, Schema and
// DNS partitions, which hold no people); such references are not followed and lose nothing.
func (c *conn) ownNamingContext(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	dn := normDN(strings.TrimPrefix(u.Path, "/"))
	for _, nc := range c.root.namingContexts {
		if normDN(nc) == dn {
			return true
		}
	}
	return false
}

func (c *conn) close() {
	c.stop()
	c.Close()
}

// certPool parses a PEM CA bundle. Unlike x509.CertPool.AppendCertsFromPEM it says why a
// certificate cannot be used (e.g. Samba's self-made certificate has a negative serial number).
func certPool(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		n++
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of the bundle cannot be used: %w", n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")
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
	lc, tap, err := dial(ctx, s.cfg.URL, s.cfg.StartTLS, tc, timeout)
	if err != nil {
		if se := (*stepError)(nil); errors.As(err, &se) {
			return nil, classify(ctx, se.err, se.step+" with "+s.cfg.URL)
		}
		return nil, classify(ctx, err, "connect to "+s.cfg.URL)
	}
	lc.SetTimeout(s.cfg.Timeout)
	c := &conn{Conn: lc, tap: tap, stop: context.AfterFunc(ctx, func() { lc.Close() })}
	if s.cfg.BindDN != "" {
		if err := lc.Bind(s.cfg.BindDN, s.cfg.BindPassword); err != nil {
			c.close()
			return nil, classify(ctx, err, "bind") // the bind DN comes from a Secret: not repeated
		}
	}
	c.readRootDSE(s.timeLimit())
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
	return s.searchPages(ctx, c, base, scope, filter, attrs, nil, each)
}

// pagedUserSearch is pagedSearch for the user entries, which the connection's tap decodes
// (entrytap.go); entries it leaves to go-ldap arrive the same way.
func (s *Source) pagedUserSearch(ctx context.Context, c *conn, base string, scope int, filter string, attrs []string,
	each func(*entry)) error {
	return s.searchPages(ctx, c, base, scope, filter, attrs, each, func(le *ldap.Entry) {
		e := fromLDAP(le)
		each(&e)
	})
}

// searchPages calls tapped for the entries of a search through the connection's tap (nil: no tap)
// and each for the entries of a search without. They are called in the server's order, one at a
// time, on another goroutine, a page behind: while a page's entries become records, the next page
// is asked for and read, so the server prepares it meanwhile instead of waiting for the client.
// Every entry read has been handed over when searchPages returns; the callbacks must not use c.
func (s *Source) searchPages(ctx context.Context, c *conn, base string, scope int, filter string, attrs []string,
	tapped func(*entry), each func(*ldap.Entry)) error {
	pages := make(chan func(), 1) // one page waits while one is handed over
	done := make(chan any)
	go func() {
		var panicked any
		defer func() { done <- panicked }()
		for handOver := range pages {
			if panicked == nil {
				panicked = handOverPage(handOver)
			}
		}
	}()
	defer func() {
		close(pages)
		if p := <-done; p != nil {
			panic(p) // on the caller's goroutine, where a panic is reported like any other
		}
	}()
	paging := ldap.NewControlPaging(uint32(s.cfg.PageSize))
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, s.timeLimit(), false, filter, attrs,
		[]ldap.Control{paging})
	for page := 1; ; page++ {
		var detach func([]*ldap.Entry, bool, func(*entry)) error
		if tapped != nil && c.tap != nil {
			detach = c.tap.attach()
		}
		res, err := c.Search(req)
		var fromGoLDAP []*ldap.Entry
		if res != nil {
			fromGoLDAP = res.Entries
		}
		var n int
		if detach != nil {
			var entries []entry // each owns its bytes (entrytap.go), so it may be handed over later
			if derr := detach(fromGoLDAP, err != nil, func(e *entry) { entries = append(entries, *e) }); derr != nil && err == nil {
				err = derr
			}
			n = len(entries)
			pages <- func() {
				for i := range entries {
					tapped(&entries[i])
				}
			}
		} else {
			n = len(fromGoLDAP)
			pages <- func() {
				for _, e := range fromGoLDAP {
					each(e)
				}
			}
		}
		if err != nil {
			return classify(ctx, err, "search "+base)
		}
		for _, ref := range res.Referrals {
			if !c.ownNamingContext(ref) {
				c.refs = append(c.refs, ref)
			}
		}
		s.log.V(1).Info("read page", "base", base, "page", page, "entries", n)
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

// handOverPage runs handOver and returns what it panicked with, if it did.
func handOverPage(handOver func()) (panicked any) {
	defer func() { panicked = recover() }()
	handOver()
	return nil
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
	if s.cfg.Groups.Mode == GroupsMemberOf || s.cfg.Groups.Mode == GroupsInChain {
		want = append(want, "memberOf")
	}
	if s.cfg.Groups.PrimaryGroup {
		want = append(want, "primaryGroupID", "objectSid")
	}
	if s.cfg.ManagerAttribute != "-" {
		want = append(want, s.cfg.ManagerAttribute)
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

// SearchAttributes returns the attributes Read asks for in the user search.
func (s *Source) SearchAttributes() []string { return s.userAttributes() }

// UserFilter returns the filter Read sends for user entries when no full read is needed.
func (s *Source) UserFilter() (string, error) {
	return s.userFilter(parseMark(s.cfg.Incremental.Since).value)
}

func (s *Source) userFilter(since string) (string, error) {
	var clauses []Clause
	if inc := s.cfg.Incremental; inc.Attribute != "" && since != "" {
		clauses = append(clauses, Clause{Attribute: inc.Attribute, Op: OpGreaterOrEqual, Value: since})
	}
	return BuildFilter(s.cfg.UserFilter, clauses...)
}

// Read returns the people in scope. An incremental read (Incremental.Since set) returns only the
// entries changed since the mark and is then not Complete, unless it had to read everything (see
// incremental.go), which it does as a full read with a Complete snapshot. When a read fails after
// some entries arrived, the error comes with a snapshot (Complete=false) of what was read.
func (s *Source) Read(ctx context.Context) (*model.Snapshot, error) { return s.read(ctx, nil) }

// ReadDelta is Read for an incremental read merged into base: the people of groups changed since
// the mark are read again (their memberships changed without them), instead of everything.
func (s *Source) ReadDelta(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error) {
	return s.read(ctx, base)
}

var _ directory.DeltaReader = (*Source)(nil)

// ReadStream is Read handing the records over batch by batch (directory.Streamer): they are final
// only once the whole read has resolved groups and managers, so they are read first and then passed
// on, and the source keeps none of them. An incremental read is wrapped by directory.Incremental,
// which keeps its snapshot and reads with Read. A read that fails hands nothing over.
func (s *Source) ReadStream(ctx context.Context, yield func(batch []model.Record) error) (*model.Snapshot, error) {
	snap, err := s.Read(ctx)
	if err != nil {
		return nil, err
	}
	return snap, directory.HandOver(snap, yield)
}

var _ directory.Streamer = (*Source)(nil)

func (s *Source) read(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error) {
	if _, err := s.UserFilter(); err != nil {
		return nil, err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()

	since := parseMark(s.cfg.Incremental.Since)
	var dc string
	if isUSN(s.cfg.Incremental.Attribute) {
		dc = s.dcIdentity(c)
	}
	var reread rereadPlan
	if since.value != "" {
		why := s.fullReadReason(c, since, dc)
		if why == "" && (s.cfg.Groups.Mode != GroupsNone || s.cfg.Groups.PrimaryGroup) {
			if reread, why, err = s.membershipChanges(ctx, c, since, base); err != nil {
				return nil, classify(ctx, err, "find the groups changed since the last read")
			}
		}
		if why != "" {
			s.log.Info("incremental read becomes a full read", "reason", why)
			since, reread = mark{}, rereadPlan{}
		}
	}
	filter, err := s.userFilter(since.value)
	if err != nil {
		return nil, err
	}
	snap := &model.Snapshot{ReadAt: s.now(), HighWater: since.String()}
	start, fromDC := s.startMark(c, dc)
	var extras []entryExtra // indexed like snap.Records
	seen := 0
	read := map[string]bool{} // normDNs, when people are read again besides the search
	each := func(e *entry) {
		seen++
		if len(reread.people) > 0 {
			read[normDN(e.dn)] = true
		}
		if inc := s.cfg.Incremental.Attribute; inc != "" && !fromDC {
			for _, v := range e.values(inc) {
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
		snap.Records = append(snap.Records, rec)
		extras = append(extras, s.extraOf(e))
	}
	err = s.pagedUserSearch(ctx, c, s.cfg.BaseDN, scopes[s.cfg.Scope], filter, s.userAttributes(), each)
	if err == nil {
		for _, le := range reread.people {
			if !read[normDN(le.DN)] {
				e := fromLDAP(le)
				each(&e)
			}
		}
		if reread.groupMark != "" && !fromDC && s.cfg.Incremental.Attribute != "" && laterMark(reread.groupMark, snap.HighWater) {
			snap.HighWater = reread.groupMark // searched before the people: a later change has a later value
		}
	}
	if err != nil {
		if seen == 0 {
			return nil, err
		}
		finish(snap)
		return snap, err
	}
	kept := reread.groupsUnchanged && s.cfg.Groups.Mode == GroupsRecursive && !s.cfg.Groups.PrimaryGroup &&
		keptGroups(base, snap.Records)
	if !kept {
		if err := s.resolveGroups(ctx, c, snap.Records, extras); err != nil {
			finish(snap)
			return snap, err
		}
	}
	if err := s.resolveManagers(ctx, c, snap.Records, extras); err != nil {
		finish(snap)
		return snap, err
	}
	if err := c.referralError(); err != nil {
		finish(snap)
		return snap, err
	}
	if fromDC {
		snap.HighWater = start.String()
	}
	snap.Complete = since.value == ""
	finish(snap)
	return snap, nil
}

// extraOf picks what group and manager resolution need from a user entry.
func (s *Source) extraOf(e *entry) entryExtra {
	var x entryExtra
	if s.cfg.Groups.Mode == GroupsMemberOf || s.cfg.Groups.Mode == GroupsInChain {
		x.memberOf = e.values("memberOf")
	}
	if s.cfg.Groups.PrimaryGroup {
		if rid := e.value("primaryGroupID"); rid != "" {
			if raw := e.raw("objectSid"); len(raw) > 0 {
				if sid, err := DecodeSID(raw[0]); err == nil {
					x.primarySID = sid[:strings.LastIndexByte(sid, '-')+1] + rid // the user's domain SID + the group's RID
				}
			}
		}
	}
	if s.cfg.ManagerAttribute != "-" {
		x.managerDN = e.value(s.cfg.ManagerAttribute)
	}
	return x
}

// resolveManagers sets ManagerID from each record's manager DN: from the records of this read when
// the manager is among them, else by reading the manager's entry. A manager entry that no longer
// exists leaves ManagerID empty; any other failure makes the read incomplete.
func (s *Source) resolveManagers(ctx context.Context, c *conn, recs []model.Record, extras []entryExtra) error {
	if s.cfg.ManagerAttribute == "-" {
		return nil
	}
	var ids map[string]string // normDN -> ID, built when the first record has a manager
	for i := range recs {
		dn := extras[i].managerDN
		if dn == "" {
			continue
		}
		if ids == nil {
			ids = make(map[string]string, len(recs))
			for _, r := range recs {
				ids[normDN(r.DN)] = r.ID
			}
		}
		key := normDN(dn)
		id, ok := ids[key]
		if !ok {
			req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
				"(objectClass=*)", []string{s.cfg.IDAttribute}, nil)
			res, err := c.Search(req)
			switch {
			case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
			case err != nil:
				return classify(ctx, err, "read manager "+dn)
			case len(res.Entries) == 1:
				e := fromLDAP(res.Entries[0])
				id, _ = recordID(s.cfg.IDAttribute, &e)
			}
			ids[key] = id
		}
		recs[i].ManagerID = id
	}
	return nil
}

// referralError reports the continuation references met so far: the entries they point at were not
// read, so the read is incomplete.
func (c *conn) referralError() error {
	if len(c.refs) == 0 {
		return nil
	}
	refs := slices.Compact(slices.Sorted(slices.Values(c.refs)))
	shown := refs[:min(len(refs), 3)]
	return directory.Errorf(directory.KindIncomplete, nil,
		"the server referred part of the search to other servers (%s; %d in all), which are not read: "+
			"narrow baseDN to one domain or use a global catalog", strings.Join(shown, ", "), len(refs))
}

// finish sorts records by ID for deterministic output.
func finish(snap *model.Snapshot) {
	slices.SortStableFunc(snap.Records, func(a, b model.Record) int { return strings.Compare(a.ID, b.ID) })
}
