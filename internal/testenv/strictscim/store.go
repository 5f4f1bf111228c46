package strictscim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
)

type kind int

const (
	kindUser kind = iota
	kindGroup
)

type resource struct {
	id, ext  string
	attrs    map[string]any // validated attributes without id, externalId and meta
	version  int
	created  time.Time
	modified time.Time
}

// store holds users and groups in creation order; all methods lock mu.
type store struct {
	mu             sync.Mutex
	opts           Options
	next           int
	byID           [2]map[string]*resource
	order          [2][]string
	pageOverride   int
	userExtensions []scim.SchemaExtension
}

func newStore(opts Options) *store {
	return &store{opts: opts, byID: [2]map[string]*resource{{}, {}}}
}

func (st *store) dump() *scimserver.Dump {
	st.mu.Lock()
	defer st.mu.Unlock()
	d := &scimserver.Dump{Users: []map[string]any{}, Groups: []map[string]any{}}
	for _, k := range []kind{kindUser, kindGroup} {
		for _, id := range st.order[k] {
			r := st.byID[k][id]
			m := st.view(k, r)
			m["id"] = r.id
			if r.ext != "" {
				m["externalId"] = r.ext
			}
			if k == kindUser {
				d.Users = append(d.Users, m)
			} else {
				d.Groups = append(d.Groups, m)
			}
		}
	}
	return d
}

// version returns the current ETag of the resource at path ("/Users/id"), "" when unknown.
func (st *store) version(path string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, prefix := range map[kind]string{kindUser: "/Users/", kindGroup: "/Groups/"} {
		if id, ok := strings.CutPrefix(path, prefix); ok {
			if r := st.byID[k][id]; r != nil {
				return etag(r)
			}
		}
	}
	return ""
}

func etag(r *resource) string { return fmt.Sprintf(`W/"%d"`, r.version) }

// unknownAttributes returns why a User body has attributes the schemas do not define (the library
// silently drops them; real strict servers refuse them), or "".
func (st *store) unknownAttributes(r *http.Request) string {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return "unreadable body"
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	var body map[string]any
	if json.Unmarshal(data, &body) != nil {
		return "" // the library reports the syntax error
	}
	declared := map[string]bool{}
	if list, ok := body["schemas"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				declared[strings.ToLower(s)] = true
			}
		}
	}
	core := schema.CoreUserSchema()
	for k, v := range body {
		switch strings.ToLower(k) {
		case "schemas", "id", "externalid", "meta":
			continue
		}
		if _, ok := core.Attributes.ContainsAttribute(k); ok {
			continue
		}
		ext := st.extension(k)
		if ext == nil {
			return fmt.Sprintf("attribute %q is not defined by the User schema or its extensions", k)
		}
		if !declared[strings.ToLower(ext.ID)] {
			return fmt.Sprintf("extension %q is used but not listed in schemas", ext.ID)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("extension %q must be an object", ext.ID)
		}
		for sub := range obj {
			if _, ok := ext.Attributes.ContainsAttribute(sub); !ok {
				return fmt.Sprintf("attribute %q is not defined by extension %q", sub, ext.ID)
			}
		}
	}
	return ""
}

func (st *store) extension(urn string) *schema.Schema {
	for _, e := range st.userExtensions {
		if strings.EqualFold(e.Schema.ID, urn) {
			return &e.Schema
		}
	}
	return nil
}

// view returns a copy of r's attributes as served, users with their derived groups.
func (st *store) view(k kind, r *resource) map[string]any {
	m := deepCopy(r.attrs)
	if k == kindUser {
		var groups []any
		for _, gid := range st.order[kindGroup] {
			g := st.byID[kindGroup][gid]
			if hasMember(g.attrs, r.id) {
				groups = append(groups, map[string]any{"value": g.id, "display": g.attrs["displayName"], "type": "direct"})
			}
		}
		if groups != nil {
			m["groups"] = groups
		}
	}
	return m
}

