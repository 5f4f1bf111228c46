package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// TestE2EOwnershipConflict adds a second SyncTarget for the same app (the URL spelled differently)
// with an overlapping prefix: it goes Stalled with reason OwnershipConflict naming the first, and
// writes nothing — neither to the app nor a dry-run plan — while the first keeps syncing.
func TestE2EOwnershipConflict(t *testing.T) {
	f := newFixture(t, "ownership")
	f.applyAll(t, syncTarget("app", f, nil))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })

	// Its rules would rewrite every user's role: an Update per user if it were allowed to write.
	rules := mappingRule("twin-rules")
	rules.Spec.Fields[7].Default = ptr.To("Twin")
	f.create(t, rules)
	sameApp := f.scim.URL() + "/" // the same app, spelled differently
	f.create(t, syncTarget("twin", f, func(s *v1.SyncTargetSpec) {
		s.MappingRefs = []v1.LocalObjectReference{{Name: "twin-rules"}}
		s.SCIM.URL = sameApp
	}))
	f.create(t, syncTarget("dry-eu", f, func(s *v1.SyncTargetSpec) { s.DryRun = true; s.ExternalIDPrefix = prefix + "eu:" }))

	for _, name := range []string{"twin", "dry-eu"} {
		eventually(t, waitSync, func() error {
			st := f.syncTarget(t, name)
			if err := conditions(st.Status.Conditions, v1.ConditionStalled, "True", v1.ReasonOwnershipConflict,
				v1.ConditionReady, "False", v1.ReasonOwnershipConflict); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady); !strings.Contains(c.Message, f.ns+"/app") {
				return fmt.Errorf("Ready message does not name the other SyncTarget: %s", c.Message)
			}
			if st.Status.Plan != nil || st.Status.LastSyncTime != nil {
				return fmt.Errorf("a conflicting SyncTarget published a plan %+v / ran at %v", st.Status.Plan, st.Status.LastSyncTime)
			}
			return nil
		})
		f.expectEvent(t, name, v1.ReasonOwnershipConflict)
	}
	consistently(t, 5*time.Second, func() error {
		for name, u := range f.users(t) {
			if u.Role == "Twin" {
				return fmt.Errorf("user %s written by the conflicting SyncTarget", name)
			}
		}
		return nil
	})
	st := f.syncTarget(t, "app")
	if err := conditions(st.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded); err != nil {
		t.Fatalf("the first SyncTarget is affected: %v", err)
	}
}

// TestE2EUnmappableHRRowsHoldTheirUsers: a malformed HR row and an unknown department code are
// shown in the SyncTarget's status.problems and counted as held; those people stay active.
func TestE2EUnmappableHRRowsHoldTheirUsers(t *testing.T) {
	f := newFixture(t, "hr-held")
	code := slapd.Departments[0]
	people := [][3]string{{"ann", "Buyer", code}, {"bob", "Driver", code}, {"cyd", "Planner", code}}
	hr := f.applyHR(t, people...)
	eventually(t, waitSync, func() error {
		for _, p := range people {
			if u, ok := f.user(t, p[0]); !ok || !u.Active {
				return fmt.Errorf("user %s not synced yet", p[0])
			}
		}
		return nil
	})

	// bob's row gets an extra field (an unquoted comma); cyd's department code is unknown.
	body := hrRecord(people[0], [3]string{"cyd", "Planner", "no-such-code"})
	body += employeeID("bob") + ",bob,bob@example.com,bob,Tester,+1 555 0100,Driver,Jr.," + code + "\n"
	hr.set(func(h *hrServer) { h.body = body })
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		reasons := map[string]bool{}
		for _, p := range st.Status.Problems {
			reasons[p.Reason] = true
		}
		if st.Status.LastRun.Held != 2 || !reasons["MalformedRow"] || !reasons["UnknownLookupKey"] {
			return fmt.Errorf("lastRun %+v problems %+v", st.Status.LastRun, st.Status.Problems)
		}
		return nil
	})
	f.waitForRun(t, "app")
	for _, login := range []string{"bob", "cyd"} {
		if u, ok := f.user(t, login); !ok || !u.Active {
			t.Errorf("%s is in the HR record but was offboarded: present %v active %v", login, ok, u.Active)
		}
	}
}
