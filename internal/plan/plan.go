package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Compute plans one run. Users are matched by ExternalID.
//
// Desired users:
//   - without a managed target user: Create, unless some target user already holds the userName
//     (case-insensitive; Conflict problem, nothing created) or the user is disabled in the
//     directory (inactive accounts are created, inactive, only with Policy.CreateDisabled);
//   - with one: Update listing the managed string fields that differ (exact comparison); a rename
//     onto a userName another target user holds is dropped from the update with a Conflict problem;
//     Reactivate when the target user is inactive but desired active (whoever suspended it: a
//     lost State must never strand a person who is present); Suspend (reason "disabled in
//     directory") when the directory disabled it. Users present in the directory have no grace
//     clock: their State entry is dropped, so that a later removal from the directory starts a full
//     grace period instead of inheriting an old suspension date.
//   - entries with a shared userName, email (case-insensitive) or ExternalID, or without a
//     userName, are reported and skipped — and their target users are not offboarded either.
//
// Records present in the source but not desired (Input.Held, OutOfScope, Disabled): a held user is
// left exactly as it is (no update, no offboarding, its grace clock carried); an out-of-scope one is
// offboarded like an absent one with reason "out of scope", or kept as it is under
// Policy.OutOfScope Keep; an excluded disabled one is offboarded with reason "disabled in directory".
// A desired user that is also held is held.
//
// Managed target users absent from the desired set: an active one is suspended and its grace clock
// starts now; an inactive one without a recorded start (state lost, suspended by hand) starts its
// grace clock now; one suspended for at least GracePeriod gets AfterGrace (under Anonymize, an
// already anonymized one is left alone and forgotten). Memberships of offboarded users are kept.
//
// Memberships (only when model.FieldGroups is managed): desired groups are resolved by the
// operator's group externalId first, then by display name (managed groups first). Missing groups
// are created (CreateGroup) before members are added. Memberships are removed only from managed
// groups, only for managed users that are applied desired users, and never under a member id that
// several target users carry (a broken target: the listing may mean either of them). With
// Controls.AdoptGroups an unowned group of a desired name is adopted (AdoptGroup) and managed in
// the same run; an ambiguous one is a Conflict problem and nothing is done for that name.
//
// Safety: when the source is incomplete, no Suspend/Delete/Anonymize and no RemoveMember is
// planned, and no grace clock is started (Plan.OffboardingHeld); creates, updates, reactivations
// and additions still proceed, since they rest on records that were read. A suspiciously small
// source (see Policy.MinSourcePercent) withholds offboarding likewise. More offboardings than
// Policy.MaxDeletions / MaxDeletionPercent allow set Plan.Blocked unless Policy.ApprovedFingerprint
// names exactly this plan's offboardings (Plan.Fingerprint); a
// blocked plan returns the input State unchanged.
func Compute(in Input) Plan {
	if msg := validatePolicy(in.Policy); msg != "" {
		return Plan{
			Blocked: &Block{Reason: ReasonInvalidPolicy, Message: msg},
			State:   copyState(in.State),
			Summary: Summary{Desired: len(in.Desired)},
		}
	}
	p := newPlanner(in)
	p.indexPresence()
	p.indexActual()
	// indexGroups and checkDesired share no state and are, at a million users, the two largest
	// steps: they run side by side (the result does not depend on which finishes first).
	var wg sync.WaitGroup
	if p.manageGroups {
		wg.Go(p.indexGroups)
	}
	p.checkDesired()
	wg.Wait()
	p.matchAdoptions()
	p.matchGroupAdoptions()
	if p.manageGroups {
		p.resolveWanted() // after matchGroupAdoptions, which makes adopted groups resolve by name
	}
	p.decideHold()
	for i := range in.Desired {
		switch p.status[i] {
		case applied:
			p.planDesired(int32(i))
		case skipped:
			if ai := p.targetOf[i]; ai >= 0 {
				p.matchOf[ai] = skippedMatch
			}
		}
	}
	if p.manageGroups && in.SourceComplete {
		p.planRemovals()
	}
	p.planAbsent()
	return p.finish()
}

