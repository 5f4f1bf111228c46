package ldap

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// group is a group entry as far as membership resolution needs it.
type group struct {
	dn   string
	name string
	key  string // normDN(dn), computed once: setGroups meets each group once per member
}

// entryExtra is what group and manager resolution need from a user entry besides its record.
type entryExtra struct {
	memberOf   []string // memberOf values (memberOf mode)
	primarySID string   // SID of the primary group (AD primaryGroupID within the user's domain)
	managerDN  string
}

// resolveGroups fills Groups and GroupDNs of recs according to the groups mode, plus the primary
// group when configured. extras is indexed like recs.
func (s *Source) resolveGroups(ctx context.Context, c *conn, recs []model.Record, extras []entryExtra) error {
	var (
		memberships [][]*group
		err         error
	)
	switch s.cfg.Groups.Mode {
	case GroupsMemberOf:
		memberships, err = s.resolveMemberOf(ctx, c, recs, extras)
	case GroupsInChain:
		memberships, err = s.resolveInChain(ctx, c, recs, extras)
	case GroupsRecursive:
		memberships, err = s.resolveRecursive(ctx, c, recs)
	}
	if err != nil {
		return err
	}
	if s.cfg.Groups.PrimaryGroup {
		if memberships == nil {
			memberships = make([][]*group, len(recs))
		}
		if err := s.addPrimaryGroups(ctx, c, recs, extras, memberships); err != nil {
			return err
		}
	}
	if memberships != nil {
		for i := range recs {
			setGroups(&recs[i], memberships[i])
		}
	}
	return nil
}

// resolveMemberOf names the groups of each record's memberOf values (direct memberships).
func (s *Source) resolveMemberOf(ctx context.Context, c *conn, recs []model.Record, extras []entryExtra) ([][]*group, error) {
	memberships := make([][]*group, len(recs))
	byKey := map[string]*group{}
	keys := map[string]string{} // memberOf value -> normDN
	for i := range recs {
		for _, dn := range extras[i].memberOf {
			key, ok := keys[dn]
			if !ok {
				key = normDN(dn)
				keys[dn] = key
			}
			g := byKey[key]
			if g == nil {
				name, err := s.groupName(ctx, c, dn)
				if err != nil {
					return nil, err
				}
				g = &group{dn: dn, name: name, key: key}
				byKey[key] = g
			}
			memberships[i] = append(memberships[i], g)
		}
	}
	return memberships, nil
}

// groupName returns the group's NameAttribute: from the RDN when it is that attribute, else read
// from the entry. A group whose name cannot be read is an error (KindIncomplete): reporting its DN
// as its name would rename the group in the target.
func (s *Source) groupName(ctx context.Context, c *conn, dn string) (string, error) {
	if v, ok := rdnValue(dn, s.cfg.Groups.NameAttribute); ok {
		return v, nil
	}
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
		"(objectClass=*)", []string{s.cfg.Groups.NameAttribute}, nil)
	res, err := c.Search(req)
	if err != nil {
		err = classify(ctx, err, "read the name of group "+dn)
		if ctx.Err() != nil || directory.KindOf(err) == directory.KindUnreachable {
			return "", err
		}
		return "", directory.Errorf(directory.KindIncomplete, err, "cannot read the %s of group %s", s.cfg.Groups.NameAttribute, dn)
	}
	if len(res.Entries) == 1 {
		if v := res.Entries[0].GetEqualFoldAttributeValue(s.cfg.Groups.NameAttribute); v != "" {
			return v, nil
		}
	}
	return "", directory.Errorf(directory.KindIncomplete, nil,
		"group %s has no readable %s (missing, or hidden from the bind account)", dn, s.cfg.Groups.NameAttribute)
}

