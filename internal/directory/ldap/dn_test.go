package ldap

import (
	"testing"
)

func TestDNHelpers(t *testing.T) {
	if a, b := normDN("CN=Eng Team, OU=Groups,DC=Corp"), normDN("cn=eng team,ou=groups,dc=corp"); a != b {
		t.Errorf("normDN differs: %q vs %q", a, b)
	}
	if v, ok := rdnValue(`cn=R\2cD,ou=g`, "CN"); !ok || v != "R,D" {
		t.Errorf("rdnValue = %q, %v", v, ok)
	}
	if _, ok := rdnValue("uid=a,ou=g", "cn"); ok {
		t.Error("rdnValue matched the wrong attribute")
	}
	for in, want := range map[string]string{
		"uid=a,dc=x#'0101'B": "uid=a,dc=x",
		"uid=a,dc=x":         "uid=a,dc=x",
		"uid=a#b,dc=x'B":     "uid=a#b,dc=x'B",
	} {
		if got := stripUID(in); got != want {
			t.Errorf("stripUID(%q) = %q, want %q", in, got, want)
		}
	}
}
