package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// TestE2ELifecycle follows users through initial sync, changes, moves, disabling, deletion and the
// end of the grace period, with a user and a group membership made by hand that must survive.
func TestE2ELifecycle(t *testing.T) {
	f := newFixture(t, "lifecycle")
	ctx := context.Background()
	seed := f.ldap.Seed
	manual := f.createUnmanaged(t, "manual.person")

	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.Offboarding.GracePeriod = &metav1.Duration{Duration: time.Hour}
	}))

	// 1. Initial sync.
	want := expectedUsers(seed)
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if err := conditions(st.Status.Conditions,
			v1.ConditionReady, "True", v1.ReasonSucceeded,
			v1.ConditionSynced, "True", v1.ReasonSucceeded,
			v1.ConditionSourceReachable, "True", v1.ReasonSucceeded,
			v1.ConditionStalled, "False", v1.ReasonSucceeded); err != nil {
			return err
		}
		if st.Status.ManagedUsers != int32(len(want)) {
			return fmt.Errorf("managedUsers %d, want %d", st.Status.ManagedUsers, len(want))
		}
		if st.Status.LastSyncTime == nil || st.Status.LastSyncDuration == nil || st.Status.ObservedGeneration != st.Generation {
			return fmt.Errorf("lastSyncTime/lastSyncDuration/observedGeneration not published: %+v", st.Status)
		}
		if !slices.Contains(st.Finalizers, "sync.directorysync.io/finalizer") {
			return fmt.Errorf("no finalizer: %v", st.Finalizers)
		}
		var missingMail bool
		for _, p := range st.Status.Problems {
			if p.Reason == string(model.ReasonMissingField) && strings.Contains(p.Subject+" "+p.Message, slapd.NoMailUID) {
				missingMail = true
			}
		}
		if !missingMail || st.Status.ProblemsTotal < 1 {
			return fmt.Errorf("no MissingField problem for %s in %+v", slapd.NoMailUID, st.Status.Problems)
		}
		return nil
	})
	eventually(t, waitSync, func() error {
		ds := f.directorySourceStatus(t, "ldap")
		if err := conditions(ds.Status.Conditions,
			v1.ConditionReady, "True", v1.ReasonSucceeded,
			v1.ConditionSourceReachable, "True", v1.ReasonSucceeded); err != nil {
			return err
		}
		if ds.Status.EntriesRead != seedUsers || ds.Status.DisabledEntries != int32(len(seed.DisabledUIDs())) || ds.Status.LastReadTime == nil {
			return fmt.Errorf("entriesRead %d disabledEntries %d lastReadTime %v", ds.Status.EntriesRead, ds.Status.DisabledEntries, ds.Status.LastReadTime)
		}
		mr := f.mappingRuleStatus(t, "staff")
		if err := conditions(mr.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded, v1.ConditionValid, "True", v1.ReasonSucceeded); err != nil {
			return fmt.Errorf("MappingRule: %w", err)
		}
		if !slices.Equal(mr.Status.UsedBy, []string{"app"}) {
			return fmt.Errorf("MappingRule usedBy %v", mr.Status.UsedBy)
		}
		return nil
	})

	// 2. An attribute change in LDAP reaches SCIM.
	changed := want[5].UID
	if err := f.ldap.SetAttribute(ctx, changed, "telephoneNumber", "+1 555 0000042"); err != nil {
		t.Fatal(err)
	}
	if err := f.ldap.SetAttribute(ctx, changed, "title", "Chief Tester"); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		u, _ := f.user(t, changed)
		if u.PhoneNumber != "+1 555 0000042" || u.Title != "Chief Tester" {
			return fmt.Errorf("%s: phone %q title %q", changed, u.PhoneNumber, u.Title)
		}
		return nil
	})

	// 3. A department move moves the managed group membership; a membership made by hand stays.
	mover := want[6]
	oldGroup := "Department " + departmentNames[mover.DepartmentNumber]
	newCode := slapd.Departments[(slices.Index(slapd.Departments, mover.DepartmentNumber)+3)%len(slapd.Departments)]
	newGroup := "Department " + departmentNames[newCode]
	moverUser, _ := f.user(t, mover.UID)
	handGroup, err := f.sc.CreateGroup(ctx, &scim.Group{DisplayName: "Hand Picked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := scim.NewTarget(f.sc).AddMembers(ctx, handGroup.ID, []string{moverUser.TargetID, manual.TargetID}); err != nil {
		t.Fatal(err)
	}
	if err := f.ldap.MoveDepartment(ctx, mover.UID, newCode); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		u, _ := f.user(t, mover.UID)
		if u.Department != departmentNames[newCode] || !slices.Equal(u.Groups, sorted(newGroup, "Hand Picked")) {
			return fmt.Errorf("%s: department %q groups %v, want %q and [%s Hand Picked] (not %s)", mover.UID, u.Department, u.Groups, departmentNames[newCode], newGroup, oldGroup)
		}
		return nil
	})
	f.waitForRun(t, "app")
	if u, _ := f.user(t, mover.UID); !slices.Contains(u.Groups, "Hand Picked") {
		t.Fatalf("the hand-made membership was removed by a later run: %v", u.Groups)
	}

	// 4. Disabled in LDAP: inactive in SCIM, not deleted, no grace clock.
	disabled := want[7].UID
	if err := f.ldap.DisableUser(ctx, disabled); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		u, ok := f.user(t, disabled)
		if !ok || u.Active {
			return fmt.Errorf("%s: present %v active %v, want present and inactive", disabled, ok, u.Active)
		}
		return nil
	})

	// 5. Deleted from LDAP: suspended and listed, then deleted once the grace period is over.
	gone := want[8].UID
	goneUser, _ := f.user(t, gone)
	if err := f.ldap.DeleteUser(ctx, gone); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		u, ok := f.user(t, gone)
		if !ok || u.Active {
			return fmt.Errorf("%s: present %v active %v, want suspended", gone, ok, u.Active)
		}
		st := f.syncTarget(t, "app")
		if len(st.Status.Suspended) != 1 || st.Status.Suspended[0].ExternalID != goneUser.ExternalID || st.Status.Suspended[0].UserName != gone {
			return fmt.Errorf("status.suspended %+v, want only %s (%s)", st.Status.Suspended, gone, goneUser.ExternalID)
		}
		return nil
	})
	// Still within the grace period: several runs later it is still there.
	f.waitForRun(t, "app")
	f.waitForRun(t, "app")
	if _, ok := f.user(t, gone); !ok {
		t.Fatalf("%s deleted before the grace period ended", gone)
	}
	advanceClock(2 * time.Hour)
	eventually(t, waitSync, func() error {
		if _, ok := f.user(t, gone); ok {
			return fmt.Errorf("%s still in SCIM after the grace period", gone)
		}
		st := f.syncTarget(t, "app")
		if len(st.Status.Suspended) != 0 {
			return fmt.Errorf("status.suspended still %+v", st.Status.Suspended)
		}
		if st.Status.ManagedUsers != int32(len(want)-1) {
			return fmt.Errorf("managedUsers %d, want %d", st.Status.ManagedUsers, len(want)-1)
		}
		return conditions(st.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded)
	})
	// The user disabled in LDAP is still in the directory, hence kept (inactive) past the grace period.
	if u, ok := f.user(t, disabled); !ok || u.Active {
		t.Fatalf("%s: present %v active %v after the grace period, want kept inactive", disabled, ok, u.Active)
	}

	// 6. The user made by hand was never touched (its hand-made membership aside).
	got, ok := f.user(t, "manual.person")
	manual.Groups = []string{"Hand Picked"}
	if !ok || !equalUsers(got, manual) {
		t.Fatalf("unmanaged user changed:\n got %+v\nwant %+v", got, manual)
	}
}

