// Package v1alpha1 contains the API of the directory-sync operator: DirectorySource (where people come
// from), MappingRule (how a directory entry becomes a target user) and SyncTarget (where users go).
// +kubebuilder:object:generate=true
// +groupName=sync.directorysync.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of these objects.
	GroupVersion = schema.GroupVersion{Group: "sync.directorysync.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // kubebuilder's layout; a plain runtime.SchemeBuilder would change every *_types.go init

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
