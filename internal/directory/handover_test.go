package directory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func TestHandOverPassesEveryRecordInOrderAndKeepsNone(t *testing.T) {
	for _, n := range []int{0, 1, HandOverBatch, HandOverBatch + 1, 3*HandOverBatch - 7} {
		recs := make([]model.Record, n)
		for i := range recs {
			recs[i] = model.Record{ID: fmt.Sprint(i), Attributes: map[string][]string{"uid": {fmt.Sprint("u", i)}}}
		}
		want := append([]model.Record(nil), recs...)
		snap := &model.Snapshot{Records: recs, Complete: true}
		var got []model.Record
		var batches [][]model.Record
		err := HandOver(snap, func(b []model.Record) error {
			if len(b) == 0 || len(b) > HandOverBatch {
				t.Errorf("n=%d: batch of %d", n, len(b))
			}
			batches = append(batches, b)
			got = append(got, b...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n || (n > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("n=%d: handed over %d records, not the %d in order", n, len(got), n)
		}
		if snap.Records != nil {
			t.Errorf("n=%d: the snapshot still holds its records", n)
		}
		for i := range recs {
			if recs[i].ID != "" || recs[i].Attributes != nil {
				t.Fatalf("n=%d: the source still holds record %d after handing it over", n, i)
			}
		}
		// a batch belongs to the consumer: clearing the source's slots must not touch it
		if n > 0 && batches[0][0].ID != "0" {
			t.Errorf("n=%d: the first batch was changed after it was handed over: %+v", n, batches[0][0])
		}
	}
}

func TestHandOverStopsAtTheFirstError(t *testing.T) {
	snap := &model.Snapshot{Records: make([]model.Record, 2*HandOverBatch+1)}
	stop := errors.New("stop")
	calls := 0
	err := HandOver(snap, func([]model.Record) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls; want the yield's error after one", err, calls)
	}
}

type streamOf struct {
	records []model.Record
	err     error
}

func (s streamOf) Read(context.Context) (*model.Snapshot, error) { return nil, s.err }

func (s streamOf) ReadStream(_ context.Context, yield func([]model.Record) error) (*model.Snapshot, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := yield(s.records); err != nil {
		return nil, fmt.Errorf("stopped: %w", err)
	}
	return &model.Snapshot{Complete: true}, nil
}

func TestReadStreamWrappedRewritesOnlyTheSourcesErrors(t *testing.T) {
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return errors.New("wrapped")
	}
	mine := errors.New("the reader's own")
	_, err := ReadStreamWrapped(context.Background(), streamOf{records: []model.Record{{ID: "a"}}}, func([]model.Record) error { return mine }, wrap)
	if !errors.Is(err, mine) {
		t.Errorf("the reader's error came back as %v", err)
	}
	_, err = ReadStreamWrapped(context.Background(), streamOf{err: errors.New("secret")}, func([]model.Record) error { return nil }, wrap)
	if err == nil || err.Error() != "wrapped" {
		t.Errorf("the source's error came back as %v, not wrapped", err)
	}
	snap, err := ReadStreamWrapped(context.Background(), streamOf{records: []model.Record{{ID: "a"}}}, func([]model.Record) error { return nil }, wrap)
	if err != nil || snap == nil || !snap.Complete {
		t.Errorf("a good read: %v, %v", snap, err)
	}
}
