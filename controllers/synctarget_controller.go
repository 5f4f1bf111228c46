package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target"
)

// finalizerName is set on SyncTargets. Deleting a SyncTarget leaves every target user as it is:
// the finalizer only lets the operator stop the target's runs and drop its metrics first.
const finalizerName = "sync.directorysync.io/finalizer"

// SyncTargetReconciler runs the sync loop of each SyncTarget every spec.interval.
type SyncTargetReconciler struct {
	client.Client
	// APIReader reads Secrets and ConfigMaps without caching them.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Mappers caches compiled MappingRules by UID and generation.
	Mappers *mapping.Cache
	// RunTimeout caps the deadline of one run (default 30m; see runDeadline).
	RunTimeout time.Duration
	// MaxConcurrent is how many SyncTargets may sync at once (default 4).
	MaxConcurrent int
	// Now is the clock (default time.Now); tests move it to pass a grace period.
	Now func() time.Time

	mu      sync.Mutex
	sources map[string]cachedSource // SyncTarget → a source kept between runs (see sourceFor)
}

func (r *SyncTargetReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *SyncTargetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	var st v1.SyncTarget
	if err := r.Get(ctx, req.NamespacedName, &st); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !st.DeletionTimestamp.IsZero() {
		forgetMetrics(req.String())
		r.mu.Lock()
		delete(r.sources, req.String())
		r.mu.Unlock()
		return ctrl.Result{}, client.IgnoreNotFound(r.patchFinalizer(ctx, &st, controllerutil.RemoveFinalizer))
	}
	if err := r.patchFinalizer(ctx, &st, controllerutil.AddFinalizer); err != nil {
		return ctrl.Result{}, err
	}

	if request := pendingProvision(&st); request != "" {
		// One person, now, without a full run; the next full run keeps its schedule.
		before := st.DeepCopy()
		r.provisionNow(ctx, &st, request)
		if err := r.Status().Patch(ctx, &st, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		return ctrl.Result{RequeueAfter: r.untilNextRun(&st)}, nil
	}

	before := st.DeepCopy()
	interval := st.Spec.GetInterval()
	syncRequest := st.Annotations[v1.AnnotationSyncRequested]
	result, runErr := r.sync(ctx, &st)
	setSyncTargetConditions(&st.Status.Conditions, st.Generation, result.outcome)
	r.recordEvents(&st, result.outcome)
	st.Status.LastHandledSyncRequest = syncRequest
	st.Status.ObservedGeneration = st.Generation
	if err := r.Status().Patch(ctx, &st, statusPatch{client.MergeFrom(before)}); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	observeStatus(req.String(), &st, interval)
	if runErr != nil {
		log.Info("sync did not complete", "error", runErr.Error())
	}
	if result.requeueAfter > 0 {
		return ctrl.Result{RequeueAfter: result.requeueAfter}, nil
	}
	return ctrl.Result{RequeueAfter: interval}, nil
}

// patchFinalizer adds or removes the finalizer with a merge patch of metadata.finalizers alone
// (optimistic lock on the resourceVersion). An Update would send the whole object back: the spec
// round-trips through Go types ("15m" becomes "15m0s"), the generation changes and the operator
// takes ownership of spec fields, so a GitOps tool's server-side apply then conflicts.
func (r *SyncTargetReconciler) patchFinalizer(ctx context.Context, st *v1.SyncTarget, change func(client.Object, string) bool) error {
	before := st.DeepCopy()
	if !change(st, finalizerName) {
		return nil
	}
	return r.Patch(ctx, st, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

type syncOutcome struct {
	requeueAfter time.Duration
	outcome      runOutcome
}

// retryAfter is how soon a run that could not start is tried again: within a minute, or the
// interval when that is shorter.
func retryAfter(st *v1.SyncTarget) time.Duration {
	return min(st.Spec.GetInterval(), time.Minute)
}

// sync runs one sync, records counters, problems and the plan in st.Status and returns the outcome
// the conditions are derived from.
func (r *SyncTargetReconciler) sync(ctx context.Context, st *v1.SyncTarget) (syncOutcome, error) {
	log := logf.FromContext(ctx)
	status := &st.Status
	notReady := func(reason, msg string, stalled bool) (syncOutcome, error) {
		return syncOutcome{requeueAfter: retryAfter(st), outcome: runOutcome{notStarted: &stop{reason, msg, stalled}}}, errors.New(msg)
	}

	if st.Spec.Suspend {
		return syncOutcome{requeueAfter: 24 * time.Hour, outcome: runOutcome{suspended: true}}, nil
	}
	// A spec stored without the CRD's validation (an old API server) may set no target type.
	targetType, err := connect.TargetTypeOf(&st.Spec)
	if err != nil {
		return notReady(v1.ReasonInvalidConfig, err.Error(), true)
	}

	// Another, older SyncTarget owning the same users of the same app: write nothing at all.
	other, err := r.ownershipConflict(ctx, st)
	if err != nil {
		return notReady(v1.ReasonReconciling, err.Error(), false)
	}
	if other != nil {
		msg := ownershipConflictMessage(st, other)
		status.Plan = nil
		r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, v1.ReasonOwnershipConflict, "Sync", "%s", msg)
		return notReady(v1.ReasonOwnershipConflict, msg, true)
	}

	// The DirectorySource and MappingRules must exist and be valid.
	var ds v1.DirectorySource
	if err := r.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: st.Spec.SourceRef.Name}, &ds); err != nil {
		if apierrors.IsNotFound(err) {
			return notReady(v1.ReasonSourceNotReady, fmt.Sprintf("DirectorySource %q not found: nothing is read or written until it exists or spec.sourceRef names another", st.Spec.SourceRef.Name), true)
		}
		return notReady(v1.ReasonSourceNotReady, fmt.Sprintf("DirectorySource %q: %v", st.Spec.SourceRef.Name, err), false)
	}
	rules := make([]mapping.NamedRule, 0, len(st.Spec.MappingRefs))
	for _, ref := range st.Spec.MappingRefs {
		var mr v1.MappingRule
		if err := r.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: ref.Name}, &mr); err != nil {
			if apierrors.IsNotFound(err) {
				return notReady(v1.ReasonMappingNotReady, fmt.Sprintf("MappingRule %q not found: nothing is read or written until it exists or spec.mappingRefs no longer names it", ref.Name), true)
			}
			return notReady(v1.ReasonMappingNotReady, fmt.Sprintf("MappingRule %q: %v", ref.Name, err), false)
		}
		// The compile cache is shared by all namespaces, so rules are keyed by namespace/name.
		rules = append(rules, mapping.NamedRule{Name: mr.Namespace + "/" + mr.Name, UID: string(mr.UID), Generation: mr.Generation, Spec: mr.Spec})
	}
	mapper, err := r.Mappers.Get(rules)
	if err != nil {
		return notReady(v1.ReasonMappingNotReady, "mapping rules do not compile: "+compileMessage(err), true)
	}

	resolver := namespacedResolver{r.APIReader, st.Namespace}
	src, err := r.sourceFor(ctx, st, &ds, resolver)
	if err != nil {
		reason, msg := sourceErrorReason(err)
		return syncOutcome{requeueAfter: retryAfter(st), outcome: runOutcome{sourceErr: &stop{reason, msg, stalledReason(reason)}}}, err
	}
	target, release, err := targetType.Build(ctx, &st.Spec, resolver, log)
	if err != nil {
		return notReady(refErrorReason(err), err.Error(), true)
	}
	defer release()

	policy := policyFor(st, mapper.ManagedFields(), approvalFor(st))
	requests := pendingRequests(st)
	policy.Controls.Purge, policy.Controls.ExtendGrace = requests.purge, requests.extend
	deadline := runDeadline(st, r.RunTimeout)
	runCtx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	res, runErr := syncer.Run(runCtx, syncer.Options{
		Source: withDeadline(src, deadline),
		// the last run's count sizes this run's list of users: directories change slowly
		ExpectedUsers: int(st.Status.ManagedUsers),
		Mapper:        mapper,
		Target:        target,
		Policy:        policy,
		State:         stateFromStatus(status.Suspended),
		DryRun:        st.Spec.DryRun,
		Concurrency:   targetType.Concurrency(&st.Spec),
		Now:           r.now,
	})
	observeRun(client.ObjectKeyFromObject(st).String(), res)
	outcome := r.publish(st, res, runErr)
	r.publishRequests(st, res, requests)
	r.storeReport(ctx, st, res)
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		// A run cut by its deadline waits a whole interval before the next one, so that a target
		// that hangs holds a worker for at most deadline/(deadline+interval) of the time.
		log.Info("sync run cut at its deadline", "deadline", deadline)
		return syncOutcome{requeueAfter: st.Spec.GetInterval(), outcome: outcome}, runErr
	}
	if res.SourceErr != nil || res.TargetErr != nil {
		return syncOutcome{requeueAfter: retryAfter(st), outcome: outcome}, runErr
	}
	return syncOutcome{outcome: outcome}, runErr
}

