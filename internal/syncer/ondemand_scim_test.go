package syncer_test

import (
	"context"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

// provision-now of a converged user on a real SCIM server, with a fresh Target as the
// controller builds one: a rule mapping an attribute path (enterprise costCenter) must give
// NoChange. ProvisionOne never tells the Target its fields (UseFields), so the listing lacks the
// path and the Update it then plans is refused by the Target.
func TestProvisionOneAttributePathOnSCIM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const tok = "review-token"
	srv, err := strictscim.Start(strictscim.Options{Token: tok, RequireEmail: true})
	if err != nil {
		t.Fatalf("strict server: %v", err)
	}
	t.Cleanup(srv.Stop)
	m, err := mapping.Compile([]mapping.NamedRule{{Name: "ad", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
		Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "sAMAccountName"},
			{Target: "email", From: "mail"},
			{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", From: "costCenter"},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	newTarget := func() *scim.Target {
		c, err := scim.New(srv.URL(), scim.Options{Token: tok, BaseBackoff: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return scim.NewTarget(c)
	}
	src := &staticSource{records: []model.Record{ldapPerson("id-01", "boss", "Board", "")}}
	opts := func() syncer.Options {
		return syncer.Options{Source: src, Mapper: m, Target: newTarget(),
			Policy: plan.Policy{ExternalIDPrefix: prefix, ManagedFields: m.ManagedFields(), MaxDeletions: -1}}
	}
	res, err := syncer.Run(ctx, opts())
	if err != nil || res.Counts.Created != 1 || len(res.Failures) > 0 {
		t.Fatalf("initial sync: %v %+v %v", err, res.Counts, res.Failures)
	}
	if res, _ := syncer.Run(ctx, opts()); len(res.Plan.Actions) != 0 {
		t.Fatalf("second run not converged: %v", res.Plan.Describe(0))
	}
	tr := syncer.ProvisionOne(ctx, opts(), "boss")
	if tr.Outcome != syncer.OnDemandNoChange {
		t.Errorf("provision-now of a converged user: outcome %s, steps %+v", tr.Outcome, tr.Steps)
	}
}
