package scim

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Attribute paths beyond the named model fields (model.User.Attributes): how they are read from a
// resource, written into a new one, and turned into PATCH operations. A typed multi-valued path such
// as emails[type eq "home"].value owns only the entry of that type: other entries, set by the app or
// an admin, are left alone. A multi-valued attribute named without a filter (roles, entitlements)
// owns the whole list.

// attrPath is a parsed managed path with the kind of its values.
type attrPath struct {
	name string // canonical path, the key in model.User.Attributes
	path model.Path
	kind model.ValueKind
	// infer: the kind of a custom attribute is taken from the JSON the server sends.
	infer bool
}

func parseAttrPaths(paths []string) ([]attrPath, error) {
	out := make([]attrPath, 0, len(paths))
	for _, s := range paths {
		p, err := model.ParsePath(s)
		if err != nil {
			return nil, err
		}
		known, _ := p.Known()
		out = append(out, attrPath{name: s, path: p, kind: p.Kind(), infer: !known})
	}
	return out, nil
}

// lookupKey returns the key of obj matching name case-insensitively (attribute names are
// case-insensitive, RFC 7643 §2.1), preferring an exact match.
func lookupKey(obj map[string]any, name string) (string, bool) {
	if _, ok := obj[name]; ok {
		return name, true
	}
	for k := range obj {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return name, false
}

func child(obj map[string]any, name string) any {
	k, ok := lookupKey(obj, name)
	if !ok {
		return nil
	}
	return obj[k]
}

// container returns the object holding p's attribute: the resource, or its extension object.
func container(res map[string]any, p model.Path, create bool) map[string]any {
	if p.Schema == "" {
		return res
	}
	ext, _ := child(res, p.Schema).(map[string]any)
	if ext == nil && create {
		ext = map[string]any{}
		res[p.Schema] = ext
	}
	return ext
}

// typedEntry returns the element of a multi-valued attribute whose type is typ (case-insensitively).
func typedEntry(list []any, typ string) (map[string]any, int) {
	for i, e := range list {
		if m, ok := e.(map[string]any); ok {
			if t, _ := child(m, "type").(string); strings.EqualFold(t, typ) {
				return m, i
			}
		}
	}
	return nil, -1
}

// readPath extracts p's value from a decoded resource; present tells whether a typed entry exists
// (for filtered paths) or the attribute is there at all.
func readPath(res map[string]any, ap attrPath) (v model.Value, present bool) {
	obj := container(res, ap.path, false)
	if obj == nil {
		return model.Value{Kind: ap.kind}, false
	}
	raw := child(obj, ap.path.Attr)
	if raw == nil {
		return model.Value{Kind: ap.kind}, false
	}
	p := ap.path
	if ap.infer && !p.Filtered && p.Sub == "" {
		return inferValue(raw), true
	}
	switch {
	case p.Filtered:
		list, _ := raw.([]any)
		e, _ := typedEntry(list, p.Type)
		if e == nil {
			return model.Value{Kind: ap.kind}, false
		}
		return toValue(ap.kind, child(e, p.Sub)), true
	case p.Sub != "":
		m, _ := raw.(map[string]any)
		if m == nil {
			return model.Value{Kind: ap.kind}, false
		}
		return toValue(ap.kind, child(m, p.Sub)), true
	case ap.kind == model.KindStrings:
		// A multi-valued attribute: its entries' values (or plain strings, for custom ones).
		list, _ := raw.([]any)
		vals := make([]string, 0, len(list))
		for _, e := range list {
			switch e := e.(type) {
			case map[string]any:
				vals = append(vals, scalarString(child(e, "value")))
			default:
				vals = append(vals, scalarString(e))
			}
		}
		return model.StringsValue(vals), true
	}
	return toValue(ap.kind, raw), true
}

// toValue converts a JSON value to kind, tolerating strings for booleans and numbers and numbers
// for strings, as servers send them; what cannot be converted reads as empty, so that the next
// run writes it again (and the server's answer to that tells what is wrong).
func toValue(kind model.ValueKind, raw any) model.Value {
	switch kind {
	case model.KindBool:
		switch r := raw.(type) {
		case bool:
			return model.BoolValue(r)
		case string:
			if b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(r))); err == nil {
				return model.BoolValue(b)
			}
		}
		return model.Value{Kind: kind}
	case model.KindInt:
		switch r := raw.(type) {
		case float64:
			if r == math.Trunc(r) {
				return model.IntValue(int64(r))
			}
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64); err == nil {
				return model.IntValue(i)
			}
		}
		return model.Value{Kind: kind}
	case model.KindStrings:
		list, _ := raw.([]any)
		vals := make([]string, 0, len(list))
		for _, e := range list {
			vals = append(vals, scalarString(e))
		}
		return model.StringsValue(vals)
	case model.KindDateTime:
		return model.Value{Kind: kind, Str: scalarString(raw)}
	}
	return model.StringValue(scalarString(raw))
}

// inferValue converts a JSON value by its own type.
func inferValue(raw any) model.Value {
	switch r := raw.(type) {
	case bool:
		return model.BoolValue(r)
	case float64:
		if r == math.Trunc(r) && math.Abs(r) < 1<<53 {
			return model.IntValue(int64(r))
		}
	case []any:
		return toValue(model.KindStrings, r)
	}
	return model.StringValue(scalarString(raw))
}

