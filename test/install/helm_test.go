package install_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/directory-sync/directory-sync-operator/controllers"
)

var chartDir = filepath.Join(repoRoot, "config", "helm", "directory-sync-operator")

// helmBin is bin/helm, built from the Go module proxy by hack/install-deps.sh.
func helmBin(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot, "bin", "helm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("bin/helm is missing: run hack/install-deps.sh (make test-deps builds it from the Go module proxy): %v", err)
	}
	return p
}

// helm runs bin/helm without a cluster.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// valueSets are the chart configurations the tests render: defaults, namespaced, everything on.
var valueSets = map[string][]string{
	"defaults":   nil,
	"namespaced": {"--set", "watchNamespaces={team-a,team-b}", "--set", "logLevel=debug"},
	"everything": {"--set", "webhook.enabled=true", "--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
		"--set", "watchNamespaces={team-a}", "--set", "resources.limits.memory=512Mi"},
}

func TestHelmLint(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			out := helm(t, append([]string{"lint", "--strict", chartDir}, set...)...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint: %s", out)
			}
		})
	}
}

// The chart's CRDs are config/crd/bases (make manifests copies them; this fails when they drift).
func TestHelmChartCRDsEqualBases(t *testing.T) {
	bases, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	chart, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if len(chart) != len(bases) {
		t.Fatalf("chart has %d CRDs, config/crd/bases %d: run make manifests", len(chart), len(bases))
	}
	for _, b := range bases {
		want, _ := os.ReadFile(b)
		got, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(b)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("chart CRD %s differs from config/crd/bases (run make manifests): %v", filepath.Base(b), err)
		}
	}
}

