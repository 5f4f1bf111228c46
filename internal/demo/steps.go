package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

var targetKey = client.ObjectKey{Namespace: namespace, Name: targetName}

func (d *demo) heading(n int, title string) {
	d.printf("\n── Step %d of 5: %s %s\n", n, title, strings.Repeat("─", max(3, 60-len(title))))
}

// waitRun waits until a sync run of the SyncTarget's current generation finished at or after mark.
func (d *demo) waitRun(ctx context.Context, mark time.Time) (*v1.SyncTarget, error) {
	// The SCIM test server is slow to create thousands of users: allow time per person.
	timeout := runTimeout + time.Duration(d.opts.users)*100*time.Millisecond
	deadline := time.Now().Add(timeout)
	for {
		var st v1.SyncTarget
		err := d.k8s.Get(ctx, targetKey, &st)
		if err == nil && st.Status.ObservedGeneration == st.Generation && st.Status.LastSyncTime != nil &&
			!st.Status.LastSyncTime.Time.Before(mark) {
			return &st, nil
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("no sync run finished within %s", timeout)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", msg, err)
			}
			return nil, fmt.Errorf("%s; SyncTarget %s conditions:\n%s", msg, targetName, conditionsTable(st.Status.Conditions))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// afterChange makes a change and waits for the sync run it causes. status.lastSyncTime has a
// resolution of one second, so the change is made at the start of a fresh second: a run that
// finished before the change then shows an earlier time.
func (d *demo) afterChange(ctx context.Context, change func(context.Context) error) (*v1.SyncTarget, error) {
	now := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now)):
	}
	mark := time.Now().Truncate(time.Second)
	if err := change(ctx); err != nil {
		return nil, err
	}
	return d.waitRun(ctx, mark)
}

// readyIs checks the Ready condition.
func readyIs(st *v1.SyncTarget, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady)
	if c == nil || c.Status != status || c.Reason != reason {
		return fmt.Errorf("expected Ready=%s (%s), got:\n%s", status, reason, conditionsTable(st.Status.Conditions))
	}
	return nil
}

func (d *demo) stepDryRun(ctx context.Context, applied time.Time) error {
	d.heading(1, "Dry run: what would the operator do?")
	d.printf("The SyncTarget starts with spec.dryRun: true and the MappingRule's scope holds three pilot users:\n")
	d.printf("  scope: \"record.attrs.uid in ['user00004', 'user00005', 'user00011']\"\n")
	st, err := d.waitRun(ctx, applied)
	if err != nil {
		return err
	}
	d.printSource(ctx)
	if err := readyIs(st, metav1.ConditionTrue, v1.ReasonDryRun); err != nil {
		return err
	}
	p := st.Status.Plan
	if p == nil {
		return fmt.Errorf("dry run published no status.plan")
	}
	d.printf("\nThe operator read the directory, mapped the people in scope, compared them with the app and\n")
	d.printf("published the plan instead of writing (kubectl get synctarget %s -o yaml):\n\n", targetName)
	d.printf("  status.plan: %d actions: %s\n", p.TotalActions, countsText(p.Counts))
	for i, a := range p.Actions {
		if i == 8 {
			d.printf("    ... and %d more\n", int(p.TotalActions)-i)
			break
		}
		d.printf("    - %s\n", a)
	}
	users, err := d.scimUsers(ctx)
	if err != nil {
		return err
	}
	d.printf("\n  Users in the SCIM app: %d (a dry run writes nothing)\n\n", len(users))
	d.printGet(st)
	if want := len(pilotUIDs); int(p.Counts.Created) != want || len(users) != 0 {
		return fmt.Errorf("expected a plan creating the %d pilot users and an empty app; plan creates %d, app has %d users",
			want, p.Counts.Created, len(users))
	}
	return nil
}

