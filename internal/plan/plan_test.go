package plan

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

const pfx = "ds:"

var (
	now   = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	grace = 30 * 24 * time.Hour
)

// person is a desired user named name, active, with an email and a department.
func person(name string, mods ...func(*model.User)) model.User {
	u := model.User{
		ExternalID:  pfx + name,
		UserName:    name,
		DisplayName: strings.ToUpper(name[:1]) + name[1:],
		Email:       name + "@example.com",
		Department:  "Eng",
		Active:      true,
	}
	for _, m := range mods {
		m(&u)
	}
	return u
}

// inTarget is u as found in the target under the id "id-<userName>".
func inTarget(u model.User, mods ...func(*model.User)) model.User {
	u.TargetID = "id-" + u.UserName
	for _, m := range mods {
		m(&u)
	}
	return u
}

func inactive(u *model.User)  { u.Active = false }
func unmanaged(u *model.User) { u.ExternalID = "hr:" + u.UserName }
func groups(g ...string) func(*model.User) {
	return func(u *model.User) { u.Groups = g }
}

func managedGroup(name string, members ...string) model.Group {
	return model.Group{TargetID: "g-" + name, DisplayName: name, ExternalID: GroupExternalID(pfx, name), Members: members}
}

func unmanagedGroup(name string, members ...string) model.Group {
	return model.Group{TargetID: "g-" + name, DisplayName: name, Members: members}
}