// Bounds of one run's deadline (see runDeadline).
const (
	minRunDeadline     = 2 * time.Minute
	defaultRunDeadline = 30 * time.Minute
)

// runDeadline bounds one run of st: its interval, but at least minRunDeadline (a big first sync
// needs time) and at most ceiling (the manager's --max-run-duration, default 30m). A run cut short
// resumes at the next run; what it wrote stays written.
func runDeadline(st *v1.SyncTarget, ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		ceiling = defaultRunDeadline
	}
	return min(max(st.Spec.GetInterval(), minRunDeadline), ceiling)
}

// deadlineSource says so when a read fails because the run's deadline passed, rather than
// leaving the source's own wording ("timed out") to suggest its request timeout is too short.
type deadlineSource struct {
	directory.Source
	deadline time.Duration
}

// withDeadline wraps src in a deadlineSource that streams exactly when src does.
func withDeadline(src directory.Source, deadline time.Duration) directory.Source {
	s := deadlineSource{src, deadline}
	if _, ok := src.(directory.Streamer); ok {
		return deadlineStreamer{s}
	}
	return s
}

func (s deadlineSource) Read(ctx context.Context) (*model.Snapshot, error) {
	snap, err := s.Source.Read(ctx)
	return snap, s.explain(ctx, err)
}