func validatePolicy(pol Policy) string {
	if pol.ExternalIDPrefix == "" {
		return "externalIdPrefix must not be empty: it is what keeps unmanaged users out of reach"
	}
	if !strings.HasSuffix(pol.ExternalIDPrefix, ":") {
		return fmt.Sprintf("externalIdPrefix %q must end with ':', which delimits it from the directory id", pol.ExternalIDPrefix)
	}
	switch pol.OutOfScope {
	case "", OutOfScopeSuspend, OutOfScopeKeep:
	default:
		return fmt.Sprintf("unknown outOfScope %q (want Suspend or Keep)", pol.OutOfScope)
	}
	if pol.GracePeriod < 0 {
		return fmt.Sprintf("gracePeriod must not be negative, got %s", pol.GracePeriod)
	}
	switch pol.AfterGrace {
	case "", OffboardKeep, OffboardDelete, OffboardAnonymize:
	default:
		return fmt.Sprintf("unknown afterGrace %q (want Keep, Delete or Anonymize)", pol.AfterGrace)
	}
	for _, f := range pol.ManagedFields {
		if model.IsField(f) {
			continue
		}
		if _, _, err := model.ResolveTarget(f); err != nil {
			return fmt.Sprintf("unknown managed field %q (%v)", f, err)
		}
	}
	if pol.MaxDeletionPercent < 0 || pol.MinSourcePercent < 0 {
		return "maxDeletionPercent and minSourcePercent must not be negative"
	}
	return validateControls(pol.Controls)
}

type desiredStatus uint8

const (
	ignored desiredStatus = iota // no usable externalId: matches no target user
	applied
	skipped // reported problem: neither applied nor treated as absent
)

const skippedMatch = -1

const noTarget = -2 // see planner.targetOf

// presence says why a record that is in the source is not in the desired set.
type presence uint8

const (
	presentOutOfScope presence = iota + 1
	presentDisabled
	presentHeld // strongest: a held record is never acted upon
)

type planner struct {
	in           Input
	pol          Policy
	now          time.Time
	stringFields []string // managed string fields, in model.StringFields order
	attrPaths    []string // managed attribute paths beyond the named fields, sorted
	caseExact    map[string]bool
	manageGroups bool

	managedByExt   *strIndex          // externalId → first managed target user; see managedTarget
	byID           *strIndex          // TargetID → first target user, managed or not (indexMemberships only)
	sharedID       map[string][]int32 // TargetID several target users hold (a broken target) → all of them
	actualByName   map[string]int32   // lower-case userName → first index into Actual
	actualNameMore map[string][]int32 // further holders of a userName (rare)
	managed        int
	// people is the base of the percentage guards: managed users less the settled ones (anonymized,
	// or suspended and kept past the grace period), which stay owned forever and would otherwise
	// loosen maxDeletionPercent and, once they outnumber the people, hold offboarding for good.
	people    int
	dupActual map[string]int // externalId → number of managed target users holding it

	groupByName map[string]int32 // display name → index into Groups (managed preferred)
	groupByOwn  map[string]int32 // name part of the operator's group externalId → index
	// memberOf[memberOff[ai]:memberOff[ai+1]] lists, in ascending order and once per listing, the
	// groups whose Members name target user ai. Pointer-free arrays rather than a map keyed by
	// (group, id): at a million users that map's probes and GC scans were most of the planning time.
	memberOff []int32
	memberOf  []int32
	// wanted[wantOff[di]:wantOff[di+1]] is resolveGroup of each of desired user di's Groups, in
	// order (applied users only): resolved once, used by additions and removals.
	wantOff   []int32
	wanted    []int32
	newGroups map[string]struct{}

	presence map[string]presence // externalId → why a present record is not desired
	heldIDs  int                 // distinct held externalIds

	status []desiredStatus // per desired user
	// targetOf is, per desired user, the managed target user carrying its externalId: an index
	// into Actual, -1 when several do, noTarget when none does.
	targetOf []int32
	// matchOf tells, per target user, which desired user it matched: index+1, 0 for none,
	// skippedMatch when the desired entry is present but skipped.
	matchOf []int32

	adopt    *adoption      // nil unless Policy.Controls.Adoption
	adoptG   *groupAdoption // nil unless Policy.Controls.AdoptGroups found a group to adopt or refuse
	held     *Block
	notes    []string
	extended map[string]bool // externalIds whose grace clock Controls.ExtendGrace moved
	actions  []Action
	problems []model.Problem
	next     map[string]time.Time
}

