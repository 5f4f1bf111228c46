package mapping

import (
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// A problem message names the rule, the field and the attribute, never the person's data: it may
// come from a fetched HR document, and problems reach status.
func TestProblemMessagesNeverQuoteTheRecord(t *testing.T) {
	const canary = "CANARY-map-41"
	for _, tc := range []struct {
		name  string
		field v1alpha1.FieldMapping
		attr  string // departmentNumber is set to it
	}{
		{"lookup miss", v1alpha1.FieldMapping{Target: "department", From: "departmentNumber", Lookup: "departments"}, canary},
		{"CEL map indexed by the record", exprField("department", "lookups.departments[record.attrs.departmentNumber]"), canary},
		{"CEL regular expression from the record", exprField("title", "record.attrs.mail.matches(record.attrs.departmentNumber) ? 'a' : 'b'"), "[" + canary},
		{"not a bool", v1alpha1.FieldMapping{Target: "active", From: "departmentNumber"}, canary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rule := baseRule()
			rule.Spec.Fields = append(rule.Spec.Fields[:3], tc.field)
			rec := alice()
			rec.Attributes["departmentNumber"] = []string{tc.attr}
			res := mustCompile(t, rule).Map(rec)
			if res.Skip == nil {
				t.Fatalf("mapped %+v, want a problem", res.User)
			}
			if strings.Contains(res.Skip.Message, "CANARY") {
				t.Errorf("problem quotes the record: %q", res.Skip.Message)
			}
			if !strings.Contains(res.Skip.Message, "field "+string(tc.field.Target)) {
				t.Errorf("problem %q does not name the field", res.Skip.Message)
			}
		})
	}
	// Attribute names written in the rule are still named.
	rec := alice()
	delete(rec.Attributes, "sn")
	if res := mustCompile(t, baseRule()).Map(rec); res.Skip == nil || !strings.Contains(res.Skip.Message, "no such key: sn") {
		t.Errorf("got %+v, want the missing attribute named", res.Skip)
	}
}
