package ldap

import (
	"bytes"
	"context"
	"encoding/pem"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/samba"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/testca"
)

// The Samba AD DC is started on first use and shared by the tests of this package (TestMain stops
// it). Tests that modify it work under samba.ChangesDN only. A DC that cannot start fails the test.
var (
	dcOnce sync.Once
	dc     *samba.Server
	dcErr  error
)

func sharedDC(t *testing.T) *samba.Server {
	t.Helper()
	dcOnce.Do(func() { dc, dcErr = samba.Start() })
	if dcErr != nil {
		t.Fatalf("Samba AD DC: %v", dcErr)
	}
	return dc
}

func stopDC() {
	if dc != nil {
		_ = dc.Stop()
	}
}

// dcConfig reads the seeded people over LDAPS as the service account, with AD's defaults.
func dcConfig(s *samba.Server) Config {
	return Config{
		URL:          s.LDAPSURL,
		CACertPEM:    s.CACertPEM,
		BindDN:       samba.ServiceDN,
		BindPassword: samba.ServicePassword,
		BaseDN:       samba.PeopleDN,
		UserFilter:   ADUserFilter,
		Attributes:   []string{"sAMAccountName", "cn", "mail", "givenName", "sn", "title"},
		IDAttribute:  "objectGUID",
		Groups:       GroupsConfig{Mode: GroupsInChain, GroupBaseDN: samba.GroupsDN},
		Disabled:     DisabledConfig{Mode: DisabledActiveDirectory},
	}
}

