package install_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// series is one exported time series: its name and labels.
type series struct {
	name   string
	labels map[string]string
}

func (s series) String() string {
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, s.labels[k]))
	}
	return s.name + "{" + strings.Join(parts, ",") + "}"
}

// exported collects the series the operator really exported during the test, and every metric
// name (histograms with their _bucket, _sum and _count series).
type exported struct {
	series []series
	names  map[string]bool
}

// gather reads the manager's registry (controller-runtime's, which the metrics endpoint serves) and
// keeps the directorysync_ series of one SyncTarget.
func (e *exported) gather(t *testing.T, target string) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if e.names == nil {
		e.names = map[string]bool{}
	}
	perType := map[string]int{} // condition series per type: exactly one, never a stale one beside it
	defer func() {
		for typ, n := range perType {
			if n != 1 {
				t.Errorf("%d directorysync_synctarget_condition series of type %s for %s; want 1", n, typ, target)
			}
		}
		if len(perType) == 0 {
			t.Errorf("no directorysync_synctarget_condition series for %s", target)
		}
	}()
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "directorysync_") {
			continue
		}
		names := []string{name}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names = []string{name + "_bucket", name + "_sum", name + "_count"}
		}
		for _, n := range names {
			e.names[n] = true
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["synctarget"] == target {
				e.series = append(e.series, series{name: name, labels: labels})
				if name == "directorysync_synctarget_condition" {
					perType[labels["type"]]++
				}
			}
		}
	}
}

// pick returns an exported series with the name and these label values; it fails the test when the
// operator never exported one.
func (e *exported) pick(t *testing.T, name string, match map[string]string) series {
	t.Helper()
next:
	for _, s := range e.series {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		return s
	}
	t.Fatalf("the operator never exported %s with %v; exported: %v", name, match, e.series)
	return series{}
}

// waitCondition waits until the sample's SyncTarget has the condition with that status (and reason
// when not empty).
func waitCondition(t *testing.T, c *cluster, s sample, typ, status, reason string) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		var st v1.SyncTarget
		if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: s.namespace, Name: s.target}, &st); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(st.Status.Conditions, typ)
		if cond == nil || string(cond.Status) != status || (reason != "" && cond.Reason != reason) {
			return fmt.Errorf("want %s=%s (%s); conditions %+v", typ, status, reason, st.Status.Conditions)
		}
		return nil
	})
}

// TestAlertsAndDashboardAgainstExportedMetrics drives a real SyncTarget (slapd, SCIM server,
// envtest, the CRDs installed with `kubectl apply -k config/crd`) through healthy, degraded,
// deletion-threshold, source-down, stalled and suspended states, gathering the series the operator
// exports in each. Every alert of config/prometheus/rules.yaml is then evaluated by promtool on
// those exact series (label sets as exported; values laid out over time), and the Grafana dashboard
// may use only metric names the operator exported.
func TestAlertsAndDashboardAgainstExportedMetrics(t *testing.T) {
	promtool := filepath.Join(repoRoot, "bin", "promtool")
	if _, err := os.Stat(promtool); err != nil {
		t.Fatalf("bin/promtool is missing: run hack/install-deps.sh (make test-deps builds it from the Go module proxy): %v", err)
	}
	c := startCluster(t)
	c.mustRun(t, "", "kubectl", "apply", "-k", "config/crd")
	c.createNamespace(t, "alerts")
	s := startSample(t, c, "alerts", func(spec *v1.SyncTargetSpec) {
		spec.Safety = v1.Safety{MaxDeletions: ptr.To[int32](1), MaxDeletionPercent: ptr.To[int32](100), MinSourcePercent: ptr.To[int32](10)}
	})
	startManager(t, c.cfg, controllers.ManagerConfig{})
	const target = "alerts/app"
	ctx := context.Background()
	var ex exported

	s.waitSynced(t, c)
	ex.gather(t, target)

	// Degraded: the SCIM server fails every create, and a newcomer appears in the directory.
	if err := s.scim.InjectFault(ctx, scimserver.Fault{Kind: scimserver.Fault500, Method: "POST", Path: "/scim/v2/Users"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ldap.AddUser(ctx, slapd.User{UID: "newcomer", CN: "New Comer", GivenName: "New", SN: "Comer", Mail: "newcomer@example.com"}); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, c, s, v1.ConditionDegraded, "True", "")
	ex.gather(t, target)
	if err := s.scim.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, c, s, v1.ConditionReady, "True", "")
	ex.gather(t, target)

	// Deletion threshold: three people leave at once, one may be offboarded per run.
	left := 0
	for _, u := range s.ldap.Seed.Users {
		if left == 3 || u.Disabled || u.Mail == "" {
			continue
		}
		if err := s.ldap.DeleteUser(ctx, u.UID); err != nil {
			t.Fatal(err)
		}
		left++
	}
	waitCondition(t, c, s, v1.ConditionStalled, "True", v1.ReasonDeletionThresholdExceeded)
	ex.gather(t, target)

	// Source down.
	if err := s.ldap.Stop(); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, c, s, v1.ConditionSourceReachable, "False", "")
	ex.gather(t, target)

	// Stalled: the SyncTarget refers to a MappingRule that does not exist.
	var st v1.SyncTarget
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.target}, &st); err != nil {
		t.Fatal(err)
	}
	st.Spec.MappingRefs = []v1.LocalObjectReference{{Name: "no-such-rule"}}
	if err := c.client.Update(ctx, &st); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, c, s, v1.ConditionStalled, "True", v1.ReasonMappingNotReady)
	ex.gather(t, target)

	// Suspended.
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.target}, &st); err != nil {
		t.Fatal(err)
	}
	st.Spec.Suspend = true
	if err := c.client.Update(ctx, &st); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, c, s, v1.ConditionReady, "False", v1.ReasonSuspended)
	ex.gather(t, target)

	t.Run("alerts", func(t *testing.T) { checkAlertRules(t, promtool, &ex) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, &ex) })
}

