package model

import (
	"fmt"
	"strconv"
	"strings"
)

// SCIM schema URNs the paths below know by name (RFC 7643 §8.7).
const (
	SchemaCoreUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// Path is a parsed SCIM attribute path as a mapping rule targets it (RFC 7644 §3.5.2 PATH, restricted to
// what a rule can own):
//
//	[schema-urn ":"] attr ["[type eq " quoted-string "]"] ["." sub-attr]
//
// e.g. "title", "name.givenName", `emails[type eq "work"].value`, "roles",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter".
type Path struct {
	// Schema is the extension URN; "" for the core User schema.
	Schema string
	Attr   string
	// Type is the value of a `[type eq "…"]` filter; Filtered tells an empty type from no filter.
	Type     string
	Filtered bool
	Sub      string
}

// ParsePath parses and canonicalises a path: the core schema URN is dropped, and the attributes
// RFC 7643 defines are spelt as the RFC spells them (attribute names are case-insensitive).
func ParsePath(s string) (Path, error) {
	var p Path
	rest := strings.TrimSpace(s)
	if rest == "" {
		return p, fmt.Errorf("empty attribute path")
	}
	if len(rest) > 512 {
		return p, fmt.Errorf("attribute path longer than 512 characters")
	}
	if strings.HasPrefix(strings.ToLower(rest), "urn:") {
		// The attribute follows the URN's last colon (RFC 7644 §3.10); a filter value may hold colons.
		head := rest
		before, _, _ := strings.Cut(rest, "[")
		if j := strings.LastIndex(before, ":"); j >= 0 {
			head, rest = rest[:j], rest[j+1:]
		}
		if head == rest || !validURN(head) {
			return p, fmt.Errorf("%q: want urn:…:attribute", s)
		}
		p.Schema = head
		if strings.EqualFold(head, SchemaCoreUser) {
			p.Schema = ""
		} else if strings.EqualFold(head, SchemaEnterpriseUser) {
			p.Schema = SchemaEnterpriseUser
		}
	}
	attr, rest := cutName(rest)
	if attr == "" {
		return p, fmt.Errorf("%q: missing attribute name", s)
	}
	p.Attr = attr
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return p, fmt.Errorf("%q: unclosed value filter", s)
		}
		typ, err := parseTypeFilter(rest[1:end])
		if err != nil {
			return p, fmt.Errorf("%q: %v", s, err)
		}
		p.Type, p.Filtered = typ, true
		rest = rest[end+1:]
	}
	if strings.HasPrefix(rest, ".") {
		sub, r := cutName(rest[1:])
		if sub == "" {
			return p, fmt.Errorf("%q: missing sub-attribute after '.'", s)
		}
		p.Sub, rest = sub, r
	}
	if rest != "" {
		return p, fmt.Errorf("%q: unexpected %q", s, rest)
	}
	p.canonicalise()
	if p.Schema == "" && p.Sub == "" && !p.Filtered && isSubOnly(p.Attr) {
		return p, fmt.Errorf("%q is a sub-attribute; name its parent, e.g. name.%s", s, p.Attr)
	}
	if p.Schema == "" && (strings.EqualFold(p.Attr, "id") || strings.EqualFold(p.Attr, "externalId") ||
		strings.EqualFold(p.Attr, "meta") || strings.EqualFold(p.Attr, "schemas") || strings.EqualFold(p.Attr, "password")) {
		return p, fmt.Errorf("%q is reserved: the operator sets it itself or never", s)
	}
	return p, nil
}