func newPlanner(in Input) *planner {
	p := &planner{in: in, pol: in.Policy, now: in.Now.UTC()}
	for _, f := range model.StringFields {
		// userName is compared even when a rule says applyOn Create: it identifies the user.
		if slices.Contains(p.pol.ManagedFields, f) && (f == model.FieldUserName || !slices.Contains(p.pol.CreateOnlyFields, f)) {
			p.stringFields = append(p.stringFields, f)
		}
	}
	for _, f := range p.pol.ManagedFields {
		if !model.IsField(f) && !slices.Contains(p.pol.CreateOnlyFields, f) {
			p.attrPaths = append(p.attrPaths, f)
		}
	}
	slices.Sort(p.attrPaths)
	if len(p.pol.CaseExactFields) > 0 {
		p.caseExact = make(map[string]bool, len(p.pol.CaseExactFields))
		for _, f := range p.pol.CaseExactFields {
			p.caseExact[f] = true
		}
	}
	p.manageGroups = slices.Contains(p.pol.ManagedFields, model.FieldGroups)
	return p
}

func (p *planner) isManaged(externalID string) bool {
	return OwnsUser(p.pol.ExternalIDPrefix, externalID)
}

func (p *planner) isManagedGroup(externalID string) bool {
	return OwnsGroup(p.pol.ExternalIDPrefix, externalID)
}

// indexPresence records which present records are held, out of scope or disabled.
func (p *planner) indexPresence() {
	n := len(p.in.Held) + len(p.in.OutOfScope) + len(p.in.Disabled)
	if n == 0 {
		return
	}
	p.presence = make(map[string]presence, n)
	mark := func(ids []string, kind presence) {
		for _, ext := range ids {
			if p.presence[ext] < kind {
				if kind == presentHeld {
					p.heldIDs++
				}
				p.presence[ext] = kind
			}
		}
	}
	mark(p.in.Held, presentHeld)
	mark(p.in.Disabled, presentDisabled)
	mark(p.in.OutOfScope, presentOutOfScope)
}

func (p *planner) indexActual() {
	actual := p.in.Actual
	n := len(actual)
	// The indexes check a hit against these copies of the keys' string headers, 16 bytes a user,
	// rather than against the target user's record (~300 bytes): at a million users the records
	// span far more memory pages than the processor's TLB covers. 25% less time for the members.
	exts := make([]string, n)
	p.managedByExt = newStrIndex(n, func(i int32) string { return exts[i] })
	p.matchOf = make([]int32, n)
	var ids []string
	if p.manageGroups {
		ids = make([]string, n)
		p.byID = newStrIndex(n, func(i int32) string { return ids[i] })
	}
	for i := range actual {
		a := &actual[i]
		if ids != nil {
			ids[i] = a.TargetID // every target user, not only managed ones: one may be adopted in this run
		}
		if !p.isManaged(a.ExternalID) {
			continue
		}
		p.managed++
		if !p.settled(a) {
			p.people++
		}
		exts[i] = a.ExternalID
	}
	// the two indexes are independent: filled side by side
	var wg sync.WaitGroup
	if p.byID != nil {
		wg.Go(func() {
			p.byID.addEach(ids, func(i, first int32) {
				if p.sharedID == nil {
					p.sharedID = map[string][]int32{}
				}
				if p.sharedID[ids[i]] == nil {
					p.sharedID[ids[i]] = []int32{first}
				}
				p.sharedID[ids[i]] = append(p.sharedID[ids[i]], i)
			})
		})
	}
	p.managedByExt.addEach(exts, func(i, _ int32) {
		if p.dupActual == nil {
			p.dupActual = map[string]int{}
		}
		p.dupActual[exts[i]] = max(p.dupActual[exts[i]], 1) + 1
	})
	wg.Wait()
	for ext, count := range p.dupActual {
		p.problem(ext, model.ReasonDuplicate,
			fmt.Sprintf("%d target users carry this externalId; none of them is changed", count))
	}
}

