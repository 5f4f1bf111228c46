package ldap

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// A member outside baseDN or scope is never read as a person of the source.
func TestInUserScope(t *testing.T) {
	base := "OU=People,DC=example,DC=com"
	for _, tc := range []struct {
		scope, dn string
		want      bool
	}{
		{ScopeSub, "CN=a,OU=People,DC=example,DC=com", true},
		{ScopeSub, "cn=a, ou=sub, ou=people, dc=EXAMPLE, dc=com", true},
		{ScopeSub, "OU=People,DC=example,DC=com", true},
		{ScopeSub, "CN=a,OU=Other,DC=example,DC=com", false},
		{ScopeSub, "CN=a,OU=People,DC=example,DC=org", false},
		{ScopeSub, "DC=example,DC=com", false},
		{ScopeSub, "CN=People\\,x,DC=example,DC=com", false},
		{ScopeSub, "not a dn", false},
		{ScopeOne, "CN=a,OU=People,DC=example,DC=com", true},
		{ScopeOne, "CN=a,OU=Sub,OU=People,DC=example,DC=com", false},
		{ScopeBase, "OU=People,DC=example,DC=com", true},
		{ScopeBase, "CN=a,OU=People,DC=example,DC=com", false},
	} {
		s := &Source{cfg: Config{BaseDN: base, Scope: tc.scope}}
		if got := s.inUserScope(tc.dn); got != tc.want {
			t.Errorf("scope %s, %q: %v, want %v", tc.scope, tc.dn, got, tc.want)
		}
	}
}

// TestIncrementalReadsReresolveChangedGroupsOnSlapd: with modifyTimestamp marks on OpenLDAP, a
// membership change (direct or nested, added or removed) is re-resolved by a delta, and the
// merged snapshot has exactly the groups of a full read, in both modes OpenLDAP supports.
func TestIncrementalReadsReresolveChangedGroupsOnSlapd(t *testing.T) {
	for _, mode := range []string{GroupsRecursive, GroupsMemberOf} {
		t.Run(mode, func(t *testing.T) {
			s := ownServer(t, 60)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := seedConfig(s)
			cfg.Groups.Mode = mode
			cfg.Incremental.Attribute = "modifyTimestamp"
			var lastDelta *model.Snapshot
			var lastSource *Source
			inc := &directory.Incremental{FullEvery: time.Hour, Open: func(_ context.Context, mark string) (directory.Source, error) {
				c := cfg
				c.Incremental.Since = mark
				src, err := New(c)
				if err != nil {
					return nil, err
				}
				lastSource = src
				return deltaFunc(func(ctx context.Context, base *model.Snapshot) (*model.Snapshot, error) {
					snap, err := src.ReadDelta(ctx, base)
					lastDelta = snap
					return snap, err
				}), nil
			}}
			groupsOf := func(snap *model.Snapshot) map[string][]string { return groupsByID(snap, "uid") }
			// A first change moves the mark past the seed's timestamp, shared by every entry.
			if err := s.MoveDepartment(ctx, "user00040", "999"); err != nil {
				t.Fatal(err)
			}
			if _, err := inc.Read(ctx); err != nil {
				t.Fatal(err)
			}
			step := func(what string, change func() error) {
				t.Helper()
				time.Sleep(1100 * time.Millisecond) // modifyTimestamp counts seconds
				if err := change(); err != nil {
					t.Fatal(err)
				}
				merged, err := inc.Read(ctx)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if lastDelta.Complete || len(lastDelta.Records) > 20 {
					t.Errorf("%s: read %d records (complete %v), want a small delta", what, len(lastDelta.Records), lastDelta.Complete)
				}
				if got, want := groupsOf(merged), groupsOf(mustRead(t, cfg)); !maps.EqualFunc(got, want, slices.Equal) {
					for uid := range want {
						if !slices.Equal(got[uid], want[uid]) {
							t.Errorf("%s: %s has groups %v, a full read %v", what, uid, got[uid], want[uid])
						}
					}
				}
			}
			step("add a member", func() error { return s.AddGroupMember(ctx, slapd.GroupPlatform, slapd.UserDN("user00003")) })
			step("remove a member", func() error { return s.RemoveGroupMember(ctx, slapd.GroupPlatform, slapd.UserDN("user00050")) })
			step("remove a nested group", func() error {
				return s.RemoveGroupMember(ctx, slapd.GroupEngineering, slapd.GroupDN(slapd.GroupPlatform))
			})
			step("nest it elsewhere", func() error { return s.AddGroupMember(ctx, slapd.GroupSales, slapd.GroupDN(slapd.GroupPlatform)) })
			step("nothing", func() error { return nil })
			// People changed, no group: Recursive mode takes their groups from the base snapshot
			// instead of listing every group (the full read of the check above lists them). The
			// first such read still sees the group changed in the mark's second (the mark is
			// inclusive); the second does not.
			for _, uid := range []string{"user00041", "user00040"} {
				step("change "+uid, func() error { return s.MoveDepartment(ctx, uid, "998") })
			}
			if mode == GroupsRecursive && lastSource.groupListings.Load() != 0 {
				t.Errorf("an incremental read of a changed person, no group changed, listed every group %d times", lastSource.groupListings.Load())
			}
			step("add a member after that", func() error { return s.AddGroupMember(ctx, slapd.GroupSales, slapd.UserDN("user00040")) })
			if mode == GroupsRecursive && lastSource.groupListings.Load() != 1 {
				t.Errorf("an incremental read after a group changed listed every group %d times, want 1", lastSource.groupListings.Load())
			}
		})
	}
}

// groupsByID maps each record of snap, named by its idAttr value, to its groups.
func groupsByID(snap *model.Snapshot, idAttr string) map[string][]string {
	m := make(map[string][]string, len(snap.Records))
	for _, r := range snap.Records {
		m[r.First(idAttr)] = r.Groups
	}
	return m
}
