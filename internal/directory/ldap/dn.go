package ldap

import (
	"strings"

	"github.com/go-ldap/ldap/v3"
)

func parseDN(dn string) (*ldap.DN, error) { return ldap.ParseDN(dn) }

// normDN returns a comparison key for a DN: parsed, re-encoded and lower-cased, so that
// "CN=Eng, OU=Groups" and "cn=eng,ou=groups" match. Unparsable DNs are only lower-cased.
func normDN(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	return strings.ToLower(p.String())
}

// rdnValue returns the value of the DN's first RDN if its type is attr (case-insensitively).
func rdnValue(dn, attr string) (string, bool) {
	p, err := ldap.ParseDN(dn)
	if err != nil || len(p.RDNs) == 0 {
		return "", false
	}
	for _, a := range p.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, attr) {
			return a.Value, true
		}
	}
	return "", false
}

// stripUID removes the optional "#'0101'B" suffix of a uniqueMember (nameAndOptionalUID) value.
func stripUID(v string) string {
	i := strings.LastIndex(v, "#'")
	if i < 0 || !strings.HasSuffix(v, "'B") {
		return v
	}
	for _, c := range v[i+2 : len(v)-2] {
		if c != '0' && c != '1' {
			return v
		}
	}
	return v[:i]
}
