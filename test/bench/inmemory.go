package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/synthetic"
)

// The engine at scale: a synthetic directory synced into the in-memory target, at -users and at
// -users-large, in the same process one after the other so that their ratio is measured under the
// same conditions.

var (
	memUsers      = flag.Int("users", 100_000, "synthetic directory size of the in-memory figures, before -scale")
	memUsersLarge = flag.Int("users-large", 1_000_000, "the larger synthetic directory, before -scale (0 skips it)")
	memGroups     = flag.Int("groups", 2_000, "synthetic group count (not scaled)")
	memLimitMiB   = flag.Int("memlimit", 1843, "MiB: measure the larger directory's in-sync run once more under this soft memory limit, "+
		"as the manager sets it (--memory-limit-ratio 0.9 of its container's limit; 1843 MiB is a 2 GiB container); 0 skips it. "+
		"A limit below what the run needs live costs CPU, the figure says how much")
	inSyncRuns = flag.Int("in-sync-runs", 5, "in-sync runs at each size: their median time is the figure (and the growth's), "+
		"their highest peak RSS the memory figure")
	profileDir = flag.String("profile", "", "write CPU and heap profiles of the largest size's first in-sync run into this directory "+
		"(cpu.pprof; heap-before.pprof and heap-after.pprof: go tool pprof -sample_index=alloc_space -base heap-before.pprof heap-after.pprof)")
)

func init() {
	register(section{name: "memory", order: 10, run: func(b *bench, ctx context.Context) error {
		return b.memory(ctx, b.size(*memUsers), b.size(*memUsersLarge), *memGroups)
	}})
}

// scaleRun holds the figures of one directory size, for the growth ratios.
type scaleRun struct {
	users int
	// median of the in-sync runs, and their spread
	inSync, cpu      time.Duration
	runs             int
	fastest, slowest time.Duration
	// the in-sync run with the highest peak
	peakRSS, baseRSS   int64
	peakLive, baseLive uint64
	hwmReset           bool
}

func (b *bench) memory(ctx context.Context, small, large, groups int) error {
	b.note("Synthetic directory: users in %d groups (two each), %d departments via a lookup table; "+
		"10 mapped fields incl. a CEL display name; in-process memory target; write concurrency 4.", groups, synthetic.DepartmentCount)
	b.note("Peak RSS is VmHWM of the bench process, reset (/proc/self/clear_refs) after a GC just before the run; " +
		"it includes the in-memory target's data (the RSS before the run), which a real deployment keeps in the SCIM service instead. " +
		"Live heap is the largest heap a GC cycle found live during the run (runtime/metrics /gc/heap/live:bytes, sampled).")
	a, err := b.memoryAt(ctx, small, groups, "< 10 s", "< 500 MiB", large <= 0, 0)
	if err != nil || large <= 0 {
		return err
	}
	c, err := b.memoryAt(ctx, large, groups, "< 10 s", "< 2048 MiB", true, *memLimitMiB)
	if err != nil {
		return err
	}
	s := fmt.Sprintf("g) growth %d → %d users (%.0f× the users)", a.users, c.users, float64(c.users)/float64(a.users))
	linear := float64(c.users) / float64(a.users)
	b.vs(s, "in-sync run time (medians)", fmt.Sprintf("≤ %.0f×", linear*1.1),
		formatRatio(c.inSync.Seconds()/a.inSync.Seconds()), formatRatio(linear)+" (linear)",
		c.inSync.Seconds()/a.inSync.Seconds()/linear)
	b.vs(s, "in-sync run CPU time (medians)", fmt.Sprintf("≤ %.0f×", linear*1.1),
		formatRatio(c.cpu.Seconds()/a.cpu.Seconds()), formatRatio(linear)+" (linear)",
		c.cpu.Seconds()/a.cpu.Seconds()/linear)
	b.vs(s, "peak RSS (highest of the runs)", fmt.Sprintf("≤ %.0f×", linear*1.1),
		formatRatio(float64(c.peakRSS)/float64(a.peakRSS)), formatRatio(linear)+" (linear)",
		float64(c.peakRSS)/float64(a.peakRSS)/linear)
	return nil
}

