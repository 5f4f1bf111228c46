package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

const (
	prefix = "hr:"
	grace  = 72 * time.Hour
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// rules is the HR mapping under test: attribute copies, a CEL display name, the department through a
// lookup table, and groups from the groups column plus one group per department code.
func rules() []mapping.NamedRule {
	return []mapping.NamedRule{{Name: "hr", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
		Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "login"},
			{Target: "email", From: "mail", Required: true},
			{Target: "givenName", From: "first"},
			{Target: "familyName", From: "last"},
			{Target: "displayName", Expression: "record.attrs.first + ' ' + record.attrs.last"},
			{Target: "title", From: "title"},
			{Target: "department", From: "dept", Lookup: "departments"},
			{Target: "role", Default: ptr("Member")},
			{Target: "groups", Expression: "record.groups + ['dept-' + record.attrs.dept]"},
		},
		Lookups: []v1alpha1.LookupTable{{Name: "departments", Entries: map[string]string{
			"10": "Engineering", "20": "Sales", "30": "Finance",
		}}},
	}}}
}

var hrConfig = hr.Config{
	Format: hr.FormatCSV, IDColumn: "employeeId", GroupsColumn: "groups",
	DisabledColumn: "status", DisabledValues: []string{"inactive"},
}

// person is one row of the HR CSV.
type person struct {
	id, login, first, last, title, dept, groups, status string
}

func (p person) mail() string { return p.login + "@example.com" }

func staff(n int) []person {
	depts := []string{"10", "20", "30"}
	var out []person
	for i := range n {
		groups := "staff"
		if i%2 == 0 {
			groups += ";pilot"
		}
		out = append(out, person{
			id: fmt.Sprintf("E%04d", i+1), login: fmt.Sprintf("user%02d", i+1), first: fmt.Sprintf("First%d", i+1),
			last: "Last", title: "Engineer", dept: depts[i%len(depts)], groups: groups, status: "active",
		})
	}
	return out
}

func csvOf(people []person) []byte {
	var b strings.Builder
	b.WriteString("employeeId,login,mail,first,last,title,dept,groups,status\n")
	for _, p := range people {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", p.id, p.login, p.mail(), p.first, p.last, p.title, p.dept, p.groups, p.status)
	}
	return []byte(b.String())
}

// without returns people without the ones with the given ids.
func without(people []person, ids ...string) []person {
	return slices.DeleteFunc(slices.Clone(people), func(p person) bool { return slices.Contains(ids, p.id) })
}

// changed returns a copy of people with change applied to the person with that id.
func changed(people []person, id string, change func(*person)) []person {
	out := slices.Clone(people)
	for i := range out {
		if out[i].id == id {
			change(&out[i])
		}
	}
	return out
}

var compiled = sync.OnceValues(func() (*mapping.Mapper, error) { return mapping.Compile(rules()) })

// env is one target synced from changing HR data over simulated time; it carries the planner state
// from run to run as the controller does.
type env struct {
	t      *testing.T
	target *memory.Target
	mapper *mapping.Mapper
	policy plan.Policy
	state  plan.State
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	m, err := compiled()
	if err != nil {
		t.Fatalf("compiling rules: %v", err)
	}
	return &env{t: t, target: memory.New(), mapper: m, now: t0, policy: plan.Policy{
		ExternalIDPrefix: prefix, GracePeriod: grace, AfterGrace: plan.OffboardDelete,
		ManagedFields: m.ManagedFields(), MaxDeletions: -1,
	}}
}

func (e *env) options(src directory.Source) syncer.Options {
	return syncer.Options{
		Source: src, Mapper: e.mapper, Target: e.target, Policy: e.policy, State: e.state,
		Now: func() time.Time { return e.now },
	}
}

// run syncs people with the call counters reset first, keeps the returned state and fails the test
// on a run error.
func (e *env) run(people []person, opts ...func(*syncer.Options)) *syncer.Result {
	e.t.Helper()
	res, err := e.runErr(context.Background(), hr.NewStatic(csvOf(people), hrConfig), opts...)
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return res
}

