package syncer_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

// An app that already holds the people (created by hand, without externalId) is taken over: each
// user gets the ownership marker and the mapped values in one write, and the next run is quiet.
func TestAdoptionTakesOverExistingUsers(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	var existing []model.User
	for _, p := range people {
		existing = append(existing, model.User{UserName: strings.ToUpper(p.login), Email: p.mail(), Active: true})
	}
	e.target.Seed(existing, nil)
	e.policy.Controls.Adoption = &plan.Adoption{MatchOn: []string{plan.MatchUserName}}

	res := e.run(people)
	if res.Counts.Adopted != len(people) || res.Counts.Created != 0 || res.Counts.Failed != 0 {
		t.Fatalf("counts %+v failures %v", res.Counts, res.Failures)
	}
	if got := res.ManagedAfter(); got != len(people) {
		t.Fatalf("ManagedAfter %d", got)
	}
	u := e.mustUser("user01")
	if u.ExternalID != prefix+"E0001" || u.DisplayName != "First1 Last" {
		t.Fatalf("adopted user %+v", u)
	}
	e.expectConverged(people)
}

// When the write of the marker fails, the user stays unowned and nothing else is written to it.
func TestFailedAdoptionWritesNothingElse(t *testing.T) {
	e := newEnv(t)
	people := staff(1)
	e.target.Seed([]model.User{{UserName: people[0].login, Email: people[0].mail(), Active: true}}, nil)
	e.policy.Controls.Adoption = &plan.Adoption{MatchOn: []string{plan.MatchEmail}}
	e.target.FailNext(memory.MethodUpdateUser, 1, nil)

	res := e.run(people)
	if res.Counts.Adopted != 0 || res.Counts.Failed == 0 {
		t.Fatalf("counts %+v", res.Counts)
	}
	if calls := e.target.Calls(); calls[memory.MethodAddMembers] != 0 || calls[memory.MethodUpdateUser] != 1 {
		t.Fatalf("calls after a failed adoption: %v", calls)
	}
	for _, f := range res.Failures {
		if strings.Contains(f.Message, "AddMember") && !strings.Contains(f.Message, "adoption failed") {
			t.Fatalf("failure %v", f)
		}
	}
	if u := e.mustUser(people[0].login); u.ExternalID != "" {
		t.Fatalf("user owned after a failed adoption: %+v", u)
	}
}

// A hand-made group of a name the directory gives is adopted with spec.adoption.groups; when the
// write of its marker fails, no member is added to or removed from it, and the next run adopts it.
func TestFailedGroupAdoptionChangesNoMembership(t *testing.T) {
	e := newEnv(t)
	people := staff(2) // user01 is in staff and pilot, user02 in staff
	e.target.Seed([]model.User{{TargetID: "hand", UserName: "hand", Active: true}},
		[]model.Group{{TargetID: "g-pilot", DisplayName: "PILOT", Members: []string{"hand"}}})
	e.policy.Controls.AdoptGroups = true
	e.target.FailNext(memory.MethodAdoptGroup, 1, nil)

	res := e.run(people)
	pilot := func() model.Group {
		for _, g := range e.target.Groups() {
			if g.TargetID == "g-pilot" {
				return g
			}
		}
		t.Fatal("group PILOT is gone")
		return model.Group{}
	}
	if g := pilot(); g.ExternalID != "" || len(g.Members) != 1 {
		t.Fatalf("group after a failed adoption: %+v", g)
	}
	if !slices.ContainsFunc(res.Failures, func(p model.Problem) bool {
		return p.Subject == "user01 (group PILOT)" && strings.Contains(p.Message, "AddMember failed: not applied: the group's adoption failed")
	}) {
		t.Fatalf("failures %v", res.Failures)
	}

	res = e.run(people)
	if g := pilot(); g.ExternalID != prefix+"group:pilot" || len(g.Members) != 2 || len(res.Failures) != 0 {
		t.Fatalf("group after the adopting run: %+v, failures %v", g, res.Failures)
	}
	e.expectConverged(people)
}
