package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Controls are the administrator's switches and limits beyond the offboarding thresholds.
// The zero value changes nothing.
type Controls struct {
	// Adoption, when set, lets unmanaged target users be adopted (see Adoption).
	Adoption *Adoption
	// AdoptGroups lets unmanaged target groups be adopted by name (see matchGroupAdoptions).
	AdoptGroups bool
	// Off switches kinds of writes off: their actions are withheld (Plan.Withheld), not applied.
	Off Switches
	// MaxCreates, MaxAdoptions and MaxMembershipRemovals cap those actions per run like
	// Policy.MaxDeletions: more block the plan unless approved; nil is unlimited. MaxAdoptions
	// counts adopted users and groups together.
	MaxCreates            *int
	MaxAdoptions          *int
	MaxMembershipRemovals *int
	// Purge names (by externalId) suspended users to offboard now, before their grace period ends.
	// Only users absent from the source and suspended are affected; the others are ignored.
	Purge map[string]bool
	// ExtendGrace moves the grace clock of suspended users (by externalId) forward by a duration.
	ExtendGrace map[string]time.Duration
}

// Switches turn kinds of writes off; the zero value allows everything.
type Switches struct {
	// NoCreate withholds Create and CreateGroup (and the memberships that need them).
	NoCreate bool
	// NoUpdate withholds Update, Reactivate, AddMember and RemoveMember.
	NoUpdate bool
	// NoSuspend withholds Suspend: no grace clock starts.
	NoSuspend bool
	// NoDelete withholds Delete and Anonymize; the grace clock keeps running.
	NoDelete bool
}

// switchedOff returns the name of the spec switch that withholds k, or "".
func (s Switches) switchedOff(k Kind) string {
	switch {
	case s.NoCreate && (k == KindCreate || k == KindCreateGroup):
		return "create"
	case s.NoUpdate && (k == KindUpdate || k == KindReactivate || k == KindAddMember || k == KindRemoveMember):
		return "update"
	case s.NoSuspend && k == KindSuspend:
		return "suspend"
	case s.NoDelete && (k == KindDelete || k == KindAnonymize):
		return "delete"
	}
	return ""
}

// applySwitches moves the actions the switches turn off to Withheld. Memberships of users or groups
// whose creation is withheld go with them, and a withheld suspension starts no grace clock.
func (p *planner) applySwitches() []Action {
	off := p.pol.Controls.Off
	if off == (Switches{}) {
		return nil
	}
	noUser := map[string]bool{}
	noGroup := map[string]bool{}
	for _, a := range p.actions {
		if off.switchedOff(a.Kind) == "" {
			continue
		}
		switch a.Kind {
		case KindCreate:
			noUser[a.ExternalID] = true
		case KindCreateGroup:
			noGroup[a.Group] = true
		}
	}
	var kept, withheld []Action
	for _, a := range p.actions {
		why := off.switchedOff(a.Kind)
		if why == "" && (a.Kind == KindAddMember || a.Kind == KindRemoveMember) {
			switch {
			case a.TargetID == "" && noUser[a.ExternalID]:
				why = "create"
			case a.GroupTargetID == "" && noGroup[a.Group]:
				why = "create"
			}
		}
		if why == "" {
			kept = append(kept, a)
			continue
		}
		a.Reason = fmt.Sprintf("%s (withheld: spec.actions.%s is off)", a.Reason, why)
		withheld = append(withheld, a)
		if a.Kind == KindSuspend {
			p.restoreClock(a.ExternalID)
		}
	}
	p.actions = kept
	return withheld
}

// restoreClock puts the grace clock of ext back to what it was before this run.
func (p *planner) restoreClock(ext string) {
	if since, ok := p.in.State.Suspended[ext]; ok {
		p.record(ext, since.UTC())
	} else {
		delete(p.next, ext)
	}
}

// graceStart returns when the grace period of a suspended user counts from, with an extension
// requested for it applied.
func (p *planner) graceStart(ext string, since time.Time) time.Time {
	if d, ok := p.pol.Controls.ExtendGrace[ext]; ok && d > 0 {
		if p.extended == nil {
			p.extended = map[string]bool{}
		}
		p.extended[ext] = true
		return since.Add(d)
	}
	return since
}

