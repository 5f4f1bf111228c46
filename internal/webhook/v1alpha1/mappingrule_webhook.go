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
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
)

// +kubebuilder:webhook:path=/validate-sync-directorysync-io-v1alpha1-mappingrule,mutating=false,failurePolicy=fail,sideEffects=None,groups=sync.directorysync.io,resources=mappingrules,verbs=create;update,versions=v1alpha1,name=vmappingrule-v1alpha1.directorysync.io,admissionReviewVersions=v1

// MappingRuleValidator rejects MappingRules whose expressions do not compile.
type MappingRuleValidator struct{}

// SetupMappingRuleWebhook registers the validator with the manager's webhook server.
func SetupMappingRuleWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1.MappingRule{}).WithValidator(MappingRuleValidator{}).Complete()
}

// ValidateCreate compiles the rule.
func (MappingRuleValidator) ValidateCreate(_ context.Context, rule *v1.MappingRule) (admission.Warnings, error) {
	return nil, Validate(rule)
}

// ValidateUpdate compiles the new rule.
func (MappingRuleValidator) ValidateUpdate(_ context.Context, _, rule *v1.MappingRule) (admission.Warnings, error) {
	return nil, Validate(rule)
}

// ValidateDelete allows every deletion.
func (MappingRuleValidator) ValidateDelete(context.Context, *v1.MappingRule) (admission.Warnings, error) {
	return nil, nil
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
