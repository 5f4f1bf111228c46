// Package memory is an in-process user store implementing target.Target, for engine tests,
// benchmarks and the local demo. It behaves like a strict SCIM service provider: userNames are
// unique (case-insensitive), group displayNames are unique, members must exist. It counts calls
// per method and can be told to fail calls.
package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strconv"
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

// Target is the in-memory store. The zero value is not usable; call New.
//
// It keeps a million users compact and without pointers for the garbage collector to scan:
// pointer-free recs by integer handle whose strings are packed into shared chunks, hash indexes of
// handles (index) for the id, the externalId and the lower-cased userName, and memberships as
// group handles (two inline in the rec, more as linked int32 pairs).
type Target struct {
	mu   sync.Mutex
	seed maphash.Seed
	recs []rec // by handle
	// chunks hold the users' packed string fields; open is the Builder of the last one while it
	// has room. packed counts the bytes written into the chunks, garbage those of users deleted
	// or rewritten since.
	chunks          []string
	open            *strings.Builder
	packed, garbage int
	ids             index // TargetID → live user
	exts            index // externalId → live users holding it (Seed may create duplicates)
	// names: lower-cased userName → live users holding it (Seed may create duplicates)
	names index
	attrs map[int32]map[string]model.Value // handle → Attributes, for users that have them
	// order holds the handles of the users in ascending id order once sorted is true; deleted
	// users are dropped by the next listing. lastID is the id of its last handle.
	order    []int32
	lastID   string
	sorted   bool
	links    []link // memberships; links[0] is unused so that 0 means "none"
	freeLink int32
	extSeq   uint32
	groups   []group          // by group handle
	groupIDs map[string]int32 // id → group handle
	// groupName counts the groups per lower-cased displayName.
	groupName map[string]int
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
		seed: maphash.MakeSeed(), attrs: map[int32]map[string]model.Value{}, groupIDs: map[string]int32{},
		groupName: map[string]int{}, calls: map[string]int{}, faults: map[string]fault{}, sorted: true,
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
	var buf [24]byte
	for {
		t.nextID++
		b := strconv.AppendInt(append(buf[:0], prefix...), int64(t.nextID), 10)
		if pad := len(prefix) + 7 - len(b); pad > 0 { // %07d
			b = append(b[:len(prefix)], "0000000"[:pad]...)
			b = strconv.AppendInt(b, int64(t.nextID), 10)
		}
		if id := string(b); !t.idInUse(id) {
			return id
		}
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
		members := make([]int32, len(g.Members))
		for i, m := range g.Members {
			if members[i] = t.userByID(m); members[i] < 0 {
				panic(fmt.Sprintf("memory.Seed: group %q lists unknown member %q", g.DisplayName, m))
			}
		}
		gh := t.insertGroup(id, g.DisplayName, g.ExternalID)
		for _, h := range members {
			t.addMember(gh, h)
		}
	}
}

func (t *Target) idInUse(id string) bool {
	_, g := t.groupIDs[id]
	return g || t.userByID(id) >= 0
}

func (t *Target) insertGroup(id, displayName, externalID string) int32 {
	gh := int32(len(t.groups))
	t.groups = append(t.groups, group{id: id, displayName: displayName, externalID: externalID})
	t.groupIDs[id] = gh
	t.groupName[strings.ToLower(displayName)]++
	return gh
}

