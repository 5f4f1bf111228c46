package plan

import (
	"fmt"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Adoption lets the planner take over target users that no SyncTarget owns yet.
type Adoption struct {
	// MatchOn lists the attributes (Match*) tried in order: the first one for which the desired user
	// has a value and some target user matches decides.
	MatchOn []string
}

// Matching attributes of Adoption.MatchOn. userName and email compare case-insensitively (RFC 7643
// §4.1.1 and §4.1.2 declare them caseExact=false); employeeNumber and externalId exactly. externalId
// matches a target user whose externalId is the directory id without the ownership marker.
const (
	MatchUserName       = "userName"
	MatchEmail          = "email"
	MatchEmployeeNumber = "employeeNumber"
	MatchExternalID     = "externalId"
)

// FieldExternalID is what an Adopt action writes besides its Fields: the ownership marker.
const FieldExternalID = model.FieldExternalID

// adoption holds what matchAdoptions decided.
type adoption struct {
	index map[string]map[string][]int32 // attribute → normalized value → target users
	// byDesired maps a desired user to the target user it adopts.
	byDesired map[int32]int32
	// byActual maps an adopted target user to the externalId it gets.
	byActual map[int32]string
	// refused holds the desired users whose match is ambiguous (reported, neither adopted nor created).
	refused map[int32]bool
}

func matchValue(attr string, u *model.User, prefix string) string {
	switch attr {
	case MatchUserName:
		return strings.ToLower(u.UserName)
	case MatchEmail:
		return strings.ToLower(u.Email)
	case MatchEmployeeNumber:
		return u.EmployeeNumber
	case MatchExternalID:
		if id, ok := strings.CutPrefix(u.ExternalID, prefix); ok {
			return id
		}
		return u.ExternalID
	}
	return ""
}

// matchAdoptions finds, for each applied desired user without a managed target user, the one target
// user it adopts. A match is refused with a Conflict problem when several target users match, when
// the candidate is owned (by this SyncTarget under another id, by another SyncTarget, or carries any
// other externalId), or when several desired users match the same candidate.
func (p *planner) matchAdoptions() {
	ad := p.pol.Controls.Adoption
	if ad == nil || len(ad.MatchOn) == 0 {
		return
	}
	p.adopt = &adoption{index: map[string]map[string][]int32{}, byDesired: map[int32]int32{},
		byActual: map[int32]string{}, refused: map[int32]bool{}}
	for _, attr := range ad.MatchOn {
		idx := map[string][]int32{}
		for i := range p.in.Actual {
			raw := p.in.Actual[i].ExternalID
			if attr == MatchExternalID {
				// a target user's externalId is compared as it is
				if raw != "" {
					idx[raw] = append(idx[raw], int32(i))
				}
				continue
			}
			if v := matchValue(attr, &p.in.Actual[i], p.pol.ExternalIDPrefix); v != "" {
				idx[v] = append(idx[v], int32(i))
			}
		}
		p.adopt.index[attr] = idx
	}
	claims := map[int32][]int32{} // target user → desired users matching it
	for i := range p.in.Desired {
		di := int32(i)
		d := &p.in.Desired[i]
		if p.status[i] != applied || !d.Active {
			continue
		}
		if p.targetOf[i] != noTarget {
			continue
		}
		ai, msg := p.adoptionCandidate(d)
		switch {
		case msg != "":
			p.adopt.refused[di] = true
			p.problem(d.UserName, model.ReasonConflict, msg+"; neither adopted nor created")
		case ai >= 0:
			claims[ai] = append(claims[ai], di)
		}
	}
	for ai, dis := range claims {
		if len(dis) == 1 {
			p.adopt.byDesired[dis[0]] = ai
			p.adopt.byActual[ai] = p.in.Desired[dis[0]].ExternalID
			continue
		}
		for _, di := range dis {
			p.adopt.refused[di] = true
			p.problem(p.in.Desired[di].UserName, model.ReasonConflict, fmt.Sprintf(
				"target user %s matches %d people of the directory; neither adopted nor created", p.in.Actual[ai].UserName, len(dis)))
		}
	}
}

// adoptionCandidate returns the target user d would adopt (-1 for none) or why the match is refused.
func (p *planner) adoptionCandidate(d *model.User) (int32, string) {
	for _, attr := range p.pol.Controls.Adoption.MatchOn {
		v := matchValue(attr, d, p.pol.ExternalIDPrefix)
		if v == "" {
			continue
		}
		cands := p.adopt.index[attr][v]
		switch {
		case len(cands) == 0:
			continue
		case len(cands) > 1:
			return -1, fmt.Sprintf("%d target users match on %s", len(cands), attr)
		}
		ai := cands[0]
		a := &p.in.Actual[ai]
		switch {
		case a.ExternalID == "":
		case attr == MatchExternalID:
			// the target user carries the bare directory id: someone provisioned it by that id
		case p.isManaged(a.ExternalID):
			return -1, fmt.Sprintf("the target user matching on %s (%s) is managed by this SyncTarget as %s", attr, a.UserName, a.ExternalID)
		default:
			return -1, fmt.Sprintf("the target user matching on %s (%s) carries the externalId %q of another owner", attr, a.UserName, a.ExternalID)
		}
		return ai, ""
	}
	return -1, ""
}

// adoptedOwner returns the externalId an adopted target user gets, or "".
func (p *planner) adoptedOwner(ai int32) string {
	if p.adopt == nil {
		return ""
	}
	return p.adopt.byActual[ai]
}

// ownerOf is the externalId a target user has once this plan is applied.
func (p *planner) ownerOf(ai int32) string {
	if ext := p.adoptedOwner(ai); ext != "" {
		return ext
	}
	return p.in.Actual[ai].ExternalID
}

// adoptedTarget returns the target user desired user di adopts, and whether the match was refused.
func (p *planner) adoptedTarget(di int32) (ai int32, found, refused bool) {
	if p.adopt == nil {
		return -1, false, false
	}
	if p.adopt.refused[di] {
		return -1, false, true
	}
	ai, found = p.adopt.byDesired[di]
	return ai, found, false
}

// addAdopt plans the adoption of target user a by d: one write of the ownership marker and of the
// managed fields that differ, so that the user is owned and up to date at once.
func (p *planner) addAdopt(d *model.User, a *model.User, matchedOn string, fields []string) {
	u := *d
	u.TargetID = a.TargetID
	p.add(Action{Kind: KindAdopt, ExternalID: d.ExternalID, TargetID: a.TargetID, UserName: a.UserName,
		Fields: append([]string{FieldExternalID}, fields...), User: &u, Reason: "matched on " + matchedOn})
}

// matchedOn names the attribute an adoption matched on.
func (p *planner) matchedOn(d *model.User, ai int32) string {
	for _, attr := range p.pol.Controls.Adoption.MatchOn {
		if v := matchValue(attr, d, p.pol.ExternalIDPrefix); v != "" && len(p.adopt.index[attr][v]) > 0 {
			return attr
		}
	}
	return "?"
}

// validateControls checks what the API cannot: known matching attributes.
func validateControls(c Controls) string {
	if c.Adoption == nil {
		return ""
	}
	for _, attr := range c.Adoption.MatchOn {
		switch attr {
		case MatchUserName, MatchEmail, MatchEmployeeNumber, MatchExternalID:
		default:
			return fmt.Sprintf("unknown adoption matching attribute %q (want userName, email, employeeNumber or externalId)", attr)
		}
	}
	return ""
}
