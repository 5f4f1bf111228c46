package v1alpha1_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// These tests install the CRDs into a real kube-apiserver (envtest) and check what admission accepts.

var k8s client.Client

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		println("KUBEBUILDER_ASSETS is not set: run `make test` (it builds kube-apiserver and etcd via hack/setup-envtest.sh)")
		os.Exit(1)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		panic(err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "admission-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func TestSamplesApply(t *testing.T) {
	ns := newNamespace(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "config", "samples", "sync_*.yaml"))
	if len(files) < 3 {
		t.Fatalf("expected a sample per kind, found %v", files)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); err != nil {
				break
			}
			if len(obj.Object) == 0 {
				continue
			}
			obj.SetNamespace(ns)
			if err := k8s.Create(context.Background(), obj); err != nil {
				t.Errorf("%s: %s %s rejected: %v", f, obj.GetKind(), obj.GetName(), err)
			}
			kinds[obj.GetKind()] = true
		}
	}
	for _, k := range []string{"DirectorySource", "MappingRule", "SyncTarget"} {
		if !kinds[k] {
			t.Errorf("no sample of kind %s", k)
		}
	}
	// Defaults are applied by the API server.
	var st v1.SyncTarget
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "phone-system"}, &st); err != nil {
		t.Fatal(err)
	}
	if st.Spec.ExternalIDPrefix != "dirsync:" || st.Spec.SCIM.MaxConcurrency != 4 {
		t.Errorf("defaults not applied: prefix=%q concurrency=%d", st.Spec.ExternalIDPrefix, st.Spec.SCIM.MaxConcurrency)
	}
}

func ldapSource() *v1.LDAPSource {
	return &v1.LDAPSource{
		URL:           "ldap://127.0.0.1:389",
		BindSecretRef: v1.BindSecretReference{Name: "bind"},
		BaseDN:        "dc=example,dc=com",
	}
}

func hrSource() *v1.HRSource {
	return &v1.HRSource{Format: "CSV", IDColumn: "id", ConfigMapRef: &v1.ConfigMapKeySelector{Name: "hr", Key: "staff.csv"}}
}

func syncTarget() v1.SyncTargetSpec {
	return v1.SyncTargetSpec{
		SourceRef:   v1.LocalObjectReference{Name: "src"},
		MappingRefs: []v1.LocalObjectReference{{Name: "rules"}},
		SCIM: &v1.SCIMTarget{
			URL:            "http://127.0.0.1:8080/scim/v2",
			TokenSecretRef: &v1.SecretKeySelector{Name: "token", Key: "token"},
		},
	}
}

func mappingRule() v1.MappingRuleSpec {
	return v1.MappingRuleSpec{Fields: []v1.FieldMapping{{Target: "userName", From: "uid"}}}
}

