package mapping

import (
	"strconv"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// realisticRules is a rule set like a customer's: a base rule, a scoped override and group mappings.
func realisticRules() []NamedRule {
	base := baseRule()
	base.Spec.Fields = append(base.Spec.Fields,
		field("givenName", "givenName"),
		field("familyName", "sn"),
		field("title", "title"),
		field("employeeNumber", "employeeID"),
		exprField("groups", "['dept-' + record.attrs.?departmentNumber.orValue('none')] + record.groups.filter(g, g.startsWith('app-'))"),
	)
	base.Spec.Fields[5].Expression = "record.attrs.?givenName.orValue('') + ' ' + record.attrs.?sn.orValue('')"
	pilots := NamedRule{Name: "pilots", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
		Priority: 10,
		Scope:    "'pilot' in record.groups",
		Fields: []v1alpha1.FieldMapping{
			{Target: "role", Default: ptr("Pilot")},
			exprField("email", "record.attrs.mail.lowerAscii()"),
		},
	}}
	return []NamedRule{base, pilots}
}

func FuzzMap(f *testing.F) {
	m := mustCompile(f, realisticRules()...)
	f.Add("guid-1", "mail", "a@b.c", "sAMAccountName", "alice", "pilot\x00app-x", false)
	f.Add("", "departmentNumber", "999", "sAMAccountName", "", "", true)
	f.Add("id", "SAMACCOUNTNAME", "\xff\xfe", "sn", strings.Repeat("x", 1<<16), "app-\xff", false)
	f.Fuzz(func(t *testing.T, id, k1, v1, k2, v2, groups string, disabled bool) {
		rec := model.Record{
			ID:         id,
			Attributes: map[string][]string{k1: {v1}, k2: {v2, v1}, "mail": {v2}, "departmentNumber": {"102"}},
			Groups:     strings.Split(groups, "\x00"),
			Disabled:   disabled,
		}
		res := m.Map(rec)
		outcomes := 0
		if res.Mapped() {
			outcomes++
			if res.User.UserName == "" {
				t.Errorf("mapped user without userName: %+v", res.User)
			}
			if res.User.ExternalID != id {
				t.Errorf("externalId %q, want %q", res.User.ExternalID, id)
			}
		}
		if res.Skip != nil {
			outcomes++
			if res.Skip.Reason == "" || res.Skip.Message == "" {
				t.Errorf("incomplete problem %+v", res.Skip)
			}
		}
		if res.OutOfScope {
			outcomes++
		}
		if outcomes != 1 {
			t.Errorf("result is %d of user/skip/out-of-scope: %+v", outcomes, res)
		}
	})
}

func TestMapHostileRecords(t *testing.T) {
	m := mustCompile(t, realisticRules()...)
	huge := strings.Repeat("ä", 1<<17)
	many := make([]string, 10000)
	for i := range many {
		many[i] = "app-" + strconv.Itoa(i%5000)
	}
	records := []model.Record{
		{ID: "huge", Attributes: map[string][]string{"sAMAccountName": {huge}, "mail": {huge}, "givenName": {huge}}},
		{ID: "binary", Attributes: map[string][]string{"sAMAccountName": {"\xff\xfeuser"}, "mail": {"\xc3(@x"}}},
		{ID: "groups", Attributes: map[string][]string{"sAMAccountName": {"g"}, "mail": {"g@x"}}, Groups: many},
		{ID: "empty"},
		{ID: "nil-values", Attributes: map[string][]string{"sAMAccountName": nil, "mail": {}}},
	}
	for _, rec := range records {
		res := m.Map(rec)
		switch rec.ID {
		case "binary":
			if res.User.UserName != "\uFFFDuser" {
				t.Errorf("binary userName %q, want invalid UTF-8 replaced", res.User.UserName)
			}
		case "groups":
			// app-0 … app-4999 deduplicated, and dept-none.
			if len(res.User.Groups) != 5001 || res.User.Groups[5000] != "dept-none" {
				t.Errorf("got %d groups, want 5001", len(res.User.Groups))
			}
		case "huge":
			if res.User.UserName != huge {
				t.Errorf("huge: got %+v", res.Skip)
			}
		case "empty", "nil-values":
			if res.Skip == nil || res.Skip.Reason != model.ReasonMissingField {
				t.Errorf("%s: got %+v, want MissingField", rec.ID, res)
			}
		}
	}
}
