// Command bench measures the sync engine at scale and prints the figures as a markdown table:
// a synthetic 100k-user directory synced into the in-memory target (initial sync, a run already in
// sync, a run with 1% changed), and LDAP read throughput against a real slapd.
//
//	go run ./test/bench [-users 100000] [-groups 2000] [-ldap-users 20000] [-group-users 20000]
//	                    [-group-count 500] [-ad=true] [-results FILE]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory/ldap"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/synthetic"
)

func main() {
	users := flag.Int("users", 100_000, "synthetic directory size")
	groups := flag.Int("groups", 2_000, "synthetic group count")
	ldapUsers := flag.Int("ldap-users", 20_000, "users seeded into slapd for the LDAP read figure (0 skips it)")
	results := flag.String("results", "", "also write the report to this markdown file")
	groupUsers := flag.Int("group-users", 20_000, "users of the group-resolution figures (0 skips them)")
	groupCount := flag.Int("group-count", 500, "nested groups of the group-resolution figures")
	onDC := flag.Bool("ad", true, "also measure group resolution on a Samba AD DC (needs root; the first run provisions it)")
	flag.Parse()

	b := &bench{users: *users, groups: *groups}
	b.groupUsers, b.groupCount, b.onDC = *groupUsers, *groupCount, *onDC
	if err := b.run(*ldapUsers); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	report := b.report()
	fmt.Print(report)
	if *results != "" {
		if err := os.WriteFile(*results, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

type row struct{ scenario, measure, goal, result string }

type bench struct {
	users, groups int
	// group resolution figures (groups.go)
	groupUsers, groupCount int
	onDC                   bool
	rows                   []row
	notes                  []string
	start                  time.Time
}

func (b *bench) add(scenario, measure, goal, result string) {
	b.rows = append(b.rows, row{scenario, measure, goal, result})
	fmt.Fprintf(os.Stderr, "  %s: %s = %s\n", scenario, measure, result)
}

func rules() []mapping.NamedRule {
	return []mapping.NamedRule{{Name: "bench", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
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
		Lookups: []v1alpha1.LookupTable{{Name: "departments", Entries: synthetic.Departments()}},
	}}}
}

func (b *bench) run(ldapUsers int) error {
	b.start = time.Now()
	ctx := context.Background()
	mapper, err := mapping.Compile(rules())
	if err != nil {
		return err
	}
	src := &synthetic.Source{Users: b.users, Groups: b.groups}
	target := memory.New()
	var state plan.State
	sync := func() (*syncer.Result, time.Duration, error) {
		target.ResetCalls()
		start := time.Now()
		res, err := syncer.Run(ctx, syncer.Options{
			Source: src, Mapper: mapper, Target: target, State: state,
			Policy: plan.Policy{
				ExternalIDPrefix: "bench:", GracePeriod: 72 * time.Hour, AfterGrace: plan.OffboardDelete,
				ManagedFields: mapper.ManagedFields(), MaxDeletions: -1,
			},
		})
		elapsed := time.Since(start)
		if err != nil {
			return nil, 0, err
		}
		if len(res.Skipped) > 0 || res.Counts.Failed > 0 {
			return nil, 0, fmt.Errorf("run skipped %d entries and had %d failures: %v %v",
				len(res.Skipped), res.Counts.Failed, first(res.Skipped), first(res.Failures))
		}
		state = res.State
		return res, elapsed, nil
	}
	n := b.users
	scen := func(s string) string { return s }

	// d) initial sync, which also brings the target in sync for a)
	fmt.Fprintln(os.Stderr, "initial sync ...")
	res, d, err := sync()
	if err != nil {
		return err
	}
	if res.Counts.Created != n {
		return fmt.Errorf("initial sync created %d users, want %d", res.Counts.Created, n)
	}
	s := scen(fmt.Sprintf("d) initial sync, %d creates", n))
	b.add(s, "time (one run)", "—", seconds(d))
	b.add(s, "target write calls", "—", fmt.Sprintf("%d (%d creates, %d groups, %d member batches)", target.WriteCalls(),
		target.Calls()[memory.MethodCreateUser], target.Calls()[memory.MethodCreateGroup], target.Calls()[memory.MethodAddMembers]))

	// a) everything in sync
	fmt.Fprintln(os.Stderr, "in-sync run ...")
	runtime.GC()
	debug.FreeOSMemory()
	baseline := procStatus("VmRSS")
	hwmReset := resetPeakRSS()
	res, d, err = sync()
	if err != nil {
		return err
	}
	peak := procStatus("VmHWM")
	s = scen(fmt.Sprintf("a) %d users, %d groups, already in sync", n, b.groups))
	b.add(s, "read + map + plan (+ empty apply) time", "< 10 s", seconds(d))
	peakText := mib(peak)
	if !hwmReset {
		peakText += " (process peak: resetting it failed)"
	}
	b.add(s, "peak RSS during the run", "< 500 MiB", peakText)
	b.add(s, "RSS before the run (the memory target's data and the runtime)", "—", mib(baseline))
	b.add(s, "target write calls", "0", strconv.Itoa(target.WriteCalls()))
	b.add(s, "planned actions", "0", strconv.Itoa(len(res.Plan.Actions)))
	if err := b.phases(ctx, src, mapper, target, state, s); err != nil {
		return err
	}

	// b) 1% changed
	fmt.Fprintln(os.Stderr, "1% changed ...")
	src.Changed = func(i int) bool { return i%100 == 0 }
	changed := (n + 99) / 100
	res, d, err = sync()
	if err != nil {
		return err
	}
	s = scen(fmt.Sprintf("b) 1%% changed (%d users' title)", changed))
	b.add(s, "target write calls / changed users", "equal", fmt.Sprintf("%d / %d", target.WriteCalls(), changed))
	b.add(s, "time to converge (one run)", "—", seconds(d))
	if res.Counts.Updated != changed {
		return fmt.Errorf("1%% run updated %d users, want %d", res.Counts.Updated, changed)
	}
	if _, _, err = sync(); err != nil {
		return err
	}
	b.add(s, "target write calls of the next run", "0", strconv.Itoa(target.WriteCalls()))

	// c) LDAP
	b.ldap(ctx, ldapUsers)
	// e) group resolution
	b.groupModes(ctx, b.groupUsers, b.groupCount, b.onDC)
	return nil
}

// phases times the parts of an in-sync run one by one.
func (b *bench) phases(ctx context.Context, src *synthetic.Source, mapper *mapping.Mapper, target *memory.Target, state plan.State, s string) error {
	t := time.Now()
	snap, err := src.Read(ctx)
	if err != nil {
		return err
	}
	read := time.Since(t)
	t = time.Now()
	users, _, _ := mapper.MapAll(snap.Records)
	mapped := time.Since(t)
	for i := range users {
		users[i].ExternalID = "bench:" + users[i].ExternalID
	}
	t = time.Now()
	actual, err := target.ListUsers(ctx)
	if err != nil {
		return err
	}
	groups, err := target.ListGroups(ctx)
	if err != nil {
		return err
	}
	list := time.Since(t)
	t = time.Now()
	p := plan.Compute(plan.Input{Desired: users, Actual: actual, Groups: groups, State: state, SourceComplete: true, Now: time.Now(),
		Policy: plan.Policy{ExternalIDPrefix: "bench:", ManagedFields: mapper.ManagedFields(), MaxDeletions: -1}})
	planned := time.Since(t)
	if len(p.Actions) != 0 {
		return fmt.Errorf("phase breakdown planned %d actions", len(p.Actions))
	}
	b.add(s, "phases, timed separately: generate / map / list target / plan", "—",
		fmt.Sprintf("%s / %s / %s / %s", seconds(read), seconds(mapped), seconds(list), seconds(planned)))
	return nil
}

func (b *bench) ldap(ctx context.Context, n int) {
	s := fmt.Sprintf("c) LDAP read, %d users, paged (500/page)", n)
	switch {
	case n <= 0:
		b.add(s, "entries/s", "—", "skipped (-ldap-users 0)")
		return
	case !slapd.Available():
		b.add(s, "entries/s", "—", "skipped: "+slapd.InstallHint)
		return
	}
	fmt.Fprintln(os.Stderr, "starting slapd ...")
	t := time.Now()
	srv, err := slapd.Start(slapd.Options{Users: n})
	if err != nil {
		b.add(s, "entries/s", "—", "skipped: slapd did not start: "+firstLine(err.Error()))
		return
	}
	defer func() { _ = srv.Stop() }()
	b.notes = append(b.notes, fmt.Sprintf("slapd with %d users started (slapadd included) in %s.", n, seconds(time.Since(t))))
	src, err := ldap.New(ldap.Config{
		URL: srv.URL, BindDN: slapd.ServiceDN, BindPassword: slapd.ServicePassword,
		BaseDN: slapd.PeopleDN, UserFilter: "(objectClass=inetOrgPerson)",
		Attributes: []string{"uid", "mail", "givenName", "sn", "displayName", "telephoneNumber", "title", "departmentNumber", "employeeNumber", "employeeType"},
		PageSize:   500, Timeout: 30 * time.Second,
		Groups:   ldap.GroupsConfig{Mode: ldap.GroupsMemberOf},
		Disabled: ldap.DisabledConfig{Mode: ldap.DisabledAttribute, Attribute: slapd.DisabledAttribute, Value: slapd.DisabledValue},
	})
	if err != nil {
		b.add(s, "entries/s", "—", "error: "+err.Error())
		return
	}
	var rates []float64
	entries := 0
	for i := range 4 { // one warm-up read, then three measured
		t := time.Now()
		snap, err := src.Read(ctx)
		d := time.Since(t)
		if err != nil {
			b.add(s, "entries/s", "—", "error: "+firstLine(err.Error()))
			return
		}
		if !snap.Complete || len(snap.Records) < n {
			b.add(s, "entries/s", "—", fmt.Sprintf("error: read %d records (complete %v), want %d", len(snap.Records), snap.Complete, n))
			return
		}
		entries = len(snap.Records)
		if i > 0 {
			rates = append(rates, float64(entries)/d.Seconds())
		}
	}
	slices.Sort(rates)
	b.add(s, "entries/s (median of 3 reads, memberOf groups)", "—", fmt.Sprintf("%.0f (%d entries, %s per read)",
		rates[1], entries, seconds(time.Duration(float64(entries)/rates[1]*float64(time.Second)))))
}

func (b *bench) report() string {
	var w strings.Builder
	fmt.Fprintf(&w, "## Scale benchmark\n\n")
	fmt.Fprintf(&w, "Machine: %d cores (GOMAXPROCS %d), %s, %s %s/%s. Whole bench: %s.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, seconds(time.Since(b.start)))
	fmt.Fprintf(&w, "Synthetic directory: %d users in %d groups (two each), %d departments via a lookup table; "+
		"10 mapped fields incl. a CEL display name; in-process memory target; write concurrency 4.\n\n",
		b.users, b.groups, synthetic.DepartmentCount)
	fmt.Fprintf(&w, "| Scenario | Measure | Goal | Result |\n|---|---|---|---|\n")
	for _, r := range b.rows {
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", r.scenario, r.measure, r.goal, r.result)
	}
	for _, n := range b.notes {
		fmt.Fprintf(&w, "\n%s\n", n)
	}
	fmt.Fprintf(&w, "\nPeak RSS is VmHWM of the bench process, reset (/proc/self/clear_refs) after a GC just before the run; "+
		"it includes the in-memory target's data (the RSS before the run), which a real deployment keeps in the SCIM service instead.\n")
	fmt.Fprintf(&w, "\nTimes are single runs; on a shared 2-core machine they varied by up to 2x between bench runs.\n")
	fmt.Fprintf(&w, "\nReproduce: `make bench`, or `go run ./test/bench -results test/bench/RESULTS.md` to rewrite this file.\n")
	return w.String()
}

// resetPeakRSS resets VmHWM to the current RSS (Linux 4.0+).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatus returns a /proc/self/status size field in bytes, or -1.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	return parseStatus(f, field)
}

func parseStatus(r io.Reader, field string) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return -1
		}
		return kb * 1024
	}
	return -1
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

func mib(bytes int64) string {
	if bytes < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(bytes)/(1<<20))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func first[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}
