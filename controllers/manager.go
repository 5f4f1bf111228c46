package controllers

import (
	"crypto/tls"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// ManagerConfig is what the manager command's flags select; cmd and the install tests build the
// manager through NewManager so that both run the same cache, metrics and RBAC-relevant settings.
type ManagerConfig struct {
	// WatchNamespaces limits every watch and cache to these namespaces (namespaced Roles suffice);
	// empty watches the whole cluster (a ClusterRole is needed).
	WatchNamespaces []string
	// MetricsAddr is the metrics listen address; "0" disables metrics.
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS and lets only callers authorized for GET /metrics
	// (TokenReview + SubjectAccessReview against the API server) read them.
	SecureMetrics bool
	// MetricsCertDir holds tls.crt/tls.key for the metrics endpoint; empty uses a self-signed pair.
	MetricsCertDir string
	ProbeAddr      string
	LeaderElect    bool
	// LeaderElectionNamespace holds the Lease; required out of cluster (in cluster it defaults to
	// the pod's namespace).
	LeaderElectionNamespace string
	Options                 Options
	// SkipNameValidation lets tests start several managers in one process (controller names are
	// otherwise unique per process).
	SkipNameValidation bool
}

// LeaderElectionID names the Lease the replicas compete for.
const LeaderElectionID = "directory-sync-operator.sync.directorysync.io"

// ParseNamespaces splits a comma-separated --watch-namespaces value, dropping blanks and duplicates.
func ParseNamespaces(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, ns := range strings.Split(s, ",") {
		ns = strings.TrimSpace(ns)
		if ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

// NewScheme returns the scheme of the manager: built-in kinds and the operator's three kinds.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// CacheOptions restricts the cache to the watched namespaces and keeps no more of Secrets and
// ConfigMaps than their names and labels: the operator only maps their events to SyncTargets and
// reads their data uncached when a run needs it. Dropping annotations matters because kubectl's
// last-applied-configuration annotation holds a Secret's data.
func CacheOptions(watchNamespaces []string) cache.Options {
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:    {Transform: stripAnnotationsAndManagedFields},
			&corev1.ConfigMap{}: {Transform: stripAnnotationsAndManagedFields},
		},
	}
	if len(watchNamespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(watchNamespaces))
		for _, ns := range watchNamespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// stripAnnotationsAndManagedFields applies to typed objects and to metadata-only ones alike.
func stripAnnotationsAndManagedFields(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // not an object (e.g. a tombstone): nothing to strip
	}
	obj.SetAnnotations(nil)
	obj.SetManagedFields(nil)
	return in, nil
}

// NewManager builds the manager with the three controllers, health checks and metrics.
func NewManager(cfg *rest.Config, mc ManagerConfig) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	metrics := metricsserver.Options{BindAddress: mc.MetricsAddr}
	if mc.SecureMetrics {
		metrics.SecureServing = true
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
		metrics.CertDir = mc.MetricsCertDir
		// HTTP/2 stays off on the metrics endpoint (CVE-2023-44487, CVE-2023-39325).
		metrics.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         CacheOptions(mc.WatchNamespaces),
		Metrics:                       metrics,
		HealthProbeBindAddress:        mc.ProbeAddr,
		LeaderElection:                mc.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       mc.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: &mc.SkipNameValidation},
	})
	if err != nil {
		if mc.LeaderElect && mc.LeaderElectionNamespace == "" {
			return nil, fmt.Errorf("creating manager (out of cluster, --leader-elect needs --leader-election-namespace): %w", err)
		}
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := SetupAll(mgr, mc.Options); err != nil {
		return nil, fmt.Errorf("setting up controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}
