package controllers_test

// End-to-end suite: a real kube-apiserver and etcd (envtest) with the CRDs installed, the manager
// running the three reconcilers, and per test a real OpenLDAP slapd and a real SCIMMY server, all on
// loopback. The tests fail when one of these is not available on the machine.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

var (
	// k8s talks to the envtest API server directly (no cache), so reads see the latest writes.
	k8s client.Client
	// unavailable says why the suite cannot run here; every e2e test then fails with it.
	unavailable string
	// clockOffset is added to the wall clock the reconcilers see (Options.Now); advanceClock moves
	// it forward to pass a grace period.
	clockOffset atomic.Int64
)

func testNow() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }

func advanceClock(d time.Duration) { clockOffset.Add(int64(d)) }

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	switch {
	case os.Getenv("KUBEBUILDER_ASSETS") == "":
		unavailable = "KUBEBUILDER_ASSETS is not set (run `make envtest` and point it at bin/k8s/<version>)"
	case !slapd.Available():
		unavailable = slapd.InstallHint
	case scimserver.Available() != nil:
		unavailable = "SCIM test server unavailable: " + scimserver.Available().Error()
	}
	if unavailable != "" {
		return m.Run()
	}

	// Every line is recorded (managerLogs) for the canary test; E2E_LOG also prints them.
	var printed logr.LogSink
	if os.Getenv("E2E_LOG") != "" {
		printed = zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)).GetSink()
	}
	log := logr.New(managerLogs.sink(printed))
	ctrl.SetLogger(log)

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	if err := controllers.SetupAll(mgr, controllers.Options{Now: testNow, RunTimeout: 30 * time.Second}); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	code := m.Run()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "manager did not stop within 30s")
	}
	return code
}

// requireSuite fails t (a test whose real part cannot start fails, it never skips) when the suite's prerequisites are missing.
func requireSuite(t *testing.T) {
	t.Helper()
	if unavailable != "" {
		t.Fatal(unavailable)
	}
}

// eventually calls f until it returns nil or timeout passes, then fails with f's last error.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// consistently checks that f keeps returning nil for the whole duration (for "nothing happens"
// assertions, after the reconciler has had the time to run several times).
func consistently(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := f(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// newNamespace creates a namespace for one test group and deletes it afterwards.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Deleting the SyncTargets first stops their runs before the servers go away (envtest has no
		// namespace controller, so the namespace itself would never empty).
		var sts v1.SyncTargetList
		if err := k8s.List(context.Background(), &sts, client.InNamespace(ns.Name)); err == nil {
			for i := range sts.Items {
				_ = k8s.Delete(context.Background(), &sts.Items[i])
			}
		}
		// The finalizer must be released: deleting a SyncTarget never waits on the target.
		eventually(t, 15*time.Second, func() error {
			if err := k8s.List(context.Background(), &sts, client.InNamespace(ns.Name)); err != nil {
				return err
			}
			if len(sts.Items) > 0 {
				return fmt.Errorf("SyncTarget %s not deleted (finalizers %v)", sts.Items[0].Name, sts.Items[0].Finalizers)
			}
			return nil
		})
		_ = k8s.Delete(context.Background(), ns)
	})
	return ns.Name
}
