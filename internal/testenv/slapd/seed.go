package slapd

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// Fixed names of the seeded directory.
const (
	BaseDN    = "dc=example,dc=com"
	PeopleDN  = "ou=people," + BaseDN
	GroupsDN  = "ou=groups," + BaseDN
	ServiceDN = "cn=sync,ou=services," + BaseDN

	// AdminDN is the rootdn: it bypasses size limits and may write everything.
	AdminDN       = "cn=admin," + BaseDN
	AdminPassword = "admin-secret"
	// ServicePassword is the password of ServiceDN, a read-only account subject to the size limit,
	// which is what a sync operator would bind as.
	ServicePassword = "sync-secret"

	// Disabled accounts carry employeeType=disabled: inetOrgPerson can store it without extra schema
	// or the ppolicy overlay.
	DisabledAttribute = "employeeType"
	DisabledValue     = "disabled"

	// SeedTimestamp is the createTimestamp/modifyTimestamp of every seeded entry, so that
	// incremental reads can tell seeded entries from entries changed by a test.
	SeedTimestamp = "20200101000000Z"
)

// Group names of the seed. Nesting: all-staff ⊃ {engineering, sales}, engineering ⊃ platform;
// cycle-a and cycle-b contain each other.
const (
	GroupAllStaff    = "all-staff"
	GroupEngineering = "engineering"
	GroupPlatform    = "platform"
	GroupSales       = "sales"
	GroupCycleA      = "cycle-a"
	GroupCycleB      = "cycle-b"
)

// Well-known seeded users.
const (
	// UnicodeUID has a non-ASCII cn/givenName/sn/displayName and a binary jpegPhoto; member of platform.
	UnicodeUID = "zoe.angstrom"
	// NoMailUID has no mail attribute.
	NoMailUID = "no.mail"
	// CycleUID is a direct member of cycle-a only.
	CycleUID = "cycle.user"
	// DisabledUID is disabled (one of several).
	DisabledUID = "disabled.user"
)

// MinUsers is the smallest user count NewSeed produces (the well-known users plus a few regular ones).
const MinUsers = 10

// User is one seeded person (inetOrgPerson under PeopleDN).
type User struct {
	UID              string
	EntryUUID        string
	CN               string
	GivenName        string
	SN               string
	DisplayName      string
	Mail             string // "" means no mail attribute
	TelephoneNumber  string
	Title            string
	DepartmentNumber string
	EmployeeNumber   string
	JPEGPhoto        []byte
	Disabled         bool
}

// DN returns the user's DN.
func (u User) DN() string { return UserDN(u.UID) }

// UserDN returns the DN of the user with that uid.
func UserDN(uid string) string { return "uid=" + uid + "," + PeopleDN }

// GroupDN returns the DN of the group with that cn.
func GroupDN(cn string) string { return "cn=" + cn + "," + GroupsDN }

// Group is one seeded groupOfNames under GroupsDN.
type Group struct {
	CN        string
	EntryUUID string
	Users     []string // uids of direct user members
	Subgroups []string // cns of direct group members
}

// Seed is a deterministic directory content: the same user count always yields the same entries.
type Seed struct {
	Users  []User
	Groups []Group
	users  map[string]int
}

var titles = []string{"Engineer", "Senior Engineer", "Manager", "Analyst", "Designer", "Director"}

// Departments are the departmentNumber values used by the seed ("101".."110").
var Departments = []string{"101", "102", "103", "104", "105", "106", "107", "108", "109", "110"}

