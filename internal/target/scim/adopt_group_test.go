package scim

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

func memberIDs(g *Group) []string {
	var ids []string
	for _, m := range g.Members {
		ids = append(ids, m.Value)
	}
	slices.Sort(ids)
	return ids
}

// AdoptGroup writes the marker on a hand-made group and nothing else (its members stay), is a no-op
// on a group that carries the marker already, and refuses a group carrying another owner's
// externalId without writing.
func TestAdoptGroup(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		hand, err := c.CreateUser(ctx, &User{UserName: "hand", Emails: []MultiValued{{Value: "hand@example.com", Type: "work"}}})
		if err != nil {
			t.Fatal(err)
		}
		staff, err := c.CreateGroup(ctx, &Group{DisplayName: "staff", Members: []Member{{Value: hand.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := c.CreateGroup(ctx, &Group{DisplayName: "Foreign", ExternalID: "hr:group:Foreign"})
		if err != nil {
			t.Fatal(err)
		}
		tg := NewTarget(c)
		if _, err := tg.ListGroups(ctx); err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)

		const ext = "ds:group:Staff"
		if err := tg.AdoptGroup(ctx, staff.ID, ext); err != nil {
			t.Fatalf("AdoptGroup: %v", err)
		}
		got, err := c.GetGroup(ctx, staff.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ExternalID != ext || got.DisplayName != "staff" || !slices.Equal(memberIDs(got), []string{hand.ID}) {
			t.Fatalf("adopted group %+v", got)
		}
		// The Target knows the group as its own now: creating it finds it.
		if id, err := tg.CreateGroup(ctx, "Staff", ext); err != nil || id != staff.ID {
			t.Fatalf("CreateGroup after adoption: %q %v", id, err)
		}
		counts, err := srv.RequestCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w := scimserver.WriteCount(counts); w != 1 {
			t.Fatalf("%d writes for one adoption: %v", w, counts)
		}
		// Again: the group carries the marker, nothing is written.
		resetCounts(t, srv, ctx)
		if err := tg.AdoptGroup(ctx, staff.ID, ext); err != nil {
			t.Fatalf("second AdoptGroup: %v", err)
		}
		// Another owner's group: a conflict, and it keeps its externalId.
		err = tg.AdoptGroup(ctx, foreign.ID, "ds:group:Foreign")
		if ce := target.AsConflict(err); ce == nil || ce.Attribute != "externalId" || !strings.Contains(err.Error(), "hr:group:Foreign") {
			t.Fatalf("adopting another owner's group: %v", err)
		}
		if counts, err = srv.RequestCounts(ctx); err != nil || scimserver.WriteCount(counts) != 0 {
			t.Fatalf("writes when nothing was to adopt: %v %v", counts, err)
		}
		if got, err := c.GetGroup(ctx, foreign.ID); err != nil || got.ExternalID != "hr:group:Foreign" {
			t.Fatalf("foreign group after a refused adoption: %+v %v", got, err)
		}
	})
}

// A target that requires If-Match gets the version it handed out with the group.
func TestAdoptGroupSendsIfMatch(t *testing.T) {
	ctx, c := strictSetup(t, strictscim.Options{ETag: true, RequireIfMatch: true}, Options{})
	g, err := c.CreateGroup(ctx, &Group{DisplayName: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewTarget(c).AdoptGroup(ctx, g.ID, "ds:group:Ops"); err != nil {
		t.Fatalf("AdoptGroup with If-Match required: %v", err)
	}
	if got, err := c.GetGroup(ctx, g.ID); err != nil || got.ExternalID != "ds:group:Ops" {
		t.Fatalf("group %+v %v", got, err)
	}
}

// The whole run against both servers with spec.adoption.groups: a hand-made group of the name the
// rules give is adopted (one write), its hand-made member stays, a managed user the directory does
// not put in it leaves it, a same-named group of another owner is refused, and the next run is
// quiet.
func TestSyncAdoptsGroupsEndToEnd(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		m, err := mapping.Compile([]mapping.NamedRule{{Name: "ad", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "sAMAccountName"},
			{Target: "email", From: "mail"},
			{Target: "groups", Expression: "record.groups"},
		}}}})
		if err != nil {
			t.Fatal(err)
		}
		rec := func(id, login string, groups ...string) model.Record {
			r := adRecord(id, login, "Sales", "")
			r.Groups = groups
			return r
		}
		src := &fixedSource{records: []model.Record{rec("01", "alice", "Staff", "Sales"), rec("02", "bob")}}
		pol := plan.Policy{ExternalIDPrefix: "ds:", ManagedFields: m.ManagedFields(), MaxDeletions: -1}
		run := func() *syncer.Result {
			t.Helper()
			res, err := syncer.Run(ctx, syncer.Options{Source: src, Mapper: m, Target: NewTarget(c), Policy: pol})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			return res
		}
		// First run without group adoption: alice and bob are created, bob put in "Staff" (the
		// directory says so), a group of that name created.
		src.records[1].Groups = []string{"Staff"}
		if res := run(); len(res.Failures) > 0 || res.Counts.Created != 2 {
			t.Fatalf("first run: %+v %v", res.Counts, res.Failures)
		}
		groups, err := c.ListGroups(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		idx := slices.IndexFunc(groups, func(g Group) bool { return g.DisplayName == "Staff" })
		if idx < 0 {
			t.Fatalf("no group Staff: %+v", groups)
		}
		// The app's admins rebuild it by hand: a group "STAFF" without externalId holding bob and
		// a hand-made user, and a "Sales" group that another tool owns.
		if err := c.DeleteGroup(ctx, groups[idx].ID); err != nil {
			t.Fatal(err)
		}
		hand, err := c.CreateUser(ctx, &User{UserName: "hand", Emails: []MultiValued{{Value: "hand@example.com", Type: "work"}}})
		if err != nil {
			t.Fatal(err)
		}
		users, err := c.ListUsers(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, u := range users {
			ids[u.UserName] = u.ID
		}
		staff, err := c.CreateGroup(ctx, &Group{DisplayName: "STAFF", Members: []Member{{Value: ids["bob"]}, {Value: hand.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		if sales := slices.IndexFunc(groups, func(g Group) bool { return g.DisplayName == "Sales" }); sales >= 0 {
			if err := c.DeleteGroup(ctx, groups[sales].ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.CreateGroup(ctx, &Group{DisplayName: "Sales", ExternalID: "other:group:Sales"}); err != nil {
			t.Fatal(err)
		}
		src.records[1].Groups = nil // bob left Staff in the directory

		pol.Controls.AdoptGroups = true
		res := run()
		if len(res.Failures) > 0 {
			t.Fatalf("adoption run failures: %v", res.Failures)
		}
		var lines []string
		for _, a := range res.Plan.Actions {
			if a.Group != "" {
				lines = append(lines, a.Describe())
			}
		}
		want := []string{`adopt group STAFF (matched on displayName, the source's "Staff")`, "add alice to group STAFF", "remove bob from group STAFF"}
		if !slices.Equal(lines, want) {
			t.Fatalf("group actions %q, want %q", lines, want)
		}
		if !slices.ContainsFunc(res.Skipped, func(p model.Problem) bool {
			return p.Subject == "group Sales" && p.Reason == model.ReasonConflict && strings.Contains(p.Message, "other:group:Sales")
		}) {
			t.Fatalf("no Conflict for the foreign Sales group: %v", res.Skipped)
		}
		got, err := c.GetGroup(ctx, staff.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ExternalID != "ds:group:Staff" || !slices.Equal(memberIDs(got), slices.Sorted(slices.Values([]string{ids["alice"], hand.ID}))) {
			t.Fatalf("adopted group %+v (alice %s, hand %s)", got, ids["alice"], hand.ID)
		}
		if res := run(); len(res.Plan.Actions) != 0 || len(res.Failures) > 0 {
			t.Fatalf("not converged: %s %v", res.Plan, res.Failures)
		}
	})
}

// raceTransport runs before, once, ahead of the first PATCH it carries: someone else's write lands
// between the client's read and its write.
type raceTransport struct {
	next   http.RoundTripper
	before func()
	done   bool
}

func (r *raceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && !r.done {
		r.done = true
		r.before()
	}
	return r.next.RoundTrip(req)
}

// Another tool gives the group an externalId between AdoptGroup's read and its write: the target's
// ETag refuses the stale write (412), the group is read again, and it is not taken over.
func TestAdoptGroupLosesARaceSafely(t *testing.T) {
	ctx, other := strictSetup(t, strictscim.Options{ETag: true}, Options{})
	g, err := other.CreateGroup(ctx, &Group{DisplayName: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &raceTransport{next: http.DefaultTransport, before: func() {
		if err := other.PatchGroup(ctx, g.ID, []PatchOp{{Op: "replace", Path: "externalId", Value: "other-tool:Ops"}}); err != nil {
			t.Errorf("the other tool's write: %v", err)
		}
	}}
	c, err := New(strict.URL(), Options{Token: token, HTTPClient: &http.Client{Transport: rt, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	err = NewTarget(c).AdoptGroup(ctx, g.ID, "ds:group:Ops")
	if !rt.done || target.AsConflict(err) == nil || !strings.Contains(err.Error(), "other-tool:Ops") {
		t.Fatalf("AdoptGroup after losing the race: %v (raced %v)", err, rt.done)
	}
	if got, err := other.GetGroup(ctx, g.ID); err != nil || got.ExternalID != "other-tool:Ops" {
		t.Fatalf("group %+v %v: the other tool's externalId was overwritten", got, err)
	}
}
