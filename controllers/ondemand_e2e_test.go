package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// provisionNow sets the provision-now annotation (and the dry-run one) and waits for its trace.
func provisionNow(t *testing.T, f *fixture, name, request string, dryRun bool) *v1.OnDemandTrace {
	t.Helper()
	update(t, f.syncTarget(t, name), func(st *v1.SyncTarget) {
		if st.Annotations == nil {
			st.Annotations = map[string]string{}
		}
		st.Annotations[v1.AnnotationProvisionNow] = request
		st.Annotations[v1.AnnotationProvisionDryRun] = fmt.Sprint(dryRun)
	})
	var trace *v1.OnDemandTrace
	// "within seconds": well below the hour-long interval of the SyncTarget.
	eventually(t, 15*time.Second, func() error {
		trace = f.syncTarget(t, name).Status.OnDemand
		if trace == nil || trace.Request != request {
			return fmt.Errorf("no trace for %q yet: %+v", request, trace)
		}
		return nil
	})
	return trace
}

func traceStep(tr *v1.OnDemandTrace, step string) (v1.OnDemandStep, bool) {
	for _, s := range tr.Steps {
		if s.Step == step {
			return s, true
		}
	}
	return v1.OnDemandStep{}, false
}

func tracedField(tr *v1.OnDemandTrace, field string) (v1.TracedField, bool) {
	for _, f := range tr.Fields {
		if f.Field == field {
			return f, true
		}
	}
	return v1.TracedField{}, false
}

// TestE2EProvisionNow provisions single people between full runs (the interval is an hour): a new
// person is created with a full trace, a dry run plans without writing, an out-of-scope and an
// unmappable person are explained and never offboarded, and an unknown name is reported.
func TestE2EProvisionNow(t *testing.T) {
	f := newFixture(t, "ondemand")
	ctx := context.Background()
	f.create(t, f.directorySource("ldap"))
	rule := mappingRule("staff")
	rule.Spec.Scope = "!has(record.attrs.title) || record.attrs.title != 'Outsider'"
	f.create(t, rule)
	f.create(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.Interval = &metav1.Duration{Duration: time.Hour}
	}))
	eventually(t, waitSync, func() error { return f.checkInitialSync(t) })
	eventually(t, waitSync, func() error {
		if f.syncTarget(t, "app").Status.LastSyncTime == nil {
			return fmt.Errorf("first run not published yet")
		}
		return nil
	})
	lastSync := f.syncTarget(t, "app").Status.LastSyncTime

	// A new person, by userName.
	newcomer := slapd.User{UID: "new.comer", CN: "New Comer", GivenName: "New", SN: "Comer", Mail: "new.comer@example.com",
		Title: "Engineer", DepartmentNumber: slapd.Departments[0]}
	if err := f.ldap.AddUser(ctx, newcomer); err != nil {
		t.Fatal(err)
	}
	// Dry run first: planned, nothing written.
	tr := provisionNow(t, f, "app", "new.comer", true)
	if tr.Outcome != "Planned" || !tr.DryRun {
		t.Fatalf("dry run trace %+v", tr)
	}
	if _, ok := f.user(t, "new.comer"); ok {
		t.Fatal("dry run created the user")
	}
	tr = provisionNow(t, f, "app", "new.comer again", false)
	if tr.Outcome != "Applied" {
		t.Fatalf("trace %+v", tr)
	}
	for _, step := range []string{"read", "scope", "map", "match", "Create", "apply"} {
		found := false
		for _, s := range tr.Steps {
			found = found || s.Step == step || s.Outcome == step
		}
		if !found {
			t.Errorf("trace lacks step %s: %+v", step, tr.Steps)
		}
	}
	if s, _ := traceStep(tr, "read"); !strings.Contains(s.Detail, "uid=new.comer") {
		t.Errorf("read step %+v", s)
	}
	if fld, ok := tracedField(tr, "email"); !ok || fld.Value != newcomer.Mail || !strings.Contains(fld.Origin, "attribute mail") {
		t.Errorf("email field %+v", fld)
	}
	if fld, ok := tracedField(tr, "department"); !ok || fld.Value != departmentNames[newcomer.DepartmentNumber] || !strings.Contains(fld.Origin, "lookup departments") {
		t.Errorf("department field %+v", fld)
	}
	if fld, ok := tracedField(tr, "role"); !ok || fld.Value != "Member" || !strings.Contains(fld.Origin, "default") {
		t.Errorf("role field %+v", fld)
	}
	u, ok := f.user(t, "new.comer")
	if !ok || !strings.HasPrefix(u.ExternalID, prefix) || u.Email != newcomer.Mail {
		t.Fatalf("not created: %+v", u)
	}
	eventually(t, waitSync, func() error {
		var events eventsv1.EventList
		if err := k8s.List(ctx, &events, client.InNamespace(f.ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Reason == "ProvisionedOnDemand" && strings.Contains(e.Note, "new.comer: Applied") {
				return nil
			}
		}
		return fmt.Errorf("no ProvisionedOnDemand event among %d", len(events.Items))
	})
	if got := f.syncTarget(t, "app").Status.LastSyncTime; !got.Equal(lastSync) {
		t.Fatalf("a full run happened (lastSyncTime %v -> %v)", lastSync, got)
	}

	// Out of scope: a synced person moved out of the rules' scope is explained, not suspended.
	victim := expectedUsers(f.ldap.Seed)[3].UID
	if err := f.ldap.SetAttribute(ctx, victim, "title", "Outsider"); err != nil {
		t.Fatal(err)
	}
	tr = provisionNow(t, f, "app", victim, false)
	if s, _ := traceStep(tr, "scope"); tr.Outcome != "OutOfScope" || !strings.Contains(s.Detail, "out of scope") {
		t.Fatalf("out-of-scope trace %+v", tr)
	}
	if u, _ := f.user(t, victim); !u.Active {
		t.Fatalf("%s was offboarded by a single-person read", victim)
	}

	// Unmappable: no mail, which the rule requires.
	tr = provisionNow(t, f, "app", slapd.NoMailUID, false)
	if s, _ := traceStep(tr, "map"); tr.Outcome != "Unmappable" || !strings.Contains(s.Detail, "MissingField") {
		t.Fatalf("unmappable trace %+v", tr)
	}
	// Unknown.
	tr = provisionNow(t, f, "app", "nobody.here", false)
	if tr.Outcome != "NotFound" {
		t.Fatalf("unknown trace %+v", tr)
	}
}