func (st *store) response(k kind, r *resource) scim.Resource {
	res := scim.Resource{ID: r.id, Attributes: st.view(k, r)}
	if r.ext != "" {
		res.ExternalID = optionalString(r.ext)
	}
	created, modified := r.created, r.modified
	res.Meta = scim.Meta{Created: &created, LastModified: &modified}
	if st.opts.ETag {
		res.Meta.Version = etag(r)
	}
	return res
}

// handler implements scim.ResourceHandler for one resource type.
type handler struct {
	st   *store
	kind kind
}

func (h *handler) schema() schema.Schema {
	if h.kind == kindUser {
		return schema.CoreUserSchema()
	}
	return schema.CoreGroupSchema()
}

func (h *handler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	m := deepCopy(attrs)
	ext, _ := m["externalId"].(string)
	delete(m, "externalId")
	if err := h.check("", m, nil); err != nil {
		return scim.Resource{}, err
	}
	st.next++
	now := time.Now().UTC().Truncate(time.Second)
	r := &resource{id: fmt.Sprintf("%08d-strict", st.next), ext: ext, attrs: m, version: 1, created: now, modified: now}
	st.byID[h.kind][r.id] = r
	st.order[h.kind] = append(st.order[h.kind], r.id)
	return st.response(h.kind, r), nil
}

func (h *handler) Get(_ *http.Request, id string) (scim.Resource, error) {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.byID[h.kind][id]
	if r == nil {
		return scim.Resource{}, scimerr.ScimErrorResourceNotFound(id)
	}
	return st.response(h.kind, r), nil
}

func (h *handler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var matched []*resource
	for _, id := range st.order[h.kind] {
		r := st.byID[h.kind][id]
		if params.FilterValidator != nil {
			m := st.view(h.kind, r)
			m["id"] = r.id
			if r.ext != "" {
				m["externalId"] = r.ext
			}
			if params.FilterValidator.PassesFilter(m) != nil {
				continue
			}
		}
		matched = append(matched, r)
	}
	count := params.Count
	if st.pageOverride > 0 && count > st.pageOverride {
		count = st.pageOverride
	}
	page := scim.Page{TotalResults: len(matched), Resources: []scim.Resource{}}
	for i := params.StartIndex - 1; i >= 0 && i < len(matched) && len(page.Resources) < count; i++ {
		page.Resources = append(page.Resources, st.response(h.kind, matched[i]))
	}
	return page, nil
}

func (h *handler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.byID[h.kind][id]
	if r == nil {
		return scim.Resource{}, scimerr.ScimErrorResourceNotFound(id)
	}
	m := deepCopy(attrs)
	ext, _ := m["externalId"].(string)
	delete(m, "externalId")
	if err := h.check(id, m, r.attrs); err != nil {
		return scim.Resource{}, err
	}
	r.attrs, r.ext = m, ext
	h.touch(r)
	return st.response(h.kind, r), nil
}

func (h *handler) Delete(_ *http.Request, id string) error {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byID[h.kind][id] == nil {
		return scimerr.ScimErrorResourceNotFound(id)
	}
	delete(st.byID[h.kind], id)
	st.order[h.kind] = slices.DeleteFunc(st.order[h.kind], func(x string) bool { return x == id })
	if h.kind == kindUser {
		// A deleted user leaves every group it was in.
		for _, g := range st.byID[kindGroup] {
			if members, ok := g.attrs["members"].([]any); ok {
				g.attrs["members"] = slices.DeleteFunc(members, func(m any) bool { return memberValue(m) == id })
			}
		}
	}
	return nil
}

