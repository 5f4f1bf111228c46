package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target"
)

// The outcomes of every path a reconcile can take.
var outcomePaths = map[string]runOutcome{
	"suspended":          {suspended: true},
	"source missing":     {notStarted: &stop{v1.ReasonSourceNotReady, `DirectorySource "corp": not found`, true}},
	"mapping not ready":  {notStarted: &stop{v1.ReasonMappingNotReady, "mapping rules do not compile: rule x", true}},
	"secret missing":     {notStarted: &stop{v1.ReasonSecretNotFound, `SCIM target: Secret "tok" not found (key "token")`, true}},
	"key missing":        {notStarted: &stop{v1.ReasonKeyNotFound, `SCIM target: Secret "tok" has no key "token"`, true}},
	"ownership conflict": {notStarted: &stop{"OwnershipConflict", `SyncTarget "other" manages prefix "dirsync:"`, true}},
	"source unreachable": {sourceErr: &stop{v1.ReasonUnreachable, "dial tcp 127.0.0.1:1: connection refused", false}},
	"source auth failed": {sourceErr: &stop{v1.ReasonAuthFailed, "invalid credentials", true}},
	"target unreachable": {entries: 38, targetErr: &stop{v1.ReasonTargetUnreachable, "GET /Users: 503", false}},
	"target auth failed": {entries: 38, targetErr: &stop{v1.ReasonTargetAuthFailed, "GET /Users: 401", true}},
	"interrupted early":  {entries: 38, interrupted: "context deadline exceeded"},
	"safety stop": {entries: 38, planned: true, actions: 37, managed: 38,
		blocked: &stop{v1.ReasonDeletionThresholdExceeded, "run would offboard 37 of 38 managed users, limit 4 (maxDeletionPercent 10% of 38 = 4)", true}},
	"dry run":      {entries: 38, planned: true, dryRun: true, actions: 5, managed: 38},
	"dry run held": {entries: 0, planned: true, dryRun: true, held: &stop{v1.ReasonSuspiciouslyEmptySource, "nobody was offboarded: the source yielded no users", false}},
	"interrupted":  {entries: 38, planned: true, actions: 9, interrupted: "context deadline exceeded", summary: "created 3"},
	"partial failure": {entries: 38, planned: true, actions: 9, failed: 2, summary: "created 7, failed 2", managed: 40,
		held: &stop{v1.ReasonSourceIncomplete, "nobody was offboarded: the read was incomplete", false}},
	"success":                   {entries: 38, planned: true, actions: 3, summary: "created 3", managed: 38},
	"success unknown attribute": {entries: 38, planned: true, summary: "created 0", managed: 38, unknownAttributes: "the target does not know the attribute nickName"},
	"success held":              {entries: 2, planned: true, summary: "created 0", managed: 38, held: &stop{v1.ReasonSuspiciouslyEmptySource, "nobody was offboarded: the source yielded 2 users while 38 are managed", false}},
}

type want struct {
	status metav1.ConditionStatus
	reason string
}

const (
	T = metav1.ConditionTrue
	F = metav1.ConditionFalse
	U = metav1.ConditionUnknown
)

// checkCondition runs one condition type over every path; wants must name every path.
func checkCondition(t *testing.T, typ string, wants map[string]want) {
	t.Helper()
	for name, o := range outcomePaths {
		w, ok := wants[name]
		if !ok {
			t.Errorf("%s: no expectation for path %q", typ, name)
			continue
		}
		got := syncTargetConditions(o)[typ]
		if got.status != w.status || got.reason != w.reason {
			t.Errorf("%s on path %q = %s/%s (%q), want %s/%s", typ, name, got.status, got.reason, got.message, w.status, w.reason)
		}
		if got.message == "" {
			t.Errorf("%s on path %q has no message", typ, name)
		}
	}
}

