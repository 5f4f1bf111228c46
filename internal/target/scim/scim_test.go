package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
)

// setup resets the server and returns a client with fast backoffs; the server logs are printed
// when the test fails.
func setup(t *testing.T, srv testServer, opts Options) (context.Context, *Client) {
	t.Helper()
	// Generous: SCIMMY is slow on a loaded machine; every test is still bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	if err := srv.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("SCIM server logs:\n%s", srv.Logs())
		}
	})
	if opts.Token == "" {
		opts.Token = srv.Token()
	}
	if opts.BaseBackoff == 0 {
		opts.BaseBackoff = 10 * time.Millisecond
	}
	c, err := New(srv.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Discovery happens once per client; done here so that tests count only their own requests.
	if _, err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	resetCounts(t, srv, ctx)
	return ctx, c
}

func counts(t *testing.T, srv testServer, ctx context.Context) map[string]int {
	t.Helper()
	c, err := srv.RequestCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func resetCounts(t *testing.T, srv testServer, ctx context.Context) {
	t.Helper()
	if err := srv.ResetRequestCounts(ctx); err != nil {
		t.Fatal(err)
	}
}

func fullUser(ext, userName string) model.User {
	return model.User{
		ExternalID: ext, UserName: userName, DisplayName: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace",
		Email: userName + "@example.com", PhoneNumber: "+44 20 1234", Title: "Analyst", Department: "R&D",
		EmployeeNumber: "1815", Role: "engineer", Active: true,
	}
}

func findModel(t *testing.T, users []model.User, id string) model.User {
	t.Helper()
	for _, u := range users {
		if u.TargetID == id {
			return u
		}
	}
	t.Fatalf("user %s not listed", id)
	return model.User{}
}

func TestServiceProviderConfig(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		spc, err := c.ServiceProviderConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// SCIMMY: pages of 200 and bulk; the strict server: pages of 50, no bulk.
		wantMax, wantBulk := 200, true
		if isStrict(srv) {
			wantMax, wantBulk = 50, false
		}
		if !spc.Patch.Supported || !spc.Filter.Supported || spc.Filter.MaxResults != wantMax || spc.ETag.Supported || bool(spc.Bulk.Supported) != wantBulk {
			t.Errorf("unexpected config %+v", spc)
		}
	})
}

func TestCRUDRoundTrip(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		want := fullUser("ext-1", "ada")
		id, err := tg.CreateUser(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		users, err := tg.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want.TargetID = id
		if got := findModel(t, users, id); !equalUser(got, want) {
			t.Errorf("read back\n got %+v\nwant %+v", got, want)
		}
		su, err := c.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if su.Name == nil || su.Name.Formatted != "Ada Lovelace" || su.Emails[0].Type != "work" || !bool(su.Emails[0].Primary) {
			t.Errorf("GetUser = %+v", su)
		}

		if err := tg.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := tg.DeleteUser(ctx, id); err != nil {
			t.Errorf("second delete: %v", err)
		}
		if _, err := c.GetUser(ctx, id); !IsNotFound(err) {
			t.Errorf("GetUser after delete: %v, want not found", err)
		}
		d, err := srv.Dump(ctx)
		if err != nil || len(d.Users) != 0 {
			t.Errorf("store after delete: %+v, %v", d, err)
		}
	})
}

func equalUser(a, b model.User) bool {
	ga, gb := a.Groups, b.Groups
	a.Groups, b.Groups = nil, nil
	return slices.Equal(ga, gb) && reflect.DeepEqual(a, b)
}

