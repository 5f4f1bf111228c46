// Package memory is an in-process user store implementing target.Target, for engine tests,
// benchmarks and the local demo. It behaves like a strict SCIM service provider: userNames are
// unique (case-insensitive), group displayNames are unique, members must exist. It counts calls
// per method and can be told to fail calls.
package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Method names, as counted by Calls and accepted by FailNext.
const (
	MethodListUsers     = "ListUsers"
	MethodListGroups    = "ListGroups"
	MethodCreateUser    = "CreateUser"
	MethodUpdateUser    = "UpdateUser"
	MethodDeleteUser    = "DeleteUser"
	MethodCreateGroup   = "CreateGroup"
	MethodAdoptGroup    = "AdoptGroup"
	MethodAddMembers    = "AddMembers"
	MethodRemoveMembers = "RemoveMembers"
)

var writeMethods = []string{
	MethodCreateUser, MethodUpdateUser, MethodDeleteUser, MethodCreateGroup, MethodAdoptGroup, MethodAddMembers, MethodRemoveMembers,
}

// Errors returned by the target, wrapped with details; test them with errors.Is.
var (
	// ErrConflict is the 409 of SCIM: the userName or group displayName is taken.
	ErrConflict = errors.New("conflict (409)")
	// ErrNotFound is the 404 of SCIM: no user or group with that id.
	ErrNotFound = errors.New("not found (404)")
	// ErrInvalid is the 400 of SCIM: unknown field, empty userName, unknown member.
	ErrInvalid = errors.New("invalid request (400)")
	// ErrInjected is what FailNext injects when given a nil error.
	ErrInjected = errors.New("injected failure")
)

type group struct {
	displayName string
	externalID  string
	members     map[string]struct{} // user ids
}

// Target is the in-memory store. The zero value is not usable; call New.
type Target struct {
	mu        sync.Mutex
	users     map[string]*stored  // id → user
	byExt     map[string]string   // externalId → id of one holder
	extCount  map[string]int      // externalId → number of holders (Seed may create duplicates)
	nameCount map[string]int      // lower-case userName → number of holders
	groups    map[string]*group   // id → group
	groupName map[string]int      // lower-case displayName → number of groups
	memberOf  map[string][]string // user id → ids of the groups listing it (a few each)
	// order holds every user id in ascending order once sorted is true; ids of deleted users are
	// dropped by the next listing. Listing a million users sorts strings once, not whole users.
	order     []string
	sorted    bool
	nextID    int
	calls     map[string]int
	faults    map[string]fault
	normalize func(*model.User)
}

// SetNormalizer makes the target rewrite every user it stores with f, as real servers rewrite
// values they store (lower-cased emails, reformatted phone numbers); nil turns it off.
func (t *Target) SetNormalizer(f func(*model.User)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.normalize = f
}

type fault struct {
	n   int
	err error
}

// New returns an empty target.
func New() *Target {
	return &Target{
		users: map[string]*stored{}, byExt: map[string]string{}, extCount: map[string]int{},
		nameCount: map[string]int{}, groups: map[string]*group{}, groupName: map[string]int{},
		memberOf: map[string][]string{}, calls: map[string]int{}, faults: map[string]fault{}, sorted: true,
	}
}

// Calls returns the number of calls per method since New or ResetCalls, failed calls included.
func (t *Target) Calls() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.calls)
}

// WriteCalls returns the number of calls of the methods that change the target, failed ones included.
func (t *Target) WriteCalls() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range writeMethods {
		n += t.calls[m]
	}
	return n
}

// ResetCalls zeroes the call counters.
func (t *Target) ResetCalls() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.calls)
}

// FailNext makes the next n calls of method fail with err (ErrInjected when nil) without any
// effect. n <= 0 cancels a pending injection.
func (t *Target) FailNext(method string, n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n <= 0 {
		delete(t.faults, method)
		return
	}
	if err == nil {
		err = ErrInjected
	}
	t.faults[method] = fault{n: n, err: err}
}

// enter counts a call and returns the error it must fail with, if any. t.mu must be held.
func (t *Target) enter(ctx context.Context, method string) error {
	t.calls[method]++
	if err := ctx.Err(); err != nil {
		return err
	}
	if f, ok := t.faults[method]; ok {
		if f.n--; f.n <= 0 {
			delete(t.faults, method)
		} else {
			t.faults[method] = f
		}
		return fmt.Errorf("%s: %w", method, f.err)
	}
	return nil
}

