// Package v1alpha1 holds the admission webhooks of the v1alpha1 API. CRD validation rules cannot
// compile user CEL, so the MappingRule webhook compiles every expression at `kubectl apply` time and
// rejects the rule with the compiler's message.
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
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
)

// +kubebuilder:webhook:path=/validate-sync-directorysync-io-v1alpha1-mappingrule,mutating=false,failurePolicy=fail,sideEffects=None,groups=sync.directorysync.io,resources=mappingrules,verbs=create;update,versions=v1alpha1,name=vmappingrule-v1alpha1.directorysync.io,admissionReviewVersions=v1
// Deletions are a second webhook on the same path with failurePolicy Ignore: it only warns, so an
// operator that is down must not stand in the way of a deletion.
// +kubebuilder:webhook:path=/validate-sync-directorysync-io-v1alpha1-mappingrule,mutating=false,failurePolicy=ignore,sideEffects=None,groups=sync.directorysync.io,resources=mappingrules,verbs=delete,versions=v1alpha1,name=vmappingrule-delete-v1alpha1.directorysync.io,admissionReviewVersions=v1,timeoutSeconds=5

// MappingRuleValidator rejects MappingRules whose expressions do not compile, and warns when a rule
// that SyncTargets use is deleted.
type MappingRuleValidator struct {
	Reader client.Reader
}

// SetupMappingRuleWebhook registers the validator with the manager's webhook server.
func SetupMappingRuleWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1.MappingRule{}).WithValidator(MappingRuleValidator{Reader: mgr.GetClient()}).Complete()
}

// ValidateCreate compiles the rule.
func (MappingRuleValidator) ValidateCreate(_ context.Context, rule *v1.MappingRule) (admission.Warnings, error) {
	return nil, Validate(rule)
}

// ValidateUpdate compiles the new rule.
func (MappingRuleValidator) ValidateUpdate(_ context.Context, _, rule *v1.MappingRule) (admission.Warnings, error) {
	return nil, Validate(rule)
}

// ValidateDelete allows the deletion and warns about the SyncTargets that use the rule.
func (v MappingRuleValidator) ValidateDelete(ctx context.Context, rule *v1.MappingRule) (admission.Warnings, error) {
	return inUseWarnings(ctx, v.Reader, "MappingRule", rule.Namespace, rule.Name, func(s *v1.SyncTargetSpec) bool { return s.UsesMappingRule(rule.Name) }), nil
}

// Validate returns an Invalid API error listing every compile error of the rule, or nil.
func Validate(rule *v1.MappingRule) error {
	err := mapping.CompileRule(mapping.NamedRule{Name: rule.Name, Generation: rule.Generation, Spec: rule.Spec})
	if err == nil {
		return nil
	}
	var list field.ErrorList
	for _, ce := range mapping.CompileErrors(err) {
		list = append(list, field.Invalid(field.NewPath("spec").Child(ce.Field), fieldValue(rule, ce.Field), ce.Message))
	}
	if len(list) == 0 {
		list = append(list, field.Invalid(field.NewPath("spec"), "", err.Error()))
	}
	return apierrors.NewInvalid(v1.GroupVersion.WithKind("MappingRule").GroupKind(), rule.Name, list)
}

// fieldValue returns the offending expression for the error message, when it can be found.
func fieldValue(rule *v1.MappingRule, path string) string {
	if path == "scope" {
		return rule.Spec.Scope
	}
	for _, f := range rule.Spec.Fields {
		if path == fmt.Sprintf("fields[%s].expression", f.Target) {
			return f.Expression
		}
	}
	return ""
}
