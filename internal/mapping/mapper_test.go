package mapping

import (
	"context"
	"reflect"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// TestMapLeavesRecordUnchanged: mapping reads a record and never writes it; sources keep their
// records between runs (an incremental LDAP source its last full read). A multi-valued attribute
// with invalid UTF-8 once had its values replaced in the record itself.
func TestMapLeavesRecordUnchanged(t *testing.T) {
	m := mustCompile(t, NamedRule{Name: "r", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
		{Target: "userName", From: "uid"},
		{Target: "urn:example:acme:2.0:User:skills", From: "skill", Type: "stringList"},
		{Target: "entitlements", Expression: "record.groups"},
		{Target: "groups", Expression: "record.groups"},
	}}})
	rec := model.Record{ID: "1", Groups: []string{"b\xff", "a"}, Attributes: map[string][]string{
		"uid": {"ada"}, "skill": {"poetry\xfe", "math"}}}
	want := model.Record{ID: "1", Groups: []string{"b\xff", "a"}, Attributes: map[string][]string{
		"uid": {"ada"}, "skill": {"poetry\xfe", "math"}}}
	r := m.Map(rec)
	if !r.Mapped() {
		t.Fatalf("not mapped: %+v", r.Skip)
	}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("the record changed:\n got %q %q\nwant %q %q", rec.Attributes, rec.Groups, want.Attributes, want.Groups)
	}
	if got := r.User.Attr("urn:example:acme:2.0:User:skills").Strs; !reflect.DeepEqual(got, []string{"math", "poetry\uFFFD"}) {
		t.Errorf("skills %q", got)
	}
	if got := r.User.Attr("entitlements").Strs; !reflect.DeepEqual(got, []string{"a", "b\uFFFD"}) {
		t.Errorf("entitlements %q", got)
	}
	if !reflect.DeepEqual(r.User.Groups, []string{"a", "b\uFFFD"}) {
		t.Errorf("groups %q", r.User.Groups)
	}
}

// TestStringFieldSlots: the compiled index of a named field addresses that field.
func TestStringFieldSlots(t *testing.T) {
	for slot, name := range model.StringFields {
		var u model.User
		*stringField(&u, slot) = "v-" + name
		if got := u.Get(name); got != "v-"+name {
			t.Errorf("slot %d sets %+v, want %s", slot, u, name)
		}
	}
}

// TestConstantsAreValidUTF8: lookup values and defaults, checked once when compiled, still reach
// users as valid UTF-8.
func TestConstantsAreValidUTF8(t *testing.T) {
	m := mustCompile(t, NamedRule{Name: "r", Spec: v1alpha1.MappingRuleSpec{
		Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "uid"},
			{Target: "department", From: "dept", Lookup: "depts"},
			{Target: "title", From: "title", Default: ptr("T\xff")},
		},
		Lookups: []v1alpha1.LookupTable{{Name: "depts", Entries: map[string]string{"1": "R\xfeD"}, Default: ptr("other\xff")}},
	}})
	for _, c := range []struct {
		dept, wantDept string
	}{{"1", "R\uFFFDD"}, {"2", "other\uFFFD"}} {
		r := m.Map(model.Record{ID: "1", Attributes: map[string][]string{"uid": {"ada"}, "dept": {c.dept}}})
		if r.User.Department != c.wantDept || r.User.Title != "T\uFFFD" {
			t.Errorf("dept %s: department %q, title %q", c.dept, r.User.Department, r.User.Title)
		}
	}
}

// TestWithMarker: a marked Mapper gives users the externalId targets hold; the Mapper it was made
// from is unchanged.
func TestWithMarker(t *testing.T) {
	m := mustCompile(t, baseRule())
	marked := m.WithMarker("hr:")
	rec := alice()
	rec.ID = "eu:42%"
	if got := marked.Map(rec).User.ExternalID; got != "hr:eu%3A42%25" {
		t.Errorf("marked externalId %q", got)
	}
	if got := m.Map(rec).User.ExternalID; got != "eu:42%" {
		t.Errorf("unmarked externalId %q", got)
	}
	out, err := marked.MapRecords(context.Background(), []model.Record{rec})
	if err != nil || len(out.Users) != 1 || out.Users[0].ExternalID != "hr:eu%3A42%25" {
		t.Errorf("MapRecords: %+v, %v", out.Users, err)
	}
}

// TestAttributeNamesDifferingInCase: when a record has several attributes whose names match only
// without case, the first with values in byte order counts, on every run (it once depended on the
// map's order).
func TestAttributeNamesDifferingInCase(t *testing.T) {
	m := mustCompile(t, NamedRule{Name: "r", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
		{Target: "userName", From: "UID"},
		exprField("displayName", "record.attrs.SN"),
	}}})
	for range 50 {
		r := m.Map(model.Record{ID: "1", Attributes: map[string][]string{
			"uid": {"ada"}, "Uid": {"bob"}, "UId": {}, "sn": {}, "sN": {"Lovelace"}, "Sn": {"Byron"}}})
		if r.User.UserName != "bob" || r.User.DisplayName != "Byron" {
			t.Fatalf("userName %q, displayName %q; want bob (Uid), Byron (Sn)", r.User.UserName, r.User.DisplayName)
		}
	}
}
