// Package syncer runs one sync: read the directory, map records to users, read the target, plan, and
// apply the plan. It knows nothing about Kubernetes; controllers call Run and publish the Result.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/target"
	"github.com/directory-sync/directory-sync-operator/internal/textutil"
)

// Target is where a run writes; see target.Target.
type Target = target.Target

// Options configure one run.
type Options struct {
	Source directory.Source
	Mapper *mapping.Mapper
	Target Target
	Policy plan.Policy
	State  plan.State
	// DryRun computes the plan without writing.
	DryRun bool
	// Concurrency bounds parallel writes to the target (default 4).
	Concurrency int
	// Now is the run's clock (default time.Now).
	Now func() time.Time
	// OnAction, when set, is called after each action is applied (nil error) or failed.
	OnAction func(a plan.Action, err error)
	// ExpectedUsers is about how many users the rules will map, e.g. the managed users of the last
	// run; a streamed read sizes its list of users with it instead of growing it. 0 is unknown.
	ExpectedUsers int
}

// Counts counts what a run did.
type Counts struct {
	Adopted, Created, Updated, Reactivated, Suspended, Deleted, Anonymized int
	GroupChanges                                                           int
	Failed                                                                 int
}

// Result is what a run found and did.
type Result struct {
	// SourceErr is set when the directory could not be read; nothing was planned or written.
	SourceErr error
	// TargetErr is set when the target could not be read; nothing was planned or written.
	TargetErr error
	// Snapshot is what the read found, without its records: a run releases them once they are
	// mapped, since at scale they are the largest thing it holds. Entries counts them.
	Snapshot *model.Snapshot
	Entries  int
	// Skipped lists entries the source could not read, then records the rules could not map, then
	// plan problems (duplicates, conflicts).
	Skipped []model.Problem
	// Held lists the externalIds of records present in the source that could not be read or
	// mapped: their target users were left as they are.
	Held []string
	// UnknownAttributes lists mapped fields the target's schemas do not define.
	UnknownAttributes []model.Problem
	// Warnings lists what was synced only in part: unresolvable managers (the rest of the user
	// was synced) and UnknownAttributes. They are problems, not skipped users.
	Warnings []model.Problem
	// OutOfScope counts the records no rule selects (disabled accounts the rules exclude included).
	OutOfScope int
	Plan       *plan.Plan
	// Applied is true when the plan's actions were sent to the target (not dry-run, not blocked).
	Applied bool
	Counts  Counts
	// Failures lists actions the target rejected.
	Failures []model.Problem
	// Outcomes maps ActionKey of every action that ran to "" (applied) or the target's error.
	Outcomes map[string]string
	// State is the planner state to persist after this run.
	State    plan.State
	Duration time.Duration
}

// ManagedAfter is the number of managed target users once the run is over: those the planner found,
// plus the users the run created, less those it deleted (unchanged when nothing was applied).
func (r *Result) ManagedAfter() int {
	if r.Plan == nil {
		return 0
	}
	return r.Plan.Summary.Managed + r.Counts.Adopted + r.Counts.Created - r.Counts.Deleted
}

