package plan

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func FuzzPlan(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed, uint8(10))
	}
	f.Add(uint64(99), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, size uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(size)))
		in := randomInput(r, int(size%64))
		p := Compute(in)
		checkInvariants(t, in, p)
		if again := Compute(shuffled(in, r)); !reflect.DeepEqual(again, p) {
			t.Fatalf("plan depends on input order:\n got  %s\n want %s", again, p)
		}
	})
}

func TestInvariantsOnRandomInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		in := randomInput(r, 1+r.IntN(40))
		p := Compute(in)
		checkInvariants(t, in, p)
		if p.Blocked == nil || p.Blocked.Reason != ReasonDeletionThresholdExceeded {
			continue
		}
		// Approving exactly the blocked plan lets the same plan through, and only it.
		in.Policy.ApprovedFingerprint = p.Fingerprint
		approved := Compute(in)
		checkInvariants(t, in, approved)
		if approved.Blocked != nil || !approved.ApprovalUsed || !reflect.DeepEqual(approved.Actions, p.Actions) {
			t.Fatalf("approval of %s: blocked %v, used %v, actions differ %v", p.Fingerprint, approved.Blocked, approved.ApprovalUsed,
				!reflect.DeepEqual(approved.Actions, p.Actions))
		}
	}
}