func scalarString(raw any) string {
	switch r := raw.(type) {
	case string:
		return r
	case bool:
		return strconv.FormatBool(r)
	case float64:
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	return ""
}

// jsonValue renders a value for a resource or a PATCH: lists of a multi-valued attribute as
// entries {"value": …}, custom lists as plain strings.
func jsonValue(ap attrPath, v model.Value) any {
	if v.Kind == model.KindStrings && ap.path.Sub == "" && !ap.path.Filtered && ap.path.Schema == "" {
		entries := make([]map[string]any, 0, len(v.Strs))
		for _, s := range v.Strs {
			entries = append(entries, map[string]any{"value": s})
		}
		return entries
	}
	return v.JSON()
}

// setPath writes v (nil removes) at p in a decoded resource: what a PATCH operation does, for
// building new resources and for targets without PATCH.
func setPath(res map[string]any, p model.Path, v any) {
	obj := container(res, p, v != nil)
	if obj == nil {
		return
	}
	key, _ := lookupKey(obj, p.Attr)
	switch {
	case p.Filtered:
		list, _ := obj[key].([]any)
		e, i := typedEntry(list, p.Type)
		switch {
		case v == nil && e != nil && (p.Sub == "value" || p.Sub == ""):
			obj[key] = append(list[:i:i], list[i+1:]...)
		case v == nil && e != nil:
			sk, _ := lookupKey(e, p.Sub)
			delete(e, sk)
		case v != nil && e != nil:
			sk, _ := lookupKey(e, p.Sub)
			e[sk] = plain(v)
		case v != nil:
			obj[key] = append(list, map[string]any{"type": p.Type, p.Sub: plain(v)})
		}
	case p.Sub != "":
		m, _ := obj[key].(map[string]any)
		if m == nil {
			if v == nil {
				return
			}
			m = map[string]any{}
			obj[key] = m
		}
		sk, _ := lookupKey(m, p.Sub)
		if v == nil {
			delete(m, sk)
		} else {
			m[sk] = plain(v)
		}
	case v == nil:
		delete(obj, key)
	default:
		obj[key] = plain(v)
	}
}

// plain round-trips a Go value through JSON so that a decoded resource holds only JSON types.
func plain(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// extensionSchemas lists the extension URNs a resource carries as attributes, for "schemas".
func extensionSchemas(res map[string]any) []string {
	var out []string
	for k, v := range res {
		if _, ok := v.(map[string]any); ok && strings.HasPrefix(strings.ToLower(k), "urn:") && !strings.EqualFold(k, SchemaUser) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// entryKey names a typed entry of a user for the presence index: "emails\x00work".
func entryKey(p model.Path) string {
	return strings.ToLower(p.Schema+":"+p.Attr) + "\x00" + strings.ToLower(p.Type)
}

// attrChange is the new value of one attribute path.
type attrChange struct {
	ap attrPath
	v  model.Value
}

// attrOps renders changes of attribute paths as PATCH operations. present tells whether the user
// has a typed entry already: an existing one is replaced in place, a missing one is added with
// all the sub-attributes this update sets, so that one entry is created, not one per sub-attribute.
func attrOps(changes []attrChange, present func(model.Path) bool) []PatchOp {
	var ops []PatchOp
	adds := map[string]int{} // entryKey → index in ops of the "add" creating that entry
	for _, c := range changes {
		v, p := c.v, c.ap.path
		switch {
		case v.IsEmpty() && p.Filtered && p.Sub == "value":
			// The entry without its value is meaningless: remove the entry.
			if present(p) {
				whole := p
				whole.Sub = ""
				ops = append(ops, PatchOp{Op: "remove", Path: whole.String()})
			}
		case v.IsEmpty():
			if !p.Filtered || present(p) {
				ops = append(ops, PatchOp{Op: "remove", Path: p.String()})
			}
		case p.Filtered && !present(p):
			k := entryKey(p)
			if i, ok := adds[k]; ok {
				ops[i].Value.([]map[string]any)[0][p.Sub] = v.JSON()
				continue
			}
			attr := model.Path{Schema: p.Schema, Attr: p.Attr}
			adds[k] = len(ops)
			ops = append(ops, PatchOp{Op: "add", Path: attr.String(),
				Value: []map[string]any{{"type": p.Type, p.Sub: v.JSON()}}})
		default:
			ops = append(ops, PatchOp{Op: "replace", Path: p.String(), Value: jsonValue(c.ap, v)})
		}
	}
	return ops
}

// applyOp applies one PATCH operation to a decoded resource, for targets without PATCH.
func applyOp(res map[string]any, op PatchOp) {
	p, err := model.ParsePath(op.Path)
	if err != nil {
		return
	}
	switch op.Op {
	case "remove":
		setPath(res, p, nil)
	case "add":
		if list, ok := plain(op.Value).([]any); ok && !p.Filtered && p.Sub == "" {
			obj := container(res, p, true)
			key, _ := lookupKey(obj, p.Attr)
			cur, _ := obj[key].([]any)
			obj[key] = append(cur, list...)
			return
		}
		setPath(res, p, op.Value)
	default:
		setPath(res, p, op.Value)
	}
}