func (d *demo) stepPilot(ctx context.Context, _ time.Time) error {
	d.heading(2, "Apply, for the pilot users only")
	d.printf("$ kubectl patch synctarget %s --type merge -p '{\"spec\":{\"dryRun\":false}}'\n", targetName)
	st, err := d.afterChange(ctx, func(ctx context.Context) error {
		return d.k8s.Patch(ctx, &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: targetName}},
			client.RawPatch(types.MergePatchType, []byte(`{"spec":{"dryRun":false}}`)))
	})
	if err != nil {
		return err
	}
	users, err := d.scimUsers(ctx)
	if err != nil {
		return err
	}
	d.printf("\nThe operator created the pilot users in the app. What the SCIM app now holds:\n\n")
	printTable(d.out, "  ", userHeader, userRows(users, nil))
	d.printf("\n$ kubectl describe synctarget %s   (status part)\n", targetName)
	d.printf("  Conditions:\n")
	d.printf("%s", indent(conditionsTable(st.Status.Conditions), "    "))
	d.printf("  Last Run:  %s\n\n", countsText(st.Status.LastRun))
	d.printGet(st)
	if err := readyIs(st, metav1.ConditionTrue, v1.ReasonSucceeded); err != nil {
		return err
	}
	var got []string
	for _, u := range users {
		got = append(got, str(u, "userName"))
	}
	slices.Sort(got)
	if !slices.Equal(got, pilotUIDs) {
		return fmt.Errorf("expected the app to hold the pilot users %v, it holds %v", pilotUIDs, got)
	}
	return nil
}

func (d *demo) stepEveryone(ctx context.Context, _ time.Time) error {
	d.heading(3, "Widen the scope to everyone")
	d.printf("The pilot looks right, so the scope goes:\n")
	d.printf("$ kubectl patch mappingrule %s --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/scope\"}]'\n", ruleName)
	st, err := d.afterChange(ctx, func(ctx context.Context) error {
		return d.k8s.Patch(ctx, &v1.MappingRule{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ruleName}},
			client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/spec/scope"}]`)))
	})
	if err != nil {
		return err
	}
	users, err := d.scimUsers(ctx)
	if err != nil {
		return err
	}
	active := 0
	for _, u := range users {
		if b, _ := u["active"].(bool); b {
			active++
		}
	}
	d.printf("\n  Last run:  %s\n", countsText(st.Status.LastRun))
	noMail, disabledOnly := 0, 0
	for _, u := range d.ldap.Seed.Users {
		switch {
		case u.Mail == "":
			noMail++
		case u.Disabled:
			disabledOnly++
		}
	}
	d.printf("  SCIM app:  %d users, %d active\n", len(users), active)
	d.printf("  Of the %d people in the directory, %s skipped for lack of mail (see the problems below) and\n",
		len(d.ldap.Seed.Users), plural(noMail, "person", "people", "was", "were"))
	d.printf("  %s not created: an account disabled before it was ever synced stays out.\n\n",
		plural(disabledOnly, "disabled account", "disabled accounts", "was", "were"))
	d.printGet(st)

	d.printf("\nThe per-user problem report (status.problems, %d in total) says who was left out and why:\n\n", st.Status.ProblemsTotal)
	var rows [][]string
	for _, p := range st.Status.Problems {
		rows = append(rows, []string{p.Subject, p.Reason, p.Message})
	}
	if len(rows) == 0 {
		rows = append(rows, []string{"(none)", "", ""})
	}
	printTable(d.out, "  ", []string{"SUBJECT", "REASON", "MESSAGE"}, rows)

	want := 0
	for _, u := range d.ldap.Seed.Users {
		if u.Mail != "" && !u.Disabled {
			want++
		}
	}
	if len(users) != want {
		return fmt.Errorf("expected %d users in the app (everyone with mail, not disabled), found %d", want, len(users))
	}
	if !slices.ContainsFunc(st.Status.Problems, func(p v1.UserProblem) bool {
		return strings.Contains(p.Subject, slapd.NoMailUID) || strings.Contains(p.Message, slapd.NoMailUID)
	}) {
		return fmt.Errorf("expected a problem for %s (no mail) in status.problems", slapd.NoMailUID)
	}
	return nil
}

