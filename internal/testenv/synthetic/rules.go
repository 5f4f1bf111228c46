package synthetic

import (
	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// RuleSpec is the mapping of the synthetic directory that the scale bench (test/bench) and the
// mapping benchmarks use: ten fields, a CEL display name and a lookup table of departments.
func RuleSpec() v1alpha1.MappingRuleSpec {
	return v1alpha1.MappingRuleSpec{
		Fields: []v1alpha1.FieldMapping{
			{Target: "userName", From: "uid"},
			{Target: "email", From: "mail", Required: true},
			{Target: "givenName", From: "givenName"},
			{Target: "familyName", From: "sn"},
			{Target: "displayName", Expression: "record.attrs.givenName + ' ' + record.attrs.sn"},
			{Target: "title", From: "title"},
			{Target: "phoneNumber", From: "telephoneNumber"},
			{Target: "employeeNumber", From: "employeeNumber"},
			{Target: "department", From: "departmentNumber", Lookup: "departments"},
			{Target: "groups", Expression: "record.groups"},
		},
		Lookups: []v1alpha1.LookupTable{{Name: "departments", Entries: Departments()}},
	}
}
