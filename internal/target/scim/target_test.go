package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/target"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

// strictSetup switches the strict server to sopts for this test and returns a discovered client.
func strictSetup(t *testing.T, sopts strictscim.Options, opts Options) (context.Context, *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	sopts.Token = token
	if err := strict.Configure(sopts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("strict server log:\n%s", tail(strict.Logs(), 60))
		}
		_ = strict.Reset(context.Background())
	})
	opts.Token = token
	if opts.BaseBackoff == 0 {
		opts.BaseBackoff = 10 * time.Millisecond
	}
	c, err := New(strict.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	_ = strict.ResetRequestCounts(ctx)
	return ctx, c
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func logCount(substr string) int { return strings.Count(strict.Logs(), substr) }

func TestDiscoverReadsTheTruthAndOverrides(t *testing.T) {
	ctx, c := strictSetup(t, strictscim.Options{NoFilter: true, NoPatch: true, ETag: true}, Options{})
	caps, err := c.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Discovered || caps.FilterSupported || caps.PatchSupported || !caps.ETagSupported || caps.MaxResults != 50 {
		t.Errorf("capabilities %+v", caps)
	}
	if len(caps.ResourceTypes) != 2 || caps.Schema(SchemaEnterpriseUser) == nil || caps.Schema(SchemaUser).Attribute("userName") == nil {
		t.Errorf("resource types %+v, %d schemas", caps.ResourceTypes, len(caps.Schemas))
	}
	// Cached: a second call asks nothing.
	if _, err := c.Discover(ctx); err != nil || logCount("/ServiceProviderConfig") != 1 {
		t.Errorf("discovery repeated: %v\n%s", err, strict.Logs())
	}
	yes, pages := true, 20
	c2, _ := New(strict.URL(), Options{Token: token, Capabilities: CapabilityOverrides{PatchSupported: &yes, MaxResults: &pages}})
	caps, err = c2.Discover(ctx)
	if err != nil || !caps.PatchSupported || caps.MaxResults != 20 {
		t.Errorf("overridden: %+v, %v", caps, err)
	}
}

func TestPageSizeFromCapabilities(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{Concurrency: 8})
		const n = 120
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, _ = c.CreateUser(ctx, &User{UserName: fmt.Sprintf("p%03d", i)}) })
		}
		wg.Wait()
		resetCounts(t, srv, ctx)
		users, err := c.ListUsers(ctx, "")
		if err != nil || len(users) != n {
			t.Fatalf("%d users, %v", len(users), err)
		}
		// SCIMMY allows 200 per page (one request, not two of the old fixed 100); the strict server 50.
		want := 1
		if isStrict(srv) {
			want = 3
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != want {
			t.Errorf("%d GETs, want %d", got, want)
		}
	})
}

// A run lists once and then creates without asking the target anything first, also on a server
// without filtering, which answers every filter with 400 invalidFilter.
func TestNoRequestBeforeCreate(t *testing.T) {
	for _, noFilter := range []bool{false, true} {
		t.Run(fmt.Sprintf("noFilter=%v", noFilter), func(t *testing.T) {
			ctx, c := strictSetup(t, strictscim.Options{NoFilter: noFilter}, Options{})
			tg := NewTarget(c)
			if _, err := tg.ListUsers(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := tg.ListGroups(ctx); err != nil {
				t.Fatal(err)
			}
			_ = strict.ResetRequestCounts(ctx)
			boss, err := tg.CreateUser(ctx, fullUser("dirsync:boss", "boss"))
			if err != nil {
				t.Fatal(err)
			}
			emp := fullUser("dirsync:emp", "emp")
			emp.Manager = "dirsync:boss"
			if _, err := tg.CreateUser(ctx, emp); err != nil {
				t.Fatal(err)
			}
			if got, _ := strict.RequestCounts(ctx); got[http.MethodGet] != 0 || got[http.MethodPost] != 2 {
				t.Errorf("requests %v, want 2 POSTs and no GET", got)
			}
			// The same user again (e.g. a second plan entry) is not created twice.
			if id, err := tg.CreateUser(ctx, fullUser("dirsync:boss", "boss")); err != nil || id != boss {
				t.Errorf("again: %q, %v; want %q", id, err, boss)
			}
			// Without a listing (a fresh Target), a lookup is made, and works without filters.
			id, err := NewTarget(c).CreateUser(ctx, fullUser("dirsync:boss", "boss"))
			if err != nil || id != boss {
				t.Errorf("fresh target: %q, %v; want %q", id, err, boss)
			}
			if logCount(" 400") != 0 {
				t.Errorf("the client sent a filter the server refused:\n%s", strict.Logs())
			}
		})
	}
}

// Groups are listed once per run: ListGroups reuses the listing ListUsers made.
func TestGroupsListedOnce(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		if _, err := tg.CreateGroup(ctx, "Eng", "dirsync:eng"); err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)
		if _, err := NewTarget(c).ListUsers(ctx); err != nil {
			t.Fatal(err)
		}
		tg = NewTarget(c)
		if _, err := tg.ListUsers(ctx); err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)
		groups, err := tg.ListGroups(ctx)
		if err != nil || len(groups) != 1 {
			t.Fatalf("groups %v, %v", groups, err)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 0 {
			t.Errorf("ListGroups after ListUsers made %d GETs, want 0", got)
		}
	})
}