func (e *env) runErr(ctx context.Context, src directory.Source, opts ...func(*syncer.Options)) (*syncer.Result, error) {
	e.t.Helper()
	e.target.ResetCalls()
	if streamSources {
		src = streamed{Source: src, batch: 3}
	}
	o := e.options(src)
	for _, opt := range opts {
		opt(&o)
	}
	res, err := syncer.Run(ctx, o)
	if res == nil {
		e.t.Fatalf("Run returned a nil Result (err %v)", err)
	}
	e.state = res.State
	return res, err
}

// user finds a user by userName, which is not case-sensitive (RFC 7643).
func (e *env) user(login string) (model.User, bool) {
	for _, u := range e.target.Users() {
		if strings.EqualFold(u.UserName, login) {
			return u, true
		}
	}
	return model.User{}, false
}

func (e *env) mustUser(login string) model.User {
	e.t.Helper()
	u, ok := e.user(login)
	if !ok {
		e.t.Fatalf("user %s not in target", login)
	}
	return u
}

func (e *env) expectWrites(want int) {
	e.t.Helper()
	if got := e.target.WriteCalls(); got != want {
		e.t.Errorf("write calls = %d, want %d (%v)", got, want, e.target.Calls())
	}
}

// expectConverged checks that one more run of people changes nothing.
func (e *env) expectConverged(people []person) {
	e.t.Helper()
	res := e.run(people)
	if n := len(res.Plan.Actions); n != 0 {
		e.t.Errorf("run after convergence planned %d actions:\n%s", n, res.Plan)
	}
	e.expectWrites(0)
}

func TestInitialSyncThenNoWrites(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	res := e.run(people)
	if res.Counts.Created != 6 || res.Counts.Failed != 0 || len(res.Skipped) != 0 {
		t.Fatalf("counts %+v, skipped %v, failures %v", res.Counts, res.Skipped, res.Failures)
	}
	calls := e.target.Calls()
	// 6 creates, 5 groups (staff, pilot, dept-10/20/30), one AddMembers request per group
	if calls[memory.MethodCreateUser] != 6 || calls[memory.MethodCreateGroup] != 5 || calls[memory.MethodAddMembers] != 5 {
		t.Errorf("calls = %v", calls)
	}
	got := e.mustUser("user02")
	want := model.User{
		ExternalID: prefix + "E0002", UserName: "user02", DisplayName: "First2 Last", GivenName: "First2",
		FamilyName: "Last", Email: "user02@example.com", Title: "Engineer", Department: "Sales", Role: "Member",
		Active: true, Groups: []string{"dept-20", "staff"}, TargetID: got.TargetID,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("user02:\n got %+v\nwant %+v", got, want)
	}
	wantMembers := map[string][]string{
		"staff": {"user01", "user02", "user03", "user04", "user05", "user06"}, "pilot": {"user01", "user03", "user05"},
		"dept-10": {"user01", "user04"}, "dept-20": {"user02", "user05"}, "dept-30": {"user03", "user06"},
	}
	if got := membersByName(e.target); !reflect.DeepEqual(got, wantMembers) {
		t.Errorf("memberships:\n got %v\nwant %v", got, wantMembers)
	}
	for _, g := range e.target.Groups() {
		if g.ExternalID != plan.GroupExternalID(prefix, g.DisplayName) {
			t.Errorf("group %s has externalId %q", g.DisplayName, g.ExternalID)
		}
	}
	e.expectConverged(people)
}

// membersByName returns the sorted userNames of each group's members.
func membersByName(tg *memory.Target) map[string][]string {
	names := map[string]string{}
	for _, u := range tg.Users() {
		names[u.TargetID] = u.UserName
	}
	out := map[string][]string{}
	for _, g := range tg.Groups() {
		var members []string
		for _, id := range g.Members {
			members = append(members, names[id])
		}
		slices.Sort(members)
		out[g.DisplayName] = members
	}
	return out
}

