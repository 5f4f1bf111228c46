package syncer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

type scimTestServer struct {
	name, url, token string
	uniqueEmails     bool // SCIMMY does not enforce unique emails
	dump             func(context.Context) (*scimserver.Dump, error)
}

// scimServers starts SCIMMY and the strict server (emails required, pages of 50, member cap) for
// one test.
func scimServers(t *testing.T) []scimTestServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const tok = "syncer-test-token"
	sm, err := scimserver.Start(ctx, scimserver.Options{Token: tok})
	if err != nil {
		t.Fatalf("SCIMMY: %v", err)
	}
	t.Cleanup(sm.Stop)
	st, err := strictscim.Start(strictscim.Options{Token: tok, RequireEmail: true, MaxMembersPerOp: 3})
	if err != nil {
		t.Fatalf("strict server: %v", err)
	}
	t.Cleanup(st.Stop)
	return []scimTestServer{
		{"scimmy", sm.URL(), tok, false, sm.Dump},
		{"strict", st.URL(), tok, true, st.Dump},
	}
}

// The real syncer against both SCIM servers: an initial sync, a run with nothing to do, a person
// whose email someone else's account holds (a Conflict naming emails, the others synced), and
// offboarding by anonymization that leaves no personal data on a server requiring an email.
func TestRunAgainstSCIMServers(t *testing.T) {
	for _, srv := range scimServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			e := newEnv(t)
			e.policy.AfterGrace = plan.OffboardAnonymize
			client := func() *scim.Client {
				c, err := scim.New(srv.url, scim.Options{Token: srv.token, BaseBackoff: 10 * time.Millisecond, MaxMembersPerRequest: 3})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			run := func(people []person) *syncer.Result {
				t.Helper()
				o := e.options(hr.NewStatic(csvOf(people), hrConfig))
				o.Target = scim.NewTarget(client()) // one Target per run, as the controller does
				res, err := syncer.Run(ctx, o)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				e.state = res.State
				return res
			}
			people := staff(8)
			res := run(people)
			if len(res.Failures) != 0 || res.Counts.Created != 8 {
				t.Fatalf("initial sync: counts %+v, failures %v", res.Counts, res.Failures)
			}
			if res = run(people); len(res.Plan.Actions) != 0 {
				t.Errorf("second run planned:\n%s", res.Plan)
			}

			// Someone else's account holds the new person's email.
			if _, err := client().CreateUser(ctx, &scim.User{UserName: "someone-else",
				Emails: []scim.MultiValued{{Value: "user09@example.com", Type: "work"}}}); err != nil {
				t.Fatal(err)
			}
			people = staff(10)
			res = run(people)
			if !srv.uniqueEmails {
				if res.Counts.Created != 2 || len(res.Failures) != 0 {
					t.Errorf("run: counts %+v, failures %+v", res.Counts, res.Failures)
				}
			} else if res.Counts.Created != 1 || len(othersFailed(res, "user09")) != 0 || res.Failures[0].Reason != model.ReasonConflict ||
				!strings.Contains(res.Failures[0].Message, "emails") {
				// The other failures are user09's memberships, which wait for the account.
				t.Errorf("conflict run: counts %+v, failures %+v", res.Counts, res.Failures)
			}

			// Offboarding: suspended, then anonymized after the grace period.
			gone := people[1]
			people = without(people, gone.id)
			e.now = t0.Add(time.Hour)
			if res = run(people); res.Counts.Suspended != 1 {
				t.Errorf("suspend run: %+v %v", res.Counts, res.Failures)
			}
			e.now = t0.Add(2*time.Hour + grace)
			res = run(people)
			if res.Counts.Anonymized != 1 || len(othersFailed(res, "user09")) != 0 {
				t.Errorf("anonymize run: counts %+v, failures %v", res.Counts, res.Failures)
			}
			d, err := srv.dump(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range d.Users {
				if u["externalId"] != prefix+gone.id {
					continue
				}
				raw := fmt.Sprint(u)
				for _, personal := range []string{gone.login, gone.first, gone.mail()} {
					if strings.Contains(raw, personal) {
						t.Errorf("%q left in the anonymized user %s", personal, raw)
					}
				}
			}
		})
	}
}

// othersFailed returns the failures of anyone but subject (memberships of subject included).
func othersFailed(res *syncer.Result, subject string) []model.Problem {
	var out []model.Problem
	for _, f := range res.Failures {
		if f.Subject != subject && !strings.HasPrefix(f.Subject, subject+" (group ") {
			out = append(out, f)
		}
	}
	return out
}
