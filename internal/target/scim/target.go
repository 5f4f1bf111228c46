package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

const enterprisePrefix = SchemaEnterpriseUser + ":"

// Target adapts a Client to the model's vocabulary; it is what the sync engine calls.
// It is safe for concurrent use, except that concurrent membership changes of one group may race
// on targets that implement PATCH as read-modify-write.
type Target struct {
	c *Client

	mu       sync.Mutex
	usePatch *bool             // nil until discovered
	ids      map[string]string // externalId -> target id, learned from listings and lookups
}

// NewTarget wraps c.
func NewTarget(c *Client) *Target { return &Target{c: c, ids: map[string]string{}} }

// Client returns the wrapped client.
func (t *Target) Client() *Client { return t.c }

// ListUsers returns every user of the target, unmanaged ones included, with TargetID set, Groups
// holding the display names of the groups listing the user as a member, and Manager translated to
// the manager's externalId when the manager is a known user with one.
func (t *Target) ListUsers(ctx context.Context) ([]model.User, error) {
	var (
		users  []User
		groups []Group
		gErr   error
		wg     sync.WaitGroup
	)
	wg.Go(func() { groups, gErr = t.c.ListGroups(ctx, "") })
	users, uErr := t.c.ListUsers(ctx, "")
	wg.Wait()
	if err := errors.Join(uErr, gErr); err != nil {
		return nil, err
	}
	extByID := make(map[string]string, len(users))
	for _, u := range users {
		extByID[u.ID] = u.ExternalID
	}
	groupsByMember := map[string][]string{}
	for _, g := range groups {
		for _, m := range g.Members {
			if !slices.Contains(groupsByMember[m.Value], g.DisplayName) {
				groupsByMember[m.Value] = append(groupsByMember[m.Value], g.DisplayName)
			}
		}
	}
	out := make([]model.User, 0, len(users))
	t.mu.Lock()
	for _, u := range users {
		if u.ExternalID != "" {
			t.ids[u.ExternalID] = u.ID
		}
		mu := toModel(&u)
		if u.Enterprise != nil && u.Enterprise.Manager != nil {
			mu.Manager = extByID[u.Enterprise.Manager.Value]
		}
		mu.Groups = groupsByMember[u.ID]
		slices.Sort(mu.Groups)
		out = append(out, mu)
	}
	t.mu.Unlock()
	return out, nil
}

// toModel converts the attributes that map one to one; Manager and Groups need context.
func toModel(u *User) model.User {
	m := model.User{
		TargetID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName, DisplayName: u.DisplayName,
		Title: u.Title, Active: u.IsActive(),
		Email:       PrimaryValue(u.Emails, "work"),
		PhoneNumber: PrimaryValue(u.PhoneNumbers, "work"),
		Role:        PrimaryValue(u.Roles, ""),
	}
	if u.Name != nil {
		m.GivenName, m.FamilyName = u.Name.GivenName, u.Name.FamilyName
	}
	if u.Enterprise != nil {
		m.Department, m.EmployeeNumber = u.Enterprise.Department, u.Enterprise.EmployeeNumber
	}
	return m
}

// ListGroups returns every group of the target with its members' target ids.
func (t *Target) ListGroups(ctx context.Context) ([]model.Group, error) {
	groups, err := t.c.ListGroups(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]model.Group, 0, len(groups))
	for _, g := range groups {
		mg := model.Group{TargetID: g.ID, DisplayName: g.DisplayName, ExternalID: g.ExternalID}
		for _, m := range g.Members {
			mg.Members = append(mg.Members, m.Value)
		}
		out = append(out, mg)
	}
	return out, nil
}

// FindByExternalID returns the user whose externalId is exactly externalID, or nil.
// Results are checked client-side; when the value needs escaping and the target answers with an
// invalid-filter error or no match (SCIMMY does not parse escaped literals), it falls back to
// listing every user.
func (t *Target) FindByExternalID(ctx context.Context, externalID string) (*User, error) {
	users, err := t.c.ListUsers(ctx, Eq("externalId", externalID))
	if err != nil && !(needsEscaping(externalID) && statusOf(err) == http.StatusBadRequest) {
		return nil, err
	}
	u := exactExternalID(users, externalID)
	if u == nil && needsEscaping(externalID) {
		all, err := t.c.ListUsers(ctx, "")
		if err != nil {
			return nil, err
		}
		u = exactExternalID(all, externalID)
	}
	if u != nil {
		t.mu.Lock()
		t.ids[externalID] = u.ID
		t.mu.Unlock()
	}
	return u, nil
}

func exactExternalID(users []User, externalID string) *User {
	for i := range users {
		if users[i].ExternalID == externalID {
			return &users[i]
		}
	}
	return nil
}

