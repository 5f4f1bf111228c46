package ldap

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestToRecord(t *testing.T) {
	guid := []byte{0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x08, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}
	photo := []byte{0xff, 0xd8, 0x00, 'x'}
	e := &ldap.Entry{DN: "CN=Zoë,OU=People,DC=corp", Attributes: []*ldap.EntryAttribute{
		{Name: "objectGUID", Values: []string{string(guid)}, ByteValues: [][]byte{guid}},
		{Name: "TELEPHONENUMBER", Values: []string{"1", "2"}, ByteValues: [][]byte{[]byte("1"), []byte("2")}},
		{Name: "thumbnailPhoto", Values: []string{string(photo)}, ByteValues: [][]byte{photo}},
		{Name: "description", Values: []string{"ok", "\xc3"}, ByteValues: [][]byte{[]byte("ok"), {0xc3}}},
		{Name: "userAccountControl", Values: []string{"514"}, ByteValues: [][]byte{[]byte("514")}},
	}}
	cfg := Config{
		IDAttribute: "objectGUID",
		Attributes:  []string{"telephoneNumber", "thumbnailPhoto", "description", "objectGUID", "mail"},
		Disabled:    DisabledConfig{Mode: DisabledActiveDirectory},
	}
	rec, problem := toRecord(cfg, ldapEntry(e))
	if problem != nil {
		t.Fatalf("problem: %+v", problem)
	}
	if rec.ID != "01020304-0506-0708-090a-0b0c0d0e0f10" || rec.DN != e.DN || !rec.Disabled {
		t.Errorf("record = %+v", rec)
	}
	b64 := base64.StdEncoding.EncodeToString
	want := map[string][]string{
		"telephoneNumber": {"1", "2"},
		"thumbnailPhoto":  {b64(photo)},
		"description":     {b64([]byte("ok")), b64([]byte{0xc3})},
		"objectGUID":      {b64(guid)},
	}
	if len(rec.Attributes) != len(want) {
		t.Errorf("attributes = %v, want %v", rec.Attributes, want)
	}
	for k, v := range want {
		if !slices.Equal(rec.Attributes[k], v) {
			t.Errorf("attribute %s = %v, want %v", k, rec.Attributes[k], v)
		}
	}

	cfg.IDAttribute = "entryUUID"
	if _, problem := toRecord(cfg, ldapEntry(e)); problem == nil || problem.Subject != e.DN || problem.Reason != "MissingID" {
		t.Errorf("missing ID: problem = %+v", problem)
	}
	short := &ldap.Entry{DN: "cn=x", Attributes: []*ldap.EntryAttribute{{Name: "objectGUID", ByteValues: [][]byte{{1, 2}}}}}
	if _, problem := toRecord(Config{IDAttribute: "objectGUID"}, ldapEntry(short)); problem == nil {
		t.Error("a 2-byte objectGUID was accepted")
	}
}

func ldapEntry(e *ldap.Entry) *entry {
	out := fromLDAP(e)
	return &out
}

func TestIsDisabled(t *testing.T) {
	mk := func(attr string, vals ...string) *entry {
		return ldapEntry(ldap.NewEntry("cn=x", map[string][]string{attr: vals}))
	}
	tests := []struct {
		name string
		cfg  DisabledConfig
		e    *entry
		want bool
	}{
		{"none", DisabledConfig{}, mk("userAccountControl", "514"), false},
		{"AD disabled 514", DisabledConfig{Mode: DisabledActiveDirectory}, mk("userAccountControl", "514"), true},
		{"AD normal 512", DisabledConfig{Mode: DisabledActiveDirectory}, mk("userAccountControl", "512"), false},
		{"AD garbage", DisabledConfig{Mode: DisabledActiveDirectory}, mk("userAccountControl", "x"), false},
		{"present", DisabledConfig{Mode: DisabledAttribute, Attribute: "pwdAccountLockedTime"}, mk("pwdAccountLockedTime", "000001010000Z"), true},
		{"absent", DisabledConfig{Mode: DisabledAttribute, Attribute: "pwdAccountLockedTime"}, mk("mail", "a"), false},
		{"equal", DisabledConfig{Mode: DisabledAttribute, Attribute: "employeeType", Value: "disabled"}, mk("EmployeeType", "contractor", "Disabled"), true},
		{"not equal", DisabledConfig{Mode: DisabledAttribute, Attribute: "employeeType", Value: "disabled"}, mk("employeeType", "contractor"), false},
	}
	for _, tt := range tests {
		if got := isDisabled(tt.cfg, tt.e); got != tt.want {
			t.Errorf("%s: isDisabled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLaterMark(t *testing.T) {
	if !laterMark("10", "9") || laterMark("9", "10") {
		t.Error("uSNChanged marks must compare numerically")
	}
	if !laterMark("20240102000000Z", "20240101235959Z") || laterMark("20240101000000Z", "20240101000000Z") {
		t.Error("timestamp marks compare wrongly")
	}
}

// Records outlive the decoded messages their entries point into, and consumers may append to a
// value list: neither may change another value.
func TestToRecordValuesAreOwnedAndCapped(t *testing.T) {
	raw := map[string][]string{"entryUUID": {"id-1"}, "mail": {"a@x", "b@x"}, "cn": {"Zoë"}, "sn": {"S"}}
	e := ldap.NewEntry("cn=z", raw)
	for _, attrs := range [][]string{{"mail", "cn", "sn"}, nil} {
		rec, problem := toRecord(Config{IDAttribute: "entryUUID", Attributes: attrs}, ldapEntry(e))
		if problem != nil {
			t.Fatal(problem)
		}
		for _, a := range e.Attributes {
			for _, v := range a.ByteValues {
				for i := range v {
					v[i] = '#'
				}
			}
		}
		_ = append(rec.Attributes["mail"], "c@x")
		if !slices.Equal(rec.Attributes["mail"], []string{"a@x", "b@x"}) || !slices.Equal(rec.Attributes["cn"], []string{"Zoë"}) ||
			!slices.Equal(rec.Attributes["sn"], []string{"S"}) || rec.ID != "id-1" || rec.DN != "cn=z" {
			t.Errorf("attributes %v: record changed with the entry's bytes or an append: %+v", attrs, rec)
		}
		e = ldap.NewEntry("cn=z", raw)
	}
}
