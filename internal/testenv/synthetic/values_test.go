package synthetic

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// referenceRecord spells out, with fmt, the values person i must have: Read builds them without fmt.
func referenceRecord(i, groups int, changed bool) model.Record {
	uid := fmt.Sprintf("user%06d", i)
	title := fmt.Sprintf("Title %d", i%37)
	if changed {
		title += " (changed)"
	}
	r := model.Record{
		ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		DN: "uid=" + uid + ",ou=people,dc=example,dc=com",
		Attributes: map[string][]string{
			"uid":              {uid},
			"mail":             {uid + "@example.com"},
			"givenName":        {fmt.Sprintf("Given%d", i)},
			"sn":               {fmt.Sprintf("Family%d", i%9973)},
			"title":            {title},
			"departmentNumber": {strconv.Itoa(100 + i%DepartmentCount)},
			"employeeNumber":   {strconv.Itoa(1_000_000 + i)},
			"telephoneNumber":  {fmt.Sprintf("+1 555 %07d", i)},
		},
	}
	if groups > 0 {
		a, b := i%groups, (i*7919+13)%groups
		r.Groups = []string{fmt.Sprintf("grp-%04d", a)}
		if b != a {
			r.Groups = append(r.Groups, fmt.Sprintf("grp-%04d", b))
		}
	}
	return r
}

func TestReadYieldsTheReferenceValues(t *testing.T) {
	for _, groups := range []int{0, 1, 7, 12000} {
		src := &Source{Users: 25_000, Groups: groups, Changed: func(i int) bool { return i%3 == 0 }}
		snap, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Records) != src.Users {
			t.Fatalf("%d records, want %d", len(snap.Records), src.Users)
		}
		for i, got := range snap.Records {
			if want := referenceRecord(i, groups, i%3 == 0); !reflect.DeepEqual(got, want) {
				t.Fatalf("groups %d, record %d:\n got %+v\nwant %+v", groups, i, got, want)
			}
			if got.ID != ID(i) {
				t.Fatalf("record %d: ID %q, ID(i) %q", i, got.ID, ID(i))
			}
		}
	}
}

// TestPaddingMatchesFmt covers the widths a 25,000-user read does not reach (7+ digit uids).
func TestPaddingMatchesFmt(t *testing.T) {
	for _, i := range []int{0, 9, 10, 99_999, 999_999, 1_000_000, 9_999_999, 10_000_000, 123_456_789_012, 1_234_567_890_123, -5} {
		for _, width := range []int{4, 6, 7, 12} {
			if got, want := string(appendPadded([]byte("x"), i, width)), fmt.Sprintf("x%0*d", width, i); got != want {
				t.Errorf("appendPadded(%d, %d) = %q, want %q", i, width, got, want)
			}
		}
	}
}

// TestRecordsDoNotShareWritableValues: the values of two records share backing arrays, so an
// append to one record's values must not change another's.
func TestRecordsDoNotShareWritableValues(t *testing.T) {
	snap, err := (&Source{Users: 3, Groups: 5}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r0, r1 := snap.Records[0], snap.Records[1]
	_ = append(r0.Attributes["telephoneNumber"], "x")
	_ = append(r0.Attributes["uid"], "x")
	_ = append(r0.Groups, "x")
	if want := referenceRecord(1, 5, false); !reflect.DeepEqual(r1, want) {
		t.Errorf("record 1 changed by appends to record 0: %+v", r1)
	}
}

func BenchmarkRead(b *testing.B) {
	src := &Source{Users: 100_000, Groups: 2000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadStreamHandsOverReadsRecords(t *testing.T) {
	src := &Source{Users: 2*directory.HandOverBatch + 17, Groups: 7, Changed: func(i int) bool { return i%5 == 0 }}
	want, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []model.Record
	snap, err := src.ReadStream(context.Background(), func(batch []model.Record) error {
		if len(batch) == 0 || len(batch) > directory.HandOverBatch {
			t.Errorf("batch of %d records", len(batch))
		}
		got = append(got, batch...)
		return nil
	})
	if err != nil || !snap.Complete || snap.Records != nil {
		t.Fatalf("snapshot %+v, err %v", snap, err)
	}
	if !reflect.DeepEqual(got, want.Records) {
		t.Error("streamed records differ from Read's")
	}

	stop := errors.New("stop")
	batches := 0
	if _, err := src.ReadStream(context.Background(), func([]model.Record) error { batches++; return stop }); !errors.Is(err, stop) || batches != 1 {
		t.Errorf("yield error: err %v after %d batches, want stop after 1", err, batches)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.ReadStream(cancelled, func([]model.Record) error { t.Error("a batch after cancel"); return nil }); err == nil {
		t.Error("cancelled stream: no error")
	}
	if _, err := src.Read(cancelled); err == nil {
		t.Error("cancelled read: no error")
	}
}
