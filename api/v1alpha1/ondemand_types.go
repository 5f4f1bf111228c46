package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// AnnotationProvisionNow, set on a SyncTarget to a directory id or userName, provisions that one
// person within seconds, without a full run, and writes a trace to status.onDemand and an event.
// Words after the first are ignored, so "alice 2" repeats a request for alice. Nobody is ever
// offboarded by it, and every safety limit and ownership rule applies.
const AnnotationProvisionNow = "sync.directorysync.io/provision-now"

// AnnotationProvisionDryRun set to "true" makes provision-now plan without writing (as does spec.dryRun).
const AnnotationProvisionDryRun = "sync.directorysync.io/provision-now-dry-run"

// OnDemandTrace tells what a provision-now request did, step by step.
type OnDemandTrace struct {
	// Request is the annotation value handled.
	Request string `json:"request"`
	// Time the request was handled.
	Time metav1.Time `json:"time"`
	// DryRun is true when nothing was written.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Outcome: Applied, Planned, NoChange, NotFound, Ambiguous, OutOfScope, Unmappable, Conflict,
	// Blocked or Failed.
	Outcome string `json:"outcome"`
	// Steps: read, scope, map, match, plan, apply.
	// +kubebuilder:validation:MaxItems=40
	// +optional
	Steps []OnDemandStep `json:"steps,omitempty"`
	// Fields lists each mapped field with its value and origin.
	// +kubebuilder:validation:MaxItems=40
	// +optional
	Fields []TracedField `json:"fields,omitempty"`
}

// OnDemandStep is one step of a provision-now trace.
type OnDemandStep struct {
	Step    string `json:"step"`
	Outcome string `json:"outcome"`
	// +optional
	Detail string `json:"detail,omitempty"`
}

// TracedField is a mapped field of the traced person.
type TracedField struct {
	Field string `json:"field"`
	// +optional
	Value  string `json:"value,omitempty"`
	Origin string `json:"origin"`
}
