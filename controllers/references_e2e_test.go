package controllers_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// TestE2EReferencedObjectsTriggerRuns: a Secret or ConfigMap that a DirectorySource or SyncTarget
// names (the indexes come from connect's per-type descriptors) starts a probe and a run as soon as
// it appears. Intervals are an hour and a failed run retries after a minute, so only the watches
// can make the runs within waitSync (30s).
func TestE2EReferencedObjectsTriggerRuns(t *testing.T) {
	if waitSync >= time.Minute {
		t.Fatal("waitSync must be shorter than the one-minute retry for this test to prove anything")
	}
	f := newFixture(t, "refs")
	code := slapd.Departments[0]
	people := [][3]string{{"ann", "Buyer", code}, {"bob", "Driver", code}}
	f.create(t, &v1.DirectorySource{
		ObjectMeta: metav1.ObjectMeta{Name: "hr"},
		Spec: v1.DirectorySourceSpec{
			ProbeInterval: &metav1.Duration{Duration: time.Hour},
			HR:            &v1.HRSource{Format: "CSV", IDColumn: "employeeId", ConfigMapRef: &v1.ConfigMapKeySelector{Name: "staff-record", Key: "staff.csv"}},
		},
	})
	f.create(t, mappingRule("staff"))
	f.create(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.SourceRef.Name = "hr"
		s.Interval = &metav1.Duration{Duration: time.Hour}
		s.SCIM.TokenSecretRef = &v1.SecretKeySelector{Name: "late-token", Key: "token"}
	}))

	// Neither the record nor the token exists yet.
	eventually(t, waitSync, func() error {
		if err := conditions(f.directorySourceStatus(t, "hr").Status.Conditions, v1.ConditionSourceReachable, "False", v1.ReasonConfigMapNotFound); err != nil {
			return fmt.Errorf("DirectorySource: %w", err)
		}
		return conditions(f.syncTarget(t, "app").Status.Conditions, v1.ConditionSourceReachable, "False", v1.ReasonConfigMapNotFound)
	})

	// The record appears: the DirectorySource is probed and the SyncTarget runs, now stopping at the
	// target's missing token.
	f.create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "staff-record"}, Data: map[string]string{"staff.csv": hrRecord(people...)}})
	eventually(t, waitSync, func() error {
		ds := f.directorySourceStatus(t, "hr")
		if err := conditions(ds.Status.Conditions, v1.ConditionSourceReachable, "True", v1.ReasonSucceeded); err != nil {
			return fmt.Errorf("DirectorySource: %w", err)
		}
		if ds.Status.EntriesRead != int32(len(people)) {
			return fmt.Errorf("DirectorySource read %d entries", ds.Status.EntriesRead)
		}
		return conditions(f.syncTarget(t, "app").Status.Conditions,
			v1.ConditionReady, "False", v1.ReasonSecretNotFound, v1.ConditionStalled, "True", v1.ReasonSecretNotFound)
	})
	if n := len(f.users(t)); n != 0 {
		t.Fatalf("%d users written without a token", n)
	}

	// The token appears: the SyncTarget runs and writes the people.
	f.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "late-token"}, StringData: map[string]string{"token": f.scim.Token()}})
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if err := conditions(st.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded); err != nil {
			return err
		}
		users := f.users(t)
		for _, p := range people {
			if u, ok := users[p[0]]; !ok || !u.Active {
				return fmt.Errorf("user %s = %+v (ok %v)", p[0], u, ok)
			}
		}
		return nil
	})
}
