package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
)

// createInApp creates a SCIM user as an app holds it before the operator came.
func (f *fixture) createInApp(t *testing.T, userName, email, externalID string) {
	t.Helper()
	u := &scim.User{UserName: userName, DisplayName: "Self Signed", Active: scim.BoolPtr(true), ExternalID: externalID}
	if email != "" {
		u.Emails = []scim.MultiValued{{Value: email, Type: "work", Primary: true}}
	}
	if _, err := f.sc.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("creating %s: %v", userName, err)
	}
}

func hasProblem(st *v1.SyncTarget, subject, reason, contains string) bool {
	for _, p := range st.Status.Problems {
		if p.Subject == subject && p.Reason == reason && strings.Contains(p.Message, contains) {
			return true
		}
	}
	return false
}

// TestE2EAdoption takes over an app holding 100 of the directory's people (50 matched by userName in
// another case, 50 by email under another userName), refuses a person matching two app users and one
// whose app user another SyncTarget owns, shows the adoptions first in a dry run, and converges.
func TestE2EAdoption(t *testing.T) {
	f := newFixtureOf(t, "adopt", 110)
	want := expectedUsers(f.ldap.Seed)
	if len(want) < 104 {
		t.Fatalf("seed has only %d syncable users", len(want))
	}
	adopted := want[:100]
	for i, u := range adopted {
		if i%2 == 0 {
			f.createInApp(t, strings.ToUpper(u.UID), "", "")
		} else {
			f.createInApp(t, "legacy-"+u.UID, strings.ToUpper(u.Mail), "")
		}
	}
	ambiguous, owned := want[100], want[101]
	f.createInApp(t, "dup1-"+ambiguous.UID, ambiguous.Mail, "")
	f.createInApp(t, "dup2-"+ambiguous.UID, strings.ToUpper(ambiguous.Mail), "")
	f.createInApp(t, owned.UID, owned.Mail, "other-target:"+owned.UID)

	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.DryRun = true
		s.Adoption = &v1.Adoption{Enabled: true, MatchOn: []v1.AdoptionAttribute{"userName", "email"}}
	}))

	// The dry run lists the 100 adoptions first and refuses the two.
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		p := st.Status.Plan
		if p == nil || p.Counts.Adopted != 100 || len(p.Actions) == 0 {
			return fmt.Errorf("plan %+v", p)
		}
		for i := 0; i < 100 && i < len(p.Actions); i++ {
			if !strings.HasPrefix(p.Actions[i], "adopt ") {
				return fmt.Errorf("action %d is %q, want an adoption", i, p.Actions[i])
			}
		}
		if !hasProblem(st, ambiguous.UID, string(model.ReasonConflict), "2 target users match on email") ||
			!hasProblem(st, owned.UID, string(model.ReasonConflict), "another owner") {
			return fmt.Errorf("problems %+v", st.Status.Problems)
		}
		return nil
	})
	if n := f.writes(t); n != 100+3 {
		t.Fatalf("dry run wrote: %d writes (the 103 app users were created by the test)", n)
	}

	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.DryRun = false })
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if st.Status.LastRun.Adopted != 100 || st.Status.ManagedUsers != int32(len(want)-2) {
			return fmt.Errorf("lastRun %+v managed %d", st.Status.LastRun, st.Status.ManagedUsers)
		}
		// userName and emails are not case-exact (RFC 7643): ALICE is alice and is not renamed, and an
		// email differing only in case is not rewritten.
		users := map[string]model.User{}
		for name, u := range f.users(t) {
			users[strings.ToLower(name)] = u
		}
		for i, u := range adopted {
			name := strings.ToUpper(u.UID)
			if i%2 == 1 {
				name = "legacy-" + u.UID
			}
			got, ok := users[strings.ToLower(u.UID)] // the adoption renames legacy-* to the mapped userName
			if !ok {
				return fmt.Errorf("%s (was %s) not adopted", u.UID, name)
			}
			if got.ExternalID == "" || !strings.HasPrefix(got.ExternalID, prefix) || !strings.EqualFold(got.Email, u.Mail) || got.Title != u.Title {
				return fmt.Errorf("%s: %+v", u.UID, got)
			}
		}
		for _, name := range []string{"dup1-" + ambiguous.UID, "dup2-" + ambiguous.UID} {
			if u := users[name]; u.ExternalID != "" || u.DisplayName != "Self Signed" {
				return fmt.Errorf("ambiguous candidate %s was written: %+v", name, u)
			}
		}
		if _, ok := users[ambiguous.UID]; ok {
			return fmt.Errorf("%s was created despite the ambiguous match", ambiguous.UID)
		}
		if u := users[owned.UID]; u.ExternalID != "other-target:"+owned.UID || u.DisplayName != "Self Signed" {
			return fmt.Errorf("another owner's user was written: %+v", u)
		}
		if len(users) != len(want)+1 {
			return fmt.Errorf("%d SCIM users, want %d", len(users), len(want)+1)
		}
		return nil
	})
	// The run's report holds the 100 adoptions and both refusals.
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		reports, err := controllers.ReadReports(context.Background(), k8s, st, true)
		if err != nil || st.Status.LastReport == "" {
			return fmt.Errorf("reports: %v, lastReport %q", err, st.Status.LastReport)
		}
		adoptions, conflicts := 0, 0
		for _, r := range reports {
			if r.Summary.Mode != "applied" {
				continue
			}
			for _, row := range r.Rows {
				if row.Kind == "Adopt" && row.Outcome == "applied" {
					adoptions++
				}
				if row.Entry == "problem" && row.Kind == "Conflict" {
					conflicts++
				}
			}
			break
		}
		if adoptions != 100 || conflicts < 2 {
			return fmt.Errorf("first applied report: %d adoptions, %d conflicts", adoptions, conflicts)
		}
		return nil
	})
	// Converged: a further run writes nothing.
	f.waitForRun(t, "app")
	before := f.writes(t)
	f.waitForRun(t, "app")
	if after := f.writes(t); after != before {
		t.Fatalf("run after adoption wrote %d times", after-before)
	}
}

