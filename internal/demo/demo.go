// Package demo runs the whole sync loop on one machine without a cluster: a real kube-apiserver and
// etcd (envtest) with the CRDs, a seeded OpenLDAP directory (slapd), a SCIM 2.0 app (SCIMMY) and the
// operator's manager in-process. It applies config/samples/demo and walks through the README's
// story — dry run, pilot users, everyone, a change in the directory — printing what happens.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// The names below match config/samples/demo.
const (
	namespace    = "default"
	targetName   = "phone-system"
	sourceName   = "corp-ldap"
	ruleName     = "staff"
	samplesDir   = "config/samples/demo"
	syncNowAnnot = v1.AnnotationSyncRequested

	// minUsers keeps the pilot users in the seed and enough managed users for the default safety
	// limit (10% of managed users) to allow the one suspension of step 4.
	minUsers = 20
	// runTimeout bounds the wait for one sync run.
	runTimeout = 45 * time.Second
)

// pilotUIDs are the users in the MappingRule's initial scope (02-mappingrule.yaml).
var pilotUIDs = []string{"user00004", "user00005", "user00011"}

// The directory changes of step 4.
const (
	movedUID      = "user00011" // department 102 (Supply Chain) → 103 (Engineering)
	movedFrom     = "102"
	movedTo       = "103"
	movedToName   = "Engineering"
	movedFromName = "Supply Chain"
	disabledUID   = "user00005"
)

type options struct {
	users   int
	keep    bool
	verbose bool
}

// Run runs the demo, printing to out. It returns nil when the whole loop worked.
func Run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	var opts options
	fs.IntVar(&opts.users, "users", 40, fmt.Sprintf("people in the demo directory (at least %d)", minUsers))
	fs.BoolVar(&opts.keep, "keep", false, "keep everything running after the walkthrough, until Ctrl-C, to try kubectl")
	fs.BoolVar(&opts.verbose, "v", false, "show the operator's logs (on stderr)")
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: demo [-users N] [-keep] [-v]")
		fmt.Fprintln(out, "Runs the whole sync loop on this machine: kube-apiserver+etcd (envtest), OpenLDAP (slapd),")
		fmt.Fprintln(out, "a SCIM 2.0 app (SCIMMY) and the operator, and shows what it does step by step.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v (see -h)", fs.Args())
	}
	if opts.users < minUsers {
		return fmt.Errorf("-users must be at least %d", minUsers)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{opts: opts, out: out, began: time.Now()}
	defer d.shutdown()
	err := d.run(ctx)
	if err != nil && ctx.Err() != nil {
		return errors.New("interrupted; everything started was stopped")
	}
	return err
}

type demo struct {
	opts  options
	out   io.Writer
	began time.Time

	root       string
	env        *envtest.Environment
	restConfig *rest.Config
	ldap       *slapd.Server
	scim       *scimserver.Server
	k8s        client.Client
	kubeconfig string

	mu       sync.Mutex
	cleanups []func()
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) onShutdown(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cleanups = append(d.cleanups, f)
}

