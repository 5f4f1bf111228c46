package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/report"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=create;delete

// Labels and annotations of the report ConfigMaps; README "Run reports" and cmd/kubectl-dirsync use them.
const (
	LabelReportTarget    = "sync.directorysync.io/synctarget-uid"
	LabelReportRun       = "sync.directorysync.io/report-run"
	LabelReportPart      = "sync.directorysync.io/report-part"
	AnnotationReportMode = "sync.directorysync.io/report-mode" // applied, dry-run or blocked
	AnnotationReportSum  = "sync.directorysync.io/report-digest"
	AnnotationReportPart = "sync.directorysync.io/report-parts"
	// ReportKey holds the CSV chunk; SummaryKey (part 0 only) the run's counts as JSON.
	ReportKey  = "report.csv"
	SummaryKey = "summary.json"
)

// reportChunkBytes keeps each ConfigMap well below the API server's 1 MiB object limit.
const reportChunkBytes = 900 * 1024

// ReportSummary is the summary.json of a report.
type ReportSummary struct {
	SyncTarget string       `json:"syncTarget"`
	Time       metav1.Time  `json:"time"`
	Mode       string       `json:"mode"`
	Counts     v1.RunCounts `json:"counts"`
	Blocked    string       `json:"blocked,omitempty"`
	Held       string       `json:"offboardingHeld,omitempty"`
	Rows       int          `json:"rows"`
	Parts      int          `json:"parts"`
}

// WriteRunReport stores the complete report of a run that produced a plan in ConfigMaps owned by the
// SyncTarget (one per chunk), keeps the newest retain reports and returns the name of the first
// part. A plan that was not applied and is the same as the newest report's is not stored again, so a
// repeated dry run or safety stop does not push older reports out.
func WriteRunReport(ctx context.Context, c client.Client, reader client.Reader, st *v1.SyncTarget, res *syncer.Result, now time.Time, retain int) (string, error) {
	if res == nil || res.Plan == nil || retain <= 0 {
		return "", nil
	}
	rows := report.Build(res)
	chunks, digest := report.Chunks(rows, reportChunkBytes)
	mode := "applied"
	switch {
	case res.Plan.Blocked != nil:
		mode = "blocked"
	case !res.Applied:
		mode = "dry-run"
	}
	existing, err := listReports(ctx, reader, st)
	if err != nil {
		return "", err
	}
	if (mode != "applied" || len(res.Plan.Actions) == 0) && len(existing) > 0 {
		newest := existing[len(existing)-1]
		if newest.parts[0].Annotations[AnnotationReportSum] == digest && newest.parts[0].Annotations[AnnotationReportMode] == mode {
			return newest.parts[0].Name, nil
		}
	}
	run := strconv.FormatInt(now.UnixMilli(), 10)
	sum := ReportSummary{SyncTarget: st.Name, Time: metav1.NewTime(now), Mode: mode, Rows: len(rows), Parts: len(chunks)}
	if res.Applied {
		sum.Counts = st.Status.LastRun
	} else {
		sum.Counts = plannedCounts(res.Plan, int32(len(res.Skipped)))
	}
	if b := res.Plan.Blocked; b != nil {
		sum.Blocked = b.Reason + ": " + b.Message
	}
	if h := res.Plan.OffboardingHeld; h != nil {
		sum.Held = h.Reason + ": " + h.Message
	}
	summary, _ := json.MarshalIndent(sum, "", "  ")
	owner := metav1.NewControllerRef(st, v1.GroupVersion.WithKind("SyncTarget"))
	var first string
	for i, chunk := range chunks {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("%s-report-%s-%d", truncate(st.Name, 200), run, i),
				Namespace: st.Namespace,
				Labels: map[string]string{
					LabelReportTarget: string(st.UID), LabelReportRun: run, LabelReportPart: strconv.Itoa(i),
				},
				Annotations: map[string]string{
					AnnotationReportMode: mode, AnnotationReportSum: digest, AnnotationReportPart: strconv.Itoa(len(chunks)),
				},
				OwnerReferences: []metav1.OwnerReference{*owner},
			},
			Data: map[string]string{ReportKey: chunk},
		}
		if i == 0 {
			cm.Data[SummaryKey] = string(summary)
			first = cm.Name
		}
		if err := c.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("writing report part %d: %w", i, err)
		}
	}
	// Retention: the new report counts.
	for i := 0; i < len(existing)+1-retain && i < len(existing); i++ {
		for _, cm := range existing[i].parts {
			if err := c.Delete(ctx, &cm); err != nil && !apierrors.IsNotFound(err) {
				return first, fmt.Errorf("deleting old report %s: %w", cm.Name, err)
			}
		}
	}
	return first, nil
}

