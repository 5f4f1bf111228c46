package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// pendingProvision returns the provision-now request not handled yet, or "".
func pendingProvision(st *v1.SyncTarget) string {
	req := strings.TrimSpace(st.Annotations[v1.AnnotationProvisionNow])
	if req == "" || st.Spec.Suspend || (st.Status.OnDemand != nil && st.Status.OnDemand.Request == req) {
		return ""
	}
	return req
}

// untilNextRun is how long until the next full run is due once a provision-now request was handled.
func (r *SyncTargetReconciler) untilNextRun(st *v1.SyncTarget) time.Duration {
	if st.Annotations[v1.AnnotationSyncRequested] != st.Status.LastHandledSyncRequest || st.Status.LastSyncTime == nil ||
		st.Status.ObservedGeneration != st.Generation {
		return time.Second
	}
	wait := st.Status.LastSyncTime.Add(st.Spec.GetInterval()).Sub(r.now())
	return max(wait, time.Second)
}

// provisionNow handles a provision-now request: it runs the pipeline for one person and records the
// trace in status.onDemand and an event. The person is read with a fresh (targeted) read.
func (r *SyncTargetReconciler) provisionNow(ctx context.Context, st *v1.SyncTarget, request string) {
	key := strings.Fields(request)[0]
	dry := st.Spec.DryRun || st.Annotations[v1.AnnotationProvisionDryRun] == "true"
	trace := &syncer.Trace{Key: key, DryRun: dry}
	fail := func(step, msg string) {
		trace.Steps = append(trace.Steps, syncer.TraceStep{Step: step, Outcome: syncer.OnDemandFailed, Detail: msg})
		trace.Outcome = syncer.OnDemandFailed
	}
	func() {
		if other, err := r.ownershipConflict(ctx, st); err != nil || other != nil {
			msg := fmt.Sprint(err)
			if other != nil {
				msg = ownershipConflictMessage(st, other)
			}
			fail("match", v1.ReasonOwnershipConflict+": "+msg)
			return
		}
		var ds v1.DirectorySource
		if err := r.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: st.Spec.SourceRef.Name}, &ds); err != nil {
			fail("read", fmt.Sprintf("DirectorySource %q: %v", st.Spec.SourceRef.Name, err))
			return
		}
		rules := make([]mapping.NamedRule, 0, len(st.Spec.MappingRefs))
		for _, ref := range st.Spec.MappingRefs {
			var mr v1.MappingRule
			if err := r.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: ref.Name}, &mr); err != nil {
				fail("map", fmt.Sprintf("MappingRule %q: %v", ref.Name, err))
				return
			}
			rules = append(rules, mapping.NamedRule{Name: mr.Namespace + "/" + mr.Name, UID: string(mr.UID), Generation: mr.Generation, Spec: mr.Spec})
		}
		mapper, err := r.Mappers.Get(rules)
		if err != nil {
			fail("map", "mapping rules do not compile: "+compileMessage(err))
			return
		}
		log := logf.FromContext(ctx)
		resolver := namespacedResolver{r.APIReader, st.Namespace}
		src, err := connect.Source(ctx, ds.Spec, resolver, log)
		if err != nil {
			_, msg := sourceErrorReason(err)
			fail("read", "directory source: "+msg)
			return
		}
		targetType, err := connect.TargetTypeOf(&st.Spec)
		if err != nil {
			fail("match", err.Error())
			return
		}
		target, release, err := targetType.Build(ctx, &st.Spec, resolver, log)
		if err != nil {
			fail("match", err.Error())
			return
		}
		defer release()
		runCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		trace = syncer.ProvisionOne(runCtx, syncer.Options{
			Source: src, Mapper: mapper, Target: target,
			Policy: policyFor(st, mapper.ManagedFields(), ""),
			State:  stateFromStatus(st.Status.Suspended),
			DryRun: dry, Concurrency: 1, Now: r.now,
		}, key)
	}()
	st.Status.OnDemand = onDemandStatus(request, trace, r.now())
	summary := fmt.Sprintf("provision-now %s: %s", key, trace.Outcome)
	if n := len(trace.Steps); n > 0 {
		last := trace.Steps[n-1]
		summary += fmt.Sprintf(" (%s: %s)", last.Step, last.Detail)
	}
	kind := corev1.EventTypeNormal
	if trace.Outcome == syncer.OnDemandFailed || trace.Outcome == syncer.OnDemandBlocked {
		kind = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(st, nil, kind, "ProvisionedOnDemand", "ProvisionNow", "%s", truncate(summary, 1000))
}

func onDemandStatus(request string, tr *syncer.Trace, now time.Time) *v1.OnDemandTrace {
	out := &v1.OnDemandTrace{Request: request, Time: metav1.NewTime(now), DryRun: tr.DryRun, Outcome: tr.Outcome}
	for i, s := range tr.Steps {
		if i == 40 {
			break
		}
		out.Steps = append(out.Steps, v1.OnDemandStep{Step: s.Step, Outcome: s.Outcome, Detail: truncate(s.Detail, 512)})
	}
	for i, f := range tr.Fields {
		if i == 40 {
			break
		}
		out.Fields = append(out.Fields, v1.TracedField{Field: f.Field, Value: truncate(f.Value, 256), Origin: f.Origin})
	}
	return out
}
