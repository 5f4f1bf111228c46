package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	webhookv1 "github.com/directory-sync/directory-sync-operator/internal/webhook/v1alpha1"
)

// Two SyncTargets on one app with overlapping prefixes would suspend each other's users: the
// webhook, served by a manager against a real kube-apiserver, rejects the second at apply time.
func TestSyncTargetWebhookRejectsOwnershipConflicts(t *testing.T) {
	ctx := context.Background()
	c := k8s
	target := func(name, url, prefix string) *v1.SyncTarget {
		return &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1.SyncTargetSpec{
			SourceRef: v1.LocalObjectReference{Name: "src"}, MappingRefs: []v1.LocalObjectReference{{Name: "rules"}},
			SCIM:             &v1.SCIMTarget{URL: url, TokenSecretRef: &v1.SecretKeySelector{Name: "token", Key: "token"}},
			ExternalIDPrefix: prefix,
		}}
	}
	employees := target("employees", "https://app.example.com/scim/v2", "")
	if err := c.Create(ctx, employees); err != nil {
		t.Fatalf("the first SyncTarget was rejected: %v", err)
	}
	// The webhook reads SyncTargets from the manager's cache: wait until it has the first one.
	eventuallyTrue(t, func() bool { return c.Get(ctx, client.ObjectKeyFromObject(employees), &v1.SyncTarget{}) == nil })

	for _, tc := range []struct{ name, url, prefix string }{
		{"same-prefix", "https://App.Example.com:443/scim/v2/", "dirsync:"},
		{"longer-prefix", "https://app.example.com/scim/v2", "dirsync:eu:"},
	} {
		err := c.Create(ctx, target(tc.name, tc.url, tc.prefix))
		if err == nil || !strings.Contains(err.Error(), "OwnershipConflict") || !strings.Contains(err.Error(), "default/employees") {
			t.Errorf("%s: want an OwnershipConflict rejection naming default/employees, got %v", tc.name, err)
		}
	}
	contractors := target("contractors", "https://app.example.com/scim/v2", "contractors:")
	if err := c.Create(ctx, contractors); err != nil {
		t.Fatalf("a disjoint prefix on the same app was rejected: %v", err)
	}
	other := target("other-app", "https://other.example.com/scim/v2", "dirsync:")
	if err := c.Create(ctx, other); err != nil {
		t.Fatalf("the same prefix on another app was rejected: %v", err)
	}
	eventuallyTrue(t, func() bool { return c.Get(ctx, client.ObjectKeyFromObject(other), &v1.SyncTarget{}) == nil })

	// Updates that create an overlap are rejected too.
	other.Spec.SCIM.URL = "https://app.example.com/scim/v2"
	if err := c.Update(ctx, other); err == nil || !strings.Contains(err.Error(), "OwnershipConflict") {
		t.Errorf("want an update onto the same app rejected, got %v", err)
	}
}

// The CRD's rule rejects a SyncTarget without a target type before the webhook is asked; the
// webhook says the same for API servers that do not run CEL rules, without listing anything.
func TestSyncTargetWebhookRejectsNoTargetType(t *testing.T) {
	st := &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: "no-target", Namespace: "default"}, Spec: v1.SyncTargetSpec{
		SourceRef: v1.LocalObjectReference{Name: "src"}, MappingRefs: []v1.LocalObjectReference{{Name: "rules"}},
	}}
	_, err := webhookv1.SyncTargetValidator{}.ValidateCreate(context.Background(), st)
	if err == nil || !strings.Contains(err.Error(), "sets no target type") || !strings.Contains(err.Error(), "spec.scim") {
		t.Errorf("want a rejection naming spec.scim, got %v", err)
	}
	if _, err := (webhookv1.SyncTargetValidator{}).ValidateUpdate(context.Background(), st, st); err == nil {
		t.Error("an update without a target type was accepted")
	}
}
