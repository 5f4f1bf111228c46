package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// Deleting a DirectorySource or MappingRule that SyncTargets use succeeds, and kubectl prints a
// warning per SyncTarget naming it; deleting one nobody uses prints nothing.
func TestDeletingAnObjectInUseWarns(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "in-use"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	create := func(obj client.Object) {
		t.Helper()
		obj.SetNamespace(ns.Name)
		if err := warned.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	source := func(name string) *v1.DirectorySource {
		return &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.DirectorySourceSpec{LDAP: &v1.LDAPSource{
			URL: "ldap://127.0.0.1:1", BindSecretRef: v1.BindSecretReference{Name: "bind"}, BaseDN: "dc=example,dc=com",
		}}}
	}
	rule := func(name string) *v1.MappingRule {
		return &v1.MappingRule{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.MappingRuleSpec{
			Fields: []v1.FieldMapping{{Target: "userName", From: "uid"}},
		}}
	}
	target := func(name string, rules ...string) *v1.SyncTarget {
		st := &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.SyncTargetSpec{
			SourceRef: v1.LocalObjectReference{Name: "corp"},
			SCIM:      &v1.SCIMTarget{URL: "https://" + name + ".in-use.example.com/scim/v2", TokenSecretRef: &v1.SecretKeySelector{Name: "token", Key: "token"}},
		}}
		for _, r := range rules {
			st.Spec.MappingRefs = append(st.Spec.MappingRefs, v1.LocalObjectReference{Name: r})
		}
		return st
	}
	for _, obj := range []client.Object{
		source("corp"), source("spare"), rule("staff"), rule("contractors"), rule("spare"),
		target("phones", "staff"), target("wiki", "staff", "contractors"),
	} {
		create(obj)
	}
	// The webhook reads SyncTargets from the manager's cache: wait until it has both.
	eventuallyTrue(t, func() bool {
		var list v1.SyncTargetList
		return k8s.List(ctx, &list, client.InNamespace(ns.Name)) == nil && len(list.Items) == 2
	})

	for _, tc := range []struct {
		obj   client.Object
		users []string
	}{
		{rule("staff"), []string{"phones", "wiki"}},
		{rule("contractors"), []string{"wiki"}},
		{rule("spare"), nil},
		{source("corp"), []string{"phones", "wiki"}},
		{source("spare"), nil},
	} {
		kind := strings.TrimPrefix(fmt.Sprintf("%T", tc.obj), "*v1alpha1.")
		tc.obj.SetNamespace(ns.Name)
		var err error
		got := apiWarnings.during(func() { err = warned.Delete(ctx, tc.obj) })
		if err != nil {
			t.Fatalf("deleting %s %s: %v (an object in use must still be deletable)", kind, tc.obj.GetName(), err)
		}
		if err := warned.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s still readable after the delete: %v", kind, tc.obj.GetName(), err)
		}
		var want []string
		for _, u := range tc.users {
			want = append(want, fmt.Sprintf("%s in-use/%s is in use by SyncTarget in-use/%s; it will stop syncing", kind, tc.obj.GetName(), u))
		}
		if len(got) != len(want) {
			t.Errorf("deleting %s %s: warnings %q, want %d starting %q", kind, tc.obj.GetName(), got, len(want), want)
			continue
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("deleting %s %s: warning %q, want it to start %q", kind, tc.obj.GetName(), got[i], want[i])
			}
		}
	}
}

// The deletion webhooks only warn: they must never stand in the way when the operator is down, so
// the API server has to ignore their failures (while the create/update checks do refuse).
func TestDeleteWebhooksIgnoreFailures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg admissionv1.ValidatingWebhookConfiguration
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	deletes := 0
	for _, w := range cfg.Webhooks {
		for _, r := range w.Rules {
			if !slices.Contains(r.Operations, admissionv1.Delete) {
				continue
			}
			deletes++
			if len(r.Operations) != 1 || w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Ignore {
				t.Errorf("webhook %s handles %v with failurePolicy %v: a DELETE webhook must be on its own with Ignore", w.Name, r.Operations, w.FailurePolicy)
			}
		}
	}
	if deletes != 2 {
		t.Errorf("%d DELETE webhooks, want 2 (DirectorySource and MappingRule)", deletes)
	}
}
