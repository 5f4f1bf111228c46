package syncer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

// The safety property of the whole engine, over many randomised worlds: several SyncTargets share
// one app (the in-memory target), each synced from its own HR record through the real mapper,
// planner and syncer, while their records go bad in every way seen in practice — unknown lookup
// keys, blank required fields, CEL runtime errors, malformed rows, rows without an id, partial
// reads — state is lost and time passes beyond the grace period. Whatever happens:
//   - a person whose id is in the source is never suspended, deleted or anonymized;
//   - a SyncTarget never writes a user (or removes a member of a group) another SyncTarget owns.
func TestPropertyPresentPeopleAreNeverOffboarded(t *testing.T) {
	m, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second) // bounded even on a loaded machine
	cases := 0
	for seed := uint64(1); seed <= 250 && time.Now().Before(deadline); seed++ {
		cases++
		runWorld(t, seed, m)
		if t.Failed() {
			t.Fatalf("world %d broke the property (re-run with this seed to reproduce)", seed)
		}
	}
	if cases < 50 {
		t.Fatalf("only %d worlds ran before the deadline", cases)
	}
	t.Logf("%d randomised worlds", cases)
}

// syncTargetSim is one SyncTarget of a world: its marker, its people and its carried state.
type syncTargetSim struct {
	marker string
	people map[string]person // by id: who is in its source now
	next   int
	state  plan.State
	policy plan.Policy
}

func runWorld(t *testing.T, seed uint64, m interface{ ManagedFields() []string }) {
	r := rand.New(rand.NewPCG(seed, 99))
	pick := func(p float64) bool { return r.Float64() < p }
	app := &guardedTarget{Target: memory.New()}
	// "hr:" and "hr:eu:" overlap as strings: exact ownership must keep them apart all the same.
	markers := []string{"hr:", "hr:eu:", "ad:"}[:2+r.IntN(2)]
	var sims []*syncTargetSim
	for i, mk := range markers {
		s := &syncTargetSim{marker: mk, people: map[string]person{}, policy: plan.Policy{
			ExternalIDPrefix: mk, GracePeriod: grace,
			AfterGrace:    []plan.OffboardAction{plan.OffboardDelete, plan.OffboardAnonymize, plan.OffboardKeep}[r.IntN(3)],
			ManagedFields: m.ManagedFields(), MaxDeletions: -1, MinSourcePercent: []int{0, 50}[r.IntN(2)],
		}}
		for range 4 + r.IntN(8) {
			s.add(i, r)
		}
		sims = append(sims, s)
	}
	now := t0
	mapper, _ := compiled()
	for step := range 8 {
		for i, s := range sims {
			// The world changes: leavers, joiners, and records that go bad for one run.
			for id := range s.people {
				if pick(0.1) {
					delete(s.people, id)
				}
			}
			if pick(0.5) {
				s.add(i, r)
			}
			if pick(0.1) {
				s.state = plan.State{} // status.suspended lost
			}
			var rows []string
			present := map[string]bool{}
			for id, p := range s.people {
				present[plan.UserExternalID(s.marker, id)] = true
				switch {
				case pick(0.08):
					p.dept = "99" // unknown lookup key
				case pick(0.05):
					p.first = "" // CEL runtime error (no such key)
				}
				line := fmt.Sprintf("%s,%s,%s,%s,%s,%s,%s,%s,%s", p.id, p.login, p.mail(), p.first, p.last, p.title, p.dept, p.groups, p.status)
				switch {
				case pick(0.05):
					line = fmt.Sprintf("%s,%s,,%s,%s,%s,%s,%s,%s", p.id, p.login, p.first, p.last, p.title, p.dept, p.groups, p.status) // blank required mail
				case pick(0.05):
					line += ",EXTRA" // malformed row, id still readable
				case pick(0.02):
					line = "," + line[len(p.id)+1:] // row without an id
				}
				rows = append(rows, line)
			}
			r.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
			doc := "employeeId,login,mail,first,last,title,dept,groups,status\n" + strings.Join(rows, "\n") + "\n"
			src := &maybePartial{inner: hr.NewStatic([]byte(doc), hrConfig), cut: pick(0.1), r: r}

			app.owner = s.marker
			app.t = t
			res, err := syncer.Run(context.Background(), syncer.Options{
				Source: src, Mapper: mapper, Target: app, Policy: s.policy, State: s.state,
				Now: func() time.Time { return now },
			})
			if err != nil && res.Plan == nil {
				t.Fatalf("world %d step %d %s: %v", seed, step, s.marker, err)
			}
			s.state = res.State
			if res.Plan == nil {
				continue
			}
			for _, a := range res.Plan.Actions {
				if a.Kind.IsOffboarding() && present[a.ExternalID] && res.Applied {
					t.Errorf("world %d step %d %s: %s of %s, who is in the source (%s)", seed, step, s.marker, a.Kind, a.ExternalID, a.Describe())
				}
			}
		}
		now = now.Add(time.Duration(r.Int64N(int64(2 * grace))))
	}
	// Nobody present was deleted or left inactive by any run.
	users := map[string]model.User{}
	for _, u := range app.Users() {
		users[u.ExternalID] = u
	}
	for _, s := range sims {
		for id := range s.people {
			ext := plan.UserExternalID(s.marker, id)
			if u, ok := users[ext]; ok && (!u.Active || plan.IsAnonymized(u)) {
				t.Errorf("world %d: %s is in the source but inactive or anonymized in the app: %+v", seed, ext, u)
			}
		}
	}
}