func TestConditionReady(t *testing.T) {
	checkCondition(t, v1.ConditionReady, map[string]want{
		"success unknown attribute": {T, reasonDegraded},
		"suspended":                 {F, v1.ReasonSuspended},
		"source missing":            {F, v1.ReasonSourceNotReady},
		"mapping not ready":         {F, v1.ReasonMappingNotReady},
		"secret missing":            {F, v1.ReasonSecretNotFound},
		"key missing":               {F, v1.ReasonKeyNotFound},
		"ownership conflict":        {F, "OwnershipConflict"},
		"source unreachable":        {F, v1.ReasonUnreachable},
		"source auth failed":        {F, v1.ReasonAuthFailed},
		"target unreachable":        {F, v1.ReasonTargetUnreachable},
		"target auth failed":        {F, v1.ReasonTargetAuthFailed},
		"interrupted early":         {F, v1.ReasonReconciling},
		"safety stop":               {F, v1.ReasonDeletionThresholdExceeded},
		"dry run":                   {T, v1.ReasonDryRun},
		"dry run held":              {T, reasonDegraded}, // the STATUS column shows the degradation
		"interrupted":               {F, v1.ReasonReconciling},
		"partial failure":           {F, v1.ReasonPartialFailure},
		"success":                   {T, v1.ReasonSucceeded},
		"success held":              {T, reasonDegraded},
	})
}

func TestConditionSynced(t *testing.T) {
	checkCondition(t, v1.ConditionSynced, map[string]want{
		"success unknown attribute": {T, v1.ReasonSucceeded},
		"suspended":                 {F, v1.ReasonSuspended},
		"source missing":            {F, v1.ReasonSourceNotReady},
		"mapping not ready":         {F, v1.ReasonMappingNotReady},
		"secret missing":            {F, v1.ReasonSecretNotFound},
		"key missing":               {F, v1.ReasonKeyNotFound},
		"ownership conflict":        {F, "OwnershipConflict"},
		"source unreachable":        {F, v1.ReasonUnreachable},
		"source auth failed":        {F, v1.ReasonAuthFailed},
		"target unreachable":        {F, v1.ReasonTargetUnreachable},
		"target auth failed":        {F, v1.ReasonTargetAuthFailed},
		"interrupted early":         {F, v1.ReasonReconciling},
		"safety stop":               {F, v1.ReasonDeletionThresholdExceeded},
		"dry run":                   {F, v1.ReasonDryRun},
		"dry run held":              {F, v1.ReasonDryRun},
		"interrupted":               {F, v1.ReasonReconciling},
		"partial failure":           {F, v1.ReasonPartialFailure},
		"success":                   {T, v1.ReasonSucceeded},
		"success held":              {T, v1.ReasonSucceeded},
	})
}

func TestConditionStalled(t *testing.T) {
	checkCondition(t, v1.ConditionStalled, map[string]want{
		"success unknown attribute": {F, v1.ReasonSucceeded},
		"suspended":                 {F, v1.ReasonSuspended},
		"source missing":            {T, v1.ReasonSourceNotReady},
		"mapping not ready":         {T, v1.ReasonMappingNotReady},
		"secret missing":            {T, v1.ReasonSecretNotFound},
		"key missing":               {T, v1.ReasonKeyNotFound},
		"ownership conflict":        {T, "OwnershipConflict"},
		"source unreachable":        {F, v1.ReasonUnreachable},
		"source auth failed":        {T, v1.ReasonAuthFailed},
		"target unreachable":        {F, v1.ReasonTargetUnreachable},
		"target auth failed":        {T, v1.ReasonTargetAuthFailed},
		"interrupted early":         {F, v1.ReasonReconciling},
		"safety stop":               {T, v1.ReasonDeletionThresholdExceeded},
		"dry run":                   {F, v1.ReasonDryRun},
		"dry run held":              {F, v1.ReasonDryRun},
		"interrupted":               {F, v1.ReasonReconciling},
		"partial failure":           {F, v1.ReasonPartialFailure},
		"success":                   {F, v1.ReasonSucceeded},
		"success held":              {F, v1.ReasonSucceeded},
	})
}

func TestConditionDegraded(t *testing.T) {
	checkCondition(t, v1.ConditionDegraded, map[string]want{
		"success unknown attribute": {T, v1.ReasonUnknownAttribute},
		"suspended":                 {F, v1.ReasonSuspended},
		"source missing":            {F, v1.ReasonSourceNotReady},
		"mapping not ready":         {F, v1.ReasonMappingNotReady},
		"secret missing":            {F, v1.ReasonSecretNotFound},
		"key missing":               {F, v1.ReasonKeyNotFound},
		"ownership conflict":        {F, "OwnershipConflict"},
		"source unreachable":        {F, v1.ReasonUnreachable},
		"source auth failed":        {F, v1.ReasonAuthFailed},
		"target unreachable":        {F, v1.ReasonTargetUnreachable},
		"target auth failed":        {F, v1.ReasonTargetAuthFailed},
		"interrupted early":         {F, v1.ReasonReconciling},
		"safety stop":               {F, v1.ReasonDeletionThresholdExceeded},
		"dry run":                   {F, v1.ReasonDryRun},
		"dry run held":              {T, v1.ReasonSuspiciouslyEmptySource},
		"interrupted":               {T, v1.ReasonReconciling},
		"partial failure":           {T, v1.ReasonPartialFailure},
		"success":                   {F, v1.ReasonSucceeded},
		"success held":              {T, v1.ReasonSuspiciouslyEmptySource},
	})
}

