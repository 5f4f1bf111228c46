// Command manager runs the directory-sync operator. The cluster-less demo is its own command, cmd/demo,
// so that this binary links no test harness (deps_test.go checks it).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/directory-sync/directory-sync-operator/controllers"
	webhookv1alpha1 "github.com/directory-sync/directory-sync-operator/internal/webhook/v1alpha1"
)

func main() {
	os.Exit(runManager(os.Args[1:]))
}

// flags are the manager's command line.
type flags struct {
	manager        controllers.ManagerConfig
	enableWebhooks bool
	// memoryLimitRatio is the fraction of the container's memory limit given to the Go runtime
	// as its soft limit (see setMemoryLimit); 0 is off.
	memoryLimitRatio float64
	zap              zap.Options
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var watchNamespaces string
	m := &f.manager
	fs.StringVar(&m.MetricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; 0 disables it.")
	fs.BoolVar(&m.SecureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS to callers allowed to GET /metrics (TokenReview and SubjectAccessReview); false serves plain HTTP to anyone.")
	fs.StringVar(&m.MetricsCertDir, "metrics-cert-dir", "", "Directory with tls.crt and tls.key for the metrics endpoint; empty uses a self-signed certificate.")
	fs.StringVar(&m.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the health and readiness probes.")
	fs.BoolVar(&m.LeaderElect, "leader-elect", false, "Elect a leader so that only one replica syncs.")
	fs.StringVar(&m.LeaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease; defaults to the pod's namespace in cluster and is required out of cluster.")
	fs.StringVar(&watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces to watch; empty watches all namespaces. With a list, namespaced Roles in those namespaces suffice.")
	fs.BoolVar(&f.enableWebhooks, "enable-webhooks", false,
		"Serve the validating webhooks on :9443: MappingRule CEL, SyncTarget ownership, warnings on deleting a DirectorySource or MappingRule in use (certificates in /tmp/k8s-webhook-server/serving-certs; see config/with-webhook).")
	fs.IntVar(&m.Options.MaxConcurrentSyncs, "max-concurrent-syncs", 4, "How many SyncTargets (and DirectorySource probes) may run at once.")
	fs.DurationVar(&m.Options.RunTimeout, "max-run-duration", 30*time.Minute,
		"Cap of one sync run's deadline; a run's deadline is its SyncTarget's interval, at least 2m, at most this.")
	fs.Float64Var(&f.memoryLimitRatio, "memory-limit-ratio", 0.9,
		"Set the Go runtime's soft memory limit to this fraction of the container's memory limit (cgroup), so that the garbage collector works harder instead of the container being OOM-killed; 0 turns it off. A GOMEMLIMIT or AUTOMEMLIMIT environment variable wins.")
	f.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if f.memoryLimitRatio < 0 || f.memoryLimitRatio > 1 {
		return nil, fmt.Errorf("--memory-limit-ratio must be between 0 (off) and 1, got %g", f.memoryLimitRatio)
	}
	m.WatchNamespaces = controllers.ParseNamespaces(watchNamespaces)
	return f, nil
}

func runManager(args []string) int {
	f, err := parseFlags(args, os.Stderr)
	if err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
	log := ctrl.Log.WithName("setup")
	ctx := ctrl.SetupSignalHandler()
	if limit, err := setMemoryLimit(ctx, f.memoryLimitRatio, memlimit.FromCgroup, time.Minute, ctrl.Log.WithName("memlimit")); err != nil {
		// Not fatal: outside a container there is no cgroup limit to read.
		log.Info("the Go memory limit is not set from the container's", "reason", err.Error(), "limitBytes", limit)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "no Kubernetes configuration")
		return 1
	}
	mgr, err := controllers.NewManager(cfg, f.manager)
	if err != nil {
		log.Error(err, "starting")
		return 1
	}
	if f.enableWebhooks {
		if err := webhookv1alpha1.SetupMappingRuleWebhook(mgr); err != nil {
			log.Error(err, "setting up webhooks")
			return 1
		}
		if err := webhookv1alpha1.SetupSyncTargetWebhook(mgr); err != nil {
			log.Error(err, "setting up webhooks")
			return 1
		}
		if err := webhookv1alpha1.SetupDirectorySourceWebhook(mgr); err != nil {
			log.Error(err, "setting up webhooks")
			return 1
		}
	}
	log.Info("starting manager", "leaderElection", f.manager.LeaderElect, "watchNamespaces", f.manager.WatchNamespaces,
		"secureMetrics", f.manager.SecureMetrics)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		return 1
	}
	return 0
}