func readDC(t *testing.T, cfg Config, opts ...func(*Source)) (*model.Snapshot, error) {
	t.Helper()
	src := mustNew(t, cfg)
	for _, o := range opts {
		o(src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return src.Read(ctx)
}

func bySam(snap *model.Snapshot) map[string]model.Record {
	m := map[string]model.Record{}
	for _, r := range snap.Records {
		m[r.First("sAMAccountName")] = r
	}
	return m
}

// TestADReadAgainstDC reads the seeded people from a real DC in every group mode: people only (no
// computer), objectGUID ids, disabled accounts, nested groups with cycles, escaped and non-ASCII
// names, the primary group, and managers resolved to directory ids.
func TestADReadAgainstDC(t *testing.T) {
	s := sharedDC(t)
	cases := []struct {
		name     string
		mode     string
		strategy string
		nested   bool
	}{
		{"inChain per user", GroupsInChain, "user", true},
		{"inChain per group", GroupsInChain, "group", true},
		{"inChain default", GroupsInChain, "", true},
		{"recursive", GroupsRecursive, "", true},
		{"memberOf", GroupsMemberOf, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := dcConfig(s)
			cfg.Groups.Mode = tc.mode
			cfg.Groups.GroupFilter = ADGroupFilter
			cfg.Groups.PrimaryGroup = true
			snap, err := readDC(t, cfg, func(src *Source) { src.inChainStrategy = tc.strategy })
			if err != nil || !snap.Complete {
				t.Fatalf("Read = complete %v, %v", snap != nil && snap.Complete, err)
			}
			got := bySam(snap)
			if len(snap.Records) != len(samba.People) {
				t.Fatalf("read %d records, want the %d people (no computer): %v", len(snap.Records), len(samba.People), keys(got))
			}
			for _, p := range samba.People {
				r, ok := got[p.Sam]
				if !ok {
					t.Errorf("%s not read", p.Sam)
					continue
				}
				if _, err := EncodeGUID(r.ID); err != nil {
					t.Errorf("%s: id %q is not a GUID", p.Sam, r.ID)
				}
				if r.DN != p.DN() || r.First("cn") != p.CN {
					t.Errorf("%s: dn %q cn %q, want %q %q", p.Sam, r.DN, r.First("cn"), p.DN(), p.CN)
				}
				if r.Disabled != p.Disabled {
					t.Errorf("%s: disabled = %v, want %v", p.Sam, r.Disabled, p.Disabled)
				}
				want := p.Groups
				if tc.nested {
					want = samba.AllGroups(p.Sam)
				}
				want = append(slices.Clone(want), samba.DomainUser)
				slices.Sort(want)
				if !slices.Equal(r.Groups, want) {
					t.Errorf("%s: groups = %q, want %q", p.Sam, r.Groups, want)
				}
				wantManager := ""
				if p.Manager != "" {
					wantManager = got[p.Manager].ID
				}
				if r.ManagerID != wantManager {
					t.Errorf("%s: managerId = %q, want %q (%s)", p.Sam, r.ManagerID, wantManager, p.Manager)
				}
			}
		})
	}
}

func keys(m map[string]model.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestADUserFilterLeavesOutComputers: computer accounts are persons too; the AD default is not.
func TestADUserFilterLeavesOutComputers(t *testing.T) {
	s := sharedDC(t)
	cfg := dcConfig(s)
	cfg.Groups.Mode = GroupsNone
	cfg.UserFilter = "(objectClass=person)"
	snap, err := readDC(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bySam(snap)["WS01$"]; !ok || len(snap.Records) != len(samba.People)+1 {
		t.Fatalf("(objectClass=person) should also return the computer WS01$: %v", keys(bySam(snap)))
	}
	cfg.UserFilter = ADUserFilter
	if snap, err = readDC(t, cfg); err != nil || len(snap.Records) != len(samba.People) {
		t.Fatalf("ADUserFilter read %v, %v; want the %d people", keys(bySam(snap)), err, len(samba.People))
	}
}

// TestADRangeRetrievalWithExplicitRanges reads the member attribute of a group with 1,601 members
// in explicit ranges, as AD serves groups larger than MaxValRange. Samba once dropped the entry from
// a continuation search, which silently truncated the list.
func TestADRangeRetrievalWithExplicitRanges(t *testing.T) {
	s := sharedDC(t)
	src := mustNew(t, dcConfig(s))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := src.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, first := range []string{"member;range=0-99", "member;range=0-1499", "member;range=0-*"} {
		res, err := c.Search(ldap.NewSearchRequest(samba.GroupDN(samba.GroupBig), ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			0, 0, false, "(objectClass=group)", []string{first}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("%s: %v", first, err)
		}
		vals, err := src.allValues(ctx, c, res.Entries[0], "member")
		if err != nil {
			t.Fatalf("%s: %v", first, err)
		}
		distinct := map[string]bool{}
		for _, v := range vals {
			distinct[normDN(v)] = true
		}
		if len(vals) != samba.BigGroupMembers+1 || len(distinct) != len(vals) {
			t.Errorf("%s: %d values (%d distinct), want %d", first, len(vals), len(distinct), samba.BigGroupMembers+1)
		}
		if !distinct[normDN(samba.BulkContactDN(samba.BigGroupMembers-1))] || !distinct[normDN(samba.People[0].DN())] {
			t.Errorf("%s: the last contact or alice is missing", first)
		}
	}
}

// TestADErrorsTellWhatToDo drives the mistakes an admin makes against a DC.
func TestADErrorsTellWhatToDo(t *testing.T) {
	s := sharedDC(t)
	negative := negativeSerialCert(t)
	cases := []struct {
		name   string
		change func(*Config)
		kind   directory.ErrorKind
		says   string
	}{
		{"wrong password", func(c *Config) { c.BindPassword = "wrong" }, directory.KindAuthFailed, "wrong password"},
		{"disabled account", func(c *Config) { c.BindDN, c.BindPassword = samba.DisabledBindDN, samba.BindTestPassword }, directory.KindAuthFailed, "account is disabled"},
		{"must change password", func(c *Config) { c.BindDN, c.BindPassword = samba.MustChangeBindDN, samba.BindTestPassword }, directory.KindAuthFailed, "must be changed"},
		{"expired account", func(c *Config) { c.BindDN, c.BindPassword = samba.ExpiredBindDN, samba.BindTestPassword }, directory.KindAuthFailed, "account has expired"},
		{"simple bind over plain ldap", func(c *Config) { c.URL = s.URL }, directory.KindTransportSecurityRequired, "ldaps://"},
		{"anonymous search", func(c *Config) { c.BindDN, c.BindPassword = "", "" }, directory.KindAuthFailed, "bind"},
		{"StartTLS with an unknown CA", func(c *Config) { c.URL, c.StartTLS, c.CACertPEM = s.URL, true, otherCA(t) }, directory.KindTLSFailed, "TLS"},
		{"ldaps with an unknown CA", func(c *Config) { c.CACertPEM = otherCA(t) }, directory.KindTLSFailed, "TLS"},
		{"ldaps by a name not in the certificate", func(c *Config) { c.ServerName = "elsewhere.example" }, directory.KindTLSFailed, "TLS"},
		{"CA bundle Go cannot parse", func(c *Config) { c.CACertPEM = negative }, directory.KindInvalidConfig, "negative serial"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := dcConfig(s)
			tc.change(&cfg)
			src, err := New(cfg)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, err = src.Read(ctx)
			}
			if directory.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error = %v; want kind %s saying %q", err, tc.kind, tc.says)
			}
		})
	}
	t.Run("StartTLS with the CA", func(t *testing.T) {
		cfg := dcConfig(s)
		cfg.URL, cfg.StartTLS = s.URL, true
		if snap, err := readDC(t, cfg); err != nil || len(snap.Records) != len(samba.People) {
			t.Fatalf("Read over StartTLS = %v", err)
		}
	})
}

func otherCA(t *testing.T) []byte {
	t.Helper()
	other, err := testca.New("someone else", 24*time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return other.CACertPEM
}

// negativeSerialCert returns a PEM certificate whose serial number is negative, like the one Samba
// makes for itself: Go refuses to parse it.
func negativeSerialCert(t *testing.T) []byte {
	t.Helper()
	block, _ := pem.Decode(otherCA(t))
	der := slices.Clone(block.Bytes)
	// The CA's serial is 1: INTEGER 02 01 01 right after the version [0] 03 02 01 02.
	i := bytes.Index(der, []byte{0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01})
	if i < 0 {
		t.Fatal("serial not found")
	}
	der[i+7] = 0xff // -1
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestADMemberOfGroupNameFailureIsIncomplete: a group whose name cannot be read must not be
// reported under its DN in a complete snapshot.
func TestADMemberOfGroupNameFailureIsIncomplete(t *testing.T) {
	s := sharedDC(t)
	cfg := dcConfig(s)
	cfg.Groups = GroupsConfig{Mode: GroupsMemberOf, NameAttribute: "description"} // the seeded groups have none
	snap, err := readDC(t, cfg)
	if directory.KindOf(err) != directory.KindIncomplete || snap == nil || snap.Complete {
		t.Fatalf("Read = %v, complete %v; want an Incomplete error and an incomplete snapshot", err, snap != nil && snap.Complete)
	}
	for _, r := range snap.Records {
		for _, g := range r.Groups {
			if strings.Contains(g, "=") {
				t.Errorf("%s has a DN as group name: %q", r.DN, g)
			}
		}
	}
}

// TestADReferralsToOwnPartitionsLoseNothing: a search from the domain root gets continuation
// references to the DC's own Configuration partition; they hold no people, so the read is complete.
func TestADReferralsToOwnPartitionsLoseNothing(t *testing.T) {
	s := sharedDC(t)
	cfg := dcConfig(s)
	cfg.BaseDN = samba.BaseDN
	cfg.Groups.Mode = GroupsNone
	snap, err := readDC(t, cfg)
	if err != nil || !snap.Complete || len(snap.Records) < len(samba.People) {
		t.Fatalf("Read from the domain root = %v (complete %v)", err, snap != nil && snap.Complete)
	}
}

// TestInChainNeedsActiveDirectory: OpenLDAP does not know LDAP_MATCHING_RULE_IN_CHAIN and would
// silently answer "no members"; the read reports a configuration error instead.
func TestInChainNeedsActiveDirectory(t *testing.T) {
	s := sharedServer(t)
	cfg := seedConfig(s)
	cfg.Groups.Mode = GroupsInChain
	_, err := read(t, cfg)
	if directory.KindOf(err) != directory.KindInvalidConfig || !strings.Contains(err.Error(), "Recursive") {
		t.Fatalf("InChain against OpenLDAP = %v; want InvalidConfig suggesting Recursive", err)
	}
}

// TestADIncrementalReadsNoticeWhatChanged runs incremental uSNChanged reads against the DC under
// samba.ChangesDN: a changed user is read alone (cost follows the users read), a membership change
// (which leaves the member's uSNChanged alone) and a mark from another DC or from the future make
// the read full, and directory.Incremental serves the right groups throughout.
func TestADIncrementalReadsNoticeWhatChanged(t *testing.T) {
	s := sharedDC(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := s.AdminConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ou := "OU=Incremental," + samba.ChangesDN
	userDN := func(n string) string { return "CN=" + n + "," + ou }
	groupDN := "CN=Inc Group," + ou
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := admin.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	add(userDN("inc1"), map[string][]string{"objectClass": {"user"}, "sAMAccountName": {"inc1"}})
	add(userDN("inc2"), map[string][]string{"objectClass": {"user"}, "sAMAccountName": {"inc2"}})
	add(groupDN, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"inc-group"}, "member": {userDN("inc1")}})

	cfg := dcConfig(s)
	cfg.BaseDN, cfg.Groups.GroupBaseDN, cfg.Groups.GroupFilter = ou, ou, ADGroupFilter
	cfg.Groups.PrimaryGroup = true
	cfg.Incremental.Attribute = "uSNChanged"
	var lastDelta *model.Snapshot
	inc := &directory.Incremental{FullEvery: time.Hour, Open: func(_ context.Context, mark string) (directory.Source, error) {
		c := cfg
		c.Incremental.Since = mark
		src, err := New(c)
		if err != nil {
			return nil, err
		}
		return readerFunc(func(ctx context.Context) (*model.Snapshot, error) {
			snap, err := src.Read(ctx)
			lastDelta = snap
			return snap, err
		}), nil
	}}
	groupsOf := func(snap *model.Snapshot) map[string][]string { return groupsByID(snap, "sAMAccountName") }
	readInc := func() map[string][]string {
		t.Helper()
		snap, err := inc.Read(ctx)
		if err != nil || !snap.Complete {
			t.Fatalf("incremental Read = %v (complete %v)", err, snap != nil && snap.Complete)
		}
		return groupsOf(snap)
	}
	want := func(got map[string][]string, sam string, groups ...string) {
		t.Helper()
		groups = append(groups, samba.DomainUser)
		slices.Sort(groups)
		if !slices.Equal(got[sam], groups) {
			t.Errorf("%s: groups %q, want %q", sam, got[sam], groups)
		}
	}

	got := readInc()
	want(got, "inc1", "Inc Group")
	want(got, "inc2")
	first := lastDelta.HighWater
	if m := parseMark(first); m.dc == "" || m.value == "" {
		t.Fatalf("HighWater %q does not name the DC", first)
	}

	// A changed user is read alone.
	if err := admin.Modify(&ldap.ModifyRequest{DN: userDN("inc2"), Changes: []ldap.Change{{Operation: ldap.ReplaceAttribute,
		Modification: ldap.PartialAttribute{Type: "title", Vals: []string{"Changed"}}}}}); err != nil {
		t.Fatal(err)
	}
	got = readInc()
	if lastDelta.Complete || len(lastDelta.Records) != 1 || lastDelta.Records[0].First("sAMAccountName") != "inc2" {
		t.Fatalf("after a user change the delta = %d records (complete %v), want inc2 alone", len(lastDelta.Records), lastDelta.Complete)
	}
	want(got, "inc2")

	// Adding inc2 to the group leaves inc2's uSNChanged alone; the group change makes the read full.
	if err := admin.Modify(&ldap.ModifyRequest{DN: groupDN, Changes: []ldap.Change{{Operation: ldap.AddAttribute,
		Modification: ldap.PartialAttribute{Type: "member", Vals: []string{userDN("inc2")}}}}}); err != nil {
		t.Fatal(err)
	}
	got = readInc()
	if !lastDelta.Complete {
		t.Error("a membership change did not make the read full")
	}
	want(got, "inc2", "Inc Group")
	// ... and the next read, with nothing changed, is a (small) delta again.
	readInc()
	if lastDelta.Complete {
		t.Error("the read after the full read is full again: the mark did not move past the group change")
	}

	// Removing inc1 from the group is noticed too.
	if err := admin.Modify(&ldap.ModifyRequest{DN: groupDN, Changes: []ldap.Change{{Operation: ldap.DeleteAttribute,
		Modification: ldap.PartialAttribute{Type: "member", Vals: []string{userDN("inc1")}}}}}); err != nil {
		t.Fatal(err)
	}
	got = readInc()
	want(got, "inc1")

	// Marks the DC cannot vouch for: another DC's, or beyond this DC's counter.
	m := parseMark(lastDelta.HighWater)
	for name, bad := range map[string]string{
		"another DC":  mark{value: m.value, dc: "00000000-0000-0000-0000-000000000001"}.String(),
		"no DC named": m.value,
		"the future":  mark{value: m.value + "000", dc: m.dc}.String(),
	} {
		c := cfg
		c.Incremental.Since = bad
		snap, err := readDC(t, c)
		if err != nil || !snap.Complete || len(snap.Records) != 2 {
			t.Errorf("%s: Read = %v, complete %v, %d records; want a full read", name, err, snap != nil && snap.Complete, len(snap.Records))
		}
	}
}

type readerFunc func(context.Context) (*model.Snapshot, error)

func (f readerFunc) Read(ctx context.Context) (*model.Snapshot, error) { return f(ctx) }
