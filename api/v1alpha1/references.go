package v1alpha1

import "slices"

// UsesSource says whether the SyncTarget reads the DirectorySource name of its own namespace.
func (s *SyncTargetSpec) UsesSource(name string) bool { return s.SourceRef.Name == name }

// UsesMappingRule says whether the SyncTarget maps with the MappingRule name of its own namespace.
func (s *SyncTargetSpec) UsesMappingRule(name string) bool {
	return slices.ContainsFunc(s.MappingRefs, func(r LocalObjectReference) bool { return r.Name == name })
}
