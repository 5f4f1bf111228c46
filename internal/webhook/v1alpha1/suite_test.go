package v1alpha1_test

// One real kube-apiserver (envtest) with the generated ValidatingWebhookConfiguration, pointing at
// one manager that serves every webhook of this package: what `kubectl` would see.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	webhookv1 "github.com/directory-sync/directory-sync-operator/internal/webhook/v1alpha1"
)

var (
	// k8s is the manager's client: it reads from the cache the webhooks read from.
	k8s client.Client
	// warned is a direct client whose admission warnings are recorded in apiWarnings.
	warned      client.Client
	apiWarnings warningRecorder
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`")
		return 1
	}
	root := filepath.Join("..", "..", "..")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")}},
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	wo := env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir,
		}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	for _, setup := range []func(ctrl.Manager) error{
		webhookv1.SetupMappingRuleWebhook, webhookv1.SetupSyncTargetWebhook, webhookv1.SetupDirectorySourceWebhook,
	} {
		if err := setup(mgr); err != nil {
			fmt.Fprintln(os.Stderr, "webhook setup:", err)
			return 1
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "manager did not stop within 30s")
		}
	}()
	if err := waitForTLS(fmt.Sprintf("%s:%d", wo.LocalServingHost, wo.LocalServingPort)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "cache did not sync")
		return 1
	}
	k8s = mgr.GetClient()
	warnedCfg := rest.CopyConfig(cfg)
	warnedCfg.WarningHandler = &apiWarnings
	if warned, err = client.New(warnedCfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}

func waitForTLS(addr string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err == nil {
			_ = conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("webhook server at %s did not start", addr), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// warningRecorder keeps the API server's warnings (the Warning headers kubectl prints).
type warningRecorder struct {
	mu   sync.Mutex
	list []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// during returns the warnings of the requests f makes (tests using it must not run in parallel).
func (w *warningRecorder) during(f func()) []string {
	w.mu.Lock()
	start := len(w.list)
	w.mu.Unlock()
	f()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list[start:]...)
}

func eventuallyTrue(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