// add gives the SyncTarget a new person; some ids hold ':' so that escaping is exercised.
func (s *syncTargetSim) add(i int, r *rand.Rand) {
	s.next++
	id := fmt.Sprintf("%d-%d", i, s.next)
	if r.IntN(6) == 0 {
		id = "eu:" + id
	}
	s.people[id] = person{id: id, login: fmt.Sprintf("t%du%d", i, s.next), first: "F", last: "L", title: "T",
		dept: []string{"10", "20", "30"}[r.IntN(3)], groups: "staff", status: "active"}
}

// maybePartial cuts a random part of a read and marks it incomplete, as a paging error would.
type maybePartial struct {
	inner interface {
		Read(context.Context) (*model.Snapshot, error)
	}
	cut bool
	r   *rand.Rand
}

func (p *maybePartial) Read(ctx context.Context) (*model.Snapshot, error) {
	snap, err := p.inner.Read(ctx)
	if err != nil || !p.cut {
		return snap, err
	}
	snap.Records = snap.Records[:p.r.IntN(len(snap.Records)+1)]
	snap.Complete = false
	return snap, nil
}

// guardedTarget fails the test when the SyncTarget running (owner) writes a user it does not own
// or removes members from a group it does not own.
type guardedTarget struct {
	*memory.Target
	owner string
	t     *testing.T
}

func (g *guardedTarget) check(targetID, what string) {
	for _, u := range g.Users() {
		if u.TargetID == targetID && !plan.OwnsUser(g.owner, u.ExternalID) {
			g.t.Errorf("SyncTarget %s: %s of user %s (externalId %s) it does not own", g.owner, what, u.UserName, u.ExternalID)
		}
	}
}

func (g *guardedTarget) UpdateUser(ctx context.Context, id string, u model.User, fields []string) error {
	g.check(id, "update")
	return g.Target.UpdateUser(ctx, id, u, fields)
}

func (g *guardedTarget) DeleteUser(ctx context.Context, id string) error {
	g.check(id, "delete")
	return g.Target.DeleteUser(ctx, id)
}

func (g *guardedTarget) RemoveMembers(ctx context.Context, groupID string, ids []string) error {
	for _, grp := range g.Groups() {
		if grp.TargetID == groupID && !plan.OwnsGroup(g.owner, grp.ExternalID) {
			g.t.Errorf("SyncTarget %s: membership removal from group %s (externalId %s) it does not own", g.owner, grp.DisplayName, grp.ExternalID)
		}
	}
	return g.Target.RemoveMembers(ctx, groupID, ids)
}
