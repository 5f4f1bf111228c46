package ldap

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

func TestDecodeGUID(t *testing.T) {
	// {01020304-0506-0708-090a-0b0c0d0e0f10} as AD stores it: first three fields little-endian.
	raw := []byte{0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x08, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}
	got, err := DecodeGUID(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := "01020304-0506-0708-090a-0b0c0d0e0f10"; got != want {
		t.Errorf("DecodeGUID = %s, want %s", got, want)
	}
	back, err := EncodeGUID(got)
	if err != nil || !slices.Equal(back, raw) {
		t.Errorf("EncodeGUID(%s) = %x, %v; want %x", got, back, err, raw)
	}
	for _, bad := range [][]byte{nil, raw[:15], append(slices.Clone(raw), 0)} {
		if _, err := DecodeGUID(bad); err == nil {
			t.Errorf("DecodeGUID(%x) succeeded, want error", bad)
		}
	}
	if _, err := EncodeGUID("not-a-guid"); err == nil {
		t.Error("EncodeGUID accepted garbage")
	}
}

func TestBuildFilter(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		clauses []Clause
		want    string
		kind    directory.ErrorKind
	}{
		{name: "empty means everything", want: "(objectClass=*)"},
		{name: "parentheses added", user: "objectClass=inetOrgPerson", want: "(objectClass=inetOrgPerson)"},
		{name: "admin filter kept", user: " (&(objectClass=person)(!(uid=svc*))) ", want: "(&(objectClass=person)(!(uid=svc*)))"},
		{
			name: "incremental mark escaped", user: "(objectClass=person)",
			clauses: []Clause{{Attribute: "modifyTimestamp", Op: OpGreaterOrEqual, Value: "2024*)(uid=*"}},
			want:    `(&(objectClass=person)(modifyTimestamp>=2024\2a\29\28uid=\2a))`,
		},
		{
			name: "group DN in chain", user: "(objectClass=user)",
			clauses: []Clause{{Attribute: "memberOf", Op: OpInChain, Value: `CN=R&D (EU)\, Inc,OU=Groups,DC=corp`}},
			want:    `(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=CN=R&D \28EU\29\5c, Inc,OU=Groups,DC=corp))`,
		},
		{
			name: "non-ASCII and NUL escaped", user: "(objectClass=*)",
			clauses: []Clause{{Attribute: "cn", Op: OpEqual, Value: "Zoë\x00"}},
			want:    `(&(objectClass=*)(cn=Zo\c3\ab\00))`,
		},
		{name: "unbalanced admin filter", user: "(&(objectClass=person)", kind: directory.KindInvalidFilter},
		{name: "garbage admin filter", user: "((uid=a)", kind: directory.KindInvalidFilter},
		{
			name: "attribute name injection", user: "(objectClass=*)",
			clauses: []Clause{{Attribute: "uid=x)(cn", Op: OpEqual, Value: "y"}}, kind: directory.KindInvalidConfig,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildFilter(tt.user, tt.clauses...)
			if tt.kind != "" {
				if directory.KindOf(err) != tt.kind {
					t.Fatalf("BuildFilter = %q, %v; want kind %s", got, err, tt.kind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BuildFilter = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// checkStructure compiles filter and verifies it is exactly (&<user><clauses...>) with every clause
// carrying its value verbatim: an injected value cannot add, remove or reshape filter components.
func checkStructure(t *testing.T, filter string, clauses []Clause) {
	t.Helper()
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		t.Fatalf("BuildFilter produced %q which does not compile: %v", filter, err)
	}
	if p.Tag != ldap.FilterAnd || len(p.Children) != 1+len(clauses) {
		t.Fatalf("filter %q: want an AND of %d parts, got tag %d with %d children", filter, 1+len(clauses), p.Tag, len(p.Children))
	}
	for i, c := range clauses {
		child := p.Children[i+1]
		var attr, value string
		switch c.Op {
		case OpEqual, OpGreaterOrEqual:
			wantTag := map[Op]ber.Tag{OpEqual: ldap.FilterEqualityMatch, OpGreaterOrEqual: ldap.FilterGreaterOrEqual}[c.Op]
			if child.Tag != wantTag || len(child.Children) != 2 {
				t.Fatalf("filter %q clause %d: tag %d with %d children", filter, i, child.Tag, len(child.Children))
			}
			attr, value = child.Children[0].Data.String(), child.Children[1].Data.String()
		case OpInChain:
			if child.Tag != ldap.FilterExtensibleMatch || len(child.Children) != 3 {
				t.Fatalf("filter %q clause %d: tag %d with %d children", filter, i, child.Tag, len(child.Children))
			}
			if rule := child.Children[0].Data.String(); rule != MatchingRuleInChain {
				t.Fatalf("filter %q: matching rule %q", filter, rule)
			}
			attr, value = child.Children[1].Data.String(), child.Children[2].Data.String()
		}
		if attr != c.Attribute || value != c.Value {
			t.Fatalf("filter %q clause %d: got (%q, %q), want (%q, %q)", filter, i, attr, value, c.Attribute, c.Value)
		}
	}
}

func TestBuildFilterStructure(t *testing.T) {
	for _, v := range []string{"*", ")(|(uid=*", `\2a`, "\x00", "a)(objectClass=*))(|(a=b", "李雷", "\xff\xfe"} {
		clauses := []Clause{
			{Attribute: "uid", Op: OpEqual, Value: v},
			{Attribute: "modifyTimestamp", Op: OpGreaterOrEqual, Value: v},
			{Attribute: "memberOf", Op: OpInChain, Value: v},
		}
		f, err := BuildFilter("(objectClass=inetOrgPerson)", clauses...)
		if err != nil {
			t.Fatalf("BuildFilter(%q): %v", v, err)
		}
		checkStructure(t, f, clauses)
	}
}

func FuzzBuildFilter(f *testing.F) {
	for _, s := range []string{"", "*", ")(uid=*)", `\`, "\x00", "Zoë", "20240101000000Z", "(|(a=b)(c=d))"} {
		f.Add(s, "(objectClass=person)")
	}
	f.Add("x", "uid=a")
	f.Add("x", "(&(a=b)")
	f.Fuzz(func(t *testing.T, value, userFilter string) {
		clauses := []Clause{
			{Attribute: "uid", Op: OpEqual, Value: value},
			{Attribute: "modifyTimestamp", Op: OpGreaterOrEqual, Value: value},
			{Attribute: "memberOf", Op: OpInChain, Value: value},
		}
		out, err := BuildFilter(userFilter, clauses...)
		if err != nil {
			// Only the administrator's filter may be rejected, never an inserted value.
			if _, uerr := BuildFilter(userFilter); uerr == nil {
				t.Fatalf("BuildFilter(%q, value %q) failed although the user filter is valid: %v", userFilter, value, err)
			}
			return
		}
		checkStructure(t, out, clauses)
	})
}

func validConfig() Config {
	return Config{URL: "ldap://127.0.0.1:389", BaseDN: "dc=example,dc=com", BindDN: "cn=sync,dc=example,dc=com", BindPassword: "x"}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		kind   directory.ErrorKind
		msg    string
	}{
		{"no url", func(c *Config) { c.URL = "" }, directory.KindInvalidConfig, "url is required"},
		{"http url", func(c *Config) { c.URL = "http://x" }, directory.KindInvalidConfig, "ldap:// or ldaps://"},
		{"starttls on ldaps", func(c *Config) { c.URL, c.StartTLS = "ldaps://x:636", true }, directory.KindInvalidConfig, "startTLS"},
		{"bad CA", func(c *Config) { c.CACertPEM = []byte("nope") }, directory.KindInvalidConfig, "caCert"},
		{"no base", func(c *Config) { c.BaseDN = "" }, directory.KindInvalidConfig, "baseDN is required"},
		{"bad base", func(c *Config) { c.BaseDN = "not a dn" }, directory.KindInvalidConfig, "baseDN"},
		{"bad scope", func(c *Config) { c.Scope = "deep" }, directory.KindInvalidConfig, "scope"},
		{"bad filter", func(c *Config) { c.UserFilter = "(&(uid=a)" }, directory.KindInvalidFilter, "does not compile"},
		{"bad attribute", func(c *Config) { c.Attributes = []string{"mail", "a b"} }, directory.KindInvalidConfig, `attribute "a b"`},
		{"negative page", func(c *Config) { c.PageSize = -1 }, directory.KindInvalidConfig, "pageSize"},
		{"unknown group mode", func(c *Config) { c.Groups.Mode = "nested" }, directory.KindInvalidConfig, "groups.mode"},
		{"bad group filter", func(c *Config) { c.Groups = GroupsConfig{Mode: GroupsRecursive, GroupFilter: "(cn="} }, directory.KindInvalidFilter, "groupFilter"},
		{"disabled attr missing", func(c *Config) { c.Disabled.Mode = DisabledAttribute }, directory.KindInvalidConfig, "disabled.attribute"},
		{"unknown disabled mode", func(c *Config) { c.Disabled.Mode = "locked" }, directory.KindInvalidConfig, "disabled.mode"},
		{"since without attribute", func(c *Config) { c.Incremental.Since = "1" }, directory.KindInvalidConfig, "incremental.attribute"},
		{"password without dn", func(c *Config) { c.BindDN = "" }, directory.KindInvalidConfig, "bindDN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if directory.KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Validate() = %v; want kind %s mentioning %q", err, tt.kind, tt.msg)
			}
			if _, nerr := New(c); !errors.Is(nerr, err) && nerr.Error() != err.Error() {
				t.Fatalf("New() = %v, want the validation error", nerr)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in        string
		attr      string
		low, high int
		ok        bool
	}{
		{"member;range=0-1499", "member", 0, 1499, true},
		{"member;Range=1500-*", "member", 1500, -1, true},
		{"member;binary;range=3-4", "member;binary", 3, 4, true},
		{"member", "", 0, 0, false},
		{"member;range=5", "", 0, 0, false},
		{"member;range=9-3", "", 0, 0, false},
		{"member;range=a-*", "", 0, 0, false},
	}
	for _, tt := range tests {
		attr, low, high, ok := parseRange(tt.in)
		if attr != tt.attr || low != tt.low || high != tt.high || ok != tt.ok {
			t.Errorf("parseRange(%q) = %q, %d, %d, %v; want %q, %d, %d, %v", tt.in, attr, low, high, ok, tt.attr, tt.low, tt.high, tt.ok)
		}
	}
}

func TestDNHelpers(t *testing.T) {
	if a, b := normDN("CN=Eng Team, OU=Groups,DC=Corp"), normDN("cn=eng team,ou=groups,dc=corp"); a != b {
		t.Errorf("normDN differs: %q vs %q", a, b)
	}
	if v, ok := rdnValue(`cn=R\2cD,ou=g`, "CN"); !ok || v != "R,D" {
		t.Errorf("rdnValue = %q, %v", v, ok)
	}
	if _, ok := rdnValue("uid=a,ou=g", "cn"); ok {
		t.Error("rdnValue matched the wrong attribute")
	}
	for in, want := range map[string]string{
		"uid=a,dc=x#'0101'B": "uid=a,dc=x",
		"uid=a,dc=x":         "uid=a,dc=x",
		"uid=a#b,dc=x'B":     "uid=a#b,dc=x'B",
	} {
		if got := stripUID(in); got != want {
			t.Errorf("stripUID(%q) = %q, want %q", in, got, want)
		}
	}
}

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
	rec, problem := toRecord(cfg, e)
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
	if _, problem := toRecord(cfg, e); problem == nil || problem.Subject != e.DN || problem.Reason != "MissingID" {
		t.Errorf("missing ID: problem = %+v", problem)
	}
	short := &ldap.Entry{DN: "cn=x", Attributes: []*ldap.EntryAttribute{{Name: "objectGUID", ByteValues: [][]byte{{1, 2}}}}}
	if _, problem := toRecord(Config{IDAttribute: "objectGUID"}, short); problem == nil {
		t.Error("a 2-byte objectGUID was accepted")
	}
}

func TestIsDisabled(t *testing.T) {
	entry := func(attr string, vals ...string) entryAttrs {
		return indexEntry(&ldap.Entry{Attributes: []*ldap.EntryAttribute{{Name: attr, Values: vals}}})
	}
	tests := []struct {
		name string
		cfg  DisabledConfig
		e    entryAttrs
		want bool
	}{
		{"none", DisabledConfig{}, entry("userAccountControl", "514"), false},
		{"AD disabled 514", DisabledConfig{Mode: DisabledActiveDirectory}, entry("userAccountControl", "514"), true},
		{"AD normal 512", DisabledConfig{Mode: DisabledActiveDirectory}, entry("userAccountControl", "512"), false},
		{"AD garbage", DisabledConfig{Mode: DisabledActiveDirectory}, entry("userAccountControl", "x"), false},
		{"present", DisabledConfig{Mode: DisabledAttribute, Attribute: "pwdAccountLockedTime"}, entry("pwdAccountLockedTime", "000001010000Z"), true},
		{"absent", DisabledConfig{Mode: DisabledAttribute, Attribute: "pwdAccountLockedTime"}, entry("mail", "a"), false},
		{"equal", DisabledConfig{Mode: DisabledAttribute, Attribute: "employeeType", Value: "disabled"}, entry("EmployeeType", "contractor", "Disabled"), true},
		{"not equal", DisabledConfig{Mode: DisabledAttribute, Attribute: "employeeType", Value: "disabled"}, entry("employeeType", "contractor"), false},
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
