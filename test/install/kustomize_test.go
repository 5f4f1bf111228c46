package install_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// objects splits rendered manifests into objects.
func objects(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	var out []*unstructured.Unstructured
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decoding manifests: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, &u)
		}
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func mustFind(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s in the rendered manifests", kind, name)
	}
	return o
}

// Regression: the Certificate's issuerRef kept the unprefixed Issuer name, so it was never issued.
func TestWithWebhookCertificateReferencesPrefixedIssuer(t *testing.T) {
	objs := objects(t, render(t, "config/with-webhook"))
	issuer := mustFind(t, objs, "Issuer", "directory-sync-selfsigned-issuer")
	cert := mustFind(t, objs, "Certificate", "directory-sync-serving-cert")
	ref, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	if ref != issuer.GetName() {
		t.Errorf("Certificate issuerRef.name = %q, want the Issuer %q", ref, issuer.GetName())
	}
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	deploy := mustFind(t, objs, "Deployment", "directory-sync-controller-manager")
	if !strings.Contains(mustYAML(t, deploy), "secretName: "+secretName) {
		t.Errorf("the manager does not mount the certificate's Secret %s", secretName)
	}
	webhook := mustFind(t, objs, "ValidatingWebhookConfiguration", "directory-sync-validating-webhook-configuration")
	if got := webhook.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != operatorNamespace+"/"+cert.GetName() {
		t.Errorf("webhook inject-ca-from = %q, want %s/%s", got, operatorNamespace, cert.GetName())
	}
}

func mustYAML(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Each overlay renders with the image set and without touching any tracked file (make deploy used
// to run `kustomize edit set image` in config/manager).
func TestOverlaysRenderWithImageAndLeaveTreeClean(t *testing.T) {
	before := gitStatus(t)
	for _, overlay := range []string{"config/default", "config/with-webhook", "config/namespaced"} {
		objs := objects(t, render(t, overlay))
		deploy := mustFind(t, objs, "Deployment", "directory-sync-controller-manager")
		containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
		if len(containers) != 1 || containers[0].(map[string]any)["image"] != testImage {
			t.Errorf("%s: manager image = %v, want %s", overlay, containers, testImage)
		}
		svc := mustFind(t, objs, "Service", "directory-sync-controller-manager-metrics-service")
		if port, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports"); len(port) != 1 {
			t.Errorf("%s: metrics Service ports %v", overlay, port)
		}
		for _, name := range []string{"directory-sync-editor", "directory-sync-viewer"} {
			role := mustFind(t, objs, "ClusterRole", name)
			if len(role.GetLabels()) == 0 {
				t.Errorf("%s: %s has no aggregation labels", overlay, name)
			}
		}
	}
	if after := gitStatus(t); after != before {
		t.Errorf("rendering changed the working tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func gitStatus(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain", "--", "config")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git status: %v", err)
	}
	return string(out)
}

// Regression: without kustomize, make deploy went on and applied the default image.
func TestRenderFailsLoudlyWithoutKustomize(t *testing.T) {
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "render.sh"), "config/default", testImage)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUSTOMIZE=no-such-kustomize build")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("render.sh succeeded without a kustomize")
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "no-such-kustomize not found") {
		t.Errorf("want no manifests and a clear error; stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	// deploy.sh stops before kubectl apply.
	cmd = exec.Command(filepath.Join(repoRoot, "hack", "deploy.sh"), "config/default", testImage)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUSTOMIZE=no-such-kustomize build", "KUBECONFIG=/nonexistent")
	out, err := cmd.CombinedOutput()
	if err == nil || strings.Contains(string(out), "serverside-applied") {
		t.Errorf("deploy.sh without kustomize: err %v, output %s", err, out)
	}
}

// The namespaced overlay grants the manager exactly the generated ClusterRole's rules, as a Role in
// the watched namespace, and no cluster-wide access to Secrets or ConfigMaps.
func TestNamespacedOverlayGrantsGeneratedRulesAsRole(t *testing.T) {
	generated := readRules(t, filepath.Join(repoRoot, "config", "rbac", "role.yaml"))
	objs := objects(t, render(t, "config/namespaced"))
	role := mustFind(t, objs, "Role", "directory-sync-manager-role")
	if role.GetNamespace() != "team-a" {
		t.Errorf("manager Role in namespace %q, want team-a", role.GetNamespace())
	}
	var r rbacv1.Role
	fromUnstructured(t, role, &r)
	if !reflect.DeepEqual(r.Rules, generated) {
		t.Errorf("namespaced Role rules differ from config/rbac/role.yaml (run make manifests):\n%v\n%v", r.Rules, generated)
	}
	binding := mustFind(t, objs, "RoleBinding", "directory-sync-manager-rolebinding")
	var rb rbacv1.RoleBinding
	fromUnstructured(t, binding, &rb)
	if rb.Namespace != "team-a" || rb.RoleRef.Name != r.Name || len(rb.Subjects) != 1 ||
		rb.Subjects[0].Name != operatorSA || rb.Subjects[0].Namespace != operatorNamespace {
		t.Errorf("manager RoleBinding %+v", rb)
	}
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" {
			continue
		}
		var cr rbacv1.ClusterRole
		fromUnstructured(t, o, &cr)
		for _, rule := range cr.Rules {
			for _, res := range rule.Resources {
				if res == "secrets" || res == "configmaps" {
					t.Errorf("ClusterRole %s grants %s cluster-wide in the namespaced overlay", cr.Name, res)
				}
			}
		}
	}
}

func readRules(t *testing.T, path string) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cr rbacv1.ClusterRole
	if err := yaml.Unmarshal(b, &cr); err != nil {
		t.Fatal(err)
	}
	return cr.Rules
}

func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}
