package controllers

import (
	"context"
	"fmt"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
)

// ownershipConflict returns the older SyncTarget that writes to the same app as st with an
// overlapping externalIDPrefix, or nil. While it is not nil, st writes nothing: two SyncTargets
// claiming the same users would suspend each other's people.
func (r *SyncTargetReconciler) ownershipConflict(ctx context.Context, st *v1.SyncTarget) (*v1.SyncTarget, error) {
	var list v1.SyncTargetList
	if err := r.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing SyncTargets to check ownership: %w", err)
	}
	return connect.OwnershipConflict(st, list.Items), nil
}

func ownershipConflictMessage(st, other *v1.SyncTarget) string {
	return fmt.Sprintf("SyncTarget %s/%s writes to the same app (%s) with externalIDPrefix %q, which overlaps this one's %q, and is older: "+
		"this SyncTarget writes nothing (no plan, no target writes) until one of them uses another URL or a prefix that is not a prefix of the other",
		other.Namespace, other.Name, connect.TargetAppKey(&other.Spec), connect.Marker(other), connect.Marker(st))
}
