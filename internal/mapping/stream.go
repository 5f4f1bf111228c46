package mapping

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Stream maps records handed over batch by batch, in the background while the caller reads the next
// batch. Close returns what MapRecords returns for all the batches in order. A batch's records are
// no longer referenced once it is mapped, so that a caller who owns them lets them go batch by batch.
type Stream struct {
	m       *Mapper
	ctx     context.Context
	batches chan []model.Record
	done    chan struct{}
	failed  atomic.Bool

	// expect is about how many users the stream will map (0: unknown).
	expect int

	// Written by the mapping goroutine, read after done is closed. The users of every batch are
	// gathered in users as they are mapped: joining per-batch lists at the end would hold every
	// user twice at once.
	outs  []Outcome
	users []model.User
	err   error
}

// Stream starts mapping batches handed over with Add; call Close exactly once to end it.
func (m *Mapper) Stream(ctx context.Context) *Stream { return m.StreamSized(ctx, 0) }

// StreamSized is Stream for about expect users (the last run's count, say): their list is allocated
// once at that size instead of grown. A wrong guess costs a larger list or a regrowth, nothing else.
func (m *Mapper) StreamSized(ctx context.Context, expect int) *Stream {
	// One batch waits while one is mapped: the reader stays a batch ahead, no more.
	s := &Stream{m: m, ctx: ctx, expect: max(expect, 0), batches: make(chan []model.Record, 1), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *Stream) run() {
	defer close(s.done)
	for batch := range s.batches {
		if s.err != nil {
			continue // drain what Add sent before it saw the failure
		}
		out, err := s.m.MapRecords(s.ctx, batch)
		if err != nil {
			s.err = err
			s.failed.Store(true)
			continue
		}
		if len(out.Users) > 0 {
			if s.users == nil {
				s.users = make([]model.User, 0, max(s.expect, len(out.Users)))
			}
			s.users = append(s.users, out.Users...)
			out.Users = nil
		}
		s.outs = append(s.outs, out)
	}
}

// Add hands a batch over to be mapped. Once mapping failed (ctx is done) it returns ctx's error and
// maps nothing more: a reader stops then.
func (s *Stream) Add(batch []model.Record) error {
	if s.failed.Load() {
		return s.ctx.Err()
	}
	select {
	case s.batches <- batch:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// Close waits for the batches handed over to be mapped and returns their outcome, in order, or the
// error that stopped mapping.
func (s *Stream) Close() (Outcome, error) {
	close(s.batches)
	<-s.done
	if s.err != nil {
		return Outcome{}, s.err
	}
	if err := s.ctx.Err(); err != nil {
		return Outcome{}, err
	}
	if len(s.outs) == 0 {
		return s.m.MapRecords(s.ctx, nil)
	}
	total := Outcome{Users: s.users}
	if total.Users == nil {
		total.Users = []model.User{} // as MapRecords gives it
	}
	if cap(total.Users) > 2*len(total.Users)+mapChunk {
		total.Users = slices.Clone(total.Users) // far fewer than expected: do not keep the slack
	}
	s.users = nil
	var problems, outOfScope, disabled int
	for _, o := range s.outs {
		problems += len(o.Problems)
		outOfScope += len(o.OutOfScope)
		disabled += len(o.Disabled)
	}
	total.Problems = make([]model.Problem, 0, problems)
	if outOfScope > 0 {
		total.OutOfScope = make([]string, 0, outOfScope)
	}
	if disabled > 0 {
		total.Disabled = make([]string, 0, disabled)
	}
	for i := range s.outs {
		o := &s.outs[i]
		total.Problems = append(total.Problems, o.Problems...)
		total.OutOfScope = append(total.OutOfScope, o.OutOfScope...)
		total.Disabled = append(total.Disabled, o.Disabled...)
		*o = Outcome{}
	}
	s.outs = nil
	return total, nil
}
