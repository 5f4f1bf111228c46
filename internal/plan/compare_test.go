package plan

import (
	"slices"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

const (
	costCenter = model.SchemaEnterpriseUser + ":costCenter"
	badge      = "urn:example:params:scim:schemas:extension:acme:2.0:User:badge"
	clearance  = "urn:example:params:scim:schemas:extension:acme:2.0:User:clearance"
	contractor = "urn:example:params:scim:schemas:extension:acme:2.0:User:contractor"
	startDate  = "urn:example:params:scim:schemas:extension:acme:2.0:User:startDate"
	homeMail   = `emails[type eq "home"].value`
	mobile     = `phoneNumbers[type eq "mobile"].value`
)

func withAttrs(attrs map[string]model.Value) func(*model.User) {
	return func(u *model.User) {
		for k, v := range attrs {
			u.SetAttr(k, v)
		}
	}
}

// TestUpdateComparesAsServersStore checks that values a server may legitimately rewrite (RFC 7643)
// plan no update, and real changes do.
func TestUpdateComparesAsServersStore(t *testing.T) {
	attrPaths := []string{costCenter, badge, clearance, contractor, startDate, homeMail, mobile, "entitlements"}
	pol := policy(func(p *Policy) {
		p.ManagedFields = append(p.ManagedFields, model.FieldPhoneNumber)
		p.ManagedFields = append(p.ManagedFields, attrPaths...)
	})
	desired := map[string]model.Value{
		costCenter: model.StringValue("CC-42"), badge: model.StringValue("B-7"), clearance: model.IntValue(3),
		contractor: model.BoolValue(false), startDate: {Kind: model.KindDateTime, Str: "2024-01-31T12:00:00Z"},
		homeMail: model.StringValue("Alice@Home.example"), mobile: model.StringValue("+41 79 123 45 67"),
		"entitlements": model.StringsValue([]string{"VPN", "Wiki"}),
	}
	// What a normalising server sends back after storing desired.
	stored := map[string]model.Value{
		costCenter: model.StringValue("cc-42 "), badge: model.StringValue("b-7"), clearance: model.IntValue(3),
		contractor: model.BoolValue(false), startDate: {Kind: model.KindDateTime, Str: "2024-01-31T13:00:00.000+01:00"},
		homeMail: model.StringValue("alice@home.example"), mobile: model.StringValue("tel:+41-79-123-45-67"),
		"entitlements": model.StringsValue([]string{"wiki", "vpn"}),
	}
	d := person("alice", withAttrs(desired), func(u *model.User) {
		u.Email = "Alice@Example.com"
		u.PhoneNumber = "+1 (555) 010-0199"
	})
	a := inTarget(person("alice", withAttrs(stored), func(u *model.User) {
		u.Email = "alice@example.com"
		u.PhoneNumber = "+15550100199"
		u.DisplayName = " Alice"
	}))
	p := Compute(Input{Desired: []model.User{d}, Actual: []model.User{a}, Policy: pol, Now: now, SourceComplete: true})
	if got := p.Describe(0); len(got) != 0 {
		t.Fatalf("normalised values planned writes: %q", got)
	}

	// Each real change is planned, alone.
	changes := map[string]model.Value{
		costCenter: model.StringValue("CC-43"), clearance: model.IntValue(4), contractor: model.BoolValue(true),
		startDate: {Kind: model.KindDateTime, Str: "2024-02-01T12:00:00Z"}, homeMail: {},
		mobile: model.StringValue("+41 79 123 45 68"), "entitlements": model.StringsValue([]string{"VPN"}),
	}
	for path, v := range changes {
		d2 := person("alice", withAttrs(desired), func(u *model.User) {
			u.Email, u.PhoneNumber = "Alice@Example.com", "+1 (555) 010-0199"
		})
		d2.Attributes = maps2(d2.Attributes)
		if v.IsEmpty() {
			delete(d2.Attributes, path)
		} else {
			d2.Attributes[path] = v
		}
		p := Compute(Input{Desired: []model.User{d2}, Actual: []model.User{a}, Policy: pol, Now: now, SourceComplete: true})
		if len(p.Actions) != 1 || p.Actions[0].Kind != KindUpdate || !slices.Equal(p.Actions[0].Fields, []string{path}) {
			t.Errorf("change of %s: got %q", path, p.Describe(0))
		}
	}

	// caseExact from the target's schema makes a case difference a change.
	pol.CaseExactFields = []string{badge}
	p = Compute(Input{Desired: []model.User{d}, Actual: []model.User{a}, Policy: pol, Now: now, SourceComplete: true})
	if len(p.Actions) != 1 || !slices.Equal(p.Actions[0].Fields, []string{badge}) {
		t.Errorf("caseExact badge: got %q", p.Describe(0))
	}
}

func maps2(m map[string]model.Value) map[string]model.Value {
	out := make(map[string]model.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestCreateOnlyFieldsAreNotUpdated checks applyOn: Create: the field is part of a Create but an
// admin's later change in the app is left alone.
func TestCreateOnlyFieldsAreNotUpdated(t *testing.T) {
	pol := policy(func(p *Policy) {
		p.ManagedFields = append(p.ManagedFields, model.FieldRole, "roles")
		p.CreateOnlyFields = []string{model.FieldRole, "roles"}
	})
	d := person("alice", func(u *model.User) { u.Role = "Member" }, withAttrs(map[string]model.Value{"roles": model.StringsValue([]string{"reader"})}))
	p := Compute(Input{Desired: []model.User{d}, Policy: pol, Now: now, SourceComplete: true})
	if len(p.Actions) != 1 || p.Actions[0].Kind != KindCreate || p.Actions[0].User.Role != "Member" ||
		p.Actions[0].User.Attr("roles").String() != "reader" {
		t.Fatalf("create: %+v", p.Actions)
	}
	a := inTarget(person("alice", func(u *model.User) { u.Role = "Admin" }, withAttrs(map[string]model.Value{"roles": model.StringsValue([]string{"writer"})})))
	p = Compute(Input{Desired: []model.User{d}, Actual: []model.User{a}, Policy: pol, Now: now, SourceComplete: true})
	if got := p.Describe(0); len(got) != 0 {
		t.Fatalf("create-only fields updated: %q", got)
	}
}

func TestSamePhone(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"+1 (555) 010-0199", "+15550100199", true},
		{"tel:+1-555-010-0199", "+1.555.010.0199", true},
		{"+15550100199", "15550100199", false},
		{"+15550100199", "+15550100198", false},
		{"555", "5550", false},
	} {
		if got := samePhone(tc.a, tc.b); got != tc.want {
			t.Errorf("samePhone(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
