package scim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/target"
)

const enterprisePrefix = SchemaEnterpriseUser + ":"

// DefaultAnonymizedEmail is the placeholder email of an anonymized user on targets that require
// one: "{hash}" stands for a hash of the externalId; the domain is reserved (RFC 2606), so no mail
// can ever reach anyone.
const DefaultAnonymizedEmail = "anon-{hash}@invalid.example"

// TargetOptions configure a Target.
type TargetOptions struct {
	// AnonymizedEmail is the email an anonymized user keeps on a target that requires one, with
	// "{hash}" replaced by a hash of its externalId; DefaultAnonymizedEmail when empty. Targets
	// that do not require an email get none.
	AnonymizedEmail string
	// AlwaysAnonymizedEmail writes the placeholder even where the target does not require an email.
	AlwaysAnonymizedEmail bool
}

// Target adapts a Client to the model's vocabulary; it is what the sync engine calls. A Target
// lives for one run: it learns the target's users and groups from the run's listing and never asks
// again for what the listing showed (no GET before a create). It is safe for concurrent use.
type Target struct {
	c    *Client
	opts TargetOptions

	mu     sync.Mutex
	listed bool              // ListUsers ran: ids holds every user with an externalId
	ids    map[string]string // externalId -> target id, from listings and writes
	// taken maps lower-cased userNames and email values to the externalId of their account ("" when
	// unmanaged), to name the attribute of a 409.
	takenUserName, takenEmail map[string]string
	// groupsCache is the group listing ListUsers made, handed once to ListGroups.
	groupsCache  []Group
	groupsCached bool                       // groupsCache holds a listing not yet handed out (it may be empty)
	groupsKnown  bool                       // a group listing was made: groupByExt is complete
	groupByExt   map[string]string          // externalId -> group id
	members      map[string]map[string]bool // group id -> member ids, as listed and written
	duplicates   []model.Problem            // owned groups listed more than once
	relistMu     sync.Mutex                 // one fresh listing at a time
	relists      int                        // fresh listings made after ambiguous failures

	// Managed attribute paths beyond the named fields (UseFields), and the typed entries
	// (emails[type eq "work"]) listed users lack: an update adds those and replaces the others in place.
	paths     []attrPath
	trackWork bool                // the email or phoneNumber alias is managed
	missing   map[string][]string // target id → entryKeys of managed typed entries it lacks
}

var (
	workEmailPath = attrPath{name: model.FieldEmail, path: mustPath(model.Aliases[model.FieldEmail])}
	workPhonePath = attrPath{name: model.FieldPhoneNumber, path: mustPath(model.Aliases[model.FieldPhoneNumber])}
)

