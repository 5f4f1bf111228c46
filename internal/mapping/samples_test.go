package mapping

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// TestSampleMappingRules compiles every MappingRule of config/samples, so that the samples the
// README points to stay valid, and maps an AD-like record with the attribute sample.
func TestSampleMappingRules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "sync_v1alpha1_mappingrule*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rule v1alpha1.MappingRule
		if err := yaml.UnmarshalStrict(b, &rule); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m, err := Compile([]NamedRule{{Name: rule.Name, Spec: rule.Spec}})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rule.Name != "staff-attributes" {
			continue
		}
		r := m.Map(model.Record{ID: "guid-1", ManagerID: "guid-0", Groups: []string{"app-wiki", "Contractors"},
			Attributes: map[string][]string{
				"userPrincipalName": {"ada@corp.example"}, "mail": {"ada@corp.example"}, "mobile": {"+41 79 000 00 01"},
				"l": {"Zurich"}, "c": {"CH"}, "extensionAttribute1": {"CC-7"}, "department": {"R&D"},
				"extensionAttribute2": {"3"}, "whenCreated": {"20240131120000.0Z"}, "employeeNumber": {"B-1"},
			}})
		if !r.Mapped() {
			t.Fatalf("sample record not mapped: %+v", r.Skip)
		}
		u := r.User
		acme := "urn:example:params:scim:schemas:extension:acme:2.0:User:"
		for path, want := range map[string]string{
			`phoneNumbers[type eq "mobile"].value`:                                  "+41 79 000 00 01",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "CC-7",
			acme + "clearance": "3", acme + "contractor": "true", acme + "startDate": "2024-01-31T12:00:00Z",
			"entitlements": "app-wiki", "roles": "reader",
		} {
			if got := u.Attr(path).String(); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
		if u.Department != "R&D" || u.Manager != "guid-0" || u.Email != "ada@corp.example" {
			t.Errorf("aliases: %+v", u)
		}
		if got := m.CreateOnlyFields(); len(got) != 1 || got[0] != "roles" {
			t.Errorf("create-only %q", got)
		}
	}
}
