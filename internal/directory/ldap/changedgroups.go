package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Membership changes in an incremental read. Adding a person to a group changes the group, not the
// person (AD keeps memberOf as a back link), so the people whose groups changed are not among the
// entries changed since the mark. Given the snapshot the delta is merged into (ReadDelta), the read
// finds the groups changed since the mark and reads again:
//
//   - the people now below a changed group (its members, through nested groups the way the groups
//     mode nests them): they may have gained the group and its ancestors;
//   - the people the base snapshot has in a changed group, or in a group that no longer exists
//     (deleted, renamed, moved): they may have lost it.
//
// Why that is enough: a person who lost group G lost it on every path; on one old path take the
// removal nearest to G, made in group C. C changed; if C is listed the person had C, else G is
// still above C and the person had G, and every listed group above a changed unlisted group counts
// as changed. A person who gained G has a new path whose added edge sits in a changed group C, and
// the person is now below C.
//
// Anything else reads everything: changes too large to be worth re-reading one by one, or a read
// without a base snapshot.

// rereadPlan is what the membership changes add to an incremental read.
type rereadPlan struct {
	// people are the entries of the people read again (user filter and attributes).
	people []*ldap.Entry
	// groupMark is the latest Incremental.Attribute value of the changed groups under GroupBaseDN,
	// searched before the people; a modifyTimestamp mark moves past it.
	groupMark string
	// groupsUnchanged: no group changed since the mark and no person of the base snapshot may have
	// lost one, so the groups are as the base snapshot has them (see keptGroups).
	groupsUnchanged bool
}

// rereadLimit is the largest number of people (or groups walked) read one by one; beyond it a full
// read, which streams every entry in pages, is cheaper.
func rereadLimit(base int) int { return max(base/10, 200) }

// fullRead stops the plan when a full read is needed or cheaper; its text is the reason.
type fullRead struct{ why string }

func (f fullRead) Error() string { return f.why }

// membershipChanges finds the groups changed since m and, with a base snapshot, reads the people
// whose groups they may have changed. why is non-empty when the read must be full instead.
func (s *Source) membershipChanges(ctx context.Context, c *conn, m mark, base *model.Snapshot) (plan rereadPlan, why string, err error) {
	attr := s.cfg.Incremental.Attribute
	since := Clause{Attribute: attr, Op: OpGreaterOrEqual, Value: m.value}
	filter, err := BuildFilter(s.cfg.Groups.GroupFilter, since)
	if err != nil {
		return plan, "", err
	}
	changed := map[string]string{} // normDN -> DN of the changed groups
	var order []string
	note := func(dn string) {
		if k := normDN(dn); changed[k] == "" {
			changed[k] = dn
			order = append(order, k)
		}
	}
	err = s.pagedSearch(ctx, c, s.cfg.Groups.GroupBaseDN, ldap.ScopeWholeSubtree, filter, []string{attr}, func(e *ldap.Entry) {
		note(e.DN)
		for _, v := range e.GetEqualFoldAttributeValues(attr) {
			if plan.groupMark == "" || laterMark(v, plan.groupMark) {
				plan.groupMark = v
			}
		}
	})
	if err != nil {
		return plan, "", err
	}
	// On AD any group can link a person to a listed group (InChain: through its memberOf) or be
	// one of a person's direct groups (MemberOf): changed groups anywhere in the domain count.
	if c.root.activeDirectory && c.root.defaultNC != "" && s.cfg.Groups.Mode != GroupsRecursive {
		f, err := BuildFilter("(objectClass=group)", since)
		if err != nil {
			return plan, "", err
		}
		if err := s.pagedSearch(ctx, c, c.root.defaultNC, ldap.ScopeWholeSubtree, f, []string{"1.1"}, func(e *ldap.Entry) { note(e.DN) }); err != nil {
			return plan, "", err
		}
	}
	if base == nil || len(base.Records) == 0 {
		if len(order) > 0 {
			return plan, "group " + changed[order[0]] + " changed since the last read", nil
		}
		return plan, "", nil
	}
	r, err := s.newRereader(ctx, c, base)
	if err != nil {
		return plan, "", err
	}
	err = r.vanishedGroups()
	for _, k := range order {
		if err != nil {
			break
		}
		err = r.changedGroup(k, changed[k])
	}
	var fr fullRead
	if errors.As(err, &fr) {
		return plan, fr.why, nil
	}
	if err != nil {
		return plan, "", err
	}
	plan.people = r.people
	plan.groupsUnchanged = len(order) == 0 && len(r.people) == 0
	return plan, "", nil
}