func (s deadlineSource) explain(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return directory.Errorf(directory.KindUnreachable, nil,
			"the directory was not read within the run's deadline of %s (the SyncTarget's interval, at least %s, at most the manager's --max-run-duration)",
			s.deadline, minRunDeadline)
	}
	return err
}

// deadlineStreamer is a deadlineSource around a source that hands its records over while it reads.
type deadlineStreamer struct{ deadlineSource }

// ReadStream explains the read's errors like Read; an error of yield (the run's own) is returned as it is.
func (s deadlineStreamer) ReadStream(ctx context.Context, yield func(batch []model.Record) error) (*model.Snapshot, error) {
	return directory.ReadStreamWrapped(ctx, s.Source.(directory.Streamer), yield, func(err error) error { return s.explain(ctx, err) })
}

// sourceFor returns the directory source of a run. Sources that keep something between runs (an
// LDAP source with spec.incremental its last full read, an HR record fetched over HTTP its ETag; see
// connect.SourceType.Cache) are kept per SyncTarget while what they were built from is unchanged.
func (r *SyncTargetReconciler) sourceFor(ctx context.Context, st *v1.SyncTarget, ds *v1.DirectorySource, resolver connect.Resolver) (directory.Source, error) {
	log := logf.FromContext(ctx)
	cacheKey, build, err := connect.KeptSource(ctx, &ds.Spec, resolver, connect.Env{Log: log, Now: r.now})
	if err != nil {
		return nil, err
	}
	if build == nil {
		return connect.Source(ctx, ds.Spec, resolver, log)
	}
	version := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Generation, cacheKey)
	key := client.ObjectKeyFromObject(st).String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.sources[key]; ok && c.version == version {
		return c.source, nil
	}
	src, err := build()
	if err != nil {
		return nil, err
	}
	if r.sources == nil {
		r.sources = map[string]cachedSource{}
	}
	r.sources[key] = cachedSource{version: version, source: src}
	return src, nil
}