// CreateUser creates u unless a user with its externalId exists already (left over by an earlier,
// interrupted run), and returns the target id. A manager that is not in the target yet is left
// out; a later UpdateUser of FieldManager sets it.
func (t *Target) CreateUser(ctx context.Context, u model.User) (string, error) {
	if u.ExternalID != "" {
		existing, err := t.FindByExternalID(ctx, u.ExternalID)
		if err != nil {
			return "", err
		}
		if existing != nil {
			return existing.ID, nil
		}
	}
	su := fromModel(u)
	if u.Manager != "" {
		id, err := t.resolveManager(ctx, u.Manager)
		switch {
		case err == nil:
			enterprise(su).Manager = &Manager{Value: id}
		case errors.Is(err, ErrUnknownManager):
			t.c.log.V(1).Info("creating user without its manager, not in the target yet", "userName", u.UserName)
		default:
			return "", err
		}
	}
	created, err := t.c.CreateUser(ctx, su)
	if IsConflict(err) && u.ExternalID != "" {
		// A retried POST may have succeeded the first time.
		if existing, ferr := t.FindByExternalID(ctx, u.ExternalID); ferr == nil && existing != nil {
			return existing.ID, nil
		}
	}
	if err != nil {
		return "", err
	}
	if u.ExternalID != "" {
		t.mu.Lock()
		t.ids[u.ExternalID] = created.ID
		t.mu.Unlock()
	}
	return created.ID, nil
}

func fromModel(u model.User) *User {
	su := &User{ExternalID: u.ExternalID, UserName: u.UserName, DisplayName: u.DisplayName, Title: u.Title, Active: BoolPtr(u.Active)}
	if u.GivenName != "" || u.FamilyName != "" {
		su.Name = &Name{GivenName: u.GivenName, FamilyName: u.FamilyName, Formatted: formatted(u)}
	}
	if u.Email != "" {
		su.Emails = workEmail(u.Email)
	}
	if u.PhoneNumber != "" {
		su.PhoneNumbers = workPhone(u.PhoneNumber)
	}
	if u.Role != "" {
		su.Roles = primaryRole(u.Role)
	}
	if u.Department != "" {
		enterprise(su).Department = u.Department
	}
	if u.EmployeeNumber != "" {
		enterprise(su).EmployeeNumber = u.EmployeeNumber
	}
	return su
}

func enterprise(u *User) *EnterpriseUser {
	if u.Enterprise == nil {
		u.Enterprise = &EnterpriseUser{}
	}
	return u.Enterprise
}

func formatted(u model.User) string { return strings.TrimSpace(u.GivenName + " " + u.FamilyName) }
func workEmail(v string) []MultiValued {
	return []MultiValued{{Value: v, Type: "work", Primary: true}}
}
func workPhone(v string) []MultiValued   { return []MultiValued{{Value: v, Type: "work"}} }
func primaryRole(v string) []MultiValued { return []MultiValued{{Value: v, Primary: true}} }

// ErrUnknownManager is returned when a manager's externalId matches no user of the target.
var ErrUnknownManager = errors.New("scim: manager not found in target")

func (t *Target) resolveManager(ctx context.Context, externalID string) (string, error) {
	t.mu.Lock()
	id, ok := t.ids[externalID]
	t.mu.Unlock()
	if ok {
		return id, nil
	}
	u, err := t.FindByExternalID(ctx, externalID)
	if err != nil {
		return "", err
	}
	if u == nil {
		return "", fmt.Errorf("%w: externalId %q", ErrUnknownManager, externalID)
	}
	return u.ID, nil
}

// UpdateUser changes only the named fields (model.Field* constants) of the target user to u's
// values; an empty value removes the attribute. It uses PATCH when the target supports it, else
// reads the user, changes it and PUTs it back (attributes the client does not know are kept).
func (t *Target) UpdateUser(ctx context.Context, targetID string, u model.User, fields []string) error {
	ops, err := t.patchOps(ctx, u, fields)
	if err != nil || len(ops) == 0 {
		return err
	}
	usePatch, err := t.patchSupported(ctx)
	if err != nil {
		return err
	}
	if usePatch {
		return t.c.PatchUser(ctx, targetID, ops)
	}
	var raw map[string]any
	path := "/Users/" + url.PathEscape(targetID)
	if err := t.c.do(ctx, http.MethodGet, path, nil, nil, &raw); err != nil {
		return err
	}
	for _, op := range ops {
		applyOp(raw, op)
	}
	delete(raw, "groups") // read-only
	delete(raw, "meta")
	if _, ok := raw[SchemaEnterpriseUser]; ok {
		raw["schemas"] = []string{SchemaUser, SchemaEnterpriseUser}
	}
	return t.c.do(ctx, http.MethodPut, path, nil, raw, nil)
}

func (t *Target) patchSupported(ctx context.Context) (bool, error) {
	t.mu.Lock()
	p := t.usePatch
	t.mu.Unlock()
	if p != nil {
		return *p, nil
	}
	spc, err := t.c.ServiceProviderConfig(ctx)
	supported := false
	switch {
	case err == nil:
		supported = bool(spc.Patch.Supported)
	case IsNotFound(err) || statusOf(err) == http.StatusNotImplemented:
		// No discovery endpoint: PUT works everywhere.
	default:
		return false, err
	}
	t.mu.Lock()
	t.usePatch = &supported
	t.mu.Unlock()
	return supported, nil
}