// managedTarget returns the managed target user carrying the externalId ext, -1 when several do;
// ok is false when none does.
func (p *planner) managedTarget(ext string) (ai int32, ok bool) {
	ai, ok = p.managedByExt.get(ext)
	if ok && p.dupActual[ext] > 0 {
		return -1, true
	}
	return ai, ok
}

// indexNames indexes target users by userName; only runs that create or rename need it.
func (p *planner) indexNames() {
	p.actualByName = make(map[string]int32, len(p.in.Actual))
	for i := range p.in.Actual {
		name := strings.ToLower(p.in.Actual[i].UserName)
		if _, ok := p.actualByName[name]; ok {
			if p.actualNameMore == nil {
				p.actualNameMore = map[string][]int32{}
			}
			p.actualNameMore[name] = append(p.actualNameMore[name], int32(i))
		} else {
			p.actualByName[name] = int32(i)
		}
	}
}

// groupBetter reports whether group a should win a name over group b: managed first, then the
// smaller TargetID, so that the choice does not depend on input order.
func (p *planner) groupBetter(a, b *model.Group) bool {
	am, bm := p.isManagedGroup(a.ExternalID), p.isManagedGroup(b.ExternalID)
	if am != bm {
		return am
	}
	return a.TargetID < b.TargetID
}

func (p *planner) indexGroups() {
	groups := p.in.Groups
	p.groupByName = make(map[string]int32, len(groups))
	p.groupByOwn = map[string]int32{}
	ownPrefix := p.pol.ExternalIDPrefix + groupMarker
	for i := range groups {
		g := &groups[i]
		if cur, ok := p.groupByName[g.DisplayName]; !ok || p.groupBetter(g, &groups[cur]) {
			p.groupByName[g.DisplayName] = int32(i)
		}
		if own, ok := strings.CutPrefix(g.ExternalID, ownPrefix); ok {
			if cur, ok := p.groupByOwn[own]; !ok || g.TargetID < groups[cur].TargetID {
				p.groupByOwn[own] = int32(i)
			}
		}
	}
	p.indexMemberships()
}

// resolveGroup returns the index of the target group a desired group name refers to, or -1.
func (p *planner) resolveGroup(name string) int32 {
	if i, ok := p.groupByOwn[name]; ok {
		return i
	}
	if i, ok := p.groupByName[name]; ok {
		return i
	}
	return -1
}

