package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// Metrics of each SyncTarget's published status, for the alerts in config/prometheus.
var (
	targetCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "directorysync_synctarget_condition",
		Help: "The current status of each condition of a SyncTarget: one series of value 1 per condition type, labelled with its status and reason.",
	}, []string{"synctarget", "type", "status", "reason"})
	lastSuccessfulSync = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "directorysync_last_successful_sync_timestamp_seconds",
		Help: "When the SyncTarget last finished a run and was Ready; while it has never been, when it was created.",
	}, []string{"synctarget"})
	syncInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "directorysync_sync_interval_seconds",
		Help: "The SyncTarget's spec.interval.",
	}, []string{"synctarget"})
)

func init() {
	metrics.Registry.MustRegister(targetCondition, lastSuccessfulSync, syncInterval)
}

// conditionSeries remembers the label values exported per SyncTarget and condition type, so that a
// changed status or reason replaces its series without a scrape ever seeing the type missing.
var conditionSeries = struct {
	sync.Mutex
	byTarget map[string]map[string][2]string // target -> type -> {status, reason}
}{byTarget: map[string]map[string][2]string{}}

// observeStatus exports the status just written for a SyncTarget.
func observeStatus(target string, st *v1.SyncTarget, interval time.Duration) {
	conditionSeries.Lock()
	defer conditionSeries.Unlock()
	prev := conditionSeries.byTarget[target]
	next := make(map[string][2]string, len(st.Status.Conditions))
	for _, c := range st.Status.Conditions {
		next[c.Type] = [2]string{string(c.Status), c.Reason}
		targetCondition.WithLabelValues(target, c.Type, string(c.Status), c.Reason).Set(1)
	}
	for typ, old := range prev {
		if cur, ok := next[typ]; !ok || cur != old {
			targetCondition.DeleteLabelValues(target, typ, old[0], old[1])
		}
	}
	conditionSeries.byTarget[target] = next

	syncInterval.WithLabelValues(target).Set(interval.Seconds())
	lastSuccessfulSync.WithLabelValues(target).Set(float64(lastSuccess(st).Unix()))
}

// lastSuccess: the last run's time while Ready; when not Ready, the time it stopped being Ready
// (it was Ready until then, or has never been since it was created).
func lastSuccess(st *v1.SyncTarget) time.Time {
	ready := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady)
	switch {
	case ready != nil && ready.Status == metav1.ConditionTrue && st.Status.LastSyncTime != nil:
		return st.Status.LastSyncTime.Time
	case ready != nil && ready.Status != metav1.ConditionTrue:
		if ready.LastTransitionTime.After(st.CreationTimestamp.Time) {
			return ready.LastTransitionTime.Time
		}
	}
	return st.CreationTimestamp.Time
}

func forgetStatusMetrics(target string) {
	conditionSeries.Lock()
	defer conditionSeries.Unlock()
	delete(conditionSeries.byTarget, target)
	targetCondition.DeletePartialMatch(prometheus.Labels{"synctarget": target})
	lastSuccessfulSync.DeleteLabelValues(target)
	syncInterval.DeleteLabelValues(target)
}
