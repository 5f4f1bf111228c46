package mapping

import (
	"slices"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func strPtr(s string) *string { return &s }

func TestAttributePathTargets(t *testing.T) {
	rule := NamedRule{Name: "paths", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
		{Target: "userName", From: "uid"},
		{Target: "name.givenName", From: "givenName"}, // alias of givenName
		{Target: `emails[type eq "work"].value`, From: "mail"},
		{Target: `emails[type eq "home"].value`, From: "homeMail"},
		{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", From: "dept"},
		{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", From: "cc"},
		{Target: "urn:example:acme:2.0:User:clearance", Expression: "size(record.groups)", Type: "integer"},
		{Target: "urn:example:acme:2.0:User:contractor", From: "contractor", Type: "boolean"},
		{Target: "urn:example:acme:2.0:User:startDate", From: "whenCreated", Type: "dateTime"},
		{Target: "urn:example:acme:2.0:User:skills", From: "skill", Type: "stringList"},
		{Target: "entitlements", Expression: "record.groups"},
		{Target: "roles", Default: strPtr("reader"), ApplyOn: v1alpha1.ApplyCreate},
	}}}
	m, err := Compile([]NamedRule{rule})
	if err != nil {
		t.Fatal(err)
	}
	wantManaged := []string{"userName", "givenName", "email", "department",
		`emails[type eq "home"].value`, "entitlements", "roles",
		"urn:example:acme:2.0:User:clearance", "urn:example:acme:2.0:User:contractor",
		"urn:example:acme:2.0:User:skills", "urn:example:acme:2.0:User:startDate",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"}
	if got := m.ManagedFields(); !slices.Equal(got, wantManaged) {
		t.Errorf("managed fields\n got %q\nwant %q", got, wantManaged)
	}
	if got := m.CreateOnlyFields(); !slices.Equal(got, []string{"roles"}) {
		t.Errorf("create-only fields %q", got)
	}
	r := m.Map(model.Record{ID: "1", Groups: []string{"b", "a"}, Attributes: map[string][]string{
		"uid": {"ada"}, "givenName": {"Ada"}, "mail": {"ada@example.com"}, "homeMail": {"ada@home.example"},
		"dept": {"R&D"}, "cc": {"CC-1"}, "contractor": {"TRUE"}, "whenCreated": {"20240131120000.0Z"},
		"skill": {"math", "poetry", "math"},
	}})
	if !r.Mapped() {
		t.Fatalf("not mapped: %+v", r.Skip)
	}
	u := r.User
	if u.GivenName != "Ada" || u.Email != "ada@example.com" || u.Department != "R&D" {
		t.Errorf("aliases not set: %+v", u)
	}
	want := map[string]string{
		`emails[type eq "home"].value`:                                          "ada@home.example",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "CC-1",
		"urn:example:acme:2.0:User:clearance":                                   "2",
		"urn:example:acme:2.0:User:contractor":                                  "true",
		"urn:example:acme:2.0:User:startDate":                                   "2024-01-31T12:00:00Z",
		"urn:example:acme:2.0:User:skills":                                      "math,poetry",
		"entitlements":                                                          "a,b",
		"roles":                                                                 "reader",
	}
	for path, v := range want {
		if got := u.Attr(path); got.String() != v {
			t.Errorf("%s = %q (%v), want %q", path, got.String(), got.Kind, v)
		}
	}
	if k := u.Attr("urn:example:acme:2.0:User:clearance").Kind; k != model.KindInt {
		t.Errorf("clearance kind %v", k)
	}

	// A value that does not parse as the type skips the record with a clear problem.
	r = m.Map(model.Record{ID: "2", Attributes: map[string][]string{"uid": {"bob"}, "contractor": {"maybe"}}})
	if r.Skip == nil || r.Skip.Reason != model.ReasonExpressionError || !strings.Contains(r.Skip.Message, "not a boolean") {
		t.Errorf("bad boolean: %+v", r)
	}
}

func TestAttributePathErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field v1alpha1.FieldMapping
		want  string
	}{
		{"unknown core attribute", v1alpha1.FieldMapping{Target: "shoeSize", From: "x"}, "fields[shoeSize].target"},
		{"unknown sub-attribute", v1alpha1.FieldMapping{Target: "name.nick", From: "x"}, "has no sub-attribute"},
		{"complex without sub-attribute", v1alpha1.FieldMapping{Target: "name", From: "x"}, "name a sub-attribute"},
		{"filter on single-valued", v1alpha1.FieldMapping{Target: `title[type eq "x"].value`, From: "x"}, "single-valued"},
		{"type against the RFC", v1alpha1.FieldMapping{Target: "nickName", From: "x", Type: "integer"}, "fields[nickName].type"},
		{"expression of another type", v1alpha1.FieldMapping{Target: "urn:x:acme:clearance", Expression: "true", Type: "integer"}, "want int"},
		{"default of another type", v1alpha1.FieldMapping{Target: "urn:x:acme:clearance", Default: strPtr("high"), Type: "integer"}, "not an integer"},
		{"applyOn on userName", v1alpha1.FieldMapping{Target: "displayName", From: "x", ApplyOn: "Sometimes"}, "unknown applyOn"},
		{"alias twice", v1alpha1.FieldMapping{Target: "name.givenName", From: "x"}, "mapped twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CompileRule(NamedRule{Name: "r", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
				{Target: "userName", From: "uid"}, {Target: "givenName", From: "gn"}, tc.field}}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// Rules of one SyncTarget must agree on applyOn.
	_, err := Compile([]NamedRule{
		{Name: "a", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{{Target: "userName", From: "uid"},
			{Target: "role", Default: strPtr("x"), ApplyOn: v1alpha1.ApplyCreate}}}},
		{Name: "b", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{{Target: "role", Default: strPtr("y")}}}},
	})
	if err == nil || !strings.Contains(err.Error(), "disagree on applyOn") {
		t.Errorf("applyOn conflict: %v", err)
	}
}