func policy(mods ...func(*Policy)) Policy {
	p := Policy{
		ExternalIDPrefix: pfx,
		GracePeriod:      grace,
		AfterGrace:       OffboardDelete,
		ManagedFields: []string{model.FieldUserName, model.FieldDisplayName, model.FieldEmail,
			model.FieldDepartment, model.FieldActive, model.FieldGroups},
		MaxDeletions: -1,
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func suspended(entries ...any) State {
	s := State{Suspended: map[string]time.Time{}}
	for i := 0; i < len(entries); i += 2 {
		s.Suspended[pfx+entries[i].(string)] = entries[i+1].(time.Time)
	}
	return s
}

func problem(subject string, reason model.ProblemReason) model.Problem {
	return model.Problem{Subject: subject, Reason: reason}
}

func TestCompute(t *testing.T) {
	alice, bob := person("alice"), person("bob")
	tests := []struct {
		name         string
		in           Input
		want         []string // Describe(0)
		wantProblems []model.Problem
		wantState    State
		partial      bool // the source read was incomplete
		check        func(t *testing.T, p Plan)
	}{
		{
			name: "create with a new group",
			in:   Input{Desired: []model.User{person("alice", groups("Sales"))}},
			want: []string{"create group Sales", "create alice (alice@example.com)", "add alice to group Sales"},
			check: func(t *testing.T, p Plan) {
				if got := p.Actions[0].ExternalID; got != pfx+"group:Sales" {
					t.Errorf("created group externalId = %q", got)
				}
				if u := p.Actions[1].User; u == nil || u.ExternalID != pfx+"alice" || u.Email != "alice@example.com" {
					t.Errorf("create carries user %+v", u)
				}
				if a := p.Actions[2]; a.ExternalID != pfx+"alice" || a.TargetID != "" || a.GroupTargetID != "" {
					t.Errorf("membership of a new user in a new group: %+v", a)
				}
				if p.Summary.Creates != 1 || p.Summary.GroupCreates != 1 || p.Summary.MemberAdds != 1 {
					t.Errorf("summary %+v", p.Summary)
				}
			},
		},
		{
			name: "create adds to an existing unmanaged group",
			in: Input{
				Desired: []model.User{person("alice", groups("Everyone"))},
				Groups:  []model.Group{unmanagedGroup("Everyone", "id-x")},
			},
			want: []string{"create alice (alice@example.com)", "add alice to group Everyone"},
			check: func(t *testing.T, p Plan) {
				if a := p.Actions[1]; a.GroupTargetID != "g-Everyone" {
					t.Errorf("group target id = %q", a.GroupTargetID)
				}
			},
		},
		{
			name: "in sync: zero actions",
			in: Input{
				Desired: []model.User{person("alice", groups("Eng")), bob},
				Actual: []model.User{inTarget(person("alice", groups("Eng"))), inTarget(bob),
					inTarget(person("root"), unmanaged)},
				Groups: []model.Group{managedGroup("Eng", "id-alice")},
			},
			check: func(t *testing.T, p Plan) {
				want := Summary{Desired: 2, Managed: 2, Unmanaged: 1, Unchanged: 2}
				if p.Summary != want {
					t.Errorf("summary = %+v, want %+v", p.Summary, want)
				}
			},
		},
		{
			name: "update only the changed managed fields",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.DisplayName = "Alice Liddell" })},
				Actual: []model.User{inTarget(alice, func(u *model.User) {
					u.Title = "hand-edited title" // not managed: survives
					u.PhoneNumber = "+1 555"
				})},
			},
			want: []string{"update alice: displayName"},
			check: func(t *testing.T, p Plan) {
				a := p.Actions[0]
				if a.TargetID != "id-alice" || a.User.DisplayName != "Alice Liddell" || a.User.TargetID != "id-alice" {
					t.Errorf("update action %+v user %+v", a, a.User)
				}
				if p.Summary.Updates != 1 || p.Summary.Unchanged != 0 {
					t.Errorf("summary %+v", p.Summary)
				}
			},
		},
		{
			name: "move department: field and memberships move, manual membership kept",
			in: Input{
				Desired: []model.User{person("alice", groups("Sales"), func(u *model.User) { u.Department = "Sales" })},
				Actual:  []model.User{inTarget(person("alice", groups("Eng", "Book club")))},
				Groups: []model.Group{
					managedGroup("Eng", "id-alice", "id-root"),
					managedGroup("Sales"),
					unmanagedGroup("Book club", "id-alice"),
				},
			},
			want: []string{"update alice: department", "add alice to group Sales", "remove alice from group Eng"},
			check: func(t *testing.T, p Plan) {
				if a := p.Actions[2]; a.TargetID != "id-alice" || a.GroupTargetID != "g-Eng" {
					t.Errorf("removal %+v", a)
				}
			},
		},
		{
			name: "memberships are left alone when groups are not managed",
			in: Input{
				Desired: []model.User{person("alice", groups("Sales"))},
				Actual:  []model.User{inTarget(alice)},
				Groups:  []model.Group{managedGroup("Eng", "id-alice")},
				Policy: policy(func(p *Policy) {
					p.ManagedFields = []string{model.FieldUserName, model.FieldDepartment}
				}),
			},
		},
		{
			name: "rename",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.UserName = "alice.liddell" })},
				Actual:  []model.User{inTarget(alice)},
			},
			want: []string{"update alice: userName"},
			check: func(t *testing.T, p Plan) {
				if got := p.Actions[0].User.UserName; got != "alice.liddell" {
					t.Errorf("new userName = %q", got)
				}
			},
		},
		{
			// userName is not caseExact (RFC 7643): a server may store it lower-cased, and a
			// case-only difference must not be written again every run.
			name: "a case-only userName difference is no change",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.UserName = "Alice" })},
				Actual:  []model.User{inTarget(alice)},
			},
			want: nil,
		},
		{
			name: "rename changing only the case, when the target says userName is caseExact",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.UserName = "Alice" })},
				Actual:  []model.User{inTarget(alice)},
				Policy:  policy(func(p *Policy) { p.CaseExactFields = []string{model.FieldUserName} }),
			},
			want: []string{"update alice: userName"},
		},
		{
			name: "rename onto an unmanaged userName: conflict, other fields still updated",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) {
					u.UserName = "admin"
					u.Department = "Ops"
				})},
				Actual: []model.User{inTarget(alice), inTarget(person("admin"), unmanaged)},
			},
			want:         []string{"update alice: department"},
			wantProblems: []model.Problem{problem("admin", model.ReasonConflict)},
		},
		{
			name: "disabled in directory: suspended, not deleted, no grace clock",
			in: Input{
				Desired: []model.User{person("alice", inactive), person("bob", inactive)},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
				State:   suspended("bob", now.Add(-365*24*time.Hour)),
			},
			want: []string{"suspend alice: disabled in directory"},
			check: func(t *testing.T, p Plan) {
				if p.Summary.Suspensions != 1 || p.Summary.Offboardings != 1 {
					t.Errorf("summary %+v", p.Summary)
				}
			},
		},
		{
			name: "disabled in directory and not in the target: not created",
			in:   Input{Desired: []model.User{person("alice", inactive)}},
		},
		{
			name: "disabled in directory and not in the target, CreateDisabled: created inactive",
			in: Input{Desired: []model.User{person("alice", inactive)},
				Policy: policy(func(p *Policy) { p.CreateDisabled = true })},
			want: []string{"create alice (alice@example.com)"},
			check: func(t *testing.T, p Plan) {
				if u := p.Actions[0].User; u == nil || u.Active {
					t.Errorf("created user %+v, want inactive", u)
				}
				if p.Summary.Offboardings != 0 {
					t.Errorf("creating an inactive user counted as offboarding: %+v", p.Summary)
				}
			},
		},
		{
			name: "created inactive, next run: nothing to do",
			in: Input{Desired: []model.User{person("alice", inactive)}, Actual: []model.User{inTarget(person("alice"), inactive)},
				Policy: policy(func(p *Policy) { p.CreateDisabled = true })},
		},
		{
			name:      "removed from directory: suspended, grace starts now",
			in:        Input{Desired: []model.User{alice}, Actual: []model.User{inTarget(alice), inTarget(bob)}},
			want:      []string{"suspend bob: not in source"},
			wantState: suspended("bob", now),
		},
		{
			name: "suspended and within grace: nothing",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
				State:   suspended("bob", now.Add(-grace+time.Second)),
			},
			wantState: suspended("bob", now.Add(-grace+time.Second)),
		},
		{
			name: "grace over: delete",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
				State:   suspended("bob", now.Add(-grace)),
			},
			want:      []string{"delete bob: suspended since 2025-05-02T12:00:00Z, grace period over"},
			wantState: suspended("bob", now.Add(-grace)), // dropped once the user is gone
		},
		{
			name: "grace over: anonymize",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
				State:   suspended("bob", now.Add(-grace-time.Hour)),
				Policy:  policy(func(p *Policy) { p.AfterGrace = OffboardAnonymize }),
			},
			want:      []string{"anonymize bob: suspended since 2025-05-02T11:00:00Z, grace period over"},
			wantState: suspended("bob", now.Add(-grace-time.Hour)),
		},
		{
			name: "anonymized already: left alone and forgotten",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), AnonymizedUser(inTarget(bob))},
				State:   suspended("bob", now.Add(-2*grace)),
				Policy:  policy(func(p *Policy) { p.AfterGrace = OffboardAnonymize }),
			},
		},
		{
			name: "grace over: keep",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
				State:   suspended("bob", now.Add(-2*grace)),
				Policy:  policy(func(p *Policy) { p.AfterGrace = OffboardKeep }),
			},
			wantState: suspended("bob", now.Add(-2*grace)),
		},
		{
			name: "reappears within grace: reactivated, not created",
			in: Input{
				Desired: []model.User{alice, bob},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
				State:   suspended("bob", now.Add(-time.Hour)),
				Policy: policy(func(p *Policy) { // even without managing "active"
					p.ManagedFields = []string{model.FieldUserName}
				}),
			},
			want: []string{"reactivate bob: active in source"},
		},
		{
			// status.suspended lost (SyncTarget re-created): the person must not stay stranded.
			name: "state lost, active in directory, active not managed: reactivated",
			in: Input{
				Desired: []model.User{bob},
				Actual:  []model.User{inTarget(bob, inactive)},
				Policy:  policy(func(p *Policy) { p.ManagedFields = []string{model.FieldUserName} }),
			},
			want: []string{"reactivate bob: active in source"},
		},
		{
			name: "held record: its user is neither updated nor offboarded, its grace clock carried",
			in: Input{
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive), inTarget(person("carol"))},
				Desired: []model.User{person("carol")},
				Held:    []string{pfx + "alice", pfx + "bob", pfx + "bob"},
				State:   suspended("bob", now.Add(-2*grace)),
			},
			wantState: suspended("bob", now.Add(-2*grace)),
			check: func(t *testing.T, p Plan) {
				if p.Summary.Held != 2 {
					t.Errorf("summary held = %d, want 2 distinct records", p.Summary.Held)
				}
			},
		},
		{
			name: "held wins over a desired entry with the same id (duplicate HR row)",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.Department = "Sales" })},
				Actual:  []model.User{inTarget(alice, inactive)},
				Held:    []string{pfx + "alice"},
			},
		},
		{
			name: "out of scope is offboarded as out of scope, absent as not in source",
			in: Input{
				Desired:    []model.User{person("carol")},
				Actual:     []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol")), inTarget(person("dave"))},
				OutOfScope: []string{pfx + "alice"},
				Disabled:   []string{pfx + "dave"},
			},
			want:      []string{"suspend alice: out of scope", "suspend bob: not in source", "suspend dave: disabled in directory"},
			wantState: suspended("alice", now, "bob", now, "dave", now),
		},
		{
			name: "out of scope under Keep is left alone; disabled is still suspended",
			in: Input{
				Desired:    []model.User{person("carol")},
				Actual:     []model.User{inTarget(alice), inTarget(bob, inactive), inTarget(person("carol")), inTarget(person("dave"))},
				OutOfScope: []string{pfx + "alice", pfx + "bob"},
				Disabled:   []string{pfx + "dave"},
				State:      suspended("bob", now.Add(-2*grace)),
				Policy:     policy(func(p *Policy) { p.OutOfScope = OutOfScopeKeep }),
			},
			want:      []string{"suspend dave: disabled in directory"},
			wantState: suspended("bob", now.Add(-2*grace), "dave", now),
		},
		{
			name: "out of scope past the grace period is deleted with the grace reason",
			in: Input{
				Desired:    []model.User{person("carol")},
				Actual:     []model.User{inTarget(alice, inactive), inTarget(person("carol"))},
				OutOfScope: []string{pfx + "alice"},
				State:      suspended("alice", now.Add(-2*grace)),
			},
			want:      []string{"delete alice: suspended since 2025-04-02T12:00:00Z, grace period over"},
			wantState: suspended("alice", now.Add(-2*grace)),
		},
		{
			name: "ownership is exact: ds: owns neither ds:eu:… users nor ds:eu:group:… groups",
			in: Input{
				Desired: []model.User{alice},
				Actual: []model.User{inTarget(alice), inTarget(person("eve"), func(u *model.User) { u.ExternalID = pfx + "eu:eve" }),
					inTarget(person("gus"), func(u *model.User) { u.ExternalID = pfx + "group:gus" })},
				Groups: []model.Group{{TargetID: "g-x", DisplayName: "X", ExternalID: GroupExternalID(pfx+"eu:", "X"),
					Members: []string{"id-alice"}}},
			},
			check: func(t *testing.T, p Plan) {
				if p.Summary.Managed != 1 || p.Summary.Unmanaged != 2 {
					t.Errorf("managed %d unmanaged %d, want 1 and 2", p.Summary.Managed, p.Summary.Unmanaged)
				}
			},
		},
		{
			name: "a prefix without the ':' delimiter is refused",
			in: Input{
				Actual: []model.User{inTarget(alice)},
				Policy: policy(func(p *Policy) { p.ExternalIDPrefix = "ds" }),
			},
			want: []string{`BLOCKED (InvalidPolicy): externalIdPrefix "ds" must end with ':', which delimits it from the directory id`},
		},
		{
			name: "suspended by hand, active in directory, active managed: reactivated",
			in:   Input{Desired: []model.User{bob}, Actual: []model.User{inTarget(bob, inactive)}},
			want: []string{"reactivate bob: active in source"},
		},
		{
			name: "state lost for an inactive managed user: grace restarts now",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob, inactive)},
			},
			wantState: suspended("bob", now),
		},
		{
			name: "state of users gone from the target is dropped",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice)},
				State:   suspended("bob", now.Add(-2*grace), "alice", now.Add(-time.Hour)),
			},
		},
		{
			name: "unmanaged users are never touched",
			in: Input{
				Desired: []model.User{alice},
				Actual: []model.User{inTarget(alice), inTarget(person("root"), unmanaged),
					inTarget(person("ghost"), unmanaged, inactive)},
				Groups: []model.Group{managedGroup("Eng", "id-root", "id-ghost")},
				State:  State{Suspended: map[string]time.Time{"hr:ghost": now.Add(-10 * grace)}},
			},
		},
		{
			name: "userName held by an unmanaged user: conflict, not created",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(person("Alice"), unmanaged)},
			},
			wantProblems: []model.Problem{problem("alice", model.ReasonConflict)},
			check: func(t *testing.T, p Plan) {
				want := "userName exists in the target and is not managed by this operator; not created"
				if p.Problems[0].Message != want {
					t.Errorf("message %q", p.Problems[0].Message)
				}
			},
		},
		{
			name: "duplicates are not applied and their target users not offboarded",
			in: Input{
				Desired: []model.User{
					person("alice"), person("ALICE", func(u *model.User) { u.Email = "a2@example.com" }),
					person("bob"), person("bobby", func(u *model.User) { u.Email = "BOB@example.com" }),
					person("carol"), person("carol2", func(u *model.User) { u.ExternalID = pfx + "carol" }),
					person("dave"),
				},
				Actual: []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol"))},
				State:  suspended("carol", now.Add(-time.Hour)),
			},
			want: []string{"create dave (dave@example.com)"},
			wantProblems: []model.Problem{
				problem("ALICE", model.ReasonDuplicate), problem("alice", model.ReasonDuplicate),
				problem("bob", model.ReasonDuplicate), problem("bobby", model.ReasonDuplicate),
				problem("carol", model.ReasonDuplicate), problem("carol2", model.ReasonDuplicate),
			},
			wantState: suspended("carol", now.Add(-time.Hour)),
		},
		{
			name: "two target users with one externalId: neither touched",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.Department = "Ops" })},
				Actual:  []model.User{inTarget(alice), inTarget(alice, func(u *model.User) { u.TargetID = "id-2" })},
			},
			wantProblems: []model.Problem{problem(pfx+"alice", model.ReasonDuplicate)},
		},
		{
			name: "desired user without the ownership prefix: reported",
			in: Input{
				Desired: []model.User{person("alice", func(u *model.User) { u.ExternalID = "alice" })},
			},
			wantProblems: []model.Problem{problem("alice", model.ReasonMissingID)},
		},
		{
			name: "partial source: no offboarding, no membership removal, creates and updates proceed",
			in: Input{
				Desired: []model.User{
					person("alice", func(u *model.User) { u.Department = "Ops" }),
					person("carol", inactive), person("dave"),
				},
				Actual: []model.User{inTarget(person("alice", groups("Eng"))), inTarget(bob), inTarget(person("carol")),
					inTarget(person("erin"), inactive)},
				Groups: []model.Group{managedGroup("Eng", "id-alice")},
				State:  suspended("bob", now.Add(-2*grace)),
			},
			partial: true,
			want: []string{
				"offboarding held (SourceIncomplete): the directory read was incomplete: nobody is suspended, deleted or anonymized and no membership is removed in this run",
				"create dave (dave@example.com)", "update alice: department",
			},
			wantState: suspended("bob", now.Add(-2*grace)),
		},
		{
			name: "empty source with managed users: no offboarding",
			in:   Input{Actual: []model.User{inTarget(alice), inTarget(bob)}},
			want: []string{"offboarding held (SuspiciousSource): the source yielded no users while 2 are managed: nobody is offboarded in this run"},
		},
		{
			name: "empty source allowed: offboarding",
			in: Input{
				Actual: []model.User{inTarget(alice)},
				Policy: policy(func(p *Policy) { p.AllowEmptySource = true }),
			},
			want:      []string{"suspend alice: not in source"},
			wantState: suspended("alice", now),
		},
		{
			name: "source below the minimum fraction: no offboarding",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol"))},
				Policy:  policy(func(p *Policy) { p.MinSourcePercent = 50 }),
			},
			want: []string{"offboarding held (SuspiciousSource): the source yielded 1 users while 3 are managed, fewer than minSourcePercent 50% of 3 = 2: nobody is offboarded in this run"},
		},
		{
			name: "deletion count threshold exceeded: blocked, state unchanged",
			in: Input{
				Desired: []model.User{alice},
				Actual: []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol"), inactive),
					inTarget(person("dave"), inactive)},
				State:  suspended("carol", now.Add(-2*grace)),
				Policy: policy(func(p *Policy) { p.MaxDeletions = 1 }),
			},
			want: []string{
				"BLOCKED (DeletionThresholdExceeded): run would offboard 2 of 4 managed users, limit 1 (maxDeletions 1)",
				"suspend bob: not in source", "delete carol: suspended since 2025-04-02T12:00:00Z, grace period over",
			},
			wantState: suspended("carol", now.Add(-2*grace)),
		},
		{
			name: "deletion count threshold exceeded but this very plan approved",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol"))},
				Policy: policy(func(p *Policy) {
					p.MaxDeletions = 1
					p.ApprovedFingerprint = OffboardingFingerprint([]Action{
						{Kind: KindSuspend, ExternalID: pfx + "carol"}, {Kind: KindSuspend, ExternalID: pfx + "bob"}})
				}),
			},
			want:      []string{"suspend bob: not in source", "suspend carol: not in source"},
			wantState: suspended("bob", now, "carol", now),
			check: func(t *testing.T, p Plan) {
				if !p.ApprovalUsed || p.Fingerprint != OffboardingFingerprint(p.Actions) {
					t.Errorf("ApprovalUsed %v, fingerprint %q", p.ApprovalUsed, p.Fingerprint)
				}
			},
		},
		{
			// An approval given for another blocked plan (here: bob alone) never lifts this one.
			name: "deletion count threshold exceeded, approval names another plan: blocked",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol"))},
				Policy: policy(func(p *Policy) {
					p.MaxDeletions = 1
					p.ApprovedFingerprint = OffboardingFingerprint([]Action{{Kind: KindSuspend, ExternalID: pfx + "bob"}})
				}),
			},
			want: []string{"BLOCKED (DeletionThresholdExceeded): run would offboard 2 of 3 managed users, limit 1 (maxDeletions 1)",
				"suspend bob: not in source", "suspend carol: not in source"},
			check: func(t *testing.T, p Plan) {
				if p.ApprovalUsed || p.Fingerprint == "" || p.Fingerprint == OffboardingFingerprint(nil) {
					t.Errorf("ApprovalUsed %v, fingerprint %q", p.ApprovalUsed, p.Fingerprint)
				}
			},
		},
		{
			name: "within the count threshold: not blocked, approval not used",
			in: Input{
				Desired: []model.User{alice},
				Actual:  []model.User{inTarget(alice), inTarget(bob)},
				Policy: policy(func(p *Policy) {
					p.MaxDeletions = 1
					p.ApprovedFingerprint = OffboardingFingerprint([]Action{{Kind: KindSuspend, ExternalID: pfx + "bob"}})
				}),
			},
			want:      []string{"suspend bob: not in source"},
			wantState: suspended("bob", now),
			check: func(t *testing.T, p Plan) {
				if p.ApprovalUsed || p.Fingerprint != "" {
					t.Errorf("ApprovalUsed %v, fingerprint %q for a plan within the limits", p.ApprovalUsed, p.Fingerprint)
				}
			},
		},
		{
			name: "zero allowed deletions blocks a disabled-in-directory suspension",
			in: Input{
				Desired: []model.User{person("alice", inactive)},
				Actual:  []model.User{inTarget(alice)},
				Policy:  policy(func(p *Policy) { p.MaxDeletions = 0 }),
			},
			want: []string{
				"BLOCKED (DeletionThresholdExceeded): run would offboard 1 of 1 managed users, limit 0 (maxDeletions 0)",
				"suspend alice: disabled in directory",
			},
		},
		{
			name: "deletion percent threshold exceeded",
			in: Input{
				Desired: []model.User{alice, bob, person("carol"), person("dave")},
				Actual: []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol")), inTarget(person("dave")),
					inTarget(person("erin")), inTarget(person("frank")), inTarget(person("gina"))},
				Policy: policy(func(p *Policy) { p.MaxDeletionPercent = 20 }),
			},
			want: []string{
				"BLOCKED (DeletionThresholdExceeded): run would offboard 3 of 7 managed users, limit 2 (maxDeletionPercent 20% of 7 = 2)",
				"suspend erin: not in source", "suspend frank: not in source", "suspend gina: not in source",
			},
		},
		{
			name: "deletion percent of a small directory rounds up to one person",
			in: Input{
				Desired: []model.User{alice, bob, person("carol"), person("dave")},
				Actual: []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol")), inTarget(person("dave")),
					inTarget(person("erin"))},
				Policy: policy(func(p *Policy) { p.MaxDeletionPercent = 10 }),
			},
			want:      []string{"suspend erin: not in source"},
			wantState: suspended("erin", now),
		},
		{
			name: "deletion percent threshold not exceeded",
			in: Input{
				Desired: []model.User{alice, bob, person("carol"), person("dave")},
				Actual: []model.User{inTarget(alice), inTarget(bob), inTarget(person("carol")), inTarget(person("dave")),
					inTarget(person("erin"))},
				Policy: policy(func(p *Policy) { p.MaxDeletionPercent = 20 }),
			},
			want:      []string{"suspend erin: not in source"},
			wantState: suspended("erin", now),
		},
		{
			name: "empty prefix is refused",
			in: Input{
				Actual: []model.User{inTarget(alice)},
				Policy: policy(func(p *Policy) { p.ExternalIDPrefix = "" }),
			},
			want: []string{"BLOCKED (InvalidPolicy): externalIdPrefix must not be empty: it is what keeps unmanaged users out of reach"},
		},
		{
			name: "unknown managed field is refused",
			in: Input{
				Desired: []model.User{alice},
				Policy:  policy(func(p *Policy) { p.ManagedFields = []string{"mail"} }),
			},
			want: []string{`BLOCKED (InvalidPolicy): unknown managed field "mail" (mail is not an attribute of the core User schema; name custom attributes with their extension URN, e.g. urn:example:2.0:User:mail)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if reflect.DeepEqual(in.Policy, Policy{}) {
				in.Policy = policy()
			}
			in.Now = now
			in.SourceComplete = !tt.partial
			p := Compute(in)
			if got := p.Describe(0); !slices.Equal(got, tt.want) {
				t.Errorf("plan:\n  got  %q\n  want %q", got, tt.want)
			}
			var gotProblems []model.Problem
			for _, pr := range p.Problems {
				gotProblems = append(gotProblems, problem(pr.Subject, pr.Reason))
			}
			if !slices.Equal(gotProblems, tt.wantProblems) {
				t.Errorf("problems:\n  got  %+v\n  want %+v\n  full %+v", gotProblems, tt.wantProblems, p.Problems)
			}
			if wantState := copyState(tt.wantState); !reflect.DeepEqual(p.State, wantState) {
				t.Errorf("state:\n  got  %v\n  want %v", p.State, wantState)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestComputeIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		in := randomInput(r, 40)
		want := Compute(in)
		for range 5 {
			if got := Compute(shuffled(in, r)); !reflect.DeepEqual(got, want) {
				t.Fatalf("plan depends on input order:\n got  %s\n want %s", got, want)
			}
		}
	}
}

func TestComputeDoesNotModifyInput(t *testing.T) {
	in := randomInput(rand.New(rand.NewPCG(3, 4)), 40)
	before, _ := json.Marshal(in)
	Compute(in)
	if after, _ := json.Marshal(in); string(after) != string(before) {
		t.Error("Compute modified its input")
	}
}

func TestPlanJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		p := Compute(randomInput(r, 30))
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Plan
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the plan:\n got  %+v\n want %+v", back, p)
		}
	}
}

func TestJSONFieldNames(t *testing.T) {
	p := Compute(Input{
		Desired:        []model.User{person("alice", func(u *model.User) { u.Department = "Ops" })},
		Actual:         []model.User{inTarget(person("alice")), inTarget(person("bob"))},
		Policy:         policy(func(p *Policy) { p.MaxDeletions = 0 }),
		Now:            now,
		SourceComplete: true,
	})
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"kind":"Update"`, `"externalId":"ds:alice"`, `"targetId":"id-alice"`, `"fields":["department"]`,
		`"blocked":{"reason":"DeletionThresholdExceeded"`, `"summary":{"desired":1,"managed":2`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s:\n%s", want, data)
		}
	}
}