// checkDesired sets the status of each desired user and reports those that cannot be applied.
func (p *planner) checkDesired() {
	desired := p.in.Desired
	n := len(desired)
	p.status = make([]desiredStatus, n)
	p.targetOf = make([]int32, n)
	// Repeated externalIds: a desired user whose externalId a managed target user carries claims
	// it, counted per target user in an array; only the others are counted by their strings.
	claims := make([]int32, len(p.in.Actual))
	var batch [256]string // externalIds are looked up a batch at a time, see strIndex.getAll
	for start := 0; start < n; start += len(batch) {
		ids := batch[:min(len(batch), n-start)]
		for k := range ids {
			ids[k] = desired[start+k].ExternalID
		}
		p.managedByExt.getAll(ids, p.targetOf[start:start+len(ids)])
	}
	for i := range desired {
		switch ai := p.targetOf[i]; {
		case ai < 0:
			p.targetOf[i] = noTarget
		case p.dupActual[desired[i].ExternalID] > 0:
			p.targetOf[i] = -1 // several target users carry it
		default:
			claims[ai]++
		}
	}
	scratch := make([]uint64, 2*n) // 16 MB at a million users, once for the three
	extCount := repeatedKeys(n, func(i int) (string, bool) { return desired[i].ExternalID, p.targetOf[i] < 0 }, scratch)
	nameCount := repeatedKeys(n, func(i int) (string, bool) { return strings.ToLower(desired[i].UserName), true }, scratch)
	emailCount := repeatedKeys(n, func(i int) (string, bool) { return strings.ToLower(desired[i].Email), true }, scratch)
	for i := range desired {
		d := &desired[i]
		if d.ExternalID == "" {
			p.problem(subject(d), model.ReasonMissingID, "user has no externalId; not applied")
			continue
		}
		if !p.isManaged(d.ExternalID) {
			p.problem(subject(d), model.ReasonMissingID, fmt.Sprintf(
				"externalId %q is not the ownership prefix %q followed by an id without ':'; not applied", d.ExternalID, p.pol.ExternalIDPrefix))
			continue
		}
		var dups []string
		c := extCount[d.ExternalID]
		if ai := p.targetOf[i]; ai >= 0 {
			c = claims[ai]
		}
		if c > 1 {
			dups = append(dups, fmt.Sprintf("externalId shared by %d entries", c))
		}
		if nameCount != nil {
			if c := nameCount[strings.ToLower(d.UserName)]; c > 1 {
				dups = append(dups, fmt.Sprintf("userName %q shared by %d entries", d.UserName, c))
			}
		}
		if emailCount != nil && d.Email != "" {
			if c := emailCount[strings.ToLower(d.Email)]; c > 1 {
				dups = append(dups, fmt.Sprintf("email %q shared by %d entries", d.Email, c))
			}
		}
		p.status[i] = skipped
		switch {
		case p.presence[d.ExternalID] == presentHeld:
			// another record with this id could not be read: reported by the source or the rules
		case p.presence[d.ExternalID] != 0:
			// Another record with this id is out of scope or excluded: the source contradicts itself,
			// so the user is held rather than updated or offboarded on either reading.
			p.problem(subject(d), model.ReasonDuplicate, fmt.Sprintf(
				"externalId %s: another record with this id is out of scope or excluded; not applied", d.ExternalID))
		case len(dups) > 0:
			p.problem(subject(d), model.ReasonDuplicate, fmt.Sprintf(
				"externalId %s: %s; not applied", d.ExternalID, strings.Join(dups, ", ")))
		case d.UserName == "":
			p.problem(subject(d), model.ReasonMissingField, "user has no userName; not applied")
		case p.dupActual[d.ExternalID] > 0:
			// reported once by indexActual
		default:
			p.status[i] = applied
		}
	}
}

func (p *planner) decideHold() {
	if !p.in.SourceComplete {
		why := "the directory read was incomplete"
		if p.in.IncompleteReason != "" {
			why += " (" + p.in.IncompleteReason + ")"
		}
		p.held = &Block{Reason: ReasonSourceIncomplete,
			Message: why + ": nobody is suspended, deleted or anonymized and no membership is removed in this run"}
		return
	}
	if p.managed == 0 {
		return
	}
	desired := len(p.in.Desired)
	switch {
	case desired == 0 && !p.pol.AllowEmptySource:
		p.held = &Block{Reason: ReasonSuspiciousSource, Message: fmt.Sprintf(
			"the source yielded no users while %d are managed: nobody is offboarded in this run", p.managed)}
	case desired > 0 && desired*100 < p.pol.MinSourcePercent*p.people:
		p.held = &Block{Reason: ReasonSuspiciousSource, Message: fmt.Sprintf(
			"the source yielded %d users while %d are managed%s, fewer than minSourcePercent %d%% of %d = %d: nobody is offboarded in this run",
			desired, p.people, p.settledNote(), p.pol.MinSourcePercent, p.people, (p.pol.MinSourcePercent*p.people+99)/100)}
	}
}

// nameConflict describes why userName cannot be given to the user externalID, or returns "".
func (p *planner) nameConflict(userName, externalID string) string {
	if p.actualByName == nil {
		p.indexNames()
	}
	name := strings.ToLower(userName)
	first, ok := p.actualByName[name]
	if !ok {
		return ""
	}
	unmanaged := false
	other := ""
	for _, i := range append([]int32{first}, p.actualNameMore[name]...) {
		owner := p.ownerOf(i) // an adopted user holds its name for its new owner
		switch {
		case !p.isManaged(owner):
			unmanaged = true
		case owner != externalID && (other == "" || owner < other):
			other = owner
		}
	}
	if unmanaged {
		return "userName exists in the target and is not managed by this operator"
	}
	if other != "" {
		return fmt.Sprintf("userName is held by the managed target user %s", other)
	}
	return ""
}