// shutdown stops everything started, newest first.
func (d *demo) shutdown() {
	d.mu.Lock()
	fns := d.cleanups
	d.cleanups = nil
	d.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

func (d *demo) run(ctx context.Context) error {
	d.printf("directory-sync demo: an LDAP directory synced into a SCIM 2.0 app by the operator,\n")
	d.printf("with a real Kubernetes API server, all on this machine (no cluster needed).\n")

	if err := d.preflight(); err != nil {
		return err
	}
	if err := d.startAll(ctx); err != nil {
		return err
	}
	if err := d.startManager(ctx); err != nil {
		return err
	}
	applied, err := d.apply(ctx)
	if err != nil {
		return err
	}
	steps := []func(context.Context, time.Time) error{d.stepDryRun, d.stepPilot, d.stepEveryone, d.stepChange}
	for i, step := range steps {
		if err := step(ctx, applied); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	d.stepNext()
	d.printf("\nDemo finished in %s: the loop works.\n", time.Since(d.began).Round(100*time.Millisecond))
	if d.opts.keep {
		return d.keepRunning(ctx)
	}
	return nil
}

// preflight finds the source tree and checks that the three servers can be started.
func (d *demo) preflight() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	d.root = root
	assets, err := envtestAssets(root)
	if err != nil {
		return err
	}
	d.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	var missing []string
	if !slapd.Available() {
		missing = append(missing, "OpenLDAP is not installed; install it with:\n    sudo apt-get install slapd ldap-utils")
	}
	if err := scimserver.Available(); err != nil {
		missing = append(missing, fmt.Sprintf("the SCIM test server cannot start (%v); install its packages with:\n    npm ci --prefix test/scim-server", err))
	}
	if len(missing) > 0 {
		msg := "the demo needs a few things first:"
		for _, m := range missing {
			msg += "\n  - " + m
		}
		return errors.New(msg + "\n  (`make test-deps` installs all of them)")
	}
	return nil
}

// startAll starts the control plane, the directory and the SCIM app in parallel.
func (d *demo) startAll(ctx context.Context) error {
	d.printf("\nStarting (in parallel):\n")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var lines []string
	do := func(name string, f func() (string, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			line, err := f()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			lines = append(lines, fmt.Sprintf("  %-38s %-38s %5.1fs\n", name, line, time.Since(t0).Seconds()))
		}()
	}
	do("Kubernetes API (kube-apiserver+etcd)", func() (string, error) {
		cfg, err := d.env.Start()
		if err != nil {
			_ = d.env.Stop() // stops whatever part of the control plane did start
			return "", err
		}
		d.onShutdown(func() { _ = d.env.Stop() })
		d.restConfig = cfg
		return "envtest, CRDs from config/crd/bases", nil
	})
	do("OpenLDAP directory (slapd)", func() (string, error) {
		s, err := slapd.Start(slapd.Options{Users: d.opts.users})
		if err != nil {
			return "", err
		}
		d.onShutdown(func() { _ = s.Stop() })
		d.ldap = s
		return fmt.Sprintf("%s, %d people", s.URL, len(s.Seed.Users)), nil
	})
	do("SCIM 2.0 app (SCIMMY)", func() (string, error) {
		s, err := scimserver.Start(ctx, scimserver.Options{})
		if err != nil {
			return "", err
		}
		d.onShutdown(s.Stop)
		d.scim = s
		return s.URL(), nil
	})
	wg.Wait()
	for _, l := range lines {
		d.printf("%s", l)
	}
	return errors.Join(errs...)
}

// startManager runs the operator's three controllers in this process against the envtest API server.
func (d *demo) startManager(ctx context.Context) error {
	logger := logr.Discard()
	if d.opts.verbose {
		logger = zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr))
	}
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(d.restConfig, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.SetupAll(mgr, controllers.Options{}); err != nil {
		return fmt.Errorf("setting up the controllers: %w", err)
	}
	mgrCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	d.onShutdown(func() {
		cancel()
		select {
		case err := <-done:
			_ = err // the manager's own error no longer matters once the demo shuts down
		case <-time.After(15 * time.Second):
		}
	})
	syncCtx, cancelSync := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		select {
		case err := <-done:
			return fmt.Errorf("the manager stopped: %v", err)
		default:
			return errors.New("the manager's caches did not sync within 30s")
		}
	}
	// An uncached client, so that every status read is fresh.
	if d.k8s, err = client.New(d.restConfig, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	d.printf("  %-38s %s\n", "directory-sync operator", "in this process (controllers.SetupAll), metrics off")
	return nil
}

// apply fills in the demo manifests and creates them; it returns when it started.
func (d *demo) apply(ctx context.Context) (time.Time, error) {
	vars := map[string]string{
		"LDAP_URL":           d.ldap.URL,
		"LDAP_BIND_DN":       slapd.ServiceDN,
		"LDAP_BIND_PASSWORD": slapd.ServicePassword,
		"SCIM_URL":           d.scim.URL(),
		"SCIM_TOKEN":         d.scim.Token(),
	}
	objs, err := loadManifests(filepath.Join(d.root, samplesDir), vars)
	if err != nil {
		return time.Time{}, err
	}
	began := time.Now().Truncate(time.Second)
	names, err := applyAll(ctx, d.k8s, namespace, objs)
	if err != nil {
		return time.Time{}, err
	}
	d.printf("\n$ kubectl apply -f %s/   # with ${LDAP_URL}, ${SCIM_URL}... filled in\n", samplesDir)
	for _, n := range names {
		d.printf("  %s created\n", n)
	}
	return began, nil
}
