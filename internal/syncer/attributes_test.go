package syncer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

// staticSource is a directory that returns fixed records.
type staticSource struct{ records []model.Record }

func (s *staticSource) Read(context.Context) (*model.Snapshot, error) {
	return &model.Snapshot{Records: s.records, Complete: true, ReadAt: t0}, nil
}

func ldapPerson(id, login, dept, manager string) model.Record {
	return model.Record{ID: id, DN: "CN=" + login + ",OU=Staff,DC=corp,DC=example",
		Attributes: map[string][]string{
			"sAMAccountName": {login}, "mail": {login + "@Corp.Example"}, "department": {dept},
			"manager": {manager}, "mobile": {"+41 79 000 00 " + id[len(id)-2:]}, "costCenter": {"CC-" + dept},
			"badge": {"B-" + id}, "clearance": {"2"}, "whenCreated": {"20240131120000.0Z"},
		}}
}

func attributeRules() []mapping.NamedRule {
	return []mapping.NamedRule{{Name: "ad", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
		Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "sAMAccountName"},
			{Target: "email", From: "mail"},
			{Target: "department", From: "department"},
			{Target: "manager", From: "manager"},
			{Target: `phoneNumbers[type eq "mobile"].value`, From: "mobile"},
			{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", From: "costCenter"},
			{Target: "urn:example:acme:2.0:User:badge", From: "badge"},
			{Target: "urn:example:acme:2.0:User:clearance", From: "clearance", Type: "integer"},
			{Target: "urn:example:acme:2.0:User:startDate", From: "whenCreated", Type: "dateTime"},
			{Target: "roles", Default: ptr("employee"), ApplyOn: v1alpha1.ApplyCreate},
		},
	}}}
}

type attrEnv struct {
	t      *testing.T
	src    *staticSource
	target *memory.Target
	opts   syncer.Options
}

func newAttrEnv(t *testing.T, records ...model.Record) *attrEnv {
	t.Helper()
	m, err := mapping.Compile(attributeRules())
	if err != nil {
		t.Fatal(err)
	}
	e := &attrEnv{t: t, src: &staticSource{records: records}, target: memory.New()}
	e.opts = syncer.Options{Source: e.src, Mapper: m, Target: e.target,
		Policy: plan.Policy{ExternalIDPrefix: prefix, ManagedFields: m.ManagedFields(), MaxDeletions: -1}}
	return e
}

func (e *attrEnv) run() *syncer.Result {
	e.t.Helper()
	res, err := syncer.Run(context.Background(), e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		e.t.Fatalf("failures: %v", res.Failures)
	}
	return res
}

func (e *attrEnv) user(login string) model.User {
	e.t.Helper()
	for _, u := range e.target.Users() {
		if strings.EqualFold(u.UserName, login) {
			return u
		}
	}
	e.t.Fatalf("user %s not in target", login)
	return model.User{}
}

func reasons(problems []model.Problem) map[string]model.ProblemReason {
	out := map[string]model.ProblemReason{}
	for _, p := range problems {
		out[p.Subject] = p.Reason
	}
	return out
}

// TestManagerReferences checks that a manager DN resolves to the manager's prefixed externalId,
// and that an unresolvable manager is reported and left out while the rest of the update applies.
func TestManagerReferences(t *testing.T) {
	boss := ldapPerson("id-01", "boss", "Board", "")
	// The DN as AD writes it in manager, in another case and spacing than the record's own DN.
	emp := ldapPerson("id-02", "emp", "Sales", "cn=boss, ou=Staff, dc=corp, dc=example")
	e := newAttrEnv(t, boss, emp)
	e.run()
	if m := e.user("emp").Manager; m != prefix+"id-01" {
		t.Fatalf("emp manager = %q, want %s", m, prefix+"id-01")
	}
	// A manager given by directory id works the same.
	emp.Attributes["manager"] = []string{"id-01"}
	if res := e.run(); res.Plan.Summary.Updates != 0 {
		t.Errorf("manager by id planned %d updates", res.Plan.Summary.Updates)
	}

	// The manager leaves the directory's scope while emp changes department: the department
	// arrives, the manager is left as it was, and the problem is reported.
	emp.Attributes["manager"] = []string{"CN=gone,OU=Staff,DC=corp,DC=example"}
	emp.Attributes["department"] = []string{"Marketing"}
	res := e.run()
	if got := e.user("emp"); got.Department != "Marketing" || got.Manager != prefix+"id-01" {
		t.Errorf("emp after update: department %q, manager %q", got.Department, got.Manager)
	}
	if r := reasons(res.Warnings)["emp"]; r != model.ReasonUnresolvedManager || len(res.Skipped) != 0 {
		t.Errorf("warnings %v, skipped %v: want UnresolvedManager for emp, nobody skipped", res.Warnings, res.Skipped)
	}
	if res.Counts.Updated != 1 {
		t.Errorf("counts %+v", res.Counts)
	}
}

