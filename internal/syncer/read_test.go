package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/directory/hr"
	"github.com/directory-sync/directory-sync-operator/internal/mapping"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
	"github.com/directory-sync/directory-sync-operator/internal/target/memory"
)

// streamSources makes env runs read their sources through directory.Streamer (see TestMain).
var streamSources bool

// TestMain runs the package's tests twice: with the sources as they are, then with every source of
// an env run handed over batch by batch (streamed), so that each behaviour a run shows on a read
// snapshot (problems, held ids, out of scope, managers, source errors, incomplete reads) is checked
// on the streaming path as well.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		fmt.Println("--- the same tests again, with sources that stream (directory.Streamer)")
		streamSources = true
		code = m.Run()
	}
	os.Exit(code)
}

// streamed hands the records of a source's Read over in batches of batch records; on a read error
// it hands over the partial read first, as a source failing midway has.
type streamed struct {
	directory.Source
	batch int
}

func (s streamed) ReadStream(ctx context.Context, yield func([]model.Record) error) (*model.Snapshot, error) {
	snap, err := s.Read(ctx)
	if snap == nil {
		return nil, err
	}
	for recs := snap.Records; len(recs) > 0; {
		n := min(s.batch, len(recs))
		// A copy: the batch is handed over, and the source may keep what its Read returned.
		if yerr := yield(slices.Clone(recs[:n])); yerr != nil {
			return nil, yerr
		}
		recs = recs[n:]
	}
	rest := *snap
	rest.Records = nil
	return &rest, err
}

// generatedSource streams batches generated afresh and tells which batches were collected.
type generatedSource struct {
	batches, size int
	collected     []atomic.Bool
	// stillHeld is set to the first batch still reachable two batches after it was handed over.
	stillHeld atomic.Int64
	// failAfter, when > 0, fails the read after that many batches.
	failAfter int
	handed    int // batches handed over
}

func (s *generatedSource) Read(ctx context.Context) (*model.Snapshot, error) {
	return nil, errors.New("generatedSource only streams")
}

func (s *generatedSource) ReadStream(ctx context.Context, yield func([]model.Record) error) (*model.Snapshot, error) {
	s.collected = make([]atomic.Bool, s.batches)
	s.stillHeld.Store(-1)
	for b := range s.batches {
		if s.failAfter > 0 && b == s.failAfter {
			return &model.Snapshot{Complete: false}, directory.Errorf(directory.KindUnreachable, nil, "connection reset")
		}
		recs := make([]model.Record, s.size)
		for i := range recs {
			n := b*s.size + i
			login := fmt.Sprintf("user%02d", n)
			recs[i] = model.Record{ID: fmt.Sprintf("E%04d", n), Attributes: map[string][]string{
				"login": {login}, "mail": {login + "@example.com"}, "first": {"F"}, "last": {"L"}, "title": {"T"}, "dept": {"10"},
			}, Groups: []string{"staff"}}
		}
		runtime.AddCleanup(&recs[0], func(c *atomic.Bool) { c.Store(true) }, &s.collected[b])
		s.handed++
		if err := yield(recs); err != nil {
			return nil, err
		}
		recs = nil
		// Once batch b is handed over, batch b-2 is mapped: nothing may hold it any more.
		if old := b - 2; old >= 0 {
			deadline := time.Now().Add(5 * time.Second)
			for !s.collected[old].Load() && time.Now().Before(deadline) {
				runtime.GC()
				time.Sleep(5 * time.Millisecond)
			}
			if !s.collected[old].Load() && s.stillHeld.Load() < 0 {
				s.stillHeld.Store(int64(old))
			}
		}
	}
	return &model.Snapshot{Complete: true, ReadAt: t0}, nil
}

