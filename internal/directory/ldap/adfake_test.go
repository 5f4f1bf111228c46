package ldap

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// adFake is a tiny in-process LDAP server on loopback that answers like Active Directory where
// OpenLDAP cannot: binary objectGUID, userAccountControl, LDAP_MATCHING_RULE_IN_CHAIN and
// member;range=... retrieval. It understands exactly the searches the Source sends.
type adFake struct {
	users  []adEntry
	groups []adEntry
}

type adEntry struct {
	dn      string
	attrs   map[string][]string
	members []string // groups only
}

const (
	adUsersDN  = "OU=Users,DC=corp,DC=example"
	adGroupsDN = "OU=Groups,DC=corp,DC=example"
	adBindDN   = "CN=svc,DC=corp,DC=example"
	adPassword = "pw"
	adRange    = 1500 // AD's MaxValRange
	adUsers    = 3200
)

func adUserDN(i int) string      { return fmt.Sprintf("CN=User %d,%s", i, adUsersDN) }
func adGroupDN(cn string) string { return "CN=" + ldap.EscapeDN(cn) + "," + adGroupsDN }
func adGUID(i int) string        { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }
func adUserIndex(dn string) int  { var i int; fmt.Sscanf(dn, "CN=User %d,", &i); return i }
func adGroupNames() []string     { return []string{"Big", "Nested", "Loop1", "Loop2", "R&D (EU), Team"} }
func adGroupMembers() map[string][]string {
	m := map[string][]string{
		"Nested":         {adGroupDN("Big"), adUserDN(3150)},
		"Loop1":          {adGroupDN("Loop2"), adUserDN(3160)},
		"Loop2":          {adGroupDN("Loop1")},
		"R&D (EU), Team": {adUserDN(3170)},
	}
	for i := 1; i <= 3100; i++ {
		m["Big"] = append(m["Big"], adUserDN(i))
	}
	return m
}

func newADFake() *adFake {
	f := &adFake{}
	for i := range adUsers {
		attrs := map[string][]string{
			"sAMAccountName":     {fmt.Sprintf("user%d", i)},
			"mail":               {fmt.Sprintf("user%d@corp.example", i)},
			"userAccountControl": {"512"},
		}
		if i%100 == 3 {
			attrs["userAccountControl"] = []string{"514"} // NORMAL_ACCOUNT | ACCOUNTDISABLE
		}
		if i != 0 { // user 0 has no objectGUID
			guid, _ := EncodeGUID(adGUID(i))
			attrs["objectGUID"] = []string{string(guid)}
		}
		f.users = append(f.users, adEntry{dn: adUserDN(i), attrs: attrs})
	}
	members := adGroupMembers()
	for _, cn := range adGroupNames() {
		f.groups = append(f.groups, adEntry{dn: adGroupDN(cn), attrs: map[string][]string{"cn": {cn}}, members: members[cn]})
	}
	return f
}

func (f *adFake) group(dn string) *adEntry {
	for i := range f.groups {
		if strings.EqualFold(f.groups[i].dn, dn) {
			return &f.groups[i]
		}
	}
	return nil
}

// inChain returns the user DNs that are transitive members of group dn (cycle-safe), as AD would.
func (f *adFake) inChain(dn string) map[string]bool {
	users, seen := map[string]bool{}, map[string]bool{}
	var walk func(string)
	walk = func(g string) {
		if seen[g] {
			return
		}
		seen[g] = true
		for _, m := range f.group(g).members {
			if f.group(m) != nil {
				walk(m)
			} else {
				users[m] = true
			}
		}
	}
	walk(dn)
	return users
}

// memberValues returns member values as AD does: the whole list when small, else one range.
func memberValues(all []string, requested string) (string, []string) {
	low := 0
	if _, lo, _, ok := parseRange(requested); ok {
		low = lo
	} else if len(all) <= adRange {
		return "member", all
	}
	high := min(low+adRange, len(all))
	if high == len(all) {
		return fmt.Sprintf("member;range=%d-*", low), all[low:]
	}
	return fmt.Sprintf("member;range=%d-%d", low, high-1), all[low:high]
}

// inChainValue extracts the value of an IN_CHAIN assertion from a filter, if any.
func inChainValue(filter string) (string, bool) {
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		return "", false
	}
	var walk func(*ber.Packet) (string, bool)
	walk = func(n *ber.Packet) (string, bool) {
		if n.Tag == ldap.FilterExtensibleMatch && len(n.Children) == 3 && n.Children[0].Data.String() == MatchingRuleInChain {
			return n.Children[2].Data.String(), true
		}
		for _, c := range n.Children {
			if v, ok := walk(c); ok {
				return v, true
			}
		}
		return "", false
	}
	return walk(p)
}