// TestE2ESourceDown halts slapd: both resources report it, nobody is offboarded, and a restart
// recovers. Then the SCIM target fails its reads, with the same guarantees.
func TestE2ESourceDown(t *testing.T) {
	f := newFixture(t, "source-down")
	f.applyAll(t, syncTarget("app", f, nil))
	want := len(expectedUsers(f.ldap.Seed))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })
	eventually(t, waitSync, func() error {
		return conditions(f.syncTarget(t, "app").Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded)
	})

	if err := f.ldap.Halt(); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if err := conditions(st.Status.Conditions,
			v1.ConditionSourceReachable, "False", v1.ReasonUnreachable,
			v1.ConditionReady, "False", v1.ReasonUnreachable,
			v1.ConditionSynced, "False", v1.ReasonUnreachable); err != nil {
			return fmt.Errorf("SyncTarget: %w", err)
		}
		ds := f.directorySourceStatus(t, "ldap")
		if err := conditions(ds.Status.Conditions,
			v1.ConditionSourceReachable, "False", v1.ReasonUnreachable,
			v1.ConditionReady, "False", v1.ReasonUnreachable); err != nil {
			return fmt.Errorf("DirectorySource: %w", err)
		}
		return nil
	})
	if err := f.scim.ResetRequestCounts(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Several runs fail while the source is down; none may write or offboard.
	consistently(t, 6*time.Second, func() error {
		if n := f.writes(t); n != 0 {
			return fmt.Errorf("%d SCIM writes while the source was down", n)
		}
		if s := f.syncTarget(t, "app").Status.Suspended; len(s) != 0 {
			return fmt.Errorf("users suspended while the source was down: %+v", s)
		}
		return nil
	})
	users := f.users(t)
	active := 0
	for _, u := range users {
		if u.Active {
			active++
		}
	}
	if active != want {
		t.Fatalf("%d active SCIM users after the outage, want %d", active, want)
	}

	if err := f.ldap.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if err := conditions(st.Status.Conditions,
			v1.ConditionSourceReachable, "True", v1.ReasonSucceeded,
			v1.ConditionReady, "True", v1.ReasonSucceeded); err != nil {
			return fmt.Errorf("SyncTarget: %w", err)
		}
		ds := f.directorySourceStatus(t, "ldap")
		return conditions(ds.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded)
	})
	if err := f.checkInitialSync(t); err != nil {
		t.Fatal(err)
	}

	// The SCIM target failing: TargetUnreachable, and a user removed from LDAP meanwhile is not
	// offboarded until the target can be read again.
	ctx := context.Background()
	gone := expectedUsers(f.ldap.Seed)[4].UID
	if err := f.scim.InjectFault(ctx, scimserver.Fault{Kind: scimserver.Fault500, Method: "GET"}); err != nil {
		t.Fatal(err)
	}
	if err := f.ldap.DeleteUser(ctx, gone); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		return conditions(f.syncTarget(t, "app").Status.Conditions,
			v1.ConditionSourceReachable, "True", v1.ReasonSucceeded,
			v1.ConditionReady, "False", v1.ReasonTargetUnreachable,
			v1.ConditionSynced, "False", v1.ReasonTargetUnreachable)
	})
	if err := f.scim.ResetRequestCounts(ctx); err != nil {
		t.Fatal(err)
	}
	consistently(t, 4*time.Second, func() error {
		if n := f.writes(t); n != 0 {
			return fmt.Errorf("%d SCIM writes while the target could not be read", n)
		}
		return nil
	})
	if err := f.scim.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		if u, ok := f.user(t, gone); !ok || u.Active {
			return fmt.Errorf("%s: present %v active %v, want suspended once the target is back", gone, ok, u.Active)
		}
		return conditions(f.syncTarget(t, "app").Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded)
	})
}

