package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/directory/ldap"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/samba"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// Group resolution at scale: every group mode reads n users in g nested groups (a binary tree of
// groups, each user a direct member of two), in full, incrementally after one user changed, and
// incrementally after one user was added to a group (which changes the group, not the user),
// against the plain paged read of the same entries. MemberOf and Recursive run on slapd; InChain
// needs Active Directory's matching rule and runs on a Samba AD DC (all three modes run there).
//
// Seeding the DC is what costs: Samba's ldbadd takes about 60 ms of CPU per user (its samldb,
// descriptor and linked-attribute modules), so the DC runs 2,000 users in 50 groups by default
// (seeded once per machine into a cached template) and the 20,000-user figure is reproduced with
// -ad-users 20000 -ad-groups 500 (RESULTS-ad.md).

var (
	groupUsers = flag.Int("group-users", 20_000, "users of the group-resolution figures on slapd, before -scale (0 skips them)")
	groupCount = flag.Int("group-count", 500, "nested groups of the group-resolution figures on slapd")
	onDC       = flag.Bool("ad", true, "also measure group resolution on a Samba AD DC (needs root; the first run seeds it, minutes)")
	adUsers    = flag.Int("ad-users", 2_000, "users of the Samba AD DC figures, before -scale (seeding costs ~60 ms CPU per user, once per machine)")
	adGroups   = flag.Int("ad-groups", 50, "nested groups of the Samba AD DC figures")
)

func init() {
	register(section{name: "groups", order: 40, run: func(b *bench, ctx context.Context) error {
		b.groupModes(ctx, b.size(*groupUsers), *groupCount, *onDC, b.size(*adUsers), *adGroups)
		return nil
	}})
}

// groupTree returns, for group index i, its direct subgroups (binary tree rooted at 0) and the
// direct groups of user u.
func childGroups(i, g int) []int {
	var out []int
	for _, c := range []int{2*i + 1, 2*i + 2} {
		if c < g {
			out = append(out, c)
		}
	}
	return out
}

func userGroups(u, g int) []int {
	a, b := u%g, (u*7+3)%g
	if a == b {
		return []int{a}
	}
	return []int{a, b}
}

// modeTimes are one mode's reads: full, incremental after one changed user, incremental after one
// user was added to a group.
type modeTimes struct{ full, incremental, membership time.Duration }

func (b *bench) groupModes(ctx context.Context, n, g int, onDC bool, adN, adG int) {
	if n <= 0 || g <= 0 {
		b.add("e) group resolution", "time", "—", "skipped (-group-users 0)")
	} else if slapd.Available() {
		b.groupModesSlapd(ctx, n, g)
	} else {
		b.add("e) group resolution on slapd", "time", "—", "skipped: "+slapd.InstallHint)
	}
	if onDC && adN > 0 && adG > 0 {
		b.groupModesDC(ctx, adN, adG)
		if adN < 20_000 {
			b.note("The DC figures run %d users in %d groups by default: seeding Samba costs ~60 ms of CPU per user "+
				"(once per machine). 20,000 users in 500 groups: test/bench/RESULTS-ad.md, "+
				"`go run ./test/bench -only groups -ad-users 20000 -ad-groups 500`.", adN, adG)
		}
	}
}

// changes are the directory changes between the reads of timeReads; the leaf group has no subgroups.
type changes struct {
	user      func() error                      // changes one user's attribute
	addToLeaf func() (userDN string, err error) // adds a user (not yet in it) to the leaf group
	leafName  string
}

