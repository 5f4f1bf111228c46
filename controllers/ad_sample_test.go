package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/samba"
)

// TestActiveDirectorySample applies the README's Active Directory sample
// (config/samples/sync_v1alpha1_directorysource.yaml) to the API server, pointed at a Samba AD DC:
// only the server's address, DNs, credentials and CA are replaced. The source must read the
// seeded people (no computer account) and count the disabled one; pointed at plain ldap:// it must
// say TransportSecurityRequired, as the README's troubleshooting table promises.
func TestActiveDirectorySample(t *testing.T) {
	requireSuite(t)
	dc, err := samba.Start()
	if err != nil {
		t.Fatalf("Samba AD DC: %v", err)
	}
	t.Cleanup(func() { _ = dc.Stop() })
	ns := newNamespace(t, "ad-sample")
	ctx := context.Background()

	raw, err := os.ReadFile(filepath.Join("..", "config", "samples", "sync_v1alpha1_directorysource.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(raw, []byte("\n---\n"))
	if len(docs) != 3 {
		t.Fatalf("the sample has %d documents, want Secret, ConfigMap, DirectorySource", len(docs))
	}
	var (
		secret corev1.Secret
		ca     corev1.ConfigMap
		ds     v1.DirectorySource
	)
	for i, into := range []any{&secret, &ca, &ds} {
		if err := yaml.UnmarshalStrict(docs[i], into); err != nil {
			t.Fatalf("sample document %d: %v", i+1, err)
		}
	}
	secret.Namespace, ca.Namespace, ds.Namespace = ns, ns, ns
	secret.StringData = map[string]string{"username": samba.ServiceDN, "password": samba.ServicePassword}
	key := ds.Spec.LDAP.TLS.CA.ConfigMapRef.Key
	ca.Data = map[string]string{key: string(dc.CACertPEM)}
	l := ds.Spec.LDAP
	l.URL, l.BaseDN, l.Groups.BaseDN = dc.LDAPSURL, samba.PeopleDN, samba.GroupsDN
	if err := k8s.Create(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &ca); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &ds); err != nil {
		t.Fatalf("the API server rejects the sample: %v", err)
	}
	get := func() *v1.DirectorySource {
		var got v1.DirectorySource
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: ds.Name}, &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	eventually(t, 2*time.Minute, func() error {
		got := get()
		if err := conditions(got.Status.Conditions, v1.ConditionSourceReachable, "True", v1.ReasonSucceeded); err != nil {
			return err
		}
		if got.Status.EntriesRead != int32(len(samba.People)) || got.Status.DisabledEntries != 1 {
			return fmt.Errorf("entriesRead %d disabledEntries %d, want %d people (no computer) and 1 disabled",
				got.Status.EntriesRead, got.Status.DisabledEntries, len(samba.People))
		}
		return nil
	})

	got := get()
	got.Spec.LDAP.URL = dc.URL // plain ldap://: AD refuses simple binds without TLS
	if err := k8s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, func() error {
		msg, err := condition(get().Status.Conditions, v1.ConditionSourceReachable, "False", v1.ReasonTransportSecurityRequired)
		if err == nil && !strings.Contains(msg, "ldaps://") {
			return fmt.Errorf("message %q does not say what to do", msg)
		}
		return err
	})
}
