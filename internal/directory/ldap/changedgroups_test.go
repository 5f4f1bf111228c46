package ldap

import "testing"

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
