package plan

import (
	"slices"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// memberships returns the add and remove lines of a plan, and of its withheld actions.
func memberships(p Plan) (lines, withheld []string) {
	pick := func(actions []Action) []string {
		var out []string
		for _, a := range actions {
			if a.Kind == KindAddMember || a.Kind == KindRemoveMember {
				out = append(out, a.Describe()+" ["+a.TargetID+"]")
			}
		}
		return out
	}
	return pick(p.Actions), pick(p.Withheld)
}

func TestAdoptedUserMembershipsAreManagedInTheSameRun(t *testing.T) {
	bob := person("bob", groups("Eng", "Sales"))
	in := Input{
		Desired: []model.User{bob},
		Actual:  []model.User{preExisting(bob)},
		Groups: []model.Group{
			managedGroup("Eng", "id-bob"),   // already a member: nothing to add
			managedGroup("Ops", "id-bob"),   // not desired: removed, the user is ours from this run on
			unmanagedGroup("Lab", "id-bob"), // hand-made: kept
			managedGroup("Sales"),
		},
		Policy: policy(adoptOn(MatchUserName)), Now: now, SourceComplete: true,
	}
	p := Compute(in)
	got, _ := memberships(p)
	want := []string{"add bob to group Sales [id-bob]", "remove bob from group Ops [id-bob]"}
	if !slices.Equal(got, want) || p.Summary.Adoptions != 1 {
		t.Fatalf("memberships %q, want %q; actions %v", got, want, kinds(p.Actions))
	}
	for _, a := range p.Actions {
		if a.Kind == KindRemoveMember && a.ExternalID != pfx+"bob" {
			t.Fatalf("removal names the user by %q, want the externalId it is adopted under", a.ExternalID)
		}
	}
}

func TestMembersThatAreNotManagedUsersAreKept(t *testing.T) {
	alice := person("alice") // in no group any more
	in := Input{
		Desired: []model.User{alice},
		Actual:  []model.User{inTarget(alice), inTarget(person("root"), unmanaged), inTarget(person("gone"))},
		Groups: []model.Group{
			// root is not ours, id-nobody matches no target user, gone is ours but absent (offboarded,
			// memberships kept); only alice leaves
			managedGroup("Eng", "id-root", "id-nobody", "id-alice", "id-gone", "id-alice"),
		},
		Policy: policy(), Now: now, SourceComplete: true,
	}
	p := Compute(in)
	got, _ := memberships(p)
	if want := []string{"remove alice from group Eng [id-alice]"}; !slices.Equal(got, want) {
		t.Fatalf("memberships %q, want %q", got, want)
	}
	// a listing repeated in the group is one removal, yet each listing is withheld when updates are off
	in.Policy.Controls.Off.NoUpdate = true
	got, withheld := memberships(Compute(in))
	if want := []string{"remove alice from group Eng [id-alice]", "remove alice from group Eng [id-alice]"}; len(got) != 0 || !slices.Equal(withheld, want) {
		t.Fatalf("with updates off: planned %q, withheld %q", got, withheld)
	}
}

func TestUnknownGroupMembersAddNobody(t *testing.T) {
	alice := person("alice", groups("Eng"))
	p := Compute(Input{
		Desired: []model.User{alice, person("carol", groups("Eng"))},
		Actual:  []model.User{inTarget(alice)},
		// "id-carol" names no target user: carol is created and added, alice is a member already
		Groups: []model.Group{managedGroup("Eng", "id-carol", "id-alice", "")},
		Policy: policy(), Now: now, SourceComplete: true,
	})
	got, _ := memberships(p)
	if want := []string{"add carol to group Eng []"}; !slices.Equal(got, want) {
		t.Fatalf("memberships %q, want %q", got, want)
	}
}

func TestSharedTargetIDHoldsMembershipRemovals(t *testing.T) {
	alice := person("alice", groups("Sales"))
	twin := inTarget(person("twin"), unmanaged, func(u *model.User) { u.TargetID = "id-alice" })
	in := Input{
		Desired: []model.User{alice},
		Actual:  []model.User{inTarget(alice), twin},
		// the listing of id-alice in Eng may be the twin's: alice is not removed from it; the one in
		// Sales may be hers: nothing is added either
		Groups: []model.Group{managedGroup("Eng", "id-alice"), managedGroup("Sales", "id-alice")},
		Policy: policy(), Now: now, SourceComplete: true,
	}
	for _, order := range [][]model.User{in.Actual, {twin, inTarget(alice)}} {
		in.Actual = order
		if got, _ := memberships(Compute(in)); len(got) != 0 {
			t.Fatalf("target users sharing an id: memberships %q, want none", got)
		}
	}
}

func TestAdoptedUserWithoutIDLeavesNoGroup(t *testing.T) {
	bob := person("bob")
	p := Compute(Input{
		Desired: []model.User{bob},
		Actual:  []model.User{preExisting(bob, func(u *model.User) { u.TargetID = "" })},
		Groups:  []model.Group{managedGroup("Eng", "")}, // a member without id is nobody
		Policy:  policy(adoptOn(MatchUserName)), Now: now, SourceComplete: true,
	})
	if got, _ := memberships(p); len(got) != 0 || p.Summary.Adoptions != 1 {
		t.Fatalf("memberships %q (adoptions %d), want none", got, p.Summary.Adoptions)
	}
}

func TestRemovalsKeepDesiredGroupsResolvedByEitherName(t *testing.T) {
	// Eng is desired by display name; the group carrying the operator's externalId for "Ops" is
	// named "Operations" in the target: a user desired in Ops stays in it.
	ops := managedGroup("Ops", "id-alice")
	ops.DisplayName = "Operations"
	alice := person("alice", groups("Eng", "Ops", "Eng"))
	p := Compute(Input{
		Desired: []model.User{alice},
		Actual:  []model.User{inTarget(alice)},
		Groups:  []model.Group{unmanagedGroup("Eng", "id-alice"), ops, managedGroup("Sales", "id-alice")},
		Policy:  policy(), Now: now, SourceComplete: true,
	})
	got, _ := memberships(p)
	if want := []string{"remove alice from group Sales [id-alice]"}; !slices.Equal(got, want) {
		t.Fatalf("memberships %q, want %q", got, want)
	}
}

func TestUserListedInManyGroups(t *testing.T) {
	// more groups than listedIn scans linearly: it searches the sorted list
	var desired []string
	var grps []model.Group
	for i := range 40 {
		name := string(rune('A'+i%26)) + string(rune('a'+i/26))
		grps = append(grps, managedGroup(name))
		if i%2 == 0 {
			grps[i].Members = []string{"id-alice"}
		}
		if i%4 < 2 {
			desired = append(desired, name)
		}
	}
	alice := person("alice", groups(desired...))
	p := Compute(Input{Desired: []model.User{alice}, Actual: []model.User{inTarget(alice)}, Groups: grps,
		Policy: policy(), Now: now, SourceComplete: true})
	// listed in the even groups, desired in i%4 < 2: add i%4 == 1, remove i%4 == 2
	if p.Summary.MemberAdds != 10 || p.Summary.MemberRemovals != 10 {
		t.Fatalf("summary %+v", p.Summary)
	}
	for _, a := range p.Actions {
		i := slices.IndexFunc(grps, func(g model.Group) bool { return g.DisplayName == a.Group })
		if a.Kind == KindAddMember && i%4 != 1 || a.Kind == KindRemoveMember && i%4 != 2 {
			t.Fatalf("%s (group %d)", a.Describe(), i)
		}
	}
}
