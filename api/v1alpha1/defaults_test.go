package v1alpha1

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// crdDefault returns the default the generated CRD declares at a dotted path below the schema root.
func crdDefault(t *testing.T, file, path string) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/crd/bases/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, part := range strings.Split(path, ".") {
		next, ok := schema.Properties[part]
		if !ok {
			t.Fatalf("%s: no property %q on the way to %s", file, part, path)
		}
		schema = &next
	}
	if schema.Default == nil {
		t.Fatalf("%s: %s has no default", file, path)
	}
	return string(schema.Default.Raw)
}

// TestAccessorsMatchCRDDefaults keeps the defaults in one place: what an accessor returns for an unset
// field is what the API server would have filled in from the marker.
func TestAccessorsMatchCRDDefaults(t *testing.T) {
	const ds, st = "sync.directorysync.io_directorysources.yaml", "sync.directorysync.io_synctargets.yaml"
	dur := func(d time.Duration) func(string) bool {
		return func(def string) bool {
			var s string
			if json.Unmarshal([]byte(def), &s) != nil {
				return false
			}
			got, err := time.ParseDuration(s)
			return err == nil && got == d
		}
	}
	num := func(n int) func(string) bool { return func(def string) bool { return def == fmt.Sprint(n) } }
	str := func(v string) func(string) bool {
		return func(def string) bool { q, _ := json.Marshal(v); return def == string(q) }
	}
	for _, tc := range []struct {
		file, path string
		matches    func(string) bool
	}{
		{ds, "spec.probeInterval", dur((&DirectorySourceSpec{}).GetProbeInterval())},
		{ds, "spec.ldap.timeout", dur((&LDAPSource{}).GetTimeout())},
		{ds, "spec.ldap.incremental.fullReadInterval", dur((&LDAPIncremental{}).GetFullReadInterval())},
		{ds, "spec.hr.http.timeout", dur((&HTTPRecordSource{}).GetTimeout())},
		{st, "spec.interval", dur((&SyncTargetSpec{}).GetInterval())},
		{st, "spec.externalIDPrefix", str((&SyncTargetSpec{}).GetExternalIDPrefix())},
		{st, "spec.scim.timeout", dur((&SCIMTarget{}).GetTimeout())},
		{st, "spec.scim.maxConcurrency", num((&SCIMTarget{}).GetMaxConcurrency())},
		{st, "spec.offboarding.gracePeriod", dur((&Offboarding{}).GetGracePeriod())},
		{st, "spec.offboarding.afterGrace", str((&Offboarding{}).GetAfterGrace())},
		{st, "spec.safety.maxDeletions", num((&Safety{}).GetMaxDeletions())},
		{st, "spec.safety.maxDeletionPercent", num((&Safety{}).GetMaxDeletionPercent())},
		{st, "spec.safety.minSourcePercent", num((&Safety{}).GetMinSourcePercent())},
		{st, "spec.safety.maxAdoptions", num((&Safety{}).GetMaxAdoptions())},
		{st, "spec.reports.retain", num((&Reports{}).GetRetain())},
	} {
		if def := crdDefault(t, tc.file, tc.path); !tc.matches(def) {
			t.Errorf("%s: the CRD default is %s, the accessor disagrees", tc.path, def)
		}
	}
}

func TestGracePeriodZeroIsKept(t *testing.T) {
	o := Offboarding{GracePeriod: &metav1.Duration{}}
	if got := o.GetGracePeriod(); got != 0 {
		t.Fatalf("gracePeriod 0s reads as %s", got)
	}
}