type cachedSource struct {
	version string
	source  directory.Source
}

// policyFor translates the spec into the planner's policy.
func policyFor(st *v1.SyncTarget, managedFields []string, approvedFingerprint string) plan.Policy {
	s := st.Spec
	p := plan.Policy{
		ExternalIDPrefix:    s.GetExternalIDPrefix(),
		GracePeriod:         s.Offboarding.GetGracePeriod(),
		AfterGrace:          plan.OffboardAction(s.Offboarding.GetAfterGrace()),
		OutOfScope:          plan.OutOfScopeAction(s.Offboarding.OutOfScope),
		ManagedFields:       managedFields,
		MaxDeletions:        s.Safety.GetMaxDeletions(),
		MaxDeletionPercent:  s.Safety.GetMaxDeletionPercent(),
		MinSourcePercent:    s.Safety.GetMinSourcePercent(),
		ApprovedFingerprint: approvedFingerprint,
	}
	p.CreateDisabled = s.Offboarding.FirstSeenDisabled == "CreateSuspended"
	p.Controls = controlsFor(s)
	return p
}

func stateFromStatus(list []v1.SuspendedUser) plan.State {
	if len(list) == 0 {
		return plan.State{}
	}
	s := plan.State{Suspended: make(map[string]time.Time, len(list))}
	for _, u := range list {
		s.Suspended[u.ExternalID] = u.Since.Time
	}
	return s
}

