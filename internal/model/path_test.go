package model

import "testing"

func TestResolveTarget(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"title", FieldTitle},
		{"email", FieldEmail},
		{"name.givenName", FieldGivenName},
		{"NAME.GIVENNAME", FieldGivenName},
		{`emails[type eq "work"].value`, FieldEmail},
		{`emails[ TYPE EQ "work" ].value`, FieldEmail},
		{"urn:ietf:params:scim:schemas:core:2.0:User:title", FieldTitle},
		{SchemaEnterpriseUser + ":department", FieldDepartment},
		{SchemaEnterpriseUser + ":manager", FieldManager},
		{SchemaEnterpriseUser + ":manager.value", FieldManager},
		{"nickName", "nickName"},
		{"nickname", "nickName"},
		{"name.middleName", "name.middleName"},
		{`emails[type eq "home"].value`, `emails[type eq "home"].value`},
		{`addresses[type eq "work"].locality`, `addresses[type eq "work"].locality`},
		{`phoneNumbers[type eq "mobile"].value`, `phoneNumbers[type eq "mobile"].value`},
		{"roles", "roles"},
		{"entitlements", "entitlements"},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costcenter", SchemaEnterpriseUser + ":costCenter"},
		{"urn:example:params:scim:schemas:extension:acme:2.0:User:badgeId", "urn:example:params:scim:schemas:extension:acme:2.0:User:badgeId"},
		{`urn:example:acme:User:links[type eq "a:b"].value`, `urn:example:acme:User:links[type eq "a:b"].value`},
	} {
		got, _, err := ResolveTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ResolveTarget(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "mail", "givenName2", "name", "name.nope", "emails[type eq work].value", `emails[value eq "x"].value`,
		`emails[type eq "work"]`, `title[type eq "x"].value`, "id", "externalId", "meta", "urn:x", "title.", "a b",
		`emails[type eq "work".value`, "urn:bad urn:x:attr",
	} {
		if got, _, err := ResolveTarget(bad); err == nil {
			t.Errorf("ResolveTarget(%q) = %q, want an error", bad, got)
		}
	}
}

func TestPathKind(t *testing.T) {
	for path, want := range map[string]ValueKind{
		"roles": KindStrings, "entitlements": KindStrings, `emails[type eq "home"].value`: KindString,
		`emails[type eq "home"].primary`: KindBool, "nickName": KindString, SchemaEnterpriseUser + ":costCenter": KindString,
		"urn:example:acme:User:x": KindString,
	} {
		p, err := ParsePath(path)
		if err != nil || p.Kind() != want {
			t.Errorf("kind of %s = %v, %v; want %v", path, p.Kind(), err, want)
		}
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		kind ValueKind
		in   string
		want string
	}{
		{KindBool, "TRUE", "true"}, {KindInt, " 42 ", "42"}, {KindDateTime, "20240131120000Z", "2024-01-31T12:00:00Z"},
		{KindDateTime, "2024-01-31T13:00:00+01:00", "2024-01-31T12:00:00Z"}, {KindStrings, "a", "a"},
	} {
		v, err := ParseValue(tc.kind, tc.in)
		if err != nil || v.String() != tc.want {
			t.Errorf("ParseValue(%v, %q) = %q, %v; want %q", tc.kind, tc.in, v.String(), err, tc.want)
		}
	}
	for _, tc := range []struct {
		kind ValueKind
		in   string
	}{{KindBool, "yes please"}, {KindInt, "4.5"}, {KindDateTime, "last tuesday"}} {
		if _, err := ParseValue(tc.kind, tc.in); err == nil {
			t.Errorf("ParseValue(%v, %q): want an error", tc.kind, tc.in)
		}
	}
}
