package syncer_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// runCSV syncs a raw HR document (for rows csvOf cannot write).
func (e *env) runCSV(doc string) *syncer.Result {
	e.t.Helper()
	res, err := e.runErr(e.t.Context(), hr.NewStatic([]byte(doc), hrConfig))
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return res
}

// expectNoOffboarding fails when a run suspended, deleted or anonymized one of logins.
func expectNoOffboarding(t *testing.T, res *syncer.Result, logins ...string) {
	t.Helper()
	for _, a := range res.Plan.Actions {
		if a.Kind.IsOffboarding() && slices.Contains(logins, a.UserName) {
			t.Errorf("%s planned for %s, who is present in the source: %s", a.Kind, a.UserName, a.Describe())
		}
	}
}

// Everyday mapping failures (unknown lookup key, blank required field, CEL runtime error, malformed
// HR row) must hold the person's target user — not suspend it as "not in source" and delete it after
// the grace period — while a real leaver is still offboarded.
func TestPresentButUnmappableRecordIsHeld(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)

	broken := changed(people, "E0002", func(p *person) { p.dept = "99"; p.title = "Boss" }) // unknown lookup key
	broken = changed(broken, "E0005", func(p *person) { p.first = "" })                     // CEL: no such key
	doc := string(csvOf(without(broken, "E0004", "E0006")))                                 // E0006 really left
	doc = strings.Replace(doc, "user03@example.com", "", 1)                                 // required mail blank
	doc += "E0004,user04,user04@example.com,First4,Last,Engineer,10,staff,active,EXTRA\n"   // malformed row
	present := []string{"user02", "user03", "user04", "user05"}

	for run := range 4 {
		res := e.runCSV(doc)
		expectNoOffboarding(t, res, present...)
		if res.Plan.OffboardingHeld != nil {
			t.Fatalf("run %d: offboarding held (%s), but every problem names its record", run, res.Plan.OffboardingHeld.Message)
		}
		if res.Plan.Summary.Held != 4 {
			t.Errorf("run %d: held = %d, want 4 (%v)", run, res.Plan.Summary.Held, res.Skipped)
		}
		ids := map[string]model.ProblemReason{}
		for _, p := range res.Skipped {
			ids[p.ID] = p.Reason
		}
		want := map[string]model.ProblemReason{"E0002": model.ReasonUnknownLookupKey, "E0003": model.ReasonMissingField,
			"E0004": model.ReasonMalformedRow, "E0005": model.ReasonExpressionError}
		for id, reason := range want {
			if ids[id] != reason {
				t.Errorf("run %d: problem for %s = %q, want %q (%+v)", run, id, ids[id], reason, res.Skipped)
			}
		}
		e.now = e.now.Add(grace) // well past the grace period by the last run
	}
	for _, login := range present {
		if u, ok := e.user(login); !ok || !u.Active {
			t.Errorf("%s present in the source: in target %v, active %v", login, ok, u.Active)
		}
	}
	if got := e.mustUser("user02").Title; got != "Engineer" {
		t.Errorf("held user02 was updated: title %q", got)
	}
	if _, ok := e.user("user06"); ok {
		t.Errorf("user06, who left, was not offboarded")
	}

	// Once the data is fixed, the held users are synced again.
	fixed := without(broken, "E0006")
	fixed = changed(fixed, "E0002", func(p *person) { p.dept = "20" })
	fixed = changed(fixed, "E0005", func(p *person) { p.first = "Fifth" })
	e.run(fixed)
	if got := e.mustUser("user02").Title; got != "Boss" {
		t.Errorf("user02 title %q after the fix, want Boss", got)
	}
	e.expectConverged(fixed)
}

// A problem that names nobody (a row without an id) could be anyone: the read is incomplete and
// nobody is offboarded, not even a real leaver.
func TestRecordWithoutIDMakesTheReadIncomplete(t *testing.T) {
	e := newEnv(t)
	people := staff(4)
	e.run(people)
	doc := string(csvOf(without(people, "E0004"))) + ",user04,user04@example.com,First4,Last,Engineer,10,staff,active\n"
	res := e.runCSV(doc)
	if res.Plan.OffboardingHeld == nil || res.Plan.OffboardingHeld.Reason != plan.ReasonSourceIncomplete {
		t.Fatalf("offboarding held = %+v, want SourceIncomplete", res.Plan.OffboardingHeld)
	}
	if !strings.Contains(res.Plan.OffboardingHeld.Message, "no id") {
		t.Errorf("hold message does not say why: %s", res.Plan.OffboardingHeld.Message)
	}
	expectNoOffboarding(t, res, "user04")
	if !e.mustUser("user04").Active {
		t.Errorf("user04 suspended")
	}
}

