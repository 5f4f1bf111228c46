package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
)

// Approvals are one-shot and bound to one blocked plan: the annotation must carry the fingerprint
// of the plan recorded in status.pendingApproval, and a run lifts the block only if it plans exactly
// that again (the planner compares fingerprints). Whatever happens, a value is handled once.

// approvalFor returns the fingerprint a run may treat as approved: the annotation's value when it
// was not handled before and names the plan the last run blocked; "" otherwise.
func approvalFor(st *v1.SyncTarget) string {
	value := st.Annotations[v1.AnnotationApproveDeletions]
	pending := st.Status.PendingApproval
	if value == "" || value == st.Status.ApprovedDeletionsUsed || pending == nil || value != pending.Fingerprint {
		return ""
	}
	return value
}

// settleApproval records the blocked plan a run produced (or clears it) and retires the approval
// annotation's value once a run that could apply has seen it: used, or reported as ignored.
func (r *SyncTargetReconciler) settleApproval(st *v1.SyncTarget, p *plan.Plan) {
	status := &st.Status
	if p.Blocked != nil && p.Fingerprint != "" {
		status.PendingApproval = &v1.PendingApproval{Fingerprint: p.Fingerprint, Reason: p.Blocked.Reason,
			Counts: plannedCounts(p, int32(len(p.Problems)))}
	} else {
		status.PendingApproval = nil
	}
	value := st.Annotations[v1.AnnotationApproveDeletions]
	if value == "" {
		// Removing the annotation lets the same value approve a later, identical blocked plan.
		status.ApprovedDeletionsUsed = ""
		return
	}
	if st.Spec.DryRun || value == status.ApprovedDeletionsUsed {
		return
	}
	status.ApprovedDeletionsUsed = value
	if p.ApprovalUsed {
		return
	}
	status.IgnoredApproval = value
	why := "no plan was blocked"
	if p.Blocked != nil {
		why = fmt.Sprintf("the blocked plan's fingerprint is %s", p.Fingerprint)
	}
	r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, v1.ReasonApprovalIgnored, "Approve",
		"approval %q ignored: %s; an approval applies only to the plan it names and it approves nothing else", truncate(value, 64), why)
}

// approveCommand is the exact command that approves the blocked plan with this fingerprint.
func approveCommand(st *v1.SyncTarget, fingerprint string) string {
	return fmt.Sprintf("kubectl annotate synctarget -n %s %s %s=%s --overwrite",
		st.Namespace, st.Name, v1.AnnotationApproveDeletions, fingerprint)
}
