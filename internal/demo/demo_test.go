package demo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// TestDemo runs the whole demo in-process and checks what it tells the reader.
func TestDemo(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test` (it builds kube-apiserver and etcd into bin/k8s)")
	}
	if !slapd.Available() {
		t.Fatal(slapd.InstallHint)
	}
	if err := scimserver.Available(); err != nil {
		t.Fatalf("SCIM test server unavailable (%v): run `npm ci --prefix test/scim-server`", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	began := time.Now()
	err := Run(ctx, &out, []string{"-users", "20"})
	t.Logf("demo output (%s):\n%s", time.Since(began).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	// Compare with columns collapsed, so that the checks do not depend on column widths.
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	text := squash(out.String())
	for _, want := range []string{
		// Step 1: the dry run's plan.
		"create user00004 (user00004@example.com)",
		"Users in the SCIM app: 0",
		// Step 2: the pilot users in the app, with the lookup, the default role and the phone.
		"user00011   user00011@example.com   Supply Chain   +1 555 0000011   Member   true",
		"user00004   user00004@example.com   Marketing",
		"Ready             True     Succeeded",
		// Step 3: everyone but the user without mail and the disabled one.
		"SCIM app:  18 users, 18 active",
		"no.mail   MissingField",
		// Step 4: the department move and the suspension.
		"update 1, suspend 1",
		"user00011   user00011@example.com   Engineering",
		"Member   false",
		"the loop works",
	} {
		if !strings.Contains(text, squash(want)) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), &out, []string{"-users", "5"}); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Errorf("-users 5: got %v", err)
	}
	if err := Run(context.Background(), &out, []string{"extra"}); err == nil {
		t.Error("extra argument accepted")
	}
	out.Reset()
	if err := Run(context.Background(), &out, []string{"-h"}); err != nil || !strings.Contains(out.String(), "-keep") {
		t.Errorf("-h: %v, %q", err, out.String())
	}
}

func TestLoadManifests(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"LDAP_URL": "ldap://127.0.0.1:1", "LDAP_BIND_DN": "cn=x", "LDAP_BIND_PASSWORD": "p",
		"SCIM_URL": "http://127.0.0.1:2/scim/v2", "SCIM_TOKEN": "t"}
	objs, err := loadManifests(root+"/"+samplesDir, vars)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	if kinds["DirectorySource"] != 1 || kinds["MappingRule"] != 1 || kinds["SyncTarget"] != 1 || kinds["Secret"] != 2 {
		t.Errorf("unexpected objects: %v", kinds)
	}
	delete(vars, "SCIM_URL")
	if _, err := loadManifests(root+"/"+samplesDir, vars); err == nil || !strings.Contains(err.Error(), "SCIM_URL") {
		t.Errorf("a missing placeholder value was not reported: %v", err)
	}
}