func TestAttributeChangeIsOneUpdate(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	before := e.mustUser("user03")

	people = changed(people, "E0003", func(p *person) { p.title = "Staff Engineer"; p.last = "Moved" })
	res := e.run(people)
	if calls := e.target.Calls(); calls[memory.MethodUpdateUser] != 1 || e.target.WriteCalls() != 1 {
		t.Errorf("calls = %v, want exactly one UpdateUser", calls)
	}
	if res.Counts.Updated != 1 {
		t.Errorf("counts = %+v", res.Counts)
	}
	after := e.mustUser("user03")
	want := before
	want.Title, want.FamilyName, want.DisplayName = "Staff Engineer", "Moved", "First3 Moved"
	if !reflect.DeepEqual(after, want) {
		t.Errorf("after update:\n got %+v\nwant %+v", after, want)
	}
	e.expectConverged(people)
}

func TestDepartmentMoveKeepsManualMembership(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	alice := e.mustUser("user01") // dept 10
	ctx := context.Background()
	vip, err := e.target.CreateGroup(ctx, "vip", "") // created by hand: unmanaged
	if err != nil {
		t.Fatal(err)
	}
	if err := e.target.AddMembers(ctx, vip, []string{alice.TargetID}); err != nil {
		t.Fatal(err)
	}

	people = changed(people, "E0001", func(p *person) { p.dept = "30" })
	res := e.run(people)
	got := e.mustUser("user01")
	if got.Department != "Finance" {
		t.Errorf("department = %q, want Finance", got.Department)
	}
	if want := []string{"dept-30", "pilot", "staff", "vip"}; !slices.Equal(got.Groups, want) {
		t.Errorf("groups = %v, want %v", got.Groups, want)
	}
	if got.TargetID != alice.TargetID {
		t.Errorf("user was recreated: id %s, was %s", got.TargetID, alice.TargetID)
	}
	calls := e.target.Calls()
	if calls[memory.MethodUpdateUser] != 1 || calls[memory.MethodAddMembers] != 1 || calls[memory.MethodRemoveMembers] != 1 || e.target.WriteCalls() != 3 {
		t.Errorf("calls = %v", calls)
	}
	if res.Counts.GroupChanges != 2 || res.Counts.Updated != 1 {
		t.Errorf("counts = %+v", res.Counts)
	}
	if m := membersByName(e.target)["dept-10"]; !slices.Equal(m, []string{"user04"}) {
		t.Errorf("dept-10 members = %v", m)
	}
	e.expectConverged(people)
}

func TestOffboardingLifecycle(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	// users the operator does not own: another externalId prefix, and none at all
	e.target.Seed([]model.User{
		{ExternalID: "manual:1", UserName: "admin", Email: "admin@example.com", Active: true},
		{UserName: "breakglass", Active: true},
	}, nil)
	unmanagedBefore := unmanaged(e.target)
	e.run(people)
	bob := e.mustUser("user02")

	// removed from the source: suspended, grace clock starts now
	e.now = t0.Add(time.Hour)
	people = without(people, "E0002")
	res := e.run(people)
	if got := e.mustUser("user02"); got.Active || got.TargetID != bob.TargetID {
		t.Errorf("after removal: %+v, want the same user inactive", got)
	}
	if res.Counts.Suspended != 1 || e.target.WriteCalls() != 1 {
		t.Errorf("counts %+v, calls %v", res.Counts, e.target.Calls())
	}
	if since, ok := e.state.Suspended[prefix+"E0002"]; !ok || !since.Equal(e.now) {
		t.Errorf("state = %v, want E0002 suspended since %s", e.state.Suspended, e.now)
	}
	if got := e.mustUser("user02").Groups; !slices.Equal(got, bob.Groups) {
		t.Errorf("suspended user's groups = %v, want them kept: %v", got, bob.Groups)
	}

	// within grace: nothing happens, the clock keeps its start
	e.now = t0.Add(grace)
	e.expectConverged(people)
	if since := e.state.Suspended[prefix+"E0002"]; !since.Equal(t0.Add(time.Hour)) {
		t.Errorf("grace clock moved to %s", since)
	}

	// grace over: deleted
	e.now = t0.Add(time.Hour + grace)
	res = e.run(people)
	if _, ok := e.user("user02"); ok || res.Counts.Deleted != 1 {
		t.Errorf("after grace: user still present or counts %+v", res.Counts)
	}
	if n := len(e.target.Users()); n != 5+2 {
		t.Errorf("%d users in target, want 7", n)
	}
	e.now = e.now.Add(grace * 10)
	e.expectConverged(people)
	if len(e.state.Suspended) != 0 {
		t.Errorf("state keeps %v after the deletion", e.state.Suspended)
	}
	if got := unmanaged(e.target); !reflect.DeepEqual(got, unmanagedBefore) {
		t.Errorf("unmanaged users changed:\n got %+v\nwant %+v", got, unmanagedBefore)
	}
}

