package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
)

// groupsByName lists the SCIM groups by displayName.
func (f *fixture) groupsByName(t *testing.T) map[string][]scim.Group {
	t.Helper()
	list, err := f.sc.ListGroups(context.Background(), "")
	if err != nil {
		t.Fatalf("listing SCIM groups: %v", err)
	}
	out := map[string][]scim.Group{}
	for _, g := range list {
		out[g.DisplayName] = append(out[g.DisplayName], g)
	}
	return out
}

func groupMembers(g scim.Group) []string {
	var ids []string
	for _, m := range g.Members {
		ids = append(ids, m.Value)
	}
	slices.Sort(ids)
	return ids
}

// TestE2EGroupAdoption takes over an app whose department groups were made by hand: with only
// spec.adoption.groups, the group named like a directory group in another case is adopted (shown
// first in the dry run), keeps its hand-made member and gets the department's people; a name two
// app groups share and a group another tool owns are refused as Conflicts and left untouched, no
// group of those names is created; and the next run writes nothing.
func TestE2EGroupAdoption(t *testing.T) {
	f := newFixture(t, "adoptgroups")
	var depts []string // department groups the rules give, in seed order
	members := map[string][]string{}
	for _, u := range expectedUsers(f.ldap.Seed) {
		name := "Department " + departmentNames[u.DepartmentNumber]
		if _, ok := members[name]; !ok {
			depts = append(depts, name)
		}
		members[name] = append(members[name], u.UID)
	}
	if len(depts) < 3 {
		t.Fatalf("seed spans %d departments, want 3", len(depts))
	}
	adoptable, ambiguous, foreign := depts[0], depts[1], depts[2]
	ctx := context.Background()
	f.createInApp(t, "hand-made", "", "")
	hand := f.users(t)["hand-made"].TargetID
	mk := func(name, ext string, members ...string) scim.Group {
		t.Helper()
		g := &scim.Group{DisplayName: name, ExternalID: ext}
		for _, id := range members {
			g.Members = append(g.Members, scim.Member{Value: id})
		}
		out, err := f.sc.CreateGroup(ctx, g)
		if err != nil {
			t.Fatalf("creating group %s: %v", name, err)
		}
		return *out
	}
	adopted := mk(strings.ToLower(adoptable), "", hand)
	twin1, twin2 := mk(ambiguous, "", hand), mk(strings.ToUpper(ambiguous), "")
	other := mk(foreign, "other-tool:"+foreign, hand)

	f.applyAll(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.DryRun = true
		s.Adoption = &v1.Adoption{Groups: true}
	}))
	wantLine := fmt.Sprintf("adopt group %s (matched on displayName, the source's %q)", adopted.DisplayName, adoptable)
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		p := st.Status.Plan
		if p == nil || len(p.Actions) == 0 || p.Actions[0] != wantLine {
			return fmt.Errorf("plan %+v, want %q first", p, wantLine)
		}
		if slices.ContainsFunc(p.Actions[1:], func(a string) bool { return strings.HasPrefix(a, "adopt ") }) {
			return fmt.Errorf("more than one adoption: %q", p.Actions)
		}
		if !hasProblem(st, "group "+ambiguous, string(model.ReasonConflict), "2 target groups are named") ||
			!hasProblem(st, "group "+foreign, string(model.ReasonConflict), "another owner") {
			return fmt.Errorf("problems %+v", st.Status.Problems)
		}
		return nil
	})
	if n := f.writes(t); n != 5 {
		t.Fatalf("dry run wrote: %d writes (the test made 1 user and 4 groups)", n)
	}

	update(t, f.syncTarget(t, "app"), func(st *v1.SyncTarget) { st.Spec.DryRun = false })
	eventually(t, waitSync, func() error {
		users := f.users(t)
		groups := f.groupsByName(t)
		got := groups[adopted.DisplayName]
		if len(got) != 1 || got[0].ID != adopted.ID || got[0].ExternalID != prefix+"group:"+adoptable {
			return fmt.Errorf("adopted group: %+v", got)
		}
		want := []string{hand}
		for _, uid := range members[adoptable] {
			want = append(want, users[uid].TargetID)
		}
		slices.Sort(want)
		if !slices.Equal(groupMembers(got[0]), want) {
			return fmt.Errorf("members of the adopted group %v, want %v (the hand-made member kept)", groupMembers(got[0]), want)
		}
		if _, ok := groups[adoptable]; ok {
			return fmt.Errorf("a second group %s was created", adoptable)
		}
		// Refused: untouched, and no group of those names created.
		for _, g := range []scim.Group{twin1, twin2, other} {
			now := groups[g.DisplayName]
			if len(now) != 1 || now[0].ExternalID != g.ExternalID || !slices.Equal(groupMembers(now[0]), groupMembers(g)) {
				return fmt.Errorf("refused group %s was written: %+v", g.DisplayName, now)
			}
		}
		// The other departments' groups are created as usual.
		for _, name := range depts[3:] {
			if len(groups[name]) != 1 || groups[name][0].ExternalID != prefix+"group:"+name {
				return fmt.Errorf("group %s: %+v", name, groups[name])
			}
		}
		return nil
	})
	// The run's report holds the adoption, applied.
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		reports, err := controllers.ReadReports(context.Background(), k8s, st, true)
		if err != nil {
			return err
		}
		for _, r := range reports {
			if r.Summary.Mode != "applied" {
				continue
			}
			for _, row := range r.Rows {
				if row.Kind == "AdoptGroup" && row.Group == adopted.DisplayName && row.Outcome == "applied" {
					return nil
				}
			}
		}
		return fmt.Errorf("no applied AdoptGroup row in %d reports", len(reports))
	})
	// Converged: a further run writes nothing.
	f.waitForRun(t, "app")
	before := f.writes(t)
	f.waitForRun(t, "app")
	if after := f.writes(t); after != before {
		t.Fatalf("run after adoption wrote %d times", after-before)
	}
}
