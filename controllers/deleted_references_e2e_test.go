package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// TestE2EDeletedReferences deletes the MappingRule and then the DirectorySource a SyncTarget uses.
// Each deletion tells the SyncTarget at once (a one-line Warning event naming the deleted object;
// Ready=False, Stalled=True) and nothing is written meanwhile. A MappingRule created again under
// the same name (generation 1 again, a new UID) with another mapping is used by the very next run.
func TestE2EDeletedReferences(t *testing.T) {
	f := newFixture(t, "deleted-refs")
	ctx := context.Background()
	// An hour's interval (and a minute's retry): within the test only the watches start runs.
	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) { s.Interval = &metav1.Duration{Duration: time.Hour} }))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })
	const soon = 15 * time.Second

	if err := k8s.Delete(ctx, &v1.MappingRule{ObjectMeta: metav1.ObjectMeta{Name: "staff", Namespace: f.ns}}); err != nil {
		t.Fatal(err)
	}
	f.expectEventNote(t, soon, "app", v1.ReasonMappingNotReady, `MappingRule "staff" was deleted: this SyncTarget stops syncing`)
	eventually(t, soon, func() error {
		return conditions(f.syncTarget(t, "app").Status.Conditions,
			v1.ConditionReady, "False", v1.ReasonMappingNotReady, v1.ConditionStalled, "True", v1.ReasonMappingNotReady)
	})

	// Created again under the same name with another role: generation 1 like the deleted rule.
	recreated := mappingRule("staff")
	recreated.Spec.Fields[7].Default = ptr.To("Guest")
	f.create(t, recreated)
	if recreated.Generation != 1 {
		t.Fatalf("re-created MappingRule has generation %d, want 1 (the case the compile cache must tell apart)", recreated.Generation)
	}
	eventually(t, soon, func() error { return f.everyoneActiveWithRole(t, "Guest") })

	if err := f.scim.ResetRequestCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "ldap", Namespace: f.ns}}); err != nil {
		t.Fatal(err)
	}
	f.expectEventNote(t, soon, "app", v1.ReasonSourceNotReady, `DirectorySource "ldap" was deleted: this SyncTarget stops syncing`)
	eventually(t, soon, func() error {
		return conditions(f.syncTarget(t, "app").Status.Conditions,
			v1.ConditionReady, "False", v1.ReasonSourceNotReady, v1.ConditionStalled, "True", v1.ReasonSourceNotReady)
	})
	if n := f.writes(t); n != 0 {
		t.Errorf("%d SCIM writes after the DirectorySource was deleted, want none", n)
	}

	f.create(t, f.directorySource("ldap"))
	eventually(t, soon, func() error {
		return conditions(f.syncTarget(t, "app").Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded)
	})
	if err := f.everyoneActiveWithRole(t, "Guest"); err != nil {
		t.Error(err)
	}
}

// everyoneActiveWithRole checks that every user of the seed that is synced is active with role.
func (f *fixture) everyoneActiveWithRole(t *testing.T, role string) error {
	users := f.users(t)
	var errs []error
	for _, su := range expectedUsers(f.ldap.Seed) {
		if u := users[su.UID]; !u.Active || u.Role != role {
			errs = append(errs, fmt.Errorf("%s: active %v, role %q, want active with role %q", su.UID, u.Active, u.Role, role))
		}
	}
	return errors.Join(errs...)
}

// expectEventNote waits for a one-line Warning event with this reason about the SyncTarget name
// whose message contains note.
func (f *fixture) expectEventNote(t *testing.T, timeout time.Duration, name, reason, note string) {
	t.Helper()
	eventually(t, timeout, func() error {
		var events eventsv1.EventList
		if err := k8s.List(context.Background(), &events, client.InNamespace(f.ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range events.Items {
			if e.Regarding.Name != name || e.Type != corev1.EventTypeWarning || e.Reason != reason {
				continue
			}
			if strings.Contains(e.Note, note) && !strings.Contains(e.Note, "\n") {
				return nil
			}
			seen = append(seen, e.Note)
		}
		return fmt.Errorf("no one-line %s event saying %q about %s; seen %q", reason, note, name, seen)
	})
}