func TestPagination(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{PageSize: 20, Concurrency: 8})
		const n = 250
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, err := c.CreateUser(ctx, &User{UserName: fmt.Sprintf("user%03d", i), ExternalID: fmt.Sprintf("e%03d", i)})
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		resetCounts(t, srv, ctx)
		users, err := c.ListUsers(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, u := range users {
			seen[u.UserName]++
		}
		for i := range n {
			if name := fmt.Sprintf("user%03d", i); seen[name] != 1 {
				t.Errorf("%s listed %d times", name, seen[name])
			}
		}
		if len(users) != n {
			t.Errorf("listed %d users, want %d", len(users), n)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != (n+19)/20 {
			t.Errorf("%d GET requests, want %d pages", got, (n+19)/20)
		}
		// A target answering with fewer items than asked for (short pages) is paged through as well.
		if err := srv.SetMaxPageSize(ctx, 7); err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)
		short, err := c.ListUsers(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		seen = map[string]int{}
		for _, u := range short {
			seen[u.ID]++
		}
		if len(short) != n || len(seen) != n {
			t.Errorf("with short pages: %d users, %d distinct, want %d", len(short), len(seen), n)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != (n+6)/7 {
			t.Errorf("%d GET requests with short pages, want %d", got, (n+6)/7)
		}
		// A filtered listing pages too.
		some, err := c.ListUsers(ctx, `userName sw "user1"`)
		if err != nil || len(some) != 100 {
			t.Errorf("filtered listing: %d users, %v; want 100", len(some), err)
		}
	})
}

func TestFindByExternalID(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		ids := map[string]string{}
		for i, ext := range []string{`plain`, `a"b`, `a"bc`, `back\slash`, `quote"and\back`} {
			u, err := c.CreateUser(ctx, &User{UserName: fmt.Sprintf("u%d", i), ExternalID: ext})
			if err != nil {
				t.Fatal(err)
			}
			ids[ext] = u.ID
		}
		for ext, id := range ids {
			u, err := tg.FindByExternalID(ctx, ext)
			if err != nil {
				t.Fatalf("FindByExternalID(%q): %v", ext, err)
			}
			if u == nil || u.ID != id {
				t.Errorf("FindByExternalID(%q) = %+v, want id %s", ext, u, id)
			}
		}
		for _, ext := range []string{"missing", `a"`, `PLAIN`} {
			if u, err := tg.FindByExternalID(ctx, ext); err != nil || u != nil {
				t.Errorf("FindByExternalID(%q) = %+v, %v; want nil", ext, u, err)
			}
		}
		// The plain value is found by the target's filter in one request.
		resetCounts(t, srv, ctx)
		if _, err := tg.FindByExternalID(ctx, "plain"); err != nil {
			t.Fatal(err)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 1 {
			t.Errorf("%d GETs for a plain externalId, want 1", got)
		}
	})
}

func TestDuplicateUserNameIsConflict(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		if _, err := c.CreateUser(ctx, &User{UserName: "bob"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.CreateUser(ctx, &User{UserName: "Bob"})
		if !IsConflict(err) || IsRetryable(err) {
			t.Fatalf("duplicate userName: %v, want a non-retryable conflict", err)
		}
		var se *Error
		if !errors.As(err, &se) || se.ScimType != "uniqueness" {
			t.Errorf("error %#v, want scimType uniqueness", err)
		}
		// Through the adapter: a different externalId with a taken userName stays a conflict.
		if _, err := NewTarget(c).CreateUser(ctx, model.User{ExternalID: "x2", UserName: "BOB", Active: true}); !IsConflict(err) {
			t.Errorf("Target.CreateUser: %v, want conflict", err)
		}
	})
}

func TestCreateUserReusesExisting(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		first, err := tg.CreateUser(ctx, fullUser("ext-dup", "carol"))
		if err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)
		again, err := NewTarget(c).CreateUser(ctx, fullUser("ext-dup", "carol"))
		if err != nil || again != first {
			t.Fatalf("second CreateUser = %q, %v; want %q", again, err, first)
		}
		if w := scimserver.WriteCount(counts(t, srv, ctx)); w != 0 {
			t.Errorf("%d write calls for an existing user, want 0", w)
		}
		d, _ := srv.Dump(ctx)
		if len(d.Users) != 1 {
			t.Errorf("%d users stored, want 1", len(d.Users))
		}
	})
}