// noteRequests tells what became of each purge and grace extension request.
func (p *planner) noteRequests(withheld []Action) {
	c := p.pol.Controls
	name := func(ext string) string {
		if ai, ok := p.managedTarget(ext); ok && ai >= 0 && p.in.Actual[ai].UserName != "" {
			return p.in.Actual[ai].UserName
		}
		return ext
	}
	for _, ext := range slices.Sorted(maps.Keys(c.Purge)) {
		planned := slices.ContainsFunc(p.actions, func(a Action) bool {
			return a.ExternalID == ext && (a.Kind == KindDelete || a.Kind == KindAnonymize)
		})
		isPurge := func(a Action) bool {
			return a.ExternalID == ext && (a.Kind == KindDelete || a.Kind == KindAnonymize)
		}
		switch {
		case planned:
			p.notes = append(p.notes, fmt.Sprintf("purge of %s: planned", name(ext)))
		case slices.ContainsFunc(withheld, isPurge):
			p.notes = append(p.notes, fmt.Sprintf("purge of %s withheld: spec.actions.delete is off", name(ext)))
		default:
			p.notes = append(p.notes, fmt.Sprintf("purge of %s ignored: only a user suspended by this SyncTarget and absent from the source can be purged (and not while offboarding is held)", name(ext)))
		}
	}
	for _, ext := range slices.Sorted(maps.Keys(c.ExtendGrace)) {
		if p.extended[ext] {
			p.notes = append(p.notes, fmt.Sprintf("grace period of %s extended by %s; it now ends %s", name(ext), c.ExtendGrace[ext],
				p.next[ext].Add(p.pol.GracePeriod).UTC().Format(time.RFC3339)))
		} else {
			p.notes = append(p.notes, fmt.Sprintf("grace extension of %s ignored: only a user suspended by this SyncTarget and absent from the source has a grace period", name(ext)))
		}
	}
}

// limitBlocks returns the messages of the exceeded per-kind limits of Controls.
func (p *planner) limitBlocks(s Summary) (reasons, msgs []string) {
	c := p.pol.Controls
	check := func(limit *int, n int, reason, what, field string) {
		if limit != nil && n > *limit {
			reasons = append(reasons, reason)
			msgs = append(msgs, fmt.Sprintf("run would %s %d users, limit %d (%s)", what, n, *limit, field))
		}
	}
	if n := s.Adoptions + s.GroupAdoptions; c.MaxAdoptions != nil && n > *c.MaxAdoptions {
		what := fmt.Sprintf("%d users", s.Adoptions)
		if s.GroupAdoptions > 0 {
			what = fmt.Sprintf("%d users and %d groups", s.Adoptions, s.GroupAdoptions)
		}
		reasons = append(reasons, ReasonAdoptionThresholdExceeded)
		msgs = append(msgs, fmt.Sprintf("run would adopt %s, limit %d (maxAdoptions %d)", what, *c.MaxAdoptions, *c.MaxAdoptions))
	}
	check(c.MaxCreates, s.Creates, ReasonCreateThresholdExceeded, "create", fmt.Sprintf("maxCreates %d", deref(c.MaxCreates)))
	if c.MaxMembershipRemovals != nil && s.MemberRemovals > *c.MaxMembershipRemovals {
		reasons = append(reasons, ReasonMembershipRemovalThresholdExceeded)
		msgs = append(msgs, fmt.Sprintf("run would remove %d group memberships, limit %d (maxMembershipRemovals %d)", s.MemberRemovals, *c.MaxMembershipRemovals, *c.MaxMembershipRemovals))
	}
	return reasons, msgs
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// Limit reasons (Plan.Blocked.Reason) besides ReasonDeletionThresholdExceeded.
const (
	ReasonCreateThresholdExceeded            = "CreateThresholdExceeded"
	ReasonAdoptionThresholdExceeded          = "AdoptionThresholdExceeded"
	ReasonMembershipRemovalThresholdExceeded = "MembershipRemovalThresholdExceeded"
)

// joinBlock merges several exceeded limits into one Block: the first reason, every message.
func joinBlock(reasons, msgs []string) *Block {
	if len(reasons) == 0 {
		return nil
	}
	return &Block{Reason: reasons[0], Message: strings.Join(msgs, "; ")}
}