func (p *planner) planDesired(di int32) {
	d := &p.in.Desired[di]
	ai := p.targetOf[di]
	found := ai != noTarget // never -1: users whose externalId several target users carry are skipped
	adopted := false
	if !found {
		var refused bool
		ai, adopted, refused = p.adoptedTarget(di)
		if refused {
			return // reported by matchAdoptions
		}
		found = adopted
	}
	if !found {
		if !d.Active && !p.in.Policy.CreateDisabled {
			return // disabled in the directory and not in the target: nothing to create (unless asked)
		}
		if msg := p.nameConflict(d.UserName, d.ExternalID); msg != "" {
			p.problem(d.UserName, model.ReasonConflict, msg+"; not created")
			return
		}
		u := *d
		u.TargetID = ""
		p.add(Action{Kind: KindCreate, ExternalID: d.ExternalID, UserName: d.UserName, User: &u,
			Reason: "new in source"})
		p.planAdditions(di, -1)
		return
	}
	p.matchOf[ai] = di + 1
	a := &p.in.Actual[ai]
	var fields []string
	for _, f := range p.stringFields {
		if p.equalString(f, d.Get(f), a.Get(f)) {
			continue
		}
		if f == model.FieldUserName {
			if msg := p.nameConflict(d.UserName, d.ExternalID); msg != "" {
				p.problem(d.UserName, model.ReasonConflict, fmt.Sprintf("%s; not renamed from %q", msg, a.UserName))
				continue
			}
		}
		fields = append(fields, f)
	}
	for _, path := range p.attrPaths {
		if !p.equalValue(path, d.Attr(path), a.Attr(path)) {
			fields = append(fields, path)
		}
	}
	switch {
	case adopted && p.pol.Controls.Off.NoUpdate:
		p.addAdopt(d, a, p.matchedOn(d, ai), nil)
		if len(fields) > 0 {
			u := *d
			u.TargetID = a.TargetID
			p.add(Action{Kind: KindUpdate, ExternalID: d.ExternalID, TargetID: a.TargetID, UserName: a.UserName,
				Fields: fields, User: &u, Reason: "differs from source after adoption"})
		}
	case adopted:
		p.addAdopt(d, a, p.matchedOn(d, ai), fields)
	case len(fields) > 0:
		u := *d
		u.TargetID = a.TargetID
		p.add(Action{Kind: KindUpdate, ExternalID: d.ExternalID, TargetID: a.TargetID, UserName: a.UserName,
			Fields: fields, User: &u, Reason: "changed in source"})
	}
	switch {
	case d.Active && !a.Active:
		p.add(Action{Kind: KindReactivate, ExternalID: d.ExternalID, TargetID: a.TargetID, UserName: a.UserName,
			Reason: "active in source"})
	case !d.Active && a.Active && p.held == nil:
		p.add(Action{Kind: KindSuspend, ExternalID: d.ExternalID, TargetID: a.TargetID, UserName: a.UserName,
			Reason: "disabled in directory"})
	}
	p.planAdditions(di, ai)
}