func TestAdmission(t *testing.T) {
	ns := newNamespace(t)
	cases := []struct {
		name    string
		obj     client.Object
		wantErr string // substring of the API server's message; empty = must be accepted
	}{
		{"valid ldap source", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: ldapSource()}}, ""},
		{"valid hr source", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{HR: hrSource()}}, ""},
		{"two source kinds", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: ldapSource(), HR: hrSource()}},
			"exactly one of spec.ldap or spec.hr must be set"},
		{"no source kind", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{}},
			"exactly one of spec.ldap or spec.hr must be set"},
		{"missing bind secret ref", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: func() *v1.LDAPSource {
			s := ldapSource()
			s.BindSecretRef = v1.BindSecretReference{}
			return s
		}()}}, "spec.ldap.bindSecretRef.name"},
		{"bad ldap url", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: func() *v1.LDAPSource {
			s := ldapSource()
			s.URL = "http://dc1"
			return s
		}()}}, "spec.ldap.url"},
		{"startTLS with ldaps", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: func() *v1.LDAPSource {
			s := ldapSource()
			s.URL, s.StartTLS = "ldaps://127.0.0.1:636", true
			return s
		}()}}, "startTLS cannot be combined"},
		{"unparenthesised filter", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: func() *v1.LDAPSource {
			s := ldapSource()
			s.UserFilter = "objectClass=person"
			return s
		}()}}, "userFilter must be a parenthesised LDAP filter"},
		{"recursive groups without base", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: func() *v1.LDAPSource {
			s := ldapSource()
			s.Groups = &v1.LDAPGroups{Mode: "Recursive"}
			return s
		}()}}, "groups.baseDN is required"},
		{"hr with two locations", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{HR: func() *v1.HRSource {
			s := hrSource()
			s.SecretRef = &v1.SecretKeySelector{Name: "x", Key: "y"}
			return s
		}()}}, "exactly one of configMapRef, secretRef or http"},
		{"negative probe interval", &v1.DirectorySource{Spec: v1.DirectorySourceSpec{LDAP: ldapSource(),
			ProbeInterval: &metav1.Duration{Duration: -time.Minute}}}, "probeInterval must be positive"},

		{"valid target", &v1.SyncTarget{Spec: syncTarget()}, ""},
		{"no target type", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.SCIM = nil
			return s
		}()}, "exactly one target type must be set: spec.scim"},
		{"negative interval", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.Interval = &metav1.Duration{Duration: -5 * time.Minute}
			return s
		}()}, "interval must be at least 1s"},
		{"negative grace period", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.Offboarding.GracePeriod = &metav1.Duration{Duration: -time.Hour}
			return s
		}()}, "gracePeriod must not be negative"},
		{"negative deletion threshold", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.Safety.MaxDeletions = ptr.To[int32](-1)
			return s
		}()}, "spec.safety.maxDeletions"},
		{"prefix without the ':' delimiter", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.ExternalIDPrefix = "hr"
			return s
		}()}, "spec.externalIDPrefix"},
		{"unknown outOfScope", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.Offboarding.OutOfScope = "Delete"
			return s
		}()}, "spec.offboarding.outOfScope"},
		{"outOfScope Keep", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.Offboarding.OutOfScope, s.ExternalIDPrefix = "Keep", "hr:eu:"
			return s
		}()}, ""},
		{"unknown afterGrace", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.Offboarding.AfterGrace = "Shred"
			return s
		}()}, "spec.offboarding.afterGrace"},
		{"missing token secret", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.SCIM.TokenSecretRef = &v1.SecretKeySelector{}
			return s
		}()}, "spec.scim.tokenSecretRef.name"},
		{"neither token nor oauth2", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.SCIM.TokenSecretRef = nil
			return s
		}()}, "set exactly one of tokenSecretRef and oauth2"},
		{"token and oauth2", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.SCIM.OAuth2 = &v1.OAuth2ClientCredentials{TokenURL: "https://idp.example/token", ClientSecretRef: v1.OAuth2ClientSecretRef{Name: "c"}}
			return s
		}()}, "set exactly one of tokenSecretRef and oauth2"},
		{"anonymized email without hash", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.SCIM.AnonymizedEmail = "gone@invalid.example"
			return s
		}()}, "spec.scim.anonymizedEmail"},
		{"no mapping refs", &v1.SyncTarget{Spec: func() v1.SyncTargetSpec {
			s := syncTarget()
			s.MappingRefs = nil
			return s
		}()}, "spec.mappingRefs"},

		{"valid rule", &v1.MappingRule{Spec: mappingRule()}, ""},
		{"from and expression", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
			{Target: "userName", From: "uid", Expression: "record.attrs.uid"}}}}, "set at most one of from or expression"},
		{"target that is no attribute path", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
			{Target: "shoe size", From: "x"}}}}, "spec.fields[0].target"},
		{"value filter without quotes", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
			{Target: "emails[type eq work].value", From: "x"}}}}, "spec.fields[0].target"},
		{"unknown applyOn", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
			{Target: "role", Default: ptr.To("Member"), ApplyOn: "Sometimes"}}}}, "spec.fields[0].applyOn"},
		{"attribute paths", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
			{Target: "userName", From: "uid"},
			{Target: `emails[type eq "home"].value`, From: "homeMail"},
			{Target: `addresses[type eq "work"].locality`, From: "l"},
			{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", From: "cc"},
			{Target: "urn:example:acme:2.0:User:clearance", From: "clearance", Type: "integer"},
			{Target: "roles", Default: ptr.To("reader"), ApplyOn: v1.ApplyCreate},
		}}}, ""},
		{"empty lookup table", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: mappingRule().Fields,
			Lookups: []v1.LookupTable{{Name: "departments"}}}}, "spec.lookups[0].entries"},
		{"field without value", &v1.MappingRule{Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
			{Target: "role"}}}}, "set from, expression or default"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.obj.SetNamespace(ns)
			tc.obj.SetName("obj-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-") + "-" + string(rune('a'+i%26)))
			err := k8s.Create(context.Background(), tc.obj)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("accepted, want rejection mentioning %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("rejection %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}