// listGroups reads the groups under GroupBaseDN matching GroupFilter, with the extra attributes.
func (s *Source) listGroups(ctx context.Context, c *conn, extra ...string) ([]*ldap.Entry, error) {
	var entries []*ldap.Entry
	attrs := append([]string{s.cfg.Groups.NameAttribute}, extra...)
	err := s.pagedSearch(ctx, c, s.cfg.Groups.GroupBaseDN, ldap.ScopeWholeSubtree, s.cfg.Groups.GroupFilter, attrs,
		func(e *ldap.Entry) { entries = append(entries, e) })
	return entries, err
}

func (s *Source) newGroup(e *ldap.Entry) *group {
	name := e.GetEqualFoldAttributeValue(s.cfg.Groups.NameAttribute)
	if name == "" {
		name, _ = rdnValue(e.DN, s.cfg.Groups.NameAttribute)
	}
	if name == "" {
		name = e.DN
	}
	return &group{dn: e.DN, name: name, key: normDN(e.DN)}
}

// resolveInChain resolves nested memberships the Active Directory way, at a cost that follows the
// users read: it walks up from each user's memberOf through the groups' own memberOf values (one
// listing of the groups, plus a read of any group outside groupBaseDN met on the way), with no
// search per user. Asking the server once per group with LDAP_MATCHING_RULE_IN_CHAIN gives the same
// answer but costs a full scan per group (16 s for 44 groups on a real DC, 777 s for 50 groups and
// 2,000 users on Samba: make bench); it is kept as a strategy tests compare against.
func (s *Source) resolveInChain(ctx context.Context, c *conn, recs []model.Record, extras []entryExtra) ([][]*group, error) {
	if !c.root.activeDirectory {
		return nil, directory.Errorf(directory.KindInvalidConfig, nil,
			"groups mode InChain needs Active Directory's LDAP_MATCHING_RULE_IN_CHAIN, and this server does not "+
				"announce Active Directory (supportedCapabilities lacks %s): use groups mode Recursive or MemberOf", capActiveDirectory)
	}
	memberships := make([][]*group, len(recs))
	if len(recs) == 0 {
		return memberships, nil
	}
	entries, err := s.listGroups(ctx, c, "memberOf")
	if err != nil {
		return nil, err
	}
	groups := make(map[string]*group, len(entries))
	parents := map[string][]string{} // group normDN -> normDNs of the groups it is a member of
	for _, e := range entries {
		g := s.newGroup(e)
		key := normDN(g.dn)
		groups[key] = g
		for _, p := range e.GetEqualFoldAttributeValues("memberOf") {
			parents[key] = append(parents[key], normDN(p))
		}
	}
	if !s.chainPerUser(len(recs), len(entries)) {
		byDN := recordsByDN(recs)
		for _, e := range entries {
			g := groups[normDN(e.DN)]
			filter, err := BuildFilter(s.cfg.UserFilter, Clause{Attribute: "memberOf", Op: OpInChain, Value: g.dn})
			if err != nil {
				return nil, err
			}
			err = s.pagedSearch(ctx, c, s.cfg.BaseDN, scopes[s.cfg.Scope], filter, []string{"1.1"}, func(u *ldap.Entry) {
				if i, ok := byDN[normDN(u.DN)]; ok {
					memberships[i] = append(memberships[i], g)
				}
			})
			if err != nil {
				return nil, err
			}
		}
		return memberships, nil
	}
	// Groups outside the listing (another base, or filtered out) can still link a user to a listed
	// group; their memberOf is read once when met.
	parentsOf := func(key, dn string) ([]string, error) {
		if ps, ok := parents[key]; ok || groups[key] != nil {
			return ps, nil
		}
		req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
			"(objectClass=*)", []string{"memberOf"}, nil)
		res, err := c.Search(req)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			parents[key] = nil
			return nil, nil
		}
		if err != nil {
			return nil, classify(ctx, err, "read the groups of group "+dn)
		}
		var ps []string
		if len(res.Entries) == 1 {
			for _, p := range res.Entries[0].GetEqualFoldAttributeValues("memberOf") {
				ps = append(ps, normDN(p))
			}
		}
		parents[key] = ps
		return ps, nil
	}
	dnOf := map[string]string{}
	for i := range recs {
		visited := map[string]bool{}
		var queue []string
		for _, dn := range extras[i].memberOf {
			key := normDN(dn)
			dnOf[key] = dn
			queue = append(queue, key)
		}
		for len(queue) > 0 {
			key := queue[0]
			queue = queue[1:]
			if visited[key] {
				continue
			}
			visited[key] = true
			if g := groups[key]; g != nil {
				memberships[i] = append(memberships[i], g)
			}
			ps, err := parentsOf(key, dnOf[key])
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if _, ok := dnOf[p]; !ok {
					dnOf[p] = p // normalised DNs are valid DNs
				}
				queue = append(queue, p)
			}
		}
	}
	return memberships, nil
}