func unmanaged(tg *memory.Target) []model.User {
	var out []model.User
	for _, u := range tg.Users() {
		if !strings.HasPrefix(u.ExternalID, prefix) {
			out = append(out, u)
		}
	}
	return out
}

func TestReappearsWithinGraceIsReactivated(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	carol := e.mustUser("user03")

	e.now = t0.Add(time.Hour)
	e.run(without(people, "E0003"))
	if e.mustUser("user03").Active {
		t.Fatal("not suspended")
	}
	e.now = t0.Add(grace / 2)
	res := e.run(people)
	got := e.mustUser("user03")
	if !reflect.DeepEqual(got, carol) {
		t.Errorf("after reappearing:\n got %+v\nwant %+v", got, carol)
	}
	calls := e.target.Calls()
	if res.Counts.Reactivated != 1 || calls[memory.MethodCreateUser] != 0 || e.target.WriteCalls() != 1 {
		t.Errorf("counts %+v, calls %v", res.Counts, calls)
	}
	if _, ok := e.state.Suspended[prefix+"E0003"]; ok {
		t.Errorf("state still counts grace for the reactivated user: %v", e.state.Suspended)
	}
	// long after the old grace period the user is still there
	e.now = t0.Add(grace * 3)
	e.expectConverged(people)
}

func TestSourceErrorWritesNothing(t *testing.T) {
	people := staff(6)
	broken := append(csvOf(people[:3]), []byte("E9999,\"unterminated,x,y\n")...)
	broken = append(broken, csvOf(people[3:])[len("employeeId,login,mail,first,last,title,dept,groups,status\n"):]...)
	sources := map[string]directory.Source{
		"no header":            hr.NewStatic(nil, hrConfig),
		"quoting error midway": hr.NewStatic(broken, hrConfig),
		"unreachable":          failingSource{directory.Errorf(directory.KindUnreachable, nil, "connection refused")},
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.run(people)
			e.now = t0.Add(grace * 2)
			stateBefore := e.state
			res, err := e.runErr(context.Background(), src)
			if err == nil || res.SourceErr == nil || !errors.Is(err, res.SourceErr) {
				t.Fatalf("err = %v, SourceErr = %v", err, res.SourceErr)
			}
			if res.Applied || res.Plan != nil {
				t.Errorf("applied %v, plan %v", res.Applied, res.Plan)
			}
			if len(e.target.Calls()) != 0 {
				t.Errorf("target was called: %v", e.target.Calls())
			}
			if !reflect.DeepEqual(res.State, stateBefore) {
				t.Errorf("state changed: %v", res.State)
			}
		})
	}
}

type failingSource struct{ err error }

func (s failingSource) Read(context.Context) (*model.Snapshot, error) { return nil, s.err }

