package main

// These tests build the plugin and run the binary as kubectl would, against a real kube-apiserver
// (envtest) holding report ConfigMaps that the controller's own writer (controllers.WriteRunReport)
// stored for real runs of the syncer.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/report"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

var (
	k8s     client.Client
	restCfg *rest.Config
	plugin  string // the built binary
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test` (or `make envtest` and point it at bin/k8s/<version>)")
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-dirsync-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	plugin = filepath.Join(dir, "kubectl-dirsync")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", plugin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the plugin: %v\n%s", err, out)
		return 1
	}
	logf.SetLogger(logr.Discard())
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if restCfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	if k8s, err = client.New(restCfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}

// kubeconfig writes a kubeconfig for the envtest API server whose context's namespace is ns.
func kubeconfig(t *testing.T, ns string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restCfg.Host, CertificateAuthorityData: restCfg.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: restCfg.CertData, ClientKeyData: restCfg.KeyData,
		Token: restCfg.BearerToken}
	cfg.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: ns}
	cfg.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// dirsync runs the plugin binary with args and returns its stdout, stderr and whether it succeeded.
func dirsync(t *testing.T, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=/nonexistent") // only --kubeconfig counts
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		if _, exit := err.(*exec.ExitError); !exit {
			t.Fatalf("running the plugin: %v", err)
		}
	}
	return out.String(), errOut.String(), err == nil
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "dirsync-plugin-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// newSyncTarget creates a SyncTarget as a user applies it (the controller is not running here).
func newSyncTarget(t *testing.T, ns, name string) *v1alpha1.SyncTarget {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "SyncTarget",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"sourceRef":   map[string]any{"name": "hr"},
			"mappingRefs": []any{map[string]any{"name": "staff"}},
			"scim": map[string]any{"url": "https://app.example.com/scim/v2",
				"tokenSecretRef": map[string]any{"name": "scim-token", "key": "token"}},
		},
	}}
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatalf("creating SyncTarget: %v", err)
	}
	var st v1alpha1.SyncTarget
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func peopleCSV(n int) []byte {
	var b strings.Builder
	b.WriteString("id,login,mail,groups\n")
	for i := range n {
		fmt.Fprintf(&b, "E%05d,user%05d,user%05d@example.com,staff;team-%d\n", i, i, i, i%40)
	}
	return []byte(b.String())
}

// TestPluginShowsEveryRowOfAChunkedReport: a 12,000-person initial sync's report is chunked over
// several ConfigMaps; the plugin lists it and prints every one of its rows as a table, CSV and
// JSON, picks the newest report by default, filters by entry, and fails clearly on a report, a
// SyncTarget or a format that does not exist.
func TestPluginShowsEveryRowOfAChunkedReport(t *testing.T) {
	ns := newNamespace(t)
	st := newSyncTarget(t, ns, "app")
	kc := kubeconfig(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	m, err := mapping.Compile([]mapping.NamedRule{{Name: "staff", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
		{Target: "userName", From: "login"},
		{Target: "email", From: "mail"},
		{Target: "groups", Expression: "record.groups"},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := hr.Config{Format: hr.FormatCSV, IDColumn: "id", GroupsColumn: "groups"}
	tgt := memory.New()
	var state plan.State
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run := func(people int, dryRun bool, at time.Time) *syncer.Result {
		t.Helper()
		res, err := syncer.Run(ctx, syncer.Options{Source: hr.NewStatic(peopleCSV(people), cfg), Mapper: m, Target: tgt,
			Policy: plan.Policy{ExternalIDPrefix: "hr:", ManagedFields: m.ManagedFields(), MaxDeletions: -1, GracePeriod: time.Hour},
			State:  state, DryRun: dryRun, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		state = res.State
		if _, err := controllers.WriteRunReport(ctx, k8s, k8s, st, res, at, 10); err != nil {
			t.Fatalf("storing the report: %v", err)
		}
		return res
	}
	const people = 12000
	first := run(people, false, t0)
	if first.Counts.Created != people || first.Counts.Failed != 0 {
		t.Fatalf("initial sync: %+v", first.Counts)
	}
	second := run(people-3, true, t0.Add(time.Minute)) // three leavers, planned only
	firstRows, secondRows := report.Build(first), report.Build(second)
	firstRun, secondRun := fmt.Sprint(t0.UnixMilli()), fmt.Sprint(t0.Add(time.Minute).UnixMilli())

	// reports: both runs, the first in several parts.
	out, errOut, ok := dirsync(t, "reports", "app", "--kubeconfig", kc)
	if !ok {
		t.Fatalf("reports: %s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "RUN TIME MODE ROWS PARTS BLOCKED" {
		t.Fatalf("reports output:\n%s", out)
	}
	f1, f2 := strings.Fields(lines[1]), strings.Fields(lines[2])
	if f1[0] != firstRun || f1[2] != "applied" || f1[3] != fmt.Sprint(len(firstRows)) || f1[4] < "2" ||
		f2[0] != secondRun || f2[2] != "dry-run" || f2[3] != fmt.Sprint(len(secondRows)) || f2[4] != "1" {
		t.Fatalf("reports output:\n%s", out)
	}
	if len(firstRows) < 2*people {
		t.Fatalf("the first report has only %d rows", len(firstRows))
	}

	// CSV: every row of the chunked report, in order, under one header.
	out, errOut, ok = dirsync(t, "report", "app", "--run", firstRun, "-o", "csv", "--kubeconfig", kc, "-n", ns)
	if !ok {
		t.Fatalf("report -o csv: %s", errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV output does not parse: %v", err)
	}
	if !slices.Equal(recs[0], report.Header) || len(recs)-1 != len(firstRows) {
		t.Fatalf("CSV: header %v, %d rows, want %d", recs[0], len(recs)-1, len(firstRows))
	}
	for i, r := range firstRows {
		want := []string{r.Entry, r.Kind, r.User, r.ExternalID, r.Group, r.Fields, r.Reason, r.Outcome}
		if !slices.Equal(recs[i+1], want) {
			t.Fatalf("CSV row %d = %q, want %q", i, recs[i+1], want)
		}
	}

	// JSON: the same rows as objects keyed by the header names.
	out, errOut, ok = dirsync(t, "report", "app", "--run", firstRun, "-o", "json", "--kubeconfig", kc)
	if !ok {
		t.Fatalf("report -o json: %s", errOut)
	}
	var objs []map[string]string
	if err := json.Unmarshal([]byte(out), &objs); err != nil {
		t.Fatalf("the JSON output does not parse: %v", err)
	}
	if len(objs) != len(firstRows) {
		t.Fatalf("JSON: %d rows, want %d", len(objs), len(firstRows))
	}
	for i, r := range firstRows {
		o := objs[i]
		if o["entry"] != r.Entry || o["kind"] != r.Kind || o["user"] != r.User || o["externalId"] != r.ExternalID ||
			o["group"] != r.Group || o["reason"] != r.Reason || o["outcome"] != r.Outcome {
			t.Fatalf("JSON row %d = %v, want %+v", i, o, r)
		}
	}

	// Table: a header and one line per row, each naming its entry, kind, user, group and outcome.
	out, errOut, ok = dirsync(t, "report", "app", "--run", firstRun, "--kubeconfig", kc)
	if !ok {
		t.Fatalf("report (table): %s", errOut)
	}
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines)-1 != len(firstRows) || strings.Join(strings.Fields(lines[0]), " ") != "ENTRY KIND USER GROUP FIELDS REASON OUTCOME" {
		t.Fatalf("table: %d lines for %d rows, header %q", len(lines), len(firstRows), lines[0])
	}
	for i, r := range firstRows {
		f := strings.Fields(lines[i+1])
		// tabwriter pads empty cells with blanks: the non-empty leading cells, in order
		want := slices.DeleteFunc([]string{r.Entry, r.Kind, r.User, r.Group}, func(s string) bool { return s == "" })
		if !slices.Equal(f[:len(want)], want) || f[len(f)-1] != r.Outcome {
			t.Fatalf("table line %d = %q, want %v … %s", i, lines[i+1], want, r.Outcome)
		}
	}

	// Default: the newest report; --entry keeps one kind of row; flags may precede the arguments.
	out, errOut, ok = dirsync(t, "-o", "csv", "report", "--entry", "action", "--kubeconfig", kc, "app")
	if !ok {
		t.Fatalf("report (newest): %s", errOut)
	}
	recs, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("newest report's actions: %v %q", err, out)
	}
	for _, rec := range recs[1:] {
		if rec[0] != "action" || rec[1] != string(plan.KindSuspend) || rec[7] != report.OutcomePlanned {
			t.Fatalf("newest report's action %q, want a planned Suspend", rec)
		}
	}

	// Errors: exit status 1 and a message saying what is missing.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "app", "--run", "42"}, `no report "42"`},
		{[]string{"report", "nosuch"}, `"nosuch" not found`},
		{[]string{"report", "app", "-o", "yaml"}, `unknown output format "yaml"`},
		{[]string{"report"}, "usage:"},
		{[]string{"show", "app"}, "usage:"},
	} {
		out, errOut, ok := dirsync(t, append(c.args, "--kubeconfig", kc)...)
		if ok || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: ok %v, stdout %q, stderr %q, want an error containing %q", c.args, ok, out, errOut, c.want)
		}
	}
	newSyncTarget(t, ns, "fresh")
	if _, errOut, ok := dirsync(t, "report", "fresh", "--kubeconfig", kc); ok || !strings.Contains(errOut, "no reports stored") {
		t.Errorf("a SyncTarget without reports: ok %v, stderr %q", ok, errOut)
	}
}