// Run performs one sync. Errors reading the source or the target are reported in the Result (and
// returned) with the input state unchanged, so that nothing is offboarded on them.
func Run(ctx context.Context, o Options) (*Result, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	start := now()
	res := &Result{State: o.State}
	defer func() { res.Duration = now().Sub(start) }()

	marker := o.Policy.ExternalIDPrefix
	in, err := readAndMap(ctx, &o)
	if in.sourceErr {
		res.SourceErr = err
		return res, fmt.Errorf("reading source: %w", err)
	}
	snap, mapped, managers := in.snap, in.mapped, in.managers
	res.Entries = in.entries
	res.Snapshot = snap
	if err != nil {
		return res, fmt.Errorf("mapping records: %w", err)
	}
	users := mapped.Users
	// From here on nothing refers to the records: they are garbage unless the source keeps them.
	res.OutOfScope = len(mapped.OutOfScope) + len(mapped.Disabled)
	// A record that is present but unreadable or unmappable is not absent: with its id known its
	// user is held; without one nobody can tell whose it is, so nobody is offboarded this run.
	complete := res.Snapshot.Complete
	problems := append(slices.Clone(res.Snapshot.Problems), mapped.Problems...)
	anonymous := 0
	for _, pr := range problems {
		if pr.ID == "" {
			anonymous++
			continue
		}
		res.Held = append(res.Held, plan.UserExternalID(marker, pr.ID))
	}
	incompleteWhy := ""
	if anonymous > 0 && complete {
		complete = false
		incompleteWhy = fmt.Sprintf("%d directory entries could not be read or mapped and have no id, so nobody can tell whose they are", anonymous)
	}

	res.UnknownAttributes = checkFields(ctx, &o)
	if len(res.UnknownAttributes) > 0 {
		dropUnmanagedAttributes(users, o.Policy.ManagedFields)
	}
	prepareFields(&o)
	actual, err := o.Target.ListUsers(ctx)
	if err != nil {
		res.TargetErr = err
		return res, fmt.Errorf("listing target users: %w", err)
	}
	groups, err := o.Target.ListGroups(ctx)
	if err != nil {
		res.TargetErr = err
		return res, fmt.Errorf("listing target groups: %w", err)
	}

	managerProblems := resolveManagers(managers, users, actual, o.Policy.ExternalIDPrefix)

	p := plan.Compute(plan.Input{
		Desired:          users,
		Actual:           actual,
		Groups:           groups,
		State:            o.State,
		Policy:           o.Policy,
		Now:              start,
		SourceComplete:   complete,
		IncompleteReason: incompleteWhy,
		Held:             res.Held,
		OutOfScope:       externalIDs(marker, mapped.OutOfScope),
		Disabled:         externalIDs(marker, mapped.Disabled),
	})
	res.Plan = &p
	res.Skipped = append(problems, p.Problems...)
	res.Warnings = slices.Concat(res.UnknownAttributes, managerProblems)
	if lp, ok := o.Target.(listProblems); ok {
		res.Skipped = append(res.Skipped, lp.ListProblems()...)
	}
	if o.DryRun || p.Blocked != nil {
		return res, nil
	}
	res.Applied = true
	res.State = p.State
	applyPlan(ctx, o, &p, res)
	return res, ctx.Err()
}

func externalIDs(marker string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = plan.UserExternalID(marker, id)
	}
	return out
}

// applier carries what applying one plan learns: ids of created users and groups, and failures.
type applier struct {
	o   Options
	res *Result

	mu       sync.Mutex
	userIDs  map[string]string // externalId → target id (users created in this run)
	groupIDs map[string]string // display name → target id (groups created in this run)
	// succeeded holds the externalIds whose Suspend or Reactivate was applied.
	succeeded map[string]bool
	// notAdopted holds the externalIds whose Adopt failed: the target user is not ours, so no
	// later action may touch it.
	notAdopted map[string]bool
	// groupNotAdopted holds the target ids of the groups whose AdoptGroup failed: their members
	// are neither added nor removed.
	groupNotAdopted map[string]bool
}

func applyPlan(ctx context.Context, o Options, p *plan.Plan, res *Result) {
	a := &applier{o: o, res: res, userIDs: map[string]string{}, groupIDs: map[string]string{}, succeeded: map[string]bool{},
		notAdopted: map[string]bool{}, groupNotAdopted: map[string]bool{}}
	// Kinds run in the planner's order; actions of one kind run in parallel, except memberships,
	// which are batched per group.
	for _, batch := range byKind(p.Actions) {
		if ctx.Err() != nil {
			break // what did not run keeps its grace clock, below
		}
		switch batch[0].Kind {
		case plan.KindAddMember, plan.KindRemoveMember:
			a.applyMemberships(ctx, batch)
		default:
			a.parallel(ctx, batch)
		}
	}
	sort.Slice(res.Failures, func(i, j int) bool { return res.Failures[i].Subject < res.Failures[j].Subject })
	// The grace clock of a user whose Suspend or Reactivate failed or never ran stays as it was
	// before the run: a suspension that did not happen starts no clock, and a reactivation that did
	// not happen keeps the user's clock, so that the next run retries it.
	for _, act := range p.Actions {
		if (act.Kind != plan.KindSuspend && act.Kind != plan.KindReactivate) || a.succeeded[act.ExternalID] {
			continue
		}
		if since, ok := o.State.Suspended[act.ExternalID]; ok {
			if res.State.Suspended == nil {
				res.State.Suspended = map[string]time.Time{}
			}
			res.State.Suspended[act.ExternalID] = since
		} else {
			delete(res.State.Suspended, act.ExternalID)
		}
	}
}

