package controllers

import (
	"cmp"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/directory-sync/directory-sync-operator/internal/mapping"
)

// Options tune the reconcilers; zero values select production defaults.
type Options struct {
	// Now is the clock of sync runs (tests move it forward to pass a grace period).
	Now func() time.Time
	// RunTimeout caps the deadline of one sync run, which is otherwise the SyncTarget's interval
	// (at least 2m); default 30m.
	RunTimeout time.Duration
	// MaxConcurrentSyncs is how many SyncTargets may sync at once (default 4); one target's runs
	// never overlap.
	MaxConcurrentSyncs int
}

// SetupAll registers the three controllers with the manager.
func SetupAll(mgr ctrl.Manager, opts Options) error {
	reader := mgr.GetAPIReader()
	if err := (&DirectorySourceReconciler{
		Client: mgr.GetClient(), APIReader: reader, Recorder: mgr.GetEventRecorder("directorysource-controller"),
		MaxConcurrent: cmp.Or(opts.MaxConcurrentSyncs, 4),
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&SyncTargetReconciler{
		Client: mgr.GetClient(), APIReader: reader, Recorder: mgr.GetEventRecorder("synctarget-controller"),
		Mappers: &mapping.Cache{}, Now: opts.Now, RunTimeout: opts.RunTimeout, MaxConcurrent: opts.MaxConcurrentSyncs,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&MappingRuleReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("mappingrule-controller"),
	}).SetupWithManager(mgr)
}
