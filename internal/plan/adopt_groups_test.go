package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func adoptGroups(p *Policy) { p.Controls.AdoptGroups = true }

// groupActions lists the membership and group actions as "Kind user group".
func groupActions(actions []Action) []string {
	var out []string
	for _, a := range actions {
		if a.Group != "" {
			out = append(out, strings.TrimSpace(string(a.Kind)+" "+a.UserName)+" "+a.Group)
		}
	}
	return out
}

// A hand-made group "staff" holds alice (in it in the directory), bob (managed, not in it in the
// directory), carol (managed, gone from the source) and two users the operator does not own.
func staffWorld() (desired, actual []model.User, group model.Group) {
	alice, bob, carol := person("alice", groups("Staff")), person("bob"), person("carol")
	desired = []model.User{alice, bob}
	actual = []model.User{inTarget(alice), inTarget(bob), inTarget(carol),
		preExisting(person("hand")), inTarget(person("other"), unmanaged)}
	group = model.Group{TargetID: "g-staff", DisplayName: "staff",
		Members: []string{"id-alice", "id-bob", "id-carol", "id-hand", "id-other"}}
	return desired, actual, group
}

func TestGroupAdoptionIsOffByDefault(t *testing.T) {
	desired, actual, staff := staffWorld()
	desired[0].Groups = []string{"staff"} // today's match is by exact name
	p := Compute(Input{Desired: desired, Actual: actual, Groups: []model.Group{staff},
		Policy: policy(), Now: now, SourceComplete: true})
	// Unchanged behaviour: nothing adopted, nobody removed from the hand-made group.
	for _, a := range p.Actions {
		if a.Kind == KindAdoptGroup || a.Kind == KindRemoveMember || a.Kind == KindCreateGroup {
			t.Fatalf("without adoption.groups: %v", groupActions(p.Actions))
		}
	}
}

func TestAdoptGroupByNameCaseInsensitivelyKeepsHandMadeMembersAndConverges(t *testing.T) {
	desired, actual, staff := staffWorld()
	pol := policy(adoptGroups)
	in := Input{Desired: desired, Actual: actual, Groups: []model.Group{staff}, Policy: pol, Now: now, SourceComplete: true}
	p := Compute(in)
	if p.Blocked != nil || len(p.Problems) > 0 {
		t.Fatalf("blocked %v problems %v", p.Blocked, p.Problems)
	}
	// The group is adopted first, under the source's name; bob, whom the directory does not put in
	// it, leaves it; carol (absent: offboarded, memberships kept) and the users the operator does
	// not own stay members.
	want := []string{"AdoptGroup staff", "RemoveMember bob staff"}
	if got := groupActions(p.Actions); !slices.Equal(got, want) {
		t.Fatalf("group actions %v, want %v", got, want)
	}
	a := p.Actions[0]
	if a.ExternalID != GroupExternalID(pfx, "Staff") || a.GroupTargetID != "g-staff" {
		t.Fatalf("adopt action %+v", a)
	}
	if got := a.Describe(); got != `adopt group staff (matched on displayName, the source's "Staff")` {
		t.Fatalf("describe %q", got)
	}
	if p.Summary.GroupAdoptions != 1 || p.Summary.Adoptions != 0 || p.Summary.MemberRemovals != 1 {
		t.Fatalf("summary %+v", p.Summary)
	}

	// Applied: the group carries the marker and bob is out; the next run plans no group write.
	staff.ExternalID = a.ExternalID
	staff.Members = slices.DeleteFunc(slices.Clone(staff.Members), func(id string) bool { return id == "id-bob" })
	in.Groups = []model.Group{staff}
	next := Compute(in)
	if got := groupActions(next.Actions); len(got) != 0 || len(next.Problems) != 0 {
		t.Fatalf("not converged: %v %v", got, next.Problems)
	}

	// An incomplete read adopts, but removes nobody.
	in.Groups = []model.Group{func() model.Group { _, _, g := staffWorld(); return g }()}
	in.SourceComplete = false
	held := Compute(in)
	if got := groupActions(held.Actions); !slices.Equal(got, []string{"AdoptGroup staff"}) {
		t.Fatalf("incomplete read: %v", got)
	}
}

func TestAdoptGroupRefusesAmbiguousAndOwnedCandidates(t *testing.T) {
	alice := person("alice", groups("Ops", "Sales", "Fin", "Dev"))
	bob := person("bob", groups("DEV"))
	in := Input{
		Desired: []model.User{alice, bob},
		Actual:  []model.User{inTarget(alice), inTarget(bob)},
		Groups: []model.Group{
			unmanagedGroup("Ops"), {TargetID: "g-OPS", DisplayName: "OPS"}, // two candidates
			{TargetID: "g-sales", DisplayName: "Sales", ExternalID: "hr:group:Sales"}, // another owner's
			// this SyncTarget's group under another name: alice is in it and stays in it
			{TargetID: "g-fin", DisplayName: "fin", ExternalID: GroupExternalID(pfx, "finance"), Members: []string{"id-alice"}},
			unmanagedGroup("dev"), // claimed by "Dev" and "DEV"
		},
		Policy: policy(adoptGroups), Now: now, SourceComplete: true,
	}
	p := Compute(in)
	if got := groupActions(p.Actions); len(got) != 0 {
		t.Fatalf("ambiguous or owned groups: want no group action, got %v", got)
	}
	for _, c := range []struct{ group, msg string }{
		{"Ops", `2 target groups are named "OPS", "Ops"`},
		{"Sales", `carries the externalId "hr:group:Sales" of another owner`},
		{"Fin", "managed by this SyncTarget as " + pfx + "group:finance"},
		{"Dev", "matches 2 groups of the directory (DEV, Dev)"},
		{"DEV", "matches 2 groups of the directory"},
	} {
		if !hasProblem(p, "group "+c.group, model.ReasonConflict, c.msg) {
			t.Errorf("no Conflict for group %s containing %q: %v", c.group, c.msg, p.Problems)
		}
	}
	// Without the option the same world adds members by exact name and creates the others.
	in.Policy = policy()
	if got := groupActions(Compute(in).Actions); !slices.Contains(got, "AddMember alice Ops") {
		t.Fatalf("without adoption.groups: %v", got)
	}
}

func TestGroupAdoptionsCountAgainstMaxAdoptions(t *testing.T) {
	desired, actual, staff := staffWorld()
	actual[0].ExternalID = "" // alice was made by hand too
	one := 1
	in := Input{Desired: desired, Actual: actual, Groups: []model.Group{staff}, Now: now, SourceComplete: true,
		Policy: policy(adoptGroups, adoptOn(MatchUserName), func(p *Policy) { p.Controls.MaxAdoptions = &one })}
	p := Compute(in)
	if p.Blocked == nil || p.Blocked.Reason != ReasonAdoptionThresholdExceeded ||
		!strings.Contains(p.Blocked.Message, "adopt 1 users and 1 groups, limit 1") {
		t.Fatalf("blocked %+v", p.Blocked)
	}
	// The fingerprint covers the group adoption: approving it lets exactly this plan through.
	in.Policy.ApprovedFingerprint = p.Fingerprint
	if approved := Compute(in); approved.Blocked != nil || !approved.ApprovalUsed {
		t.Fatalf("approved plan: %+v", approved.Blocked)
	}
	if fp := Fingerprint(p.Actions, []Kind{KindAdopt}); fp == p.Fingerprint {
		t.Fatal("the fingerprint ignores the group adoption")
	}
}
