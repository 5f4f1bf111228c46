package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// The crash test kills the operator (cancels its manager's context, so every in-flight SCIM request
// is abandoned and no status is written) at a random point of a run, starts a fresh manager, and
// checks that the target converges to exactly the state an uninterrupted run would reach.
//
// It runs against an envtest control plane of its own, so that the suite's shared manager (which
// watches every namespace of the suite's API server) never reconciles its objects, and its managers
// only watch the namespace of the current round.
//
// CRASH_SEED=<n> replays the rounds of a failed run; CRASH_ROUNDS sets how many rounds run (3).

const (
	crashUsers  = 120
	crashGone   = 5
	crashGrace  = time.Hour
	crashWait   = 30 * time.Second
	deleteDelay = 300 * time.Millisecond
)

func TestE2EKilledMidRunConverges(t *testing.T) {
	requireSuite(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv("CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("CRASH_SEED: %v", err)
		}
	}
	rounds := 3
	if s := os.Getenv("CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CRASH_ROUNDS: %q", s)
		}
		rounds = n
	}
	t.Logf("seed %d (replay with CRASH_SEED=%d)", seed, seed)

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting a second envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kc, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	for round := range rounds {
		roundSeed := seed + int64(round)
		t.Run(fmt.Sprintf("seed=%d", roundSeed), func(t *testing.T) {
			(&crashRound{cfg: cfg, scheme: scheme, kc: kc, rng: rand.New(rand.NewPCG(uint64(roundSeed), 0x5eed))}).run(t)
		})
	}
}

type crashRound struct {
	cfg    *rest.Config
	scheme *runtime.Scheme
	kc     client.Client
	rng    *rand.Rand
	f      *fixture // ns, ldap, scim, sc; its k8s helpers are not used (they talk to the suite's API server)
	// clock is the offset added to the wall clock the managers of this round see.
	clock atomic.Int64
}

func (r *crashRound) now() time.Time { return time.Now().Add(time.Duration(r.clock.Load())) }

func (r *crashRound) run(t *testing.T) {
	ctx := context.Background()
	ls, ss, sc := startBackends(t, crashUsers)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "crash-"}}
	if err := r.kc.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	r.f = &fixture{ns: ns.Name, ldap: ls, scim: ss, sc: sc}
	f := r.f

	concurrency := []int32{1, 2, 4}[r.rng.IntN(3)]
	killPOST := 1 + r.rng.IntN(100)
	// At most crashGone-1 DELETEs are let through, so that at least one deletion is left to the
	// restarted manager whatever the concurrency (at most 4, and every DELETE is held deleteDelay).
	killDELETE := 1 + r.rng.IntN(crashGone-1)
	want := expectedUsers(ls.Seed)
	var gone []string
	for _, i := range r.rng.Perm(len(want))[:crashGone] {
		gone = append(gone, want[i].UID)
	}
	slices.Sort(gone)
	t.Logf("maxConcurrency %d; kill after POST #%d of the initial sync and after DELETE #%d of %d (%v) after grace",
		concurrency, killPOST, killDELETE, crashGone, gone)

	r.create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ldap-bind"},
		StringData: map[string]string{"username": slapd.ServiceDN, "password": slapd.ServicePassword},
	})
	r.create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "scim-token"},
		StringData: map[string]string{"token": ss.Token()},
	})
	r.create(t, f.directorySource("ldap"))
	r.create(t, mappingRule("staff"))
	r.create(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) {
		s.SCIM.MaxConcurrency = concurrency
		s.Offboarding.GracePeriod = &metav1.Duration{Duration: crashGrace}
		s.Safety = v1.Safety{MaxDeletions: ptr.To[int32](50), MaxDeletionPercent: ptr.To[int32](100), MinSourcePercent: ptr.To[int32](10)}
	}))

	// 1. Killed during the initial sync, after killPOST creations (groups first, then users).
	m := r.startManager(t)
	r.killAfter(t, m, http.MethodPost, killPOST)
	atKill := r.listUsers(t)
	t.Logf("initial sync killed: %d POSTs seen, %d of %d users in SCIM", r.count(t, http.MethodPost), len(atKill), len(want))
	if len(atKill) >= len(want) {
		t.Fatalf("the kill came too late: all %d users were already created", len(atKill))
	}
	if st := r.syncTarget(t); st.Status.LastSyncTime != nil {
		t.Fatalf("the killed run published its status (lastSyncTime %v): it was not killed mid-run", st.Status.LastSyncTime)
	}

	// A fresh manager finishes the job: every user exactly once, in the right group.
	m = r.startManager(t)
	eventually(t, crashWait, func() error { return r.checkConverged(want) })
	// Converged means steady: the next run writes nothing.
	r.resetCounts(t)
	r.waitForRun(t)
	if n := r.writes(t); n != 0 {
		counts, _ := ss.RequestCounts(ctx)
		t.Fatalf("%d SCIM writes after convergence (%v): the restarted manager did not leave a synced target", n, counts)
	}

	// 2. Users removed from LDAP are suspended (no kill here), then killed while the run after the
	// grace period deletes them.
	for _, uid := range gone {
		if err := ls.DeleteUser(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, crashWait, func() error { return r.checkSuspended(gone) })
	before := r.listUsers(t)

	// Each DELETE is held by the server for deleteDelay, so the kill lands while deletions are in
	// flight or not yet sent.
	if err := ss.InjectFault(ctx, scimserver.Fault{Kind: scimserver.FaultDelay, Method: http.MethodDelete, Delay: deleteDelay}); err != nil {
		t.Fatal(err)
	}
	r.resetCounts(t)
	r.clock.Add(int64(crashGrace + time.Minute))
	r.killAfter(t, m, http.MethodDelete, killDELETE)
	if st := r.syncTarget(t); len(st.Status.Suspended) != crashGone {
		t.Fatalf("the killed run published its status (status.suspended %+v): it was not killed mid-run", st.Status.Suspended)
	}
	// DELETEs the server had received still complete after their client went away, like on a real
	// target; the restarted manager finds them done or not.
	remaining := 0
	for _, u := range r.listUsers(t) {
		if slices.Contains(gone, u.UserName) {
			remaining++
		}
	}
	t.Logf("deletion run killed: %d DELETEs seen, %d of %d users not deleted yet", r.count(t, http.MethodDelete), remaining, crashGone)
	if remaining == 0 {
		t.Fatalf("the kill came too late: all %d users were already deleted", crashGone)
	}

	m = r.startManager(t)
	var kept []slapd.User
	for _, u := range want {
		if !slices.Contains(gone, u.UID) {
			kept = append(kept, u)
		}
	}
	eventually(t, crashWait, func() error {
		if err := r.checkConverged(kept); err != nil {
			return err
		}
		if s := r.syncTarget(t).Status.Suspended; len(s) != 0 {
			return fmt.Errorf("status.suspended still %+v", s)
		}
		return nil
	})
	// Nobody else was touched: every other user is exactly as before the deletion run.
	after := map[string]model.User{}
	for _, u := range r.listUsers(t) {
		after[u.UserName] = u
	}
	for _, u := range before {
		if slices.Contains(gone, u.UserName) {
			continue
		}
		if got, ok := after[u.UserName]; !ok || !equalUsers(got, u) {
			t.Errorf("%s changed by the deletion runs:\n got %+v\nwant %+v", u.UserName, got, u)
		}
	}
	m.stop(t)
}

