package mapping

import (
	"context"
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

	// Written by the mapping goroutine, read after done is closed.
	outs []Outcome
	err  error
}

// Stream starts mapping batches handed over with Add; call Close exactly once to end it.
func (m *Mapper) Stream(ctx context.Context) *Stream {
	// One batch waits while one is mapped: the reader stays a batch ahead, no more.
	s := &Stream{m: m, ctx: ctx, batches: make(chan []model.Record, 1), done: make(chan struct{})}
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
	var total Outcome
	var users, problems, outOfScope, disabled int
	for _, o := range s.outs {
		users += len(o.Users)
		problems += len(o.Problems)
		outOfScope += len(o.OutOfScope)
		disabled += len(o.Disabled)
	}
	switch len(s.outs) {
	case 0:
		return s.m.MapRecords(s.ctx, nil)
	case 1:
		return s.outs[0], nil
	}
	total.Users = make([]model.User, 0, users)
	total.Problems = make([]model.Problem, 0, problems)
	if outOfScope > 0 {
		total.OutOfScope = make([]string, 0, outOfScope)
	}
	if disabled > 0 {
		total.Disabled = make([]string, 0, disabled)
	}
	for i := range s.outs {
		o := &s.outs[i]
		total.Users = append(total.Users, o.Users...)
		total.Problems = append(total.Problems, o.Problems...)
		total.OutOfScope = append(total.OutOfScope, o.OutOfScope...)
		total.Disabled = append(total.Disabled, o.Disabled...)
		*o = Outcome{} // the batch's users are copied: let them go
	}
	s.outs = nil
	return total, nil
}
