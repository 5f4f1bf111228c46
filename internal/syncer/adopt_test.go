package syncer_test

import (
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
