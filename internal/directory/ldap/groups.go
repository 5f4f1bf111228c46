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
	dn      string
	name    string
	members []string // normalised member DNs (recursive mode)
}

// resolveGroups fills Groups and GroupDNs of recs according to the groups mode. memberOf holds the
// memberOf values per record index in memberOf mode.
func (s *Source) resolveGroups(ctx context.Context, c *conn, recs []model.Record, memberOf map[int][]string) error {
	switch s.cfg.Groups.Mode {
	case GroupsMemberOf:
		names := map[string]string{}
		for i := range recs {
			var gs []*group
			for _, dn := range memberOf[i] {
				key := normDN(dn)
				if _, ok := names[key]; !ok {
					names[key] = s.groupName(ctx, c, dn)
				}
				gs = append(gs, &group{dn: dn, name: names[key]})
			}
			setGroups(&recs[i], gs)
		}
	case GroupsInChain:
		return s.resolveInChain(ctx, c, recs)
	case GroupsRecursive:
		return s.resolveRecursive(ctx, c, recs)
	}
	return nil
}

// groupName returns the group's NameAttribute: from the RDN when it is that attribute, else read
// from the entry; the DN itself when neither works.
func (s *Source) groupName(ctx context.Context, c *conn, dn string) string {
	if v, ok := rdnValue(dn, s.cfg.Groups.NameAttribute); ok {
		return v
	}
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
		"(objectClass=*)", []string{s.cfg.Groups.NameAttribute}, nil)
	if res, err := c.Search(req); err == nil && len(res.Entries) == 1 {
		if v := res.Entries[0].GetEqualFoldAttributeValue(s.cfg.Groups.NameAttribute); v != "" {
			return v
		}
	} else if ctx.Err() == nil {
		s.log.V(1).Info("cannot read group name", "dn", dn, "error", err)
	}
	return dn
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
	return &group{dn: e.DN, name: name}
}

// resolveInChain asks the server (AD) for each group's transitive user members with
// LDAP_MATCHING_RULE_IN_CHAIN, so nesting and cycles are the server's business.
func (s *Source) resolveInChain(ctx context.Context, c *conn, recs []model.Record) error {
	entries, err := s.listGroups(ctx, c)
	if err != nil {
		return err
	}
	byDN := recordsByDN(recs)
	memberships := make([][]*group, len(recs))
	for _, e := range entries {
		g := s.newGroup(e)
		filter, err := BuildFilter(s.cfg.UserFilter, Clause{Attribute: "memberOf", Op: OpInChain, Value: g.dn})
		if err != nil {
			return err
		}
		err = s.pagedSearch(ctx, c, s.cfg.BaseDN, scopes[s.cfg.Scope], filter, []string{"1.1"}, func(u *ldap.Entry) {
			if i, ok := byDN[normDN(u.DN)]; ok {
				memberships[i] = append(memberships[i], g)
			}
		})
		if err != nil {
			return err
		}
	}
	for i := range recs {
		setGroups(&recs[i], memberships[i])
	}
	return nil
}

// resolveRecursive reads every group's member and uniqueMember values (with AD range retrieval)
// and expands nested groups; cycles are harmless because each group is visited once.
func (s *Source) resolveRecursive(ctx context.Context, c *conn, recs []model.Record) error {
	entries, err := s.listGroups(ctx, c, "member", "uniqueMember")
	if err != nil {
		return err
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
				return err
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
	for i := range recs {
		var gs []*group
		for _, g := range parents[normDN(recs[i].DN)] {
			gs = append(gs, ancestors(g)...)
		}
		setGroups(&recs[i], gs)
	}
	return nil
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
		if key := normDN(g.dn); !seen[key] {
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
			req := ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
				"(objectClass=*)", []string{fmt.Sprintf("%s;range=%d-*", attr, next)}, nil)
			res, err := c.Search(req)
			if err != nil {
				return nil, classify(ctx, err, "range retrieval of "+attr+" on "+e.DN)
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