// TestE2EAdoptionLimit: more adoptions than safety.maxAdoptions stop the run until approved once.
func TestE2EAdoptionLimit(t *testing.T) {
	f := newFixture(t, "adoptlimit")
	want := expectedUsers(f.ldap.Seed)
	for _, u := range want[:5] {
		f.createInApp(t, u.UID, "", "")
	}
	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.Adoption = &v1.Adoption{Enabled: true}
		s.Safety.MaxAdoptions = ptr.To[int32](4)
	}))
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if _, err := condition(st.Status.Conditions, v1.ConditionStalled, metav1.ConditionTrue, v1.ReasonAdoptionThresholdExceeded); err != nil {
			return err
		}
		msg, err := condition(st.Status.Conditions, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonAdoptionThresholdExceeded)
		if err != nil {
			return err
		}
		if !strings.Contains(msg, "adopt 5 users, limit 4 (maxAdoptions 4)") || st.Status.Plan == nil || st.Status.Plan.Counts.Adopted != 5 {
			return fmt.Errorf("message %q plan %+v", msg, st.Status.Plan)
		}
		return nil
	})
	if u, _ := f.user(t, want[0].UID); u.ExternalID != "" {
		t.Fatalf("blocked run adopted %+v", u)
	}
	approveOnce(t, f, "app")
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if _, err := condition(st.Status.Conditions, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSucceeded); err != nil {
			return err
		}
		if u, _ := f.user(t, want[0].UID); !strings.HasPrefix(u.ExternalID, prefix) {
			return fmt.Errorf("not adopted after approval: %+v", u)
		}
		return nil
	})
}

// approveOnce approves the plan that is blocked now: the annotation carries its fingerprint.
func approveOnce(t *testing.T, f *fixture, name string) {
	t.Helper()
	var fingerprint string
	eventually(t, waitSync, func() error {
		p := f.syncTarget(t, name).Status.PendingApproval
		if p == nil {
			return fmt.Errorf("no blocked plan in status.pendingApproval")
		}
		fingerprint = p.Fingerprint
		return nil
	})
	update(t, f.syncTarget(t, name), func(st *v1.SyncTarget) {
		if st.Annotations == nil {
			st.Annotations = map[string]string{}
		}
		st.Annotations[v1.AnnotationApproveDeletions] = fingerprint
	})
}

var _ = time.Second