// A target without any group is listed once too: the empty listing is the answer.
func TestNoGroupsListedOnce(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		tg := NewTarget(c)
		if _, err := tg.ListUsers(ctx); err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)
		groups, err := tg.ListGroups(ctx)
		if err != nil || len(groups) != 0 {
			t.Fatalf("groups %v, %v", groups, err)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 0 {
			t.Errorf("ListGroups after ListUsers of a target without groups made %d GETs, want 0", got)
		}
	})
}

// A POST whose response is lost (the user was created, the client saw a 500) is retried; the 409
// that follows finds the own user: one user, no error. Without retries, the fresh listing finds it.
func TestLostCreateResponse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noFilter bool
		retries  int
	}{{"retried", false, 0}, {"retriedNoFilter", true, 0}, {"notRetried", true, -1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, c := strictSetup(t, strictscim.Options{NoFilter: tc.noFilter}, Options{MaxRetries: tc.retries})
			tg := NewTarget(c)
			if _, err := tg.ListUsers(ctx); err != nil {
				t.Fatal(err)
			}
			_ = strict.InjectFault(ctx, scimserver.Fault{Kind: strictscim.FaultLostResponse, Count: 1, Method: http.MethodPost})
			id, err := tg.CreateUser(ctx, fullUser("dirsync:lost", "lost"))
			if err != nil || id == "" {
				t.Fatalf("CreateUser = %q, %v", id, err)
			}
			d, _ := strict.Dump(ctx)
			if len(d.Users) != 1 || d.Users[0]["id"] != id {
				t.Errorf("stored %v, want one user %s", d.Users, id)
			}
			_ = strict.InjectFault(ctx, scimserver.Fault{Kind: strictscim.FaultLostResponse, Count: 1, Method: http.MethodPost})
			gid, err := tg.CreateGroup(ctx, "Lost", "dirsync:lost-group")
			if err != nil || gid == "" {
				t.Fatalf("CreateGroup = %q, %v", gid, err)
			}
			if d, _ := strict.Dump(ctx); len(d.Groups) != 1 || d.Groups[0]["id"] != gid {
				t.Errorf("stored groups %v, want one %s", d.Groups, gid)
			}
		})
	}
}