// storeReport writes the run's report and names it in status.lastReport; a failure to write it is
// logged and reported in an event, never a reason to fail the run.
func (r *SyncTargetReconciler) storeReport(ctx context.Context, st *v1.SyncTarget, res *syncer.Result) {
	retain := 10
	if v := st.Spec.Reports.Retain; v != nil {
		retain = int(*v)
	}
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	name, err := WriteRunReport(ctx, r.Client, reader, st, res, r.now(), retain)
	if err != nil {
		logf.FromContext(ctx).Info("could not store the run report", "error", err.Error())
		r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, "ReportFailed", "Report", "%s", truncate(err.Error(), 500))
		return
	}
	if name != "" {
		st.Status.LastReport = name
	}
}

type storedReport struct {
	run   int64
	parts []corev1.ConfigMap // by part number
}

// StoredReport is one run's report as read back from its ConfigMaps.
type StoredReport struct {
	Run     string
	Summary ReportSummary
	Rows    []report.Row
	// Names of the ConfigMaps, by part.
	Names []string
}

// ReadReports returns the SyncTarget's stored reports, oldest first; with rows false only their
// summaries. It is what cmd/kubectl-dirsync shows.
func ReadReports(ctx context.Context, reader client.Reader, st *v1.SyncTarget, rows bool) ([]StoredReport, error) {
	stored, err := listReports(ctx, reader, st)
	if err != nil {
		return nil, err
	}
	out := make([]StoredReport, 0, len(stored))
	for _, s := range stored {
		r := StoredReport{Run: strconv.FormatInt(s.run, 10)}
		for i, cm := range s.parts {
			r.Names = append(r.Names, cm.Name)
			if i == 0 {
				if err := json.Unmarshal([]byte(cm.Data[SummaryKey]), &r.Summary); err != nil {
					return nil, fmt.Errorf("report %s: summary: %w", cm.Name, err)
				}
			}
			if rows {
				part, err := report.Parse(cm.Data[ReportKey])
				if err != nil {
					return nil, fmt.Errorf("report %s: %w", cm.Name, err)
				}
				r.Rows = append(r.Rows, part...)
			}
		}
		if len(r.Names) != r.Summary.Parts {
			return nil, fmt.Errorf("report %s has %d of its %d parts", r.Run, len(r.Names), r.Summary.Parts)
		}
		out = append(out, r)
	}
	return out, nil
}

// listReports returns the SyncTarget's reports, oldest first.
func listReports(ctx context.Context, reader client.Reader, st *v1.SyncTarget) ([]storedReport, error) {
	var list corev1.ConfigMapList
	if err := reader.List(ctx, &list, client.InNamespace(st.Namespace), client.MatchingLabels{LabelReportTarget: string(st.UID)}); err != nil {
		return nil, fmt.Errorf("listing reports: %w", err)
	}
	byRun := map[int64]*storedReport{}
	for _, cm := range list.Items {
		run, err := strconv.ParseInt(cm.Labels[LabelReportRun], 10, 64)
		if err != nil {
			continue
		}
		r := byRun[run]
		if r == nil {
			r = &storedReport{run: run}
			byRun[run] = r
		}
		r.parts = append(r.parts, cm)
	}
	out := make([]storedReport, 0, len(byRun))
	for _, r := range byRun {
		slices.SortFunc(r.parts, func(a, b corev1.ConfigMap) int {
			pa, _ := strconv.Atoi(a.Labels[LabelReportPart])
			pb, _ := strconv.Atoi(b.Labels[LabelReportPart])
			return pa - pb
		})
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b storedReport) int {
		switch {
		case a.run < b.run:
			return -1
		case a.run > b.run:
			return 1
		}
		return 0
	})
	return out, nil
}
