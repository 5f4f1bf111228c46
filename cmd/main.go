// Command manager runs the directory-sync operator. The cluster-less demo is its own command, cmd/demo,
// so that this binary links no test harness (deps_test.go checks it).
package main

import (
	"flag"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	webhookv1alpha1 "github.com/directory-sync/directory-sync-operator/internal/webhook/v1alpha1"
)

func main() {
	os.Exit(runManager())
}

func runManager() int {
	var metricsAddr, probeAddr string
	var leaderElect, enableWebhooks bool
	var maxConcurrentSyncs int
	var maxRunDuration time.Duration
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the health and readiness probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica syncs.")
	flag.BoolVar(&enableWebhooks, "enable-webhooks", false,
		"Serve the MappingRule validating webhook on :9443 (certificates in /tmp/k8s-webhook-server/serving-certs; see config/with-webhook).")
	flag.IntVar(&maxConcurrentSyncs, "max-concurrent-syncs", 4, "How many SyncTargets (and DirectorySource probes) may run at once.")
	flag.DurationVar(&maxRunDuration, "max-run-duration", 30*time.Minute,
		"Cap of one sync run's deadline; a run's deadline is its SyncTarget's interval, at least 2m, at most this.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		log.Error(err, "scheme")
		return 1
	}
	if err := v1.AddToScheme(scheme); err != nil {
		log.Error(err, "scheme")
		return 1
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "no Kubernetes configuration")
		return 1
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "directory-sync-operator.sync.directorysync.io",
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "creating manager")
		return 1
	}
	if err := controllers.SetupAll(mgr, controllers.Options{MaxConcurrentSyncs: maxConcurrentSyncs, RunTimeout: maxRunDuration}); err != nil {
		log.Error(err, "setting up controllers")
		return 1
	}
	if enableWebhooks {
		if err := webhookv1alpha1.SetupMappingRuleWebhook(mgr); err != nil {
			log.Error(err, "setting up webhooks")
			return 1
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "health check")
		return 1
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "ready check")
		return 1
	}
	log.Info("starting manager", "leaderElection", leaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		return 1
	}
	return 0
}