func TestTargetListErrorWritesNothing(t *testing.T) {
	for _, method := range []string{memory.MethodListUsers, memory.MethodListGroups} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t)
			people := staff(6)
			e.run(people)
			e.now = t0.Add(time.Hour)
			e.run(without(people, "E0001"))
			stateBefore := e.state

			e.now = t0.Add(grace * 2) // E0001 would be deleted and E0002 suspended
			e.target.FailNext(method, 1, errors.New("503 service unavailable"))
			res, err := e.runErr(context.Background(), hr.NewStatic(csvOf(without(people, "E0001", "E0002")), hrConfig))
			if err == nil || res.TargetErr == nil || res.SourceErr != nil {
				t.Fatalf("err = %v, TargetErr = %v", err, res.TargetErr)
			}
			if res.Applied || res.Plan != nil || e.target.WriteCalls() != 0 {
				t.Errorf("applied %v, plan %v, calls %v", res.Applied, res.Plan, e.target.Calls())
			}
			if !reflect.DeepEqual(res.State, stateBefore) {
				t.Errorf("state = %v, want %v", res.State, stateBefore)
			}
		})
	}
}

func TestDeletionThresholdBlocksEverything(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	before := e.target.Users()
	stateBefore := e.state

	e.policy.MaxDeletions = 2
	next := without(people, "E0001", "E0002", "E0003")
	next = append(next, person{id: "E0100", login: "newbie", first: "New", last: "Bie", title: "Intern", dept: "10", groups: "staff", status: "active"})
	next = changed(next, "E0004", func(p *person) { p.title = "Boss" })
	res := e.run(next)
	if res.Plan.Blocked == nil || res.Plan.Blocked.Reason != plan.ReasonDeletionThresholdExceeded {
		t.Fatalf("blocked = %v", res.Plan.Blocked)
	}
	if res.Applied || len(res.Plan.Actions) == 0 {
		t.Errorf("applied %v, %d actions", res.Applied, len(res.Plan.Actions))
	}
	e.expectWrites(0)
	if !reflect.DeepEqual(e.target.Users(), before) {
		t.Error("target changed")
	}
	if !reflect.DeepEqual(res.State, stateBefore) {
		t.Errorf("state = %v", res.State)
	}

	// an approval naming this plan lets it through
	e.policy.ApprovedFingerprint = res.Plan.Fingerprint
	res = e.run(next)
	if !res.Plan.ApprovalUsed || res.Counts.Suspended != 3 || res.Counts.Created != 1 || res.Counts.Updated != 1 {
		t.Errorf("approved run: approval used %v, counts %+v", res.Plan.ApprovalUsed, res.Counts)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	before := e.target.Users()
	stateBefore := e.state

	next := changed(without(people, "E0006"), "E0001", func(p *person) { p.dept = "20" })
	next = append(next, person{id: "E0100", login: "newbie", first: "New", last: "Bie", dept: "10", status: "active"})
	res := e.run(next, func(o *syncer.Options) { o.DryRun = true })
	s := res.Plan.Summary
	if s.Creates != 1 || s.Updates != 1 || s.Suspensions != 1 || s.MemberAdds != 2 || s.MemberRemovals != 1 {
		t.Errorf("summary = %+v\n%s", s, res.Plan)
	}
	if res.Applied || res.Counts != (syncer.Counts{}) {
		t.Errorf("applied %v, counts %+v", res.Applied, res.Counts)
	}
	e.expectWrites(0)
	if !reflect.DeepEqual(e.target.Users(), before) || !reflect.DeepEqual(res.State, stateBefore) {
		t.Error("dry run changed the target or the state")
	}
}

func TestFailedCreateDoesNotStopOthersAndRerunConverges(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.target.FailNext(memory.MethodCreateUser, 1, errors.New("500 internal server error"))
	res := e.run(people, func(o *syncer.Options) { o.Concurrency = 1 }) // the first create (user01) fails
	if res.Counts.Created != 5 {
		t.Errorf("created %d, want 5", res.Counts.Created)
	}
	if _, ok := e.user("user01"); ok {
		t.Fatal("user01 exists although its create failed")
	}
	var creates []model.Problem
	for _, f := range res.Failures {
		if !strings.HasPrefix(f.Subject, "user01") {
			t.Errorf("failure of another user: %+v", f)
		}
		if f.Reason != model.ReasonTargetError {
			t.Errorf("failure reason %s", f.Reason)
		}
		if strings.HasPrefix(f.Message, string(plan.KindCreate)+" failed") {
			creates = append(creates, f)
		}
	}
	if len(creates) != 1 || creates[0].Subject != "user01" || !strings.Contains(creates[0].Message, "500 internal server error") {
		t.Errorf("create failures = %+v", creates)
	}
	// The engine also reports user01's memberships (staff, pilot, dept-10) as failed, since the user
	// they refer to was not created; each is one entry of Failures.
	if res.Counts.Failed != len(res.Failures) || res.Counts.Failed != 1+3 {
		t.Errorf("Failed = %d, failures %+v", res.Counts.Failed, res.Failures)
	}
	if got := membersByName(e.target)["staff"]; len(got) != 5 {
		t.Errorf("staff members = %v", got)
	}

	res = e.run(people)
	if res.Counts.Created != 1 || res.Counts.Failed != 0 || len(e.target.Users()) != 6 {
		t.Errorf("rerun: counts %+v, %d users", res.Counts, len(e.target.Users()))
	}
	if got := e.mustUser("user01").Groups; !slices.Equal(got, []string{"dept-10", "pilot", "staff"}) {
		t.Errorf("user01 groups = %v", got)
	}
	e.expectConverged(people)
}

func TestFailedSuspendStartsNoGraceClock(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	people = without(people, "E0002")

	e.now = t0.Add(time.Hour)
	e.target.FailNext(memory.MethodUpdateUser, 1, errors.New("429 too many requests"))
	res := e.run(people)
	if res.Counts.Failed != 1 || res.Counts.Suspended != 0 {
		t.Fatalf("counts = %+v", res.Counts)
	}
	if _, ok := e.state.Suspended[prefix+"E0002"]; ok {
		t.Errorf("state starts a grace clock for a user that was not suspended: %v", e.state.Suspended)
	}
	if !e.mustUser("user02").Active {
		t.Error("user02 is inactive")
	}

	// after what would have been the grace period, the user is suspended, not deleted
	e.now = t0.Add(2 * grace)
	res = e.run(people)
	if res.Counts.Suspended != 1 || res.Counts.Deleted != 0 {
		t.Errorf("counts = %+v", res.Counts)
	}
	if since := e.state.Suspended[prefix+"E0002"]; !since.Equal(e.now) {
		t.Errorf("grace clock starts %s, want %s", since, e.now)
	}
}

// cancellingTarget cancels the run's context once `after` writes have succeeded: the process dies
// right after the target accepted a request.
type cancellingTarget struct {
	syncer.Target
	after  int64
	writes atomic.Int64
	cancel context.CancelFunc
}

func (c *cancellingTarget) count(err error) error {
	if err == nil && c.writes.Add(1) == c.after {
		c.cancel()
	}
	return err
}

func (c *cancellingTarget) CreateUser(ctx context.Context, u model.User) (string, error) {
	id, err := c.Target.CreateUser(ctx, u)
	return id, c.count(err)
}

func (c *cancellingTarget) UpdateUser(ctx context.Context, id string, u model.User, fields []string) error {
	return c.count(c.Target.UpdateUser(ctx, id, u, fields))
}

func (c *cancellingTarget) DeleteUser(ctx context.Context, id string) error {
	return c.count(c.Target.DeleteUser(ctx, id))
}

func (c *cancellingTarget) CreateGroup(ctx context.Context, name, ext string) (string, error) {
	id, err := c.Target.CreateGroup(ctx, name, ext)
	return id, c.count(err)
}

func (c *cancellingTarget) AddMembers(ctx context.Context, gid string, ids []string) error {
	return c.count(c.Target.AddMembers(ctx, gid, ids))
}

func (c *cancellingTarget) RemoveMembers(ctx context.Context, gid string, ids []string) error {
	return c.count(c.Target.RemoveMembers(ctx, gid, ids))
}

// view is a target's content without the ids it assigned, for comparing two targets.
type view struct {
	Users  []model.User
	Groups map[string][]string // display name + externalId → member userNames
}

func viewOf(tg *memory.Target) view {
	v := view{Groups: map[string][]string{}}
	for _, u := range tg.Users() {
		u.TargetID = ""
		v.Users = append(v.Users, u)
	}
	slices.SortFunc(v.Users, func(a, b model.User) int { return strings.Compare(a.UserName, b.UserName) })
	byName := membersByName(tg)
	for _, g := range tg.Groups() {
		v.Groups[g.DisplayName+" "+g.ExternalID] = byName[g.DisplayName]
	}
	return v
}

// TestKilledMidRunConverges interrupts a run after each possible number of writes, then runs again
// and compares the target with one that saw the same runs uninterrupted.
//
// keepState=false is a killed process: the interrupted run's state is never saved. keepState=true is
// a cancelled run whose Result.State the controller saved; it leaves out the returning user, because
// the engine drops the grace entry of a reactivation that was never applied (see the report).
func TestKilledMidRunConverges(t *testing.T) {
	for _, keepState := range []bool{false, true} {
		initial := staff(9)
		// the interrupted run: new users and a new group, moves, attribute changes, removals, a
		// user disabled in HR, and (keepState=false) E0009 coming back
		next := without(initial, "E0002", "E0005")
		if keepState {
			next = without(next, "E0009")
		}
		next = changed(next, "E0001", func(p *person) { p.dept = "20"; p.groups = "staff" })
		next = changed(next, "E0004", func(p *person) { p.title = "Manager" })
		next = changed(next, "E0006", func(p *person) { p.status = "inactive" })
		next = append(next,
			person{id: "E0100", login: "new1", first: "New", last: "One", dept: "30", groups: "staff;ops", status: "active"},
			person{id: "E0101", login: "new2", first: "New", last: "Two", dept: "10", groups: "staff", status: "active"})

		// E0009 leaves before the interrupted run
		setup := func(t *testing.T) *env {
			e := newEnv(t)
			e.run(initial)
			e.now = t0.Add(30 * time.Minute)
			e.run(without(initial, "E0009"))
			e.now = t0.Add(time.Hour)
			return e
		}
		ref := setup(t)
		refRes := ref.run(next)
		total := ref.target.WriteCalls()
		if total < 10 || refRes.Counts.Failed != 0 {
			t.Fatalf("reference run: %d writes, counts %+v, failures %v", total, refRes.Counts, refRes.Failures)
		}
		want := viewOf(ref.target)

		for k := 1; k < total; k++ {
			t.Run(fmt.Sprintf("keepState=%v/after %d of %d writes", keepState, k, total), func(t *testing.T) {
				e := setup(t)
				stateBefore := e.state
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ct := &cancellingTarget{Target: e.target, after: int64(k), cancel: cancel}
				res, err := e.runErr(ctx, hr.NewStatic(csvOf(next), hrConfig), func(o *syncer.Options) { o.Target = ct })
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("interrupted run: err = %v, counts %+v", err, res.Counts)
				}
				killedAt := e.now
				inactive := map[string]bool{}
				for _, u := range e.target.Users() {
					inactive[u.ExternalID] = !u.Active
				}
				if !keepState { // the process died: the state of the interrupted run was never saved
					e.state = stateBefore
				}
				e.now = e.now.Add(time.Minute)
				if res := e.run(next); res.Counts.Failed != 0 {
					t.Fatalf("rerun failures: %v", res.Failures)
				}
				if got := viewOf(e.target); !reflect.DeepEqual(got, want) {
					t.Errorf("target differs from the uninterrupted run:\n%s", diffViews(got, want))
				}
				// Grace clocks run for the same users; one may only start at the interrupted run if
				// the user was suspended by then, otherwise it starts at the rerun.
				if !slices.Equal(slices.Sorted(maps.Keys(e.state.Suspended)), slices.Sorted(maps.Keys(ref.state.Suspended))) {
					t.Errorf("state = %v, want the users of %v", e.state, ref.state)
				}
				for ext, since := range e.state.Suspended {
					early := since.Equal(killedAt) && inactive[ext]
					if !early && !since.Equal(e.now) && !since.Equal(stateBefore.Suspended[ext]) {
						t.Errorf("grace clock of %s starts %s (killed at %s, rerun at %s, before %v)", ext, since, killedAt, e.now, stateBefore.Suspended)
					}
				}
				e.expectConverged(next)
			})
		}
	}
}