// If status.suspended is lost (SyncTarget re-created), a person who is back in the source must be
// reactivated even though the rules do not map active.
func TestLostStateStillReactivatesAPresentUser(t *testing.T) {
	e := newEnv(t)
	people := staff(4)
	e.run(people)
	e.run(without(people, "E0002"))
	if e.mustUser("user02").Active {
		t.Fatalf("user02 not suspended")
	}
	e.state = plan.State{} // status.suspended lost
	res := e.run(people)
	if res.Counts.Reactivated != 1 || !e.mustUser("user02").Active {
		t.Fatalf("user02 not reactivated after the state was lost:\n%s", res.Plan)
	}
	e.expectConverged(people)
}

// scopedRules sync everyone but contractors; disabled accounts are excluded.
func scopedRules() []mapping.NamedRule {
	r := rules()
	r[0].Spec.Scope = "record.attrs.title != 'Contractor'"
	r[0].Spec.IncludeDisabled = ptr(false)
	return r
}

// A person the rules no longer select is "out of scope", not "not in source", and under
// outOfScope Keep is left as they are; a disabled person is still suspended.
func TestOutOfScopeIsNotAbsent(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "Suspend", true: "Keep"}[keep], func(t *testing.T) {
			e := newEnv(t)
			m, err := mapping.Compile(scopedRules())
			if err != nil {
				t.Fatal(err)
			}
			e.mapper = m
			if keep {
				e.policy.OutOfScope = plan.OutOfScopeKeep
			}
			people := staff(4)
			e.run(people)
			next := changed(people, "E0001", func(p *person) { p.title = "Contractor" })
			next = changed(next, "E0002", func(p *person) { p.status = "inactive" })
			next = without(next, "E0003")
			res := e.run(next)
			got := res.Plan.Describe(0)
			want := []string{"suspend user01: out of scope", "suspend user02: disabled in directory", "suspend user03: not in source"}
			if keep {
				want = want[1:]
			}
			if !slices.Equal(got, want) {
				t.Errorf("plan %q, want %q", got, want)
			}
			if res.OutOfScope != 2 {
				t.Errorf("out of scope = %d, want 2", res.OutOfScope)
			}
		})
	}
}

// Ownership is exact: marker "hr:" never touches users or groups of a SyncTarget whose marker is
// "hr:eu:", and a directory id holding ':' cannot forge one.
func TestOwnershipIsExactOnTheMarker(t *testing.T) {
	e := newEnv(t)
	e.target.Seed([]model.User{
		{TargetID: "eu-1", ExternalID: "hr:eu:E0001", UserName: "eu.one", Active: true},
		{TargetID: "eu-2", ExternalID: "hr:eu:E0002", UserName: "eu.two", Active: false},
	}, []model.Group{{TargetID: "eu-g", DisplayName: "staff", ExternalID: "hr:eu:group:staff", Members: []string{"eu-1"}}})
	people := staff(2)
	people = append(people, person{id: "eu:E0009", login: "colon", first: "Co", last: "Lon", dept: "10", groups: "staff", status: "active"})
	res := e.run(people)
	if u := e.mustUser("colon"); u.ExternalID != "hr:eu%3AE0009" {
		t.Errorf("externalId of id eu:E0009 = %q, want the ':' escaped", u.ExternalID)
	}
	for _, a := range res.Plan.Actions {
		// Adding our users to the group named in the source is fine (groups are found by name);
		// changing the other SyncTarget's users or removing its members is not.
		if a.TargetID == "eu-1" || a.TargetID == "eu-2" || (a.GroupTargetID == "eu-g" && a.Kind != plan.KindAddMember) {
			t.Errorf("action on another SyncTarget's user or group: %s", a.Describe())
		}
	}
	e.now = e.now.Add(3 * grace)
	e.run(people)
	for _, id := range []string{"eu-1", "eu-2"} {
		if !slices.ContainsFunc(e.target.Users(), func(u model.User) bool { return u.TargetID == id }) {
			t.Errorf("%s deleted", id)
		}
	}
	if !e.mustUser("eu.one").Active {
		t.Errorf("eu.one suspended")
	}
	e.expectConverged(people)
}
