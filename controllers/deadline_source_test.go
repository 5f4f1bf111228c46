package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

type plainSource struct{ err error }

func (s plainSource) Read(context.Context) (*model.Snapshot, error) { return nil, s.err }

type streamingSource struct {
	plainSource
	records []model.Record
}

func (s streamingSource) ReadStream(ctx context.Context, yield func([]model.Record) error) (*model.Snapshot, error) {
	if s.err != nil {
		<-ctx.Done()
		return nil, s.err
	}
	if err := yield(s.records); err != nil {
		return nil, err
	}
	return &model.Snapshot{Complete: true}, nil
}

// The run's deadline wrapper must not hide that a source streams (the run would then hold every
// record and every user at once), and it explains a streamed read cut by the deadline like a read.
func TestDeadlineSourceKeepsStreaming(t *testing.T) {
	if _, ok := withDeadline(plainSource{}, time.Minute).(directory.Streamer); ok {
		t.Error("a source that does not stream is wrapped as one that does")
	}
	src := withDeadline(streamingSource{records: []model.Record{{ID: "a"}, {ID: "b"}}}, time.Minute)
	st, ok := src.(directory.Streamer)
	if !ok {
		t.Fatalf("withDeadline returned %T, not a directory.Streamer", src)
	}
	var got []model.Record
	if _, err := st.ReadStream(context.Background(), func(b []model.Record) error { got = append(got, b...); return nil }); err != nil || len(got) != 2 {
		t.Fatalf("streamed %v, %v", got, err)
	}
	// the run's own error comes back as it is
	mapErr := errors.New("mapping failed")
	if _, err := st.ReadStream(context.Background(), func([]model.Record) error { return mapErr }); !errors.Is(err, mapErr) {
		t.Errorf("yield's error came back as %v", err)
	}
	// a read cut by the run's deadline says so
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	cut := withDeadline(streamingSource{plainSource: plainSource{err: errors.New("i/o timeout")}}, 5*time.Minute).(directory.Streamer)
	_, err := cut.ReadStream(ctx, func([]model.Record) error { return nil })
	if directory.KindOf(err) != directory.KindUnreachable || !strings.Contains(err.Error(), "deadline of 5m0s") {
		t.Errorf("cut read: %v", err)
	}
}