func (r *crashRound) create(t *testing.T, obj client.Object) {
	t.Helper()
	obj.SetNamespace(r.f.ns)
	if err := r.kc.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// crashManager is one incarnation of the operator.
type crashManager struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startManager starts a fresh manager (new controllers, caches and clients) that watches only the
// round's namespace.
func (r *crashRound) startManager(t *testing.T) *crashManager {
	t.Helper()
	mgr, err := ctrl.NewManager(r.cfg, ctrl.Options{
		Scheme:                 r.scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// The same controller names as the suite's manager, in the same process.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{r.f.ns: {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupAll(mgr, controllers.Options{Now: r.now, RunTimeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &crashManager{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop cancels the manager's context and waits for Start to return (every reconcile has ended).
func (m *crashManager) stop(t *testing.T) {
	t.Helper()
	m.once.Do(func() {
		m.cancel()
		select {
		case m.err = <-m.done:
		case <-time.After(40 * time.Second):
			m.err = errors.New("the manager did not stop within 40s")
		}
	})
	if m.err != nil {
		t.Fatalf("manager: %v", m.err)
	}
}

// killAfter stops m as soon as the SCIM server has seen n requests of method.
func (r *crashRound) killAfter(t *testing.T, m *crashManager, method string, n int) {
	t.Helper()
	deadline := time.Now().Add(crashWait)
	for r.count(t, method) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s requests not seen within %s", n, method, crashWait)
		}
		time.Sleep(time.Millisecond)
	}
	m.stop(t)
}

func (r *crashRound) count(t *testing.T, method string) int {
	t.Helper()
	counts, err := r.f.scim.RequestCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return counts[method]
}

func (r *crashRound) writes(t *testing.T) int {
	t.Helper()
	counts, err := r.f.scim.RequestCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return scimserver.WriteCount(counts)
}

func (r *crashRound) resetCounts(t *testing.T) {
	t.Helper()
	if err := r.f.scim.ResetRequestCounts(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (r *crashRound) listUsers(t *testing.T) []model.User {
	t.Helper()
	users, err := scim.NewTarget(r.f.sc).ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return users
}

func (r *crashRound) syncTarget(t *testing.T) *v1.SyncTarget {
	t.Helper()
	var st v1.SyncTarget
	if err := r.kc.Get(context.Background(), client.ObjectKey{Namespace: r.f.ns, Name: "app"}, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// waitForRun waits until a run has completed (lastSyncTime moved) after this call.
func (r *crashRound) waitForRun(t *testing.T) {
	t.Helper()
	before := r.syncTarget(t).Status.LastSyncTime
	eventually(t, crashWait, func() error {
		now := r.syncTarget(t).Status.LastSyncTime
		if now == nil || (before != nil && !now.After(before.Time)) {
			return fmt.Errorf("no run completed yet (lastSyncTime %v)", now)
		}
		return nil
	})
}

// checkConverged checks the SCIM server holds exactly want, each user once, active, with its one
// department group; every department group exists once with exactly its users as members; and the
// SyncTarget reports a successful run over len(want) managed users.
func (r *crashRound) checkConverged(want []slapd.User) error {
	ctx := context.Background()
	tg := scim.NewTarget(r.f.sc)
	users, err := tg.ListUsers(ctx)
	if err != nil {
		return err
	}
	groups, err := tg.ListGroups(ctx)
	if err != nil {
		return err
	}
	var errs []error
	byName := map[string]model.User{}
	byExt := map[string]string{}
	for _, u := range users {
		name := strings.ToLower(u.UserName)
		if _, dup := byName[name]; dup {
			errs = append(errs, fmt.Errorf("userName %s twice in SCIM", u.UserName))
		}
		byName[name] = u
		if other, dup := byExt[u.ExternalID]; dup {
			errs = append(errs, fmt.Errorf("externalId %s held by %s and %s", u.ExternalID, other, u.UserName))
		}
		byExt[u.ExternalID] = u.UserName
	}
	members := map[string][]string{} // group → target ids of the users that must be in it
	wanted := map[string]bool{}
	for _, su := range want {
		wanted[su.UID] = true
		u, ok := byName[su.UID]
		if !ok {
			errs = append(errs, fmt.Errorf("%s not in SCIM", su.UID))
			continue
		}
		group := "Department " + departmentNames[su.DepartmentNumber]
		members[group] = append(members[group], u.TargetID)
		switch {
		case !strings.HasPrefix(u.ExternalID, prefix):
			errs = append(errs, fmt.Errorf("%s: externalId %q lacks the prefix", su.UID, u.ExternalID))
		case !u.Active || u.Email != su.Mail || u.Title != su.Title || u.Department != departmentNames[su.DepartmentNumber]:
			errs = append(errs, fmt.Errorf("%s: active/email/title/department %v/%q/%q/%q", su.UID, u.Active, u.Email, u.Title, u.Department))
		case !slices.Equal(u.Groups, []string{group}):
			errs = append(errs, fmt.Errorf("%s: groups %v, want [%s]", su.UID, u.Groups, group))
		}
	}
	for _, u := range users {
		if !wanted[u.UserName] {
			errs = append(errs, fmt.Errorf("%s is in SCIM but should not be", u.UserName))
		}
	}
	seen := map[string]int{}
	for _, g := range groups {
		seen[g.DisplayName]++
		want, ok := members[g.DisplayName]
		if !ok {
			if len(g.Members) > 0 {
				errs = append(errs, fmt.Errorf("group %s has members %v, want none", g.DisplayName, g.Members))
			}
			continue
		}
		if ext := plan.GroupExternalID(prefix, g.DisplayName); g.ExternalID != ext {
			errs = append(errs, fmt.Errorf("group %s: externalId %q, want %q", g.DisplayName, g.ExternalID, ext))
		}
		got := slices.Clone(g.Members)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			errs = append(errs, fmt.Errorf("group %s: %d members, want %d (members listed twice, missing or extra)", g.DisplayName, len(got), len(want)))
		}
	}
	for name := range members {
		if seen[name] != 1 {
			errs = append(errs, fmt.Errorf("group %s exists %d times", name, seen[name]))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var st v1.SyncTarget
	if err := r.kc.Get(ctx, client.ObjectKey{Namespace: r.f.ns, Name: "app"}, &st); err != nil {
		return err
	}
	if err := conditions(st.Status.Conditions,
		v1.ConditionReady, "True", v1.ReasonSucceeded,
		v1.ConditionSynced, "True", v1.ReasonSucceeded); err != nil {
		return err
	}
	if st.Status.ManagedUsers != int32(len(want)) {
		return fmt.Errorf("status.managedUsers %d, want %d", st.Status.ManagedUsers, len(want))
	}
	return nil
}

// checkSuspended checks that exactly the users in gone are inactive and listed in status.suspended.
func (r *crashRound) checkSuspended(gone []string) error {
	users, err := scim.NewTarget(r.f.sc).ListUsers(context.Background())
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Active == slices.Contains(gone, u.UserName) {
			return fmt.Errorf("%s: active %v", u.UserName, u.Active)
		}
	}
	var st v1.SyncTarget
	if err := r.kc.Get(context.Background(), client.ObjectKey{Namespace: r.f.ns, Name: "app"}, &st); err != nil {
		return err
	}
	var names []string
	for _, s := range st.Status.Suspended {
		names = append(names, s.UserName)
	}
	slices.Sort(names)
	if !slices.Equal(names, gone) {
		return fmt.Errorf("status.suspended %v, want %v", names, gone)
	}
	return nil
}