func (h *handler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	st := h.st
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.byID[h.kind][id]
	if r == nil {
		return scim.Resource{}, scimerr.ScimErrorResourceNotFound(id)
	}
	if st.opts.MaxOperations > 0 && len(ops) > st.opts.MaxOperations {
		return scim.Resource{}, invalidValue(fmt.Sprintf("at most %d operations per request", st.opts.MaxOperations))
	}
	m := deepCopy(r.attrs)
	ext := r.ext
	for _, op := range ops {
		if op.Path == nil {
			if v, ok := op.Value.(map[string]any); ok {
				if e, ok := v["externalId"].(string); ok {
					ext = e
					delete(v, "externalId")
				}
			}
		} else if strings.EqualFold(op.Path.AttributePath.AttributeName, "externalId") && op.Path.AttributePath.URI() == "" {
			switch s, _ := op.Value.(string); op.Op {
			case scim.PatchOperationRemove:
				ext = ""
			default:
				ext = s
			}
			continue
		}
		if err := h.membersCap(op); err != nil {
			return scim.Resource{}, err
		}
		if err := h.apply(m, op); err != nil {
			return scim.Resource{}, err
		}
	}
	// The result must be a valid resource, as if it had been PUT.
	full := deepCopy(m)
	full["schemas"] = []any{h.schema().ID}
	if _, verr := h.schema().Validate(full); verr != nil {
		return scim.Resource{}, *verr
	}
	if err := h.check(id, m, r.attrs); err != nil {
		return scim.Resource{}, err
	}
	r.attrs, r.ext = m, ext
	h.touch(r)
	return st.response(h.kind, r), nil
}

func (h *handler) touch(r *resource) {
	r.version++
	r.modified = time.Now().UTC().Truncate(time.Second)
}

func (h *handler) membersCap(op scim.PatchOperation) error {
	limit := h.st.opts.MaxMembersPerOp
	if h.kind != kindGroup || limit < 0 || op.Op == scim.PatchOperationRemove {
		return nil
	}
	n := 0
	if op.Path == nil {
		if v, ok := op.Value.(map[string]any); ok {
			for k, mv := range v {
				if strings.EqualFold(k, "members") {
					list, _ := mv.([]any)
					n = len(list)
				}
			}
		}
	} else if strings.EqualFold(op.Path.AttributePath.AttributeName, "members") {
		list, _ := op.Value.([]any)
		n = len(list)
	}
	if n > limit {
		return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue,
			Detail: fmt.Sprintf("at most %d members per operation, got %d", limit, n)}
	}
	return nil
}

// check validates and normalises a resource about to be stored (old is its previous attributes):
// member references, the email requirement, derived names and uniqueness.
func (h *handler) check(id string, m, old map[string]any) error {
	st := h.st
	if h.kind == kindGroup {
		if members, ok := m["members"].([]any); ok {
			limit := st.opts.MaxMembersPerOp
			if old == nil && limit >= 0 && len(members) > limit {
				return invalidValue(fmt.Sprintf("at most %d members per operation, got %d", limit, len(members)))
			}
			for _, mem := range members {
				v := memberValue(mem)
				if st.byID[kindUser][v] == nil && st.byID[kindGroup][v] == nil {
					return invalidValue(fmt.Sprintf("member %q does not exist", v))
				}
			}
		}
		name, _ := m["displayName"].(string)
		for _, gid := range st.order[kindGroup] {
			if g := st.byID[kindGroup][gid]; gid != id && strings.EqualFold(fmt.Sprint(g.attrs["displayName"]), name) {
				return uniqueness("displayName")
			}
		}
		return nil
	}
	if st.opts.Normalize {
		if u, ok := m["userName"].(string); ok {
			m["userName"] = strings.ToLower(u)
		}
		for _, e := range emails(m) {
			if v, ok := e["value"].(string); ok {
				e["value"] = strings.ToLower(v)
			}
		}
	}
	if st.opts.KeepFormattedName {
		name, _ := m["name"].(map[string]any)
		oldName, _ := old["name"].(map[string]any)
		if name == nil && oldName != nil && oldName["formatted"] != nil {
			name = map[string]any{}
			m["name"] = name
		}
		if name != nil && name["formatted"] == nil {
			if oldName != nil && oldName["formatted"] != nil {
				name["formatted"] = oldName["formatted"]
			} else if parts := strings.TrimSpace(fmt.Sprint(orEmpty(name["givenName"]), " ", orEmpty(name["familyName"]))); parts != "" {
				name["formatted"] = parts
			}
		}
	}
	if st.opts.RequireEmail {
		ok := false
		for _, e := range emails(m) {
			if v, _ := e["value"].(string); v != "" {
				ok = true
			}
		}
		if !ok {
			return invalidValue("emails is required")
		}
	}
	userName, _ := m["userName"].(string)
	mine := map[string]bool{}
	for _, e := range emails(m) {
		if v, _ := e["value"].(string); v != "" {
			mine[strings.ToLower(v)] = true
		}
	}
	// A scan of every user, as a naive app does; it allocates nothing per user (an emails() list
	// for each made the collector's pace, and so the server's speed, vary by 3x between runs).
	for _, uid := range st.order[kindUser] {
		if uid == id {
			continue
		}
		u := st.byID[kindUser][uid]
		if other, _ := u.attrs["userName"].(string); strings.EqualFold(other, userName) {
			return uniqueness("userName")
		}
		if len(mine) == 0 {
			continue
		}
		list, _ := u.attrs["emails"].([]any)
		for _, e := range list {
			if em, ok := e.(map[string]any); ok {
				if v, _ := em["value"].(string); mine[strings.ToLower(v)] {
					return uniqueness("emails")
				}
			}
		}
	}
	return nil
}