// planAbsent offboards managed users that are not in the desired set and computes the next state.
func (p *planner) planAbsent() {
	for i := range p.in.Actual {
		a := &p.in.Actual[i]
		if !p.isManaged(a.ExternalID) {
			continue
		}
		ext := a.ExternalID
		if m := p.matchOf[i]; m > 0 {
			continue // present in the directory: no grace clock
		} else if m == skippedMatch || p.dupActual[ext] > 0 {
			p.carry(ext)
			continue
		}
		reason := "not in source"
		switch p.presence[ext] {
		case presentHeld:
			p.carry(ext)
			continue
		case presentOutOfScope:
			if p.pol.OutOfScope == OutOfScopeKeep {
				p.carry(ext)
				continue
			}
			reason = "out of scope"
		case presentDisabled:
			reason = "disabled in directory"
		}
		if p.held != nil {
			p.carry(ext)
			continue
		}
		since, suspended := p.in.State.Suspended[ext]
		switch {
		case a.Active:
			p.add(Action{Kind: KindSuspend, ExternalID: ext, TargetID: a.TargetID, UserName: a.UserName,
				Reason: reason})
			p.record(ext, p.now)
		case p.pol.AfterGrace == OffboardAnonymize && IsAnonymized(*a):
			// done; forget it
		case !suspended:
			p.record(ext, p.now) // start of the grace period unknown: it starts now
		default:
			since = p.graceStart(ext, since.UTC())
			p.record(ext, since)
			purge := p.pol.Controls.Purge[ext]
			if p.now.Sub(since) < p.pol.GracePeriod && !purge {
				continue
			}
			reason := fmt.Sprintf("suspended since %s, grace period over", since.UTC().Format(time.RFC3339))
			afterGrace := p.pol.AfterGrace
			if p.now.Sub(since) < p.pol.GracePeriod {
				reason = fmt.Sprintf("suspended since %s, purge requested before the grace period ended", since.UTC().Format(time.RFC3339))
				if afterGrace != OffboardAnonymize {
					afterGrace = OffboardDelete
				}
			}
			switch afterGrace {
			case OffboardDelete:
				p.add(Action{Kind: KindDelete, ExternalID: ext, TargetID: a.TargetID, UserName: a.UserName, Reason: reason})
			case OffboardAnonymize:
				p.add(Action{Kind: KindAnonymize, ExternalID: ext, TargetID: a.TargetID, UserName: a.UserName, Reason: reason})
			}
		}
	}
}

func (p *planner) carry(ext string) {
	if t, ok := p.in.State.Suspended[ext]; ok {
		p.record(ext, t.UTC())
	}
}

func (p *planner) record(ext string, t time.Time) {
	if p.next == nil {
		p.next = map[string]time.Time{}
	}
	p.next[ext] = t
}

func (p *planner) add(a Action) { p.actions = append(p.actions, a) }

func (p *planner) problem(subject string, reason model.ProblemReason, msg string) {
	p.problems = append(p.problems, model.Problem{Subject: subject, Reason: reason, Message: msg})
}

func subject(u *model.User) string {
	if u.UserName != "" {
		return u.UserName
	}
	return u.ExternalID
}

func (p *planner) finish() Plan {
	for name := range p.newGroups {
		p.add(Action{Kind: KindCreateGroup, ExternalID: GroupExternalID(p.pol.ExternalIDPrefix, name), Group: name,
			Reason: "named in source"})
	}
	slices.SortFunc(p.actions, func(a, b Action) int { return compareActions(&a, &b) })
	withheld := p.applySwitches()
	p.noteRequests(withheld)
	// a member listed twice in a group yields the same removal twice
	p.actions = slices.CompactFunc(p.actions, func(a, b Action) bool {
		return a.Kind == KindRemoveMember && b.Kind == KindRemoveMember && compareActions(&a, &b) == 0
	})
	slices.SortFunc(p.problems, func(a, b model.Problem) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message))
	})
	plan := Plan{
		Actions:         p.actions,
		Withheld:        withheld,
		Notes:           p.notes,
		Problems:        p.problems,
		OffboardingHeld: p.held,
		State:           State{Suspended: p.next},
	}
	plan.Summary = p.summarize()
	plan.Summary.Withheld = len(withheld)
	var reasons, msgs []string
	if limit, from := p.offboardingLimit(); limit >= 0 && plan.Summary.Offboardings > limit {
		reasons = append(reasons, ReasonDeletionThresholdExceeded)
		msgs = append(msgs, fmt.Sprintf("run would offboard %d of %d managed users, limit %d (%s)", plan.Summary.Offboardings, p.managed, limit, from))
	}
	more, moreMsgs := p.limitBlocks(plan.Summary)
	reasons = append(reasons, more...)
	if block := joinBlock(reasons, append(msgs, moreMsgs...)); block != nil {
		plan.Fingerprint = Fingerprint(plan.Actions, limitedKinds(reasons))
		if p.pol.ApprovedFingerprint != "" && p.pol.ApprovedFingerprint == plan.Fingerprint {
			plan.ApprovalUsed = true
		} else {
			plan.Blocked = block
			plan.State = copyState(p.in.State)
		}
	}
	return plan
}

