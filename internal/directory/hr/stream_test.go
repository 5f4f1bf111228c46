package hr

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// collect reads src through ReadStream and returns the batches' records and the snapshot.
func collect(t *testing.T, src directory.Streamer) ([]model.Record, int, *model.Snapshot, error) {
	t.Helper()
	var recs []model.Record
	batches := 0
	snap, err := src.ReadStream(context.Background(), func(b []model.Record) error {
		batches++
		recs = append(recs, b...)
		return nil
	})
	return recs, batches, snap, err
}

func bigCSV(n int) string {
	var b strings.Builder
	b.WriteString("employeeId,mail\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,u%d@x.org\n", n-i, i)
	}
	return b.String()
}

// TestStaticStreamHandsOverWhatReadReturns: the records streamed, batch by batch, are Read's, in
// Read's order, and the snapshot is Read's without them; a read that fails hands nothing over and
// fails as Read does.
func TestStaticStreamHandsOverWhatReadReturns(t *testing.T) {
	src := NewStatic([]byte(bigCSV(directory.HandOverBatch*2+10)), csvConfig())
	want, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs, batches, snap, err := collect(t, src.(directory.Streamer))
	if err != nil || !reflect.DeepEqual(recs, want.Records) || batches != 3 {
		t.Errorf("streamed %d records in %d batches (same as Read's %d: %v), %v", len(recs), batches, len(want.Records), reflect.DeepEqual(recs, want.Records), err)
	}
	want.Records, want.ReadAt, snap.ReadAt = nil, time.Time{}, time.Time{}
	if !reflect.DeepEqual(snap, want) {
		t.Errorf("snapshot %+v, want %+v", snap, want)
	}

	broken := NewStatic([]byte(bigCSV(50)+"9999,\"open\n"), csvConfig())
	_, werr := broken.Read(context.Background())
	recs, _, _, err = collect(t, broken.(directory.Streamer))
	if werr == nil || directory.KindOf(err) != directory.KindOf(werr) || len(recs) != 0 {
		t.Errorf("failed read: %d records handed over, %v (Read: %v)", len(recs), err, werr)
	}
}

// TestHTTPStreamKeepsItsCache: handing the records of a fetched HR record over leaves the copy
// kept for 304 Not Modified whole.
func TestHTTPStreamKeepsItsCache(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte(testCSV))
	}))
	defer srv.Close()
	src := NewHTTP(srv.URL+"/hr.csv", csvConfig(), HTTPOptions{})
	first, _, _, err := collect(t, src)
	if err != nil || len(first) != 2 {
		t.Fatalf("first read: %d records, %v", len(first), err)
	}
	second, _, snap, err := collect(t, src) // 304: from the cache
	if err != nil || !reflect.DeepEqual(first, second) || !snap.Complete {
		t.Errorf("cached read: %+v, %v; want %+v", second, err, first)
	}
}