// patchOps translates model fields to PATCH operations.
func (t *Target) patchOps(ctx context.Context, u model.User, fields []string) ([]PatchOp, error) {
	var ops []PatchOp
	set := func(path string, empty bool, value any) {
		if empty {
			ops = append(ops, PatchOp{Op: "remove", Path: path})
		} else {
			ops = append(ops, PatchOp{Op: "replace", Path: path, Value: value})
		}
	}
	nameDone := false
	for _, f := range fields {
		switch f {
		case model.FieldUserName:
			if u.UserName == "" {
				return nil, errors.New("scim: userName cannot be removed")
			}
			set("userName", false, u.UserName)
		case model.FieldDisplayName:
			set("displayName", u.DisplayName == "", u.DisplayName)
		case model.FieldTitle:
			set("title", u.Title == "", u.Title)
		case model.FieldGivenName, model.FieldFamilyName:
			if nameDone {
				continue
			}
			nameDone = true
			// Keep name.formatted consistent with the parts.
			for _, ff := range []string{model.FieldGivenName, model.FieldFamilyName} {
				if slices.Contains(fields, ff) {
					set("name."+ff, u.Get(ff) == "", u.Get(ff))
				}
			}
			set("name.formatted", formatted(u) == "", formatted(u))
		case model.FieldEmail:
			set("emails", u.Email == "", workEmail(u.Email))
		case model.FieldPhoneNumber:
			set("phoneNumbers", u.PhoneNumber == "", workPhone(u.PhoneNumber))
		case model.FieldRole:
			set("roles", u.Role == "", primaryRole(u.Role))
		case model.FieldDepartment, model.FieldEmployeeNumber:
			set(enterprisePrefix+f, u.Get(f) == "", u.Get(f))
		case model.FieldManager:
			if u.Manager == "" {
				set(enterprisePrefix+"manager", true, nil)
				continue
			}
			id, err := t.resolveManager(ctx, u.Manager)
			if err != nil {
				return nil, err
			}
			set(enterprisePrefix+"manager", false, Manager{Value: id})
		case model.FieldActive:
			ops = append(ops, PatchOp{Op: "replace", Path: "active", Value: u.Active})
		default:
			return nil, fmt.Errorf("scim: field %q cannot be updated with UpdateUser", f)
		}
	}
	return ops, nil
}

// applyOp applies one of patchOps' operations (plain or "urn:…:attr" paths, one level of
// sub-attribute) to a decoded resource, for targets without PATCH.
func applyOp(res map[string]any, op PatchOp) {
	obj, path := res, op.Path
	if strings.HasPrefix(path, enterprisePrefix) {
		ext, _ := res[SchemaEnterpriseUser].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			res[SchemaEnterpriseUser] = ext
		}
		obj, path = ext, strings.TrimPrefix(path, enterprisePrefix)
	}
	if parent, sub, ok := strings.Cut(path, "."); ok {
		child, _ := obj[parent].(map[string]any)
		if child == nil {
			child = map[string]any{}
			obj[parent] = child
		}
		obj, path = child, sub
	}
	if op.Op == "remove" {
		delete(obj, path)
		return
	}
	// Round-trip typed values so the map holds plain JSON values.
	b, _ := json.Marshal(op.Value)
	var v any
	_ = json.Unmarshal(b, &v)
	obj[path] = v
}

// DeleteUser deletes a user; an already deleted user is not an error.
func (t *Target) DeleteUser(ctx context.Context, targetID string) error {
	return t.c.DeleteUser(ctx, targetID)
}

// CreateGroup creates a group without members and returns its target id.
func (t *Target) CreateGroup(ctx context.Context, displayName, externalID string) (string, error) {
	g, err := t.c.CreateGroup(ctx, &Group{DisplayName: displayName, ExternalID: externalID})
	if err != nil {
		return "", err
	}
	return g.ID, nil
}

// AddMembers adds users to a group, leaving other members alone. Users already in the group are
// skipped (some targets, SCIMMY among them, would list them twice); nothing is written when all are.
func (t *Target) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	g, err := t.c.GetGroup(ctx, groupID)
	if err != nil {
		return err
	}
	var add []Member
	for _, id := range userIDs {
		if !hasMember(g, id) && !slices.ContainsFunc(add, func(m Member) bool { return m.Value == id }) {
			add = append(add, Member{Value: id})
		}
	}
	if len(add) == 0 {
		return nil
	}
	return t.c.PatchGroup(ctx, groupID, []PatchOp{{Op: "add", Path: "members", Value: add}})
}

// RemoveMembers removes users from a group with one `members[value eq "id"]` remove operation per
// user (RFC 7644 §3.5.2.2), leaving other members alone. Users not in the group are skipped.
func (t *Target) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	g, err := t.c.GetGroup(ctx, groupID)
	if err != nil {
		return err
	}
	var ops []PatchOp
	for _, id := range userIDs {
		op := PatchOp{Op: "remove", Path: "members[value eq " + Quote(id) + "]"}
		if hasMember(g, id) && !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	return t.c.PatchGroup(ctx, groupID, ops)
}

func hasMember(g *Group, id string) bool {
	return slices.ContainsFunc(g.Members, func(m Member) bool { return m.Value == id })
}