// TestCaseNormalisingTargetConverges runs against a target that rewrites what it stores, as real
// servers do: lower-cased userNames and emails, phone numbers reformatted, text trimmed, dateTimes
// with another offset. The second run must plan no write.
func TestCaseNormalisingTargetConverges(t *testing.T) {
	e := newAttrEnv(t, ldapPerson("id-01", "Boss", "Board", ""),
		ldapPerson("id-02", "Emp", "Sales ", "CN=Boss,OU=Staff,DC=corp,DC=example"))
	e.target.SetNormalizer(func(u *model.User) {
		u.UserName, u.Email = strings.ToLower(u.UserName), strings.ToLower(u.Email)
		u.Department = strings.TrimSpace(u.Department)
		for k, v := range u.Attributes {
			switch {
			case strings.HasPrefix(k, "phoneNumbers"):
				v.Str = "tel:" + strings.ReplaceAll(v.Str, " ", "-")
			case strings.HasSuffix(k, "startDate"):
				v.Str = "2024-01-31T13:00:00.000+01:00"
			case strings.HasSuffix(k, "badge"):
				v.Str = strings.ToLower(v.Str)
			case strings.HasSuffix(k, "clearance"):
				v = model.StringValue(v.String()) // a server that returns numbers as strings
			}
			u.Attributes[k] = v
		}
	})
	res := e.run()
	if res.Counts.Created != 2 {
		t.Fatalf("first run: %+v", res.Counts)
	}
	if got := e.user("emp"); got.Email != "emp@corp.example" || got.Attr(`phoneNumbers[type eq "mobile"].value`).Str != "tel:+41-79-000-00-02" {
		t.Fatalf("normaliser not applied: %+v", got)
	}
	e.target.ResetCalls()
	res = e.run()
	if d := res.Plan.Describe(0); len(d) != 0 || e.target.WriteCalls() != 0 {
		t.Errorf("second run planned %q (%d writes)", d, e.target.WriteCalls())
	}
}

// TestApplyOnCreate checks that a field with applyOn Create is written when the user is created
// and never again: an admin's change in the app stays.
func TestApplyOnCreate(t *testing.T) {
	e := newAttrEnv(t, ldapPerson("id-01", "boss", "Board", ""))
	e.run()
	u := e.user("boss")
	if r := u.Attr("roles"); r.String() != "employee" {
		t.Fatalf("roles on create = %q", r.String())
	}
	// An admin promotes the user in the app.
	if err := e.target.UpdateUser(context.Background(), u.TargetID,
		model.User{Attributes: map[string]model.Value{"roles": model.StringsValue([]string{"admin"})}}, []string{"roles"}); err != nil {
		t.Fatal(err)
	}
	res := e.run()
	if u := e.user("boss"); res.Plan.Summary.Updates != 0 || u.Attr("roles").String() != "admin" {
		t.Errorf("applyOn Create field was reset: plan %q, roles %q", res.Plan.Describe(0), u.Attr("roles").String())
	}
}

// schemaTarget is a memory target that publishes schemas: badge is caseExact, clearance unknown.
type schemaTarget struct{ *memory.Target }

func (schemaTarget) CheckFields(_ context.Context, fields []string) (target.FieldCheck, error) {
	var fc target.FieldCheck
	for _, f := range fields {
		switch {
		case strings.HasSuffix(f, ":badge"):
			fc.CaseExact = append(fc.CaseExact, f)
		case strings.HasSuffix(f, ":clearance"):
			fc.Unknown = append(fc.Unknown, target.UnknownField{Field: f, Schema: "urn:example:acme:2.0:User", Reason: "no attribute clearance"})
		}
	}
	return fc, nil
}

// TestTargetSchemasCheckFields checks that an attribute the target's schemas lack is reported with
// rule, field and schema and not written, and that caseExact attributes compare case-sensitively.
func TestTargetSchemasCheckFields(t *testing.T) {
	e := newAttrEnv(t, ldapPerson("id-01", "boss", "Board", ""))
	e.opts.Target = schemaTarget{e.target}
	res := e.run()
	if len(res.UnknownAttributes) != 1 {
		t.Fatalf("unknown attributes %v", res.UnknownAttributes)
	}
	p := res.UnknownAttributes[0]
	if p.Reason != model.ReasonUnknownAttribute || !strings.Contains(p.Subject, `rule ad field urn:example:acme:2.0:User:clearance`) ||
		!strings.Contains(p.Message, "urn:example:acme:2.0:User") {
		t.Errorf("problem %+v", p)
	}
	u := e.user("boss")
	if _, ok := u.Attributes["urn:example:acme:2.0:User:clearance"]; ok || u.Attr("urn:example:acme:2.0:User:badge").Str != "B-id-01" {
		t.Errorf("attributes written: %v", u.Attributes)
	}
	// The app lower-cases the caseExact badge: that is a change, written back.
	e.target.SetNormalizer(func(u *model.User) {
		if v, ok := u.Attributes["urn:example:acme:2.0:User:badge"]; ok {
			v.Str = strings.ToLower(v.Str)
			u.Attributes["urn:example:acme:2.0:User:badge"] = v
		}
	})
	if err := e.target.UpdateUser(context.Background(), u.TargetID, u, []string{"urn:example:acme:2.0:User:badge"}); err != nil {
		t.Fatal(err)
	}
	e.target.SetNormalizer(nil)
	res = e.run()
	if u := e.user("boss"); res.Counts.Updated != 1 || u.Attr("urn:example:acme:2.0:User:badge").Str != "B-id-01" {
		t.Errorf("caseExact change not written back: %+v", res.Counts)
	}
}
