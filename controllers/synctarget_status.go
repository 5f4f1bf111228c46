package controllers

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// A SyncTarget's conditions are all derived, on every path, from one runOutcome by
// syncTargetConditions, so that no condition keeps a story from an earlier run or generation.
// Each error message appears in one condition only: SourceReachable for the directory, Ready for the
// rest; the other conditions point there.

// stop says why a run did not (fully) happen.
type stop struct {
	reason, message string
	// stalled: retrying does not help, a person has to change something.
	stalled bool
}

// runOutcome is what one reconcile of a SyncTarget found and did.
type runOutcome struct {
	// suspended: spec.suspend; nothing was read or written.
	suspended bool
	// notStarted: the run could not start (a missing DirectorySource, MappingRule, Secret or key, an
	// invalid mapping or configuration, an ownership conflict); the directory was not read.
	notStarted *stop
	// sourceErr: the directory could not be read; nothing was written.
	sourceErr *stop
	// entries read from the directory when it was read.
	entries int
	// targetErr: the target could not be read; nothing was written.
	targetErr *stop
	// interrupted: the run was cut short (timeout, shutdown) after the directory was read.
	interrupted string
	// planned is false when the run ended before a plan existed.
	planned bool
	// blocked: a safety limit stopped the plan; nothing was written.
	blocked *stop
	// approveCommand is the exact command that approves the blocked plan, and nothing else, once.
	approveCommand string
	// dryRun: the plan was published, not applied; actions is its size.
	dryRun  bool
	actions int
	// held: offboarding was held back (incomplete or suspiciously small read).
	held *stop
	// unknownAttributes says which attributes the rules map but the target does not know (they are
	// never written); the rest of a successful run is in sync.
	unknownAttributes string
	// failed counts actions the target rejected.
	failed int
	// summary says what was applied; managed is the number of managed users after the run.
	summary string
	managed int
}

// condition is one condition's status, reason and message, before generation and time are added.
type condition struct {
	status          metav1.ConditionStatus
	reason, message string
}

// Condition reasons only this function uses.
const (
	// reasonNotRead: SourceReachable is Unknown because the run did not get to read the directory.
	reasonNotRead = "NotRead"
	// reasonDegraded: Ready is True but Degraded is True too; the STATUS column shows it.
	reasonDegraded = "Degraded"
)

