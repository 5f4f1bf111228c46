package samba

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Names of the provisioned domain.
const (
	Realm      = "DIRSYNC.TEST"
	NetBIOS    = "DIRSYNC"
	HostName   = "dc1"
	BaseDN     = "DC=dirsync,DC=test"
	UsersDN    = "CN=Users," + BaseDN
	PeopleDN   = "OU=People," + BaseDN
	GroupsDN   = "OU=Groups," + BaseDN
	BulkDN     = "OU=Bulk," + BaseDN
	ChangesDN  = "OU=Changes," + BaseDN // empty at start: tests that modify the directory work here
	BuiltinDN  = "CN=Builtin," + BaseDN
	DomainUser = "Domain Users"

	// AdminDN is the domain Administrator; it may write everything.
	AdminDN       = "CN=Administrator," + UsersDN
	AdminPassword = "Adm1n-Passw0rd!"
	// ServiceDN is an ordinary domain user, what a sync operator binds as.
	ServiceDN       = "CN=svc-sync," + UsersDN
	ServicePassword = "Sync-Passw0rd!"

	// Accounts whose bind fails with a specific AD sub-code; all have BindTestPassword.
	DisabledBindDN   = "CN=bind-disabled," + UsersDN   // 533 account disabled
	MustChangeBindDN = "CN=bind-mustchange," + UsersDN // 773 must change password
	ExpiredBindDN    = "CN=bind-expired," + UsersDN    // 701 account expired
	BindTestPassword = "Bind-Passw0rd!"

	// BigGroupMembers is the size of GroupBig: more than AD's default MaxValRange of 1500, so that
	// reading its member attribute needs range retrieval (member;range=0-1499).
	BigGroupMembers = 1600
)

// Group names (cn) of the seed. Nesting: All Staff ⊃ {Engineering, Sales}, Engineering ⊃ Platform;
// Cycle A and Cycle B contain each other. GroupEscaped has a comma, a plus sign and non-ASCII letters.
const (
	GroupAllStaff    = "All Staff"
	GroupEngineering = "Engineering"
	GroupPlatform    = "Platform"
	GroupSales       = "Sales"
	GroupEscaped     = "Q&A, Ü+Team"
	GroupBig         = "Big"
	GroupCycleA      = "Cycle A"
	GroupCycleB      = "Cycle B"
)

// Person is one seeded user under PeopleDN.
type Person struct {
	Sam       string // sAMAccountName
	CN        string
	GivenName string
	SN        string
	Title     string
	Manager   string // sAMAccountName of the manager
	Disabled  bool
	Groups    []string // direct groups (cn)
}

// DN returns the person's DN (the CN escaped as RFC 4514 requires).
func (p Person) DN() string { return "CN=" + EscapeRDN(p.CN) + "," + PeopleDN }

// Mail is the person's mail address.
func (p Person) Mail() string { return p.Sam + "@dirsync.test" }

// People are the seeded users. Alice has no manager, Bob reports to Alice, John Smith (a comma in
// his CN) to Bob; "R+D Lead" has a plus sign in the CN; Zoë a non-ASCII CN; Dave is disabled.
var People = []Person{
	{Sam: "alice", CN: "Alice Liddell", GivenName: "Alice", SN: "Liddell", Title: "CTO", Groups: []string{GroupEngineering, GroupBig}},
	{Sam: "bob", CN: "Bob Builder", GivenName: "Bob", SN: "Builder", Title: "Engineer", Manager: "alice", Groups: []string{GroupPlatform}},
	{Sam: "jsmith", CN: "Smith, John", GivenName: "John", SN: "Smith", Title: "Engineer", Manager: "bob", Groups: []string{GroupPlatform}},
	{Sam: "rdlead", CN: "R+D Lead", GivenName: "Rita", SN: "Lead", Title: "Lead", Manager: "alice", Groups: []string{GroupSales, GroupCycleA}},
	{Sam: "zoe", CN: "Zoë Ångström", GivenName: "Zoë", SN: "Ångström", Title: "Designer", Manager: "bob", Groups: []string{GroupPlatform, GroupEscaped}},
	{Sam: "dave", CN: "Dave Disabled", GivenName: "Dave", SN: "Disabled", Title: "Analyst", Disabled: true, Groups: []string{GroupSales}},
}

// Person returns the seeded person with that sAMAccountName.
func PersonBySam(sam string) (Person, bool) {
	for _, p := range People {
		if p.Sam == sam {
			return p, true
		}
	}
	return Person{}, false
}

// subgroups are the direct group members of each group.
var subgroups = map[string][]string{
	GroupAllStaff:    {GroupEngineering, GroupSales},
	GroupEngineering: {GroupPlatform},
	GroupCycleA:      {GroupCycleB},
	GroupCycleB:      {GroupCycleA},
}

// groupOrder creates groups before the groups that contain them (the cycle is closed afterwards).
var groupOrder = []string{GroupPlatform, GroupSales, GroupEscaped, GroupBig, GroupEngineering, GroupAllStaff, GroupCycleB, GroupCycleA}

// GroupNames lists the seeded group names.
func GroupNames() []string { return append([]string(nil), groupOrder...) }

// GroupDN returns the DN of a seeded group.
func GroupDN(cn string) string { return "CN=" + EscapeRDN(cn) + "," + GroupsDN }

