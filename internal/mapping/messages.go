package mapping

import (
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// evalMessage describes a CEL runtime error for status without quoting the record's data, which
// may come from a fetched HR document: CEL's "no such key: X" names the key, and that is a value
// of the record when a map or lookup is indexed by it; a regular expression built from the record
// is quoted by its parse error. Names written in the rule (attribute names) are kept.
func evalMessage(err error, rec *model.Record) string {
	msg := err.Error()
	if key, ok := strings.CutPrefix(msg, "no such key: "); ok && holdsValue(rec, key) {
		return "no such key: a value of the record is not a key of the map or lookup table"
	}
	if strings.HasPrefix(msg, "error parsing regexp") {
		return "invalid regular expression"
	}
	return msg
}

// holdsValue reports whether s is (part of) one of the record's values.
func holdsValue(rec *model.Record, s string) bool {
	if s == "" {
		return false
	}
	if strings.Contains(rec.ID, s) || strings.Contains(rec.DN, s) {
		return true
	}
	for _, vals := range rec.Attributes {
		for _, v := range vals {
			if strings.Contains(v, s) {
				return true
			}
		}
	}
	for _, g := range rec.Groups {
		if strings.Contains(g, s) {
			return true
		}
	}
	return false
}

// lookupInput names what a lookup translates, for messages.
func lookupInput(f *compiledField) string {
	if f.from != "" {
		return "the value of attribute " + f.from
	}
	return "the expression's value"
}