// chainPerUser picks the walk from the users' memberOf (true, always outside tests) over one
// chain search per group.
func (s *Source) chainPerUser(users, groups int) bool {
	return s.inChainStrategy != "group"
}

// addPrimaryGroups adds each record's primary group (AD's primaryGroupID, usually "Domain Users",
// which never appears in member/memberOf). sids holds the record's objectSid per index; the group
// is found by its SID, wherever it lives.
func (s *Source) addPrimaryGroups(ctx context.Context, c *conn, recs []model.Record, extras []entryExtra, memberships [][]*group) error {
	byRID := map[string]*group{}
	for i := range recs {
		sid := extras[i].primarySID
		if sid == "" {
			continue
		}
		g, ok := byRID[sid]
		if !ok {
			req := ldap.NewSearchRequest("<SID="+sid+">", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
				"(objectClass=*)", []string{s.cfg.Groups.NameAttribute}, nil)
			res, err := c.Search(req)
			if err != nil || len(res.Entries) != 1 {
				if err != nil && (ctx.Err() != nil || directory.KindOf(classify(ctx, err, "")) == directory.KindUnreachable) {
					return classify(ctx, err, "read primary group "+sid)
				}
				return directory.Errorf(directory.KindIncomplete, err, "cannot read the primary group %s of %s", sid, recs[i].DN)
			}
			g = s.newGroup(res.Entries[0])
			byRID[sid] = g
		}
		memberships[i] = append(memberships[i], g)
	}
	return nil
}

// resolveRecursive reads every group's member and uniqueMember values (with AD range retrieval)
// and expands nested groups; cycles are harmless because each group is visited once.
func (s *Source) resolveRecursive(ctx context.Context, c *conn, recs []model.Record) ([][]*group, error) {
	s.groupListings.Add(1)
	entries, err := s.listGroups(ctx, c, "member", "uniqueMember")
	if err != nil {
		return nil, err
	}
	groups := map[string]*group{}    // normDN -> group
	parents := map[string][]string{} // member normDN -> group normDNs
	for _, e := range entries {
		g := s.newGroup(e)
		key := normDN(g.dn)
		groups[key] = g
		for _, attr := range []string{"member", "uniqueMember"} {
			vals, err := s.allValues(ctx, c, e, attr)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				m := normDN(stripUID(v))
				parents[m] = append(parents[m], key)
			}
		}
	}
	closure := map[string][]*group{} // group normDN -> itself and all its ancestors
	ancestors := func(start string) []*group {
		if gs, ok := closure[start]; ok {
			return gs
		}
		var out []*group
		visited := map[string]bool{start: true}
		queue := []string{start}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			out = append(out, groups[cur])
			for _, p := range parents[cur] {
				if !visited[p] {
					visited[p] = true
					queue = append(queue, p)
				}
			}
		}
		closure[start] = out
		return out
	}
	memberships := make([][]*group, len(recs))
	for i := range recs {
		for _, g := range parents[normDN(recs[i].DN)] {
			memberships[i] = append(memberships[i], ancestors(g)...)
		}
	}
	return memberships, nil
}