// The chart grants the generated rules (Roles per watched namespace, or a ClusterRole), carries the
// generated webhook, and passes the values to the manager.
func TestHelmTemplateMatchesGeneratedRBACAndWebhook(t *testing.T) {
	generated := readRules(t, filepath.Join(repoRoot, "config", "rbac", "role.yaml"))

	objs := objects(t, helm(t, "template", "directory-sync-operator", chartDir, "--namespace", operatorNamespace))
	var cr rbacv1.ClusterRole
	fromUnstructured(t, mustFind(t, objs, "ClusterRole", "directory-sync-operator-manager"), &cr)
	if !reflect.DeepEqual(cr.Rules, generated) {
		t.Errorf("chart ClusterRole rules differ from config/rbac/role.yaml (run make manifests)")
	}

	objs = objects(t, helm(t, append([]string{"template", "directory-sync-operator", chartDir, "--namespace", operatorNamespace}, valueSets["everything"]...)...))
	if find(objs, "ClusterRole", "directory-sync-operator-manager") != nil {
		t.Error("namespaced chart still has the manager ClusterRole")
	}
	var role rbacv1.Role
	fromUnstructured(t, mustFind(t, objs, "Role", "directory-sync-operator-manager"), &role)
	if role.Namespace != "team-a" || !reflect.DeepEqual(role.Rules, generated) {
		t.Errorf("namespaced chart Role in %q with rules differing from config/rbac/role.yaml", role.Namespace)
	}
	var deploy appsv1.Deployment
	fromUnstructured(t, mustFind(t, objs, "Deployment", "directory-sync-operator"), &deploy)
	args := strings.Join(deploy.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--watch-namespaces=team-a", "--enable-webhooks", "--metrics-secure=true", "--zap-log-level=info", "--leader-elect", "--memory-limit-ratio=0.9"} {
		if !strings.Contains(args, want) {
			t.Errorf("manager args %q lack %s", args, want)
		}
	}
	if got := deploy.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); got != "512Mi" {
		t.Errorf("memory limit %s, want 512Mi from values", got)
	}

	genBytes, err := os.ReadFile(filepath.Join(repoRoot, "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var genWebhook, chartWebhook admissionv1.ValidatingWebhookConfiguration
	if err := yaml.Unmarshal(genBytes, &genWebhook); err != nil {
		t.Fatal(err)
	}
	fromUnstructured(t, mustFind(t, objs, "ValidatingWebhookConfiguration", "directory-sync-operator"), &chartWebhook)
	if len(chartWebhook.Webhooks) != len(genWebhook.Webhooks) {
		t.Fatalf("chart has %d webhooks, config/webhook %d", len(chartWebhook.Webhooks), len(genWebhook.Webhooks))
	}
	for i, g := range genWebhook.Webhooks {
		c := chartWebhook.Webhooks[i]
		if c.Name != g.Name || !reflect.DeepEqual(c.Rules, g.Rules) || *c.ClientConfig.Service.Path != *g.ClientConfig.Service.Path ||
			!reflect.DeepEqual(c.FailurePolicy, g.FailurePolicy) || !reflect.DeepEqual(c.TimeoutSeconds, g.TimeoutSeconds) {
			t.Errorf("chart webhook %s differs from the generated one", c.Name)
		}
	}
	issuer := mustFind(t, objs, "Issuer", "directory-sync-operator-selfsigned")
	cert := mustFind(t, objs, "Certificate", "directory-sync-operator-serving-cert")
	if !strings.Contains(mustYAML(t, cert), "name: "+issuer.GetName()) {
		t.Error("chart Certificate does not reference the chart's Issuer")
	}
}

// standInCRDs lets the API server accept cert-manager's and the prometheus-operator's kinds in a
// server-side dry run (their real CRDs are not available offline): it checks group, version, kind
// and scope of the chart's objects, not their fields.
const standInCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Issuer, plural: issuers, singular: issuer, listKind: IssuerList}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Certificate, plural: certificates, singular: certificate, listKind: CertificateList}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, listKind: ServiceMonitorList}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: PrometheusRule, plural: prometheusrules, singular: prometheusrule, listKind: PrometheusRuleList}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
`

// TestHelmChartOnAPIServer: `helm template` of every value set and `make release-manifests`'
// install.yaml pass a server-side dry run; then
// real `helm install`s (namespaced and cluster-wide) whose manager, run with the chart's
// ServiceAccount token, syncs a sample without a forbidden request.
func TestHelmChartOnAPIServer(t *testing.T) {
	helmBin(t)
	c := startCluster(t)
	c.apply(t, standInCRDs)
	for _, ns := range []string{operatorNamespace, "team-a", "team-b"} {
		c.createNamespace(t, ns)
	}
	for name, set := range valueSets {
		rendered := helm(t, append([]string{"template", "directory-sync-operator", chartDir, "--namespace", operatorNamespace, "--include-crds"}, set...)...)
		if out, err := c.run(t, rendered, "kubectl", "apply", "--dry-run=server", "-f", "-"); err != nil {
			t.Errorf("%s: server-side dry run of helm template: %v\n%s", name, err, out)
		}
	}

	// config/prometheus (ServiceMonitor, PrometheusRule) is accepted too.
	monitoring := c.mustRun(t, "", "kubectl", "kustomize", "config/prometheus")
	if out, err := c.run(t, monitoring, "kubectl", "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("server-side dry run of config/prometheus: %v\n%s", err, out)
	}

	// make release-manifests: one file with CRDs, RBAC and the manager that the API server accepts.
	dist := t.TempDir()
	c.mustRun(t, "", "make", "-s", "release-manifests", "IMG="+testImage, "DIST="+dist)
	release, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	relObjs := objects(t, string(release))
	for _, kind := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "ServiceAccount", "Deployment", "Service"} {
		if !slices.ContainsFunc(relObjs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind }) {
			t.Errorf("install.yaml has no %s", kind)
		}
	}
	if out, err := c.run(t, string(release), "kubectl", "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("server-side dry run of install.yaml: %v\n%s", err, out)
	}

	install := func(t *testing.T, release, namespace string, set ...string) string {
		args := append([]string{"install", release, chartDir, "--namespace", namespace, "--create-namespace",
			"--set", "image.repository=" + testImage[:strings.LastIndex(testImage, ":")],
			"--set", "image.tag=" + testImage[strings.LastIndex(testImage, ":")+1:]}, set...)
		c.mustRun(t, "", helmBin(t), args...)
		return release + "-directory-sync-operator"
	}

	t.Run("namespaced", func(t *testing.T) {
		sa := install(t, "ns", "ops-a", "--set", "watchNamespaces={team-a}")
		var deploy appsv1.Deployment
		if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: "ops-a", Name: sa}, &deploy); err != nil {
			t.Fatal(err)
		}
		if img := deploy.Spec.Template.Spec.Containers[0].Image; img != testImage {
			t.Errorf("installed image %s, want %s", img, testImage)
		}
		s := startSample(t, c, "team-a")
		mark := logs.mark()
		cfg := c.serviceAccountConfig(t, "ops-a", sa)
		startManager(t, cfg, controllers.ManagerConfig{
			WatchNamespaces: []string{"team-a"}, LeaderElect: true, LeaderElectionNamespace: "ops-a",
		})
		s.waitSynced(t, c)
		noForbidden(t, mark)
		checkNoClusterWideSecrets(t, cfg)
	})
	t.Run("cluster-wide", func(t *testing.T) {
		sa := install(t, "cw", "ops-b")
		s := startSample(t, c, "team-b")
		mark := logs.mark()
		startManager(t, c.serviceAccountConfig(t, "ops-b", sa), controllers.ManagerConfig{
			LeaderElect: true, LeaderElectionNamespace: "ops-b",
		})
		s.waitSynced(t, c)
		noForbidden(t, mark)
	})
}
