package install_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

const sampleUsers = 30 // the seed needs this many to fill every group

// sample is a SyncTarget with its DirectorySource, MappingRule and Secrets, reading a real slapd and
// writing a real SCIM server.
type sample struct {
	namespace string
	target    string
	ldap      *slapd.Server
	scim      *scimserver.Server
}

// startSample starts slapd and the SCIM test server and creates the sample's objects in namespace
// (as the cluster admin; the manager only reads them). mutate changes the SyncTarget's spec.
func startSample(t *testing.T, c *cluster, namespace string, mutate ...func(*v1.SyncTargetSpec)) sample {
	t.Helper()
	if !slapd.Available() {
		t.Fatal(slapd.InstallHint + " (hack/install-deps.sh installs it)")
	}
	if err := scimserver.Available(); err != nil {
		t.Fatalf("SCIM test server: %v (hack/install-deps.sh installs it)", err)
	}
	ls, err := slapd.Start(slapd.Options{Users: sampleUsers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Stop() })
	ss, err := scimserver.Start(context.Background(), scimserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.Stop)

	objs := []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "ldap-bind"},
			StringData: map[string]string{"username": slapd.ServiceDN, "password": slapd.ServicePassword},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "scim-token"},
			StringData: map[string]string{"token": ss.Token()},
		},
		&v1.DirectorySource{
			ObjectMeta: metav1.ObjectMeta{Name: "ldap"},
			Spec: v1.DirectorySourceSpec{
				ProbeInterval: &metav1.Duration{Duration: 5 * time.Second},
				LDAP: &v1.LDAPSource{
					URL:           ls.URL,
					Flavor:        v1.FlavorOpenLDAP,
					BindSecretRef: v1.BindSecretReference{Name: "ldap-bind"},
					BaseDN:        slapd.PeopleDN,
					UserFilter:    "(objectClass=inetOrgPerson)",
					Attributes:    []string{"uid", "mail", "givenName", "sn"},
					Timeout:       &metav1.Duration{Duration: 5 * time.Second},
				},
			},
		},
		&v1.MappingRule{
			ObjectMeta: metav1.ObjectMeta{Name: "staff"},
			Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
				{Target: "userName", From: "uid", Required: true},
				{Target: "email", From: "mail", Required: true},
				{Target: "givenName", From: "givenName"},
				{Target: "familyName", From: "sn"},
			}},
		},
		&v1.SyncTarget{
			ObjectMeta: metav1.ObjectMeta{Name: "app"},
			Spec: v1.SyncTargetSpec{
				SourceRef:   v1.LocalObjectReference{Name: "ldap"},
				MappingRefs: []v1.LocalObjectReference{{Name: "staff"}},
				SCIM: &v1.SCIMTarget{
					URL:            ss.URL(),
					TokenSecretRef: &v1.SecretKeySelector{Name: "scim-token", Key: "token"},
					Timeout:        &metav1.Duration{Duration: 10 * time.Second},
				},
				Interval: &metav1.Duration{Duration: 5 * time.Second},
			},
		},
	}
	st := objs[len(objs)-1].(*v1.SyncTarget)
	for _, m := range mutate {
		m(&st.Spec)
	}
	for _, o := range objs {
		o.SetNamespace(namespace)
		if err := c.client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	return sample{namespace: namespace, target: "app", ldap: ls, scim: ss}
}

// waitSynced waits until the sample's SyncTarget is Ready after a run that wrote users, and its
// DirectorySource and MappingRule report Ready: every controller read and wrote what it needs.
func (s sample) waitSynced(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 90*time.Second, func() error {
		var st v1.SyncTarget
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.target}, &st); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(st.Status.Conditions, v1.ConditionReady) || st.Status.ManagedUsers == 0 {
			return fmt.Errorf("SyncTarget not synced yet: managedUsers %d, conditions %+v", st.Status.ManagedUsers, st.Status.Conditions)
		}
		var ds v1.DirectorySource
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: "ldap"}, &ds); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(ds.Status.Conditions, v1.ConditionReady) {
			return fmt.Errorf("DirectorySource not ready: %+v", ds.Status.Conditions)
		}
		var mr v1.MappingRule
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: "staff"}, &mr); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(mr.Status.Conditions, v1.ConditionReady) {
			return fmt.Errorf("MappingRule not ready: %+v", mr.Status.Conditions)
		}
		return nil
	})
}
