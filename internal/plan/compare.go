package plan

import (
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Comparison of desired and actual values. A run after a successful write must plan zero writes,
// whatever the server did to the values it stored, so values are compared as RFC 7643 allows a
// server to store them:
//   - strings ignore case unless the attribute is caseExact (RFC 7643 §2.2: caseExact defaults to
//     false, and every string attribute of the core User and enterprise schemas is case-insensitive;
//     a server "MAY alter case" of such values). Policy.CaseExactFields, filled from the target's
//     /Schemas, makes an attribute case-sensitive. A case-only change in the directory is therefore
//     not written to a case-insensitive attribute.
//   - leading and trailing white space is ignored (servers trim);
//   - phone numbers compare by their digits and a leading "+", ignoring "tel:", spaces, dashes,
//     dots and parentheses (servers reformat to E.164 or RFC 3966);
//   - booleans and integers compare by value (a server returning "true" or "42" as strings is
//     decoded to the same value by the target);
//   - dateTimes compare as instants (offset and fractional-second formatting ignored);
//   - string lists compare as sets, element-wise as strings.

// equalString compares a named string field.
func (p *planner) equalString(field, a, b string) bool {
	if a == b {
		return true
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if field == model.FieldPhoneNumber && samePhone(a, b) {
		return true
	}
	if p.caseExact[field] {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// equalValue compares an attribute path's values.
func (p *planner) equalValue(path string, a, b model.Value) bool {
	if a.IsEmpty() || b.IsEmpty() {
		return a.IsEmpty() == b.IsEmpty()
	}
	exact := p.caseExact[path]
	str := func(x, y string) bool {
		if x == y {
			return true
		}
		x, y = strings.TrimSpace(x), strings.TrimSpace(y)
		if exact {
			return x == y
		}
		return strings.EqualFold(x, y)
	}
	if a.Kind != b.Kind && a.Kind != model.KindDateTime && b.Kind != model.KindDateTime {
		// A target that cannot know a custom attribute's type reads it as the JSON type the server
		// sent ("3" for 3): compare the text.
		return str(a.String(), b.String())
	}
	switch a.Kind {
	case model.KindBool:
		return a.Bool == b.Bool
	case model.KindInt:
		return a.Int == b.Int
	case model.KindDateTime:
		ta, errA := model.ParseDateTime(strings.TrimSpace(a.Str))
		tb, errB := model.ParseDateTime(strings.TrimSpace(b.Str))
		if errA == nil && errB == nil {
			return ta.Equal(tb)
		}
		return str(a.Str, b.Str)
	case model.KindStrings:
		return sameSet(a.Strs, b.Strs, str)
	}
	if b.Kind == model.KindDateTime {
		return p.equalValue(path, b, a)
	}
	if isPhonePath(path) && samePhone(strings.TrimSpace(a.Str), strings.TrimSpace(b.Str)) {
		return true
	}
	return str(a.Str, b.Str)
}

// sameSet reports whether every element of a has an equal one in b and vice versa.
func sameSet(a, b []string, eq func(x, y string) bool) bool {
	contains := func(list []string, x string) bool {
		for _, y := range list {
			if eq(x, y) {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	for _, y := range b {
		if !contains(a, y) {
			return false
		}
	}
	return true
}

func isPhonePath(path string) bool { return strings.HasPrefix(path, "phoneNumbers") }

// samePhone compares phone numbers by digits and a leading "+", without allocating.
func samePhone(a, b string) bool {
	a = trimPhone(a)
	b = trimPhone(b)
	i, j := 0, 0
	for {
		for i < len(a) && isPhoneNoise(a[i]) {
			i++
		}
		for j < len(b) && isPhoneNoise(b[j]) {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if a[i] != b[j] {
			return false
		}
		i++
		j++
	}
}

func trimPhone(s string) string {
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		return s[4:]
	}
	return s
}

func isPhoneNoise(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '\t'
}
