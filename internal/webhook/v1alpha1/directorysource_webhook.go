package v1alpha1

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// Deletions only, and failurePolicy Ignore: the webhook warns and never stands in the way.
// +kubebuilder:webhook:path=/validate-sync-directorysync-io-v1alpha1-directorysource,mutating=false,failurePolicy=ignore,sideEffects=None,groups=sync.directorysync.io,resources=directorysources,verbs=delete,versions=v1alpha1,name=vdirectorysource-delete-v1alpha1.directorysync.io,admissionReviewVersions=v1,timeoutSeconds=5

// DirectorySourceValidator warns when a DirectorySource that SyncTargets use is deleted.
type DirectorySourceValidator struct {
	Reader client.Reader
}

// SetupDirectorySourceWebhook registers the validator with the manager's webhook server.
func SetupDirectorySourceWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1.DirectorySource{}).WithValidator(DirectorySourceValidator{Reader: mgr.GetClient()}).Complete()
}

// ValidateCreate allows every DirectorySource (the webhook is registered for deletions only).
func (DirectorySourceValidator) ValidateCreate(context.Context, *v1.DirectorySource) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate allows every change (the webhook is registered for deletions only).
func (DirectorySourceValidator) ValidateUpdate(context.Context, *v1.DirectorySource, *v1.DirectorySource) (admission.Warnings, error) {
	return nil, nil
}

// ValidateDelete allows the deletion and warns about the SyncTargets that use the source.
func (v DirectorySourceValidator) ValidateDelete(ctx context.Context, ds *v1.DirectorySource) (admission.Warnings, error) {
	return inUseWarnings(ctx, v.Reader, "DirectorySource", ds.Namespace, ds.Name, func(s *v1.SyncTargetSpec) bool { return s.UsesSource(ds.Name) }), nil
}
