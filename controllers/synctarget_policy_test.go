package controllers

import (
	"testing"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// People disabled when first seen are created (inactive) only when the SyncTarget asks for it.
func TestPolicyForFirstSeenDisabled(t *testing.T) {
	st := &v1.SyncTarget{}
	if policyFor(st, nil, "").CreateDisabled {
		t.Error("the default creates users for people disabled when first seen")
	}
	st.Spec.Offboarding.FirstSeenDisabled = "CreateSuspended"
	if !policyFor(st, nil, "").CreateDisabled {
		t.Error("firstSeenDisabled CreateSuspended is not passed to the planner")
	}
}