func TestUpdateUserFields(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		for _, mode := range []string{"patch", "put"} {
			t.Run(mode, func(t *testing.T) {
				ctx, c := setup(t, srv, modeOptions(mode))
				tg := NewTarget(c)
				orig := fullUser("ext-u", "dave")
				id, err := tg.CreateUser(ctx, orig)
				if err != nil {
					t.Fatal(err)
				}
				// An attribute the client does not model, set out of band, must survive updates.
				if err := c.PatchUser(ctx, id, []PatchOp{{Op: "add", Path: "nickName", Value: "Davy"}}); err != nil {
					t.Fatal(err)
				}
				resetCounts(t, srv, ctx)

				if err := tg.UpdateUser(ctx, id, orig, nil); err != nil {
					t.Fatal(err)
				}
				if w := scimserver.WriteCount(counts(t, srv, ctx)); w != 0 {
					t.Errorf("%d writes for an empty field list, want 0", w)
				}

				want := orig
				want.Title, want.GivenName, want.Department, want.Email, want.Active = "Lead", "David", "", "d2@example.com", false
				err = tg.UpdateUser(ctx, id, want, []string{model.FieldTitle, model.FieldGivenName, model.FieldDepartment, model.FieldEmail, model.FieldActive})
				if err != nil {
					t.Fatal(err)
				}
				users, err := tg.ListUsers(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want.TargetID = id
				if got := findModel(t, users, id); !equalUser(got, want) {
					t.Errorf("after update\n got %+v\nwant %+v", got, want)
				}
				su, err := c.GetUser(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if su.Name.Formatted != "David Lovelace" || su.Enterprise == nil || su.Enterprise.EmployeeNumber != "1815" {
					t.Errorf("name/enterprise after update: %+v %+v", su.Name, su.Enterprise)
				}
				d, _ := srv.Dump(ctx)
				if d.Users[0]["nickName"] != "Davy" {
					t.Errorf("nickName lost: %v", d.Users[0])
				}
				wantMethod := map[string]string{"patch": http.MethodPatch, "put": http.MethodPut}[mode]
				if counts(t, srv, ctx)[wantMethod] != 1 {
					t.Errorf("requests %v, want one %s", counts(t, srv, ctx), wantMethod)
				}

				if err := tg.UpdateUser(ctx, id, want, []string{model.FieldGroups}); err == nil {
					t.Error("UpdateUser of groups should be refused")
				}
			})
		}
	})
}

func TestManagerResolution(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		boss, err := tg.CreateUser(ctx, fullUser("ext-boss", "boss"))
		if err != nil {
			t.Fatal(err)
		}
		emp := fullUser("ext-emp", "emp")
		emp.Manager = "ext-boss"
		empID, err := tg.CreateUser(ctx, emp)
		if err != nil {
			t.Fatal(err)
		}
		su, err := c.GetUser(ctx, empID)
		if err != nil || su.Enterprise == nil || su.Enterprise.Manager == nil || su.Enterprise.Manager.Value != boss {
			t.Fatalf("stored manager of emp: %+v, %v; want %s", su, err, boss)
		}

		// A manager not in the target yet: the user is created without one, and set later.
		late := fullUser("ext-late", "late")
		late.Manager = "ext-newboss"
		lateID, err := NewTarget(c).CreateUser(ctx, late)
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.UpdateUser(ctx, lateID, late, []string{model.FieldManager}); !errors.Is(err, ErrUnknownManager) {
			t.Errorf("UpdateUser with unknown manager: %v, want ErrUnknownManager", err)
		}
		if _, err := tg.CreateUser(ctx, fullUser("ext-newboss", "newboss")); err != nil {
			t.Fatal(err)
		}
		if err := NewTarget(c).UpdateUser(ctx, lateID, late, []string{model.FieldManager}); err != nil {
			t.Fatal(err)
		}

		users, err := NewTarget(c).ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m := findModel(t, users, empID).Manager; m != "ext-boss" {
			t.Errorf("emp manager = %q, want ext-boss", m)
		}
		if m := findModel(t, users, lateID).Manager; m != "ext-newboss" {
			t.Errorf("late manager = %q, want ext-newboss", m)
		}
		if err := tg.UpdateUser(ctx, empID, model.User{}, []string{model.FieldManager}); err != nil {
			t.Fatal(err)
		}
		if su, _ := c.GetUser(ctx, empID); su.Enterprise != nil && su.Enterprise.Manager != nil {
			t.Errorf("manager not removed: %+v", su.Enterprise.Manager)
		}
	})
}

