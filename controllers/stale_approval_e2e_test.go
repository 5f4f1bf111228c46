package controllers_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// a one-shot approval must approve the blocked plan a person looked at, not whatever
// plan comes later. An approval annotation present while no plan was blocked stays pending and
// silently approves the next mass offboarding, which nobody has seen.
func TestE2EStaleApprovalDoesNotApproveALaterPlan(t *testing.T) {
	f := newFixture(t, "reviewapprove")
	ctx := context.Background()
	st := syncTarget("app", f, func(s *v1.SyncTargetSpec) { s.Safety.MaxDeletions = ptr.To[int32](2) })
	st.Annotations = map[string]string{v1.AnnotationApproveDeletions: "ticket-old"}
	f.applyAll(t, st)
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })
	f.waitForRun(t, "app")

	want := expectedUsers(f.ldap.Seed)
	removed := []string{want[10].UID, want[11].UID, want[12].UID}
	for _, uid := range removed {
		if err := f.ldap.DeleteUser(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		_, err := condition(st.Status.Conditions, v1.ConditionStalled, metav1.ConditionTrue, v1.ReasonDeletionThresholdExceeded)
		return err
	})
	var suspended []string
	for _, uid := range removed {
		if u, ok := f.user(t, uid); ok && !u.Active {
			suspended = append(suspended, uid)
		}
	}
	if s := f.syncTarget(t, "app").Status; len(suspended) > 0 || s.IgnoredApproval != "ticket-old" || s.PendingApproval == nil {
		t.Errorf("an approval given before any plan was blocked must be reported as ignored and approve nothing: suspended %v, ignoredApproval %q, pendingApproval %+v",
			suspended, s.IgnoredApproval, s.PendingApproval)
	}
}