// TestE2EInvalidMapping breaks a CEL expression: the MappingRule and the SyncTarget say why, nothing
// is written, and fixing it recovers.
func TestE2EInvalidMapping(t *testing.T) {
	f := newFixture(t, "bad-cel")
	f.applyAll(t, syncTarget("app", f, nil))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })

	mr := mappingRule("staff")
	mr.Namespace = f.ns
	update(t, mr, func(mr *v1.MappingRule) { setExpression(mr, "record.attrs.mail +") })
	var compileMsg string
	eventually(t, waitSync, func() error {
		var err error
		compileMsg, err = condition(f.mappingRuleStatus(t, "staff").Status.Conditions, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonInvalidExpression)
		if err == nil && !strings.Contains(compileMsg, "groups") {
			err = fmt.Errorf("compile message %q does not name the field", compileMsg)
		}
		return err
	})
	if _, err := condition(f.mappingRuleStatus(t, "staff").Status.Conditions, v1.ConditionValid, metav1.ConditionFalse, v1.ReasonInvalidExpression); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		msg, err := condition(st.Status.Conditions, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonMappingNotReady)
		if err != nil {
			return err
		}
		if !strings.Contains(msg, "Syntax error") && !strings.Contains(msg, "syntax error") {
			return fmt.Errorf("SyncTarget message %q does not carry the compile error (%q)", msg, compileMsg)
		}
		return conditions(st.Status.Conditions, v1.ConditionStalled, "True", v1.ReasonMappingNotReady)
	})
	if err := f.scim.ResetRequestCounts(context.Background()); err != nil {
		t.Fatal(err)
	}
	consistently(t, 3*time.Second, func() error {
		if n := f.writes(t); n != 0 {
			return fmt.Errorf("%d SCIM writes with an invalid mapping", n)
		}
		return nil
	})

	update(t, mr, func(mr *v1.MappingRule) { setExpression(mr, groupsExpression) })
	eventually(t, waitSync, func() error {
		if err := conditions(f.mappingRuleStatus(t, "staff").Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded); err != nil {
			return fmt.Errorf("MappingRule: %w", err)
		}
		return conditions(f.syncTarget(t, "app").Status.Conditions,
			v1.ConditionReady, "True", v1.ReasonSucceeded, v1.ConditionStalled, "False", v1.ReasonSucceeded)
	})
}