func TestGroupMembership(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		var ids []string
		for _, n := range []string{"m1", "m2", "manual"} {
			id, err := tg.CreateUser(ctx, fullUser("ext-"+n, n))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		gid, err := tg.CreateGroup(ctx, "Engineering", "ds:eng")
		if err != nil {
			t.Fatal(err)
		}
		// Someone adds a member by hand in the application.
		if err := c.PatchGroup(ctx, gid, []PatchOp{{Op: "add", Path: "members", Value: []Member{{Value: ids[2]}}}}); err != nil {
			t.Fatal(err)
		}
		if err := tg.AddMembers(ctx, gid, []string{ids[0], ids[1], ids[0]}); err != nil {
			t.Fatal(err)
		}
		assertMembers(t, ctx, c, gid, ids[0], ids[1], ids[2])

		resetCounts(t, srv, ctx)
		if err := tg.AddMembers(ctx, gid, []string{ids[0]}); err != nil {
			t.Fatal(err)
		}
		if err := tg.RemoveMembers(ctx, gid, []string{"not-a-member"}); err != nil {
			t.Fatal(err)
		}
		if w := scimserver.WriteCount(counts(t, srv, ctx)); w != 0 {
			t.Errorf("%d writes for no-op membership changes, want 0", w)
		}
		assertMembers(t, ctx, c, gid, ids[0], ids[1], ids[2])

		if err := tg.RemoveMembers(ctx, gid, []string{ids[0], ids[1]}); err != nil {
			t.Fatal(err)
		}
		assertMembers(t, ctx, c, gid, ids[2])

		if err := tg.AddMembers(ctx, gid, []string{ids[1]}); err != nil {
			t.Fatal(err)
		}
		users, err := tg.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g := findModel(t, users, ids[1]).Groups; !slices.Equal(g, []string{"Engineering"}) {
			t.Errorf("m2 groups = %v", g)
		}
		if g := findModel(t, users, ids[0]).Groups; len(g) != 0 {
			t.Errorf("m1 groups = %v, want none", g)
		}
		groups, err := tg.ListGroups(ctx)
		if err != nil || len(groups) != 1 || groups[0].ExternalID != "ds:eng" || len(groups[0].Members) != 2 {
			t.Errorf("ListGroups = %+v, %v", groups, err)
		}
		if err := c.DeleteGroup(ctx, gid); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteGroup(ctx, gid); err != nil {
			t.Errorf("second group delete: %v", err)
		}
	})
}