// timeReads measures a full read, an incremental read after a user change and, with groups, one
// after a membership change (ReadDelta against a snapshot of the same reads, as
// directory.Incremental does; the median of three reads). The
// membership delta must hold the added user with the leaf group: a figure of a wrong read is none.
func timeReads(ctx context.Context, cfg ldap.Config, ch changes) (modeTimes, error) {
	var t modeTimes
	src, err := ldap.New(cfg)
	if err != nil {
		return t, err
	}
	start := time.Now()
	_, err = src.Read(ctx)
	t.full = time.Since(start)
	if err != nil {
		return t, err
	}
	delta := func(since *model.Snapshot) (*model.Snapshot, time.Duration, error) {
		c := cfg
		c.Incremental.Since = since.HighWater
		src, err := ldap.New(c)
		if err != nil {
			return nil, 0, err
		}
		var d *model.Snapshot
		var took []time.Duration
		for range 3 { // the median of three: a delta is short, and the machine is shared
			start := time.Now()
			if d, err = src.ReadDelta(ctx, since); err != nil {
				return nil, 0, err
			}
			took = append(took, time.Since(start))
			if d.Complete {
				return nil, 0, fmt.Errorf("the incremental read read everything (%d records)", len(d.Records))
			}
		}
		slices.Sort(took)
		return d, took[1], nil
	}
	// The full read's mark is the seed's second, which every group shares: a delta against it
	// finds every group changed (marks are inclusive). As in a running operator, the deltas are
	// measured against a snapshot whose mark an earlier change moved past it, through
	// directory.Incremental (a full read, then one delta merged into it).
	inc := &directory.Incremental{FullEvery: time.Hour, Open: func(_ context.Context, mark string) (directory.Source, error) {
		c := cfg
		c.Incremental.Since = mark
		return ldap.New(c)
	}}
	if _, err := inc.Read(ctx); err != nil {
		return t, err
	}
	if err := ch.user(); err != nil { // on slapd it waits for the next second of modifyTimestamp
		return t, err
	}
	snap, err := inc.Read(ctx)
	if err != nil {
		return t, err
	}
	if err := ch.user(); err != nil {
		return t, err
	}
	if _, t.incremental, err = delta(snap); err != nil {
		return t, err
	}
	if cfg.Groups.Mode == ldap.GroupsNone {
		return t, nil
	}
	dn, err := ch.addToLeaf()
	if err != nil {
		return t, err
	}
	d, took, err := delta(snap)
	t.membership = took
	if err != nil {
		return t, err
	}
	for _, r := range d.Records {
		if strings.EqualFold(r.DN, dn) {
			if !slices.Contains(r.Groups, ch.leafName) {
				return t, fmt.Errorf("after adding %s to %s the delta has its groups %v", dn, ch.leafName, r.Groups)
			}
			return t, nil
		}
	}
	return t, fmt.Errorf("after adding %s to %s the delta (%d records) does not have it", dn, ch.leafName, len(d.Records))
}

// warmUp reads once, untimed, so that the plain read is not charged with filling the server's caches.
func warmUp(ctx context.Context, cfg ldap.Config) {
	if src, err := ldap.New(cfg); err == nil {
		_, _ = src.Read(ctx)
	}
}

func (b *bench) reportModes(where string, n, g int, plain modeTimes, modes []string, times map[string]modeTimes, errs map[string]error) {
	s := fmt.Sprintf("e) %d users in %d nested groups, %s", n, g, where)
	b.add(s, "plain paged read (no groups): full / incremental (1 changed user)", "—",
		fmt.Sprintf("%s / %s", seconds(plain.full), seconds(plain.incremental)))
	for _, m := range modes {
		if err := errs[m]; err != nil {
			b.add(s, m+": reads", "—", "error: "+firstLine(err.Error()))
			continue
		}
		t := times[m]
		b.vs(s, m+": full read (floor: plain full read)", "—", seconds(t.full), seconds(plain.full), t.full.Seconds()/plain.full.Seconds())
		b.vs(s, m+": incremental, 1 changed user (floor: plain incremental)", "≪ full", seconds(t.incremental), seconds(plain.incremental),
			t.incremental.Seconds()/max(plain.incremental.Seconds(), 1e-3))
		b.vs(s, m+": incremental, 1 user added to a leaf group (floor: plain incremental)", "≪ full", seconds(t.membership), seconds(plain.incremental),
			t.membership.Seconds()/max(plain.incremental.Seconds(), 1e-3))
	}
}