func TestDescribeLimit(t *testing.T) {
	p := Compute(Input{
		Desired:        []model.User{person("a"), person("b"), person("c")},
		Policy:         policy(),
		Now:            now,
		SourceComplete: true,
	})
	want := []string{"create a (a@example.com)", "create b (b@example.com)", "... and 1 more actions"}
	if got := p.Describe(2); !slices.Equal(got, want) {
		t.Errorf("Describe(2) = %q, want %q", got, want)
	}
	if got := strings.Count(p.String(), "\n"); got != 2 {
		t.Errorf("String() has %d newlines, want 2:\n%s", got, p)
	}
}

func TestAnonymizedUser(t *testing.T) {
	u := inTarget(person("alice", groups("Eng"), func(u *model.User) {
		u.PhoneNumber, u.Title, u.EmployeeNumber, u.Manager, u.Role = "+1", "CEO", "42", pfx+"bob", "admin"
	}))
	got := AnonymizedUser(u)
	want := model.User{ExternalID: pfx + "alice", TargetID: "id-alice", UserName: AnonymizedUserName(pfx + "alice")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AnonymizedUser = %+v, want %+v", got, want)
	}
	if !strings.HasPrefix(got.UserName, "deleted-") || len(got.UserName) != len("deleted-")+16 {
		t.Errorf("placeholder userName %q", got.UserName)
	}
	if AnonymizedUserName(pfx+"bob") == got.UserName {
		t.Error("placeholder does not depend on the externalId")
	}
	if !IsAnonymized(got) || IsAnonymized(u) {
		t.Error("IsAnonymized does not recognise the placeholder")
	}
}