func setExpression(mr *v1.MappingRule, expr string) {
	for i := range mr.Spec.Fields {
		if mr.Spec.Fields[i].Target == "groups" {
			mr.Spec.Fields[i].Expression = expr
		}
	}
}

// TestE2EDeletionThreshold removes more users than spec.safety allows: the run is blocked with an
// event until the approval annotation lets one run through.
func TestE2EDeletionThreshold(t *testing.T) {
	f := newFixture(t, "threshold")
	ctx := context.Background()
	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) { s.Safety.MaxDeletions = ptr.To[int32](2) }))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })

	want := expectedUsers(f.ldap.Seed)
	removed := []string{want[10].UID, want[11].UID, want[12].UID}
	for _, uid := range removed {
		if err := f.ldap.DeleteUser(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if err := conditions(st.Status.Conditions,
			v1.ConditionStalled, "True", v1.ReasonDeletionThresholdExceeded,
			v1.ConditionReady, "False", v1.ReasonDeletionThresholdExceeded); err != nil {
			return err
		}
		if st.Status.Plan == nil || st.Status.Plan.Blocked == "" || st.Status.Plan.Counts.Suspended != 3 {
			return fmt.Errorf("status.plan %+v, want a blocked plan with 3 suspensions", st.Status.Plan)
		}
		// lastRun is what was applied: nothing; the guard says where its limit comes from.
		if st.Status.LastRun.Suspended != 0 {
			return fmt.Errorf("lastRun.suspended %d after a blocked run, want 0", st.Status.LastRun.Suspended)
		}
		if msg := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "(maxDeletions 2)") {
			return fmt.Errorf("Ready message %q does not name the limit", msg)
		}
		return nil
	})
	eventually(t, waitSync, func() error {
		var events eventsv1.EventList
		if err := k8s.List(ctx, &events, client.InNamespace(f.ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Reason == v1.ReasonDeletionThresholdExceeded && e.Regarding.Name == "app" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no %s event among %d events", v1.ReasonDeletionThresholdExceeded, len(events.Items))
	})
	f.waitForRun(t, "app")
	for _, uid := range removed {
		if u, ok := f.user(t, uid); !ok || !u.Active {
			t.Fatalf("%s changed by a blocked run: present %v active %v", uid, ok, u.Active)
		}
	}
	if s := f.syncTarget(t, "app").Status.Suspended; len(s) != 0 {
		t.Fatalf("status.suspended %+v after a blocked run", s)
	}

	// An approval that does not name the blocked plan (a ticket number, an old fingerprint) is
	// reported as ignored and lifts nothing.
	st := f.syncTarget(t, "app")
	pending := st.Status.PendingApproval
	if pending == nil || pending.Fingerprint == "" || pending.Counts.Suspended != 3 {
		t.Fatalf("status.pendingApproval %+v, want the blocked plan with 3 suspensions", pending)
	}
	ready := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionStalled)
	wantCmd := "kubectl annotate synctarget -n " + f.ns + " app " + v1.AnnotationApproveDeletions + "=" + pending.Fingerprint + " --overwrite"
	if ready == nil || !strings.Contains(ready.Message, wantCmd) {
		t.Fatalf("Stalled message does not print %q: %+v", wantCmd, ready)
	}
	approve := func(value string) {
		update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) {
			if st.Annotations == nil {
				st.Annotations = map[string]string{}
			}
			st.Annotations[v1.AnnotationApproveDeletions] = value
		})
	}
	approve("ticket-123")
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if st.Status.IgnoredApproval != "ticket-123" {
			return fmt.Errorf("ignoredApproval %q", st.Status.IgnoredApproval)
		}
		return conditions(st.Status.Conditions, v1.ConditionStalled, "True", v1.ReasonDeletionThresholdExceeded)
	})
	f.expectEvent(t, "app", v1.ReasonApprovalIgnored)
	for _, uid := range removed {
		if u, ok := f.user(t, uid); !ok || !u.Active {
			t.Fatalf("%s changed although the approval named no blocked plan: present %v active %v", uid, ok, u.Active)
		}
	}

	approve(pending.Fingerprint)
	eventually(t, waitSync, func() error {
		for _, uid := range removed {
			if u, ok := f.user(t, uid); !ok || u.Active {
				return fmt.Errorf("%s: present %v active %v, want suspended", uid, ok, u.Active)
			}
		}
		st := f.syncTarget(t, "app")
		if len(st.Status.Suspended) != 3 || st.Status.ApprovedDeletionsUsed != pending.Fingerprint || st.Status.PendingApproval != nil {
			return fmt.Errorf("suspended %+v approvedDeletionsUsed %q pending %+v", st.Status.Suspended, st.Status.ApprovedDeletionsUsed, st.Status.PendingApproval)
		}
		return conditions(st.Status.Conditions,
			v1.ConditionStalled, "False", v1.ReasonSucceeded, v1.ConditionReady, "True", v1.ReasonSucceeded)
	})

	// The approval stays in the annotation (as in Git) but never lifts a later block.
	later := []string{want[13].UID, want[14].UID, want[15].UID}
	for _, uid := range later {
		if err := f.ldap.DeleteUser(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if st.Status.PendingApproval == nil || st.Status.PendingApproval.Fingerprint == pending.Fingerprint {
			return fmt.Errorf("pendingApproval %+v, want a new blocked plan", st.Status.PendingApproval)
		}
		return conditions(st.Status.Conditions, v1.ConditionStalled, "True", v1.ReasonDeletionThresholdExceeded)
	})
	for _, uid := range later {
		if u, ok := f.user(t, uid); !ok || !u.Active {
			t.Fatalf("%s offboarded by an old approval: present %v active %v", uid, ok, u.Active)
		}
	}
}

