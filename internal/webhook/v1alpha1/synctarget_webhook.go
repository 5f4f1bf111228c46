package v1alpha1

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
)

// +kubebuilder:webhook:path=/validate-sync-directorysync-io-v1alpha1-synctarget,mutating=false,failurePolicy=fail,sideEffects=None,groups=sync.directorysync.io,resources=synctargets,verbs=create;update,versions=v1alpha1,name=vsynctarget-v1alpha1.directorysync.io,admissionReviewVersions=v1

// SyncTargetValidator rejects a SyncTarget that sets no single target type, or that would share
// ownership of an app's users with another: same app (normalised SCIM URL) and overlapping
// externalIDPrefix. Without the webhook the controller stalls the later one (reason
// OwnershipConflict, or InvalidConfig without a target type); with it, kubectl apply fails.
type SyncTargetValidator struct {
	Reader client.Reader
}

// SetupSyncTargetWebhook registers the validator with the manager's webhook server.
func SetupSyncTargetWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1.SyncTarget{}).WithValidator(SyncTargetValidator{Reader: mgr.GetClient()}).Complete()
}

// ValidateCreate rejects a SyncTarget overlapping any existing one.
func (v SyncTargetValidator) ValidateCreate(ctx context.Context, st *v1.SyncTarget) (admission.Warnings, error) {
	return nil, v.validate(ctx, nil, st)
}

// ValidateUpdate rejects a change that makes the SyncTarget overlap one it did not overlap before;
// overlaps that already existed are left to the controller, so other edits stay possible.
func (v SyncTargetValidator) ValidateUpdate(ctx context.Context, old, st *v1.SyncTarget) (admission.Warnings, error) {
	return nil, v.validate(ctx, old, st)
}

// ValidateDelete allows every deletion.
func (SyncTargetValidator) ValidateDelete(context.Context, *v1.SyncTarget) (admission.Warnings, error) {
	return nil, nil
}

func (v SyncTargetValidator) validate(ctx context.Context, old, st *v1.SyncTarget) error {
	// The CRD's rule says the same; this also holds on API servers that do not run it.
	if _, err := connect.TargetTypeOf(&st.Spec); err != nil {
		return apierrors.NewInvalid(v1.GroupVersion.WithKind("SyncTarget").GroupKind(), st.Name, field.ErrorList{
			field.Required(field.NewPath("spec"), err.Error()),
		})
	}
	var list v1.SyncTargetList
	if err := v.Reader.List(ctx, &list); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("listing SyncTargets to check ownership: %w", err))
	}
	before := map[string]bool{}
	if old != nil {
		for _, o := range connect.Overlapping(old, list.Items) {
			before[o.Namespace+"/"+o.Name] = true
		}
	}
	for _, o := range connect.Overlapping(st, list.Items) {
		if before[o.Namespace+"/"+o.Name] {
			continue
		}
		return apierrors.NewInvalid(v1.GroupVersion.WithKind("SyncTarget").GroupKind(), st.Name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "externalIDPrefix"), connect.Marker(st), fmt.Sprintf(
				"OwnershipConflict: SyncTarget %s/%s writes to the same app (%s) with externalIDPrefix %q; two SyncTargets on one app need prefixes of which neither is a prefix of the other",
				o.Namespace, o.Name, connect.TargetAppKey(&o.Spec), connect.Marker(o))),
		})
	}
	return nil
}