// An existing user joining a group that this run creates must be named by its target id, so that
// the engine can add it without looking among the users created in the run.
func TestAddToNewGroupNamesExistingUser(t *testing.T) {
	const prefix = "dirsync:"
	actual := model.User{ExternalID: prefix + "1", TargetID: "t1", UserName: "ann", Email: "ann@x", Active: true}
	desired := actual
	desired.TargetID = ""
	desired.Groups = []string{"New Team"}
	p := Compute(Input{
		Desired: []model.User{desired}, Actual: []model.User{actual}, SourceComplete: true, Now: time.Unix(0, 0),
		Policy: Policy{ExternalIDPrefix: prefix, ManagedFields: []string{model.FieldUserName, model.FieldEmail, model.FieldGroups}, MaxDeletions: -1},
	})
	var add *Action
	for i := range p.Actions {
		if p.Actions[i].Kind == KindAddMember {
			add = &p.Actions[i]
		}
	}
	if add == nil || add.Group != "New Team" || add.TargetID != "t1" {
		t.Fatalf("want AddMember of t1 to the new group, got %+v", p.Actions)
	}
}

func TestRepeatedKeysAreCountedExactly(t *testing.T) {
	withExt := func(name string) func(*model.User) { return func(u *model.User) { u.ExternalID = pfx + name } }
	p := Compute(Input{
		Desired: []model.User{
			// three entries for an id a target user carries, two for an id none carries, two for an
			// id two target users carry
			person("a1", withExt("a")), person("a2", withExt("a")), person("a3", withExt("a")),
			person("n1", withExt("n")), person("n2", withExt("n")),
			person("t1", withExt("t")), person("t2", withExt("t")),
			// userName and email repeat case-insensitively
			person("Kim"), person("kim", func(u *model.User) { u.Email = "k2@example.com" }), person("KIM", func(u *model.User) { u.Email = "k3@example.com" }),
			person("lee"), person("lee2", func(u *model.User) { u.Email = "LEE@example.com" }),
			person("solo"),
		},
		Actual: []model.User{inTarget(person("a")), inTarget(person("t")), inTarget(person("t"), func(u *model.User) { u.TargetID = "id-t2" })},
		Policy: policy(), Now: now, SourceComplete: true,
	})
	want := map[string]string{
		"a1": "externalId shared by 3 entries", "a3": "externalId shared by 3 entries",
		"n2": "externalId shared by 2 entries", "t1": "externalId shared by 2 entries",
		"Kim": `userName "Kim" shared by 3 entries`, "KIM": `userName "KIM" shared by 3 entries`,
		"lee": `email "lee@example.com" shared by 2 entries`, "lee2": `email "LEE@example.com" shared by 2 entries`,
	}
	for subject, msg := range want {
		if !hasProblem(p, subject, model.ReasonDuplicate, msg) {
			t.Errorf("no problem %q for %s in %v", msg, subject, p.Problems)
		}
	}
	if got := kinds(p.Actions); !slices.Equal(got, []string{"Create solo"}) {
		t.Errorf("actions %v, want only solo created", got)
	}
}