func mustPath(s string) model.Path {
	p, err := model.ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// UseFields tells the target the managed fields (plan.Policy.ManagedFields): attribute paths
// among them are read by ListUsers and written by CreateUser and UpdateUser. Invalid paths are
// ignored (the mapping compiler reports them).
func (t *Target) UseFields(fields []string) {
	var paths []string
	trackWork := false
	for _, f := range fields {
		switch {
		case f == model.FieldEmail || f == model.FieldPhoneNumber:
			trackWork = true
		case !model.IsField(f):
			if _, _, err := model.ResolveTarget(f); err == nil {
				paths = append(paths, f)
			}
		}
	}
	aps, _ := parseAttrPaths(paths)
	t.mu.Lock()
	t.paths, t.trackWork = aps, trackWork
	t.mu.Unlock()
}

// rawUser is a listed user decoded twice: typed, and as a map for attribute paths.
type rawUser struct {
	User
	raw map[string]any
}

func (r *rawUser) UnmarshalJSON(b []byte) error {
	if err := decodeList(b, &r.User); err != nil {
		return err
	}
	return decodeList(b, &r.raw)
}

// NewTarget wraps c.
func NewTarget(c *Client) *Target { return NewTargetWith(c, TargetOptions{}) }

// NewTargetWith wraps c with options.
func NewTargetWith(c *Client, opts TargetOptions) *Target {
	if opts.AnonymizedEmail == "" {
		opts.AnonymizedEmail = DefaultAnonymizedEmail
	}
	return &Target{
		c: c, opts: opts, ids: map[string]string{}, takenUserName: map[string]string{}, takenEmail: map[string]string{},
		groupByExt: map[string]string{}, members: map[string]map[string]bool{},
	}
}

// Client returns the wrapped client.
func (t *Target) Client() *Client { return t.c }

// Capabilities discovers what the target can do (once per Target's client).
func (t *Target) Capabilities(ctx context.Context) (*Capabilities, error) { return t.c.Discover(ctx) }

// ListUsers returns every user of the target, unmanaged ones included, with TargetID set, Groups
// holding the display names of the groups listing the user as a member, and Manager translated to
// the manager's externalId when the manager is a known user with one. The groups listed alongside
// are kept for the next ListGroups, so that a run lists /Groups once.
func (t *Target) ListUsers(ctx context.Context) ([]model.User, error) {
	if _, err := t.c.Discover(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	paths, trackWork := t.paths, t.trackWork
	t.mu.Unlock()
	var (
		users  []User
		raws   []rawUser
		groups []Group
		gErr   error
		uErr   error
		wg     sync.WaitGroup
	)
	wg.Go(func() { groups, gErr = t.c.ListGroups(ctx, "") })
	if len(paths) > 0 {
		// Attribute paths need the resources as maps too.
		raws, uErr = listAll[rawUser](ctx, t.c, "/Users", "")
		users = make([]User, len(raws))
		for i := range raws {
			users[i] = raws[i].User
		}
	} else {
		users, uErr = t.c.ListUsers(ctx, "")
	}
	wg.Wait()
	if err := errors.Join(uErr, gErr); err != nil {
		return nil, err
	}
	t.learnUsers(users, true)
	t.learnGroups(groups)
	t.mu.Lock()
	t.groupsCache, t.groupsCached = groups, true
	t.mu.Unlock()

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
	t.missing = map[string][]string{}
	for i, u := range users {
		mu := toModel(&u)
		if u.Enterprise != nil && u.Enterprise.Manager != nil {
			mu.Manager = extByID[u.Enterprise.Manager.Value]
		}
		mu.Groups = groupsByMember[u.ID]
		slices.Sort(mu.Groups)
		if trackWork {
			if !hasType(u.Emails, "work") {
				t.missing[u.ID] = append(t.missing[u.ID], entryKey(workEmailPath.path))
			}
			if !hasType(u.PhoneNumbers, "work") {
				t.missing[u.ID] = append(t.missing[u.ID], entryKey(workPhonePath.path))
			}
		}
		if len(paths) > 0 {
			t.readAttributes(&mu, raws[i].raw, paths)
		}
		out = append(out, mu)
	}
	t.mu.Unlock()
	return out, nil
}

// readAttributes sets mu.Attributes from a decoded resource and notes missing typed entries;
// t.mu is held.
func (t *Target) readAttributes(mu *model.User, raw map[string]any, paths []attrPath) {
	for _, ap := range paths {
		v, present := readPath(raw, ap)
		if ap.path.Filtered && !present {
			k := entryKey(ap.path)
			if !slices.Contains(t.missing[mu.TargetID], k) {
				t.missing[mu.TargetID] = append(t.missing[mu.TargetID], k)
			}
		}
		if !v.IsEmpty() {
			mu.SetAttr(ap.name, v)
		}
	}
}

func hasType(values []MultiValued, typ string) bool {
	return slices.ContainsFunc(values, func(v MultiValued) bool { return strings.EqualFold(v.Type, typ) })
}

// typedValue returns the value of the first entry of type typ, else the primary or first one
// (for servers that drop types).
func typedValue(values []MultiValued, typ string) string {
	for _, v := range values {
		if strings.EqualFold(v.Type, typ) {
			return v.Value
		}
	}
	return PrimaryValue(values, "")
}

// learnUsers records a listing; complete says it was a full one.
func (t *Target) learnUsers(users []User, complete bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if complete {
		t.listed = true
		clear(t.takenUserName)
		clear(t.takenEmail)
	}
	for _, u := range users {
		if u.ExternalID != "" {
			t.ids[u.ExternalID] = u.ID
		}
		t.takenUserName[strings.ToLower(u.UserName)] = u.ExternalID
		for _, e := range u.Emails {
			t.takenEmail[strings.ToLower(e.Value)] = u.ExternalID
		}
	}
}

// learnGroups records a full group listing and finds owned groups listed twice.
func (t *Target) learnGroups(groups []Group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.groupsKnown = true
	clear(t.groupByExt)
	t.duplicates = nil
	ids := map[string][]string{}
	for _, g := range groups {
		set := make(map[string]bool, len(g.Members))
		for _, m := range g.Members {
			set[m.Value] = true
		}
		t.members[g.ID] = set
		if g.ExternalID == "" {
			continue
		}
		ids[g.ExternalID] = append(ids[g.ExternalID], g.ID)
		if _, ok := t.groupByExt[g.ExternalID]; !ok {
			t.groupByExt[g.ExternalID] = g.ID
		}
	}
	exts := make([]string, 0, len(ids))
	for ext, list := range ids {
		if len(list) > 1 {
			exts = append(exts, ext)
		}
	}
	sort.Strings(exts)
	for _, ext := range exts {
		t.duplicates = append(t.duplicates, model.Problem{
			Subject: "group " + ext, Reason: model.ReasonDuplicate,
			Message: fmt.Sprintf("the target lists %d groups with this externalId (ids %s); the operator uses %s — delete the others in the application",
				len(ids[ext]), strings.Join(ids[ext], ", "), ids[ext][0]),
		})
	}
}

// ListProblems returns what the last listing showed that needs a person: owned groups that exist
// more than once.
func (t *Target) ListProblems() []model.Problem {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.duplicates)
}

// ListGroups returns every group of the target with its members' target ids. Right after ListUsers
// it answers from that listing instead of listing /Groups a second time.
func (t *Target) ListGroups(ctx context.Context) ([]model.Group, error) {
	t.mu.Lock()
	groups, cached := t.groupsCache, t.groupsCached
	t.groupsCache, t.groupsCached = nil, false
	t.mu.Unlock()
	if !cached {
		var err error
		if groups, err = t.c.ListGroups(ctx, ""); err != nil {
			return nil, err
		}
		t.learnGroups(groups)
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

// FindByExternalID returns the user whose externalId is exactly externalID, or nil. It asks the
// target's filter where the target supports filtering, and lists every user where it does not (or
// where the filter failed on an escaped literal, which SCIMMY does not parse). Results are checked
// client-side.
func (t *Target) FindByExternalID(ctx context.Context, externalID string) (*User, error) {
	caps, err := t.c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	var users []User
	if caps.FilterSupported {
		users, err = t.c.ListUsers(ctx, Eq("externalId", externalID))
		if err != nil && statusOf(err) != http.StatusBadRequest {
			return nil, err
		}
		t.learnUsers(users, false)
	}
	u := exactExternalID(users, externalID)
	if u == nil && (!caps.FilterSupported || err != nil || needsEscaping(externalID)) {
		all, err := t.relist(ctx)
		if err != nil {
			return nil, err
		}
		u = exactExternalID(all, externalID)
	}
	return u, nil
}

// relist makes a fresh full user listing, e.g. after a write whose outcome is unknown.
func (t *Target) relist(ctx context.Context) ([]User, error) {
	t.relistMu.Lock()
	defer t.relistMu.Unlock()
	all, err := t.c.ListUsers(ctx, "")
	if err != nil {
		return nil, err
	}
	t.learnUsers(all, true)
	t.mu.Lock()
	t.relists++
	t.mu.Unlock()
	return all, nil
}

func exactExternalID(users []User, externalID string) *User {
	for i := range users {
		if users[i].ExternalID == externalID {
			return &users[i]
		}
	}
	return nil
}

// knownID returns the id of the user with that externalId, from the run's listing and writes;
// known says the answer is authoritative (the listing ran), so that no request is needed.
func (t *Target) knownID(externalID string) (id string, known bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.ids[externalID]
	return id, ok || t.listed
}

// ambiguous reports whether a failed write may nevertheless have been applied: the request may
// have reached the target (a timeout, a dropped connection, a 5xx).
func ambiguous(err error) bool {
	var se *Error
	if errors.As(err, &se) {
		return se.Status >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "EOF")
}

// CreateUser creates u and returns its target id. A user with u's externalId that the run's listing
// (or an earlier write) showed is not created again; there is no request before the POST. After a
// write with an unknown outcome, or a 409 (a retried POST that had succeeded), a fresh lookup finds
// the user if it was created. A 409 for someone else's account is a *target.ConflictError naming
// the attribute. A manager not in the target yet is left out; a later UpdateUser of FieldManager
// sets it.
func (t *Target) CreateUser(ctx context.Context, u model.User) (string, error) {
	if u.ExternalID != "" {
		id, known := t.knownID(u.ExternalID)
		if id != "" {
			return id, nil
		}
		if !known {
			// Used without a listing (not by the syncer): ask the target.
			existing, err := t.FindByExternalID(ctx, u.ExternalID)
			if err != nil {
				return "", err
			}
			if existing != nil {
				return existing.ID, nil
			}
		}
	}
	su := fromModel(u)
	if len(u.Attributes) > 0 {
		t.mu.Lock()
		paths := t.paths
		t.mu.Unlock()
		su.Extra = map[string]any{}
		for _, ap := range paths {
			if v := u.Attr(ap.name); !v.IsEmpty() {
				setPath(su.Extra, ap.path, jsonValue(ap, v))
			}
		}
	}
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
	if err != nil {
		if u.ExternalID == "" || ctx.Err() != nil || !(IsConflict(err) || ambiguous(err)) {
			return "", err
		}
		existing, ferr := t.FindByExternalID(ctx, u.ExternalID)
		if ferr != nil {
			return "", errors.Join(err, ferr)
		}
		if existing != nil {
			t.remember(u.ExternalID, existing.ID)
			return existing.ID, nil
		}
		if IsConflict(err) {
			return "", &target.ConflictError{Attribute: t.conflictAttribute(u, err), Err: err}
		}
		return "", err
	}
	t.remember(u.ExternalID, created.ID)
	t.mu.Lock()
	t.takenUserName[strings.ToLower(u.UserName)] = u.ExternalID
	if u.Email != "" {
		t.takenEmail[strings.ToLower(u.Email)] = u.ExternalID
	}
	t.mu.Unlock()
	return created.ID, nil
}

func (t *Target) remember(externalID, id string) {
	if externalID == "" {
		return
	}
	t.mu.Lock()
	t.ids[externalID] = id
	t.mu.Unlock()
}

// conflictAttribute names the unique attribute a 409 was about: the one the listing shows taken by
// another account, else the one the target's message names.
func (t *Target) conflictAttribute(u model.User, err error) string {
	t.mu.Lock()
	owner, nameTaken := t.takenUserName[strings.ToLower(u.UserName)]
	nameTaken = nameTaken && owner != u.ExternalID
	owner, mailTaken := t.takenEmail[strings.ToLower(u.Email)]
	mailTaken = mailTaken && u.Email != "" && owner != u.ExternalID
	t.mu.Unlock()
	switch {
	case nameTaken:
		return "userName"
	case mailTaken:
		return "emails"
	}
	var se *Error
	if errors.As(err, &se) {
		detail := strings.ToLower(se.Detail)
		for _, a := range []string{"userName", "emails", "email", "externalId", "displayName", "employeeNumber"} {
			if strings.Contains(detail, strings.ToLower(a)) {
				if a == "email" {
					a = "emails"
				}
				return a
			}
		}
	}
	return ""
}

// toModel converts the attributes that map one to one; Manager and Groups need context.
func toModel(u *User) model.User {
	m := model.User{
		TargetID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName, DisplayName: u.DisplayName,
		Title: u.Title, Active: u.IsActive(),
		Email:       typedValue(u.Emails, "work"),
		PhoneNumber: typedValue(u.PhoneNumbers, "work"),
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
	id, known := t.knownID(externalID)
	if id != "" {
		return id, nil
	}
	if !known {
		u, err := t.FindByExternalID(ctx, externalID)
		if err != nil {
			return "", err
		}
		if u != nil {
			t.remember(externalID, u.ID)
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("%w: externalId %q", ErrUnknownManager, externalID)
}

// UpdateUser changes only the named fields (model.Field* constants and attribute paths) of the
// target user to u's values; an empty value removes the attribute, and a typed entry
// (emails[type eq "work"]) is changed in place or added, leaving entries of other types alone.
// It uses PATCH when the target supports it, else reads the user, changes it and PUTs it back
// (attributes the client does not know are kept), with If-Match where the target supports ETags.
// A manager not in the target is left out and reported with a *target.PartialUpdateError after
// the rest is applied.
func (t *Target) UpdateUser(ctx context.Context, targetID string, u model.User, fields []string) error {
	return t.updateUser(ctx, targetID, u, fields, false)
}

// updateUser is UpdateUser; whole makes the email and phoneNumber aliases replace every entry
// (anonymization leaves no other address behind).
func (t *Target) updateUser(ctx context.Context, targetID string, u model.User, fields []string, whole bool) error {
	ops, skipped, err := t.patchOps(ctx, targetID, u, fields, whole)
	if err == nil && len(ops) > 0 {
		err = t.applyOps(ctx, targetID, ops)
	}
	if err == nil && skipped != nil {
		return &target.PartialUpdateError{Fields: []string{model.FieldManager}, Err: skipped}
	}
	return err
}

func (t *Target) applyOps(ctx context.Context, targetID string, ops []PatchOp) error {
	caps, err := t.c.Discover(ctx)
	if err != nil {
		return err
	}
	if caps.PatchSupported {
		return t.c.PatchUser(ctx, targetID, ops)
	}
	// Read-modify-write; a 412 means someone changed the user in between: read it again, once.
	for attempt := 0; ; attempt++ {
		err := t.replaceWith(ctx, targetID, caps.ETagSupported, func(raw map[string]any) {
			for _, op := range ops {
				applyOp(raw, op)
			}
		})
		if statusOf(err) != http.StatusPreconditionFailed || attempt > 0 {
			return err
		}
	}
}

// replaceWith GETs the user, lets change edit it, and PUTs it back, with If-Match when etag.
func (t *Target) replaceWith(ctx context.Context, targetID string, etag bool, change func(map[string]any)) error {
	var raw map[string]any
	path := "/Users/" + url.PathEscape(targetID)
	if err := t.c.do(ctx, http.MethodGet, path, nil, nil, &raw); err != nil {
		return err
	}
	var header http.Header
	if meta, ok := raw["meta"].(map[string]any); ok && etag {
		if v, ok := meta["version"].(string); ok && v != "" {
			header = http.Header{"If-Match": {v}}
		}
	}
	change(raw)
	delete(raw, "groups") // read-only
	delete(raw, "meta")
	schemas := []string{SchemaUser}
	for _, urn := range extensionSchemas(raw) {
		if !strings.EqualFold(urn, SchemaUser) {
			schemas = append(schemas, urn)
		}
	}
	raw["schemas"] = schemas
	return t.c.doWith(ctx, http.MethodPut, path, nil, header, raw, nil)
}

// AnonymizedEmail returns the placeholder email of the anonymized user with that externalId.
func (t *Target) AnonymizedEmail(externalID string) string {
	sum := sha256.Sum256([]byte(externalID))
	return strings.ReplaceAll(t.opts.AnonymizedEmail, "{hash}", hex.EncodeToString(sum[:8]))
}

// AnonymizationError says an anonymized user still holds personal data after the write: the
// target kept (or derived) the named attributes.
type AnonymizationError struct {
	Attributes []string
}

func (e *AnonymizationError) Error() string {
	return fmt.Sprintf("anonymized, but the target still holds personal data in %s; remove it in the application", strings.Join(e.Attributes, ", "))
}

// Anonymize overwrites the personal data of a user with anon (see plan.AnonymizedUser): fields
// are written as UpdateUser does, with a placeholder email where the target requires one. It then
// reads the user back; personal data the target kept is removed once more, and what still remains
// is returned as an *AnonymizationError.
func (t *Target) Anonymize(ctx context.Context, targetID string, anon model.User, fields []string) error {
	caps, err := t.c.Discover(ctx)
	if err != nil {
		return err
	}
	if t.opts.AlwaysAnonymizedEmail || caps.emailRequired() {
		anon.Email = t.AnonymizedEmail(anon.ExternalID)
	}
	err = t.updateUser(ctx, targetID, anon, fields, true)
	if statusOf(err) == http.StatusBadRequest && anon.Email == "" {
		// Some targets require an email without saying so in /Schemas.
		anon.Email = t.AnonymizedEmail(anon.ExternalID)
		err = t.updateUser(ctx, targetID, anon, fields, true)
	}
	if err != nil {
		return err
	}
	left, err := t.personalLeftovers(ctx, targetID, anon)
	if err != nil || len(left) == 0 {
		return err
	}
	ops := make([]PatchOp, 0, len(left))
	for _, path := range left {
		ops = append(ops, PatchOp{Op: "remove", Path: path})
	}
	if err := t.applyOps(ctx, targetID, ops); err != nil && statusOf(err) != http.StatusBadRequest {
		return err
	}
	if left, err = t.personalLeftovers(ctx, targetID, anon); err != nil || len(left) == 0 {
		return err
	}
	return &AnonymizationError{Attributes: left}
}

// personalAttributes can hold personal data; enterprise extension attributes are listed with
// their URN prefix.
var personalAttributes = []string{
	"name", "displayName", "nickName", "title", "profileUrl", "phoneNumbers", "addresses", "photos", "ims",
	"x509Certificates", enterprisePrefix + "employeeNumber", enterprisePrefix + "manager", enterprisePrefix + "department",
	enterprisePrefix + "division", enterprisePrefix + "organization", enterprisePrefix + "costCenter",
}

// personalLeftovers reads the user and returns the attribute paths still holding personal data.
func (t *Target) personalLeftovers(ctx context.Context, targetID string, anon model.User) ([]string, error) {
	var raw map[string]any
	if err := t.c.do(ctx, http.MethodGet, "/Users/"+url.PathEscape(targetID), nil, nil, &raw); err != nil {
		return nil, err
	}
	var left []string
	get := func(m map[string]any, name string) (any, bool) {
		for k, v := range m {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
		return nil, false
	}
	for _, a := range personalAttributes {
		obj, name := raw, a
		if rest, ok := strings.CutPrefix(a, enterprisePrefix); ok {
			ext, _ := raw[SchemaEnterpriseUser].(map[string]any)
			obj, name = ext, rest
		}
		v, ok := get(obj, name)
		if !ok || empty(v) {
			continue
		}
		if sub, isMap := v.(map[string]any); isMap && name == "name" {
			for k, sv := range sub {
				if !empty(sv) {
					left = append(left, "name."+k)
				}
			}
			continue
		}
		left = append(left, a)
	}
	if v, ok := get(raw, "userName"); ok && !strings.EqualFold(fmt.Sprint(v), anon.UserName) {
		left = append(left, "userName")
	}
	if v, ok := get(raw, "emails"); ok {
		list, _ := v.([]any)
		for _, e := range list {
			em, _ := e.(map[string]any)
			if val, _ := em["value"].(string); val != "" && !strings.EqualFold(val, anon.Email) {
				left = append(left, "emails")
				break
			}
		}
	}
	sort.Strings(left)
	return left, nil
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, sv := range x {
			if !empty(sv) {
				return false
			}
		}
		return true
	}
	return false
}

// presence returns whether the user targetID has typed entries: from the listing, else (a user
// this Target did not list) by reading the user.
func (t *Target) presence(ctx context.Context, targetID string) (func(model.Path) bool, error) {
	t.mu.Lock()
	listed, missing := t.listed && t.missing != nil, t.missing[targetID]
	t.mu.Unlock()
	if listed {
		return func(p model.Path) bool { return !slices.Contains(missing, entryKey(p)) }, nil
	}
	var raw map[string]any
	if err := t.c.do(ctx, http.MethodGet, "/Users/"+url.PathEscape(targetID), nil, nil, &raw); err != nil {
		return nil, err
	}
	return func(p model.Path) bool {
		_, present := readPath(raw, attrPath{path: p})
		return present
	}, nil
}

// patchOps translates model fields to PATCH operations. A manager unknown to the target is left
// out and returned as skipped.
func (t *Target) patchOps(ctx context.Context, targetID string, u model.User, fields []string, whole bool) (ops []PatchOp, skipped, err error) {
	set := func(path string, empty bool, value any) {
		if empty {
			ops = append(ops, PatchOp{Op: "remove", Path: path})
		} else {
			ops = append(ops, PatchOp{Op: "replace", Path: path, Value: value})
		}
	}
	var typed []attrChange
	t.mu.Lock()
	paths := t.paths
	t.mu.Unlock()
	nameDone := false
	for _, f := range fields {
		switch f {
		case model.FieldUserName:
			if u.UserName == "" {
				return nil, nil, errors.New("scim: userName cannot be removed")
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
		// The email and phoneNumber aliases own the "work" entry. Emptied (the directory has none)
		// they remove every entry, as the value they read may come from an untyped one.
		case model.FieldEmail:
			if u.Email == "" || whole {
				set("emails", u.Email == "", workEmail(u.Email))
				continue
			}
			typed = append(typed, attrChange{workEmailPath, model.StringValue(u.Email)})
		case model.FieldPhoneNumber:
			if u.PhoneNumber == "" || whole {
				set("phoneNumbers", u.PhoneNumber == "", workPhone(u.PhoneNumber))
				continue
			}
			typed = append(typed, attrChange{workPhonePath, model.StringValue(u.PhoneNumber)})
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
			if errors.Is(err, ErrUnknownManager) {
				skipped = err
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			set(enterprisePrefix+"manager", false, Manager{Value: id})
		case model.FieldActive:
			ops = append(ops, PatchOp{Op: "replace", Path: "active", Value: u.Active})
		case model.FieldExternalID:
			if u.ExternalID == "" {
				return nil, nil, errors.New("scim: externalId cannot be removed")
			}
			set("externalId", false, u.ExternalID)
		default:
			i := slices.IndexFunc(paths, func(ap attrPath) bool { return ap.name == f })
			if i < 0 {
				return nil, nil, fmt.Errorf("scim: field %q cannot be updated: not among the managed fields (UseFields)", f)
			}
			typed = append(typed, attrChange{paths[i], u.Attr(f)})
		}
	}
	if len(typed) > 0 {
		present := func(model.Path) bool { return true }
		if slices.ContainsFunc(typed, func(c attrChange) bool { return c.ap.path.Filtered }) {
			if present, err = t.presence(ctx, targetID); err != nil {
				return nil, nil, err
			}
		}
		ops = append(ops, attrOps(typed, present)...)
	}
	return ops, skipped, nil
}

// DeleteUser deletes a user; an already deleted user is not an error.
func (t *Target) DeleteUser(ctx context.Context, targetID string) error {
	return t.c.DeleteUser(ctx, targetID)
}

// CreateGroup creates a group without members and returns its target id. A group with that
// externalId that the run's listing showed is used instead; after a 409 or a write with an unknown
// outcome, /Groups is listed again to find the own group. A 409 for a group the operator does not
// own is a *target.ConflictError on displayName.
func (t *Target) CreateGroup(ctx context.Context, displayName, externalID string) (string, error) {
	if id, err := t.findGroup(ctx, externalID, false); err != nil || id != "" {
		return id, err
	}
	g, err := t.c.CreateGroup(ctx, &Group{DisplayName: displayName, ExternalID: externalID})
	if err != nil {
		if externalID == "" || ctx.Err() != nil || !(IsConflict(err) || ambiguous(err)) {
			return "", err
		}
		id, ferr := t.findGroup(ctx, externalID, true)
		if ferr != nil {
			return "", errors.Join(err, ferr)
		}
		if id != "" {
			return id, nil
		}
		if IsConflict(err) {
			return "", &target.ConflictError{Attribute: "displayName", Err: err}
		}
		return "", err
	}
	t.mu.Lock()
	if externalID != "" {
		t.groupByExt[externalID] = g.ID
	}
	t.members[g.ID] = map[string]bool{}
	t.mu.Unlock()
	return g.ID, nil
}

// AdoptGroup writes externalID on an existing group that carries none. The group is read first, so
// that a group someone gave an externalId since the run's listing is not taken over (a
// *target.ConflictError on externalId); the write is a PATCH, with If-Match where the target
// supports ETags, and a 412 (the group changed in between) reads it once more.
func (t *Target) AdoptGroup(ctx context.Context, groupID, externalID string) error {
	caps, err := t.c.Discover(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		g, err := t.c.GetGroup(ctx, groupID)
		if err != nil {
			return err
		}
		switch g.ExternalID {
		case externalID:
			t.learnAdopted(groupID, externalID)
			return nil
		case "":
		default:
			return &target.ConflictError{Attribute: "externalId",
				Err: fmt.Errorf("group %s carries the externalId %q: not adopted", groupID, g.ExternalID)}
		}
		var header http.Header
		if caps.ETagSupported && g.Meta != nil && g.Meta.Version != "" {
			header = http.Header{"If-Match": {g.Meta.Version}}
		}
		err = t.c.patchWith(ctx, "/Groups/"+url.PathEscape(groupID), header,
			[]PatchOp{{Op: "replace", Path: "externalId", Value: externalID}})
		if statusOf(err) == http.StatusPreconditionFailed && attempt == 0 {
			continue
		}
		if err == nil {
			t.learnAdopted(groupID, externalID)
		}
		return err
	}
}

// learnAdopted records that groupID now carries externalID, for CreateGroup's lookup.
func (t *Target) learnAdopted(groupID, externalID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.groupByExt[externalID]; !ok {
		t.groupByExt[externalID] = groupID
	}
}

// findGroup returns the id of the group with that externalId: from the run's listing, or from a
// fresh one when fresh or when no listing was made.
func (t *Target) findGroup(ctx context.Context, externalID string, fresh bool) (string, error) {
	if externalID == "" {
		return "", nil
	}
	t.mu.Lock()
	id, known := t.groupByExt[externalID], t.groupsKnown
	t.mu.Unlock()
	if id != "" || (known && !fresh) {
		return id, nil
	}
	groups, err := t.c.ListGroups(ctx, "")
	if err != nil {
		return "", err
	}
	t.learnGroups(groups)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.groupByExt[externalID], nil
}

// groupMembers returns the member set of a group from the run's listing and writes, reading the
// group when it was not listed.
func (t *Target) groupMembers(ctx context.Context, groupID string) (map[string]bool, error) {
	t.mu.Lock()
	set, ok := t.members[groupID]
	t.mu.Unlock()
	if ok {
		return set, nil
	}
	g, err := t.c.GetGroup(ctx, groupID)
	if err != nil {
		return nil, err
	}
	set = make(map[string]bool, len(g.Members))
	for _, m := range g.Members {
		set[m.Value] = true
	}
	t.mu.Lock()
	t.members[groupID] = set
	t.mu.Unlock()
	return set, nil
}

// AddMembers adds users to a group, leaving other members alone, in requests of at most
// MaxMembersPerRequest members (servers cap an operation). Users already in the group are skipped
// (some targets, SCIMMY among them, would list them twice); nothing is written when all are.
func (t *Target) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	set, err := t.groupMembers(ctx, groupID)
	if err != nil {
		return err
	}
	var add []Member
	t.mu.Lock()
	for _, id := range userIDs {
		if !set[id] && !slices.ContainsFunc(add, func(m Member) bool { return m.Value == id }) {
			add = append(add, Member{Value: id})
		}
	}
	t.mu.Unlock()
	for chunk := range slices.Chunk(add, t.c.membersPerRequest(ctx)) {
		if err := t.c.PatchGroup(ctx, groupID, []PatchOp{{Op: "add", Path: "members", Value: chunk}}); err != nil {
			return err
		}
		t.mu.Lock()
		for _, m := range chunk {
			set[m.Value] = true
		}
		t.mu.Unlock()
	}
	return nil
}

// RemoveMembers removes users from a group with one `members[value eq "id"]` remove operation per
// user (RFC 7644 §3.5.2.2), at most MaxMembersPerRequest per request, leaving other members alone.
// Users not in the group are skipped.
func (t *Target) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	set, err := t.groupMembers(ctx, groupID)
	if err != nil {
		return err
	}
	var ops []PatchOp
	var ids []string
	t.mu.Lock()
	for _, id := range userIDs {
		if set[id] && !slices.Contains(ids, id) {
			ids = append(ids, id)
			ops = append(ops, PatchOp{Op: "remove", Path: "members[value eq " + Quote(id) + "]"})
		}
	}
	t.mu.Unlock()
	n := t.c.membersPerRequest(ctx)
	for i := 0; i < len(ops); i += n {
		end := min(i+n, len(ops))
		if err := t.c.PatchGroup(ctx, groupID, ops[i:end]); err != nil {
			return err
		}
		t.mu.Lock()
		for _, id := range ids[i:end] {
			delete(set, id)
		}
		t.mu.Unlock()
	}
	return nil
}
