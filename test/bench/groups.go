package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory/ldap"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/samba"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// Group resolution at scale: every group mode reads n users in g nested groups (a binary tree of
// groups, each user a direct member of two), in full and incrementally after one user changed,
// against the plain paged read of the same entries. MemberOf and Recursive run on slapd; InChain
// needs Active Directory's matching rule and runs on a Samba AD DC (all three modes run there).

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

type modeTimes struct{ full, incremental time.Duration }

func (b *bench) groupModes(ctx context.Context, n, g int, onDC bool) {
	if n <= 0 || g <= 0 {
		b.add("e) group resolution", "time", "—", "skipped (-group-users 0)")
		return
	}
	if slapd.Available() {
		b.groupModesSlapd(ctx, n, g)
	} else {
		b.add("e) group resolution on slapd", "time", "—", "skipped: "+slapd.InstallHint)
	}
	if onDC {
		b.groupModesDC(ctx, n, g)
	}
}

// timeReads measures a full read and an incremental read (since mark, after change) for cfg.
func timeReads(ctx context.Context, cfg ldap.Config, change func() error) (modeTimes, int, error) {
	var t modeTimes
	src, err := ldap.New(cfg)
	if err != nil {
		return t, 0, err
	}
	start := time.Now()
	snap, err := src.Read(ctx)
	t.full = time.Since(start)
	if err != nil {
		return t, 0, err
	}
	if change == nil || cfg.Incremental.Attribute == "" {
		return t, len(snap.Records), nil
	}
	if err := change(); err != nil {
		return t, 0, err
	}
	cfg.Incremental.Since = snap.HighWater
	if src, err = ldap.New(cfg); err != nil {
		return t, 0, err
	}
	start = time.Now()
	delta, err := src.Read(ctx)
	t.incremental = time.Since(start)
	if err != nil {
		return t, 0, err
	}
	if delta.Complete {
		return t, 0, fmt.Errorf("the incremental read read everything (%d records)", len(delta.Records))
	}
	return t, len(snap.Records), nil
}

func (b *bench) reportModes(where string, n, g int, plain modeTimes, modes []string, times map[string]modeTimes, errs map[string]error) {
	s := fmt.Sprintf("e) %d users in %d nested groups, %s", n, g, where)
	b.add(s, "plain paged read (no groups): full / incremental (1 changed user)", "—",
		fmt.Sprintf("%s / %s", seconds(plain.full), seconds(plain.incremental)))
	for _, m := range modes {
		if err := errs[m]; err != nil {
			b.add(s, m+": full / incremental", "—", "error: "+firstLine(err.Error()))
			continue
		}
		t := times[m]
		b.add(s, m+": full / incremental, ratio to the plain read", "incremental ≪ full",
			fmt.Sprintf("%s / %s (x%.1f / x%.1f)", seconds(t.full), seconds(t.incremental),
				t.full.Seconds()/plain.full.Seconds(), t.incremental.Seconds()/max(plain.incremental.Seconds(), 1e-3)))
	}
}

func (b *bench) groupModesSlapd(ctx context.Context, n, g int) {
	fmt.Fprintln(os.Stderr, "group modes on slapd ...")
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
	k := 0
	change := func() error {
		k++
		time.Sleep(1100 * time.Millisecond) // modifyTimestamp has one-second resolution
		return srv.MoveDepartment(ctx, seed.Users[k].UID, fmt.Sprint(900+k))
	}
	plainCfg := base
	plainCfg.Groups.Mode = ldap.GroupsNone
	plain, _, err := timeReads(ctx, plainCfg, change)
	if err != nil {
		b.add("e) group resolution on slapd", "plain read", "—", "error: "+firstLine(err.Error()))
		return
	}
	times, errs := map[string]modeTimes{}, map[string]error{}
	modes := []string{ldap.GroupsMemberOf, ldap.GroupsRecursive}
	for _, m := range modes {
		cfg := base
		cfg.Groups.Mode = m
		times[m], _, errs[m] = timeReads(ctx, cfg, change)
	}
	b.reportModes("slapd (InChain needs AD: see the Samba row)", n, g, plain, modes, times, errs)
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
	userDN := func(u int) string { return fmt.Sprintf("CN=bench%05d,OU=Bench,%s", u, samba.BaseDN) }
	groupDN := func(i int) string { return fmt.Sprintf("CN=bgroup%03d,OU=BenchGroups,%s", i, samba.BaseDN) }
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
	fmt.Fprintln(os.Stderr, "group modes on the Samba AD DC (the first run provisions it, minutes) ...")
	t := time.Now()
	dc, err := samba.Start(samba.Options{ExtraLDIF: benchLDIF(n, g)})
	if err != nil {
		b.add("e) group resolution on Samba AD", "time", "—", "error: the DC did not start: "+firstLine(err.Error()))
		return
	}
	defer func() { _ = dc.Stop() }()
	b.notes = append(b.notes, fmt.Sprintf("Samba AD DC with %d bench users ready (template cached or built) in %s.", n, seconds(time.Since(t))))
	admin, err := dc.AdminConn(ctx)
	if err != nil {
		b.add("e) group resolution on Samba AD", "time", "—", "error: "+firstLine(err.Error()))
		return
	}
	defer admin.Close()
	k := 0
	change := func() error {
		k++
		return admin.Modify(&goldap.ModifyRequest{DN: fmt.Sprintf("CN=bench%05d,OU=Bench,%s", k, samba.BaseDN),
			Changes: []goldap.Change{{Operation: goldap.ReplaceAttribute, Modification: goldap.PartialAttribute{Type: "title", Vals: []string{fmt.Sprint("T", k)}}}}})
	}
	base := ldap.Config{
		URL: dc.LDAPSURL, CACertPEM: dc.CACertPEM, BindDN: samba.ServiceDN, BindPassword: samba.ServicePassword,
		BaseDN: "OU=Bench," + samba.BaseDN, UserFilter: ldap.ADUserFilter, IDAttribute: "objectGUID",
		Attributes: []string{"sAMAccountName", "mail", "title"}, PageSize: 1000, ManagerAttribute: "-",
		Incremental: ldap.IncrementalConfig{Attribute: "uSNChanged"},
		Groups:      ldap.GroupsConfig{GroupBaseDN: "OU=BenchGroups," + samba.BaseDN, GroupFilter: ldap.ADGroupFilter},
	}
	plainCfg := base
	plainCfg.Groups.Mode = ldap.GroupsNone
	plain, _, err := timeReads(ctx, plainCfg, change)
	if err != nil {
		b.add("e) group resolution on Samba AD", "plain read", "—", "error: "+firstLine(err.Error()))
		return
	}
	times, errs := map[string]modeTimes{}, map[string]error{}
	modes := []string{ldap.GroupsMemberOf, ldap.GroupsRecursive, ldap.GroupsInChain}
	for _, m := range modes {
		cfg := base
		cfg.Groups.Mode = m
		times[m], _, errs[m] = timeReads(ctx, cfg, change)
	}
	b.reportModes("Samba AD DC", n, g, plain, modes, times, errs)
}
