package memory

import (
	"hash/maphash"
	"slices"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// The string fields of a user in the order rec packs them.
const (
	fExternalID = iota
	fUserName
	fDisplayName
	fGivenName
	fFamilyName
	fEmail
	fPhoneNumber
	fTitle
	fDepartment
	fEmployeeNumber
	fManager
	fRole
	fTargetID
	fieldCount
)

// rec is a user as the target keeps it: its string fields packed into one string (ends[i] is
// where field i ends), so that a stored user is one small struct in a slice and one string, and
// a listed user's strings all share that one string. Users are addressed by handle, the index of
// their rec in Target.recs; a deleted user's rec stays, dead, so handles are never reused.
type rec struct {
	data     string
	ends     [fieldCount]uint32
	memberOf int32  // first link of the user's memberships; 0 = none
	extSeq   uint32 // when the user took its externalId: the earliest holder answers CreateUser
	active   bool
	live     bool
}

func (r *rec) field(f int) string {
	start := uint32(0)
	if f > 0 {
		start = r.ends[f-1]
	}
	return r.data[start:r.ends[f]]
}

// pack stores u's string fields (its Groups and Attributes are kept elsewhere).
func pack(u *model.User) rec {
	fields := [fieldCount]string{u.ExternalID, u.UserName, u.DisplayName, u.GivenName, u.FamilyName, u.Email,
		u.PhoneNumber, u.Title, u.Department, u.EmployeeNumber, u.Manager, u.Role, u.TargetID}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	r := rec{active: u.Active, live: true}
	var b strings.Builder
	b.Grow(n)
	for i, f := range fields {
		b.WriteString(f)
		r.ends[i] = uint32(b.Len())
	}
	r.data = b.String()
	return r
}

// user unpacks the stored fields; the strings share the stored data.
func (r *rec) user() model.User {
	d, e := r.data, &r.ends
	return model.User{
		ExternalID: d[:e[0]], UserName: d[e[0]:e[1]], DisplayName: d[e[1]:e[2]], GivenName: d[e[2]:e[3]],
		FamilyName: d[e[3]:e[4]], Email: d[e[4]:e[5]], PhoneNumber: d[e[5]:e[6]], Title: d[e[6]:e[7]],
		Department: d[e[7]:e[8]], EmployeeNumber: d[e[8]:e[9]], Manager: d[e[9]:e[10]], Role: d[e[10]:e[11]],
		TargetID: d[e[11]:e[12]], Active: r.active,
	}
}

// link is one membership: a node of the user's singly linked list of groups, in Target.links.
type link struct {
	group int32 // group handle
	next  int32 // next link of the same user; 0 = end
}

// group is a target group. Its members are the users whose memberships link to it; members
// counts them.
type group struct {
	id, displayName, externalID string
	members                     int
}

func (t *Target) hash(s string) uint32 { return uint32(maphash.String(t.seed, s)) }

// lowerName is the key of the userName index: userNames are unique case-insensitively.
func lowerName(s string) string { return strings.ToLower(s) }

// userByID returns the handle of the live user with that id, or -1.
func (t *Target) userByID(id string) int32 {
	for h := range t.ids.candidates(t.hash(id)) {
		if t.recs[h].field(fTargetID) == id {
			return h
		}
	}
	return -1
}

// extHolder returns the handle of the user that took the externalId ext first, or -1.
func (t *Target) extHolder(ext string) int32 {
	best := int32(-1)
	for h := range t.exts.candidates(t.hash(ext)) {
		if r := &t.recs[h]; r.field(fExternalID) == ext && (best < 0 || r.extSeq < t.recs[best].extSeq) {
			best = h
		}
	}
	return best
}

// nameTaken reports whether a live user's userName lower-cases to lower.
func (t *Target) nameTaken(lower string) bool {
	for h := range t.names.candidates(t.hash(lower)) {
		if lowerName(t.recs[h].field(fUserName)) == lower {
			return true
		}
	}
	return false
}

func (t *Target) indexExt(h int32) {
	if ext := t.recs[h].field(fExternalID); ext != "" {
		t.extSeq++
		t.recs[h].extSeq = t.extSeq
		t.exts.add(t.hash(ext), h)
	}
}

func (t *Target) unindexExt(h int32) {
	if ext := t.recs[h].field(fExternalID); ext != "" {
		t.exts.remove(t.hash(ext), h)
	}
}

// isMember reports whether user h is a member of group g.
func (t *Target) isMember(h, g int32) bool {
	for l := t.recs[h].memberOf; l != 0; l = t.links[l].next {
		if t.links[l].group == g {
			return true
		}
	}
	return false
}

// addMember makes user h a member of group g; a member already is left alone.
func (t *Target) addMember(g, h int32) {
	if t.isMember(h, g) {
		return
	}
	l := t.freeLink
	if l != 0 {
		t.freeLink = t.links[l].next
	} else {
		if len(t.links) == 0 {
			t.links = append(t.links, link{}) // link 0 means "none"
		}
		l = int32(len(t.links))
		t.links = append(t.links, link{})
	}
	t.links[l] = link{group: g, next: t.recs[h].memberOf}
	t.recs[h].memberOf = l
	t.groups[g].members++
}

// removeMember removes user h from group g; a non-member is left alone.
func (t *Target) removeMember(g, h int32) {
	for prev, l := int32(0), t.recs[h].memberOf; l != 0; prev, l = l, t.links[l].next {
		if t.links[l].group != g {
			continue
		}
		if prev == 0 {
			t.recs[h].memberOf = t.links[l].next
		} else {
			t.links[prev].next = t.links[l].next
		}
		t.links[l] = link{next: t.freeLink}
		t.freeLink = l
		t.groups[g].members--
		return
	}
}

// sortOrder drops deleted users from order and sorts it by id if an insertion broke the order.
func (t *Target) sortOrder() {
	live := t.order[:0]
	for _, h := range t.order {
		if t.recs[h].live {
			live = append(live, h)
		}
	}
	t.order = live
	if !t.sorted {
		slices.SortFunc(t.order, func(a, b int32) int {
			return strings.Compare(t.recs[a].field(fTargetID), t.recs[b].field(fTargetID))
		})
		t.sorted = true
	}
	if len(t.order) > 0 {
		t.lastID = t.recs[t.order[len(t.order)-1]].field(fTargetID)
	}
}
