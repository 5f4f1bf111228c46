package samba

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestDomainControllerServesTheSeedOverLDAPS(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatalf("the Samba AD DC did not start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := s.AdminConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	res, err := c.Search(ldap.NewSearchRequest(PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectCategory=person)(objectClass=user))", []string{"sAMAccountName"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Entries); got != len(People) {
		t.Errorf("people under %s: %d, want %d", PeopleDN, got, len(People))
	}
	res, err = c.Search(ldap.NewSearchRequest(GroupDN(GroupBig), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=group)", []string{"member;range=0-*"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v %v", GroupBig, err, res)
	}
	n := 0
	for _, a := range res.Entries[0].Attributes {
		n += len(a.Values)
	}
	if n != BigGroupMembers+1 {
		t.Errorf("%s has %d members, want %d", GroupBig, n, BigGroupMembers+1)
	}
	// Strong auth is required: a simple bind over plain LDAP is refused.
	plain, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Bind(ServiceDN, ServicePassword); !ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired) {
		t.Errorf("simple bind over ldap:// = %v, want strongerAuthRequired", err)
	}
	// The escaped DN of a seeded group is found as written.
	res, err = c.Search(ldap.NewSearchRequest(GroupDN(GroupEscaped), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=group)", []string{"cn"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("cn") != GroupEscaped {
		t.Errorf("read %q: %v %v", GroupDN(GroupEscaped), err, res)
	}
	if !strings.Contains(GroupDN(GroupEscaped), `Q&A\, Ü\+Team`) {
		t.Errorf("GroupDN does not escape: %s", GroupDN(GroupEscaped))
	}
}

func TestAllGroupsFollowsNestingAndCycles(t *testing.T) {
	if got, want := strings.Join(AllGroups("bob"), "|"), "Platform|Engineering|All Staff"; got != want {
		t.Errorf("AllGroups(bob) = %s, want %s", got, want)
	}
	if got, want := strings.Join(AllGroups("rdlead"), "|"), "Sales|All Staff|Cycle B|Cycle A"; got != want {
		t.Errorf("AllGroups(rdlead) = %s, want %s", got, want)
	}
}
