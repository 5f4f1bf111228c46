package ldap

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/testca"
)

const seededUsers = 2500

// shared is a read-only server with seededUsers users; tests that modify the directory start their own.
var shared *slapd.Server

func TestMain(m *testing.M) {
	code := func() int {
		if slapd.Available() {
			var err error
			if shared, err = slapd.Start(slapd.Options{Users: seededUsers}); err != nil {
				fmt.Fprintln(os.Stderr, "start slapd:", err)
				return 1
			}
			defer shared.Stop()
		}
		defer stopDC()
		return m.Run()
	}()
	os.Exit(code)
}

func sharedServer(t *testing.T) *slapd.Server {
	t.Helper()
	if shared == nil {
		t.Fatal(slapd.InstallHint)
	}
	return shared
}

func ownServer(t *testing.T, users int) *slapd.Server {
	t.Helper()
	if !slapd.Available() {
		t.Fatal(slapd.InstallHint)
	}
	s, err := slapd.Start(slapd.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

var userAttributes = []string{
	"uid", "cn", "givenName", "sn", "displayName", "mail", "telephoneNumber", "title", "departmentNumber",
	"employeeNumber", "jpegPhoto",
}

// seedConfig reads people the way an operator would configure it for the seeded directory.
func seedConfig(s *slapd.Server) Config {
	return Config{
		URL:          s.URL,
		BindDN:       slapd.ServiceDN,
		BindPassword: slapd.ServicePassword,
		BaseDN:       slapd.PeopleDN,
		UserFilter:   "(objectClass=inetOrgPerson)",
		Attributes:   userAttributes,
		Timeout:      10 * time.Second,
		Groups:       GroupsConfig{Mode: GroupsRecursive, GroupBaseDN: slapd.GroupsDN, GroupFilter: "(objectClass=groupOfNames)"},
		Disabled:     DisabledConfig{Mode: DisabledAttribute, Attribute: slapd.DisabledAttribute, Value: slapd.DisabledValue},
	}
}

func read(t *testing.T, cfg Config) (*model.Snapshot, error) {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return src.Read(ctx)
}

func mustRead(t *testing.T, cfg Config) *model.Snapshot {
	t.Helper()
	snap, err := read(t, cfg)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return snap
}

// expectedRecord is what Read must return for a seeded user, derived from the seed's own data.
func expectedRecord(seed *slapd.Seed, u slapd.User, groups func(string) []string) model.Record {
	attrs := map[string][]string{
		"uid": {u.UID}, "cn": {u.CN}, "givenName": {u.GivenName}, "sn": {u.SN}, "displayName": {u.DisplayName},
		"telephoneNumber": {u.TelephoneNumber}, "title": {u.Title}, "departmentNumber": {u.DepartmentNumber},
		"employeeNumber": {u.EmployeeNumber},
	}
	if u.Mail != "" {
		attrs["mail"] = []string{u.Mail}
	}
	if u.JPEGPhoto != nil {
		attrs["jpegPhoto"] = []string{base64.StdEncoding.EncodeToString(u.JPEGPhoto)}
	}
	rec := model.Record{ID: u.EntryUUID, DN: u.DN(), Attributes: attrs, Disabled: u.Disabled}
	for _, g := range groups(u.UID) {
		rec.Groups = append(rec.Groups, g)
		rec.GroupDNs = append(rec.GroupDNs, slapd.GroupDN(g))
	}
	slices.Sort(rec.GroupDNs)
	return rec
}

func byUID(t *testing.T, snap *model.Snapshot) map[string]model.Record {
	t.Helper()
	m := map[string]model.Record{}
	for _, r := range snap.Records {
		m[r.First("uid")] = r
	}
	return m
}

func TestPagedReadReturnsExactlyTheSeed(t *testing.T) {
	s := sharedServer(t)
	snap := mustRead(t, seedConfig(s))
	if !snap.Complete || len(snap.Problems) != 0 || snap.ReadAt.IsZero() {
		t.Fatalf("Complete=%v Problems=%v ReadAt=%v", snap.Complete, snap.Problems, snap.ReadAt)
	}
	if len(snap.Records) != seededUsers {
		t.Fatalf("read %d records, want %d", len(snap.Records), seededUsers)
	}
	if !slices.IsSortedFunc(snap.Records, func(a, b model.Record) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("records are not sorted by ID")
	}
	got := byUID(t, snap)
	for _, u := range s.Seed.Users {
		want := expectedRecord(s.Seed, u, s.Seed.AllGroups)
		if !reflect.DeepEqual(got[u.UID], want) {
			t.Fatalf("record of %s:\n got  %+v\n want %+v", u.UID, got[u.UID], want)
		}
	}

	// A few facts written out by hand, independent of the seed helpers.
	zoe := got[slapd.UnicodeUID]
	if zoe.First("cn") != "Zoë Ångström" || zoe.First("displayName") != "李雷 (Zoë Ångström)" {
		t.Errorf("non-ASCII names damaged: %q / %q", zoe.First("cn"), zoe.First("displayName"))
	}
	photo, err := base64.StdEncoding.DecodeString(zoe.First("jpegPhoto"))
	if err != nil || len(photo) < 4 || photo[0] != 0xFF || photo[1] != 0xD8 || photo[len(photo)-1] != 0xD9 {
		t.Errorf("jpegPhoto not base64 of the JPEG bytes: %q (%v)", zoe.First("jpegPhoto"), err)
	}
	if want := []string{"all-staff", "engineering", "platform"}; !slices.Equal(zoe.Groups, want) {
		t.Errorf("groups of %s = %v, want %v", slapd.UnicodeUID, zoe.Groups, want)
	}
	if want := []string{"cycle-a", "cycle-b"}; !slices.Equal(got[slapd.CycleUID].Groups, want) {
		t.Errorf("groups of %s = %v, want %v (cycle)", slapd.CycleUID, got[slapd.CycleUID].Groups, want)
	}
	if _, ok := got[slapd.NoMailUID].Attributes["mail"]; ok {
		t.Errorf("%s has a mail attribute: %v", slapd.NoMailUID, got[slapd.NoMailUID].Attributes)
	}
	var disabled []string
	for _, r := range snap.Records {
		if r.Disabled {
			disabled = append(disabled, r.First("uid"))
		}
	}
	slices.Sort(disabled)
	if want := []string{"disabled.user", "user00250", "user00750", "user01250", "user01750", "user02250"}; !slices.Equal(disabled, want) {
		t.Errorf("disabled users = %v, want %v", disabled, want)
	}
}

// TestSizeLimitIsReal proves that the paged read above is needed: the same search without the
// paging control stops at the server's size limit.
func TestSizeLimitIsReal(t *testing.T) {
	s := sharedServer(t)
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(slapd.ServiceDN, slapd.ServicePassword); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ldap.NewSearchRequest(slapd.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"1.1"}, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("unpaged search: err = %v, want sizeLimitExceeded", err)
	}
	if len(res.Entries) != s.SizeLimit {
		t.Errorf("unpaged search returned %d entries, want the size limit %d", len(res.Entries), s.SizeLimit)
	}
}

func TestMemberOfModeGivesDirectGroups(t *testing.T) {
	s := sharedServer(t)
	cfg := seedConfig(s)
	cfg.Groups = GroupsConfig{Mode: GroupsMemberOf}
	got := byUID(t, mustRead(t, cfg))
	for _, u := range s.Seed.Users {
		want := expectedRecord(s.Seed, u, s.Seed.DirectGroups)
		if !reflect.DeepEqual(got[u.UID], want) {
			t.Fatalf("record of %s:\n got  %+v\n want %+v", u.UID, got[u.UID], want)
		}
	}
	if want := []string{"platform"}; !slices.Equal(got[slapd.UnicodeUID].Groups, want) {
		t.Errorf("direct groups of %s = %v, want %v", slapd.UnicodeUID, got[slapd.UnicodeUID].Groups, want)
	}
}

func TestTLS(t *testing.T) {
	s := sharedServer(t)
	otherCA, err := testca.New("someone else", 24*time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string
		startTLS bool
		ca       []byte
		ok       bool
	}{
		{"ldaps with the CA", s.LDAPSURL, false, s.CACertPEM, true},
		{"ldaps with an unknown CA", s.LDAPSURL, false, otherCA.CACertPEM, false},
		{"StartTLS with the CA", s.URL, true, s.CACertPEM, true},
		{"StartTLS with an unknown CA", s.URL, true, otherCA.CACertPEM, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := seedConfig(s)
			cfg.URL, cfg.StartTLS, cfg.CACertPEM = tt.url, tt.startTLS, tt.ca
			cfg.BaseDN, cfg.UserFilter = slapd.PeopleDN, "(uid="+slapd.UnicodeUID+")"
			snap, err := read(t, cfg)
			if tt.ok {
				if err != nil || len(snap.Records) != 1 || snap.Records[0].First("cn") != "Zoë Ångström" {
					t.Fatalf("Read = %v, %v", snap, err)
				}
				return
			}
			if directory.KindOf(err) != directory.KindTLSFailed || !strings.Contains(err.Error(), "TLS") {
				t.Fatalf("Read error = %v; want TLSFailed mentioning TLS", err)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	s := sharedServer(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		kind   directory.ErrorKind
	}{
		{"wrong password", func(c *Config) { c.BindPassword = "wrong" }, directory.KindAuthFailed},
		{"unknown bind DN", func(c *Config) { c.BindDN = "cn=nobody," + slapd.BaseDN }, directory.KindAuthFailed},
		{"missing base DN", func(c *Config) { c.BaseDN = "ou=nowhere," + slapd.BaseDN }, directory.KindNotFound},
		{"closed port", func(c *Config) { c.URL = "ldap://" + closedAddr(t) }, directory.KindUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := seedConfig(s)
			tt.mutate(&cfg)
			snap, err := read(t, cfg)
			if directory.KindOf(err) != tt.kind || snap != nil {
				t.Fatalf("Read = %v, %v; want kind %s and no snapshot", snap, err, tt.kind)
			}
			src, _ := New(cfg)
			if err := src.Probe(context.Background()); directory.KindOf(err) != tt.kind {
				t.Fatalf("Probe = %v; want kind %s", err, tt.kind)
			}
		})
	}
	cfg := seedConfig(s)
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid=a)"
	if _, err := New(cfg); directory.KindOf(err) != directory.KindInvalidFilter {
		t.Errorf("bad filter: New error = %v, want InvalidFilter", err)
	}
	if err := mustNew(t, seedConfig(s)).Probe(context.Background()); err != nil {
		t.Errorf("Probe of a good config = %v", err)
	}
}

func mustNew(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestErrorMidPagingReturnsPartialSnapshot cuts the connection after some pages have arrived.
func TestErrorMidPagingReturnsPartialSnapshot(t *testing.T) {
	s := sharedServer(t)
	proxy := cutProxy(t, strings.TrimPrefix(s.URL, "ldap://"), 200_000)
	cfg := seedConfig(s)
	cfg.URL, cfg.PageSize, cfg.Groups.Mode = "ldap://"+proxy, 100, GroupsNone
	snap, err := read(t, cfg)
	if directory.KindOf(err) != directory.KindUnreachable {
		t.Fatalf("Read error = %v, want Unreachable", err)
	}
	if snap == nil || snap.Complete || len(snap.Records) == 0 || len(snap.Records) >= seededUsers {
		t.Fatalf("want a partial incomplete snapshot, got %+v", summary(snap))
	}
	t.Logf("partial snapshot with %d records: %v", len(snap.Records), err)
}

func summary(s *model.Snapshot) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("Complete=%v records=%d", s.Complete, len(s.Records))
}

// cutProxy forwards one loopback connection to upstream and closes it after limit bytes from the server.
func cutProxy(t *testing.T, upstream string, limit int64) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		client, err := l.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		defer server.Close()
		go func() { _, _ = io.Copy(server, client) }()
		_, _ = io.CopyN(client, server, limit)
	}()
	return l.Addr().String()
}

