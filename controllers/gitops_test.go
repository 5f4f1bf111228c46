package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// gitopsManifest is a SyncTarget as a GitOps tool keeps it in Git: durations written as people write
// them, dryRun false spelled out.
const gitopsManifest = `apiVersion: sync.directorysync.io/v1alpha1
kind: SyncTarget
metadata:
  name: app
  namespace: %s
spec:
  sourceRef: {name: corp}
  mappingRefs: [{name: staff}]
  scim:
    url: https://app.example.com/scim/v2
    tokenSecretRef: {name: scim-token, key: token}
  interval: 15m
  dryRun: false
  offboarding:
    gracePeriod: 720h
`

// TestGitOpsServerSideApplyNeverConflicts applies a SyncTarget with server-side apply as the field
// manager "flux", lets the operator reconcile it (finalizer and status), and applies the same
// manifest again without forcing: no conflict, no new generation, the spec exactly as written.
func TestGitOpsServerSideApplyNeverConflicts(t *testing.T) {
	requireSuite(t)
	ctx := context.Background()
	ns := newNamespace(t, "gitops")
	manifest := []byte(fmt.Sprintf(gitopsManifest, ns))
	apply := func() (*v1.SyncTarget, error) {
		st := &v1.SyncTarget{}
		st.Name, st.Namespace = "app", ns
		err := k8s.Patch(ctx, st, client.RawPatch(types.ApplyYAMLPatchType, manifest), client.FieldOwner("flux"))
		return st, err
	}
	first, err := apply()
	if err != nil {
		t.Fatal(err)
	}
	// The operator adds its finalizer and reports (the source does not exist: SourceNotReady).
	eventually(t, waitSync, func() error {
		var st v1.SyncTarget
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &st); err != nil {
			return err
		}
		if len(st.Finalizers) == 0 || st.Status.ObservedGeneration != st.Generation {
			return fmt.Errorf("finalizers %v, observedGeneration %d of %d", st.Finalizers, st.Status.ObservedGeneration, st.Generation)
		}
		return nil
	})
	second, err := apply()
	if err != nil {
		t.Fatalf("re-applying the same manifest as flux: %v", err)
	}
	if second.Generation != first.Generation {
		t.Errorf("generation %d after reconcile and re-apply, want %d", second.Generation, first.Generation)
	}
	if second.Spec.Interval.Duration.String() != "15m0s" || second.Spec.DryRun {
		t.Errorf("spec changed: interval %v dryRun %v", second.Spec.Interval, second.Spec.DryRun)
	}
	for _, mf := range second.ManagedFields {
		if mf.Manager == "flux" || mf.Subresource == "status" {
			continue
		}
		if raw := mf.FieldsV1.GetRawString(); strings.Contains(raw, `"f:spec"`) {
			t.Errorf("field manager %q (%s) owns spec fields: %s", mf.Manager, mf.Operation, raw)
		}
	}
}