// statusFromState keeps the suspended users sorted by externalId, with the userName known from before.
func statusFromState(s plan.State, previous []v1.SuspendedUser, names map[string]string) []v1.SuspendedUser {
	prevNames := make(map[string]string, len(previous))
	for _, p := range previous {
		prevNames[p.ExternalID] = p.UserName
	}
	out := make([]v1.SuspendedUser, 0, len(s.Suspended))
	for ext, since := range s.Suspended {
		name := names[ext]
		if name == "" {
			name = prevNames[ext]
		}
		out = append(out, v1.SuspendedUser{ExternalID: ext, UserName: name, Since: metav1.NewTime(since.UTC().Truncate(time.Second))})
	}
	sortSuspended(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// publish records one run's counters, problems, plan, pending approval and suspended users in
// st.Status and returns the outcome the conditions and events are derived from.
func (r *SyncTargetReconciler) publish(st *v1.SyncTarget, res *syncer.Result, runErr error) runOutcome {
	status := &st.Status
	if res.SourceErr != nil {
		reason, msg := sourceErrorReason(res.SourceErr)
		return runOutcome{sourceErr: &stop{reason, msg, stalledReason(reason)}}
	}
	o := runOutcome{entries: res.Entries, dryRun: st.Spec.DryRun}
	if res.TargetErr != nil {
		reason := v1.ReasonTargetUnreachable
		if target.IsAuth(res.TargetErr) {
			reason = v1.ReasonTargetAuthFailed
		}
		o.targetErr = &stop{reason, res.TargetErr.Error(), reason == v1.ReasonTargetAuthFailed}
		return o
	}
	if runErr != nil {
		o.interrupted = runErr.Error()
	}
	if res.Plan == nil { // mapping was interrupted
		if o.interrupted == "" {
			o.interrupted = "no plan"
		}
		return o
	}
	p := res.Plan
	r.settleApproval(st, p)
	o.planned, o.actions = true, len(p.Actions)
	if p.OffboardingHeld != nil {
		o.held = &stop{heldReason(p), heldMessage(p), false}
	}
	if len(res.UnknownAttributes) > 0 {
		o.unknownAttributes = unknownAttributesMessage(res.UnknownAttributes)
	}
	problems := append(append(slices.Clone(res.Skipped), res.Failures...), res.Warnings...)
	status.Problems = problemsForStatus(problems, 50)
	status.ProblemsTotal = int32(len(problems))
	now := metav1.NewTime(r.now())
	status.LastSyncTime = &now
	status.LastSyncDuration = &metav1.Duration{Duration: res.Duration.Round(time.Millisecond)}
	skipped := int32(len(res.Skipped))

	if p.Blocked != nil || st.Spec.DryRun {
		// Nothing was applied: lastRun says so; what would have happened is in status.plan.
		status.Plan = planSummary(p)
		status.LastRun = v1.RunCounts{Skipped: skipped, Held: int32(p.Summary.Held)}
		status.ManagedUsers = int32(res.ManagedAfter()) // nothing applied: the users found
		o.managed = int(status.ManagedUsers)
		if p.Blocked != nil {
			o.blocked = &stop{p.Blocked.Reason, p.Blocked.Message, true}
			o.approveCommand = approveCommand(st, p.Fingerprint)
		}
		return o
	}

	// Applied.
	c := res.Counts
	status.Plan = nil
	status.LastRun = v1.RunCounts{
		Adopted: int32(c.Adopted), Withheld: int32(p.Summary.Withheld),
		Created: int32(c.Created), Updated: int32(c.Updated), Suspended: int32(c.Suspended), Reactivated: int32(c.Reactivated),
		Deleted: int32(c.Deleted), Anonymized: int32(c.Anonymized), GroupChanges: int32(c.GroupChanges),
		Skipped: skipped, Held: int32(p.Summary.Held), Failed: int32(c.Failed),
	}
	status.ManagedUsers = int32(res.ManagedAfter())
	names := map[string]string{}
	for _, a := range p.Actions {
		if a.Kind == plan.KindSuspend {
			names[a.ExternalID] = a.UserName
		}
	}
	status.Suspended = statusFromState(res.State, status.Suspended, names)
	o.managed, o.failed = int(status.ManagedUsers), c.Failed
	o.summary = fmt.Sprintf("adopted %d, created %d, updated %d, reactivated %d, suspended %d, deleted %d, anonymized %d, group changes %d, skipped %d, held %d, failed %d",
		c.Adopted, c.Created, c.Updated, c.Reactivated, c.Suspended, c.Deleted, c.Anonymized, c.GroupChanges, skipped, p.Summary.Held, c.Failed)
	return o
}

// recordEvents tells a run's outcome as events: a warning for each stop, failure or held offboarding,
// a normal event for a run that changed something. Every event is one line.
func (r *SyncTargetReconciler) recordEvents(st *v1.SyncTarget, o runOutcome) {
	warn := func(reason, action, msg string) {
		r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, reason, action, "%s", truncate(oneLine(msg), 1000))
	}
	switch {
	case o.sourceErr != nil:
		warn(o.sourceErr.reason, "Read", "directory not readable, nothing was changed: "+o.sourceErr.message)
	case o.targetErr != nil:
		warn(o.targetErr.reason, "Sync", "target not readable, nothing was changed: "+o.targetErr.message)
	case o.blocked != nil:
		warn(o.blocked.reason, "Sync", o.blocked.message+"; nothing was changed (see status.plan)")
	case o.failed > 0:
		warn(v1.ReasonPartialFailure, "Sync", fmt.Sprintf("%d actions failed (see status.problems): %s", o.failed, o.summary))
	case o.planned && !o.dryRun && o.interrupted == "" && o.actions > 0:
		r.Recorder.Eventf(st, nil, corev1.EventTypeNormal, "Synced", "Sync", "%s", o.summary)
	}
	if o.held != nil {
		warn(o.held.reason, "Offboard", o.held.message)
	}
	if o.unknownAttributes != "" && o.planned && !o.dryRun && o.interrupted == "" && o.failed == 0 && o.blocked == nil {
		warn(v1.ReasonUnknownAttribute, "Sync", o.unknownAttributes)
	}
}

// stalledReason says whether a source or target error needs a person: wrong credentials, a missing
// Secret or key, or a configuration the server rejects do not heal by retrying.
func stalledReason(reason string) bool {
	switch reason {
	case v1.ReasonAuthFailed, v1.ReasonTargetAuthFailed, v1.ReasonSecretNotFound, v1.ReasonConfigMapNotFound,
		v1.ReasonKeyNotFound, v1.ReasonInvalidConfig, v1.ReasonInvalidFilter:
		return true
	}
	return false
}

func heldReason(p *plan.Plan) string {
	if p.OffboardingHeld == nil {
		return v1.ReasonSucceeded
	}
	switch p.OffboardingHeld.Reason {
	case plan.ReasonSourceIncomplete:
		return v1.ReasonSourceIncomplete
	case plan.ReasonSuspiciousSource:
		return v1.ReasonSuspiciouslyEmptySource
	}
	return p.OffboardingHeld.Reason
}

func heldMessage(p *plan.Plan) string {
	return "nobody was offboarded: " + p.OffboardingHeld.Message
}

// planSummary publishes a plan that was not applied.
func planSummary(p *plan.Plan) *v1.PlanSummary {
	const maxLines = 100
	lines := make([]string, 0, min(len(p.Actions), maxLines))
	for i, a := range p.Actions {
		if i == maxLines {
			break
		}
		lines = append(lines, truncate(a.Describe(), 256))
	}
	ps := &v1.PlanSummary{Counts: plannedCounts(p, int32(len(p.Problems))), Actions: lines, TotalActions: int32(len(p.Actions))}
	if p.Blocked != nil {
		ps.Blocked = p.Blocked.Reason + ": " + p.Blocked.Message
	}
	return ps
}

func plannedCounts(p *plan.Plan, skipped int32) v1.RunCounts {
	s := p.Summary
	return v1.RunCounts{
		Adopted: int32(s.Adoptions), Withheld: int32(s.Withheld),
		Created: int32(s.Creates), Updated: int32(s.Updates), Reactivated: int32(s.Reactivations),
		Suspended: int32(s.Suspensions), Deleted: int32(s.Deletions), Anonymized: int32(s.Anonymizations),
		GroupChanges: int32(s.GroupAdoptions + s.GroupCreates + s.MemberAdds + s.MemberRemovals), Skipped: skipped, Held: int32(s.Held),
	}
}

// SetupWithManager registers the controller, its indexes and the watches that trigger a run when
// something a SyncTarget depends on changes.
func (r *SyncTargetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Mappers == nil {
		r.Mappers = &mapping.Cache{}
	}
	idx := mgr.GetFieldIndexer()
	ctx := context.Background()
	indexes := map[string]func(*v1.SyncTarget) []string{
		indexTargetSource: func(st *v1.SyncTarget) []string { return []string{st.Spec.SourceRef.Name} },
		indexTargetMappings: func(st *v1.SyncTarget) []string {
			names := make([]string, 0, len(st.Spec.MappingRefs))
			for _, m := range st.Spec.MappingRefs {
				names = append(names, m.Name)
			}
			return names
		},
		indexTargetSecrets:    func(st *v1.SyncTarget) []string { return connect.TargetRefs(&st.Spec).Secrets },
		indexTargetConfigMaps: func(st *v1.SyncTarget) []string { return connect.TargetRefs(&st.Spec).ConfigMaps },
	}
	for name, fn := range indexes {
		fn := fn
		if err := idx.IndexField(ctx, &v1.SyncTarget{}, name, func(o client.Object) []string { return fn(o.(*v1.SyncTarget)) }); err != nil {
			return err
		}
	}
	specChanged := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	workers := r.MaxConcurrent
	if workers <= 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.SyncTarget{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&v1.DirectorySource{}, r.referenceHandler(indexTargetSource), specChanged).
		Watches(&v1.MappingRule{}, r.referenceHandler(indexTargetMappings), specChanged).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.targetsByReference(indexTargetSecrets, indexSourceSecrets))).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.targetsByReference(indexTargetConfigMaps, indexSourceConfigMaps))).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("synctarget").
		Complete(r)
}

