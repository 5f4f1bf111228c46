// Package install_test checks the install path as a cluster admin uses it: the kustomize overlays,
// the deploy/undeploy scripts, the Helm chart and the release manifest, against a real
// kube-apiserver (envtest), with the manager running under its own ServiceAccount's token.
package install_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	authnv1 "k8s.io/api/authentication/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/directory-sync/directory-sync-operator/controllers"
)

// repoRoot is the repository, two levels up from this package.
var repoRoot = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

// testImage is the manager image the tests deploy; nothing pulls it (envtest runs no kubelet).
const testImage = "registry.example.com/directory-sync/operator:v9.9.9"

// Operator namespace and ServiceAccount as the overlays and the chart name them.
const (
	operatorNamespace = "directory-sync-system"
	operatorSA        = "directory-sync-controller-manager"
)

// logs collects everything the managers (and client-go, through klog) log, so that tests can check
// that nothing was forbidden.
var logs = &logBuffer{}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) write(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(prefix + " " + args + "\n")
}

func (l *logBuffer) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

func (l *logBuffer) since(mark int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()[mark:]
}

func TestMain(m *testing.M) {
	log := funcr.New(logs.write, funcr.Options{Verbosity: 1})
	if os.Getenv("INSTALL_TEST_LOG") != "" {
		log = logr.New(teeSink{log.GetSink(), funcr.New(func(p, a string) { fmt.Fprintln(os.Stderr, p, a) }, funcr.Options{}).GetSink()})
	}
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	os.Exit(m.Run())
}

// teeSink writes to two sinks (INSTALL_TEST_LOG=1 shows the logs while keeping them checked).
type teeSink struct{ a, b logr.LogSink }

func (t teeSink) Init(info logr.RuntimeInfo)        { t.a.Init(info); t.b.Init(info) }
func (t teeSink) Enabled(level int) bool            { return t.a.Enabled(level) || t.b.Enabled(level) }
func (t teeSink) Info(l int, msg string, kv ...any) { t.a.Info(l, msg, kv...); t.b.Info(l, msg, kv...) }
func (t teeSink) Error(err error, msg string, kv ...any) {
	t.a.Error(err, msg, kv...)
	t.b.Error(err, msg, kv...)
}
func (t teeSink) WithValues(kv ...any) logr.LogSink {
	return teeSink{t.a.WithValues(kv...), t.b.WithValues(kv...)}
}
func (t teeSink) WithName(n string) logr.LogSink { return teeSink{t.a.WithName(n), t.b.WithName(n)} }

// cluster is one envtest API server (with etcd) of a test, driven like a cluster admin would:
// kubectl with a kubeconfig, plus a Go client.
type cluster struct {
	cfg        *rest.Config
	kubeconfig string
	client     client.Client
	clientset  *kubernetes.Clientset
}

// requireTool fails the test when a command the install path needs is not installed.
func requireTool(t *testing.T, path, hint string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err != nil {
		t.Fatalf("%s not found: %s", path, hint)
	}
	return p
}

// startCluster starts a fresh API server without any CRD: each test installs what it tests.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make envtest` and point it at bin/k8s/<version> (make test does)")
	}
	requireTool(t, "kubectl", "the install tests drive the API server with kubectl like an admin")
	// Generous start timeouts: CI shares 2 cores between several API servers.
	env := &envtest.Environment{ControlPlaneStartTimeout: 3 * time.Minute, ControlPlaneStopTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{cfg: cfg, kubeconfig: kubeconfig, client: c, clientset: cs}
}

// run runs a command with KUBECONFIG pointing at the cluster and returns its combined output.
func (c *cluster) run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on error.
func (c *cluster) mustRun(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := c.run(t, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// apply applies manifests with server-side apply, as hack/deploy.sh does.
func (c *cluster) apply(t *testing.T, manifests string) {
	t.Helper()
	c.mustRun(t, manifests, "kubectl", "apply", "--server-side", "--force-conflicts", "-f", "-")
}

// createNamespace creates a namespace with kubectl (idempotent).
func (c *cluster) createNamespace(t *testing.T, name string) {
	t.Helper()
	c.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name))
}

// serviceAccountConfig returns a rest.Config that authenticates with a token of the ServiceAccount
// (TokenRequest), so that everything done with it is limited to the account's RBAC.
func (c *cluster) serviceAccountConfig(t *testing.T, namespace, name string) *rest.Config {
	t.Helper()
	tr, err := c.clientset.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for ServiceAccount %s/%s: %v", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.cfg)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

// render renders a kustomize overlay with hack/render.sh, as make deploy does.
func render(t *testing.T, overlay string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "render.sh"), overlay, testImage)
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render %s: %v\n%s", overlay, err, stderr.String())
	}
	return string(out)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// startManager runs the operator's manager (controllers.NewManager, as cmd builds it) with cfg
// until the test ends.
func startManager(t *testing.T, cfg *rest.Config, mc controllers.ManagerConfig) ctrl.Manager {
	t.Helper()
	mc.SkipNameValidation = true
	if mc.ProbeAddr == "" {
		mc.ProbeAddr = "0"
	}
	if mc.MetricsAddr == "" {
		mc.MetricsAddr = "0"
	}
	mc.Options.RunTimeout = 30 * time.Second
	mgr, err := controllers.NewManager(cfg, mc)
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop within 30s")
		}
	})
	return mgr
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
		time.Sleep(250 * time.Millisecond)
	}
}

// noForbidden fails when anything logged since mark mentions a forbidden request.
func noForbidden(t *testing.T, mark int) {
	t.Helper()
	for _, line := range strings.Split(logs.since(mark), "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			t.Errorf("a request of the manager was forbidden: %s", line)
		}
	}
}