func byKind(actions []plan.Action) [][]plan.Action {
	var out [][]plan.Action
	for i := 0; i < len(actions); {
		j := i
		for j < len(actions) && actions[j].Kind == actions[i].Kind {
			j++
		}
		out = append(out, actions[i:j])
		i = j
	}
	return out
}

func (a *applier) parallel(ctx context.Context, actions []plan.Action) {
	n := a.o.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, act := range actions {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(act plan.Action) {
			defer func() { <-sem; wg.Done() }()
			if a.isNotAdopted(act.ExternalID) {
				a.done(act, errNotAdopted)
				return
			}
			a.done(act, a.apply(ctx, act))
		}(act)
	}
	wg.Wait()
}

func (a *applier) apply(ctx context.Context, act plan.Action) error {
	t := a.o.Target
	switch act.Kind {
	case plan.KindAdopt:
		return t.UpdateUser(ctx, act.TargetID, *act.User, act.Fields)
	case plan.KindAdoptGroup:
		return t.AdoptGroup(ctx, act.GroupTargetID, act.ExternalID)
	case plan.KindCreateGroup:
		id, err := t.CreateGroup(ctx, act.Group, act.ExternalID)
		if err == nil {
			a.mu.Lock()
			a.groupIDs[act.Group] = id
			a.mu.Unlock()
		}
		return err
	case plan.KindCreate:
		id, err := t.CreateUser(ctx, *act.User)
		if err == nil {
			a.mu.Lock()
			a.userIDs[act.ExternalID] = id
			a.mu.Unlock()
		}
		return err
	case plan.KindUpdate:
		return t.UpdateUser(ctx, act.TargetID, *act.User, act.Fields)
	case plan.KindReactivate:
		return t.UpdateUser(ctx, act.TargetID, model.User{Active: true}, []string{model.FieldActive})
	case plan.KindSuspend:
		return t.UpdateUser(ctx, act.TargetID, model.User{Active: false}, []string{model.FieldActive})
	case plan.KindAnonymize:
		anon := plan.AnonymizedUser(model.User{ExternalID: act.ExternalID, TargetID: act.TargetID})
		if an, ok := t.(anonymizer); ok {
			return an.Anonymize(ctx, act.TargetID, anon, a.anonymizedFields())
		}
		return t.UpdateUser(ctx, act.TargetID, anon, a.anonymizedFields())
	case plan.KindDelete:
		return t.DeleteUser(ctx, act.TargetID)
	}
	return fmt.Errorf("unknown action kind %q", act.Kind)
}

// anonymizer is a Target that anonymizes better than a plain update: the SCIM target writes a
// placeholder email where one is required and reads the user back for personal data left over.
type anonymizer interface {
	Anonymize(ctx context.Context, targetID string, anon model.User, fields []string) error
}

// listProblems is a Target whose listing can show problems for a person to resolve (e.g. an owned
// group that exists twice).
type listProblems interface {
	ListProblems() []model.Problem
}

// anonymizedFields are overwritten by an Anonymize action.
var anonymizedFields = append(append([]string{}, model.StringFields...), model.FieldActive)

// anonymizedFields returns the named fields and the managed attribute paths: all are cleared.
func (a *applier) anonymizedFields() []string {
	fields := anonymizedFields
	for _, f := range a.o.Policy.ManagedFields {
		if !model.IsField(f) {
			fields = append(slices.Clip(fields), f)
		}
	}
	return fields
}