func benchRules() []mapping.NamedRule {
	return []mapping.NamedRule{{Name: "bench", Generation: 1, Spec: synthetic.RuleSpec()}}
}

// memoryAt measures one directory size: the initial sync, a run already in sync (time, memory,
// phases), a run with 1% changed and the run after it. It checks the write counts and fails on a
// mismatch: a fast run that writes is not a result.
func (b *bench) memoryAt(ctx context.Context, n, groups int, timeGoal, rssGoal string, profiling bool, limitMiB int) (scaleRun, error) {
	r := scaleRun{users: n}
	mapper, err := mapping.Compile(benchRules())
	if err != nil {
		return r, err
	}
	src := &synthetic.Source{Users: n, Groups: groups}
	target := memory.New()
	policy := plan.Policy{
		ExternalIDPrefix: "bench:", GracePeriod: 72 * time.Hour, AfterGrace: plan.OffboardDelete,
		ManagedFields: mapper.ManagedFields(), MaxDeletions: -1,
	}
	var state plan.State
	expected := 0
	sync := func() (*syncer.Result, time.Duration, error) {
		target.ResetCalls()
		start := time.Now()
		// as the controller does: the last run's managed users size this run's list of users
		res, err := syncer.Run(ctx, syncer.Options{Source: src, Mapper: mapper, Target: target, State: state, Policy: policy,
			ExpectedUsers: expected})
		elapsed := time.Since(start)
		if err != nil {
			return nil, 0, err
		}
		if len(res.Skipped) > 0 || res.Counts.Failed > 0 {
			return nil, 0, fmt.Errorf("run skipped %d entries and had %d failures: %v %v",
				len(res.Skipped), res.Counts.Failed, first(res.Skipped), first(res.Failures))
		}
		state, expected = res.State, res.ManagedAfter()
		return res, elapsed, nil
	}

	// d) initial sync, which also brings the target in sync for a)
	fmt.Fprintf(progress, "initial sync of %d users ...\n", n)
	res, d, err := sync()
	if err != nil {
		return r, err
	}
	if res.Counts.Created != n {
		return r, fmt.Errorf("initial sync created %d users, want %d", res.Counts.Created, n)
	}
	s := fmt.Sprintf("d) initial sync, %d creates", n)
	b.add(s, "time (one run)", "—", seconds(d))
	b.add(s, "target write calls", "—", fmt.Sprintf("%d (%d creates, %d groups, %d member batches)", target.WriteCalls(),
		target.Calls()[memory.MethodCreateUser], target.Calls()[memory.MethodCreateGroup], target.Calls()[memory.MethodAddMembers]))
	res = nil

	// a) everything in sync, several times: one run of half a second on a shared machine moves by a
	// tenth either way, too much for a growth ratio of two such runs
	fmt.Fprintf(progress, "in-sync runs of %d users ...\n", n)
	var times, cpus []time.Duration
	writes, actions := 0, 0
	for i := range max(*inSyncRuns, 1) {
		runtime.GC()
		debug.FreeOSMemory()
		baseRSS := procStatus("VmRSS")
		baseLive := liveHeap()
		hwmReset := resetPeakRSS()
		sampler := startLiveSampler()
		stopProfile := startProfile(*profileDir, profiling && i == 0)
		cpu0 := cpuTime()
		res, d, err = sync()
		cpu := cpuTime() - cpu0
		stopProfile()
		peakLive := sampler.stop()
		peakRSS := procStatus("VmHWM")
		if err != nil {
			return r, err
		}
		writes, actions = writes+target.WriteCalls(), actions+len(res.Plan.Actions)
		if target.WriteCalls() != 0 || len(res.Plan.Actions) != 0 {
			return r, fmt.Errorf("in-sync run of %d users wrote %d times, planned %d actions", n, target.WriteCalls(), len(res.Plan.Actions))
		}
		res = nil
		times, cpus = append(times, d), append(cpus, cpu)
		if i == 0 || peakRSS > r.peakRSS { // the memory figures are those of the run with the highest peak
			r.peakRSS, r.baseRSS, r.peakLive, r.baseLive, r.hwmReset = peakRSS, baseRSS, peakLive, baseLive, hwmReset
		}
	}
	r.runs = len(times)
	r.inSync, r.cpu = median(times), median(cpus)
	r.fastest, r.slowest = slices.Min(times), slices.Max(times)
	s = fmt.Sprintf("a) %d users, %d groups, already in sync", n, groups)
	if err := b.phases(ctx, src, mapper, target, state, policy, s, r.inSync); err != nil {
		return r, err
	}
	runs := fmt.Sprintf("median of %d runs", r.runs)
	if r.runs == 1 {
		runs = "one run"
	}
	b.add(s, fmt.Sprintf("run time (read + map + list + plan + empty apply), %s; CPU time of the process meanwhile (median)", runs), timeGoal,
		fmt.Sprintf("%s; CPU %s", seconds(r.inSync), seconds(r.cpu)))
	if r.runs > 1 {
		b.add(s, "run time: fastest / slowest run", "—", fmt.Sprintf("%s / %s", seconds(r.fastest), seconds(r.slowest)))
	}
	peakText := mib(r.peakRSS)
	if !r.hwmReset {
		peakText += " (process peak: resetting it failed)"
	}
	b.add(s, "peak RSS during the run (the highest of the runs)", rssGoal, peakText)
	b.add(s, "RSS before the run (the memory target's data and the runtime)", "—", mib(r.baseRSS))
	b.add(s, "bytes per user: RSS (peak / the run's own, peak − before)", "—",
		fmt.Sprintf("%d / %d", r.peakRSS/int64(n), (r.peakRSS-r.baseRSS)/int64(n)))
	b.add(s, "bytes per user: live heap (peak / the run's own, peak − before)", "—",
		fmt.Sprintf("%d / %d", r.peakLive/uint64(n), (r.peakLive-min(r.baseLive, r.peakLive))/uint64(n)))
	b.add(s, "target write calls / planned actions (all the runs)", "0 / 0", fmt.Sprintf("%d / %d", writes, actions))

	// a') in sync again, under a soft memory limit: what the manager does with GOMEMLIMIT set
	if limitMiB > 0 {
		fmt.Fprintf(progress, "in-sync run of %d users under a %d MiB memory limit ...\n", n, limitMiB)
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
		old := debug.SetMemoryLimit(int64(limitMiB) << 20)
		cpu0 := cpuTime()
		res, d, err := sync()
		cpu := cpuTime() - cpu0
		debug.SetMemoryLimit(old)
		peak := procStatus("VmHWM")
		if err != nil {
			return r, err
		}
		s := fmt.Sprintf("a') %d users in sync, under a %d MiB soft memory limit (the manager's default in a %d MiB container)", n, limitMiB, (limitMiB*10+8)/9)
		b.vs(s, "run time; CPU time (one run)", timeGoal, fmt.Sprintf("%s; CPU %s", seconds(d), seconds(cpu)),
			fmt.Sprintf("%s; CPU %s (no limit)", seconds(r.inSync), seconds(r.cpu)), cpu.Seconds()/r.cpu.Seconds())
		b.vs(s, "peak RSS during the run", rssGoal, mib(peak), mib(r.peakRSS)+" (no limit)", float64(peak)/float64(r.peakRSS))
		if len(res.Plan.Actions) != 0 {
			return r, fmt.Errorf("in-sync run under a memory limit planned %d actions", len(res.Plan.Actions))
		}
	}

	// b) 1% changed
	fmt.Fprintf(progress, "1%% changed of %d users ...\n", n)
	src.Changed = func(i int) bool { return i%100 == 0 }
	changed := (n + 99) / 100
	res, d, err = sync()
	if err != nil {
		return r, err
	}
	s = fmt.Sprintf("b) %d users, 1%% changed (%d users' title)", n, changed)
	b.add(s, "target write calls / changed users", "equal", fmt.Sprintf("%d / %d", target.WriteCalls(), changed))
	b.vs(s, "time to converge (one run)", "—", seconds(d), seconds(r.inSync)+" (in sync)", d.Seconds()/r.inSync.Seconds())
	if res.Counts.Updated != changed || target.WriteCalls() != changed {
		return r, fmt.Errorf("1%% run updated %d users in %d write calls, want %d", res.Counts.Updated, target.WriteCalls(), changed)
	}
	if _, _, err = sync(); err != nil {
		return r, err
	}
	b.add(s, "target write calls of the next run", "0", strconv.Itoa(target.WriteCalls()))
	if target.WriteCalls() != 0 {
		return r, fmt.Errorf("the run after the 1%% change wrote %d times", target.WriteCalls())
	}
	return r, nil
}