func orEmpty(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func emails(m map[string]any) []map[string]any {
	list, _ := m["emails"].([]any)
	var out []map[string]any
	for _, e := range list {
		if em, ok := e.(map[string]any); ok {
			out = append(out, em)
		}
	}
	return out
}

func uniqueness(attr string) error {
	return scimerr.ScimError{Status: http.StatusConflict, ScimType: scimerr.ScimTypeUniqueness,
		Detail: fmt.Sprintf("the value of %s is already in use", attr)}
}

func invalidValue(detail string) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue, Detail: detail}
}

func memberValue(m any) string {
	if mm, ok := m.(map[string]any); ok {
		v, _ := mm["value"].(string)
		return v
	}
	return ""
}

func hasMember(attrs map[string]any, id string) bool {
	members, _ := attrs["members"].([]any)
	return slices.ContainsFunc(members, func(m any) bool { return memberValue(m) == id })
}

// attributes returns the attribute definitions a path's URI prefix selects.
func (h *handler) attributes(uri string) (schema.Attributes, string, bool) {
	core := h.schema()
	if uri == "" || strings.EqualFold(uri, core.ID) {
		return core.Attributes, "", true
	}
	if h.kind == kindUser {
		if e := h.st.extension(uri); e != nil {
			return e.Attributes, e.ID, true
		}
	}
	return nil, "", false
}