func diffViews(got, want view) string {
	var b strings.Builder
	gu := map[string]model.User{}
	for _, u := range got.Users {
		gu[u.ExternalID] = u
	}
	for _, w := range want.Users {
		if g, ok := gu[w.ExternalID]; !ok || !reflect.DeepEqual(g, w) {
			fmt.Fprintf(&b, "user %s: got %+v, want %+v\n", w.ExternalID, g, w)
		}
		delete(gu, w.ExternalID)
	}
	for ext, g := range gu {
		fmt.Fprintf(&b, "unexpected user %s: %+v\n", ext, g)
	}
	if !reflect.DeepEqual(got.Groups, want.Groups) {
		fmt.Fprintf(&b, "groups: got %v, want %v\n", got.Groups, want.Groups)
	}
	return b.String()
}

func TestFailedReactivationIsRetried(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	e.now = t0.Add(time.Hour)
	e.run(without(people, "E0003"))
	suspendedSince := e.state.Suspended[prefix+"E0003"]

	e.now = t0.Add(grace / 2)
	e.target.FailNext(memory.MethodUpdateUser, 1, errors.New("503 service unavailable"))
	res := e.run(people)
	if res.Counts.Failed != 1 || res.Counts.Reactivated != 0 {
		t.Fatalf("counts = %+v", res.Counts)
	}
	if since, ok := e.state.Suspended[prefix+"E0003"]; !ok || !since.Equal(suspendedSince) {
		t.Fatalf("a failed reactivation must keep the grace clock (%s), state = %v", suspendedSince, e.state.Suspended)
	}
	res = e.run(people)
	if res.Counts.Reactivated != 1 || !e.mustUser("user03").Active {
		t.Fatalf("the next run must reactivate user03: counts %+v", res.Counts)
	}
	e.expectConverged(people)
}

