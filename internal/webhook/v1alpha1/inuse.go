package v1alpha1

import (
	"context"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// maxInUseWarnings bounds the warnings of one deletion; kubectl prints each on its own line.
const maxInUseWarnings = 10

// inUseWarnings warns, on the deletion of a DirectorySource or MappingRule, about every SyncTarget
// that uses it: that SyncTarget stops syncing. The deletion is never refused (the webhook is
// registered with failurePolicy Ignore, too): refusing it would block `kubectl delete -f` of a
// whole directory and namespace deletion, and a SyncTarget without its source or rules holds,
// it offboards nobody. A failed lookup gives no warning rather than an error.
func inUseWarnings(ctx context.Context, r client.Reader, kind, namespace, name string, uses func(*v1.SyncTargetSpec) bool) admission.Warnings {
	if r == nil {
		return nil
	}
	var list v1.SyncTargetList
	if err := r.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil
	}
	var users []string
	for i := range list.Items {
		st := &list.Items[i]
		if st.DeletionTimestamp.IsZero() && uses(&st.Spec) {
			users = append(users, st.Namespace+"/"+st.Name)
		}
	}
	sort.Strings(users)
	var warnings admission.Warnings
	for i, u := range users {
		if i == maxInUseWarnings {
			warnings = append(warnings, fmt.Sprintf("%s %s/%s is in use by %d more SyncTargets", kind, namespace, name, len(users)-i))
			break
		}
		warnings = append(warnings, fmt.Sprintf(
			"%s %s/%s is in use by SyncTarget %s; it will stop syncing (nothing is written, nobody is offboarded) until the %s exists again",
			kind, namespace, name, u, kind))
	}
	return warnings
}