func (d *demo) stepChange(ctx context.Context, _ time.Time) error {
	d.heading(4, "Change something in the directory")
	before, err := d.scimUsers(ctx)
	if err != nil {
		return err
	}
	d.printf("An LDAP admin moves a person to another department and disables an account:\n")
	d.printf("  uid=%s  departmentNumber: %s -> %s   (%s -> %s)\n", movedUID, movedFrom, movedTo, movedFromName, movedToName)
	d.printf("  uid=%s  employeeType: disabled        (account disabled)\n", disabledUID)
	d.printf("The next run comes within spec.interval (10m); any annotation change starts one now:\n")
	d.printf("$ kubectl annotate synctarget %s %s=\"$(date +%%s)\" --overwrite\n", targetName, syncNowAnnot)
	st, err := d.afterChange(ctx, func(ctx context.Context) error {
		if err := d.ldap.MoveDepartment(ctx, movedUID, movedTo); err != nil {
			return fmt.Errorf("changing the directory: %w", err)
		}
		if err := d.ldap.DisableUser(ctx, disabledUID); err != nil {
			return fmt.Errorf("changing the directory: %w", err)
		}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, syncNowAnnot, time.Now().UTC().Format(time.RFC3339Nano))
		return d.k8s.Patch(ctx, &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: targetName}},
			client.RawPatch(types.MergePatchType, []byte(patch)))
	})
	if err != nil {
		return err
	}
	after, err := d.scimUsers(ctx)
	if err != nil {
		return err
	}
	only := []string{movedUID, disabledUID}
	d.printf("\n  Last run:  %s\n\n", countsText(st.Status.LastRun))
	d.printf("  Before:\n")
	printTable(d.out, "    ", userHeader, userRows(before, only))
	d.printf("  After:\n")
	printTable(d.out, "    ", userHeader, userRows(after, only))
	d.printf("\n  %s was updated in place (PATCH); %s was suspended (active=false), not deleted:\n", movedUID, disabledUID)
	d.printf("  an account disabled in the directory stays suspended in the app until it is enabled again.\n")
	d.printf("  People who leave the directory are suspended too, and deleted after offboarding.gracePeriod (720h).\n")
	if err := readyIs(st, metav1.ConditionTrue, v1.ReasonSucceeded); err != nil {
		return err
	}
	moved, disabled := findUser(after, movedUID), findUser(after, disabledUID)
	if moved == nil || department(moved) != movedToName {
		return fmt.Errorf("expected %s in department %s in the app", movedUID, movedToName)
	}
	if disabled == nil || disabled["active"] != false {
		return fmt.Errorf("expected %s to be inactive in the app", disabledUID)
	}
	if st.Status.LastRun.Updated < 1 || st.Status.LastRun.Suspended < 1 {
		return fmt.Errorf("expected the last run to update and suspend a user, it did: %s", countsText(st.Status.LastRun))
	}
	return nil
}

func (d *demo) stepNext() {
	d.heading(5, "Where to look next")
	lines := [][]string{
		{"kubectl get directorysync", "the demo's three objects (category directorysync)"},
		{"kubectl describe synctarget " + targetName, "conditions, problems and events of the sync"},
		{"kubectl get synctarget " + targetName + " -o yaml", "status.plan (dry run), status.lastRun, status.problems, status.suspended"},
		{samplesDir + "/", "the manifests used here"},
		{"config/samples/", "the same for Active Directory (kustomize)"},
		{"go run ./cmd/demo -keep", "keep everything running and try kubectl yourself"},
	}
	printTable(d.out, "  ", nil, lines)
}

// keepRunning writes a kubeconfig and waits for Ctrl-C.
func (d *demo) keepRunning(ctx context.Context) error {
	user, err := d.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating a kubeconfig: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("creating a kubeconfig: %w", err)
	}
	dir, err := os.MkdirTemp("", "directory-sync-demo-")
	if err != nil {
		return err
	}
	d.onShutdown(func() { _ = os.RemoveAll(dir) })
	d.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(d.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	d.printf("\nStill running (-keep). In another terminal:\n\n")
	d.printf("  export KUBECONFIG=%s\n", d.kubeconfig)
	d.printf("  kubectl get synctargets\n\n")
	d.printf("  LDAP:  %s  bind %s / %s   (admin %s / %s)\n", d.ldap.URL, slapd.ServiceDN, slapd.ServicePassword, slapd.AdminDN, slapd.AdminPassword)
	d.printf("  SCIM:  %s  Authorization: Bearer %s\n", d.scim.URL(), d.scim.Token())
	d.printf("\nPress Ctrl-C to stop everything.\n")
	<-ctx.Done()
	d.printf("\nStopping...\n")
	return nil
}