// TestStreamedRecordsAreReleasedWhileReading: with a source that hands its records over, a run lets
// each batch go once it is mapped, while the source reads on, and syncs every person.
func TestStreamedRecordsAreReleasedWhileReading(t *testing.T) {
	m, err := mapping.Compile(rules())
	if err != nil {
		t.Fatal(err)
	}
	src := &generatedSource{batches: 6, size: 20}
	tgt := memory.New()
	res, err := syncer.Run(context.Background(), syncer.Options{Source: src, Mapper: m, Target: tgt,
		Policy: plan.Policy{ExternalIDPrefix: prefix, GracePeriod: grace, ManagedFields: m.ManagedFields(), MaxDeletions: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if b := src.stillHeld.Load(); b >= 0 {
		t.Errorf("batch %d was still reachable two batches later", b)
	}
	if res.Entries != 120 || res.Counts.Created != 120 || !res.Snapshot.Complete || len(res.Skipped) != 0 {
		t.Errorf("entries %d, created %d, complete %v, skipped %v", res.Entries, res.Counts.Created, res.Snapshot.Complete, res.Skipped)
	}
	if u, ok := userByName(tgt, "user119"); !ok || u.ExternalID != prefix+"E0119" {
		t.Errorf("last person: %+v (found %v)", u, ok)
	}
}

// TestStreamFailingMidwayWritesNothing: batches already handed over and mapped are a partial read:
// a source error after them writes nothing and keeps the state, like a failed Read.
func TestStreamFailingMidwayWritesNothing(t *testing.T) {
	m, err := mapping.Compile(rules())
	if err != nil {
		t.Fatal(err)
	}
	tgt := memory.New()
	policy := plan.Policy{ExternalIDPrefix: prefix, GracePeriod: grace, AfterGrace: plan.OffboardDelete,
		ManagedFields: m.ManagedFields(), MaxDeletions: -1}
	res, err := syncer.Run(context.Background(), syncer.Options{Source: &generatedSource{batches: 4, size: 5}, Mapper: m, Target: tgt, Policy: policy})
	if err != nil || res.Counts.Created != 20 {
		t.Fatalf("first run: %v, created %d", err, res.Counts.Created)
	}
	state := res.State
	tgt.ResetCalls()
	// Well past any grace period, and the failed read saw only 10 of the 20 people.
	res, err = syncer.Run(context.Background(), syncer.Options{Source: &generatedSource{batches: 4, size: 5, failAfter: 2},
		Mapper: m, Target: tgt, Policy: policy, State: state, Now: func() time.Time { return t0.Add(10 * grace) }})
	if err == nil || res.SourceErr == nil || !errors.Is(err, res.SourceErr) || directory.KindOf(res.SourceErr) != directory.KindUnreachable {
		t.Fatalf("err = %v, SourceErr = %v", err, res.SourceErr)
	}
	if res.Applied || res.Plan != nil || len(tgt.Calls()) != 0 || !reflect.DeepEqual(res.State, state) {
		t.Errorf("applied %v, plan %v, calls %v, state %v", res.Applied, res.Plan, tgt.Calls(), res.State)
	}
}

// TestStreamCancelledStopsTheRead: a run cancelled while it maps stops the source's read and
// writes nothing.
func TestStreamCancelledStopsTheRead(t *testing.T) {
	m, err := mapping.Compile(rules())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tgt := memory.New()
	src := &generatedSource{batches: 50, size: 5}
	res, err := syncer.Run(ctx, syncer.Options{Source: src, Mapper: m, Target: tgt,
		Policy: plan.Policy{ExternalIDPrefix: prefix, GracePeriod: grace, ManagedFields: m.ManagedFields(), MaxDeletions: -1}})
	if !errors.Is(err, context.Canceled) || res.Plan != nil || len(tgt.Calls()) != 0 {
		t.Errorf("err %v, plan %v, calls %v", err, res.Plan, tgt.Calls())
	}
	if src.handed > 3 {
		t.Errorf("the source handed over %d batches after the run was cancelled", src.handed)
	}
}

// TestStreamedAndReadRunsAgree: a run over a streamed source finds, plans and writes exactly what a
// run over the same source read at once does: problems, held users, a disabled account, a leaver,
// and with a record nobody can name, the offboarding hold.
func TestStreamedAndReadRunsAgree(t *testing.T) {
	people := staff(11)
	people = changed(people, "E0003", func(p *person) { p.dept = "99" }) // unknown lookup key
	people = changed(people, "E0005", func(p *person) { p.first = "" })  // CEL: no such key
	people = changed(people, "E0007", func(p *person) { p.status = "inactive" })
	people = changed(people, "E0008", func(p *person) { p.title = "Boss" })
	doc := string(csvOf(without(people, "E0010")))
	for name, doc := range map[string]string{
		"applied": doc,
		"held":    doc + ",nobody,nobody@example.com,N,O,T,10,staff,active\n", // no id
	} {
		t.Run(name, func(t *testing.T) {
			results := map[bool]*syncer.Result{}
			for _, stream := range []bool{false, true} {
				e := newEnv(t)
				// One write at a time: the target's ids follow the plan, the same in both runs.
				e.run(staff(11), func(o *syncer.Options) { o.Concurrency = 1 })
				src := hr.NewStatic([]byte(doc), hrConfig)
				if stream {
					src = streamed{Source: src, batch: 2}
				}
				e.now = t0.Add(time.Hour)
				res, err := syncer.Run(context.Background(), e.options(src))
				if err != nil {
					t.Fatal(err)
				}
				res.Duration, res.Snapshot.ReadAt = 0, time.Time{}
				results[stream] = res
			}
			if !reflect.DeepEqual(results[false], results[true]) {
				a, b := reflect.ValueOf(*results[false]), reflect.ValueOf(*results[true])
				for i := range a.NumField() {
					if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
						t.Errorf("%s differs:\n read   %#v\n stream %#v", a.Type().Field(i).Name, a.Field(i).Interface(), b.Field(i).Interface())
					}
				}
			}
			res := results[true]
			if len(res.Held) != 2 || (name == "held") != (res.Plan.OffboardingHeld != nil) ||
				(name == "applied" && (res.Counts.Updated == 0 || res.Counts.Suspended == 0)) {
				t.Errorf("the case is not covered: held %v, offboarding held %v, counts %+v", res.Held, res.Plan.OffboardingHeld, res.Counts)
			}
		})
	}
}

func userByName(t *memory.Target, login string) (model.User, bool) {
	for _, u := range t.Users() {
		if u.UserName == login {
			return u, true
		}
	}
	return model.User{}, false
}
