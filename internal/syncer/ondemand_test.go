package syncer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// provision-now must name a person's target user exactly as a full run does. A directory
// id holding '%' is escaped by a run ("a%3Ab" -> "a%253Ab"); provision-now used the raw id, which
// is the externalId of another person (directory id "a:b"), and wrote onto that person's account.
func TestProvisionOneEscapesIDsLikeARun(t *testing.T) {
	colon := ldapPerson("a:b", "colon", "Board", "")
	pct := ldapPerson("a%3Ab", "pct", "Sales", "")
	e := newAttrEnv(t, colon, pct)
	e.run()
	before := e.user("colon")

	pct.Attributes["department"] = []string{"Marketing"}
	pct.Attributes["mail"] = []string{"pct-new@corp.example"}
	tr := syncer.ProvisionOne(context.Background(), e.opts, "a%3Ab")
	t.Logf("trace: %s %+v", tr.Outcome, tr.Steps)
	after := e.user("colon")
	if after.Department != before.Department || after.Email != before.Email {
		t.Errorf("provision-now of pct wrote onto colon's account: department %q -> %q, email %q -> %q",
			before.Department, after.Department, before.Email, after.Email)
	}
	if got := e.user("pct"); got.Department != "Marketing" {
		t.Errorf("pct not provisioned: department %q (outcome %s)", got.Department, tr.Outcome)
	}
}

// a directory id holding ':' is provisioned by a full run; provision-now must too.
func TestProvisionOneHandlesColonIDs(t *testing.T) {
	p := ldapPerson("eu:42", "eu42", "Board", "")
	e := newAttrEnv(t, p)
	tr := syncer.ProvisionOne(context.Background(), e.opts, "eu:42")
	if tr.Outcome != syncer.OnDemandApplied {
		t.Errorf("provision-now of id eu:42: outcome %s, steps %+v", tr.Outcome, tr.Steps)
	}
}

// applyOn Create fields belong to the app after creation; a full run never resets them
// (TestApplyOnCreate), provision-now must not either.
func TestProvisionOneKeepsApplyOnCreateFields(t *testing.T) {
	boss := ldapPerson("id-01", "boss", "Board", "")
	e := newAttrEnv(t, boss)
	e.run()
	u := e.user("boss")
	if err := e.target.UpdateUser(context.Background(), u.TargetID,
		model.User{Attributes: map[string]model.Value{"roles": model.StringsValue([]string{"admin"})}}, []string{"roles"}); err != nil {
		t.Fatal(err)
	}
	boss.Attributes["department"] = []string{"Finance"}
	tr := syncer.ProvisionOne(context.Background(), e.opts, "boss")
	if u := e.user("boss"); u.Attr("roles").String() != "admin" {
		t.Errorf("provision-now reset the applyOn Create field roles to %q (outcome %s, steps %+v)", u.Attr("roles").String(), tr.Outcome, tr.Steps)
	}
}

// a manager reference is resolved to the manager's externalId by a run; provision-now must
// resolve it too instead of writing the raw DN (and a converged user must be NoChange).
func TestProvisionOneResolvesManagers(t *testing.T) {
	boss := ldapPerson("id-01", "boss", "Board", "")
	emp := ldapPerson("id-02", "emp", "Sales", "CN=boss,OU=Staff,DC=corp,DC=example")
	e := newAttrEnv(t, boss, emp)
	e.run()
	tr := syncer.ProvisionOne(context.Background(), e.opts, "emp")
	if m := e.user("emp").Manager; m != prefix+"id-01" {
		t.Errorf("provision-now wrote manager %q, want %s", m, prefix+"id-01")
	}
	if tr.Outcome != syncer.OnDemandNoChange {
		t.Errorf("provision-now of a converged user: outcome %s, steps %+v", tr.Outcome, tr.Steps)
	}
}

// With spec.adoption.groups, provision-now adopts the hand-made group the person goes into before
// adding them, as a full run does (not add them to a group nobody owns), and traces a group of
// theirs that is refused.
func TestProvisionOneAdoptsTheGroupsThePersonNeeds(t *testing.T) {
	e := newEnv(t)
	e.target.Seed([]model.User{{TargetID: "hand", UserName: "hand", Active: true}}, []model.Group{
		{TargetID: "g-pilot", DisplayName: "PILOT", Members: []string{"hand"}},
		{TargetID: "g-staff1", DisplayName: "staff"}, {TargetID: "g-staff2", DisplayName: "Staff"},
	})
	e.policy.Controls.AdoptGroups = true
	tr := syncer.ProvisionOne(context.Background(), e.options(hr.NewStatic(csvOf(staff(2)), hrConfig)), "user01")
	if tr.Outcome != syncer.OnDemandApplied {
		t.Fatalf("outcome %s, steps %+v", tr.Outcome, tr.Steps)
	}
	var adopted, refused bool
	for _, s := range tr.Steps {
		adopted = adopted || (s.Step == "apply" && strings.HasPrefix(s.Detail, "adopt group PILOT"))
		refused = refused || (s.Outcome == string(model.ReasonConflict) && strings.Contains(s.Detail, "2 target groups are named"))
	}
	if !adopted || !refused {
		t.Fatalf("trace without the adoption (%v) or the refusal (%v): %+v", adopted, refused, tr.Steps)
	}
	for _, g := range e.target.Groups() {
		switch g.TargetID {
		case "g-pilot":
			if g.ExternalID != prefix+"group:pilot" || len(g.Members) != 2 {
				t.Errorf("PILOT after provision-now: %+v", g)
			}
		case "g-staff1", "g-staff2":
			if g.ExternalID != "" || len(g.Members) != 0 {
				t.Errorf("refused group written: %+v", g)
			}
		}
	}
}
