package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestManagerLinksNoTestHarness keeps envtest, the slapd/SCIMMY harnesses and the demo out of the
// manager binary: they belong to cmd/demo and the tests.
func TestManagerLinksNoTestHarness(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages; the check would prove nothing", len(deps))
	}
	const module = "github.com/directory-sync/directory-sync-operator/"
	forbidden := []string{
		module + "internal/testenv",
		module + "internal/demo",
		"sigs.k8s.io/controller-runtime/pkg/envtest",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the manager links %s", dep)
			}
		}
	}
}