// targetsBy maps an object to the SyncTargets whose index holds its name.
func (r *SyncTargetReconciler) targetsBy(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.listTargets(ctx, o.GetNamespace(), index, o.GetName())
	}
}

// referenceHandler triggers a run of the SyncTargets whose index holds a DirectorySource's or
// MappingRule's name when it is created, changed or deleted. On deletion it also tells each of them
// with a Warning event; their conditions follow from that run at once, not at the next interval.
func (r *SyncTargetReconciler) referenceHandler(index string) handler.EventHandler {
	enqueue := handler.EnqueueRequestsFromMapFunc(r.targetsBy(index))
	return handler.Funcs{
		CreateFunc:  enqueue.Create,
		UpdateFunc:  enqueue.Update,
		GenericFunc: enqueue.Generic,
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.warnDeleted(ctx, e.Object, index)
			enqueue.Delete(ctx, e, q)
		},
	}
}

// warnDeleted records a Warning event on every SyncTarget (not itself being deleted) that uses the
// deleted DirectorySource or MappingRule, and drops a deleted rule from the compile cache.
func (r *SyncTargetReconciler) warnDeleted(ctx context.Context, o client.Object, index string) {
	var reason, msg string
	switch o.(type) {
	case *v1.DirectorySource:
		reason = v1.ReasonSourceNotReady
		msg = fmt.Sprintf("DirectorySource %q was deleted: this SyncTarget stops syncing (nothing is read or written, nobody is offboarded) until it is created again or spec.sourceRef names another", o.GetName())
	case *v1.MappingRule:
		r.Mappers.Delete(o.GetNamespace() + "/" + o.GetName())
		reason = v1.ReasonMappingNotReady
		msg = fmt.Sprintf("MappingRule %q was deleted: this SyncTarget stops syncing (nothing is read or written, nobody is offboarded) until it is created again or removed from spec.mappingRefs", o.GetName())
	default:
		return
	}
	var list v1.SyncTargetList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing the SyncTargets that use a deleted object", "object", client.ObjectKeyFromObject(o))
		return
	}
	for i := range list.Items {
		if st := &list.Items[i]; st.DeletionTimestamp.IsZero() {
			r.Recorder.Eventf(st, o, corev1.EventTypeWarning, reason, "Sync", "%s", msg)
		}
	}
}