// checkInvariants asserts the safety properties every plan must have.
func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	pol := in.Policy
	// Owned: the marker followed by an id part without ':' (written independently of OwnsUser).
	managed := func(ext string) bool {
		rest, ok := strings.CutPrefix(ext, pol.ExternalIDPrefix)
		return ok && rest != "" && !strings.Contains(rest, ":")
	}
	managedGroup := func(ext string) bool {
		name, ok := strings.CutPrefix(ext, pol.ExternalIDPrefix+"group:")
		return ok && name != ""
	}
	held := map[string]bool{}
	for _, ext := range in.Held {
		held[ext] = true
	}
	keptOutOfScope := map[string]bool{}
	if pol.OutOfScope == OutOfScopeKeep {
		for _, ext := range in.OutOfScope {
			keptOutOfScope[ext] = true
		}
	}
	actualByID := map[string]model.User{}
	// The percentage guards count people: managed users less the settled ones (anonymized, or
	// suspended past the grace period under afterGrace Keep).
	peopleCount := 0
	for _, a := range in.Actual {
		actualByID[a.TargetID] = a
		if !managed(a.ExternalID) {
			continue
		}
		since, suspended := in.State.Suspended[a.ExternalID]
		keep := pol.AfterGrace == "" || pol.AfterGrace == OffboardKeep
		settled := !a.Active && (a.UserName == AnonymizedUserName(a.ExternalID) ||
			keep && suspended && in.Now.Sub(since) >= pol.GracePeriod)
		if !settled {
			peopleCount++
		}
	}
	groupByID := map[string]model.Group{}
	for _, g := range in.Groups {
		groupByID[g.TargetID] = g
	}
	desiredCount := map[string]int{}
	for _, d := range in.Desired {
		desiredCount[d.ExternalID]++
	}
	adopted := map[string]bool{} // target ids of the groups this plan adopts
	for _, a := range p.Actions {
		if a.Kind != KindAdoptGroup {
			continue
		}
		g, ok := groupByID[a.GroupTargetID]
		twins := 0
		for _, o := range in.Groups {
			if strings.EqualFold(o.DisplayName, g.DisplayName) {
				twins++
			}
		}
		if !pol.Controls.AdoptGroups || !ok || g.ExternalID != "" || !managedGroup(a.ExternalID) || twins != 1 || adopted[g.TargetID] ||
			!strings.EqualFold(strings.TrimPrefix(a.ExternalID, pol.ExternalIDPrefix+"group:"), g.DisplayName) {
			t.Fatalf("adoption of group %+v (%d of that name): %+v", g, twins, a)
		}
		adopted[g.TargetID] = true
	}
	offboardings := 0
	for _, a := range p.Actions {
		if a.Kind == KindAdoptGroup {
			continue
		}
		if a.Kind == KindCreateGroup {
			if !managedGroup(a.ExternalID) {
				t.Fatalf("group created without the group marker: %+v", a)
			}
			continue
		}
		if !managed(a.ExternalID) {
			t.Fatalf("action on an unmanaged externalId: %+v", a)
		}
		if held[a.ExternalID] {
			t.Fatalf("action on a held user (present in the source, not mappable): %+v", a)
		}
		if keptOutOfScope[a.ExternalID] && a.Kind.IsOffboarding() {
			t.Fatalf("offboarding an out-of-scope user under outOfScope Keep: %+v", a)
		}
		if a.TargetID != "" {
			u, ok := actualByID[a.TargetID]
			if !ok || !managed(u.ExternalID) || u.ExternalID != a.ExternalID {
				t.Fatalf("action on target user %+v: %+v", u, a)
			}
		}
		if a.Kind.IsOffboarding() {
			offboardings++
			if !in.SourceComplete || p.OffboardingHeld != nil {
				t.Fatalf("offboarding although held (complete=%v): %+v", in.SourceComplete, a)
			}
			if !actualByID[a.TargetID].Active && a.Kind == KindSuspend {
				t.Fatalf("suspending an inactive user: %+v", a)
			}
		}
		switch a.Kind {
		case KindCreate:
			for _, u := range in.Actual {
				if managed(u.ExternalID) && u.ExternalID == a.ExternalID {
					t.Fatalf("creating a user that exists: %+v", a)
				}
				if strings.EqualFold(u.UserName, a.UserName) {
					t.Fatalf("creating a userName the target holds (%+v): %+v", u, a)
				}
			}
		case KindAddMember:
			// With group adoption on, members go only to the operator's groups (owned, adopted now,
			// or created now): a hand-made or foreign group of that name was adopted or refused.
			if g, ok := groupByID[a.GroupTargetID]; pol.Controls.AdoptGroups && ok && !managedGroup(g.ExternalID) && !adopted[g.TargetID] {
				t.Fatalf("member added to a group the operator neither owns nor adopts, %+v: %+v", g, a)
			}
		case KindUpdate:
			for _, f := range a.Fields {
				if !slices.Contains(pol.ManagedFields, f) || f == model.FieldActive || f == model.FieldGroups {
					t.Fatalf("update of field %q, managed %v: %+v", f, pol.ManagedFields, a)
				}
			}
		case KindRemoveMember:
			g, ok := groupByID[a.GroupTargetID]
			if !in.SourceComplete || !ok || !(managedGroup(g.ExternalID) || adopted[g.TargetID]) || !slices.Contains(g.Members, a.TargetID) {
				t.Fatalf("membership removal from group %+v (complete=%v): %+v", g, in.SourceComplete, a)
			}
		case KindDelete, KindAnonymize:
			u := actualByID[a.TargetID]
			since, ok := in.State.Suspended[a.ExternalID]
			if u.Active || desiredCount[a.ExternalID] > 0 || !ok || in.Now.Sub(since) < pol.GracePeriod {
				t.Fatalf("%s of %+v suspended since %v (recorded %v): %+v", a.Kind, u, since, ok, a)
			}
			if string(a.Kind) != string(pol.AfterGrace) {
				t.Fatalf("%s under afterGrace %q", a.Kind, pol.AfterGrace)
			}
		}
	}
	for ext, since := range p.State.Suspended {
		prev, had := in.State.Suspended[ext]
		if held[ext] && (!had || !since.Equal(prev)) {
			t.Fatalf("held user %s: grace clock changed from %v (recorded %v) to %v", ext, prev, had, since)
		}
		if !since.Equal(in.Now) && !(had && since.Equal(prev)) {
			t.Fatalf("state invents a suspension start for %s: %v (had %v %v)", ext, since, had, prev)
		}
		if !managed(ext) {
			t.Fatalf("state tracks an unmanaged externalId %s", ext)
		}
	}
	limit := -1
	if pol.MaxDeletions >= 0 {
		limit = pol.MaxDeletions
	}
	// The percent limit rounds up: ceil(percent * people / 100).
	if pct := int(math.Ceil(float64(pol.MaxDeletionPercent*peopleCount) / 100)); pol.MaxDeletionPercent > 0 && (limit < 0 || pct < limit) {
		limit = pct
	}
	exceeded := limit >= 0 && offboardings > limit
	// The limits of Controls are checked by their own tests.
	if c := pol.Controls; reflect.DeepEqual(Controls{AdoptGroups: c.AdoptGroups}, c) {
		approved := pol.ApprovedFingerprint != "" && pol.ApprovedFingerprint == OffboardingFingerprint(p.Actions)
		if blocked := p.Blocked != nil; blocked != (exceeded && !approved) {
			t.Fatalf("blocked=%v with %d offboardings, limit %d, approved %q", blocked, offboardings, limit, pol.ApprovedFingerprint)
		}
		if exceeded != (p.Fingerprint != "") || p.ApprovalUsed != (exceeded && approved) {
			t.Fatalf("fingerprint %q, approval used %v with %d offboardings, limit %d", p.Fingerprint, p.ApprovalUsed, offboardings, limit)
		}
	}
	if p.Blocked != nil && !reflect.DeepEqual(p.State, copyState(in.State)) {
		t.Fatalf("a blocked plan changes the state")
	}
	if p.Summary.Offboardings != offboardings {
		t.Fatalf("summary counts %d offboardings, actions %d", p.Summary.Offboardings, offboardings)
	}
}
