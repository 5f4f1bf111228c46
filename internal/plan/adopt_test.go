package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func adoptOn(attrs ...string) func(*Policy) {
	return func(p *Policy) { p.Controls.Adoption = &Adoption{MatchOn: attrs} }
}

// preExisting is u as an app holds it before the operator came: no externalId.
func preExisting(u model.User, mods ...func(*model.User)) model.User {
	u.ExternalID = ""
	return inTarget(u, mods...)
}

func kinds(actions []Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, string(a.Kind)+" "+a.UserName)
	}
	return out
}

func hasProblem(p Plan, subject string, reason model.ProblemReason, contains string) bool {
	return slices.ContainsFunc(p.Problems, func(pr model.Problem) bool {
		return pr.Subject == subject && pr.Reason == reason && strings.Contains(pr.Message, contains)
	})
}

func TestAdoptionIsOffByDefault(t *testing.T) {
	alice := person("alice")
	p := Compute(Input{Desired: []model.User{alice}, Actual: []model.User{preExisting(alice)},
		Policy: policy(), Now: now, SourceComplete: true})
	if len(p.Actions) != 0 || !hasProblem(p, "alice", model.ReasonConflict, "not managed") {
		t.Fatalf("want only a Conflict, got %v %v", kinds(p.Actions), p.Problems)
	}
}

func TestAdoptMatchesCaseInsensitivelyAndConverges(t *testing.T) {
	alice, bob := person("alice", groups("Eng")), person("bob")
	actual := []model.User{
		preExisting(alice, func(u *model.User) { u.UserName = "ALICE"; u.DisplayName = "old" }),
		preExisting(bob, func(u *model.User) { u.UserName = "robert"; u.Email = "BOB@example.COM" }),
	}
	pol := policy(adoptOn(MatchUserName, MatchEmail))
	p := Compute(Input{Desired: []model.User{alice, bob}, Actual: actual, Groups: []model.Group{managedGroup("Eng")},
		Policy: pol, Now: now, SourceComplete: true})
	if p.Blocked != nil || len(p.Problems) > 0 {
		t.Fatalf("blocked %v problems %v", p.Blocked, p.Problems)
	}
	want := []string{"Adopt ALICE", "Adopt robert", "AddMember alice"}
	if got := kinds(p.Actions); !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v (adoptions first)", got, want)
	}
	a := p.Actions[0]
	// userName and emails are not caseExact (RFC 7643): ALICE is alice, and BOB@example.COM bob's
	// email, so only real differences are written.
	if a.TargetID != "id-alice" || a.ExternalID != pfx+"alice" || !slices.Equal(a.Fields, []string{FieldExternalID, model.FieldDisplayName}) ||
		!strings.Contains(a.Reason, "userName") {
		t.Fatalf("adopt action %+v", a)
	}
	if b := p.Actions[1]; !strings.Contains(b.Reason, "email") || !slices.Equal(b.Fields, []string{FieldExternalID, model.FieldUserName}) {
		t.Fatalf("adopt by email %+v", b)
	}
	if p.Summary.Adoptions != 2 {
		t.Fatalf("summary %+v", p.Summary)
	}
	// Applied: the users carry the marker and the desired values; the next run plans nothing.
	after := []model.User{inTarget(alice), inTarget(bob)}
	next := Compute(Input{Desired: []model.User{alice, bob}, Actual: after,
		Groups: []model.Group{managedGroup("Eng", "id-alice")}, Policy: pol, Now: now, SourceComplete: true})
	if len(next.Actions) != 0 || len(next.Problems) != 0 {
		t.Fatalf("not converged: %v %v", kinds(next.Actions), next.Problems)
	}
}