// targetsByReference maps a Secret or ConfigMap to the SyncTargets reading it directly or through
// their DirectorySource.
func (r *SyncTargetReconciler) targetsByReference(targetIndex, sourceIndex string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		reqs := r.listTargets(ctx, o.GetNamespace(), targetIndex, o.GetName())
		var sources v1.DirectorySourceList
		if err := r.List(ctx, &sources, client.InNamespace(o.GetNamespace()), client.MatchingFields{sourceIndex: o.GetName()}); err != nil {
			return reqs
		}
		for _, ds := range sources.Items {
			reqs = append(reqs, r.listTargets(ctx, ds.Namespace, indexTargetSource, ds.Name)...)
		}
		return reqs
	}
}

func (r *SyncTargetReconciler) listTargets(ctx context.Context, ns, index, value string) []reconcile.Request {
	var list v1.SyncTargetList
	if err := r.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{index: value}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, st := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&st)})
	}
	return reqs
}

// unknownAttributesMessage names rule, field and schema of each attribute the target does not define.
func unknownAttributesMessage(problems []model.Problem) string {
	parts := make([]string, 0, len(problems))
	for _, p := range problems {
		parts = append(parts, p.Subject+": "+p.Message)
	}
	return truncate("mapped attributes the target does not define: "+strings.Join(parts, "; "), 1000)
}
