package memory

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// The string fields of a user in the order rec packs them.
const (
	fTargetID = iota // first: the most looked up
	fExternalID
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
	fieldCount
)

// rec is a user as the target keeps it: a pointer-free 56-byte struct in a slice, its string
// fields packed one after the other into a chunk of packed users (Target.chunks), so that a
// million users are a few thousand objects for the garbage collector and a listed user's strings
// all share its chunk. Users are addressed by handle, the index of their rec in Target.recs; a
// deleted user's rec stays, dead, so handles are never reused.
type rec struct {
	chunk int32  // index in Target.chunks
	off   uint32 // where the packed fields start in it
	// ends[i] is where field i ends, from off. A user whose fields total 64 KiB or more
	// (ends[0] == bigRec) has a chunk of its own with them behind a header: one byte holding the
	// header's length, then the fields' lengths as uvarints.
	ends [fieldCount]uint16
	// inGroups holds the handles+1 of up to two groups the user is a member of (0 = free), so that
	// the usual user needs no link; memberOf is the first link of its further memberships.
	inGroups [2]int32
	memberOf int32  // 0 = none
	extSeq   uint32 // when the user took its externalId: the earliest holder answers CreateUser
	active   bool
	live     bool
}

// bigRec in ends[0] marks a rec packed behind a header in a chunk of its own.
const bigRec = 0xFFFF

// chunkSize is the size of a chunk of packed users; users too large for one get their own.
const chunkSize = 64 << 10

// data returns the packed fields of a live rec.
func (t *Target) data(r *rec) string {
	if r.ends[0] == bigRec {
		return t.chunks[r.chunk]
	}
	return t.chunks[r.chunk][r.off : r.off+uint32(r.ends[fieldCount-1])]
}

// field returns one stored field of the live user h.
func (t *Target) field(h int32, f int) string {
	r := &t.recs[h]
	return r.field(t.data(r), f)
}

// fields unpacks the fields packed in d.
func (r *rec) fields(d string) (out [fieldCount]string) {
	if r.ends[0] != bigRec {
		start := 0
		for i, e := range r.ends {
			out[i] = d[start:e]
			start = int(e)
		}
		return out
	}
	p, start := 1, 1+int(d[0])
	for i := range out {
		var n int
		n, p = uvarint(d, p)
		out[i] = d[start : start+n]
		start += n
	}
	return out
}

// field returns one field packed in d.
func (r *rec) field(d string, f int) string {
	if r.ends[0] != bigRec {
		start := uint16(0)
		if f > 0 {
			start = r.ends[f-1]
		}
		return d[start:r.ends[f]]
	}
	return r.fields(d)[f]
}

// uvarint decodes the uvarint at s[p:] (as encoding/binary writes it) and returns it and the
// position after it.
func uvarint(s string, p int) (int, int) {
	x, shift := 0, 0
	for {
		b := s[p]
		p++
		x |= int(b&0x7f) << shift
		if b < 0x80 {
			return x, p
		}
		shift += 7
	}
}

// pack stores u's string fields into a chunk and r (its Groups and Attributes are kept
// elsewhere), and counts the bytes the fields r held before as garbage.
func (t *Target) pack(u *model.User, r *rec) {
	fields := [fieldCount]string{u.TargetID, u.ExternalID, u.UserName, u.DisplayName, u.GivenName, u.FamilyName, u.Email,
		u.PhoneNumber, u.Title, u.Department, u.EmployeeNumber, u.Manager, u.Role}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	if r.live {
		t.garbage += len(t.data(r))
	}
	r.active, r.live = u.Active, true
	if n >= bigRec {
		var header [1 + fieldCount*binary.MaxVarintLen64]byte // at most 131 bytes: its length fits the first
		h := header[:1]
		for _, f := range fields {
			h = binary.AppendUvarint(h, uint64(len(f)))
		}
		h[0] = byte(len(h) - 1)
		var b strings.Builder
		b.Grow(len(h) + n)
		b.Write(h)
		for _, f := range fields {
			b.WriteString(f)
		}
		r.chunk, r.off, r.ends = int32(len(t.chunks)), 0, [fieldCount]uint16{bigRec}
		t.chunks = append(t.chunks, b.String())
		t.packed += b.Len()
		return
	}
	// The open chunk's Builder had its whole capacity reserved, so writing on never moves what
	// earlier Strings of it share.
	b := t.open
	if b == nil || b.Cap()-b.Len() < n {
		b = &strings.Builder{}
		b.Grow(max(chunkSize, n))
		t.open = b
		t.chunks = append(t.chunks, "")
	}
	r.chunk, r.off = int32(len(t.chunks)-1), uint32(b.Len())
	for i, f := range fields {
		b.WriteString(f)
		r.ends[i] = uint16(b.Len() - int(r.off))
	}
	t.chunks[r.chunk] = b.String()
	t.packed += n
}

// drop marks a deleted user's rec dead and counts its packed fields as garbage.
func (t *Target) drop(r *rec) {
	t.garbage += len(t.data(r))
	*r = rec{}
}

// compactIfWasteful repacks the live users into new chunks once most packed bytes are garbage;
// the old chunks live on as long as earlier listings use them.
func (t *Target) compactIfWasteful() {
	if t.garbage < 1<<20 || 2*t.garbage < t.packed {
		return
	}
	old := t.chunks
	t.chunks, t.open, t.packed, t.garbage = nil, nil, 0, 0
	for h := range t.recs {
		r := &t.recs[h]
		if !r.live {
			continue
		}
		o := *r
		u := o.user(t.dataIn(old, &o))
		r.live = false // nothing to count as garbage
		t.pack(&u, r)
	}
}