func TestCancelledContext(t *testing.T) {
	s := sharedServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mustNew(t, seedConfig(s)).Read(ctx); directory.KindOf(err) != directory.KindUnreachable {
		t.Fatalf("Read with a cancelled context = %v, want Unreachable", err)
	}
}

// TestChangesAndIncrementalReads modifies a private server and checks what full and incremental reads see.
func TestChangesAndIncrementalReads(t *testing.T) {
	s := ownServer(t, 40)
	ctx := context.Background()
	cfg := seedConfig(s)
	cfg.Incremental.Attribute = "modifyTimestamp"

	full := mustRead(t, cfg)
	if full.HighWater != slapd.SeedTimestamp || len(full.Records) != 40 {
		t.Fatalf("full read: HighWater=%q records=%d", full.HighWater, len(full.Records))
	}

	for _, err := range []error{
		s.MoveDepartment(ctx, "user00011", "999"),
		s.DisableUser(ctx, "user00012"),
		s.DeleteUser(ctx, "user00013"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := byUID(t, mustRead(t, cfg))
	if len(got) != 39 || got["user00011"].First("departmentNumber") != "999" || !got["user00012"].Disabled {
		t.Fatalf("changes not visible: %d records, user00011=%+v user00012=%+v", len(got), got["user00011"], got["user00012"])
	}
	if _, ok := got["user00013"]; ok {
		t.Error("deleted user still read")
	}

	// Only the two modified entries changed since the seed.
	cfg.Incremental.Since = "20210101000000Z"
	inc := mustRead(t, cfg)
	uids := slices.Sorted(func(yield func(string) bool) {
		for _, r := range inc.Records {
			if !yield(r.First("uid")) {
				return
			}
		}
	})
	if !slices.Equal(uids, []string{"user00011", "user00012"}) || inc.Complete {
		t.Fatalf("incremental read: %v Complete=%v, want [user00011 user00012] and Complete=false", uids, inc.Complete)
	}
	if inc.HighWater <= cfg.Incremental.Since || !strings.HasSuffix(inc.HighWater, "Z") {
		t.Errorf("HighWater = %q, want a timestamp after %q", inc.HighWater, cfg.Incremental.Since)
	}

	// Nothing changed after the new mark except (at most) the entries at the mark itself.
	cfg.Incremental.Since = inc.HighWater
	again := mustRead(t, cfg)
	for _, r := range again.Records {
		if u := r.First("uid"); u != "user00011" && u != "user00012" {
			t.Errorf("read %s after the high-water mark", u)
		}
	}

	// A mark crafted to close the filter and match everything must not widen the read.
	cfg.Incremental.Since = "0)(objectClass=*"
	if snap, err := read(t, cfg); err == nil && len(snap.Records) != 0 {
		t.Errorf("injected mark widened the read to %d records", len(snap.Records))
	}

	// Server down, then back.
	if err := s.Halt(); err != nil {
		t.Fatal(err)
	}
	cfg.Incremental = IncrementalConfig{}
	if _, err := read(t, cfg); directory.KindOf(err) != directory.KindUnreachable {
		t.Fatalf("Read with the server stopped = %v, want Unreachable", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if snap := mustRead(t, cfg); len(snap.Records) != 39 {
		t.Errorf("after restart: %d records, want 39", len(snap.Records))
	}
}

// TestInjectedValueCannotWidenSearch runs filters built with hostile values against slapd.
func TestInjectedValueCannotWidenSearch(t *testing.T) {
	s := sharedServer(t)
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(slapd.ServiceDN, slapd.ServicePassword); err != nil {
		t.Fatal(err)
	}
	count := func(filter string) int {
		t.Helper()
		res, err := c.SearchWithPaging(ldap.NewSearchRequest(slapd.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, filter, []string{"1.1"}, nil), 500)
		if err != nil {
			t.Fatalf("search %q: %v", filter, err)
		}
		return len(res.Entries)
	}
	for _, v := range []string{"*", "user0*", slapd.UnicodeUID + ")(uid=*", "*)(|(uid=*"} {
		f, err := BuildFilter("(objectClass=inetOrgPerson)", Clause{Attribute: "uid", Op: OpEqual, Value: v})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(f); n != 0 {
			t.Errorf("uid value %q matched %d entries via %s", v, n, f)
		}
	}
	// The same builder finds the real user, so the zero counts above are not vacuous.
	f, _ := BuildFilter("(objectClass=inetOrgPerson)", Clause{Attribute: "uid", Op: OpEqual, Value: slapd.UnicodeUID})
	if n := count(f); n != 1 {
		t.Errorf("uid %q matched %d entries, want 1", slapd.UnicodeUID, n)
	}
}

// Without a configured attribute list every user attribute is read, under the server's names, so
// that mapping rules can use any attribute; operational attributes are only those the source needs.
func TestEmptyAttributeListReadsAllUserAttributes(t *testing.T) {
	s := sharedServer(t)
	cfg := seedConfig(s)
	cfg.Attributes = nil
	cfg.Groups = GroupsConfig{Mode: GroupsNone}
	got := byUID(t, mustRead(t, cfg))
	for _, u := range s.Seed.Users[:50] {
		rec := got[u.UID]
		if rec.ID != u.EntryUUID || rec.First("telephoneNumber") != u.TelephoneNumber || rec.First("departmentNumber") != u.DepartmentNumber ||
			rec.First("mail") != u.Mail || !slices.Contains(rec.Attributes["objectClass"], "inetOrgPerson") {
			t.Fatalf("record of %s misses attributes: %+v", u.UID, rec.Attributes)
		}
		if _, ok := rec.Attributes["modifyTimestamp"]; ok {
			t.Fatalf("operational attributes must not be read unasked: %+v", rec.Attributes)
		}
	}
}
