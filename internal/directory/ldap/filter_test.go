package ldap

import (
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

func TestBuildFilter(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		clauses []Clause
		want    string
		kind    directory.ErrorKind
	}{
		{name: "empty means everything", want: "(objectClass=*)"},
		{name: "parentheses added", user: "objectClass=inetOrgPerson", want: "(objectClass=inetOrgPerson)"},
		{name: "admin filter kept", user: " (&(objectClass=person)(!(uid=svc*))) ", want: "(&(objectClass=person)(!(uid=svc*)))"},
		{
			name: "incremental mark escaped", user: "(objectClass=person)",
			clauses: []Clause{{Attribute: "modifyTimestamp", Op: OpGreaterOrEqual, Value: "2024*)(uid=*"}},
			want:    `(&(objectClass=person)(modifyTimestamp>=2024\2a\29\28uid=\2a))`,
		},
		{
			name: "group DN in chain", user: "(objectClass=user)",
			clauses: []Clause{{Attribute: "memberOf", Op: OpInChain, Value: `CN=R&D (EU)\, Inc,OU=Groups,DC=corp`}},
			want:    `(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=CN=R&D \28EU\29\5c, Inc,OU=Groups,DC=corp))`,
		},
		{
			name: "non-ASCII and NUL escaped", user: "(objectClass=*)",
			clauses: []Clause{{Attribute: "cn", Op: OpEqual, Value: "Zoë\x00"}},
			want:    `(&(objectClass=*)(cn=Zo\c3\ab\00))`,
		},
		{name: "unbalanced admin filter", user: "(&(objectClass=person)", kind: directory.KindInvalidFilter},
		{name: "garbage admin filter", user: "((uid=a)", kind: directory.KindInvalidFilter},
		{
			name: "attribute name injection", user: "(objectClass=*)",
			clauses: []Clause{{Attribute: "uid=x)(cn", Op: OpEqual, Value: "y"}}, kind: directory.KindInvalidConfig,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildFilter(tt.user, tt.clauses...)
			if tt.kind != "" {
				if directory.KindOf(err) != tt.kind {
					t.Fatalf("BuildFilter = %q, %v; want kind %s", got, err, tt.kind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BuildFilter = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// checkStructure compiles filter and verifies it is exactly (&<user><clauses...>) with every clause
// carrying its value verbatim: an injected value cannot add, remove or reshape filter components.
func checkStructure(t *testing.T, filter string, clauses []Clause) {
	t.Helper()
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		t.Fatalf("BuildFilter produced %q which does not compile: %v", filter, err)
	}
	if p.Tag != ldap.FilterAnd || len(p.Children) != 1+len(clauses) {
		t.Fatalf("filter %q: want an AND of %d parts, got tag %d with %d children", filter, 1+len(clauses), p.Tag, len(p.Children))
	}
	for i, c := range clauses {
		child := p.Children[i+1]
		var attr, value string
		switch c.Op {
		case OpEqual, OpGreaterOrEqual:
			wantTag := map[Op]ber.Tag{OpEqual: ldap.FilterEqualityMatch, OpGreaterOrEqual: ldap.FilterGreaterOrEqual}[c.Op]
			if child.Tag != wantTag || len(child.Children) != 2 {
				t.Fatalf("filter %q clause %d: tag %d with %d children", filter, i, child.Tag, len(child.Children))
			}
			attr, value = child.Children[0].Data.String(), child.Children[1].Data.String()
		case OpInChain:
			if child.Tag != ldap.FilterExtensibleMatch || len(child.Children) != 3 {
				t.Fatalf("filter %q clause %d: tag %d with %d children", filter, i, child.Tag, len(child.Children))
			}
			if rule := child.Children[0].Data.String(); rule != MatchingRuleInChain {
				t.Fatalf("filter %q: matching rule %q", filter, rule)
			}
			attr, value = child.Children[1].Data.String(), child.Children[2].Data.String()
		}
		if attr != c.Attribute || value != c.Value {
			t.Fatalf("filter %q clause %d: got (%q, %q), want (%q, %q)", filter, i, attr, value, c.Attribute, c.Value)
		}
	}
}

func TestBuildFilterStructure(t *testing.T) {
	for _, v := range []string{"*", ")(|(uid=*", `\2a`, "\x00", "a)(objectClass=*))(|(a=b", "李雷", "\xff\xfe"} {
		clauses := []Clause{
			{Attribute: "uid", Op: OpEqual, Value: v},
			{Attribute: "modifyTimestamp", Op: OpGreaterOrEqual, Value: v},
			{Attribute: "memberOf", Op: OpInChain, Value: v},
		}
		f, err := BuildFilter("(objectClass=inetOrgPerson)", clauses...)
		if err != nil {
			t.Fatalf("BuildFilter(%q): %v", v, err)
		}
		checkStructure(t, f, clauses)
	}
}

func FuzzBuildFilter(f *testing.F) {
	for _, s := range []string{"", "*", ")(uid=*)", `\`, "\x00", "Zoë", "20240101000000Z", "(|(a=b)(c=d))"} {
		f.Add(s, "(objectClass=person)")
	}
	f.Add("x", "uid=a")
	f.Add("x", "(&(a=b)")
	f.Fuzz(func(t *testing.T, value, userFilter string) {
		clauses := []Clause{
			{Attribute: "uid", Op: OpEqual, Value: value},
			{Attribute: "modifyTimestamp", Op: OpGreaterOrEqual, Value: value},
			{Attribute: "memberOf", Op: OpInChain, Value: value},
		}
		out, err := BuildFilter(userFilter, clauses...)
		if err != nil {
			// Only the administrator's filter may be rejected, never an inserted value.
			if _, uerr := BuildFilter(userFilter); uerr == nil {
				t.Fatalf("BuildFilter(%q, value %q) failed although the user filter is valid: %v", userFilter, value, err)
			}
			return
		}
		checkStructure(t, out, clauses)
	})
}