func (f *adFake) serve(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetSearchMessage()
	if err != nil {
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultOperationsError)))
		return
	}
	send := func(e adEntry, attrs map[string][]string) {
		_ = w.Write(r.NewSearchResponseEntry(e.dn, gldap.WithAttributes(attrs)))
	}
	ranged := slices.IndexFunc(m.Attributes, func(a string) bool { return strings.Contains(strings.ToLower(a), ";range=") })
	switch {
	case m.BaseDN == "": // rootDSE: announce Active Directory
		_ = w.Write(r.NewSearchResponseEntry("", gldap.WithAttributes(map[string][]string{
			"supportedCapabilities": {capActiveDirectory}, "namingContexts": {"DC=corp,DC=example"}})))
	case strings.EqualFold(m.BaseDN, adGroupsDN):
		for _, g := range f.groups {
			attrs := map[string][]string{"cn": g.attrs["cn"]}
			if slices.ContainsFunc(m.Attributes, func(a string) bool { return strings.EqualFold(a, "member") }) {
				name, vals := memberValues(g.members, "member")
				attrs[name] = vals
			}
			send(g, attrs)
		}
	case f.group(m.BaseDN) != nil && ranged >= 0:
		name, vals := memberValues(f.group(m.BaseDN).members, m.Attributes[ranged])
		send(*f.group(m.BaseDN), map[string][]string{name: vals})
	case strings.EqualFold(m.BaseDN, adUsersDN):
		only, chained := map[string]bool(nil), false
		if g, ok := inChainValue(m.Filter); ok {
			chained = true
			if f.group(g) != nil {
				only = f.inChain(g)
			}
		}
		for _, u := range f.users {
			if !chained || only[u.dn] {
				send(u, u.attrs)
			}
		}
	default:
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultNoSuchObject)))
		return
	}
	_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
}

func startADFake(t *testing.T) string {
	t.Helper()
	f := newADFake()
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	mux, _ := gldap.NewMux()
	_ = mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) {
		resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
		if m, err := r.GetSimpleBindMessage(); err == nil && m.UserName == adBindDN && string(m.Password) == adPassword {
			resp.SetResultCode(gldap.ResultSuccess)
		}
		_ = w.Write(resp)
	})
	_ = mux.Search(f.serve)
	_ = srv.Router(mux)
	addr := closedAddr(t)
	go func() { _ = srv.Run(addr) }()
	t.Cleanup(func() { _ = srv.Stop() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "ldap://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("AD fake did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func adConfig(url, mode string) Config {
	return Config{
		URL: url, BindDN: adBindDN, BindPassword: adPassword, BaseDN: adUsersDN,
		UserFilter:  "(&(objectCategory=person)(objectClass=user))",
		Attributes:  []string{"sAMAccountName", "mail", "objectGUID"},
		IDAttribute: "objectGUID",
		Groups:      GroupsConfig{Mode: mode, GroupBaseDN: adGroupsDN},
		Disabled:    DisabledConfig{Mode: DisabledActiveDirectory},
		Timeout:     10 * time.Second,
	}
}

func TestActiveDirectoryShapes(t *testing.T) {
	url := startADFake(t)
	want := map[int][]string{ // user index -> groups, nested included
		5:    {"Big", "Nested"},
		3100: {"Big", "Nested"}, // in the last range chunk
		3150: {"Nested"},
		3160: {"Loop1", "Loop2"},
		3170: {"R&D (EU), Team"},
		3199: nil,
	}
	for _, mode := range []string{GroupsInChain, GroupsRecursive} {
		t.Run(mode, func(t *testing.T) {
			src := mustNew(t, adConfig(url, mode))
			src.inChainStrategy = "group" // the fake serves LDAP_MATCHING_RULE_IN_CHAIN, not memberOf
			snap, err := src.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Records) != adUsers-1 || len(snap.Problems) != 1 || snap.Problems[0].Subject != adUserDN(0) {
				t.Fatalf("records=%d problems=%+v; want %d records and a MissingID problem for user 0", len(snap.Records), snap.Problems, adUsers-1)
			}
			inBig, disabled := 0, 0
			for _, r := range snap.Records {
				i := adUserIndex(r.DN)
				if r.ID != adGUID(i) {
					t.Fatalf("ID of %s = %s, want %s", r.DN, r.ID, adGUID(i))
				}
				if r.Disabled != (i%100 == 3) {
					t.Errorf("%s Disabled = %v", r.DN, r.Disabled)
				}
				if r.Disabled {
					disabled++
				}
				if slices.Contains(r.Groups, "Big") {
					inBig++
				}
				if g, ok := want[i]; ok && !slices.Equal(r.Groups, g) {
					t.Errorf("groups of user %d = %v, want %v", i, r.Groups, g)
				}
			}
			if inBig != 3100 || disabled != 32 {
				t.Errorf("%d users in Big (want 3100, all ranges), %d disabled (want 32)", inBig, disabled)
			}
			if got := snap.Records[0].GroupDNs; len(snap.Records[0].Groups) != len(got) {
				t.Errorf("Groups and GroupDNs disagree: %v vs %v", snap.Records[0].Groups, got)
			}
		})
	}
	cfg := adConfig(url, GroupsNone)
	cfg.BindPassword = "nope"
	if _, err := mustNew(t, cfg).Read(context.Background()); directory.KindOf(err) != directory.KindAuthFailed {
		t.Errorf("wrong AD password: %v, want AuthFailed", err)
	}
}