// TestE2EDryRun plans without writing, then applies once dryRun is turned off.
func TestE2EDryRun(t *testing.T) {
	f := newFixture(t, "dry-run")
	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) { s.DryRun = true }))
	want := expectedUsers(f.ldap.Seed)
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if err := conditions(st.Status.Conditions, v1.ConditionReady, "True", v1.ReasonDryRun, v1.ConditionSynced, "False", v1.ReasonDryRun); err != nil {
			return err
		}
		p := st.Status.Plan
		if p == nil || p.Counts.Created != int32(len(want)) || int(p.TotalActions) < len(want) || len(p.Actions) == 0 {
			return fmt.Errorf("status.plan %+v, want %d creates", p, len(want))
		}
		var sawCreate bool
		for _, line := range p.Actions {
			if strings.Contains(line, want[0].UID) && strings.Contains(strings.ToLower(line), "create") {
				sawCreate = true
			}
		}
		if !sawCreate {
			return fmt.Errorf("plan does not list the creation of %s: %v", want[0].UID, p.Actions)
		}
		return nil
	})
	f.waitForRun(t, "app")
	if n := f.writes(t); n != 0 {
		t.Fatalf("%d SCIM writes in dry-run mode", n)
	}
	if n := len(f.users(t)); n != 0 {
		t.Fatalf("%d SCIM users after dry runs", n)
	}

	st := f.syncTarget(t, "app")
	update(t, st, func(st *v1.SyncTarget) { st.Spec.DryRun = false })
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if st.Status.Plan != nil {
			return fmt.Errorf("status.plan still set after an applied run")
		}
		return conditions(st.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded, v1.ConditionSynced, "True", v1.ReasonSucceeded)
	})
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func equalUsers(a, b model.User) bool {
	return a.TargetID == b.TargetID && a.ExternalID == b.ExternalID && a.UserName == b.UserName &&
		a.DisplayName == b.DisplayName && a.Title == b.Title && a.Email == b.Email && a.Active == b.Active &&
		a.PhoneNumber == b.PhoneNumber && a.Department == b.Department && a.Role == b.Role &&
		slices.Equal(a.Groups, b.Groups)
}

// With an interval of an hour, only the sync-requested annotation can start the second run: it must
// run at once, apply the LDAP change and record the handled request.
func TestE2ESyncRequested(t *testing.T) {
	f := newFixture(t, "sync-now")
	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) { s.Interval = &metav1.Duration{Duration: time.Hour} }))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })

	u := expectedUsers(f.ldap.Seed)[0]
	if err := f.ldap.SetAttribute(context.Background(), u.UID, "title", "Head of Sync"); err != nil {
		t.Fatal(err)
	}
	consistently(t, 3*time.Second, func() error {
		if got, _ := f.user(t, u.UID); got.Title == "Head of Sync" {
			return fmt.Errorf("a run happened without a request")
		}
		return nil
	})
	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) {
		if st.Annotations == nil {
			st.Annotations = map[string]string{}
		}
		st.Annotations[v1.AnnotationSyncRequested] = "request-1"
	})
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if st.Status.LastHandledSyncRequest != "request-1" {
			return fmt.Errorf("lastHandledSyncRequest = %q", st.Status.LastHandledSyncRequest)
		}
		if got, _ := f.user(t, u.UID); got.Title != "Head of Sync" {
			return fmt.Errorf("title of %s = %q after the requested run", u.UID, got.Title)
		}
		return nil
	})
}