// syncTargetConditions derives every condition a SyncTarget owns from the run's outcome.
func syncTargetConditions(o runOutcome) map[string]condition {
	var ready, synced, stalled, degraded, source condition
	noRun := func(reason string) condition {
		return condition{metav1.ConditionFalse, reason, "no run took place"}
	}
	waiting := func(s *stop, where string) condition {
		if s.stalled {
			return condition{metav1.ConditionTrue, s.reason, "waiting for a change by a person (see " + where + ")"}
		}
		return condition{metav1.ConditionFalse, s.reason, "retried automatically"}
	}
	notDegraded := func(reason, msg string) condition {
		if o.held != nil {
			return condition{metav1.ConditionTrue, o.held.reason, o.held.message}
		}
		return condition{metav1.ConditionFalse, reason, msg}
	}
	switch {
	case o.suspended:
		ready = condition{metav1.ConditionFalse, v1.ReasonSuspended, "syncing is suspended (spec.suspend): nothing is read or written"}
		synced = condition{metav1.ConditionFalse, v1.ReasonSuspended, "suspended"}
		stalled = condition{metav1.ConditionFalse, v1.ReasonSuspended, "resumes when spec.suspend is false"}
		degraded = noRun(v1.ReasonSuspended)
		source = condition{metav1.ConditionUnknown, v1.ReasonSuspended, "not read while suspended"}
	case o.notStarted != nil:
		s := o.notStarted
		ready = condition{metav1.ConditionFalse, s.reason, s.message}
		synced = condition{metav1.ConditionFalse, s.reason, "nothing was read or written (see Ready)"}
		stalled = waiting(s, "Ready")
		degraded = noRun(s.reason)
		source = condition{metav1.ConditionUnknown, reasonNotRead, "the run could not start, the directory was not read (see Ready)"}
	case o.sourceErr != nil:
		s := o.sourceErr
		source = condition{metav1.ConditionFalse, s.reason, s.message}
		ready = condition{metav1.ConditionFalse, s.reason, "the directory could not be read (see SourceReachable): nothing was changed"}
		synced = condition{metav1.ConditionFalse, s.reason, "nothing was changed (see SourceReachable)"}
		stalled = waiting(s, "SourceReachable")
		degraded = noRun(s.reason)
	default:
		source = condition{metav1.ConditionTrue, v1.ReasonSucceeded, fmt.Sprintf("read %d entries", o.entries)}
		switch {
		case o.targetErr != nil:
			s := o.targetErr
			ready = condition{metav1.ConditionFalse, s.reason, "the target could not be read, nothing was changed: " + s.message}
			synced = condition{metav1.ConditionFalse, s.reason, "nothing was changed (see Ready)"}
			stalled = waiting(s, "Ready")
			degraded = noRun(s.reason)
		case o.interrupted != "" && !o.planned:
			msg := "run interrupted before anything was planned: " + o.interrupted
			ready = condition{metav1.ConditionFalse, v1.ReasonReconciling, msg}
			synced = condition{metav1.ConditionFalse, v1.ReasonReconciling, "nothing was changed (see Ready)"}
			stalled = condition{metav1.ConditionFalse, v1.ReasonReconciling, "the next run starts over"}
			degraded = noRun(v1.ReasonReconciling)
		case o.blocked != nil:
			s := o.blocked
			ready = condition{metav1.ConditionFalse, s.reason, s.message + "; nothing was changed"}
			synced = condition{metav1.ConditionFalse, s.reason, "nothing was changed (see status.plan)"}
			stalled = condition{metav1.ConditionTrue, s.reason, fmt.Sprintf(
				"raise the spec.safety limit, or approve exactly the plan in status.plan (every limit it exceeds) once: %s",
				o.approveCommand)}
			degraded = notDegraded(s.reason, "nothing was applied")
		case o.dryRun:
			ready = condition{metav1.ConditionTrue, v1.ReasonDryRun, fmt.Sprintf("dry run: %d actions planned, nothing written (see status.plan)", o.actions)}
			synced = condition{metav1.ConditionFalse, v1.ReasonDryRun, "dry run: nothing written"}
			stalled = condition{metav1.ConditionFalse, v1.ReasonDryRun, "nothing needs a person's attention"}
			degraded = notDegraded(v1.ReasonDryRun, "nothing was applied")
		case o.interrupted != "":
			ready = condition{metav1.ConditionFalse, v1.ReasonReconciling, "run interrupted: " + o.interrupted + "; applied before: " + o.summary}
			synced = condition{metav1.ConditionFalse, v1.ReasonReconciling, "the run was cut short (see Ready); the next run continues"}
			stalled = condition{metav1.ConditionFalse, v1.ReasonReconciling, "the next run continues"}
			degraded = condition{metav1.ConditionTrue, v1.ReasonReconciling, "the last run was cut short (see Ready)"}
		case o.failed > 0:
			ready = condition{metav1.ConditionFalse, v1.ReasonPartialFailure, fmt.Sprintf("%d actions failed (see status.problems); applied: %s", o.failed, o.summary)}
			synced = condition{metav1.ConditionFalse, v1.ReasonPartialFailure, "some actions failed (see Ready); the next run retries them"}
			stalled = condition{metav1.ConditionFalse, v1.ReasonPartialFailure, "the next run retries the failed actions"}
			msg := fmt.Sprintf("%d actions failed (see status.problems)", o.failed)
			if o.held != nil {
				msg += "; " + o.held.message
			}
			degraded = condition{metav1.ConditionTrue, v1.ReasonPartialFailure, msg}
		default:
			ready = condition{metav1.ConditionTrue, v1.ReasonSucceeded, fmt.Sprintf("%d users in sync", o.managed)}
			synced = condition{metav1.ConditionTrue, v1.ReasonSucceeded, "applied: " + o.summary}
			stalled = condition{metav1.ConditionFalse, v1.ReasonSucceeded, "nothing needs a person's attention"}
			degraded = notDegraded(v1.ReasonSucceeded, "the last run completed without failures")
			if o.held == nil && o.unknownAttributes != "" {
				degraded = condition{metav1.ConditionTrue, v1.ReasonUnknownAttribute, o.unknownAttributes}
			}
		}
	}
	if ready.status == metav1.ConditionTrue && degraded.status == metav1.ConditionTrue {
		// Ready's reason is the STATUS column of kubectl get: it must not hide a degradation.
		ready.reason, ready.message = reasonDegraded, ready.message+"; degraded (see Degraded)"
	}
	return map[string]condition{
		v1.ConditionReady:           ready,
		v1.ConditionSynced:          synced,
		v1.ConditionStalled:         stalled,
		v1.ConditionDegraded:        degraded,
		v1.ConditionSourceReachable: source,
	}
}

// setSyncTargetConditions sets every owned condition from the outcome, for generation gen.
func setSyncTargetConditions(conds *[]metav1.Condition, gen int64, o runOutcome) {
	all := syncTargetConditions(o)
	for _, typ := range []string{v1.ConditionReady, v1.ConditionSynced, v1.ConditionStalled, v1.ConditionDegraded, v1.ConditionSourceReachable} {
		c := all[typ]
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: typ, Status: c.status, Reason: c.reason, Message: truncate(oneLine(c.message), 1024), ObservedGeneration: gen,
		})
	}
}

// statusPatch is a merge patch of the status that always carries the counters kubectl's USERS and
// PROBLEMS columns show: a merge patch only holds changes, so a 0 from the first run would
// otherwise never be stored and the columns would stay blank.
type statusPatch struct{ client.Patch }

func (p statusPatch) Data(obj client.Object) ([]byte, error) {
	data, err := p.Patch.Data(obj)
	if err != nil {
		return nil, err
	}
	st, ok := obj.(*v1.SyncTarget)
	if !ok {
		return data, nil
	}
	var patch map[string]any
	if err := json.Unmarshal(data, &patch); err != nil {
		return nil, err
	}
	status, _ := patch["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
	}
	status["managedUsers"], status["problemsTotal"] = st.Status.ManagedUsers, st.Status.ProblemsTotal
	patch["status"] = status
	return json.Marshal(patch)
}