// phases times the parts of an in-sync run one by one. Reading the source and listing the target
// are the floor of a run: it cannot be faster than reading both sides.
func (b *bench) phases(ctx context.Context, src *synthetic.Source, mapper *mapping.Mapper, target *memory.Target,
	state plan.State, policy plan.Policy, s string, run time.Duration) error {
	t := time.Now()
	snap, err := src.Read(ctx)
	if err != nil {
		return err
	}
	read := time.Since(t)
	t = time.Now()
	mapped, err := mapper.MapRecords(ctx, snap.Records)
	if err != nil {
		return err
	}
	users := mapped.Users
	mapTime := time.Since(t)
	for i := range users {
		users[i].ExternalID = plan.UserExternalID(policy.ExternalIDPrefix, users[i].ExternalID)
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
	p := plan.Compute(plan.Input{Desired: users, Actual: actual, Groups: groups, State: state, SourceComplete: true, Now: time.Now(), Policy: policy})
	planned := time.Since(t)
	if len(p.Actions) != 0 {
		return fmt.Errorf("phase breakdown planned %d actions", len(p.Actions))
	}
	b.add(s, "phases, timed separately: generate / map / list target / plan", "—",
		fmt.Sprintf("%s / %s / %s / %s", seconds(read), seconds(mapTime), seconds(list), seconds(planned)))
	floor := read + list
	b.vs(s, "run time vs reading both sides (generate + list target)", "—", seconds(run), seconds(floor), run.Seconds()/floor.Seconds())
	return nil
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// liveSampler records the largest live heap a GC cycle reported while it ran.
type liveSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startLiveSampler() *liveSampler {
	l := &liveSampler{done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			l.peak = max(l.peak, liveHeap())
			select {
			case <-l.done:
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

func (l *liveSampler) stop() uint64 {
	close(l.done)
	l.wg.Wait()
	runtime.GC() // the live heap at the end of the run counts too
	return max(l.peak, liveHeap())
}

// startProfile starts a CPU profile and writes a heap profile into dir (when dir is set and on is
// true); the returned function stops the CPU profile and writes the second heap profile.
func startProfile(dir string, on bool) func() {
	if dir == "" || !on {
		return func() {}
	}
	writeHeap := func(name string) {
		if f, err := os.Create(filepath.Join(dir, name)); err == nil {
			_ = pprof.WriteHeapProfile(f)
			_ = f.Close()
		}
	}
	writeHeap("heap-before.pprof")
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return func() {}
	}
	_ = pprof.StartCPUProfile(cpu)
	return func() {
		pprof.StopCPUProfile()
		_ = cpu.Close()
		writeHeap("heap-after.pprof")
	}
}

// cpuTime is the CPU time (user and system) the process used so far: on a shared machine it varies
// less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