func (t *Target) newID(prefix string) string {
	for {
		t.nextID++
		id := fmt.Sprintf("%s%07d", prefix, t.nextID)
		if _, ok := t.users[id]; ok {
			continue
		}
		if _, ok := t.groups[id]; ok {
			continue
		}
		return id
	}
}

// Seed adds users and groups as they are, without the checks of CreateUser and CreateGroup, so
// that tests can also build inconsistent targets (shared userNames or externalIds). Users and
// groups without TargetID get one. Group members must be ids of existing or seeded users. It
// panics on a TargetID already in use or an unknown member: that is a bug in the test.
func (t *Target) Seed(users []model.User, groups []model.Group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range users {
		if u.TargetID == "" {
			u.TargetID = t.newID("u")
		} else if t.idInUse(u.TargetID) {
			panic(fmt.Sprintf("memory.Seed: id %q already in use", u.TargetID))
		}
		t.insertUser(u)
	}
	for _, g := range groups {
		id := g.TargetID
		if id == "" {
			id = t.newID("g")
		} else if t.idInUse(id) {
			panic(fmt.Sprintf("memory.Seed: id %q already in use", id))
		}
		ng := &group{displayName: g.DisplayName, externalID: g.ExternalID, members: map[string]struct{}{}}
		for _, m := range g.Members {
			if _, ok := t.users[m]; !ok {
				panic(fmt.Sprintf("memory.Seed: group %q lists unknown member %q", g.DisplayName, m))
			}
			t.addMember(ng, id, m)
		}
		t.groups[id] = ng
		t.groupName[strings.ToLower(g.DisplayName)]++
	}
}

func (t *Target) idInUse(id string) bool {
	_, u := t.users[id]
	_, g := t.groups[id]
	return u || g
}

func (t *Target) insertUser(u model.User) {
	u.Groups = nil
	u.Attributes = maps.Clone(u.Attributes)
	if t.normalize != nil {
		t.normalize(&u)
	}
	t.users[u.TargetID] = store(&u)
	if n := len(t.order); n > 0 && t.order[n-1] >= u.TargetID {
		t.sorted = false
	}
	t.order = append(t.order, u.TargetID)
	if u.ExternalID != "" {
		if t.extCount[u.ExternalID] == 0 {
			t.byExt[u.ExternalID] = u.TargetID
		}
		t.extCount[u.ExternalID]++
	}
	t.nameCount[strings.ToLower(u.UserName)]++
}

// addMember adds a user to group g (id groupID) and the group to the user's memberOf.
func (t *Target) addMember(g *group, groupID, userID string) {
	if _, ok := g.members[userID]; ok {
		return
	}
	g.members[userID] = struct{}{}
	t.memberOf[userID] = append(t.memberOf[userID], groupID)
}

// stored is a user as the target keeps it: its string fields packed into one string (ends[i] is
// where field i ends), so that a million stored users cost one small struct and one string each.
type stored struct {
	data   string
	ends   [13]uint32
	active bool
	attrs  map[string]model.Value
}

// stringFields lists the string fields of u that stored packs, TargetID included.
func stringFields(u *model.User) [13]*string {
	return [...]*string{&u.ExternalID, &u.UserName, &u.DisplayName, &u.GivenName, &u.FamilyName, &u.Email,
		&u.PhoneNumber, &u.Title, &u.Department, &u.EmployeeNumber, &u.Manager, &u.Role, &u.TargetID}
}

// store packs u (its Groups are not kept; its Attributes map is kept as it is).
func store(u *model.User) *stored {
	s := &stored{active: u.Active, attrs: u.Attributes}
	fields := stringFields(u)
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for i, f := range fields {
		b.WriteString(*f)
		s.ends[i] = uint32(b.Len())
	}
	s.data = b.String()
	return s
}

// user unpacks the stored user; its strings share the stored data, its Attributes the stored map.
func (s *stored) user() model.User {
	u := model.User{Active: s.active, Attributes: s.attrs}
	start := uint32(0)
	for i, f := range stringFields(&u) {
		*f = s.data[start:s.ends[i]]
		start = s.ends[i]
	}
	return u
}

// Users returns a snapshot of every user, as ListUsers does, without counting a call.
func (t *Target) Users() []model.User {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listUsers()
}

// Groups returns a snapshot of every group, as ListGroups does, without counting a call.
func (t *Target) Groups() []model.Group {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listGroups()
}