func TestConditionSourceReachable(t *testing.T) {
	read := want{T, v1.ReasonSucceeded}
	checkCondition(t, v1.ConditionSourceReachable, map[string]want{
		"suspended":          {U, v1.ReasonSuspended},
		"source missing":     {U, reasonNotRead},
		"mapping not ready":  {U, reasonNotRead},
		"secret missing":     {U, reasonNotRead},
		"key missing":        {U, reasonNotRead},
		"ownership conflict": {U, reasonNotRead},
		"source unreachable": {F, v1.ReasonUnreachable},
		"source auth failed": {F, v1.ReasonAuthFailed},
		"target unreachable": read, "target auth failed": read, "interrupted early": read, "safety stop": read,
		"dry run": read, "dry run held": read, "interrupted": read, "partial failure": read, "success": read,
		"success held": read, "success unknown attribute": read,
	})
}

// TestConditionErrorsAppearOnce: the message of a stop is told by one condition; the others point there.
func TestConditionErrorsAppearOnce(t *testing.T) {
	for name, o := range outcomePaths {
		for _, s := range []*stop{o.notStarted, o.sourceErr, o.targetErr, o.blocked} {
			if s == nil {
				continue
			}
			n := 0
			for _, c := range syncTargetConditions(o) {
				if strings.Contains(c.message, s.message) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("path %q: %q appears in %d conditions, want 1", name, s.message, n)
			}
		}
	}
}

// TestConditionsNeverStale walks from every path to every other: whatever the earlier run left, each
// condition afterwards is the one the new outcome gives, for the new generation.
func TestConditionsNeverStale(t *testing.T) {
	for fromName, from := range outcomePaths {
		for toName, to := range outcomePaths {
			var conds []metav1.Condition
			setSyncTargetConditions(&conds, 1, from)
			setSyncTargetConditions(&conds, 2, to)
			if len(conds) != 5 {
				t.Fatalf("%d conditions, want 5", len(conds))
			}
			for typ, w := range syncTargetConditions(to) {
				c := meta.FindStatusCondition(conds, typ)
				if c.Status != w.status || c.Reason != w.reason || c.ObservedGeneration != 2 {
					t.Errorf("%q then %q: %s = %s/%s gen %d, want %s/%s gen 2", fromName, toName, typ, c.Status, c.Reason, c.ObservedGeneration, w.status, w.reason)
				}
			}
		}
	}
}

func TestConditionMessagesAreOneLine(t *testing.T) {
	var conds []metav1.Condition
	setSyncTargetConditions(&conds, 1, runOutcome{entries: 1, targetErr: &stop{v1.ReasonTargetUnreachable, "Get \"https://app\":\n  dial tcp: refused", false}})
	for _, c := range conds {
		if strings.ContainsAny(c.Message, "\r\n") {
			t.Errorf("%s message has a line break: %q", c.Type, c.Message)
		}
	}
}

func TestEventsAreOneLine(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &SyncTargetReconciler{Recorder: rec}
	r.recordEvents(&v1.SyncTarget{}, runOutcome{entries: 1, targetErr: &stop{v1.ReasonTargetUnreachable, "Get \"https://app\":\n  dial tcp: refused", false}})
	select {
	case e := <-rec.Events:
		if strings.ContainsAny(e, "\r\n") || !strings.Contains(e, v1.ReasonTargetUnreachable) {
			t.Fatalf("event %q: want one line with reason %s", e, v1.ReasonTargetUnreachable)
		}
	default:
		t.Fatal("no event recorded")
	}
}

func TestRefErrorReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&connect.RefError{Kind: "Secret", Name: "tok", Key: "token", Err: connect.ErrObjectNotFound}, v1.ReasonSecretNotFound},
		{&connect.RefError{Kind: "Secret", Name: "tok", Key: "token", Err: connect.ErrKeyNotFound}, v1.ReasonKeyNotFound},
		{&connect.RefError{Kind: "ConfigMap", Name: "ca", Key: "ca.crt", Err: connect.ErrObjectNotFound}, v1.ReasonConfigMapNotFound},
		{fmt.Errorf("SCIM target: %w", &connect.RefError{Kind: "ConfigMap", Name: "ca", Key: "ca.crt", Err: connect.ErrKeyNotFound}), v1.ReasonKeyNotFound},
	} {
		if got := refErrorReason(tc.err); got != tc.want {
			t.Errorf("refErrorReason(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestPublishTargetAuthFailure(t *testing.T) {
	r := &SyncTargetReconciler{}
	for status, want := range map[int]string{401: v1.ReasonTargetAuthFailed, 403: v1.ReasonTargetAuthFailed, 0: v1.ReasonTargetUnreachable} {
		var err error = &target.AuthError{Status: status, Err: errors.New("GET /Users: refused")}
		if status == 0 {
			err = errors.New("GET /Users: connection refused")
		}
		o := r.publish(&v1.SyncTarget{}, &syncer.Result{Snapshot: &model.Snapshot{}, TargetErr: err}, err)
		if o.targetErr == nil || o.targetErr.reason != want {
			t.Errorf("HTTP %d: outcome %+v, want reason %s", status, o.targetErr, want)
		}
	}
}

// TestPublishBlockedRunReportsNothingApplied: lastRun counts what was applied, so a run stopped by a
// safety limit shows zero suspensions next to "nothing was changed"; the plan has the 37.
func TestPublishBlockedRunReportsNothingApplied(t *testing.T) {
	r := &SyncTargetReconciler{}
	st := &v1.SyncTarget{}
	p := &plan.Plan{
		Summary: plan.Summary{Managed: 38, Suspensions: 37, Offboardings: 37},
		Blocked: &plan.Block{Reason: plan.ReasonDeletionThresholdExceeded, Message: "run would offboard 37 of 38 managed users"},
	}
	o := r.publish(st, &syncer.Result{Snapshot: &model.Snapshot{}, Plan: p}, nil)
	if st.Status.LastRun != (v1.RunCounts{}) {
		t.Errorf("lastRun %+v after a blocked run, want nothing applied", st.Status.LastRun)
	}
	if st.Status.Plan == nil || st.Status.Plan.Counts.Suspended != 37 {
		t.Errorf("status.plan %+v, want the 37 planned suspensions", st.Status.Plan)
	}
	if o.blocked == nil || !strings.Contains(syncTargetConditions(o)[v1.ConditionReady].message, "nothing was changed") {
		t.Errorf("outcome %+v: Ready should say nothing was changed", o)
	}
}

// TestSyncWithoutTargetTypeStalls: a SyncTarget stored without the CRD's exactly-one rule (an API
// server that does not run it) and no spec.scim stalls (InvalidConfig; Ready names the member); it
// neither panics nor reads anything (the reconciler here has no client at all).
func TestSyncWithoutTargetTypeStalls(t *testing.T) {
	r := &SyncTargetReconciler{}
	st := &v1.SyncTarget{Spec: v1.SyncTargetSpec{SourceRef: v1.LocalObjectReference{Name: "corp"}}}
	st.Generation = 3
	res, err := r.sync(t.Context(), st)
	if err == nil {
		t.Fatal("sync without a target type succeeded")
	}
	setSyncTargetConditions(&st.Status.Conditions, st.Generation, res.outcome)
	stalled := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionStalled)
	if stalled == nil || stalled.Status != T || stalled.Reason != v1.ReasonInvalidConfig || stalled.ObservedGeneration != 3 {
		t.Errorf("Stalled = %+v, want True/%s", stalled, v1.ReasonInvalidConfig)
	}
	ready := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady)
	if ready == nil || ready.Status != F || ready.Reason != v1.ReasonInvalidConfig || !strings.Contains(ready.Message, "sets no target type") ||
		!strings.Contains(ready.Message, "spec.scim") {
		t.Errorf("Ready = %+v, want False/%s naming spec.scim", ready, v1.ReasonInvalidConfig)
	}
}