// A 409 on any unique attribute of someone else's account is a ConflictError naming it.
func TestConflictNamesTheAttribute(t *testing.T) {
	ctx, c := strictSetup(t, strictscim.Options{}, Options{})
	if _, err := c.CreateUser(ctx, &User{UserName: "taken", Emails: workEmail("taken@example.com")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateGroup(ctx, &Group{DisplayName: "Admins"}); err != nil {
		t.Fatal(err)
	}
	tg := NewTarget(c)
	if _, err := tg.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ userName, email, want string }{
		{"TAKEN", "new@example.com", "userName"},
		{"newbie", "Taken@Example.com", "emails"},
	} {
		u := fullUser("dirsync:"+tc.userName, tc.userName)
		u.Email = tc.email
		_, err := tg.CreateUser(ctx, u)
		ce := target.AsConflict(err)
		if ce == nil || ce.Attribute != tc.want || IsRetryable(err) {
			t.Errorf("%s/%s: %v, want a conflict on %s", tc.userName, tc.email, err, tc.want)
		}
	}
	// Without a listing the attribute comes from the target's message.
	u := fullUser("dirsync:x", "x")
	u.Email = "taken@example.com"
	if ce := target.AsConflict(func() error { _, err := NewTarget(c).CreateUser(ctx, u); return err }()); ce == nil || ce.Attribute != "emails" {
		t.Errorf("unlisted: %v", ce)
	}
	_, err := tg.CreateGroup(ctx, "admins", "dirsync:admins")
	if ce := target.AsConflict(err); ce == nil || ce.Attribute != "displayName" {
		t.Errorf("group: %v, want a conflict on displayName", err)
	}
}

func TestAuthFailureIsTyped(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		c, err := New(srv.URL(), Options{Token: "wrong-token"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewTarget(c).ListUsers(context.Background())
		if !target.IsAuth(err) || statusOf(err) != http.StatusUnauthorized {
			t.Errorf("err = %v, want a target.AuthError for 401", err)
		}
	})
}

// Members go in chunks: 120 new members on a server capping an operation at 100 (and one at 30).
func TestMembersInChunks(t *testing.T) {
	for _, tc := range []struct {
		serverCap, clientMax, wantPatches int
	}{{100, 0, 3}, {30, 30, 4}} {
		t.Run(fmt.Sprint(tc.serverCap), func(t *testing.T) {
			ctx, c := strictSetup(t, strictscim.Options{MaxMembersPerOp: tc.serverCap}, Options{MaxMembersPerRequest: tc.clientMax, Concurrency: 8})
			tg := NewTarget(c)
			var ids []string
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 120 {
				wg.Go(func() {
					u, err := c.CreateUser(ctx, &User{UserName: fmt.Sprintf("m%03d", i)})
					if err == nil {
						mu.Lock()
						ids = append(ids, u.ID)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			gid, err := tg.CreateGroup(ctx, "Big", "dirsync:big")
			if err != nil {
				t.Fatal(err)
			}
			_ = strict.ResetRequestCounts(ctx)
			if err := tg.AddMembers(ctx, gid, ids); err != nil {
				t.Fatal(err)
			}
			if got, _ := strict.RequestCounts(ctx); got[http.MethodPatch] != tc.wantPatches {
				t.Errorf("%d PATCHes, want %d", got[http.MethodPatch], tc.wantPatches)
			}
			g, err := c.GetGroup(ctx, gid)
			if err != nil || len(g.Members) != 120 {
				t.Fatalf("%d members, %v", len(g.Members), err)
			}
			if err := tg.RemoveMembers(ctx, gid, ids[:70]); err != nil {
				t.Fatal(err)
			}
			if g, _ := c.GetGroup(ctx, gid); len(g.Members) != 50 {
				t.Errorf("%d members after removing 70, want 50", len(g.Members))
			}
		})
	}
}

// Two owned groups with one externalId (left by an old bug or by hand) are reported.
func TestDuplicateOwnedGroupsReported(t *testing.T) {
	ctx, c := strictSetup(t, strictscim.Options{}, Options{})
	for _, name := range []string{"Eng", "Eng (2)"} {
		if _, err := c.CreateGroup(ctx, &Group{DisplayName: name, ExternalID: "dirsync:eng"}); err != nil {
			t.Fatal(err)
		}
	}
	tg := NewTarget(c)
	if _, err := tg.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	probs := tg.ListProblems()
	if len(probs) != 1 || probs[0].Reason != model.ReasonDuplicate || !strings.Contains(probs[0].Subject, "dirsync:eng") {
		t.Errorf("problems %+v", probs)
	}
	// Creating it again uses the listed group.
	_ = strict.ResetRequestCounts(ctx)
	if _, err := tg.CreateGroup(ctx, "Eng", "dirsync:eng"); err != nil {
		t.Fatal(err)
	}
	if got, _ := strict.RequestCounts(ctx); got[http.MethodPost] != 0 {
		t.Errorf("%d POSTs for a listed group", got[http.MethodPost])
	}
}

// Without PATCH, updates are read-modify-write with If-Match; a server requiring it accepts them.
func TestPutSendsIfMatch(t *testing.T) {
	ctx, c := strictSetup(t, strictscim.Options{NoPatch: true, ETag: true, RequireIfMatch: true}, Options{})
	tg := NewTarget(c)
	id, err := tg.CreateUser(ctx, fullUser("dirsync:etag", "etag"))
	if err != nil {
		t.Fatal(err)
	}
	u := fullUser("dirsync:etag", "etag")
	u.Title = "Boss"
	if err := tg.UpdateUser(ctx, id, u, []string{model.FieldTitle}); err != nil {
		t.Fatal(err)
	}
	if su, _ := c.GetUser(ctx, id); su.Title != "Boss" {
		t.Errorf("title %q", su.Title)
	}
}

// Anonymizing on a server that requires an email leaves a placeholder on a reserved domain; a
// server that keeps a derived name.formatted is caught by reading the user back.
func TestAnonymizeRequiredEmailAndReadBack(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepFormatted=%v", keep), func(t *testing.T) {
			ctx, c := strictSetup(t, strictscim.Options{RequireEmail: true, KeepFormattedName: keep}, Options{})
			tg := NewTarget(c)
			orig := fullUser("dirsync:ada", "ada")
			id, err := tg.CreateUser(ctx, orig)
			if err != nil {
				t.Fatal(err)
			}
			anon := plan.AnonymizedUser(model.User{ExternalID: orig.ExternalID, TargetID: id})
			err = tg.Anonymize(ctx, id, anon, append(slices.Clone(model.StringFields), model.FieldActive))
			var ae *AnonymizationError
			if keep {
				if !errors.As(err, &ae) || !slices.Equal(ae.Attributes, []string{"name.formatted"}) {
					t.Fatalf("err = %v, want the kept name.formatted reported", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			su, err := c.GetUser(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(su.Emails) != 1 || !strings.HasSuffix(su.Emails[0].Value, "@invalid.example") || su.IsActive() {
				t.Errorf("anonymized user %+v", su)
			}
			d, _ := strict.Dump(ctx)
			raw := fmt.Sprint(d.Users)
			for _, personal := range []string{"Lovelace", "ada@example.com", "+44 20 1234", "Analyst", "1815"} {
				if strings.Contains(raw, personal) && !(keep && personal == "Lovelace") {
					t.Errorf("%q is still stored: %s", personal, raw)
				}
			}
		})
	}
}

// A server allowing 100 requests per 10 s gets a 500-user initial sync done in one run, with no
// failure: 429s pause the whole client until the window resets. Slow by nature (about 50 s).
func TestRateLimitedInitialSync(t *testing.T) {
	// The strict server says when the window resets as a Unix time in X-RateLimit-Reset.
	for _, header := range []string{"X-RateLimit-Reset"} {
		ctx, c := strictSetup(t, strictscim.Options{RateLimit: 100, RateWindow: 10 * time.Second, RateLimitHeader: header}, Options{})
		ctx, cancel := context.WithTimeout(ctx, 85*time.Second)
		defer cancel()
		tg := NewTarget(c)
		if _, err := tg.ListUsers(ctx); err != nil {
			t.Fatal(err)
		}
		const n = 500
		errs := make(chan error, n)
		sem := make(chan struct{}, 4)
		for i := range n {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				_, err := tg.CreateUser(ctx, fullUser(fmt.Sprintf("dirsync:r%03d", i), fmt.Sprintf("r%03d", i)))
				errs <- err
			}()
		}
		failed := 0
		for range n {
			if err := <-errs; err != nil {
				failed++
				if failed < 3 {
					t.Error(err)
				}
			}
		}
		d, _ := strict.Dump(ctx)
		if failed != 0 || len(d.Users) != n {
			t.Errorf("%d failures, %d users stored; want 0 and %d", failed, len(d.Users), n)
		}
		t.Logf("%d requests throttled", strict.Throttled())
	}
}