// ListUsers returns every user sorted by TargetID, with Groups holding the sorted display names of
// the groups listing the user.
func (t *Target) ListUsers(ctx context.Context) ([]model.User, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodListUsers); err != nil {
		return nil, err
	}
	return t.listUsers(), nil
}

func (t *Target) listUsers() []model.User {
	if !t.sorted {
		slices.Sort(t.order)
		t.order = slices.Compact(t.order) // an id deleted and then seeded again
		t.sorted = true
	}
	out := make([]model.User, 0, len(t.users))
	live := t.order[:0]
	for _, id := range t.order {
		su, ok := t.users[id]
		if !ok {
			continue // deleted
		}
		live = append(live, id)
		c := su.user()
		c.Attributes = maps.Clone(su.attrs)
		if gs := t.memberOf[id]; len(gs) > 0 {
			c.Groups = make([]string, len(gs))
			for i, gid := range gs {
				c.Groups[i] = t.groups[gid].displayName
			}
			slices.Sort(c.Groups)
		}
		out = append(out, c)
	}
	clear(t.order[len(live):])
	t.order = live
	return out
}

// ListGroups returns every group sorted by TargetID, with sorted member ids.
func (t *Target) ListGroups(ctx context.Context) ([]model.Group, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodListGroups); err != nil {
		return nil, err
	}
	return t.listGroups(), nil
}

func (t *Target) listGroups() []model.Group {
	out := make([]model.Group, 0, len(t.groups))
	for id, g := range t.groups {
		members := slices.Sorted(maps.Keys(g.members))
		out = append(out, model.Group{TargetID: id, DisplayName: g.displayName, ExternalID: g.externalID, Members: members})
	}
	slices.SortFunc(out, func(a, b model.Group) int { return strings.Compare(a.TargetID, b.TargetID) })
	return out
}

// CreateUser stores u (its TargetID and Groups are ignored) and returns the new id. A user with
// the same non-empty ExternalID makes it return that user's id without any change; a userName
// already held (case-insensitive) is an ErrConflict.
func (t *Target) CreateUser(ctx context.Context, u model.User) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodCreateUser); err != nil {
		return "", err
	}
	if u.ExternalID != "" {
		if id, ok := t.byExt[u.ExternalID]; ok {
			return id, nil
		}
	}
	if u.UserName == "" {
		return "", fmt.Errorf("create user: empty userName: %w", ErrInvalid)
	}
	if t.nameCount[strings.ToLower(u.UserName)] > 0 {
		return "", fmt.Errorf("create user: userName %q is taken: %w", u.UserName, ErrConflict)
	}
	u.TargetID = t.newID("u")
	t.insertUser(u)
	return u.TargetID, nil
}

// UpdateUser sets the named fields (model.StringFields, model.FieldActive and attribute paths) of
// the user from u; an empty attribute value removes the attribute.
// A rename onto a userName another user holds is an ErrConflict; nothing is changed on error.
func (t *Target) UpdateUser(ctx context.Context, targetID string, u model.User, fields []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodUpdateUser); err != nil {
		return err
	}
	su, ok := t.users[targetID]
	if !ok {
		return fmt.Errorf("update user %s: %w", targetID, ErrNotFound)
	}
	cur := su.user()
	next := cur
	next.Attributes = maps.Clone(cur.Attributes)
	for _, f := range fields {
		switch {
		case f == model.FieldActive:
			next.Active = u.Active
		case f == model.FieldExternalID:
			next.ExternalID = u.ExternalID
		case next.Set(f, u.Get(f)):
		case !model.IsField(f) && validPath(f):
			if v := u.Attr(f); v.IsEmpty() {
				delete(next.Attributes, f)
			} else {
				next.SetAttr(f, v)
			}
		default:
			return fmt.Errorf("update user %s: unknown field %q: %w", targetID, f, ErrInvalid)
		}
	}
	oldName, newName := strings.ToLower(cur.UserName), strings.ToLower(next.UserName)
	if newName != oldName {
		if next.UserName == "" {
			return fmt.Errorf("update user %s: empty userName: %w", targetID, ErrInvalid)
		}
		if t.nameCount[newName] > 0 {
			return fmt.Errorf("update user %s: userName %q is taken: %w", targetID, next.UserName, ErrConflict)
		}
		t.nameCount[newName]++
		t.decName(oldName)
	}
	if next.ExternalID != cur.ExternalID {
		t.dropExt(cur.ExternalID, targetID)
		if next.ExternalID != "" {
			if t.extCount[next.ExternalID] == 0 {
				t.byExt[next.ExternalID] = targetID
			}
			t.extCount[next.ExternalID]++
		}
	}
	if t.normalize != nil {
		t.normalize(&next)
	}
	t.users[targetID] = store(&next)
	return nil
}