func (b *bench) groupModesSlapd(ctx context.Context, n, g int) {
	fmt.Fprintln(progress, "group modes on slapd ...")
	seed := slapd.NewSeed(n)
	seed.Groups = nil
	for i := range g {
		grp := slapd.Group{CN: fmt.Sprintf("bgroup%03d", i), EntryUUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}
		for _, c := range childGroups(i, g) {
			grp.Subgroups = append(grp.Subgroups, fmt.Sprintf("bgroup%03d", c))
		}
		seed.Groups = append(seed.Groups, grp)
	}
	for u, user := range seed.Users {
		for _, gi := range userGroups(u, g) {
			seed.Groups[gi].Users = append(seed.Groups[gi].Users, user.UID)
		}
	}
	srv, err := slapd.Start(slapd.Options{Seed: seed})
	if err != nil {
		b.add("e) group resolution on slapd", "time", "—", "skipped: slapd did not start: "+firstLine(err.Error()))
		return
	}
	defer func() { _ = srv.Stop() }()
	base := ldap.Config{
		URL: srv.URL, BindDN: slapd.ServiceDN, BindPassword: slapd.ServicePassword, BaseDN: slapd.PeopleDN,
		UserFilter: "(objectClass=inetOrgPerson)", Attributes: []string{"uid", "mail", "title"}, PageSize: 500,
		ManagerAttribute: "-", Incremental: ldap.IncrementalConfig{Attribute: "modifyTimestamp"},
		Groups: ldap.GroupsConfig{GroupBaseDN: slapd.GroupsDN, GroupFilter: "(objectClass=groupOfNames)"},
	}
	k, added := 0, 0
	leaf := fmt.Sprintf("bgroup%03d", g-1)
	ch := changes{leafName: leaf,
		user: func() error {
			k++
			time.Sleep(1100 * time.Millisecond) // modifyTimestamp has one-second resolution
			return srv.MoveDepartment(ctx, seed.Users[k].UID, fmt.Sprint(900+k))
		},
		addToLeaf: func() (string, error) {
			u := notInLeaf(&added, n, g)
			time.Sleep(1100 * time.Millisecond)
			dn := slapd.UserDN(seed.Users[u].UID)
			return dn, srv.AddGroupMember(ctx, leaf, dn)
		}}
	// The seed gives every entry one timestamp; a first change moves the marks past it.
	if err := ch.user(); err != nil {
		b.add("e) group resolution on slapd", "change", "—", "error: "+firstLine(err.Error()))
		return
	}
	plainCfg := base
	plainCfg.Groups.Mode = ldap.GroupsNone
	warmUp(ctx, plainCfg) // the server's first read of the entries is slower than any later one
	plain, err := timeReads(ctx, plainCfg, ch)
	if err != nil {
		b.add("e) group resolution on slapd", "plain read", "—", "error: "+firstLine(err.Error()))
		return
	}
	times, errs := map[string]modeTimes{}, map[string]error{}
	modes := []string{ldap.GroupsMemberOf, ldap.GroupsRecursive}
	for _, m := range modes {
		cfg := base
		cfg.Groups.Mode = m
		times[m], errs[m] = timeReads(ctx, cfg, ch)
	}
	b.reportModes("slapd (InChain needs AD: see the Samba row)", n, g, plain, modes, times, errs)
}

func benchUserDN(u int) string { return fmt.Sprintf("CN=bench%05d,OU=Bench,%s", u, samba.BaseDN) }
func benchGroupDN(i int) string {
	return fmt.Sprintf("CN=bgroup%03d,OU=BenchGroups,%s", i, samba.BaseDN)
}

// notInLeaf returns the next user (from the end, after *last) who is not in the leaf group g-1.
func notInLeaf(last *int, n, g int) int {
	for {
		*last++
		u := n - *last
		if !slices.Contains(userGroups(u, g), g-1) {
			return u
		}
	}
}

