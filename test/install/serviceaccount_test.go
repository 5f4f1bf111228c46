package install_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/directory-sync/directory-sync-operator/controllers"
)

// TestDefaultOverlayServiceAccount deploys config/default and runs the manager with its
// ServiceAccount's token, watching all namespaces: a sample syncs without any forbidden request,
// leader election works out of cluster with --leader-election-namespace, and the metrics endpoint
// answers only authorized callers over HTTPS.
func TestDefaultOverlayServiceAccount(t *testing.T) {
	c := startCluster(t)
	c.apply(t, render(t, "config/default"))
	c.createNamespace(t, "team-b")
	s := startSample(t, c, "team-b")

	mark := logs.mark()
	metricsAddr := freeAddr(t)
	saCfg := c.serviceAccountConfig(t, operatorNamespace, operatorSA)
	mgr := startManager(t, saCfg, controllers.ManagerConfig{
		MetricsAddr:             metricsAddr,
		SecureMetrics:           true,
		LeaderElect:             true,
		LeaderElectionNamespace: operatorNamespace,
	})
	s.waitSynced(t, c)
	noForbidden(t, mark)

	// The Lease is in the namespace given by the flag.
	if _, err := c.clientset.CoordinationV1().Leases(operatorNamespace).Get(context.Background(), controllers.LeaderElectionID, metav1.GetOptions{}); err != nil {
		t.Errorf("leader election Lease: %v", err)
	}
	checkMetricsAuth(t, c, metricsAddr)
	checkCachedSecretMetadata(t, c, mgr, "team-b")
}

// checkMetricsAuth: no token -> 401; a token without the metrics-reader role -> 403; a token bound
// to the directory-sync-metrics-reader ClusterRole -> 200 with the operator's metrics.
func checkMetricsAuth(t *testing.T, c *cluster, addr string) {
	t.Helper()
	c.apply(t, `apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus
  namespace: default
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: nobody
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: prometheus-reads-directory-sync-metrics
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: directory-sync-metrics-reader
subjects:
- kind: ServiceAccount
  name: prometheus
  namespace: default
`)
	get := func(token string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// The endpoint's certificate is self-signed here (the chart mounts a cert-manager one).
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	expect := func(name, token string, want int) string {
		var body string
		eventually(t, 30*time.Second, func() error {
			code, b, err := get(token)
			if err != nil {
				return err
			}
			if code != want {
				return fmt.Errorf("%s: GET /metrics = %d, want %d: %.200s", name, code, want, b)
			}
			body = b
			return nil
		})
		return body
	}
	expect("no token", "", http.StatusUnauthorized)
	expect("token without metrics-reader", c.serviceAccountConfig(t, "default", "nobody").BearerToken, http.StatusForbidden)
	body := expect("metrics-reader", c.serviceAccountConfig(t, "default", "prometheus").BearerToken, http.StatusOK)
	if !strings.Contains(body, "directorysync_sync_duration_seconds") {
		t.Errorf("metrics lack directorysync_sync_duration_seconds:\n%.2000s", body)
	}
}

// TestNamespacedOverlayServiceAccount deploys config/namespaced (Roles in team-a only) and runs the
// manager with --watch-namespaces=team-a under its ServiceAccount: the sample syncs without a
// forbidden request, the account cannot list Secrets cluster-wide or in other namespaces, and the
// cache holds no annotations or managed fields of Secrets.
func TestNamespacedOverlayServiceAccount(t *testing.T) {
	c := startCluster(t)
	c.createNamespace(t, "team-a")
	c.createNamespace(t, "team-c")
	manifests := render(t, "config/namespaced")
	if !strings.Contains(manifests, "--watch-namespaces=team-a") {
		t.Fatal("config/namespaced does not pass --watch-namespaces=team-a to the manager")
	}
	c.apply(t, manifests)
	s := startSample(t, c, "team-a")

	mark := logs.mark()
	saCfg := c.serviceAccountConfig(t, operatorNamespace, operatorSA)
	mgr := startManager(t, saCfg, controllers.ManagerConfig{
		WatchNamespaces:         controllers.ParseNamespaces("team-a"),
		LeaderElect:             true,
		LeaderElectionNamespace: operatorNamespace,
	})
	s.waitSynced(t, c)
	noForbidden(t, mark)

	checkNoClusterWideSecrets(t, saCfg)
	checkCachedSecretMetadata(t, c, mgr, "team-a")
}

func checkNoClusterWideSecrets(t *testing.T, saCfg *rest.Config) {
	t.Helper()
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := client.New(saCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var list corev1.SecretList
	if err := sa.List(ctx, &list); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount listed Secrets of all namespaces (err %v, %d items); want Forbidden", err, len(list.Items))
	}
	if err := sa.List(ctx, &list, client.InNamespace("team-c")); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount listed Secrets of unwatched namespace team-c (err %v); want Forbidden", err)
	}
	if err := sa.List(ctx, &list, client.InNamespace("team-a")); err != nil {
		t.Errorf("the ServiceAccount cannot list Secrets in its watched namespace: %v", err)
	}
}

// checkCachedSecretMetadata creates a Secret as `kubectl apply` would (its data in the
// last-applied-configuration annotation) and checks that the manager's cache keeps its name and
// labels but no annotation and no managed field.
func checkCachedSecretMetadata(t *testing.T, c *cluster, mgr ctrl.Manager, namespace string) {
	t.Helper()
	c.mustRun(t, `apiVersion: v1
kind: Secret
metadata:
  name: applied-with-kubectl
  namespace: `+namespace+`
  labels:
    team: a
  annotations:
    note: visible
stringData:
  password: s3cr3t-in-annotation
`, "kubectl", "apply", "-f", "-")
	ctx := context.Background()
	var raw corev1.Secret
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "applied-with-kubectl"}, &raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw.Annotations[corev1.LastAppliedConfigAnnotation], "s3cr3t-in-annotation") || len(raw.ManagedFields) == 0 {
		t.Fatalf("test setup: the Secret should carry its data in last-applied-configuration and have managed fields: %v", raw.ObjectMeta)
	}
	cached := &metav1.PartialObjectMetadata{}
	cached.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	eventually(t, 30*time.Second, func() error {
		return mgr.GetCache().Get(ctx, client.ObjectKey{Namespace: namespace, Name: "applied-with-kubectl"}, cached)
	})
	if len(cached.Annotations) != 0 || len(cached.ManagedFields) != 0 {
		t.Errorf("cached Secret metadata keeps annotations %v and %d managed fields; want none", cached.Annotations, len(cached.ManagedFields))
	}
	if cached.Labels["team"] != "a" {
		t.Errorf("cached Secret metadata lost its labels: %v", cached.Labels)
	}
}