// NewSeed generates n users (at least MinUsers) and the fixed groups.
func NewSeed(n int) *Seed {
	n = max(n, MinUsers)
	s := &Seed{Users: make([]User, n), users: make(map[string]int, n)}
	for i := range n {
		u := User{
			UID:              fmt.Sprintf("user%05d", i),
			TelephoneNumber:  fmt.Sprintf("+1 555 %07d", i),
			Title:            titles[i%len(titles)],
			DepartmentNumber: Departments[i%len(Departments)],
			EmployeeNumber:   fmt.Sprintf("E%06d", i),
			Disabled:         i%500 == 250,
		}
		u.GivenName = fmt.Sprintf("Given%d", i)
		u.SN = fmt.Sprintf("Surname%d", i)
		switch i {
		case 0:
			u.UID, u.GivenName, u.SN = UnicodeUID, "Zoë", "Ångström"
			u.DisplayName = "李雷 (Zoë Ångström)"
			u.JPEGPhoto = fakeJPEG()
		case 1:
			u.UID = NoMailUID
		case 2:
			u.UID = CycleUID
		case 3:
			u.UID, u.Disabled = DisabledUID, true
		}
		u.CN = u.GivenName + " " + u.SN
		if u.DisplayName == "" {
			u.DisplayName = u.CN
		}
		if u.UID != NoMailUID {
			u.Mail = u.UID + "@example.com"
		}
		u.EntryUUID = uuidFor("user:" + u.UID)
		s.Users[i] = u
		s.users[u.UID] = i
	}
	pick := func(keep func(i int) bool) []string {
		var uids []string
		for i, u := range s.Users {
			if keep(i) {
				uids = append(uids, u.UID)
			}
		}
		return uids
	}
	s.Groups = []Group{
		{CN: GroupAllStaff, Subgroups: []string{GroupEngineering, GroupSales}, Users: pick(func(i int) bool { return i%100 == 5 })},
		{CN: GroupEngineering, Subgroups: []string{GroupPlatform}, Users: pick(func(i int) bool { return i%10 == 1 })},
		{CN: GroupPlatform, Users: pick(func(i int) bool { return i%50 == 0 })},
		{CN: GroupSales, Users: pick(func(i int) bool { return i%10 == 2 && i != 2 })},
		{CN: GroupCycleA, Subgroups: []string{GroupCycleB}, Users: []string{CycleUID}},
		{CN: GroupCycleB, Subgroups: []string{GroupCycleA}, Users: pick(func(i int) bool { return i%1000 == 7 })},
	}
	for i := range s.Groups {
		s.Groups[i].EntryUUID = uuidFor("group:" + s.Groups[i].CN)
	}
	return s
}

// fakeJPEG returns a few bytes starting like a JPEG file: deliberately not valid UTF-8.
func fakeJPEG() []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00}
	for i := range 64 {
		b = append(b, byte(i*37+11))
	}
	return append(b, 0xFF, 0xD9)
}