func assertMembers(t *testing.T, ctx context.Context, c *Client, gid string, want ...string) {
	t.Helper()
	g, err := c.GetGroup(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range g.Members {
		got = append(got, m.Value)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
}

func TestRetryAfter429(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		if err := srv.InjectFault(ctx, scimserver.Fault{Kind: scimserver.Fault429, Count: 1, RetryAfter: 1}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := c.ListUsers(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < time.Second {
			t.Errorf("succeeded after %v, want a wait of at least Retry-After: 1s", el)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 2 {
			t.Errorf("%d GETs, want 2", got)
		}
	})
}

func TestRetry500ThenSuccess(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{MaxRetries: 3})
		if err := srv.InjectFault(ctx, scimserver.Fault{Kind: scimserver.Fault500, Count: 2, Method: http.MethodPost}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateUser(ctx, &User{UserName: "eve"}); err != nil {
			t.Fatal(err)
		}
		if got := counts(t, srv, ctx)[http.MethodPost]; got != 3 {
			t.Errorf("%d POSTs, want 3", got)
		}
	})
}

func TestRetry500GivesUp(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{MaxRetries: 2})
		if err := srv.InjectFault(ctx, scimserver.Fault{Kind: scimserver.Fault500}); err != nil {
			t.Fatal(err)
		}
		_, err := c.GetUser(ctx, "any")
		var se *Error
		if !errors.As(err, &se) || se.Status != 500 || !IsRetryable(err) {
			t.Fatalf("err = %v, want a 500 *Error", err)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 3 {
			t.Errorf("%d GETs, want 1 + MaxRetries = 3", got)
		}
		// Without retries: one request.
		resetCounts(t, srv, ctx)
		c0, _ := New(srv.URL(), Options{Token: srv.Token(), MaxRetries: -1})
		if _, err := c0.GetUser(ctx, "any"); err == nil {
			t.Fatal("want an error")
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 1 {
			t.Errorf("%d GETs with retries disabled, want 1", got)
		}
	})
}

func TestSlowResponseHonoursContext(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		if err := srv.InjectFault(ctx, scimserver.Fault{Kind: scimserver.FaultDelay, Delay: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.ListUsers(short, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Errorf("returned after %v, want promptly after the 300ms deadline", el)
		}
		_ = srv.ClearFaults(ctx)
	})
}

func TestRetryAfterBeyondDeadlineFailsFast(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		if err := srv.InjectFault(ctx, scimserver.Fault{Kind: scimserver.Fault429, RetryAfter: 30}); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.GetUser(short, "x")
		if statusOf(err) != http.StatusTooManyRequests || time.Since(start) > time.Second {
			t.Errorf("err = %v after %v, want an immediate 429", err, time.Since(start))
		}
	})
}

func TestWrongToken(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, _ := setup(t, srv, Options{})
		const wrong = "wrong-token-do-not-leak"
		c, err := New(srv.URL(), Options{Token: wrong})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListUsers(ctx, "")
		if statusOf(err) != http.StatusUnauthorized || IsRetryable(err) {
			t.Fatalf("err = %v, want a non-retryable 401", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), srv.Token()) {
			t.Errorf("error leaks a token: %v", err)
		}
	})
}

// Anonymizing (offboarding.afterGrace: Anonymize) overwrites every personal field the way the engine
// does it: the planner's AnonymizedUser, with all string fields and active named. The account stays,
// owned (externalId kept) and inactive, with nothing personal left.
func TestAnonymizeClearsPersonalData(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		for _, mode := range []string{"patch", "put"} {
			t.Run(mode, func(t *testing.T) {
				ctx, c := setup(t, srv, modeOptions(mode))
				tg := NewTarget(c)
				orig := fullUser("dirsync:ext-ada", "ada")
				id, err := tg.CreateUser(ctx, orig)
				if err != nil {
					t.Fatal(err)
				}
				anon := plan.AnonymizedUser(model.User{ExternalID: orig.ExternalID, TargetID: id})
				fields := append(slices.Clone(model.StringFields), model.FieldActive)
				if err := tg.UpdateUser(ctx, id, anon, fields); err != nil {
					t.Fatal(err)
				}
				users, err := tg.ListUsers(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got := findModel(t, users, id)
				want := model.User{ExternalID: orig.ExternalID, UserName: plan.AnonymizedUserName(orig.ExternalID), TargetID: id}
				if !equalUser(got, want) || !plan.IsAnonymized(got) {
					t.Fatalf("after anonymizing\n got %+v\nwant %+v", got, want)
				}
				d, err := srv.Dump(ctx)
				if err != nil {
					t.Fatal(err)
				}
				raw := fmt.Sprint(d.Users)
				for _, personal := range []string{"Ada", "Lovelace", "ada@example.com", "+44 20 1234", "Analyst", "1815"} {
					if strings.Contains(raw, personal) {
						t.Errorf("%q is still stored in the target: %s", personal, raw)
					}
				}
			})
		}
	})
}