func (t *Target) dataIn(chunks []string, r *rec) string {
	if r.ends[0] == bigRec {
		return chunks[r.chunk]
	}
	return chunks[r.chunk][r.off : r.off+uint32(r.ends[fieldCount-1])]
}

// user unpacks the fields packed in d; the strings share d.
func (r *rec) user(d string) model.User {
	var u model.User
	r.unpack(d, &u)
	return u
}

// unpack sets u's string fields and Active from the fields packed in d, the strings sharing d; it
// writes straight into u, which listing a million users notices.
func (r *rec) unpack(d string, u *model.User) {
	if r.ends[0] == bigRec {
		f := r.fields(d)
		u.TargetID, u.ExternalID, u.UserName, u.DisplayName = f[fTargetID], f[fExternalID], f[fUserName], f[fDisplayName]
		u.GivenName, u.FamilyName, u.Email, u.PhoneNumber = f[fGivenName], f[fFamilyName], f[fEmail], f[fPhoneNumber]
		u.Title, u.Department, u.EmployeeNumber, u.Manager = f[fTitle], f[fDepartment], f[fEmployeeNumber], f[fManager]
		u.Role, u.Active = f[fRole], r.active
		return
	}
	e := &r.ends
	u.TargetID, u.ExternalID, u.UserName = d[:e[0]], d[e[0]:e[1]], d[e[1]:e[2]]
	u.DisplayName, u.GivenName, u.FamilyName = d[e[2]:e[3]], d[e[3]:e[4]], d[e[4]:e[5]]
	u.Email, u.PhoneNumber, u.Title = d[e[5]:e[6]], d[e[6]:e[7]], d[e[7]:e[8]]
	u.Department, u.EmployeeNumber, u.Manager = d[e[8]:e[9]], d[e[9]:e[10]], d[e[10]:e[11]]
	u.Role, u.Active = d[e[11]:e[12]], r.active
}

// link is one membership: a node of the user's singly linked list of groups, in Target.links.
type link struct {
	group int32 // group handle
	next  int32 // next link of the same user; 0 = end
}

// group is a target group. Its members are the users whose memberships name it; members counts
// them.
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
		if t.field(h, fTargetID) == id {
			return h
		}
	}
	return -1
}

// extHolder returns the handle of the user that took the externalId ext first, or -1.
func (t *Target) extHolder(ext string) int32 {
	best := int32(-1)
	for h := range t.exts.candidates(t.hash(ext)) {
		if t.field(h, fExternalID) == ext && (best < 0 || t.recs[h].extSeq < t.recs[best].extSeq) {
			best = h
		}
	}
	return best
}

// nameTaken reports whether a live user's userName lower-cases to lower.
func (t *Target) nameTaken(lower string) bool {
	for h := range t.names.candidates(t.hash(lower)) {
		if lowerName(t.field(h, fUserName)) == lower {
			return true
		}
	}
	return false
}

func (t *Target) indexExt(h int32) {
	if ext := t.field(h, fExternalID); ext != "" {
		t.extSeq++
		t.recs[h].extSeq = t.extSeq
		t.exts.add(t.hash(ext), h)
	}
}

func (t *Target) unindexExt(h int32) {
	if ext := t.field(h, fExternalID); ext != "" {
		t.exts.remove(t.hash(ext), h)
	}
}

// isMember reports whether user h is a member of group g.
func (t *Target) isMember(h, g int32) bool {
	r := &t.recs[h]
	if r.inGroups[0] == g+1 || r.inGroups[1] == g+1 {
		return true
	}
	for l := r.memberOf; l != 0; l = t.links[l].next {
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
	t.groups[g].members++
	r := &t.recs[h]
	for i, in := range r.inGroups {
		if in == 0 {
			r.inGroups[i] = g + 1
			return
		}
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
	t.links[l] = link{group: g, next: r.memberOf}
	r.memberOf = l
}

// removeMember removes user h from group g; a non-member is left alone.
func (t *Target) removeMember(g, h int32) {
	r := &t.recs[h]
	for i, in := range r.inGroups {
		if in == g+1 {
			r.inGroups[i] = 0
			t.groups[g].members--
			return
		}
	}
	for prev, l := int32(0), r.memberOf; l != 0; prev, l = l, t.links[l].next {
		if t.links[l].group != g {
			continue
		}
		if prev == 0 {
			r.memberOf = t.links[l].next
		} else {
			t.links[prev].next = t.links[l].next
		}
		t.links[l] = link{next: t.freeLink}
		t.freeLink = l
		t.groups[g].members--
		return
	}
}

// appendGroups appends the handles of the groups user h is a member of, in no particular order.
func (t *Target) appendGroups(dst []int32, h int32) []int32 {
	r := &t.recs[h]
	for _, in := range r.inGroups {
		if in != 0 {
			dst = append(dst, in-1)
		}
	}
	for l := r.memberOf; l != 0; l = t.links[l].next {
		dst = append(dst, t.links[l].group)
	}
	return dst
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
			return strings.Compare(t.field(a, fTargetID), t.field(b, fTargetID))
		})
		t.sorted = true
	}
	if len(t.order) > 0 {
		t.lastID = t.field(t.order[len(t.order)-1], fTargetID)
	}
}