// settled reports whether a managed target user is done with offboarding and only kept: anonymized,
// or suspended past the grace period under afterGrace Keep.
func (p *planner) settled(a *model.User) bool {
	if a.Active {
		return false
	}
	if IsAnonymized(*a) {
		return true
	}
	since, ok := p.in.State.Suspended[a.ExternalID]
	keep := p.pol.AfterGrace == "" || p.pol.AfterGrace == OffboardKeep
	return keep && ok && p.now.Sub(since) >= p.pol.GracePeriod
}

// settledNote says how many managed users the percentage guards leave out, if any.
func (p *planner) settledNote() string {
	if n := p.managed - p.people; n > 0 {
		return fmt.Sprintf(" (not counting %d anonymized or kept after grace)", n)
	}
	return ""
}

// offboardingLimit is the most offboardings this run may plan without approval, or -1, and where
// that limit comes from ("maxDeletionPercent 10% of 38 = 4") so that a stop message can say it.
func (p *planner) offboardingLimit() (int, string) {
	limit, from := -1, ""
	if p.pol.MaxDeletions >= 0 {
		limit, from = p.pol.MaxDeletions, fmt.Sprintf("maxDeletions %d", p.pol.MaxDeletions)
	}
	if p.pol.MaxDeletionPercent > 0 {
		// Rounded up, so that a small directory may still offboard one person per run.
		if l := (p.pol.MaxDeletionPercent*p.people + 99) / 100; limit < 0 || l < limit {
			limit, from = l, fmt.Sprintf("maxDeletionPercent %d%% of %d = %d", p.pol.MaxDeletionPercent, p.people, l)
		}
	}
	return limit, from
}

// compareActions orders actions by kind (Kind.rank), userName, externalId, group, group id and
// target id. It stops at the first difference (cmp.Or would compare every field each time).
func compareActions(a, b *Action) int {
	if c := cmp.Compare(a.Kind.rank(), b.Kind.rank()); c != 0 {
		return c
	}
	return compareActionsOfAKind(a, b)
}

func compareActionsOfAKind(a, b *Action) int {
	if c := strings.Compare(a.UserName, b.UserName); c != 0 {
		return c
	}
	if c := strings.Compare(a.ExternalID, b.ExternalID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	if c := strings.Compare(a.GroupTargetID, b.GroupTargetID); c != 0 {
		return c
	}
	return strings.Compare(a.TargetID, b.TargetID)
}

func (p *planner) summarize() Summary {
	s := Summary{
		Desired:   len(p.in.Desired),
		Managed:   p.managed,
		Unmanaged: len(p.in.Actual) - p.managed,
		Problems:  len(p.problems),
		Held:      p.heldIDs,
	}
	touched := map[string]struct{}{}
	for i := range p.actions {
		a := &p.actions[i]
		switch a.Kind {
		case KindAdopt:
			s.Adoptions++
		case KindAdoptGroup:
			s.GroupAdoptions++
		case KindCreateGroup:
			s.GroupCreates++
		case KindCreate:
			s.Creates++
		case KindUpdate:
			s.Updates++
		case KindReactivate:
			s.Reactivations++
		case KindAddMember:
			s.MemberAdds++
		case KindRemoveMember:
			s.MemberRemovals++
		case KindSuspend:
			s.Suspensions++
		case KindAnonymize:
			s.Anonymizations++
		case KindDelete:
			s.Deletions++
		}
		if a.Kind != KindCreateGroup && a.Kind != KindAdoptGroup {
			if ai, ok := p.managedTarget(a.ExternalID); ok && ai >= 0 {
				touched[a.ExternalID] = struct{}{}
			}
		}
	}
	s.Offboardings = s.Suspensions + s.Deletions + s.Anonymizations
	s.Unchanged = p.managed - len(touched)
	return s
}

func copyState(s State) State {
	if len(s.Suspended) == 0 {
		return State{}
	}
	m := make(map[string]time.Time, len(s.Suspended))
	for k, v := range s.Suspended {
		m[k] = v.UTC()
	}
	return State{Suspended: m}
}
