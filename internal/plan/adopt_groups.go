package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// groupAdoption holds what matchGroupAdoptions decided.
type groupAdoption struct {
	// adopted maps a target group (index into Input.Groups) to the desired group name it is
	// adopted for; its externalId becomes GroupExternalID(marker, name).
	adopted map[int32]string
	// refused holds the desired group names whose match is ambiguous: no group is created or
	// adopted for them, no member added, and no member removed from a group of that name.
	refused map[string]bool
}

// matchGroupAdoptions finds, for each group an applied desired user is in that has no group of the
// operator's yet, the one target group it adopts: the group whose displayName equals the name
// case-insensitively (RFC 7643 §8.7.1: a Group's displayName is not caseExact) and that carries no
// externalId. A name is refused with a Conflict problem when several target groups match, when the
// match carries an externalId (another owner's, or this SyncTarget's under another name), or when
// several desired names match the same group.
func (p *planner) matchGroupAdoptions() {
	if !p.manageGroups || !p.pol.Controls.AdoptGroups {
		return
	}
	var names []string
	seen := map[string]bool{}
	for i := range p.in.Desired {
		if p.status[i] != applied {
			continue
		}
		for _, name := range p.in.Desired[i].Groups {
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			if _, owned := p.groupByOwn[name]; !owned {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	byFold := make(map[string][]int32, len(p.in.Groups))
	for gi := range p.in.Groups {
		key := strings.ToLower(p.in.Groups[gi].DisplayName)
		byFold[key] = append(byFold[key], int32(gi))
	}
	p.adoptG = &groupAdoption{adopted: map[int32]string{}, refused: map[string]bool{}}
	refuse := func(name, msg string) {
		p.adoptG.refused[name] = true
		p.problem("group "+name, model.ReasonConflict, msg+"; neither adopted nor created, no member added")
	}
	claims := map[int32][]string{}
	for _, name := range names {
		cands := byFold[strings.ToLower(name)]
		switch {
		case len(cands) == 0:
			continue // created as usual
		case len(cands) > 1:
			refuse(name, fmt.Sprintf("%d target groups are named %s (displayName is not case-exact)", len(cands), quotedNames(p.in.Groups, cands)))
			continue
		}
		g := &p.in.Groups[cands[0]]
		switch {
		case g.ExternalID == "":
			claims[cands[0]] = append(claims[cands[0]], name)
		case p.isManagedGroup(g.ExternalID):
			refuse(name, fmt.Sprintf("the target group %q is managed by this SyncTarget as %s", g.DisplayName, g.ExternalID))
		default:
			refuse(name, fmt.Sprintf("the target group %q carries the externalId %q of another owner", g.DisplayName, g.ExternalID))
		}
	}
	for _, gi := range slices.Sorted(maps.Keys(claims)) {
		ns := claims[gi]
		g := &p.in.Groups[gi]
		if len(ns) > 1 {
			for _, name := range ns {
				refuse(name, fmt.Sprintf("the target group %q matches %d groups of the directory (%s)", g.DisplayName, len(ns), strings.Join(ns, ", ")))
			}
			continue
		}
		name := ns[0]
		p.adoptG.adopted[gi] = name
		p.groupByOwn[name] = gi
		reason := "matched on displayName"
		if g.DisplayName != name {
			reason = fmt.Sprintf("matched on displayName, the source's %q", name)
		}
		p.add(Action{Kind: KindAdoptGroup, ExternalID: GroupExternalID(p.pol.ExternalIDPrefix, name), Group: g.DisplayName,
			GroupTargetID: g.TargetID, Reason: reason})
	}
}

func quotedNames(groups []model.Group, idx []int32) string {
	out := make([]string, len(idx))
	for i, gi := range idx {
		out[i] = fmt.Sprintf("%q", groups[gi].DisplayName)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// groupAdopted reports whether the target group gi is adopted in this plan.
func (p *planner) groupAdopted(gi int32) bool {
	if p.adoptG == nil {
		return false
	}
	_, ok := p.adoptG.adopted[gi]
	return ok
}

// groupRefused reports whether the desired group name was refused adoption.
func (p *planner) groupRefused(name string) bool {
	return p.adoptG != nil && p.adoptG.refused[name]
}

// keepsRefused reports whether one of names was refused adoption and is the displayName of g
// (case-insensitively): the person may belong there, so no membership of g is removed for them.
func (p *planner) keepsRefused(names []string, g *model.Group) bool {
	if p.adoptG == nil || len(p.adoptG.refused) == 0 {
		return false
	}
	return slices.ContainsFunc(names, func(n string) bool { return p.adoptG.refused[n] && strings.EqualFold(n, g.DisplayName) })
}
