package plan

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

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

// inSyncBench builds the world of test/bench's in-sync run: n people in groupCount managed groups
// (two each, as internal/testenv/synthetic assigns them), ten managed fields, target users listed
// in TargetID order with their group names, groups listing their sorted member ids.
func inSyncBench(n, groupCount int) Input {
	pol := policy(func(p *Policy) {
		p.ManagedFields = []string{model.FieldUserName, model.FieldEmail, model.FieldGivenName, model.FieldFamilyName,
			model.FieldDisplayName, model.FieldTitle, model.FieldPhoneNumber, model.FieldEmployeeNumber,
			model.FieldDepartment, model.FieldGroups}
	})
	in := Input{
		Desired:        make([]model.User, n),
		Actual:         make([]model.User, n),
		Groups:         make([]model.Group, groupCount),
		Policy:         pol,
		Now:            now,
		SourceComplete: true,
	}
	for g := range in.Groups {
		in.Groups[g] = managedGroup(fmt.Sprintf("grp-%04d", g))
		in.Groups[g].TargetID = fmt.Sprintf("g%07d", g)
	}
	for i := range n {
		uid := fmt.Sprintf("user%06d", i)
		d := model.User{
			ExternalID: fmt.Sprintf("%s00000000-0000-4000-8000-%012d", pfx, i), UserName: uid,
			Email: uid + "@example.com", GivenName: fmt.Sprintf("Given%d", i), FamilyName: fmt.Sprintf("Family%d", i%9973),
			Title: fmt.Sprintf("Title %d", i%37), PhoneNumber: fmt.Sprintf("+1 555 %07d", i),
			EmployeeNumber: fmt.Sprint(1_000_000 + i), Department: fmt.Sprintf("Department %02d", i%50), Active: true,
		}
		d.DisplayName = d.GivenName + " " + d.FamilyName
		a, b := i%groupCount, (i*7919+13)%groupCount
		d.Groups = []string{in.Groups[a].DisplayName}
		if b != a {
			d.Groups = append(d.Groups, in.Groups[b].DisplayName)
		}
		in.Desired[i] = d
		t := d
		t.TargetID = fmt.Sprintf("u%07d", i)
		in.Actual[i] = t
		in.Groups[a].Members = append(in.Groups[a].Members, t.TargetID)
		if b != a {
			in.Groups[b].Members = append(in.Groups[b].Members, t.TargetID)
		}
	}
	for g := range in.Groups {
		slices.Sort(in.Groups[g].Members)
	}
	return in
}

// BenchmarkPlan1MInSync is the plan phase of test/bench's 1,000,000-user run already in sync.
func BenchmarkPlan1MInSync(b *testing.B) {
	in := inSyncBench(1_000_000, 2_000)
	runtime.GC()
	b.ReportAllocs()
	cpu := processCPU()
	fastest := time.Duration(math.MaxInt64)
	for b.Loop() {
		start := time.Now()
		if p := Compute(in); len(p.Actions) != 0 || len(p.Problems) != 0 {
			b.Fatalf("%d actions, %d problems", len(p.Actions), len(p.Problems))
		}
		fastest = min(fastest, time.Since(start))
	}
	// On a shared machine the CPU time (garbage collection included) and the fastest run are
	// steadier than the mean wall time.
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(fastest), "min-ns/op")
}

// processCPU returns the user and system time the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