// ComputerDN is a computer account under PeopleDN: objectClass=person matches it, AD's people
// filter does not.
const ComputerDN = "CN=WS01," + PeopleDN

// AllGroups returns the direct and nested groups of a person, sorted as the seed order lists them.
func AllGroups(sam string) []string {
	p, _ := PersonBySam(sam)
	seen := map[string]bool{}
	queue := append([]string(nil), p.Groups...)
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if seen[g] {
			continue
		}
		seen[g] = true
		for parent, subs := range subgroups {
			for _, s := range subs {
				if s == g {
					queue = append(queue, parent)
				}
			}
		}
	}
	var out []string
	for _, g := range groupOrder {
		if seen[g] {
			out = append(out, g)
		}
	}
	return out
}

// EscapeRDN escapes an attribute value for use in a DN (RFC 4514).
func EscapeRDN(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case strings.ContainsRune(`,+"\<>;=`, r), r == '#' && i == 0, r == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ldif builds LDIF records, base64-encoding values that are not safe strings (RFC 2849).
type ldif struct{ bytes.Buffer }

func (l *ldif) attr(name, value string) {
	safe := value != "" && value[0] != ' ' && value[0] != ':' && value[0] != '<' && value[len(value)-1] != ' '
	for i := 0; i < len(value) && safe; i++ {
		safe = value[i] >= 0x20 && value[i] < 0x7f
	}
	if safe {
		fmt.Fprintf(l, "%s: %s\n", name, value)
	} else {
		fmt.Fprintf(l, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(value)))
	}
}

func (l *ldif) end() { l.WriteByte('\n') }

// unicodePwd is AD's password attribute value: the quoted password in UTF-16LE.
func unicodePwd(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return string(b)
}

const (
	uacNormal       = 512
	uacDisabled     = 514
	uacNoPwdExpiry  = 66048
	bulkContactName = "bulk%05d"
)

// BulkContactDN returns the DN of the i-th member of GroupBig.
func BulkContactDN(i int) string { return "CN=" + fmt.Sprintf(bulkContactName, i) + "," + BulkDN }

// seedLDIF returns the entries to add (adds) and the modification that closes the group cycle.
func seedLDIF() (adds, mods []byte) {
	var l ldif
	for _, ou := range []string{PeopleDN, GroupsDN, BulkDN, ChangesDN} {
		l.attr("dn", ou)
		l.attr("objectClass", "organizationalUnit")
		l.end()
	}
	account := func(dn, sam string, uac int, pw string, extra ...string) {
		l.attr("dn", dn)
		l.attr("objectClass", "user")
		l.attr("sAMAccountName", sam)
		l.attr("userAccountControl", fmt.Sprint(uac))
		if pw != "" {
			l.attr("unicodePwd", unicodePwd(pw))
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l.attr(extra[i], extra[i+1])
		}
		l.end()
	}
	account(ServiceDN, "svc-sync", uacNoPwdExpiry, ServicePassword)
	account(DisabledBindDN, "bind-disabled", uacDisabled, BindTestPassword)
	account(MustChangeBindDN, "bind-mustchange", uacNormal, BindTestPassword, "pwdLastSet", "0")
	account(ExpiredBindDN, "bind-expired", uacNoPwdExpiry, BindTestPassword, "accountExpires", "1")
	for _, p := range People { // managers come before their reports in People
		uac := uacNormal
		if p.Disabled {
			uac = uacDisabled
		}
		extra := []string{"givenName", p.GivenName, "sn", p.SN, "displayName", p.GivenName + " " + p.SN,
			"mail", p.Mail(), "title", p.Title, "userPrincipalName", p.Mail()}
		if m, ok := PersonBySam(p.Manager); ok {
			extra = append(extra, "manager", m.DN())
		}
		account(p.DN(), p.Sam, uac, "", extra...)
	}
	l.attr("dn", ComputerDN)
	l.attr("objectClass", "computer")
	l.attr("sAMAccountName", "WS01$")
	l.attr("userAccountControl", "4096")
	l.end()
	// The big group's members are contacts: cheaper to create than users, and just as countable.
	for i := range BigGroupMembers {
		l.attr("dn", BulkContactDN(i))
		l.attr("objectClass", "contact")
		l.end()
	}
	for _, g := range groupOrder {
		l.attr("dn", GroupDN(g))
		l.attr("objectClass", "group")
		l.attr("sAMAccountName", strings.NewReplacer(",", "", "+", "", "&", "", " ", "-").Replace(g))
		for _, p := range People {
			for _, pg := range p.Groups {
				if pg == g {
					l.attr("member", p.DN())
				}
			}
		}
		for _, sub := range subgroups[g] {
			if g != GroupCycleB { // Cycle A does not exist yet; see mods
				l.attr("member", GroupDN(sub))
			}
		}
		if g == GroupBig {
			for i := range BigGroupMembers {
				l.attr("member", BulkContactDN(i))
			}
		}
		l.end()
	}
	adds = append([]byte(nil), l.Bytes()...)
	var m ldif
	m.attr("dn", GroupDN(GroupCycleB))
	m.WriteString("changetype: modify\nadd: member\n")
	m.attr("member", GroupDN(GroupCycleA))
	m.WriteString("-\n\n")
	return adds, m.Bytes()
}