func TestAdoptRefusesAmbiguousAndOwnedCandidates(t *testing.T) {
	alice, bob, carol, dave := person("alice"), person("bob"), person("carol"), person("dave")
	eve := person("eve", func(u *model.User) { u.EmployeeNumber = "7" })
	frank := person("frank", func(u *model.User) { u.EmployeeNumber = "7" })
	actual := []model.User{
		// two target users hold alice's email
		preExisting(alice, func(u *model.User) { u.UserName = "a1" }),
		preExisting(alice, func(u *model.User) { u.UserName = "a2"; u.TargetID = "id-a2" }),
		// bob's candidate is owned by another SyncTarget
		preExisting(bob, func(u *model.User) { u.ExternalID = "other:bob" }),
		// carol's candidate is managed by this SyncTarget under another id
		preExisting(carol, func(u *model.User) { u.ExternalID = pfx + "carol-old" }),
		// dave's candidate carries a look-alike marker
		preExisting(dave, func(u *model.User) { u.ExternalID = pfx }),
		// eve and frank share an employee number held by one target user
		preExisting(person("x7"), func(u *model.User) { u.EmployeeNumber = "7"; u.Email = "" }),
	}
	p := Compute(Input{Desired: []model.User{alice, bob, carol, dave, eve, frank}, Actual: actual,
		Policy: policy(adoptOn(MatchEmail, MatchEmployeeNumber)), Now: now, SourceComplete: true})
	for _, a := range p.Actions {
		if a.Kind == KindAdopt || a.Kind == KindCreate || a.Kind == KindUpdate {
			t.Errorf("unexpected %s", a.Describe())
		}
	}
	for _, c := range []struct{ subject, msg string }{
		{"alice", "2 target users match on email"},
		{"bob", `externalId "other:bob"`},
		{"carol", "managed by this SyncTarget"},
		{"eve", "matches 2 people"},
		{"frank", "matches 2 people"},
	} {
		if !hasProblem(p, c.subject, model.ReasonConflict, c.msg) {
			t.Errorf("no Conflict %q for %s in %v", c.msg, c.subject, p.Problems)
		}
	}
	// dave's candidate carries "ds:" without an id: never adopted, whoever it belongs to.
	if !hasProblem(p, "dave", model.ReasonConflict, "neither adopted nor created") {
		t.Errorf("dave: %v", p.Problems)
	}
}

func TestAdoptByExternalIDTakesTheBareID(t *testing.T) {
	alice := person("alice")
	actual := []model.User{preExisting(alice, func(u *model.User) { u.ExternalID = "alice"; u.UserName = "al" })}
	p := Compute(Input{Desired: []model.User{alice}, Actual: actual,
		Policy: policy(adoptOn(MatchExternalID)), Now: now, SourceComplete: true})
	if got := kinds(p.Actions); !slices.Equal(got, []string{"Adopt al"}) {
		t.Fatalf("%v %v", got, p.Problems)
	}
}

func TestAdoptionLimitAndApproval(t *testing.T) {
	var desired, actual []model.User
	for _, n := range []string{"a1", "a2", "a3"} {
		u := person(n)
		desired = append(desired, u)
		actual = append(actual, preExisting(u))
	}
	two := 2
	pol := policy(adoptOn(MatchUserName), func(p *Policy) { p.Controls.MaxAdoptions = &two })
	p := Compute(Input{Desired: desired, Actual: actual, Policy: pol, Now: now, SourceComplete: true})
	if p.Blocked == nil || p.Blocked.Reason != ReasonAdoptionThresholdExceeded || !strings.Contains(p.Blocked.Message, "adopt 3 users, limit 2 (maxAdoptions 2)") {
		t.Fatalf("blocked %+v", p.Blocked)
	}
	pol.ApprovedFingerprint = p.Fingerprint
	p = Compute(Input{Desired: desired, Actual: actual, Policy: pol, Now: now, SourceComplete: true})
	if p.Blocked != nil || !p.ApprovalUsed || p.Summary.Adoptions != 3 {
		t.Fatalf("approved: %+v %v", p.Blocked, p.Summary)
	}
}

func TestAdoptWithUpdatesOffWritesOnlyTheMarker(t *testing.T) {
	alice := person("alice")
	actual := []model.User{preExisting(alice, func(u *model.User) { u.DisplayName = "old" })}
	pol := policy(adoptOn(MatchUserName), func(p *Policy) { p.Controls.Off.NoUpdate = true })
	p := Compute(Input{Desired: []model.User{alice}, Actual: actual, Policy: pol, Now: now, SourceComplete: true})
	if len(p.Actions) != 1 || !slices.Equal(p.Actions[0].Fields, []string{FieldExternalID}) {
		t.Fatalf("actions %v", p.Actions)
	}
	if len(p.Withheld) != 1 || p.Withheld[0].Kind != KindUpdate || !strings.Contains(p.Withheld[0].Reason, "spec.actions.update is off") {
		t.Fatalf("withheld %v", p.Withheld)
	}
}

