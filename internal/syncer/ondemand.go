package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/textutil"
)

// Outcomes of a provision-on-demand.
const (
	OnDemandNotFound   = "NotFound"
	OnDemandAmbiguous  = "Ambiguous"
	OnDemandOutOfScope = "OutOfScope"
	OnDemandUnmappable = "Unmappable"
	OnDemandConflict   = "Conflict"
	OnDemandBlocked    = "Blocked"
	OnDemandNoChange   = "NoChange"
	OnDemandPlanned    = "Planned" // dry run
	OnDemandApplied    = "Applied"
	OnDemandFailed     = "Failed"
)

// TraceStep is one step of a provision-on-demand: read, scope, map, match, plan, apply.
type TraceStep struct {
	Step    string `json:"step"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// Trace tells what provisioning one person did, step by step.
type Trace struct {
	Key     string
	DryRun  bool
	Outcome string
	Steps   []TraceStep
	Fields  []mapping.FieldTrace
}

func (t *Trace) step(name, outcome, format string, args ...any) {
	t.Steps = append(t.Steps, TraceStep{Step: name, Outcome: outcome, Detail: fmt.Sprintf(format, args...)})
}

// ProvisionOne runs the pipeline for the one person key names (directory id or the value of an
// attribute the rules map userName from): read, scope and mapping, match in the target, plan and,
// unless o.DryRun, apply. It never offboards: the plan is computed as from an incomplete read, so no
// suspension, deletion or membership removal is planned for anyone, and only actions on this person
// (and the groups they need) are kept. Every safety limit and ownership rule of the policy applies.
func ProvisionOne(ctx context.Context, o Options, key string) *Trace {
	tr := &Trace{Key: key, DryRun: o.DryRun}
	recs, err := directory.Find(ctx, o.Source, key, o.Mapper.SourceAttributes(model.FieldUserName))
	switch {
	case err != nil:
		tr.step("read", "Failed", "%s", textutil.Truncate(err.Error(), 300))
		tr.Outcome = OnDemandFailed
		return tr
	case len(recs) == 0:
		tr.step("read", OnDemandNotFound, "no person in the source has the id or userName %q", key)
		tr.Outcome = OnDemandNotFound
		return tr
	case len(recs) > 1:
		ids := make([]string, 0, len(recs))
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		tr.step("read", OnDemandAmbiguous, "%d people match %q (ids %s); name one by its directory id", len(recs), key, strings.Join(ids, ", "))
		tr.Outcome = OnDemandAmbiguous
		return tr
	}
	rec := recs[0]
	where := "id " + rec.ID
	if rec.DN != "" {
		where += ", " + rec.DN
	}
	if rec.Disabled {
		where += ", disabled in the directory"
	}
	tr.step("read", "Found", "%s", where)

	res, scope, fields := o.Mapper.Trace(rec)
	if res.OutOfScope {
		tr.step("scope", OnDemandOutOfScope, "%s: the person is not synced", scope)
		tr.Outcome = OnDemandOutOfScope
		return tr
	}
	tr.step("scope", "InScope", "%s", scope)
	if res.Skip != nil {
		tr.step("map", OnDemandUnmappable, "%s: %s", res.Skip.Reason, res.Skip.Message)
		tr.Outcome = OnDemandUnmappable
		return tr
	}
	tr.Fields = fields
	u := res.User
	// Named, compared and written exactly as a full run does (Run): escaped id, the target's
	// schemas, create-only fields, the fields the target reads, and managers as externalIds.
	u.ExternalID = plan.UserExternalID(o.Policy.ExternalIDPrefix, u.ExternalID)
	users := []model.User{u}
	if len(checkFields(ctx, &o)) > 0 {
		dropUnmanagedAttributes(users, o.Policy.ManagedFields)
	}
	prepareFields(&o)
	tr.step("map", "Mapped", "userName %s, externalId %s", u.UserName, u.ExternalID)

	actual, err := o.Target.ListUsers(ctx)
	if err != nil {
		tr.step("match", "Failed", "listing target users: %s", textutil.Truncate(err.Error(), 300))
		tr.Outcome = OnDemandFailed
		return tr
	}
	groups, err := o.Target.ListGroups(ctx)
	if err != nil {
		tr.step("match", "Failed", "listing target groups: %s", textutil.Truncate(err.Error(), 300))
		tr.Outcome = OnDemandFailed
		return tr
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if slices.Contains(o.Policy.ManagedFields, model.FieldManager) {
		// Only this person's record was read, so a manager reference rarely resolves here; an
		// unresolved one leaves the target's manager as it is (the next full run sets it), never
		// writes the raw id or DN.
		resolveManagers(indexManagers(recs, users), users, actual, o.Policy.ExternalIDPrefix)
	}
	u = users[0]
	full := plan.Compute(plan.Input{Desired: users, Actual: actual, Groups: groups, State: o.State,
		Policy: o.Policy, Now: now(), SourceComplete: false})
	tr.step("match", "Matched", "%s", describeMatch(u, actual))
	p := onlyPerson(full, u)

	for _, pr := range p.Problems {
		tr.step("plan", string(pr.Reason), "%s", pr.Message)
	}
	if p.Blocked != nil {
		tr.step("plan", OnDemandBlocked, "%s: %s", p.Blocked.Reason, p.Blocked.Message)
		tr.Outcome = OnDemandBlocked
		return tr
	}
	for _, a := range p.Withheld {
		tr.step("plan", "Withheld", "%s", a.Describe())
	}
	if len(p.Actions) == 0 {
		if len(p.Problems) > 0 {
			tr.Outcome = OnDemandConflict
			return tr
		}
		tr.step("plan", OnDemandNoChange, "the target user is up to date")
		tr.Outcome = OnDemandNoChange
		return tr
	}
	for _, a := range p.Actions {
		tr.step("plan", string(a.Kind), "%s", a.Describe())
	}
	if o.DryRun {
		tr.step("apply", OnDemandPlanned, "dry run: nothing written")
		tr.Outcome = OnDemandPlanned
		return tr
	}
	run := &Result{State: o.State}
	applyPlan(ctx, o, &p, run)
	tr.Outcome = OnDemandApplied
	for _, a := range p.Actions {
		msg, ran := run.Outcomes[ActionKey(a)]
		switch {
		case !ran:
			tr.step("apply", "NotRun", "%s", a.Describe())
			tr.Outcome = OnDemandFailed
		case msg != "":
			tr.step("apply", "Failed", "%s: %s", a.Describe(), msg)
			tr.Outcome = OnDemandFailed
		default:
			tr.step("apply", "Applied", "%s: target accepted", a.Describe())
		}
	}
	return tr
}

// onlyPerson keeps the actions and problems of a plan that concern u, and the group creations and
// adoptions its memberships need (a person is added to a hand-made group only once it is adopted,
// as in a full run). The blocked state and withheld actions are kept likewise.
func onlyPerson(p plan.Plan, u model.User) plan.Plan {
	out := plan.Plan{Blocked: p.Blocked, State: p.State, Summary: p.Summary}
	needs, needsID := map[string]bool{}, map[string]bool{}
	for _, a := range p.Actions {
		if a.ExternalID == u.ExternalID && a.Kind == plan.KindAddMember {
			if a.GroupTargetID == "" {
				needs[a.Group] = true
			} else {
				needsID[a.GroupTargetID] = true
			}
		}
	}
	// The plan's order is kept: groups are adopted and created before members are added.
	for _, a := range p.Actions {
		if a.ExternalID == u.ExternalID || (a.Kind == plan.KindCreateGroup && needs[a.Group]) ||
			(a.Kind == plan.KindAdoptGroup && needsID[a.GroupTargetID]) {
			out.Actions = append(out.Actions, a)
		}
	}
	for _, a := range p.Withheld {
		if a.ExternalID == u.ExternalID {
			out.Withheld = append(out.Withheld, a)
		}
	}
	for _, pr := range p.Problems {
		// "group NAME": a group of the person's that could not be adopted
		if pr.Subject == u.UserName || pr.Subject == u.ExternalID || slices.ContainsFunc(u.Groups, func(g string) bool { return pr.Subject == "group "+g }) {
			out.Problems = append(out.Problems, pr)
		}
	}
	return out
}

// describeMatch says which target user the person corresponds to, before planning.
func describeMatch(u model.User, actual []model.User) string {
	for _, a := range actual {
		if a.ExternalID == u.ExternalID {
			return fmt.Sprintf("managed target user %s (id %s, active %v)", a.UserName, a.TargetID, a.Active)
		}
	}
	for _, a := range actual {
		if strings.EqualFold(a.UserName, u.UserName) {
			owner := "no owner"
			if a.ExternalID != "" {
				owner = "externalId " + a.ExternalID
			}
			return fmt.Sprintf("target user %s (id %s) holds the userName; it is not managed by this SyncTarget (%s)", a.UserName, a.TargetID, owner)
		}
	}
	return "no target user yet"
}
