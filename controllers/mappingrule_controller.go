package controllers

import (
	"context"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
)

// MappingRuleReconciler compiles each MappingRule and reports the exact compile errors, and which
// SyncTargets use it.
type MappingRuleReconciler struct {
	client.Client
	Recorder events.EventRecorder
}

func (r *MappingRuleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var rule v1.MappingRule
	if err := r.Get(ctx, req.NamespacedName, &rule); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := rule.DeepCopy()
	st := &rule.Status
	gen := rule.Generation

	err := mapping.CompileRule(mapping.NamedRule{Name: rule.Name, Generation: gen, Spec: rule.Spec})
	if err != nil {
		msg := compileMessage(err)
		setCondition(&st.Conditions, gen, v1.ConditionValid, metav1.ConditionFalse, v1.ReasonInvalidExpression, msg)
		setCondition(&st.Conditions, gen, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonInvalidExpression, msg)
		if !sameCondition(before.Status.Conditions, st.Conditions, v1.ConditionValid) || before.Status.ObservedGeneration != gen {
			r.Recorder.Eventf(&rule, nil, corev1.EventTypeWarning, v1.ReasonInvalidExpression, "Compile", "%s", truncate(msg, 1000))
		}
	} else {
		setCondition(&st.Conditions, gen, v1.ConditionValid, metav1.ConditionTrue, v1.ReasonSucceeded, "all expressions compile")
		setCondition(&st.Conditions, gen, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSucceeded, "all expressions compile")
	}

	var targets v1.SyncTargetList
	if err := r.List(ctx, &targets, client.InNamespace(rule.Namespace), client.MatchingFields{indexTargetMappings: rule.Name}); err != nil {
		return ctrl.Result{}, err
	}
	st.UsedBy = nil
	for _, t := range targets.Items {
		st.UsedBy = append(st.UsedBy, t.Name)
	}
	sort.Strings(st.UsedBy)
	st.ObservedGeneration = gen
	if err := r.Status().Patch(ctx, &rule, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// compileMessage joins all compile errors into one readable message.
func compileMessage(err error) string {
	errs := mapping.CompileErrors(err)
	if len(errs) == 0 {
		return err.Error()
	}
	lines := make([]string, 0, len(errs))
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "; ")
}

// SetupWithManager registers the controller; SyncTarget changes update usedBy.
func (r *MappingRuleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.MappingRule{}).
		Watches(&v1.SyncTarget{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			var reqs []reconcile.Request
			for _, ref := range o.(*v1.SyncTarget).Spec.MappingRefs {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: ref.Name}})
			}
			return reqs
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("mappingrule").
		Complete(r)
}
