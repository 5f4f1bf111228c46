package ldap

import (
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// binaryAttributes are always base64 encoded, whatever their bytes (lower-case names).
var binaryAttributes = map[string]bool{
	"jpegphoto": true, "photo": true, "thumbnailphoto": true, "objectguid": true, "objectsid": true,
	"usercertificate": true, "cacertificate": true, "usersmimecertificate": true, "audio": true,
	"msexchmailboxguid": true, "ms-ds-consistencyguid": true,
}

// isBinaryAttribute reports whether values of attr are binary by name (known names or ";binary").
func isBinaryAttribute(attr string) bool {
	name, opts, _ := strings.Cut(strings.ToLower(attr), ";")
	return binaryAttributes[name] || strings.Contains(";"+opts+";", ";binary;")
}

// attributeValues renders raw values as strings: binary attributes, and attributes with any value
// that is not valid UTF-8, are base64 encoded (all values, so an attribute has one encoding).
func attributeValues(attr string, raw [][]byte) []string {
	encode := isBinaryAttribute(attr)
	for _, v := range raw {
		if !utf8.Valid(v) {
			encode = true
		}
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		if encode {
			out[i] = base64.StdEncoding.EncodeToString(v)
		} else {
			out[i] = string(v)
		}
	}
	return out
}

// entryAttrs indexes an entry's attributes by lower-cased name.
type entryAttrs map[string]*ldap.EntryAttribute

func indexEntry(e *ldap.Entry) entryAttrs {
	m := make(entryAttrs, len(e.Attributes))
	for _, a := range e.Attributes {
		m[strings.ToLower(a.Name)] = a
	}
	return m
}

func (m entryAttrs) raw(name string) [][]byte {
	if a := m[strings.ToLower(name)]; a != nil {
		return a.ByteValues
	}
	return nil
}

func (m entryAttrs) values(name string) []string {
	if a := m[strings.ToLower(name)]; a != nil {
		return a.Values
	}
	return nil
}

// recordID extracts the identity; ok is false with a reason when the entry has none usable.
func recordID(idAttr string, m entryAttrs) (id string, problem string) {
	raw := m.raw(idAttr)
	if len(raw) == 0 || len(raw[0]) == 0 {
		return "", "entry has no " + idAttr
	}
	if strings.EqualFold(idAttr, "objectGUID") {
		s, err := DecodeGUID(raw[0])
		if err != nil {
			return "", err.Error()
		}
		return s, ""
	}
	if !utf8.Valid(raw[0]) {
		return base64.StdEncoding.EncodeToString(raw[0]), ""
	}
	return string(raw[0]), ""
}

// isDisabled applies the disabled-account convention to an entry.
func isDisabled(cfg DisabledConfig, m entryAttrs) bool {
	switch cfg.Mode {
	case DisabledActiveDirectory:
		const accountDisable = 0x2
		for _, v := range m.values("userAccountControl") {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil && n&accountDisable != 0 {
				return true
			}
		}
	case DisabledAttribute:
		vals := m.values(cfg.Attribute)
		if cfg.Value == "" {
			return len(vals) > 0
		}
		for _, v := range vals {
			if strings.EqualFold(strings.TrimSpace(v), cfg.Value) {
				return true
			}
		}
	}
	return false
}

// toRecord converts an entry; it returns a Problem instead when the entry has no usable ID.
func toRecord(cfg Config, e *ldap.Entry) (model.Record, *model.Problem) {
	m := indexEntry(e)
	id, why := recordID(cfg.IDAttribute, m)
	if why != "" {
		return model.Record{}, &model.Problem{Subject: e.DN, Reason: model.ReasonMissingID, Message: why}
	}
	rec := model.Record{ID: id, DN: e.DN, Attributes: make(map[string][]string, max(len(cfg.Attributes), len(e.Attributes)))}
	if len(cfg.Attributes) == 0 {
		// No list configured: every attribute the server returned, under the server's names.
		for _, a := range e.Attributes {
			if len(a.ByteValues) > 0 {
				rec.Attributes[a.Name] = attributeValues(a.Name, a.ByteValues)
			}
		}
	}
	for _, name := range cfg.Attributes {
		if raw := m.raw(name); len(raw) > 0 {
			rec.Attributes[name] = attributeValues(name, raw)
		}
	}
	rec.Disabled = isDisabled(cfg.Disabled, m)
	return rec, nil
}

// laterMark reports whether high-water mark a is after b: numerically when both are integers
// (uSNChanged), else as strings (GeneralizedTime of one server sorts lexically).
func laterMark(a, b string) bool {
	x, okx := new(big.Int).SetString(a, 10)
	y, oky := new(big.Int).SetString(b, 10)
	if okx && oky {
		return x.Cmp(y) > 0
	}
	return a > b
}
