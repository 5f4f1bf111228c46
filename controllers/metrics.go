package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// Prometheus metrics, served on the manager's metrics endpoint.
var (
	syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "directorysync_sync_duration_seconds",
		Help:    "Duration of sync runs.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
	}, []string{"synctarget"})
	userActions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "directorysync_user_actions_total",
		Help: "Changes applied to targets, by action.",
	}, []string{"synctarget", "action"})
	syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "directorysync_sync_errors_total",
		Help: "Runs that did not complete, by stage (source, target, blocked, failed_actions).",
	}, []string{"synctarget", "stage"})
	managedUsers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "directorysync_managed_users",
		Help: "Users managed in the target after the last run.",
	}, []string{"synctarget"})
)

func init() {
	metrics.Registry.MustRegister(syncDuration, userActions, syncErrors, managedUsers)
}

func observeRun(target string, res *syncer.Result) {
	syncDuration.WithLabelValues(target).Observe(res.Duration.Seconds())
	switch {
	case res.SourceErr != nil:
		syncErrors.WithLabelValues(target, "source").Inc()
		return
	case res.TargetErr != nil:
		syncErrors.WithLabelValues(target, "target").Inc()
		return
	case res.Plan == nil:
		return
	case res.Plan.Blocked != nil:
		syncErrors.WithLabelValues(target, "blocked").Inc()
		return
	}
	if !res.Applied {
		return
	}
	c := res.Counts
	for action, n := range map[string]int{
		"create": c.Created, "update": c.Updated, "reactivate": c.Reactivated, "suspend": c.Suspended,
		"delete": c.Deleted, "anonymize": c.Anonymized, "group_change": c.GroupChanges, "failed": c.Failed,
	} {
		if n > 0 {
			userActions.WithLabelValues(target, action).Add(float64(n))
		}
	}
	if c.Failed > 0 {
		syncErrors.WithLabelValues(target, "failed_actions").Inc()
	}
	managedUsers.WithLabelValues(target).Set(float64(res.ManagedAfter()))
}

func forgetMetrics(target string) {
	syncDuration.DeleteLabelValues(target)
	managedUsers.DeleteLabelValues(target)
	userActions.DeletePartialMatch(prometheus.Labels{"synctarget": target})
	syncErrors.DeletePartialMatch(prometheus.Labels{"synctarget": target})
	forgetStatusMetrics(target)
}