// keptGroups gives recs (an incremental read's people) the groups the base snapshot has for them,
// for Recursive mode when no group changed since the mark: a person's groups then depend only on
// the unchanged groups and on the person's DN. It does nothing and returns false unless every
// record is in base under the same DN: a new or renamed person's groups are resolved as usual.
// It spares listing every group with its members for a read of a few changed people. The base
// records are sorted by ID (finish, and directory.Incremental's merge); were they not, a person
// would not be found and be resolved as usual.
func keptGroups(base *model.Snapshot, recs []model.Record) bool {
	if base == nil {
		return false
	}
	from := make([]*model.Record, len(recs))
	for i := range recs {
		j, found := slices.BinarySearchFunc(base.Records, recs[i].ID, func(r model.Record, id string) int { return strings.Compare(r.ID, id) })
		if !found || normDN(base.Records[j].DN) != normDN(recs[i].DN) {
			return false
		}
		from[i] = &base.Records[j]
	}
	for i, b := range from {
		recs[i].Groups, recs[i].GroupDNs = slices.Clone(b.Groups), slices.Clone(b.GroupDNs)
	}
	return true
}

// rereader reads the people whose groups may have changed.
type rereader struct {
	s      *Source
	ctx    context.Context
	c      *conn
	base   *model.Snapshot
	filter string          // the user filter
	listed map[string]bool // normDNs of the groups under GroupBaseDN matching GroupFilter
	// byGroup maps a group's normDN to the base records (indexes) that have it; groupDN keeps a DN.
	byGroup map[string][]int
	groupDN map[string]string
	person  map[string]bool     // normDN -> read already, and whether it is a person in scope
	walked  map[string]bool     // groups whose members were read
	parents map[string][]string // InChain: normDN -> memberOf values, read once
	people  []*ldap.Entry
	limit   int
}

func (s *Source) newRereader(ctx context.Context, c *conn, base *model.Snapshot) (*rereader, error) {
	filter, err := BuildFilter(s.cfg.UserFilter)
	if err != nil {
		return nil, err
	}
	r := &rereader{s: s, ctx: ctx, c: c, base: base, filter: filter, listed: map[string]bool{}, byGroup: map[string][]int{},
		groupDN: map[string]string{}, person: map[string]bool{}, walked: map[string]bool{}, parents: map[string][]string{},
		limit: rereadLimit(len(base.Records))}
	if s.rereadMax > 0 {
		r.limit = s.rereadMax
	}
	err = s.pagedSearch(ctx, c, s.cfg.Groups.GroupBaseDN, ldap.ScopeWholeSubtree, s.cfg.Groups.GroupFilter, []string{"1.1"},
		func(e *ldap.Entry) { r.listed[normDN(e.DN)] = true })
	if err != nil {
		return nil, err
	}
	keys := map[string]string{} // GroupDNs value -> normDN: a few distinct groups, met once per member
	for i, rec := range base.Records {
		for _, g := range rec.GroupDNs {
			k, ok := keys[g]
			if !ok {
				k = normDN(g)
				keys[g] = k
				r.groupDN[k] = g
			}
			r.byGroup[k] = append(r.byGroup[k], i)
		}
	}
	return r, nil
}

// read reads dn as a person (base search with the user filter) once; it reports whether it is a
// person in scope. A DN outside BaseDN and Scope is never read as a person.
func (r *rereader) read(dn string) (bool, error) {
	k := normDN(dn)
	if p, ok := r.person[k]; ok {
		return p, nil
	}
	r.person[k] = false
	if !r.s.inUserScope(dn) {
		return false, nil
	}
	if len(r.person) > r.limit {
		return false, fullRead{fmt.Sprintf("more than %d people may have changed groups", r.limit)}
	}
	e, err := r.baseEntry(dn, r.filter, r.s.userAttributes())
	if err != nil || e == nil {
		return false, err
	}
	r.person[k] = true
	r.people = append(r.people, e)
	return true, nil
}

// formerMembers reads the base records that have group key.
func (r *rereader) formerMembers(key string) error {
	for _, i := range r.byGroup[key] {
		if _, err := r.read(r.base.Records[i].DN); err != nil {
			return err
		}
	}
	return nil
}