func validURN(s string) bool {
	if !strings.HasPrefix(strings.ToLower(s), "urn:") || len(s) < 6 {
		return false
	}
	for _, r := range s {
		if !(r == ':' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// cutName splits off an attribute name (ATTRNAME of RFC 7644: ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA).
func cutName(s string) (name, rest string) {
	i := 0
	for i < len(s) {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(alpha || i > 0 && (c == '-' || c == '_' || c == '$' || c >= '0' && c <= '9')) {
			break
		}
		i++
	}
	return s[:i], s[i:]
}

func parseTypeFilter(f string) (string, error) {
	f = strings.TrimSpace(f)
	name, rest := cutName(f)
	rest = strings.TrimSpace(rest)
	op, rest, _ := strings.Cut(rest, " ")
	if !strings.EqualFold(name, "type") || !strings.EqualFold(op, "eq") {
		return "", fmt.Errorf(`only [type eq "value"] filters are supported`)
	}
	v, err := strconv.Unquote(strings.TrimSpace(rest))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(rest), `"`) {
		return "", fmt.Errorf(`filter value must be a double-quoted string, e.g. [type eq "work"]`)
	}
	return v, nil
}

// String renders the path as SCIM expects it in PATCH operations and in mapping rule targets.
func (p Path) String() string {
	var b strings.Builder
	if p.Schema != "" {
		b.WriteString(p.Schema)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr)
	if p.Filtered {
		b.WriteString(`[type eq `)
		b.WriteString(strconv.Quote(p.Type))
		b.WriteByte(']')
	}
	if p.Sub != "" {
		b.WriteByte('.')
		b.WriteString(p.Sub)
	}
	return b.String()
}

// coreAttr describes an attribute of the core User or enterprise schema (RFC 7643 §4.1, §4.3).
type coreAttr struct {
	name        string
	kind        ValueKind // kind of the attribute (for complex ones: of their "value" sub-attribute)
	multiValued bool
	subs        []string // sub-attributes of a complex attribute
}

var mvSubs = []string{"value", "display", "type", "primary"}
var addressSubs = []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"}

var coreAttrs = []coreAttr{
	{name: "userName"}, {name: "displayName"}, {name: "nickName"}, {name: "profileUrl"}, {name: "title"},
	{name: "userType"}, {name: "preferredLanguage"}, {name: "locale"}, {name: "timezone"},
	{name: "active", kind: KindBool},
	{name: "name", subs: []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}},
	{name: "emails", multiValued: true, subs: mvSubs},
	{name: "phoneNumbers", multiValued: true, subs: mvSubs},
	{name: "ims", multiValued: true, subs: mvSubs},
	{name: "photos", multiValued: true, subs: mvSubs},
	{name: "addresses", multiValued: true, subs: addressSubs},
	{name: "entitlements", multiValued: true, subs: mvSubs},
	{name: "roles", multiValued: true, subs: mvSubs},
	{name: "x509Certificates", multiValued: true, subs: mvSubs},
}

var enterpriseAttrs = []coreAttr{
	{name: "employeeNumber"}, {name: "costCenter"}, {name: "organization"}, {name: "division"}, {name: "department"},
	{name: "manager", subs: []string{"value", "$ref", "displayName"}},
}

func findAttr(attrs []coreAttr, name string) *coreAttr {
	for i := range attrs {
		if strings.EqualFold(attrs[i].name, name) {
			return &attrs[i]
		}
	}
	return nil
}

func isSubOnly(name string) bool {
	for _, s := range []string{"givenName", "familyName", "formatted", "middleName", "honorificPrefix", "honorificSuffix"} {
		if strings.EqualFold(s, name) && findAttr(coreAttrs, name) == nil {
			return true
		}
	}
	return false
}

// known returns the RFC definition of p's attribute, or nil for custom schemas and attributes.
func (p Path) known() *coreAttr {
	switch p.Schema {
	case "":
		return findAttr(coreAttrs, p.Attr)
	case SchemaEnterpriseUser:
		return findAttr(enterpriseAttrs, p.Attr)
	}
	return nil
}

func (p *Path) canonicalise() {
	a := p.known()
	if a == nil {
		return
	}
	p.Attr = a.name
	for _, s := range a.subs {
		if strings.EqualFold(s, p.Sub) {
			p.Sub = s
		}
	}
}

// Kind returns the kind of value the path takes by RFC 7643 (KindString when it does not say):
// a multi-valued attribute named without a filter takes the list of its values, "primary" a bool.
func (p Path) Kind() ValueKind {
	a := p.known()
	switch {
	case a == nil:
		return KindString
	case a.multiValued && !p.Filtered && p.Sub == "":
		return KindStrings
	case p.Sub == "primary":
		return KindBool
	case p.Sub == "":
		return a.kind
	}
	return KindString
}

// Known reports whether RFC 7643 defines p's attribute (core User or enterprise extension); such
// paths need no type in a rule. Unknown sub-attributes of known attributes are errors.
func (p Path) Known() (known bool, err error) {
	a := p.known()
	if a == nil {
		if p.Schema == "" {
			return false, fmt.Errorf("%s is not an attribute of the core User schema; name custom attributes with their extension URN, e.g. urn:example:2.0:User:%s", p.Attr, p.Attr)
		}
		return false, nil
	}
	if p.Filtered && !a.multiValued {
		return true, fmt.Errorf("%s is single-valued: it takes no value filter", a.name)
	}
	if p.Sub != "" && len(a.subs) == 0 {
		return true, fmt.Errorf("%s has no sub-attributes", a.name)
	}
	if p.Sub != "" && !containsFold(a.subs, p.Sub) {
		return true, fmt.Errorf("%s has no sub-attribute %q (it has %s)", a.name, p.Sub, strings.Join(a.subs, ", "))
	}
	if p.Sub == "" && len(a.subs) > 0 && !a.multiValued && a.name != "manager" {
		return true, fmt.Errorf("%s is complex: name a sub-attribute, e.g. %s.%s", a.name, a.name, a.subs[0])
	}
	return true, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Aliases maps the named User fields to the attribute paths they stand for. role (the primary
// role), active and groups have no path of their own.
var Aliases = map[string]string{
	FieldUserName:       "userName",
	FieldDisplayName:    "displayName",
	FieldGivenName:      "name.givenName",
	FieldFamilyName:     "name.familyName",
	FieldEmail:          `emails[type eq "work"].value`,
	FieldPhoneNumber:    `phoneNumbers[type eq "work"].value`,
	FieldTitle:          "title",
	FieldDepartment:     SchemaEnterpriseUser + ":department",
	FieldEmployeeNumber: SchemaEnterpriseUser + ":employeeNumber",
	FieldManager:        SchemaEnterpriseUser + ":manager",
}

var fieldByPath = func() map[string]string {
	m := map[string]string{}
	for f, p := range Aliases {
		m[p] = f
	}
	m[SchemaEnterpriseUser+":manager.value"] = FieldManager
	return m
}()

// IsField reports whether name is one of the named User fields (model.Field*).
func IsField(name string) bool {
	return name == FieldActive || name == FieldGroups || slicesContains(StringFields, name)
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ResolveTarget turns a mapping rule target (a field name or an attribute path) into the name the
// pipeline uses: the model.Field* name when the target is one or is the path a field stands for,
// else the canonical path. Field names are matched exactly, so that "title" stays the title field.
func ResolveTarget(target string) (name string, p Path, err error) {
	if IsField(target) {
		if ap, ok := Aliases[target]; ok {
			p, _ = ParsePath(ap)
		}
		return target, p, nil
	}
	p, err = ParsePath(target)
	if err != nil {
		return "", p, err
	}
	if p.Filtered && p.Sub == "" {
		return "", p, fmt.Errorf("%q: a value filter needs a sub-attribute, e.g. %s[type eq %q].value", target, p.Attr, p.Type)
	}
	if _, err := p.Known(); err != nil {
		return "", p, err
	}
	c := p.String()
	if f, ok := fieldByPath[c]; ok {
		return f, p, nil
	}
	if p.Schema == "" && p.Sub == "" && !p.Filtered && (p.Attr == "active" || p.Attr == "groups") {
		return p.Attr, p, nil
	}
	return c, p, nil
}
