package ldap

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// A streamed read hands over exactly what Read returns, in Read's order, with the same snapshot
// facts; a read that fails hands nothing over.
func TestReadStreamHandsOverWhatReadReturns(t *testing.T) {
	s := sharedServer(t)
	cfg := seedConfig(s)
	cfg.PageSize = 100
	want := mustRead(t, cfg)
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []model.Record
	batches := 0
	snap, err := src.ReadStream(ctx, func(b []model.Record) error {
		batches++
		got = append(got, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want.Records) {
		t.Fatalf("streamed %d records in %d batches; they differ from Read's %d", len(got), batches, len(want.Records))
	}
	if snap.Records != nil || snap.Complete != want.Complete || !reflect.DeepEqual(snap.Problems, want.Problems) {
		t.Errorf("snapshot: records %d, complete %v, problems %v; want none, %v, %v",
			len(snap.Records), snap.Complete, snap.Problems, want.Complete, want.Problems)
	}
	if len(got) <= directory.HandOverBatch && batches != 1 || len(got) > directory.HandOverBatch && batches < 2 {
		t.Errorf("%d records in %d batches", len(got), batches)
	}

	// cut mid-paging: the partial read is an error and nothing is handed over
	proxy := cutProxy(t, s.URL[len("ldap://"):], 200_000)
	cfg.URL, cfg.Groups.Mode = "ldap://"+proxy, GroupsNone
	src, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yielded := 0
	_, err = src.ReadStream(ctx, func(b []model.Record) error { yielded += len(b); return nil })
	if directory.KindOf(err) != directory.KindUnreachable || yielded != 0 {
		t.Errorf("cut read: err %v, %d records handed over; want Unreachable and none", err, yielded)
	}
}
