package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ValueKind is the type of an attribute value (the SCIM types a rule can produce).
type ValueKind uint8

const (
	KindString   ValueKind = iota // string, reference, binary (base64)
	KindBool                      // boolean
	KindInt                       // integer
	KindDateTime                  // dateTime, kept as RFC 3339 text in UTC
	KindStrings                   // a multi-valued attribute's values
)

// KindNames are the names of the kinds as mapping rules spell them.
var KindNames = map[ValueKind]string{
	KindString: "string", KindBool: "boolean", KindInt: "integer", KindDateTime: "dateTime", KindStrings: "stringList",
}

// ParseKind returns the kind named n (see KindNames).
func ParseKind(n string) (ValueKind, bool) {
	for k, name := range KindNames {
		if name == n {
			return k, true
		}
	}
	return KindString, false
}

func (k ValueKind) String() string { return KindNames[k] }

// Value is a typed attribute value. Only the member of its Kind is meaningful; the zero Value is
// the empty string, which means "not set".
type Value struct {
	Kind ValueKind `json:"kind,omitempty"`
	Str  string    `json:"str,omitempty"`  // KindString, KindDateTime
	Bool bool      `json:"bool,omitempty"` // KindBool
	Int  int64     `json:"int,omitempty"`  // KindInt
	// Strs holds KindStrings values, sorted and without duplicates.
	Strs []string `json:"strs,omitempty"`
	// Set distinguishes false and 0 from "not set" for KindBool and KindInt.
	Set bool `json:"set,omitempty"`
}

// IsEmpty reports whether v means "not set".
func (v Value) IsEmpty() bool {
	switch v.Kind {
	case KindBool, KindInt:
		return !v.Set
	case KindStrings:
		return len(v.Strs) == 0
	}
	return v.Str == ""
}

// JSON returns the value as SCIM JSON encodes it (string, bool, int64 or []string), nil when empty.
func (v Value) JSON() any {
	if v.IsEmpty() {
		return nil
	}
	switch v.Kind {
	case KindBool:
		return v.Bool
	case KindInt:
		return v.Int
	case KindStrings:
		return v.Strs
	}
	return v.Str
}

// String renders the value for reports.
func (v Value) String() string {
	switch v.Kind {
	case KindBool:
		if !v.Set {
			return ""
		}
		return strconv.FormatBool(v.Bool)
	case KindInt:
		if !v.Set {
			return ""
		}
		return strconv.FormatInt(v.Int, 10)
	case KindStrings:
		return strings.Join(v.Strs, ",")
	}
	return v.Str
}

// StringValue, BoolValue, IntValue and StringsValue build values.
func StringValue(s string) Value { return Value{Str: s} }
func BoolValue(b bool) Value     { return Value{Kind: KindBool, Bool: b, Set: true} }
func IntValue(i int64) Value     { return Value{Kind: KindInt, Int: i, Set: true} }

// StringsValue sorts and deduplicates the non-empty values.
func StringsValue(list []string) Value {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return Value{Kind: KindStrings, Strs: slices.Compact(out)}
}

// ParseValue converts text (a directory attribute, a lookup result, a default) to kind.
func ParseValue(kind ValueKind, s string) (Value, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Value{Kind: kind}, nil
	}
	switch kind {
	case KindBool:
		b, err := strconv.ParseBool(strings.ToLower(s))
		if err != nil {
			return Value{}, fmt.Errorf("%q is not a boolean (true or false)", s)
		}
		return BoolValue(b), nil
	case KindInt:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%q is not an integer", s)
		}
		return IntValue(i), nil
	case KindDateTime:
		t, err := ParseDateTime(s)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindDateTime, Str: t.UTC().Format(time.RFC3339Nano)}, nil
	case KindStrings:
		return StringsValue([]string{s}), nil
	}
	return StringValue(s), nil
}

// ParseDateTime reads an xsd:dateTime (RFC 3339, as SCIM uses), a date alone (midnight UTC) or an
// LDAP GeneralizedTime such as 20240131120000Z (AD's whenCreated).
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "20060102150405Z0700", "20060102150405.0Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a dateTime (want RFC 3339, e.g. 2024-01-31T12:00:00Z)", s)
}