// apply applies one validated PATCH operation (RFC 7644 §3.5.2) to m.
func (h *handler) apply(m map[string]any, op scim.PatchOperation) error {
	if op.Path == nil {
		values, ok := op.Value.(map[string]any)
		if !ok {
			return invalidValue("an operation without path needs an object value")
		}
		for k, v := range values {
			if e := h.st.extension(k); e != nil {
				ext, _ := m[e.ID].(map[string]any)
				if ext == nil {
					ext = map[string]any{}
					m[e.ID] = ext
				}
				if sub, ok := v.(map[string]any); ok {
					for sk, sv := range sub {
						ext[canonical(e.Attributes, sk)] = sv
					}
				}
				continue
			}
			attrs := h.schema().Attributes
			name := canonical(attrs, k)
			def, _ := attrs.ContainsAttribute(name)
			setValue(m, name, def, op.Op, v)
		}
		return nil
	}
	ap := op.Path.AttributePath
	attrs, extID, ok := h.attributes(ap.URI())
	if !ok {
		return scimerr.ScimErrorInvalidPath
	}
	container := m
	if extID != "" {
		ext, _ := m[extID].(map[string]any)
		if ext == nil {
			if op.Op == scim.PatchOperationRemove {
				return nil
			}
			ext = map[string]any{}
			m[extID] = ext
		}
		container = ext
		defer func() {
			if len(ext) == 0 {
				delete(m, extID)
			}
		}()
	}
	name := canonical(attrs, ap.AttributeName)
	def, _ := attrs.ContainsAttribute(name)
	if op.Path.ValueExpression == nil {
		if ap.SubAttribute != nil {
			sub := canonical(def.SubAttributes(), *ap.SubAttribute)
			child, _ := container[name].(map[string]any)
			if op.Op == scim.PatchOperationRemove {
				if child != nil {
					delete(child, sub)
					if len(child) == 0 {
						delete(container, name)
					}
				}
				return nil
			}
			if child == nil {
				child = map[string]any{}
				container[name] = child
			}
			child[sub] = op.Value
			return nil
		}
		setValue(container, name, def, op.Op, op.Value)
		return nil
	}
	list, _ := container[name].([]any)
	match := filter.NewFilterValidator(op.Path.ValueExpression, schema.Schema{ID: extID, Attributes: def.SubAttributes()})
	var kept []any
	matched := false
	for _, el := range list {
		em, _ := el.(map[string]any)
		if em == nil || match.PassesFilter(em) != nil {
			kept = append(kept, el)
			continue
		}
		matched = true
		switch {
		case op.Op == scim.PatchOperationRemove && op.Path.SubAttribute == nil:
			continue // drop the element
		case op.Op == scim.PatchOperationRemove:
			delete(em, canonical(def.SubAttributes(), *op.Path.SubAttribute))
		case op.Path.SubAttribute != nil:
			em[canonical(def.SubAttributes(), *op.Path.SubAttribute)] = op.Value
		default:
			if v, ok := op.Value.(map[string]any); ok {
				for k, sv := range v {
					em[canonical(def.SubAttributes(), k)] = sv
				}
			}
		}
		kept = append(kept, em)
	}
	if !matched && op.Op != scim.PatchOperationRemove {
		return scimerr.ScimErrorNoTarget
	}
	if len(kept) == 0 {
		delete(container, name)
	} else {
		container[name] = kept
	}
	return nil
}

// setValue adds, replaces or removes a whole attribute: add appends to multi-valued attributes
// (members already present are not listed twice) and merges complex ones.
func setValue(container map[string]any, name string, def schema.CoreAttribute, op string, v any) {
	switch {
	case op == scim.PatchOperationRemove:
		delete(container, name)
	case op == scim.PatchOperationAdd && def.MultiValued():
		list, _ := container[name].([]any)
		add, ok := v.([]any)
		if !ok {
			add = []any{v}
		}
		for _, a := range add {
			if mv := memberValue(a); name == "members" && mv != "" && slices.ContainsFunc(list, func(x any) bool { return memberValue(x) == mv }) {
				continue
			}
			list = append(list, a)
		}
		container[name] = list
	case def.HasSubAttributes() && !def.MultiValued():
		cur, _ := container[name].(map[string]any)
		nv, ok := v.(map[string]any)
		if cur == nil || !ok {
			container[name] = v
			return
		}
		for k, sv := range nv {
			cur[k] = sv
		}
	default:
		if list, ok := v.([]any); ok && len(list) == 0 {
			delete(container, name)
			return
		}
		container[name] = v
	}
}

func canonical(attrs schema.Attributes, name string) string {
	if a, ok := attrs.ContainsAttribute(name); ok {
		return a.Name()
	}
	return name
}

func deepCopy[M ~map[string]any](m M) map[string]any {
	raw, _ := json.Marshal(m)
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out map[string]any
	_ = d.Decode(&out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func optionalString(s string) optional.String { return optional.NewString(s) }