// benchLDIF is the DC's extra seed: n users under OU=Bench, g nested groups under OU=BenchGroups.
func benchLDIF(n, g int) []byte {
	var w bytes.Buffer
	line := func(k, v string) { fmt.Fprintf(&w, "%s: %s\n", k, v) }
	line("dn", "OU=Bench,"+samba.BaseDN)
	line("objectClass", "organizationalUnit")
	w.WriteString("\n")
	line("dn", "OU=BenchGroups,"+samba.BaseDN)
	line("objectClass", "organizationalUnit")
	w.WriteString("\n")
	userDN, groupDN := benchUserDN, benchGroupDN
	members := make([][]int, g)
	for u := range n {
		line("dn", userDN(u))
		line("objectClass", "user")
		line("sAMAccountName", fmt.Sprintf("bench%05d", u))
		line("mail", fmt.Sprintf("bench%05d@dirsync.test", u))
		line("title", "Engineer")
		w.WriteString("\n")
		for _, gi := range userGroups(u, g) {
			members[gi] = append(members[gi], u)
		}
	}
	for i := g - 1; i >= 0; i-- { // children (larger index) first
		line("dn", groupDN(i))
		line("objectClass", "group")
		line("sAMAccountName", fmt.Sprintf("bgroup%03d", i))
		for _, u := range members[i] {
			line("member", userDN(u))
		}
		for _, c := range childGroups(i, g) {
			line("member", groupDN(c))
		}
		w.WriteString("\n")
	}
	return w.Bytes()
}

func (b *bench) groupModesDC(ctx context.Context, n, g int) {
	fmt.Fprintln(progress, "group modes on the Samba AD DC (the first run provisions it, minutes) ...")
	t := time.Now()
	dc, err := samba.Start(samba.Options{ExtraLDIF: benchLDIF(n, g)})
	if err != nil {
		b.add("e) group resolution on Samba AD", "time", "—", "error: the DC did not start: "+firstLine(err.Error()))
		return
	}
	defer func() { _ = dc.Stop() }()
	b.note("Samba AD DC with %d bench users in %d groups ready in %s (seeded into a cached template on the first run: ~60 ms of CPU per user).", n, g, seconds(time.Since(t)))
	admin, err := dc.AdminConn(ctx)
	if err != nil {
		b.add("e) group resolution on Samba AD", "time", "—", "error: "+firstLine(err.Error()))
		return
	}
	defer admin.Close()
	k, added := 0, 0
	leaf := fmt.Sprintf("bgroup%03d", g-1)
	ch := changes{leafName: leaf,
		user: func() error {
			k++
			return admin.Modify(&goldap.ModifyRequest{DN: benchUserDN(k),
				Changes: []goldap.Change{{Operation: goldap.ReplaceAttribute, Modification: goldap.PartialAttribute{Type: "title", Vals: []string{fmt.Sprint("T", k)}}}}})
		},
		addToLeaf: func() (string, error) {
			dn := benchUserDN(notInLeaf(&added, n, g))
			return dn, admin.Modify(&goldap.ModifyRequest{DN: benchGroupDN(g - 1),
				Changes: []goldap.Change{{Operation: goldap.AddAttribute, Modification: goldap.PartialAttribute{Type: "member", Vals: []string{dn}}}}})
		}}
	base := ldap.Config{
		URL: dc.LDAPSURL, CACertPEM: dc.CACertPEM, BindDN: samba.ServiceDN, BindPassword: samba.ServicePassword,
		BaseDN: "OU=Bench," + samba.BaseDN, UserFilter: ldap.ADUserFilter, IDAttribute: "objectGUID",
		Attributes: []string{"sAMAccountName", "mail", "title"}, PageSize: 1000, ManagerAttribute: "-",
		Incremental: ldap.IncrementalConfig{Attribute: "uSNChanged"},
		Groups:      ldap.GroupsConfig{GroupBaseDN: "OU=BenchGroups," + samba.BaseDN, GroupFilter: ldap.ADGroupFilter},
	}
	plainCfg := base
	plainCfg.Groups.Mode = ldap.GroupsNone
	warmUp(ctx, plainCfg) // the server's first read of the entries is slower than any later one
	plain, err := timeReads(ctx, plainCfg, ch)
	if err != nil {
		b.add("e) group resolution on Samba AD", "plain read", "—", "error: "+firstLine(err.Error()))
		return
	}
	times, errs := map[string]modeTimes{}, map[string]error{}
	modes := []string{ldap.GroupsMemberOf, ldap.GroupsRecursive, ldap.GroupsInChain}
	for _, m := range modes {
		cfg := base
		cfg.Groups.Mode = m
		times[m], errs[m] = timeReads(ctx, cfg, ch)
	}
	b.reportModes("Samba AD DC", n, g, plain, modes, times, errs)
}
