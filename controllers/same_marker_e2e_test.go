package controllers_test

import (
	"fmt"
	"testing"

	"k8s.io/utils/ptr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// the API promises (spec.externalIDPrefix) that SyncTargets writing to the same app with
// overlapping prefixes get OwnershipConflict. Nothing checks it: a second SyncTarget with the same
// prefix and a narrower scope treats the first one's users as its own and suspends them as
// "out of scope" — users it does not own, of people who are all in the source.
func TestE2ESecondSyncTargetSameMarker(t *testing.T) {
	f := newFixture(t, "reviewowner")
	want := expectedUsers(f.ldap.Seed)
	f.applyAll(t, syncTarget("a", f, nil))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })

	narrow := mappingRule("narrow")
	narrow.Spec.Scope = fmt.Sprintf("record.attrs.uid == %q", want[0].UID)
	f.create(t, narrow)
	f.create(t, syncTarget("b", f, func(s *v1.SyncTargetSpec) {
		s.MappingRefs = []v1.LocalObjectReference{{Name: "narrow"}}
		s.Safety = v1.Safety{MaxDeletions: ptr.To[int32](1000), MaxDeletionPercent: ptr.To[int32](100), MinSourcePercent: ptr.To[int32](0)}
	}))
	eventually(t, waitSync, func() error {
		if f.syncTarget(t, "b").Status.LastSyncTime == nil && len(f.syncTarget(t, "b").Status.Conditions) == 0 {
			return fmt.Errorf("b has not reconciled yet")
		}
		return nil
	})
	f.waitForRun(t, "a") // let both settle a little
	var suspended []string
	for name, u := range f.users(t) {
		if !u.Active {
			suspended = append(suspended, name)
		}
	}
	if len(suspended) > 0 {
		t.Errorf("SyncTarget b suspended %d users owned by SyncTarget a (all in the source): %v; b conditions %s",
			len(suspended), suspended, describeConds(f.syncTarget(t, "b").Status.Conditions))
	}
}