// ruleFile is the part of a Prometheus rule file the test reads.
type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `json:"alert"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

var labelRef = regexp.MustCompile(`\{\{\s*\$labels\.([a-zA-Z_]+)\s*\}\}`)

// promtool's unit test file format.
type (
	promTest struct {
		RuleFiles          []string   `json:"rule_files"`
		EvaluationInterval string     `json:"evaluation_interval"`
		Tests              []testCase `json:"tests"`
	}
	testCase struct {
		Name        string        `json:"name"`
		Interval    string        `json:"interval"`
		InputSeries []inputSeries `json:"input_series"`
		AlertTests  []alertTest   `json:"alert_rule_test"`
	}
	inputSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	alertTest struct {
		EvalTime  string     `json:"eval_time"`
		Alertname string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	expAlert struct {
		ExpLabels      map[string]string `json:"exp_labels"`
		ExpAnnotations map[string]string `json:"exp_annotations"`
	}
)

func checkAlertRules(t *testing.T, promtool string, ex *exported) {
	rulesPath := filepath.Join(repoRoot, "config", "prometheus", "rules.yaml")
	raw, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	rules := map[string]struct {
		labels, annotations map[string]string
	}{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = struct{ labels, annotations map[string]string }{r.Labels, r.Annotations}
		}
	}
	// firing is the alert promtool must report for a series (labels: the series' minus the name,
	// plus the rule's; annotations: the rule's with $labels filled in).
	firing := func(alert string, s series, keep ...string) expAlert {
		r, ok := rules[alert]
		if !ok {
			t.Fatalf("rules.yaml has no alert %s", alert)
		}
		labels := map[string]string{}
		for k, v := range s.labels {
			if len(keep) == 0 || contains(keep, k) {
				labels[k] = v
			}
		}
		for k, v := range r.labels {
			labels[k] = v
		}
		ann := map[string]string{}
		for k, v := range r.annotations {
			ann[k] = labelRef.ReplaceAllStringFunc(v, func(m string) string { return labels[labelRef.FindStringSubmatch(m)[1]] })
		}
		return expAlert{ExpLabels: labels, ExpAnnotations: ann}
	}
	cond := func(typ, status, reason string) series {
		m := map[string]string{"type": typ, "status": status}
		if reason != "" {
			m["reason"] = reason
		}
		return ex.pick(t, "directorysync_synctarget_condition", m)
	}
	healthy := []series{
		cond(v1.ConditionReady, "True", v1.ReasonSucceeded),
		cond(v1.ConditionStalled, "False", ""),
		cond(v1.ConditionDegraded, "False", ""),
		cond(v1.ConditionSourceReachable, "True", ""),
	}
	stalled := cond(v1.ConditionStalled, "True", v1.ReasonMappingNotReady)
	threshold := cond(v1.ConditionStalled, "True", v1.ReasonDeletionThresholdExceeded)
	degraded := cond(v1.ConditionDegraded, "True", "")
	unreachable := cond(v1.ConditionSourceReachable, "False", "")
	suspended := cond(v1.ConditionReady, "False", v1.ReasonSuspended)
	lastSuccess := ex.pick(t, "directorysync_last_successful_sync_timestamp_seconds", nil)
	interval := ex.pick(t, "directorysync_sync_interval_seconds", nil) // 5s in the sample

	constant := func(ss ...series) []inputSeries {
		out := make([]inputSeries, 0, len(ss))
		for _, s := range ss {
			out = append(out, inputSeries{Series: s.String(), Values: "1x60"})
		}
		return out
	}
	all := []string{"DirectorySyncTargetStalled", "DirectorySyncTargetDegraded", "DirectorySyncSourceUnreachable",
		"DirectorySyncDeletionThresholdExceeded", "DirectorySyncNoSuccessfulSync"}
	none := func(at string) []alertTest {
		out := make([]alertTest, 0, len(all))
		for _, a := range all {
			out = append(out, alertTest{EvalTime: at, Alertname: a})
		}
		return out
	}
	keepUp := inputSeries{Series: lastSuccess.String(), Values: "0+60x60"} // a success every minute
	test := promTest{
		RuleFiles:          []string{rulesPath},
		EvaluationInterval: "1m",
		Tests: []testCase{
			{Name: "healthy: nothing fires", Interval: "1m",
				InputSeries: append(constant(healthy...), keepUp, inputSeries{Series: interval.String(), Values: "5x60"}),
				AlertTests:  none("60m")},
			{Name: "stalled for 5m", Interval: "1m", InputSeries: constant(stalled),
				AlertTests: []alertTest{
					{EvalTime: "4m", Alertname: "DirectorySyncTargetStalled"},
					{EvalTime: "6m", Alertname: "DirectorySyncTargetStalled", ExpAlerts: []expAlert{firing("DirectorySyncTargetStalled", stalled, "synctarget", "type", "status", "reason")}},
				}},
			{Name: "degraded for 30m", Interval: "1m", InputSeries: constant(degraded),
				AlertTests: []alertTest{
					{EvalTime: "29m", Alertname: "DirectorySyncTargetDegraded"},
					{EvalTime: "31m", Alertname: "DirectorySyncTargetDegraded", ExpAlerts: []expAlert{firing("DirectorySyncTargetDegraded", degraded, "synctarget", "type", "status", "reason")}},
				}},
			{Name: "source unreachable for 10m", Interval: "1m", InputSeries: constant(unreachable),
				AlertTests: []alertTest{
					{EvalTime: "9m", Alertname: "DirectorySyncSourceUnreachable"},
					{EvalTime: "11m", Alertname: "DirectorySyncSourceUnreachable", ExpAlerts: []expAlert{firing("DirectorySyncSourceUnreachable", unreachable, "synctarget", "type", "status", "reason")}},
				}},
			{Name: "deletion threshold: at once, and not also as a generic stall", Interval: "1m", InputSeries: constant(threshold),
				AlertTests: []alertTest{
					{EvalTime: "1m", Alertname: "DirectorySyncDeletionThresholdExceeded", ExpAlerts: []expAlert{firing("DirectorySyncDeletionThresholdExceeded", threshold, "synctarget", "type", "status", "reason")}},
					{EvalTime: "30m", Alertname: "DirectorySyncTargetStalled"},
				}},
			{Name: "no success for 3 intervals", Interval: "1m",
				InputSeries: []inputSeries{
					{Series: lastSuccess.String(), Values: "0x60"}, // last success at time 0
					{Series: interval.String(), Values: "5x60"},
					{Series: healthy[0].String(), Values: "1x60"},
				},
				AlertTests: []alertTest{
					{EvalTime: "0m", Alertname: "DirectorySyncNoSuccessfulSync"},
					{EvalTime: "1m", Alertname: "DirectorySyncNoSuccessfulSync", ExpAlerts: []expAlert{firing("DirectorySyncNoSuccessfulSync", lastSuccess, "synctarget")}},
				}},
			{Name: "no success, but suspended: silent", Interval: "1m",
				InputSeries: []inputSeries{
					{Series: lastSuccess.String(), Values: "0x60"},
					{Series: interval.String(), Values: "5x60"},
					{Series: suspended.String(), Values: "1x60"},
				},
				AlertTests: []alertTest{{EvalTime: "30m", Alertname: "DirectorySyncNoSuccessfulSync"}}},
		},
	}
	b, err := yaml.Marshal(test)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rules_test.yaml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\ntest file:\n%s", err, out, b)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var metricName = regexp.MustCompile(`\bdirectorysync_[a-z_]+\b`)

// checkDashboard: valid JSON, the four required panels, and every metric an expression names was
// exported by the operator.
func checkDashboard(t *testing.T, ex *exported) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "grafana", "directory-sync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	exprs := []string{}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			if target.Expr == "" {
				t.Errorf("panel %q has an empty expression", p.Title)
			}
			exprs = append(exprs, target.Expr)
		}
	}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			used[name] = true
			if !ex.names[name] {
				t.Errorf("dashboard uses %s, which the operator does not export (exported: %v)", name, ex.names)
			}
		}
	}
	for _, want := range []string{"directorysync_sync_duration_seconds_bucket", "directorysync_user_actions_total",
		"directorysync_sync_errors_total", "directorysync_managed_users"} {
		if !used[want] {
			t.Errorf("dashboard has no panel on %s", want)
		}
	}
}
