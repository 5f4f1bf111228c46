package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

func waitStalled(t *testing.T, f *fixture, name, reason, contains string) {
	t.Helper()
	eventually(t, waitSync, func() error {
		conds := f.syncTarget(t, name).Status.Conditions
		if _, err := condition(conds, v1.ConditionStalled, metav1.ConditionTrue, reason); err != nil {
			return err
		}
		// The stop's details are in Ready; Stalled says what a person can do.
		msg, err := condition(conds, v1.ConditionReady, metav1.ConditionFalse, reason)
		if err == nil && !strings.Contains(msg, contains) {
			err = fmt.Errorf("Ready message %q lacks %q", msg, contains)
		}
		return err
	})
}

// TestE2EActionSwitchesLimitsPurgeExtend goes through each spec.actions switch, the maxCreates and
// maxMembershipRemovals limits with their one-shot approval, a purge and a grace extension.
func TestE2EActionSwitchesLimitsPurgeExtend(t *testing.T) {
	f := newFixture(t, "controls")
	ctx := context.Background()
	want := expectedUsers(f.ldap.Seed)
	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.Offboarding.GracePeriod = &metav1.Duration{Duration: time.Hour}
		s.Actions.Create = ptr.To(false)
		s.Safety.MaxCreates = ptr.To[int32](5)
	}))

	// create off: nothing is created, the creates are withheld (and therefore not limited).
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if st.Status.LastRun.Withheld < int32(len(want)) {
			return fmt.Errorf("lastRun %+v", st.Status.LastRun)
		}
		_, err := condition(st.Status.Conditions, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSucceeded)
		return err
	})
	if n := len(f.users(t)); n != 0 {
		t.Fatalf("%d users created with create off", n)
	}

	// create on: more creates than maxCreates stop the run until approved once.
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.Actions.Create = nil })
	waitStalled(t, f, "app", v1.ReasonCreateThresholdExceeded, fmt.Sprintf("create %d users, limit 5 (maxCreates 5)", len(want)))
	if n := len(f.users(t)); n != 0 {
		t.Fatalf("%d users created by a blocked run", n)
	}
	approveOnce(t, f, "app")
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })

	// update and suspend off: a changed title and a person who left are withheld.
	changed, left, left2, purged := want[1].UID, want[2].UID, want[3].UID, want[4].UID
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) {
		st.Spec.Actions.Update, st.Spec.Actions.Suspend = ptr.To(false), ptr.To(false)
	})
	f.waitForRun(t, "app")
	if err := f.ldap.SetAttribute(ctx, changed, "title", "Chief Switch Tester"); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{left, left2, purged} {
		if err := f.ldap.DeleteUser(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, waitSync, func() error {
		if w := f.syncTarget(t, "app").Status.LastRun.Withheld; w < 4 {
			return fmt.Errorf("withheld %d, want the update and 3 suspensions", w)
		}
		return nil
	})
	f.waitForRun(t, "app")
	if u, _ := f.user(t, changed); u.Title == "Chief Switch Tester" {
		t.Fatal("updated with update off")
	}
	for _, uid := range []string{left, left2, purged} {
		if u, _ := f.user(t, uid); !u.Active {
			t.Fatalf("%s suspended with suspend off", uid)
		}
	}
	if s := f.syncTarget(t, "app").Status.Suspended; len(s) != 0 {
		t.Fatalf("a withheld suspension started a grace period: %+v", s)
	}

	// Back on: the update and the suspensions happen.
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.Actions.Update, st.Spec.Actions.Suspend = nil, nil })
	eventually(t, waitSync, func() error {
		if u, _ := f.user(t, changed); u.Title != "Chief Switch Tester" {
			return fmt.Errorf("title %q", u.Title)
		}
		if n := len(f.syncTarget(t, "app").Status.Suspended); n != 3 {
			return fmt.Errorf("%d suspended", n)
		}
		return nil
	})

	// Purge one before the grace period ends; extend another's grace period by 10h.
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) {
		st.Annotations[v1.AnnotationPurge] = purged
		st.Annotations[v1.AnnotationExtendGrace] = left2 + "=10h"
	})
	eventually(t, waitSync, func() error {
		if _, ok := f.user(t, purged); ok {
			return fmt.Errorf("%s not purged", purged)
		}
		st := f.syncTarget(t, "app")
		notes := strings.Join(st.Status.Requests, "\n")
		if st.Status.HandledPurge != purged || !strings.Contains(notes, "purge of "+purged+": planned") ||
			!strings.Contains(notes, "grace period of "+left2+" extended by 10h") {
			return fmt.Errorf("handled %q, requests %q", st.Status.HandledPurge, notes)
		}
		return nil
	})
	if u, _ := f.user(t, left); u.UserName == "" || u.Active {
		t.Fatalf("%s should be suspended and kept: %+v", left, u)
	}

	// delete off: past the grace period nobody is deleted; the clock keeps running.
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.Actions.Delete = ptr.To(false) })
	f.waitForRun(t, "app")
	advanceClock(2 * time.Hour)
	f.waitForRun(t, "app")
	f.waitForRun(t, "app")
	if _, ok := f.user(t, left); !ok {
		t.Fatalf("%s deleted with delete off", left)
	}
	if w := f.syncTarget(t, "app").Status.LastRun.Withheld; w < 1 {
		t.Fatalf("deletion not withheld: %d", w)
	}
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.Actions.Delete = nil })
	eventually(t, waitSync, func() error {
		if _, ok := f.user(t, left); ok {
			return fmt.Errorf("%s not deleted after the grace period", left)
		}
		return nil
	})
	if _, ok := f.user(t, left2); !ok {
		t.Fatalf("%s deleted although its grace period was extended", left2)
	}

	// maxMembershipRemovals: a department move removes a membership; 0 allowed until approved.
	mover := want[6]
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.Safety.MaxMembershipRemovals = ptr.To[int32](0) })
	f.waitForRun(t, "app")
	other := "d-none"
	for code := range departmentNames {
		if code != mover.DepartmentNumber {
			other = code
			break
		}
	}
	if err := f.ldap.MoveDepartment(ctx, mover.UID, other); err != nil {
		t.Fatal(err)
	}
	waitStalled(t, f, "app", v1.ReasonMembershipRemovalThresholdExceeded, "remove 1 group memberships, limit 0 (maxMembershipRemovals 0)")
	approveOnce(t, f, "app")
	eventually(t, waitSync, func() error {
		u, _ := f.user(t, mover.UID)
		if !slices.Equal(u.Groups, []string{"Department " + departmentNames[other]}) {
			return fmt.Errorf("groups %v", u.Groups)
		}
		return nil
	})
}
