package plan

import (
	"fmt"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// inSync builds n desired users, the matching target users and 50 managed department groups, plus
// n/10 unmanaged target users: a world where nothing needs to change.
func inSync(n int) Input {
	const departments = 50
	in := Input{
		Desired:        make([]model.User, 0, n),
		Actual:         make([]model.User, 0, n+n/10),
		Groups:         make([]model.Group, departments),
		Policy:         policy(),
		Now:            now,
		SourceComplete: true,
	}
	for g := range departments {
		in.Groups[g] = managedGroup(fmt.Sprintf("dept-%02d", g))
	}
	for i := range n {
		dept := fmt.Sprintf("dept-%02d", i%departments)
		d := person(fmt.Sprintf("user%06d", i), groups(dept), func(u *model.User) { u.Department = dept })
		in.Desired = append(in.Desired, d)
		a := inTarget(d)
		in.Actual = append(in.Actual, a)
		in.Groups[i%departments].Members = append(in.Groups[i%departments].Members, a.TargetID)
	}
	for i := range n / 10 {
		in.Actual = append(in.Actual, inTarget(person(fmt.Sprintf("manual%06d", i)), unmanaged))
	}
	return in
}

func TestInSyncLargeHasNoActions(t *testing.T) {
	p := Compute(inSync(20_000))
	if len(p.Actions) != 0 || len(p.Problems) != 0 || p.Summary.Unchanged != 20_000 || p.Summary.Unmanaged != 2_000 {
		t.Fatalf("in-sync world: %d actions, %d problems, summary %+v", len(p.Actions), len(p.Problems), p.Summary)
	}
}

func BenchmarkPlan100k(b *testing.B) {
	in := inSync(100_000)
	b.ReportAllocs()
	for b.Loop() {
		if p := Compute(in); len(p.Actions) != 0 {
			b.Fatalf("%d actions", len(p.Actions))
		}
	}
}

// BenchmarkPlan100kAllNew plans 100k creates with memberships: the sort-heavy worst case.
func BenchmarkPlan100kAllNew(b *testing.B) {
	in := inSync(100_000)
	in.Actual = nil
	for i := range in.Groups {
		in.Groups[i].Members = nil
	}
	b.ReportAllocs()
	for b.Loop() {
		if p := Compute(in); p.Summary.Creates != 100_000 {
			b.Fatalf("%d creates", p.Summary.Creates)
		}
	}
}