// applyMemberships sends one request per group and direction, with the users resolved to target ids.
func (a *applier) applyMemberships(ctx context.Context, actions []plan.Action) {
	type key struct{ group, groupID string }
	perGroup := map[key][]plan.Action{}
	var keys []key
	for _, act := range actions {
		gid := act.GroupTargetID
		if gid == "" {
			gid = a.groupIDs[act.Group]
		}
		k := key{act.Group, gid}
		if _, ok := perGroup[k]; !ok {
			keys = append(keys, k)
		}
		perGroup[k] = append(perGroup[k], act)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].group < keys[j].group })
	for _, k := range keys {
		acts := perGroup[k]
		if a.isGroupNotAdopted(k.groupID) {
			for _, act := range acts {
				a.done(act, errGroupNotAdopted)
			}
			continue
		}
		if k.groupID == "" {
			for _, act := range acts {
				a.done(act, fmt.Errorf("group %q was not created", act.Group))
			}
			continue
		}
		var ids []string
		var resolved []plan.Action
		for _, act := range acts {
			if a.isNotAdopted(act.ExternalID) {
				a.done(act, errNotAdopted)
				continue
			}
			id := act.TargetID
			if id == "" {
				id = a.userIDs[act.ExternalID]
			}
			if id == "" {
				a.done(act, errors.New("user was not created"))
				continue
			}
			ids = append(ids, id)
			resolved = append(resolved, act)
		}
		if len(ids) == 0 {
			continue
		}
		var err error
		if acts[0].Kind == plan.KindAddMember {
			err = a.o.Target.AddMembers(ctx, k.groupID, ids)
		} else {
			err = a.o.Target.RemoveMembers(ctx, k.groupID, ids)
		}
		for _, act := range resolved {
			a.done(act, err)
		}
	}
}

func (a *applier) done(act plan.Action, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := partialUpdate(act, err); ok {
		// Applied except some fields (a manager not in the target): counted, and reported.
		a.res.Warnings = append(a.res.Warnings, p)
		err = nil
	}
	if a.o.OnAction != nil {
		a.o.OnAction(act, err)
	}
	c := &a.res.Counts
	if a.res.Outcomes == nil {
		a.res.Outcomes = map[string]string{}
	}
	if err != nil {
		a.res.Outcomes[ActionKey(act)] = textutil.Truncate(err.Error(), 300)
	} else {
		a.res.Outcomes[ActionKey(act)] = ""
	}
	if err != nil {
		switch act.Kind {
		case plan.KindAdopt:
			a.notAdopted[act.ExternalID] = true
		case plan.KindAdoptGroup:
			a.groupNotAdopted[act.GroupTargetID] = true
		}
		c.Failed++
		subject := act.UserName
		if subject == "" {
			subject = act.ExternalID
		}
		if act.Group != "" {
			subject = fmt.Sprintf("%s (group %s)", subject, act.Group)
		}
		reason := model.ReasonTargetError
		if target.AsConflict(err) != nil {
			// Someone else's account holds a unique value: retrying does not help, a person must.
			reason = model.ReasonConflict
		}
		a.res.Failures = append(a.res.Failures, model.Problem{
			Subject: subject, Reason: reason,
			Message: fmt.Sprintf("%s failed: %s", act.Kind, textutil.Truncate(err.Error(), 300)),
		})
		return
	}
	switch act.Kind {
	case plan.KindAdopt:
		c.Adopted++
	case plan.KindCreate:
		c.Created++
	case plan.KindUpdate:
		c.Updated++
	case plan.KindReactivate:
		c.Reactivated++
		a.succeeded[act.ExternalID] = true
	case plan.KindSuspend:
		c.Suspended++
		a.succeeded[act.ExternalID] = true
	case plan.KindDelete:
		c.Deleted++
	case plan.KindAnonymize:
		c.Anonymized++
	case plan.KindAdoptGroup, plan.KindCreateGroup, plan.KindAddMember, plan.KindRemoveMember:
		c.GroupChanges++
	}
}

// ActionKey identifies an action of a plan for Result.Outcomes.
func ActionKey(a plan.Action) string {
	return string(a.Kind) + "\x00" + a.ExternalID + "\x00" + a.Group + "\x00" + a.GroupTargetID
}

// errNotAdopted fails the actions on a user whose adoption failed.
var errNotAdopted = errors.New("not applied: the user's adoption failed, so it is not managed")

// errGroupNotAdopted fails the membership changes of a group whose adoption failed.
var errGroupNotAdopted = errors.New("not applied: the group's adoption failed, so it is not managed")

func (a *applier) isGroupNotAdopted(groupID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.groupNotAdopted[groupID]
}

func (a *applier) isNotAdopted(ext string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.notAdopted[ext]
}