// A run cut short (the run timeout) before a planned reactivation must keep that user's grace clock,
// so that the next run still reactivates the user instead of leaving them suspended.
func TestUnrunReactivationKeepsGraceClock(t *testing.T) {
	e := newEnv(t)
	people := staff(6)
	e.run(people)
	e.now = t0.Add(time.Hour)
	e.run(without(people, "E0003"))
	suspendedSince := e.state.Suspended[prefix+"E0003"]

	// user03 comes back together with a newcomer; the run stops right after creating the newcomer,
	// before the reactivation (creates run first).
	back := append(slices.Clone(people), staff(7)[6])
	e.now = t0.Add(grace / 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := e.runErr(ctx, hr.NewStatic(csvOf(back), hrConfig), func(o *syncer.Options) {
		o.Target = &cancellingTarget{Target: e.target, after: 1, cancel: cancel}
		o.Concurrency = 1
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want the run cut short, got %v", err)
	}
	if e.mustUser("user03").Active {
		t.Fatal("the reactivation ran although the run was cut short before it")
	}
	if since, ok := e.state.Suspended[prefix+"E0003"]; !ok || !since.Equal(suspendedSince) {
		t.Fatalf("the unrun reactivation lost the grace clock (%s): state = %v", suspendedSince, e.state.Suspended)
	}
	res := e.run(back)
	if res.Counts.Reactivated != 1 || !e.mustUser("user03").Active {
		t.Fatalf("the next run must reactivate user03: counts %+v", res.Counts)
	}
	e.expectConverged(back)
}