// printSource shows the DirectorySource as kubectl get would, once it has been read.
func (d *demo) printSource(ctx context.Context) {
	var ds v1.DirectorySource
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := d.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sourceName}, &ds)
		if err == nil && meta.FindStatusCondition(ds.Status.Conditions, v1.ConditionReady) != nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := meta.FindStatusCondition(ds.Status.Conditions, v1.ConditionReady)
	reach := ""
	if r := meta.FindStatusCondition(ds.Status.Conditions, v1.ConditionSourceReachable); r != nil {
		reach = r.Reason
	}
	d.printf("\n$ kubectl get directorysources\n")
	printTable(d.out, "  ", []string{"NAME", "READY", "REACHABLE", "ENTRIES", "LAST READ", "AGE"}, [][]string{{
		ds.Name, string(c.Status), reach, fmt.Sprint(ds.Status.EntriesRead), age(ds.Status.LastReadTime), age(&ds.CreationTimestamp),
	}})
	if n := ds.Status.DisabledEntries; n == 1 {
		d.printf("  (one of them is a disabled account)\n")
	} else if n > 1 {
		d.printf("  (%d of them are disabled accounts)\n", n)
	}
}

// printGet shows the SyncTarget's printer columns as kubectl get would.
func (d *demo) printGet(st *v1.SyncTarget) {
	ready, reason := "", ""
	if c := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady); c != nil {
		ready, reason = string(c.Status), c.Reason
	}
	d.printf("$ kubectl get synctargets\n")
	printTable(d.out, "  ", []string{"NAME", "READY", "STATUS", "USERS", "PROBLEMS", "LAST SYNC", "AGE"}, [][]string{{
		st.Name, ready, reason, fmt.Sprint(st.Status.ManagedUsers), fmt.Sprint(st.Status.ProblemsTotal),
		age(st.Status.LastSyncTime), age(&st.CreationTimestamp),
	}})
}

func (d *demo) scimUsers(ctx context.Context) ([]map[string]any, error) {
	dump, err := d.scim.Dump(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the SCIM app: %w", err)
	}
	return dump.Users, nil
}

var userHeader = []string{"USERNAME", "EMAIL", "DEPARTMENT", "PHONE", "ROLE", "ACTIVE"}

// userRows renders SCIM users sorted by userName; only, when set, selects userNames.
func userRows(users []map[string]any, only []string) [][]string {
	var rows [][]string
	for _, u := range users {
		name := str(u, "userName")
		if only != nil && !slices.Contains(only, name) {
			continue
		}
		rows = append(rows, []string{name, first(u, "emails"), department(u), first(u, "phoneNumbers"), first(u, "roles"), fmt.Sprint(u["active"])})
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return rows
}

func findUser(users []map[string]any, userName string) map[string]any {
	for _, u := range users {
		if str(u, "userName") == userName {
			return u
		}
	}
	return nil
}

func str(m map[string]any, key string) string {
	if s, ok := m[key].(string); ok {
		return s
	}
	return ""
}

// first returns the value of the primary (or first) entry of a multi-valued attribute.
func first(m map[string]any, key string) string {
	list, _ := m[key].([]any)
	var v string
	for i, e := range list {
		entry, _ := e.(map[string]any)
		if i == 0 || entry["primary"] == true {
			v = fmt.Sprint(entry["value"])
		}
	}
	return v
}

func department(u map[string]any) string {
	ext, _ := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
	return str(ext, "department")
}

func countsText(c v1.RunCounts) string {
	parts := []string{
		fmt.Sprintf("create %d", c.Created), fmt.Sprintf("update %d", c.Updated), fmt.Sprintf("suspend %d", c.Suspended),
	}
	for _, x := range []struct {
		name string
		n    int32
	}{{"reactivate", c.Reactivated}, {"delete", c.Deleted}, {"anonymize", c.Anonymized}, {"group changes", c.GroupChanges}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", x.name, x.n))
		}
	}
	parts = append(parts, fmt.Sprintf("skipped %d", c.Skipped), fmt.Sprintf("failed %d", c.Failed))
	return strings.Join(parts, ", ")
}

// conditionsTable renders conditions like kubectl describe does for a Node.
func conditionsTable(conds []metav1.Condition) string {
	var b strings.Builder
	rows := make([][]string, 0, len(conds))
	for _, c := range conds {
		rows = append(rows, []string{c.Type, string(c.Status), c.Reason, c.Message})
	}
	if len(rows) == 0 {
		return "(no conditions yet)\n"
	}
	printTable(&b, "", []string{"Type", "Status", "Reason", "Message"}, rows)
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// plural says "1 person was" or "2 people were".
func plural(n int, one, many, verbOne, verbMany string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s %s", n, one, verbOne)
	}
	return fmt.Sprintf("%d %s %s", n, many, verbMany)
}