// uuidFor derives a stable UUID (version 5 layout) from a name.
func uuidFor(name string) string {
	h := sha1.Sum([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// User returns the seeded user with that uid.
func (s *Seed) User(uid string) (User, bool) {
	i, ok := s.users[uid]
	if !ok {
		return User{}, false
	}
	return s.Users[i], true
}

// Group returns the seeded group with that cn.
func (s *Seed) Group(cn string) (Group, bool) {
	for _, g := range s.Groups {
		if g.CN == cn {
			return g, true
		}
	}
	return Group{}, false
}

// DirectGroups returns the sorted cns of the groups listing the user as a member.
func (s *Seed) DirectGroups(uid string) []string {
	var out []string
	for _, g := range s.Groups {
		if slices.Contains(g.Users, uid) {
			out = append(out, g.CN)
		}
	}
	slices.Sort(out)
	return out
}

// parentGroups returns the cns of the groups listing group cn as a member.
func (s *Seed) parentGroups(cn string) []string {
	var out []string
	for _, g := range s.Groups {
		if slices.Contains(g.Subgroups, cn) {
			out = append(out, g.CN)
		}
	}
	return out
}

// AllGroups returns the sorted cns of the user's groups, nested memberships included.
func (s *Seed) AllGroups(uid string) []string {
	seen := map[string]bool{}
	queue := s.DirectGroups(uid)
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if seen[g] {
			continue
		}
		seen[g] = true
		queue = append(queue, s.parentGroups(g)...)
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// DisabledUIDs returns the uids of the disabled users, in seed order.
func (s *Seed) DisabledUIDs() []string {
	var out []string
	for _, u := range s.Users {
		if u.Disabled {
			out = append(out, u.UID)
		}
	}
	return out
}

// WriteLDIF writes the whole directory (base, OUs, service account, users, groups) as LDIF for slapadd.
// memberOf values are written directly because slapadd does not run the memberof overlay.
func (s *Seed) WriteLDIF(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	e := ldifWriter{w: bw}
	e.entry(BaseDN, "objectClass", "top", "objectClass", "dcObject", "objectClass", "organization",
		"dc", "example", "o", "Example Inc.")
	for _, ou := range []string{"people", "groups", "services"} {
		e.entry("ou="+ou+","+BaseDN, "objectClass", "organizationalUnit", "ou", ou)
	}
	e.entry(ServiceDN, "objectClass", "person", "objectClass", "simpleSecurityObject",
		"cn", "sync", "sn", "sync", "userPassword", ServicePassword)

	memberOf := map[string][]string{} // DN -> group DNs
	for _, g := range s.Groups {
		for _, uid := range g.Users {
			memberOf[UserDN(uid)] = append(memberOf[UserDN(uid)], GroupDN(g.CN))
		}
		for _, sub := range g.Subgroups {
			memberOf[GroupDN(sub)] = append(memberOf[GroupDN(sub)], GroupDN(g.CN))
		}
	}
	for _, u := range s.Users {
		kv := []string{
			"objectClass", "inetOrgPerson", "uid", u.UID, "cn", u.CN, "givenName", u.GivenName, "sn", u.SN,
			"displayName", u.DisplayName, "telephoneNumber", u.TelephoneNumber, "title", u.Title,
			"departmentNumber", u.DepartmentNumber, "employeeNumber", u.EmployeeNumber,
			"userPassword", "pw-" + u.UID,
		}
		if u.Mail != "" {
			kv = append(kv, "mail", u.Mail)
		}
		if u.JPEGPhoto != nil {
			kv = append(kv, "jpegPhoto", string(u.JPEGPhoto))
		}
		if u.Disabled {
			kv = append(kv, DisabledAttribute, DisabledValue)
		}
		for _, g := range memberOf[u.DN()] {
			kv = append(kv, "memberOf", g)
		}
		kv = append(kv, "entryUUID", u.EntryUUID)
		e.entry(u.DN(), kv...)
	}
	for _, g := range s.Groups {
		kv := []string{"objectClass", "groupOfNames", "cn", g.CN}
		for _, uid := range g.Users {
			kv = append(kv, "member", UserDN(uid))
		}
		for _, sub := range g.Subgroups {
			kv = append(kv, "member", GroupDN(sub))
		}
		for _, p := range memberOf[GroupDN(g.CN)] {
			kv = append(kv, "memberOf", p)
		}
		kv = append(kv, "entryUUID", g.EntryUUID)
		e.entry(GroupDN(g.CN), kv...)
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

type ldifWriter struct {
	w   *bufio.Writer
	err error
}

// entry writes "dn" and the attribute/value pairs kv, plus the fixed seed timestamps.
func (e *ldifWriter) entry(dn string, kv ...string) {
	e.line("dn", dn)
	for i := 0; i+1 < len(kv); i += 2 {
		e.line(kv[i], kv[i+1])
	}
	e.line("createTimestamp", SeedTimestamp)
	e.line("modifyTimestamp", SeedTimestamp)
	if e.err == nil {
		e.err = e.w.WriteByte('\n')
	}
}

func (e *ldifWriter) line(attr, value string) {
	if e.err != nil {
		return
	}
	if ldifSafe(value) {
		_, e.err = fmt.Fprintf(e.w, "%s: %s\n", attr, value)
	} else {
		_, e.err = fmt.Fprintf(e.w, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(value)))
	}
}

// ldifSafe reports whether value can be written as a plain LDIF SAFE-STRING (RFC 2849).
func ldifSafe(value string) bool {
	if value == "" {
		return true
	}
	switch value[0] {
	case ' ', ':', '<':
		return false
	}
	if value[len(value)-1] == ' ' || !utf8.ValidString(value) {
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == 0 || c == '\n' || c == '\r' || c > 0x7f {
			return false
		}
	}
	return true
}
