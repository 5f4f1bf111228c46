package slapd

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestSeedIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := NewSeed(100).WriteLDIF(&a); err != nil {
		t.Fatal(err)
	}
	if err := NewSeed(100).WriteLDIF(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two seeds of the same size differ")
	}
}

func TestSeedGroups(t *testing.T) {
	s := NewSeed(2500)
	// user00050 is in platform (i%50==0), hence engineering and all-staff.
	if got, want := s.AllGroups("user00050"), []string{GroupAllStaff, GroupEngineering, GroupPlatform}; !slices.Equal(got, want) {
		t.Errorf("AllGroups(user00050) = %v, want %v", got, want)
	}
	if got, want := s.AllGroups(CycleUID), []string{GroupCycleA, GroupCycleB}; !slices.Equal(got, want) {
		t.Errorf("AllGroups(cycle.user) = %v, want %v", got, want)
	}
	if got, want := s.DirectGroups(CycleUID), []string{GroupCycleA}; !slices.Equal(got, want) {
		t.Errorf("DirectGroups(cycle.user) = %v, want %v", got, want)
	}
	if got := s.AllGroups("user00009"); len(got) != 0 {
		t.Errorf("AllGroups(user00009) = %v, want none", got)
	}
	if got, want := s.DisabledUIDs(), []string{DisabledUID, "user00250", "user00750", "user01250", "user01750", "user02250"}; !slices.Equal(got, want) {
		t.Errorf("DisabledUIDs = %v, want %v", got, want)
	}
}

func TestServerLifecycle(t *testing.T) {
	if !Available() {
		t.Fatal(InstallHint)
	}
	ctx := context.Background()
	s, err := Start(Options{Users: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	lookup := func(uid string) *ldap.Entry {
		t.Helper()
		c, err := s.AdminConn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Search(ldap.NewSearchRequest(UserDN(uid), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"departmentNumber", "memberOf", DisabledAttribute, "entryUUID"}, nil))
		if err != nil {
			t.Fatalf("lookup %s: %v", uid, err)
		}
		return res.Entries[0]
	}
	e := lookup(UnicodeUID)
	u, _ := s.Seed.User(UnicodeUID)
	if got := e.GetAttributeValue("entryUUID"); got != u.EntryUUID {
		t.Errorf("entryUUID = %q, want seeded %q", got, u.EntryUUID)
	}
	if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{GroupDN(GroupPlatform)}) {
		t.Errorf("memberOf = %v", got)
	}

	if err := s.MoveDepartment(ctx, "user00009", "999"); err != nil {
		t.Fatal(err)
	}
	if err := s.DisableUser(ctx, "user00009"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddGroupMember(ctx, GroupSales, UserDN("user00009")); err != nil {
		t.Fatal(err)
	}
	e = lookup("user00009")
	if e.GetAttributeValue("departmentNumber") != "999" || e.GetAttributeValue(DisabledAttribute) != DisabledValue {
		t.Errorf("modifications not applied: %v", e.Attributes)
	}
	if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{GroupDN(GroupSales)}) {
		t.Errorf("memberOf after AddGroupMember = %v (overlay not active?)", got)
	}

	if err := s.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := s.ping(); err == nil {
		t.Fatal("server still answers after Halt")
	}
	start := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v", time.Since(start))
	if e := lookup("user00009"); e.GetAttributeValue("departmentNumber") != "999" {
		t.Error("data lost across restart")
	}
	if err := s.DeleteUser(ctx, "user00009"); err != nil {
		t.Fatal(err)
	}
}
