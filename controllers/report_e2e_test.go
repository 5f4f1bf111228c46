package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/report"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

// TestE2EReportOf10000Users stores the report of a 10,000-user run in the API server and reads every
// action back. The run uses the syncer and the in-memory target directly (a 10,000-user run against
// SCIMMY takes minutes); the ConfigMaps are written to and read from the real kube-apiserver.
func TestE2EReportOf10000Users(t *testing.T) {
	requireSuite(t)
	ctx := context.Background()
	ns := newNamespace(t, "report")
	// A suspended SyncTarget owns the reports; the manager leaves it alone.
	st := &v1.SyncTarget{
		ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: ns},
		Spec: v1.SyncTargetSpec{
			SourceRef: v1.LocalObjectReference{Name: "none"}, MappingRefs: []v1.LocalObjectReference{{Name: "none"}},
			SCIM:    &v1.SCIMTarget{URL: "http://127.0.0.1:1", TokenSecretRef: &v1.SecretKeySelector{Name: "x", Key: "y"}},
			Suspend: true,
		},
	}
	if err := k8s.Create(ctx, st); err != nil {
		t.Fatal(err)
	}

	const n = 10000
	var csv strings.Builder
	csv.WriteString("id,login,mail,dept\n")
	for i := range n {
		mail := fmt.Sprintf("user%05d@example.com", i)
		if i%1000 == 507 {
			mail = "" // MissingField problems
		}
		fmt.Fprintf(&csv, "E%05d,user%05d,%s,d%d\n", i, i, mail, i%5)
	}
	mapper, err := mapping.Compile([]mapping.NamedRule{{Name: "hr", Generation: 1, Spec: v1.MappingRuleSpec{Fields: []v1.FieldMapping{
		{Target: "userName", From: "login"}, {Target: "email", From: "mail", Required: true},
		{Target: "groups", Expression: "['dept-' + record.attrs.dept]"},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	target := memory.New()
	// Some users exist already: changed ones are updated, gone ones suspended, a hand-made one adopted.
	var seedUsers []model.User
	for i := range 50 {
		seedUsers = append(seedUsers, model.User{ExternalID: fmt.Sprintf("hr:E%05d", i), UserName: fmt.Sprintf("user%05d", i), Email: "old@example.com", Active: true})
		seedUsers = append(seedUsers, model.User{ExternalID: fmt.Sprintf("hr:GONE%02d", i), UserName: fmt.Sprintf("gone%02d", i), Active: true})
	}
	seedUsers = append(seedUsers, model.User{UserName: "USER09999", Active: true})
	target.Seed(seedUsers, nil)
	res, err := syncer.Run(ctx, syncer.Options{
		Source: hr.NewStatic([]byte(csv.String()), hr.Config{Format: hr.FormatCSV, IDColumn: "id"}),
		Mapper: mapper, Target: target,
		Policy: plan.Policy{ExternalIDPrefix: "hr:", GracePeriod: time.Hour, AfterGrace: plan.OffboardDelete,
			ManagedFields: mapper.ManagedFields(), MaxDeletions: -1,
			Controls: plan.Controls{Adoption: &plan.Adoption{MatchOn: []string{plan.MatchUserName}}}},
	})
	if err != nil || res.Counts.Failed != 0 {
		t.Fatalf("run: %v %+v", err, res.Counts)
	}
	s := res.Plan.Summary
	if s.Creates < n-100 || s.Updates != 50 || s.Suspensions != 50 || s.Adoptions != 1 || len(res.Skipped) != 10 {
		t.Fatalf("unexpected plan summary %+v, %d problems", s, len(res.Skipped))
	}

	name, err := controllers.WriteRunReport(ctx, k8s, k8s, st, res, time.Now(), 10)
	if err != nil || name == "" {
		t.Fatalf("WriteRunReport: %q %v", name, err)
	}
	reports, err := controllers.ReadReports(ctx, k8s, st, true)
	if err != nil || len(reports) != 1 {
		t.Fatalf("ReadReports: %d reports, %v", len(reports), err)
	}
	r := reports[0]
	if len(r.Names) < 2 || r.Names[0] != name || r.Summary.Mode != "applied" {
		t.Fatalf("want a chunked applied report starting with %s, got %v %+v", name, r.Names, r.Summary)
	}
	got := map[string]string{}
	problems := 0
	for _, row := range r.Rows {
		switch row.Entry {
		case "action":
			got[row.Kind+" "+row.ExternalID+" "+row.Group] = row.Outcome
		case "problem":
			problems++
		}
	}
	for _, a := range res.Plan.Actions {
		if o, ok := got[string(a.Kind)+" "+a.ExternalID+" "+a.Group]; !ok || o != report.OutcomeApplied {
			t.Fatalf("action %s: outcome %q in the report", a.Describe(), o)
		}
	}
	if len(got) != len(res.Plan.Actions) || problems != len(res.Skipped) {
		t.Fatalf("report holds %d actions and %d problems, run had %d and %d", len(got), problems, len(res.Plan.Actions), len(res.Skipped))
	}
	var out bytes.Buffer
	if err := report.WriteCSV(&out, r.Rows); err != nil || strings.Count(out.String(), "\n") != len(r.Rows)+1 {
		t.Fatalf("CSV export: %v", err)
	}

	// Retention: with retain 2, a third report removes the first (all its parts).
	for i := 1; i <= 2; i++ {
		if _, err := controllers.WriteRunReport(ctx, k8s, k8s, st, res, time.Now().Add(time.Duration(i)*time.Second), 2); err != nil {
			t.Fatal(err)
		}
	}
	reports, err = controllers.ReadReports(ctx, k8s, st, false)
	if err != nil || len(reports) != 2 || reports[0].Run == r.Run {
		t.Fatalf("after retention: %d reports (%v), first %v", len(reports), err, reports)
	}
	_ = ptr.To(1)
}
