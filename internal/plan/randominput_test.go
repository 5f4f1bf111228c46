package plan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

var allFields = append(slices.Clone(model.StringFields), model.FieldActive, model.FieldGroups)

// randomInput builds a small messy world around n people: managed and unmanaged target users,
// duplicates, collisions, drifted fields, memberships and grace clocks at random stages.
func randomInput(r *rand.Rand, n int) Input {
	groupNames := []string{"Eng", "Sales", "Ops"}
	pick := func(p float64) bool { return r.Float64() < p }
	var in Input
	for i := range n {
		name := fmt.Sprintf("u%d", i)
		isDesired := pick(0.6)
		if isDesired {
			d := person(name)
			d.Active = pick(0.9)
			d.Department = groupNames[r.IntN(3)]
			for _, g := range groupNames {
				if pick(0.4) {
					d.Groups = append(d.Groups, g)
				}
			}
			switch {
			case pick(0.04):
				d.Email = "shared@example.com"
			case pick(0.03):
				d.ExternalID = pfx + "u0"
			case pick(0.03):
				d.UserName = "U1"
			case pick(0.02):
				d.ExternalID = "nopfx:" + name
			}
			in.Desired = append(in.Desired, d)
		}
		if pick(0.6) {
			a := inTarget(person(name))
			a.Active = pick(0.7)
			a.Department = groupNames[r.IntN(3)]
			if pick(0.2) {
				a.Title = "manual"
			}
			switch {
			case pick(0.2):
				a.ExternalID = "hr:" + name
			case pick(0.05): // another SyncTarget's marker that starts with ours
				a.ExternalID = pfx + "eu:" + name
			case pick(0.03):
				a.ExternalID = pfx + "u2"
			case pick(0.05):
				a = AnonymizedUser(a)
			}
			in.Actual = append(in.Actual, a)
		}
		switch { // present in the source but not desired (held: also a duplicate of a desired row)
		case pick(0.1):
			in.Held = append(in.Held, pfx+name)
		case isDesired:
		case pick(0.1):
			in.OutOfScope = append(in.OutOfScope, pfx+name)
		case pick(0.05):
			in.Disabled = append(in.Disabled, pfx+name)
		}
		if pick(0.4) {
			if in.State.Suspended == nil {
				in.State.Suspended = map[string]time.Time{}
			}
			in.State.Suspended[pfx+name] = now.Add(time.Duration(r.Int64N(int64(3*grace))) - 2*grace)
		}
	}
	for _, g := range append(groupNames, "Manual") {
		grp := model.Group{TargetID: "g-" + g, DisplayName: g}
		if g != "Manual" && pick(0.7) {
			grp.ExternalID = GroupExternalID(pfx, g)
		}
		for _, a := range in.Actual {
			if pick(0.3) {
				grp.Members = append(grp.Members, a.TargetID)
			}
		}
		if pick(0.2) {
			grp.Members = append(grp.Members, "id-unknown")
		}
		if pick(0.8) {
			in.Groups = append(in.Groups, grp)
		}
		if pick(0.1) { // a hand-made group whose name differs only in case (adopted or ambiguous)
			in.Groups = append(in.Groups, model.Group{TargetID: "g3-" + g, DisplayName: strings.ToLower(g), Members: slices.Clone(grp.Members)})
		}
		if pick(0.2) { // a second group with the same display name
			twin := model.Group{TargetID: "g2-" + g, DisplayName: g, Members: slices.Clone(grp.Members)}
			if pick(0.5) {
				twin.ExternalID = pfx + "other:" + g
			}
			in.Groups = append(in.Groups, twin)
		}
	}
	in.Policy = Policy{
		ExternalIDPrefix:   pfx,
		GracePeriod:        grace,
		AfterGrace:         []OffboardAction{"", OffboardKeep, OffboardDelete, OffboardAnonymize}[r.IntN(4)],
		MaxDeletions:       r.IntN(8) - 1,
		MaxDeletionPercent: []int{0, 0, 10, 50}[r.IntN(4)],
		MinSourcePercent:   []int{0, 0, 50}[r.IntN(3)],
		AllowEmptySource:   pick(0.2),
		OutOfScope:         []OutOfScopeAction{"", OutOfScopeSuspend, OutOfScopeKeep}[r.IntN(3)],
		Controls:           Controls{AdoptGroups: pick(0.4)},
	}
	for _, f := range allFields {
		if pick(0.7) {
			in.Policy.ManagedFields = append(in.Policy.ManagedFields, f)
		}
	}
	in.Now = now
	in.SourceComplete = pick(0.8)
	return in
}

// shuffled returns a copy of in with users, groups and members in another order.
func shuffled(in Input, r *rand.Rand) Input {
	out := in
	out.Desired = slices.Clone(in.Desired)
	out.Actual = slices.Clone(in.Actual)
	out.Groups = slices.Clone(in.Groups)
	for i := range out.Groups {
		out.Groups[i].Members = slices.Clone(out.Groups[i].Members)
		r.Shuffle(len(out.Groups[i].Members), func(a, b int) {
			out.Groups[i].Members[a], out.Groups[i].Members[b] = out.Groups[i].Members[b], out.Groups[i].Members[a]
		})
	}
	r.Shuffle(len(out.Desired), func(a, b int) { out.Desired[a], out.Desired[b] = out.Desired[b], out.Desired[a] })
	r.Shuffle(len(out.Actual), func(a, b int) { out.Actual[a], out.Actual[b] = out.Actual[b], out.Actual[a] })
	r.Shuffle(len(out.Groups), func(a, b int) { out.Groups[a], out.Groups[b] = out.Groups[b], out.Groups[a] })
	return out
}
