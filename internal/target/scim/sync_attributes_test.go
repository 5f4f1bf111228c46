package scim

import (
	"context"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

type fixedSource struct{ records []model.Record }

func (s *fixedSource) Read(context.Context) (*model.Snapshot, error) {
	return &model.Snapshot{Records: s.records, Complete: true}, nil
}

func adRecord(id, login, dept, managerDN string) model.Record {
	return model.Record{ID: id, DN: "CN=" + login + ",OU=Staff,DC=corp,DC=example", Attributes: map[string][]string{
		"sAMAccountName": {login}, "mail": {strings.ToUpper(login[:1]) + login[1:] + "@Corp.Example"},
		"department": {dept}, "manager": {managerDN}, "mobile": {"+41 79 000 00 " + id},
		"costCenter": {"CC-" + dept}, "badge": {"B-" + id}, "clearance": {"2"},
	}}
}

// TestSyncAttributesEndToEnd runs the syncer against both servers (the strict one normalising
// userNames and emails to lower case): enterprise and custom extension attributes, a typed phone
// entry beside an admin's, a manager given as AD writes it (a DN), applyOn Create; the second run
// writes nothing, and a department change arrives although the new manager cannot be resolved.
func TestSyncAttributesEndToEnd(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		withAcme(t, c, srv, strictscim.Options{Normalize: true})
		m, err := mapping.Compile([]mapping.NamedRule{{Name: "ad", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "sAMAccountName"},
			{Target: "email", From: "mail"},
			{Target: "department", From: "department"},
			{Target: "manager", From: "manager"},
			{Target: `phoneNumbers[type eq "mobile"].value`, From: "mobile"},
			{Target: v1alpha1.TargetField(pathCostCenter), From: "costCenter"},
			{Target: v1alpha1.TargetField(pathBadge), From: "badge"},
			{Target: v1alpha1.TargetField(pathClearance), From: "clearance", Type: "integer"},
			{Target: "roles", Default: strPtr("employee"), ApplyOn: v1alpha1.ApplyCreate},
		}}}})
		if err != nil {
			t.Fatal(err)
		}
		boss := adRecord("01", "boss", "Board", "")
		emp := adRecord("02", "emp", "Sales", "cn=boss, ou=Staff, dc=corp, dc=example")
		src := &fixedSource{records: []model.Record{boss, emp}}
		run := func() *syncer.Result {
			t.Helper()
			res, err := syncer.Run(ctx, syncer.Options{Source: src, Mapper: m, Target: NewTarget(c),
				Policy: plan.Policy{ExternalIDPrefix: "dirsync:", ManagedFields: m.ManagedFields(), MaxDeletions: -1}})
			if err != nil || len(res.Failures) > 0 {
				t.Fatalf("run: %v %v", err, res.Failures)
			}
			return res
		}
		if res := run(); res.Counts.Created != 2 || len(res.Warnings) != 0 {
			t.Fatalf("first run: %+v %v", res.Counts, res.Warnings)
		}
		// The first run creates both in one batch: emp may be created before boss exists, so its
		// manager is set by the next run at the latest.
		run()
		reader := NewTarget(c)
		reader.UseFields(m.ManagedFields())
		users, err := reader.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]model.User{}
		for _, u := range users {
			byName[strings.ToLower(u.UserName)] = u
		}
		if got := byName["emp"]; got.Manager != "dirsync:01" || got.Attr(pathCostCenter).Str != "CC-Sales" ||
			got.Attr(pathBadge).Str != "B-02" || got.Attr(pathClearance).String() != "2" || got.Attr("roles").String() != "employee" {
			t.Fatalf("emp in target: %+v", got)
		}
		if isStrict(srv) && byName["emp"].Email != "emp@corp.example" {
			t.Errorf("strict server did not normalise the email: %q", byName["emp"].Email)
		}

		// An admin adds a fax number and promotes emp in the app.
		empID := byName["emp"].TargetID
		raw := rawUserOf(t, ctx, c, empID)
		raw["phoneNumbers"] = append(raw["phoneNumbers"].([]any), map[string]any{"type": "fax", "value": "+41 44 000 00 00"})
		raw["roles"] = []any{map[string]any{"value": "admin"}}
		delete(raw, "groups")
		delete(raw, "meta")
		if err := c.do(ctx, "PUT", "/Users/"+empID, nil, raw, nil); err != nil {
			t.Fatal(err)
		}
		if err := srv.ResetRequestCounts(ctx); err != nil {
			t.Fatal(err)
		}
		if res := run(); len(res.Plan.Actions) != 0 {
			t.Fatalf("converged run planned %q", res.Plan.Describe(0))
		}
		if n := counts(t, srv, ctx); n["POST"]+n["PATCH"]+n["PUT"]+n["DELETE"] != 0 {
			t.Errorf("converged run wrote: %v", n)
		}

		// emp moves department and gets a manager that is not in the directory.
		emp.Attributes["department"] = []string{"Marketing"}
		emp.Attributes["mobile"] = []string{"+41 79 000 00 99"}
		emp.Attributes["manager"] = []string{"CN=gone,OU=Staff,DC=corp,DC=example"}
		src.records[1] = emp
		res := run()
		if len(res.Warnings) != 1 || res.Warnings[0].Reason != model.ReasonUnresolvedManager || res.Counts.Updated != 1 {
			t.Fatalf("warnings %v counts %+v", res.Warnings, res.Counts)
		}
		raw = rawUserOf(t, ctx, c, empID)
		ent, _ := raw[model.SchemaEnterpriseUser].(map[string]any)
		mgr, _ := ent["manager"].(map[string]any)
		if ent["department"] != "Marketing" || mgr["value"] != byName["boss"].TargetID {
			t.Errorf("enterprise after the move: %v", ent)
		}
		phones := map[string]string{}
		for _, p := range raw["phoneNumbers"].([]any) {
			pm := p.(map[string]any)
			phones[pm["type"].(string)] = pm["value"].(string)
		}
		if phones["fax"] != "+41 44 000 00 00" || phones["mobile"] != "+41 79 000 00 99" {
			t.Errorf("phones %v", phones)
		}
		if roles := raw["roles"].([]any); len(roles) != 1 || roles[0].(map[string]any)["value"] != "admin" {
			t.Errorf("roles reset: %v", roles)
		}
	})
}

func strPtr(s string) *string { return &s }