func TestSwitchesWithholdActions(t *testing.T) {
	alice, bob, carol := person("alice", groups("New")), person("bob", func(u *model.User) { u.DisplayName = "B" }), person("carol")
	gone := person("gone")
	old := person("old")
	in := Input{
		Desired: []model.User{alice, bob, carol},
		Actual: []model.User{inTarget(bob, func(u *model.User) { u.DisplayName = "x" }), inTarget(carol),
			inTarget(gone), inTarget(old, inactive)},
		State:  suspended("old", now.Add(-2*grace)),
		Policy: policy(), Now: now, SourceComplete: true,
	}
	in.Policy.MinSourcePercent = 0
	base := Compute(in)
	if got := kinds(base.Actions); !slices.Equal(got, []string{"CreateGroup ", "Create alice", "Update bob", "AddMember alice", "Suspend gone", "Delete old"}) {
		t.Fatalf("base %v", got)
	}
	for _, c := range []struct {
		off      Switches
		withheld []string
	}{
		{Switches{NoCreate: true}, []string{"CreateGroup ", "Create alice", "AddMember alice"}},
		{Switches{NoUpdate: true}, []string{"Update bob", "AddMember alice"}},
		{Switches{NoSuspend: true}, []string{"Suspend gone"}},
		{Switches{NoDelete: true}, []string{"Delete old"}},
	} {
		in.Policy.Controls.Off = c.off
		p := Compute(in)
		if got := kinds(p.Withheld); !slices.Equal(got, c.withheld) {
			t.Errorf("%+v: withheld %v, want %v", c.off, got, c.withheld)
		}
		if len(p.Actions)+len(p.Withheld) != len(base.Actions) || p.Summary.Withheld != len(c.withheld) {
			t.Errorf("%+v: %d actions + %d withheld", c.off, len(p.Actions), len(p.Withheld))
		}
		// A withheld suspension starts no grace clock; a withheld deletion keeps its clock.
		if _, ok := p.State.Suspended[pfx+"gone"]; ok == c.off.NoSuspend {
			t.Errorf("%+v: grace clock of gone: %v", c.off, p.State.Suspended)
		}
		if since, ok := p.State.Suspended[pfx+"old"]; c.off.NoDelete && (!ok || !since.Equal(now.Add(-2*grace))) {
			t.Errorf("%+v: clock of old %v", c.off, p.State.Suspended)
		}
	}
}

func TestCreateAndMembershipRemovalLimits(t *testing.T) {
	alice, bob := person("alice"), person("bob", groups())
	one, zero := 1, 0
	in := Input{
		Desired: []model.User{alice, bob, person("carol")},
		Actual:  []model.User{inTarget(bob)},
		Groups:  []model.Group{managedGroup("Eng", "id-bob")},
		Policy: policy(func(p *Policy) {
			p.Controls.MaxCreates = &one
			p.Controls.MaxMembershipRemovals = &zero
		}),
		Now: now, SourceComplete: true,
	}
	p := Compute(in)
	if p.Blocked == nil || p.Blocked.Reason != ReasonCreateThresholdExceeded ||
		!strings.Contains(p.Blocked.Message, "create 2 users, limit 1 (maxCreates 1)") || !strings.Contains(p.Blocked.Message, "remove 1 group memberships, limit 0 (maxMembershipRemovals 0)") {
		t.Fatalf("blocked %+v", p.Blocked)
	}
	in.Policy.ApprovedFingerprint = p.Fingerprint
	if p := Compute(in); p.Blocked != nil || !p.ApprovalUsed {
		t.Fatalf("approval did not lift: %+v", p.Blocked)
	}
}

func TestPurgeAndExtendGrace(t *testing.T) {
	alice := person("alice")
	gone, away, here := person("gone"), person("away"), person("here")
	since := now.Add(-time.Hour)
	in := Input{
		Desired: []model.User{alice, here},
		Actual:  []model.User{inTarget(alice), inTarget(gone, inactive), inTarget(away, inactive), inTarget(here, inactive)},
		State:   suspended("gone", since, "away", now.Add(-grace-time.Hour), "here", since),
		Policy: policy(func(p *Policy) {
			p.MinSourcePercent = 0
			// here is in the source: a purge request must never touch it
			p.Controls.Purge = map[string]bool{pfx + "gone": true, pfx + "here": true}
			p.Controls.ExtendGrace = map[string]time.Duration{pfx + "away": 48 * time.Hour}
		}),
		Now: now, SourceComplete: true,
	}
	p := Compute(in)
	var offboarded []string
	for _, a := range p.Actions {
		if a.Kind.IsOffboarding() {
			offboarded = append(offboarded, a.Describe())
		}
	}
	if len(offboarded) != 1 || !strings.HasPrefix(offboarded[0], "delete gone: ") || !strings.Contains(offboarded[0], "purge requested") {
		t.Fatalf("offboarded %v", offboarded)
	}
	if got := p.State.Suspended[pfx+"away"]; !got.Equal(now.Add(-grace - time.Hour + 48*time.Hour)) {
		t.Fatalf("away's clock %v", got)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{"purge of gone: planned", "purge of here ignored", "grace period of away extended by 48h0m0s"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	// Anonymize stays the offboarding action of a purge under afterGrace Anonymize.
	in.Policy.AfterGrace = OffboardAnonymize
	if p := Compute(in); !slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Kind == KindAnonymize && a.UserName == "gone" }) {
		t.Fatalf("anonymize purge: %v", kinds(p.Actions))
	}
}
