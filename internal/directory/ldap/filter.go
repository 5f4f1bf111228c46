package ldap

import (
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// MatchingRuleInChain is AD's LDAP_MATCHING_RULE_IN_CHAIN: it walks nested group memberships.
const MatchingRuleInChain = "1.2.840.113556.1.4.1941"

// Op is the comparison of a generated filter clause.
type Op int

const (
	OpEqual          Op = iota // (attr=value)
	OpGreaterOrEqual           // (attr>=value)
	OpInChain                  // (attr:1.2.840.113556.1.4.1941:=value)
)

// Clause is one generated filter part. Value is always escaped, so it can never change the
// structure of the filter.
type Clause struct {
	Attribute string
	Op        Op
	Value     string
}

// BuildFilter AND-s the administrator's filter with generated clauses. The administrator's filter
// is taken as is (a missing outer pair of parentheses is added); every clause value is escaped with
// ldap.EscapeFilter. The result is checked with ldap.CompileFilter: a filter that does not compile
// is a KindInvalidFilter error, a bad clause attribute a KindInvalidConfig error.
func BuildFilter(userFilter string, clauses ...Clause) (string, error) {
	base := strings.TrimSpace(userFilter)
	if base == "" {
		base = DefaultUserFilter
	} else if !strings.HasPrefix(base, "(") {
		base = "(" + base + ")"
	}
	if _, err := ldap.CompileFilter(base); err != nil {
		return "", directory.Errorf(directory.KindInvalidFilter, err, "filter %q does not compile", userFilter)
	}
	if len(clauses) == 0 {
		return base, nil
	}
	var b strings.Builder
	b.WriteString("(&")
	b.WriteString(base)
	for _, c := range clauses {
		if !validAttributeName(c.Attribute) {
			return "", directory.Errorf(directory.KindInvalidConfig, nil, "invalid attribute name %q in filter", c.Attribute)
		}
		b.WriteByte('(')
		b.WriteString(c.Attribute)
		switch c.Op {
		case OpEqual:
			b.WriteByte('=')
		case OpGreaterOrEqual:
			b.WriteString(">=")
		case OpInChain:
			b.WriteString(":" + MatchingRuleInChain + ":=")
		default:
			return "", directory.Errorf(directory.KindInternal, nil, "unknown filter op %d", c.Op)
		}
		b.WriteString(ldap.EscapeFilter(c.Value))
		b.WriteByte(')')
	}
	b.WriteByte(')')
	out := b.String()
	if _, err := ldap.CompileFilter(out); err != nil {
		return "", directory.Errorf(directory.KindInvalidFilter, err, "generated filter %q does not compile", out)
	}
	return out, nil
}