// insertUser stores u under u.TargetID, which must be free; its Groups are not kept.
func (t *Target) insertUser(u model.User) {
	id := u.TargetID
	u.Groups = nil
	u.Attributes = maps.Clone(u.Attributes)
	if t.normalize != nil {
		t.normalize(&u)
		u.TargetID = id
	}
	h := int32(len(t.recs))
	t.recs = append(t.recs, rec{})
	t.pack(&u, &t.recs[h])
	if u.Attributes != nil {
		t.attrs[h] = u.Attributes
	}
	t.ids.add(t.hash(t.field(h, fTargetID)), h)
	t.names.add(t.hash(lowerName(t.field(h, fUserName))), h)
	t.indexExt(h)
	if len(t.order) > 0 && t.lastID >= id {
		t.sorted = false
	}
	t.order = append(t.order, h)
	t.lastID = t.field(h, fTargetID)
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

func (t *Target) memberships() int {
	n := 0
	for i := range t.groups {
		n += t.groups[i].members
	}
	return n
}

func (t *Target) listUsers() []model.User {
	t.sortOrder()
	out := make([]model.User, len(t.order))
	// Every user's Groups is a capacity-limited window of one array of the groups' own names.
	names := make([]string, t.memberships())
	for i, h := range t.order {
		r := &t.recs[h]
		u := &out[i]
		r.unpack(t.data(r), u)
		if a, ok := t.attrs[h]; ok {
			u.Attributes = maps.Clone(a)
		}
		n := 0
		for _, in := range r.inGroups {
			if in != 0 {
				names[n] = t.groups[in-1].displayName
				n++
			}
		}
		for l := r.memberOf; l != 0; l = t.links[l].next {
			names[n] = t.groups[t.links[l].group].displayName
			n++
		}
		if n == 0 {
			continue
		}
		gs := names[:n:n]
		names = names[n:]
		if n == 2 {
			if gs[1] < gs[0] {
				gs[0], gs[1] = gs[1], gs[0]
			}
		} else if n > 2 {
			slices.Sort(gs)
		}
		u.Groups = gs
	}
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
	out := make([]model.Group, len(t.groups))
	// Members are filled by walking the users in id order, so each group's come out sorted; all
	// of them are capacity-limited windows of one array.
	ids := make([]string, t.memberships())
	fill := make([]int, len(t.groups))
	next := 0
	for gh := range t.groups {
		g := &t.groups[gh]
		out[gh] = model.Group{TargetID: g.id, DisplayName: g.displayName, ExternalID: g.externalID}
		if g.members > 0 {
			out[gh].Members = ids[next : next+g.members : next+g.members]
		}
		next += g.members
	}
	if len(ids) > 0 {
		t.sortOrder()
		var gs []int32
		for _, h := range t.order {
			gs = t.appendGroups(gs[:0], h)
			if len(gs) == 0 {
				continue
			}
			id := t.field(h, fTargetID)
			for _, g := range gs {
				out[g].Members[fill[g]] = id
				fill[g]++
			}
		}
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
		if h := t.extHolder(u.ExternalID); h >= 0 {
			return t.field(h, fTargetID), nil
		}
	}
	if u.UserName == "" {
		return "", fmt.Errorf("create user: empty userName: %w", ErrInvalid)
	}
	if t.nameTaken(lowerName(u.UserName)) {
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
	h := t.userByID(targetID)
	if h < 0 {
		return fmt.Errorf("update user %s: %w", targetID, ErrNotFound)
	}
	cur := t.recs[h].user(t.data(&t.recs[h]))
	cur.Attributes = t.attrs[h]
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
	oldName, newName := lowerName(cur.UserName), lowerName(next.UserName)
	if newName != oldName {
		if next.UserName == "" {
			return fmt.Errorf("update user %s: empty userName: %w", targetID, ErrInvalid)
		}
		if t.nameTaken(newName) {
			return fmt.Errorf("update user %s: userName %q is taken: %w", targetID, next.UserName, ErrConflict)
		}
	}
	if t.normalize != nil {
		t.normalize(&next)
		next.TargetID = cur.TargetID
	}
	// Re-index what changed from what is stored, so the indexes always match the stored fields.
	nameChanged := lowerName(next.UserName) != oldName
	extChanged := next.ExternalID != cur.ExternalID
	if nameChanged {
		t.names.remove(t.hash(oldName), h)
	}
	if extChanged {
		t.unindexExt(h)
	}
	t.pack(&next, &t.recs[h])
	if nameChanged {
		t.names.add(t.hash(lowerName(next.UserName)), h)
	}
	if extChanged {
		t.indexExt(h)
	}
	if next.Attributes != nil {
		t.attrs[h] = next.Attributes
	} else {
		delete(t.attrs, h)
	}
	t.compactIfWasteful()
	return nil
}

func validPath(f string) bool {
	_, _, err := model.ResolveTarget(f)
	return err == nil
}

// DeleteUser removes the user and its memberships; a missing user is not an error.
func (t *Target) DeleteUser(ctx context.Context, targetID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(ctx, MethodDeleteUser); err != nil {
		return err
	}
	h := t.userByID(targetID)
	if h < 0 {
		return nil
	}
	r := &t.recs[h]
	for _, g := range t.appendGroups(nil, h) {
		t.removeMember(g, h)
	}
	t.ids.remove(t.hash(targetID), h)
	t.names.remove(t.hash(lowerName(t.field(h, fUserName))), h)
	t.unindexExt(h)
	delete(t.attrs, h)
	t.drop(r) // dead: its handle stays in order until the next listing drops it
	t.compactIfWasteful()
	return nil
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
	if t.groupName[strings.ToLower(displayName)] > 0 {
		return "", fmt.Errorf("create group: displayName %q is taken: %w", displayName, ErrConflict)
	}
	id := t.newID("g")
	t.insertGroup(id, displayName, externalID)
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
	gh, ok := t.groupIDs[groupID]
	if !ok {
		return fmt.Errorf("adopt group %s: %w", groupID, ErrNotFound)
	}
	g := &t.groups[gh]
	if g.externalID != "" && g.externalID != externalID {
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
	gh, ok := t.groupIDs[groupID]
	if !ok {
		return fmt.Errorf("add members to group %s: %w", groupID, ErrNotFound)
	}
	handles := make([]int32, len(userIDs))
	for i, id := range userIDs {
		if handles[i] = t.userByID(id); handles[i] < 0 {
			return fmt.Errorf("add members to group %s: unknown user %s: %w", groupID, id, ErrInvalid)
		}
	}
	for _, h := range handles {
		t.addMember(gh, h)
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
	gh, ok := t.groupIDs[groupID]
	if !ok {
		return fmt.Errorf("remove members from group %s: %w", groupID, ErrNotFound)
	}
	for _, id := range userIDs {
		if h := t.userByID(id); h >= 0 {
			t.removeMember(gh, h)
		}
	}
	return nil
}
