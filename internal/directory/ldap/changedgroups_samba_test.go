package ldap

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/samba"
)

// deltaFunc is a source whose incremental reads get the base snapshot, like *Source.
type deltaFunc func(context.Context, *model.Snapshot) (*model.Snapshot, error)

func (f deltaFunc) Read(ctx context.Context) (*model.Snapshot, error) { return f(ctx, nil) }
func (f deltaFunc) ReadDelta(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error) {
	return f(ctx, base)
}

// TestADIncrementalReadsReresolveChangedGroups changes memberships on the DC in every way that
// leaves the members' uSNChanged alone (add, remove, nested groups, a group outside the listing
// that nests people, a deleted and a renamed group, a member outside baseDN) and checks, in every
// groups mode, that directory.Incremental's merged snapshot has exactly the groups a full read
// finds, while each read stays a delta that leaves out the people no change touched.
func TestADIncrementalReadsReresolveChangedGroups(t *testing.T) {
	s := sharedDC(t)
	for i, mode := range []string{GroupsInChain, GroupsMemberOf, GroupsRecursive} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			admin, err := s.AdminConn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			root := fmt.Sprintf("OU=Regroup%d,%s", i, samba.ChangesDN)
			people, groups, hidden, elsewhere := "OU=People,"+root, "OU=Groups,"+root, "OU=Hidden,"+root, "OU=Elsewhere,"+root
			user := func(n string) string { return "CN=" + n + "," + people }
			group := func(n string) string { return "CN=" + n + "," + groups }
			outsider, hiddenGroup := "CN=outsider,"+elsewhere, "CN=hidden,"+hidden
			add := func(dn string, attrs map[string][]string) {
				t.Helper()
				req := ldap.NewAddRequest(dn, nil)
				for _, k := range slices.Sorted(maps.Keys(attrs)) {
					req.Attribute(k, attrs[k])
				}
				if err := admin.Add(req); err != nil {
					t.Fatalf("add %s: %v", dn, err)
				}
			}
			member := func(op uint, g string, dns ...string) {
				t.Helper()
				if err := admin.Modify(&ldap.ModifyRequest{DN: g, Changes: []ldap.Change{{Operation: op,
					Modification: ldap.PartialAttribute{Type: "member", Vals: dns}}}}); err != nil {
					t.Fatalf("change the members of %s: %v", g, err)
				}
			}
			for _, ou := range []string{root, people, groups, hidden, elsewhere} {
				add(ou, map[string][]string{"objectClass": {"organizationalUnit"}})
			}
			for n := 1; n <= 6; n++ {
				sam := fmt.Sprintf("rg%d-u%d", i, n)
				add(user(sam), map[string][]string{"objectClass": {"user"}, "sAMAccountName": {sam}})
			}
			add(outsider, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {fmt.Sprintf("rg%d-out", i)}})
			u := func(n int) string { return user(fmt.Sprintf("rg%d-u%d", i, n)) }
			// top > mid > leaf, and hidden (outside groupBaseDN) in mid.
			add(group("leaf"), map[string][]string{"objectClass": {"group"}, "sAMAccountName": {fmt.Sprintf("rg%d-leaf", i)}, "member": {u(1)}})
			add(group("mid"), map[string][]string{"objectClass": {"group"}, "sAMAccountName": {fmt.Sprintf("rg%d-mid", i)}, "member": {group("leaf"), u(4)}})
			add(group("top"), map[string][]string{"objectClass": {"group"}, "sAMAccountName": {fmt.Sprintf("rg%d-top", i)}, "member": {group("mid")}})
			add(hiddenGroup, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {fmt.Sprintf("rg%d-hidden", i)}})
			member(ldap.AddAttribute, group("mid"), hiddenGroup)

			cfg := dcConfig(s)
			cfg.BaseDN, cfg.Groups.GroupBaseDN, cfg.Groups.GroupFilter = people, groups, ADGroupFilter
			cfg.Groups.Mode, cfg.Groups.PrimaryGroup = mode, true
			cfg.Incremental.Attribute = "uSNChanged"
			var lastDelta *model.Snapshot
			limit := 0 // default
			inc := &directory.Incremental{FullEvery: time.Hour, Open: func(_ context.Context, mark string) (directory.Source, error) {
				c := cfg
				c.Incremental.Since = mark
				src, err := New(c)
				if err != nil {
					return nil, err
				}
				src.rereadMax = limit
				return deltaFunc(func(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error) {
					snap, err := src.ReadDelta(ctx, base)
					lastDelta = snap
					return snap, err
				}), nil
			}}
			groupsOf := func(snap *model.Snapshot) map[string][]string { return groupsByID(snap, "sAMAccountName") }
			if _, err := inc.Read(ctx); err != nil {
				t.Fatal(err)
			}
			untouched := fmt.Sprintf("rg%d-u6", i)
			step := func(what string, change func()) {
				t.Helper()
				change()
				merged, err := inc.Read(ctx)
				if err != nil || !merged.Complete {
					t.Fatalf("%s: incremental Read = %v", what, err)
				}
				if lastDelta.Complete {
					t.Errorf("%s: the read was full, want a delta", what)
				}
				for _, r := range lastDelta.Records {
					if sam := r.First("sAMAccountName"); sam == untouched || sam == fmt.Sprintf("rg%d-out", i) {
						t.Errorf("%s: the delta read %s, whom no change touched", what, sam)
					}
				}
				full, err := readDC(t, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := groupsOf(merged), groupsOf(full); !maps.EqualFunc(got, want, slices.Equal) {
					t.Errorf("%s: merged incremental groups\n%v\nwant (full read)\n%v", what, got, want)
				}
			}
			step("add a member", func() { member(ldap.AddAttribute, group("leaf"), u(2)) })
			step("remove a member", func() { member(ldap.DeleteAttribute, group("leaf"), u(1)) })
			step("remove a nested group", func() { member(ldap.DeleteAttribute, group("top"), group("mid")) })
			step("add a nested group back", func() { member(ldap.AddAttribute, group("top"), group("mid")) })
			step("add a member to a group outside the listing", func() { member(ldap.AddAttribute, hiddenGroup, u(3)) })
			step("remove a member from the group outside the listing", func() { member(ldap.DeleteAttribute, hiddenGroup, u(3)) })
			step("add it back", func() { member(ldap.AddAttribute, hiddenGroup, u(3)) })
			step("unnest the group outside the listing", func() { member(ldap.DeleteAttribute, group("mid"), hiddenGroup) })
			step("delete a group", func() {
				if err := admin.Del(ldap.NewDelRequest(group("leaf"), nil)); err != nil {
					t.Fatal(err)
				}
			})
			step("rename a group", func() {
				if err := admin.ModifyDN(ldap.NewModifyDNRequest(group("mid"), "CN=middle", true, "")); err != nil {
					t.Fatal(err)
				}
			})
			step("add a member outside baseDN", func() { member(ldap.AddAttribute, group("top"), outsider) })
			step("nothing changed", func() {})

			// More people in changed groups than are worth reading one by one: a full read.
			limit = 1
			member(ldap.AddAttribute, group("top"), u(5), u(6))
			merged, err := inc.Read(ctx)
			if err != nil || !lastDelta.Complete {
				t.Fatalf("two people in a changed group, limit 1: Read = %v, complete %v; want a full read", err, lastDelta.Complete)
			}
			full, err := readDC(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := groupsOf(merged), groupsOf(full); !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("after the full read: groups %v, want %v", got, want)
			}
		})
	}
}