// changedGroup reads the people a change of group dn may have affected.
func (r *rereader) changedGroup(key, dn string) error {
	mode := r.s.cfg.Groups.Mode
	if !r.listed[key] {
		if mode == GroupsRecursive {
			return nil // Recursive nests through listed groups only
		}
		if mode == GroupsInChain {
			// An unlisted group links people to the listed groups above it: the people in those
			// groups may have lost them through it.
			above, err := r.ancestors(dn)
			if err != nil {
				return err
			}
			for _, a := range above {
				if err := r.formerMembers(a); err != nil {
					return err
				}
			}
		}
	}
	if err := r.formerMembers(key); err != nil {
		return err
	}
	return r.walk(dn)
}

// ancestors returns the normDNs of every group above the group (through memberOf).
func (r *rereader) ancestors(dn string) ([]string, error) {
	var out []string
	visited := map[string]bool{normDN(dn): true}
	queue := []string{dn}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		k := normDN(cur)
		ps, ok := r.parents[k]
		if !ok {
			e, err := r.baseEntry(cur, "(objectClass=*)", []string{"memberOf"})
			if err != nil {
				return nil, err
			}
			if e != nil {
				ps = e.GetEqualFoldAttributeValues("memberOf")
			}
			r.parents[k] = ps
			if len(r.parents) > r.limit {
				return nil, fullRead{fmt.Sprintf("more than %d groups are above changed groups", r.limit)}
			}
		}
		for _, p := range ps {
			if pk := normDN(p); !visited[pk] {
				visited[pk] = true
				out = append(out, pk)
				queue = append(queue, p)
			}
		}
	}
	return out, nil
}

// walk reads the people below group dn, through nested groups as the mode nests them: none for
// MemberOf (direct groups only), listed groups for Recursive, any group for InChain.
func (r *rereader) walk(dn string) error {
	mode := r.s.cfg.Groups.Mode
	queue := []string{dn}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		k := normDN(cur)
		if r.walked[k] {
			continue
		}
		r.walked[k] = true
		if len(r.walked) > r.limit {
			return fullRead{fmt.Sprintf("more than %d groups are below changed groups", r.limit)}
		}
		members, err := r.members(cur)
		if err != nil {
			return err
		}
		for _, m := range members {
			if r.listed[normDN(m)] {
				if mode != GroupsMemberOf {
					queue = append(queue, m)
				}
				continue
			}
			isPerson, err := r.read(m)
			if err != nil {
				return err
			}
			if !isPerson && mode == GroupsInChain {
				queue = append(queue, m) // maybe a group outside the listing that nests people
			}
		}
	}
	return nil
}

// members reads every member and uniqueMember value of an entry (range retrieval included); an
// entry that does not exist has none.
func (r *rereader) members(dn string) ([]string, error) {
	e, err := r.baseEntry(dn, "(objectClass=*)", []string{"objectClass", "member", "uniqueMember"})
	if err != nil || e == nil {
		return nil, err
	}
	var out []string
	for _, attr := range []string{"member", "uniqueMember"} {
		vals, err := r.s.allValues(r.ctx, r.c, e, attr)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			out = append(out, stripUID(v))
		}
	}
	return out, nil
}

// vanishedGroups reads the former members of the base's groups that no longer exist under their
// DN (deleted, renamed or moved); a group that exists but is no longer listed changed, and
// changedGroup sees it.
func (r *rereader) vanishedGroups() error {
	for key := range r.byGroup {
		if r.listed[key] {
			continue
		}
		e, err := r.baseEntry(r.groupDN[key], "(objectClass=*)", []string{"1.1"})
		if err != nil {
			return err
		}
		if e == nil {
			if err := r.formerMembers(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// baseEntry reads one entry; nil when it does not exist or does not match filter.
func (r *rereader) baseEntry(dn, filter string, attrs []string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, r.s.timeLimit(), false, filter, attrs, nil)
	res, err := r.c.Search(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(r.ctx, err, "read "+dn)
	}
	if len(res.Entries) != 1 {
		return nil, nil
	}
	return res.Entries[0], nil
}

// inUserScope reports whether dn is within BaseDN and Scope: a member elsewhere is not a person of
// this source.
func (s *Source) inUserScope(dn string) bool {
	p, err := parseDN(dn)
	b, berr := parseDN(s.cfg.BaseDN)
	if err != nil || berr != nil {
		return false
	}
	depth := len(p.RDNs) - len(b.RDNs)
	if depth < 0 || !(&ldap.DN{RDNs: p.RDNs[depth:]}).EqualFold(b) {
		return false
	}
	switch s.cfg.Scope {
	case ScopeBase:
		return depth == 0
	case ScopeOne:
		return depth == 1
	}
	return true
}