func recordsByDN(recs []model.Record) map[string]int {
	m := make(map[string]int, len(recs))
	for i, r := range recs {
		m[normDN(r.DN)] = i
	}
	return m
}

// setGroups stores the sorted, deduplicated names and DNs of gs in rec.
func setGroups(rec *model.Record, gs []*group) {
	rec.Groups, rec.GroupDNs = nil, nil
	seen := map[string]bool{}
	for _, g := range gs {
		if key := g.key; !seen[key] {
			seen[key] = true
			rec.Groups = append(rec.Groups, g.name)
			rec.GroupDNs = append(rec.GroupDNs, g.dn)
		}
	}
	slices.Sort(rec.Groups)
	rec.Groups = slices.Compact(rec.Groups)
	slices.Sort(rec.GroupDNs)
}

// parseRange splits an AD range-retrieval attribute description such as "member;range=0-1499" or
// "member;range=1500-*" into the attribute, the first index and the last index (-1 for "*").
func parseRange(desc string) (attr string, low, high int, ok bool) {
	parts := strings.Split(desc, ";")
	var rest []string
	found := false
	for _, p := range parts[1:] {
		spec, isRange := strings.CutPrefix(strings.ToLower(p), "range=")
		if !isRange {
			rest = append(rest, p)
			continue
		}
		lo, hi, dash := strings.Cut(spec, "-")
		l, err := strconv.Atoi(lo)
		if !dash || err != nil || l < 0 {
			return "", 0, 0, false
		}
		h := -1
		if hi != "*" {
			if h, err = strconv.Atoi(hi); err != nil || h < l {
				return "", 0, 0, false
			}
		}
		low, high, found = l, h, true
	}
	if !found {
		return "", 0, 0, false
	}
	return strings.Join(append([]string{parts[0]}, rest...), ";"), low, high, true
}

// maxRangeRounds bounds range retrieval so that a misbehaving server cannot loop us forever.
const maxRangeRounds = 100000

// allValues returns every value of attr in e, following AD range retrieval: when the server
// returns "member;range=0-1499" instead of "member", the next ranges are read until "-*".
func (s *Source) allValues(ctx context.Context, c *conn, e *ldap.Entry, attr string) ([]string, error) {
	vals := slices.Clone(e.GetEqualFoldAttributeValues(attr))
	for _, a := range e.Attributes {
		base, _, high, ok := parseRange(a.Name)
		if !ok || !strings.EqualFold(base, attr) {
			continue
		}
		vals = append(vals, a.Values...)
		for round := 0; high >= 0; round++ {
			if round == maxRangeRounds {
				return nil, directory.Errorf(directory.KindInternal, nil, "range retrieval of %s on %s does not end", attr, e.DN)
			}
			next := high + 1
			// objectClass is asked for too: Samba drops the entry from a base search with the filter
			// (objectClass=*) whose only requested attribute is a range.
			req := ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
				"(objectClass=*)", []string{"objectClass", fmt.Sprintf("%s;range=%d-*", attr, next)}, nil)
			res, err := c.Search(req)
			if err != nil {
				return nil, classify(ctx, err, "range retrieval of "+attr+" on "+e.DN)
			}
			if res == nil || len(res.Entries) != 1 {
				return nil, directory.Errorf(directory.KindIncomplete, nil,
					"range retrieval of %s on %s: the server did not return the entry for values from %d", attr, e.DN, next)
			}
			high = -1
			for _, ra := range entryAttributes(res) {
				b, lo, hi, ok := parseRange(ra.Name)
				if !ok || !strings.EqualFold(b, attr) {
					continue
				}
				if lo != next {
					return nil, directory.Errorf(directory.KindInternal, nil,
						"range retrieval of %s on %s: asked from %d, got %s", attr, e.DN, next, ra.Name)
				}
				vals = append(vals, ra.Values...)
				high = hi
			}
		}
	}
	return vals, nil
}

func entryAttributes(res *ldap.SearchResult) []*ldap.EntryAttribute {
	if res == nil || len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0].Attributes
}
