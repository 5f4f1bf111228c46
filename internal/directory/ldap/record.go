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

// binaryAttributes are always base64 encoded, whatever their bytes.
var binaryAttributes = []string{
	"jpegPhoto", "photo", "thumbnailPhoto", "objectGUID", "objectSid", "userCertificate", "cACertificate",
	"userSMIMECertificate", "audio", "msExchMailboxGuid", "mS-DS-ConsistencyGuid",
}

// isBinaryAttribute reports whether values of attr are binary by name (known names or ";binary").
// It runs for every attribute of every entry, so it compares in place instead of lower-casing.
func isBinaryAttribute(attr string) bool {
	name, opts, _ := strings.Cut(attr, ";")
	for _, b := range binaryAttributes {
		if strings.EqualFold(name, b) {
			return true
		}
	}
	for opt := range strings.SplitSeq(opts, ";") {
		if strings.EqualFold(opt, "binary") {
			return true
		}
	}
	return false
}

// needsBase64 reports whether the values of attr are rendered base64 encoded: binary attributes,
// and attributes with any value that is not valid UTF-8 (all values, so an attribute has one encoding).
func needsBase64(attr string, raw [][]byte) bool {
	if isBinaryAttribute(attr) {
		return true
	}
	for _, v := range raw {
		if !utf8.Valid(v) {
			return true
		}
	}
	return false
}

// entry is a user entry as Read needs it: the DN and the raw values of each attribute in the order
// the server sent them. Attribute lookups compare names case-insensitively and take the first match,
// as go-ldap's GetEqualFold* do; a dozen attributes are scanned faster than they are indexed.
type entry struct {
	dn    string
	attrs []entryAttr
}

type entryAttr struct {
	name string
	vals [][]byte
}

// fromLDAP takes the raw values of a go-ldap entry (no copy).
func fromLDAP(e *ldap.Entry) entry {
	out := entry{dn: e.DN, attrs: make([]entryAttr, len(e.Attributes))}
	for i, a := range e.Attributes {
		out.attrs[i] = entryAttr{name: a.Name, vals: a.ByteValues}
	}
	return out
}

func (e *entry) raw(name string) [][]byte {
	for i := range e.attrs {
		if strings.EqualFold(e.attrs[i].name, name) {
			return e.attrs[i].vals
		}
	}
	return nil
}

// values returns the values of name as strings (their bytes as they are, like go-ldap's Values).
func (e *entry) values(name string) []string {
	raw := e.raw(name)
	if len(raw) == 0 {
		return nil
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = string(v)
	}
	return out
}

func (e *entry) value(name string) string {
	if raw := e.raw(name); len(raw) > 0 {
		return string(raw[0])
	}
	return ""
}

// recordID extracts the identity; ok is false with a reason when the entry has none usable.
func recordID(idAttr string, e *entry) (id string, problem string) {
	raw := e.raw(idAttr)
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
func isDisabled(cfg DisabledConfig, e *entry) bool {
	switch cfg.Mode {
	case DisabledActiveDirectory:
		const accountDisable = 0x2
		for _, v := range e.raw("userAccountControl") {
			n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
			if err == nil && n&accountDisable != 0 {
				return true
			}
		}
	case DisabledAttribute:
		vals := e.raw(cfg.Attribute)
		if cfg.Value == "" {
			return len(vals) > 0
		}
		for _, v := range vals {
			if strings.EqualFold(strings.TrimSpace(string(v)), cfg.Value) {
				return true
			}
		}
	}
	return false
}

// toRecord converts an entry; it returns a Problem instead when the entry has no usable ID. The
// record's text values share one allocation (they live and die with the record) and never alias
// the entry's bytes, which belong to a decoded message.
func toRecord(cfg Config, e *entry) (model.Record, *model.Problem) {
	id, why := recordID(cfg.IDAttribute, e)
	if why != "" {
		return model.Record{}, &model.Problem{Subject: e.dn, Reason: model.ReasonMissingID, Message: why}
	}
	rec := model.Record{ID: id, DN: e.dn}
	type kept struct {
		name   string
		raw    [][]byte
		base64 bool
	}
	var onStack [24]kept
	keep := onStack[:0]
	if len(cfg.Attributes) == 0 {
		// No list configured: every attribute the server returned, under the server's names.
		for _, a := range e.attrs {
			if len(a.vals) > 0 {
				keep = append(keep, kept{a.name, a.vals, needsBase64(a.name, a.vals)})
			}
		}
	}
	for _, name := range cfg.Attributes {
		if raw := e.raw(name); len(raw) > 0 {
			keep = append(keep, kept{name, raw, needsBase64(name, raw)})
		}
	}
	var text strings.Builder // the values kept as text, in one string
	size, nvals := 0, 0
	for _, k := range keep {
		nvals += len(k.raw)
		for _, v := range k.raw {
			if !k.base64 {
				size += len(v)
			}
		}
	}
	text.Grow(size)
	for _, k := range keep {
		for _, v := range k.raw {
			if !k.base64 {
				text.Write(v)
			}
		}
	}
	all, vals := text.String(), make([]string, nvals)
	rec.Attributes = make(map[string][]string, len(keep))
	off := 0
	for _, k := range keep {
		out := vals[:len(k.raw):len(k.raw)] // capped: an append by a consumer cannot reach the next attribute
		vals = vals[len(k.raw):]
		for i, v := range k.raw {
			if k.base64 {
				out[i] = base64.StdEncoding.EncodeToString(v)
			} else {
				out[i] = all[off : off+len(v)]
				off += len(v)
			}
		}
		rec.Attributes[k.name] = out
	}
	rec.Disabled = isDisabled(cfg.Disabled, e)
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
