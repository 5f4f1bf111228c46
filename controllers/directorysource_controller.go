package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// DirectorySourceReconciler reads each DirectorySource every probeInterval and reports whether it is
// reachable and how many people it holds.
type DirectorySourceReconciler struct {
	client.Client
	// APIReader reads Secrets and ConfigMaps without caching them.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// ReadTimeout bounds one read (default 5m).
	ReadTimeout time.Duration
	// MaxConcurrent is how many DirectorySources may be read at once (default 4), so that one
	// source that hangs until ReadTimeout does not hold up the others' probes.
	MaxConcurrent int
}

func (r *DirectorySourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	var ds v1.DirectorySource
	if err := r.Get(ctx, req.NamespacedName, &ds); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	interval := ds.Spec.GetProbeInterval()
	timeout := r.ReadTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	readCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	before := ds.DeepCopy()
	st := &ds.Status
	gen := ds.Generation
	src, err := connect.Source(readCtx, ds.Spec, namespacedResolver{r.APIReader, ds.Namespace}, log)
	if err == nil {
		var snap *readResult
		snap, err = readSource(readCtx, src)
		if err == nil {
			st.EntriesRead, st.DisabledEntries, st.InvalidEntries = snap.entries, snap.disabled, int32(len(snap.problems))
			st.Problems = snap.problems
			now := metav1.Now()
			st.LastReadTime = &now
		}
	}
	if err != nil {
		reason, msg := sourceErrorReason(err)
		setCondition(&st.Conditions, gen, v1.ConditionSourceReachable, metav1.ConditionFalse, reason, msg)
		setCondition(&st.Conditions, gen, v1.ConditionReady, metav1.ConditionFalse, reason, msg)
		if !sameCondition(before.Status.Conditions, st.Conditions, v1.ConditionSourceReachable) {
			r.Recorder.Eventf(&ds, nil, corev1.EventTypeWarning, reason, "Read", "%s", msg)
		}
		log.Info("directory source not readable", "reason", reason, "error", msg)
	} else {
		msg := fmt.Sprintf("read %d entries", st.EntriesRead)
		setCondition(&st.Conditions, gen, v1.ConditionSourceReachable, metav1.ConditionTrue, v1.ReasonSucceeded, msg)
		setCondition(&st.Conditions, gen, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSucceeded, msg)
	}
	st.ObservedGeneration = gen
	if err := r.Status().Patch(ctx, &ds, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: interval}, nil
}

type readResult struct {
	entries, disabled int32
	problems          []v1.UserProblem
}

func readSource(ctx context.Context, src directory.Source) (*readResult, error) {
	snap, err := src.Read(ctx)
	if err != nil {
		return nil, err
	}
	res := &readResult{entries: int32(len(snap.Records)), problems: problemsForStatus(snap.Problems, 50)}
	for _, rec := range snap.Records {
		if rec.Disabled {
			res.disabled++
		}
	}
	return res, nil
}

// sourceErrorReason maps a read or setup error to a condition reason and message.
func sourceErrorReason(err error) (string, string) {
	if connect.IsRefError(err) {
		return refErrorReason(err), err.Error()
	}
	var de *directory.Error
	if errors.As(err, &de) {
		switch de.Kind {
		case directory.KindUnreachable:
			return v1.ReasonUnreachable, err.Error()
		case directory.KindAuthFailed:
			return v1.ReasonAuthFailed, err.Error()
		case directory.KindTransportSecurityRequired:
			return v1.ReasonTransportSecurityRequired, err.Error()
		case directory.KindTLSFailed:
			return v1.ReasonTLSFailed, err.Error()
		case directory.KindIncomplete:
			return v1.ReasonSourceIncomplete, err.Error()
		case directory.KindInvalidFilter:
			return v1.ReasonInvalidFilter, err.Error()
		case directory.KindNotFound:
			return v1.ReasonNotFound, err.Error()
		case directory.KindMalformed, directory.KindTooLarge:
			return v1.ReasonMalformed, err.Error()
		case directory.KindInvalidConfig:
			return v1.ReasonInvalidConfig, err.Error()
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return v1.ReasonUnreachable, "timed out: " + err.Error()
	}
	return v1.ReasonUnreachable, err.Error()
}

// SetupWithManager registers the controller and its indexes.
func (r *DirectorySourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	ctx := context.Background()
	if err := idx.IndexField(ctx, &v1.DirectorySource{}, indexSourceSecrets, func(o client.Object) []string {
		return connect.SourceRefs(&o.(*v1.DirectorySource).Spec).Secrets
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.DirectorySource{}, indexSourceConfigMaps, func(o client.Object) []string {
		return connect.SourceRefs(&o.(*v1.DirectorySource).Spec).ConfigMaps
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.DirectorySource{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.byIndex(indexSourceSecrets))).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.byIndex(indexSourceConfigMaps))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrent, 1)}).
		Named("directorysource").
		Complete(r)
}

func (r *DirectorySourceReconciler) byIndex(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1.DirectorySourceList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, ds := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ds)})
		}
		return reqs
	}
}