func validPath(f string) bool {
	_, _, err := model.ResolveTarget(f)
	return err == nil
}

func (t *Target) decName(lower string) {
	if t.nameCount[lower]--; t.nameCount[lower] <= 0 {
		delete(t.nameCount, lower)
	}
}

// DeleteUser removes the user and its memberships; a missing user is not an error.
func (t *Target) DeleteUser(ctx context.Context, targetID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodDeleteUser); err != nil {
		return err
	}
	su, ok := t.users[targetID]
	if !ok {
		return nil
	}
	u := su.user()
	delete(t.users, targetID)
	t.decName(strings.ToLower(u.UserName))
	t.dropExt(u.ExternalID, targetID)
	for _, gid := range t.memberOf[targetID] {
		delete(t.groups[gid].members, targetID)
	}
	delete(t.memberOf, targetID)
	return nil
}

// dropExt forgets that targetID holds the externalId ext.
func (t *Target) dropExt(ext, targetID string) {
	if ext == "" {
		return
	}
	if t.extCount[ext]--; t.extCount[ext] <= 0 {
		delete(t.extCount, ext)
		delete(t.byExt, ext)
	} else if t.byExt[ext] == targetID {
		for id, other := range t.users { // another holder of a duplicated externalId (Seed only)
			if id != targetID && other.user().ExternalID == ext {
				t.byExt[ext] = id
				break
			}
		}
	}
}

// CreateGroup creates an empty group. A displayName already used (case-insensitive) is an
// ErrConflict, as with most SCIM providers.
func (t *Target) CreateGroup(ctx context.Context, displayName, externalID string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodCreateGroup); err != nil {
		return "", err
	}
	if displayName == "" {
		return "", fmt.Errorf("create group: empty displayName: %w", ErrInvalid)
	}
	lower := strings.ToLower(displayName)
	if t.groupName[lower] > 0 {
		return "", fmt.Errorf("create group: displayName %q is taken: %w", displayName, ErrConflict)
	}
	id := t.newID("g")
	t.groups[id] = &group{displayName: displayName, externalID: externalID, members: map[string]struct{}{}}
	t.groupName[lower]++
	return id, nil
}

// AdoptGroup gives a group without externalId the externalId externalID; a group that holds it
// already is left alone, one holding another is an ErrConflict, an unknown one ErrNotFound.
func (t *Target) AdoptGroup(ctx context.Context, groupID, externalID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodAdoptGroup); err != nil {
		return err
	}
	g, ok := t.groups[groupID]
	switch {
	case !ok:
		return fmt.Errorf("adopt group %s: %w", groupID, ErrNotFound)
	case g.externalID != "" && g.externalID != externalID:
		return fmt.Errorf("adopt group %s: it carries the externalId %q: %w", groupID, g.externalID, ErrConflict)
	}
	g.externalID = externalID
	return nil
}

// AddMembers adds users to a group; existing members are ignored. An unknown group is ErrNotFound,
// an unknown user ErrInvalid (and nothing is added).
func (t *Target) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodAddMembers); err != nil {
		return err
	}
	g, ok := t.groups[groupID]
	if !ok {
		return fmt.Errorf("add members to group %s: %w", groupID, ErrNotFound)
	}
	for _, id := range userIDs {
		if _, ok := t.users[id]; !ok {
			return fmt.Errorf("add members to group %s: unknown user %s: %w", groupID, id, ErrInvalid)
		}
	}
	for _, id := range userIDs {
		t.addMember(g, groupID, id)
	}
	return nil
}

// RemoveMembers removes users from a group; ids that are not members are ignored. An unknown group
// is ErrNotFound.
func (t *Target) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodRemoveMembers); err != nil {
		return err
	}
	g, ok := t.groups[groupID]
	if !ok {
		return fmt.Errorf("remove members from group %s: %w", groupID, ErrNotFound)
	}
	for _, id := range userIDs {
		if _, ok := g.members[id]; !ok {
			continue
		}
		delete(g.members, id)
		if s := slices.DeleteFunc(t.memberOf[id], func(gid string) bool { return gid == groupID }); len(s) > 0 {
			t.memberOf[id] = s
		} else {
			delete(t.memberOf, id)
		}
	}
	return nil
}
