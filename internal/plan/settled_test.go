package plan

import (
	"fmt"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// tombstones returns n managed target users that an earlier run anonymized (AfterGrace Anonymize):
// they stay in the target, owned, forever.
func tombstones(n int) []model.User {
	out := make([]model.User, n)
	for i := range out {
		ext := fmt.Sprintf("%sgone%03d", pfx, i)
		out[i] = model.User{ExternalID: ext, TargetID: fmt.Sprintf("t-gone%03d", i), UserName: AnonymizedUserName(ext)}
	}
	return out
}

// MaxDeletionPercent is a share of the people the SyncTarget manages. Anonymized (or
// suspended and kept) accounts are owned forever and inflate the base: with 20 people and 200
// tombstones, 10% lets 15 of the 20 people be suspended in one run without approval.
func TestDeletionPercentIgnoresTombstones(t *testing.T) {
	var desired, actual []model.User
	for i := range 20 {
		u := person(fmt.Sprintf("p%02d", i))
		actual = append(actual, inTarget(u))
		if i < 5 {
			desired = append(desired, u)
		}
	}
	actual = append(actual, tombstones(200)...)
	p := Compute(Input{Desired: desired, Actual: actual, Now: now, SourceComplete: true,
		Policy: policy(func(p *Policy) {
			p.AfterGrace = OffboardAnonymize
			p.MaxDeletionPercent = 10
		})})
	if p.Blocked == nil {
		t.Errorf("15 of 20 people suspended in one run under maxDeletionPercent 10 (summary %+v)", p.Summary)
	}
}

// MinSourcePercent compares the source with the managed users, tombstones included. Once
// the anonymized accounts outnumber the people (a few years of leavers under AfterGrace Anonymize
// or Keep), every run looks suspicious and a real leaver is never offboarded.
func TestTombstonesDoNotHoldOffboardingForever(t *testing.T) {
	var desired, actual []model.User
	for i := range 20 {
		u := person(fmt.Sprintf("p%02d", i))
		actual = append(actual, inTarget(u))
		if i > 0 {
			desired = append(desired, u) // p00 left
		}
	}
	actual = append(actual, tombstones(30)...)
	p := Compute(Input{Desired: desired, Actual: actual, Now: now, SourceComplete: true,
		Policy: policy(func(p *Policy) {
			p.AfterGrace = OffboardAnonymize
			p.MinSourcePercent = 50
		})})
	if p.OffboardingHeld != nil || p.Summary.Suspensions != 1 {
		t.Errorf("one leaver of 20 people: held %+v, suspensions %d", p.OffboardingHeld, p.Summary.Suspensions)
	}
}
