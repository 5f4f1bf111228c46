package hr

import (
	"context"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// staticSource parses bytes handed over by the caller, e.g. a ConfigMap or Secret key.
type staticSource struct {
	data []byte
	cfg  Config
	now  func() time.Time
}

// NewStatic returns a Source that parses a copy of data on every Read.
func NewStatic(data []byte, cfg Config) directory.Source {
	return &staticSource{data: append([]byte(nil), data...), cfg: cfg, now: time.Now}
}

func (s *staticSource) Read(ctx context.Context) (*model.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, directory.Errorf(directory.KindUnreachable, err, "read cancelled")
	}
	snap, err := Parse(s.data, s.cfg)
	if snap != nil {
		snap.ReadAt = s.now()
	}
	return snap, err
}

// cloneSnapshot deep-copies a snapshot so that a cached one cannot be changed through a copy.
func cloneSnapshot(s *model.Snapshot) *model.Snapshot {
	c := *s
	c.Records = make([]model.Record, len(s.Records))
	for i, r := range s.Records {
		r.Attributes = make(map[string][]string, len(r.Attributes))
		for k, v := range s.Records[i].Attributes {
			r.Attributes[k] = append([]string(nil), v...)
		}
		r.Groups = append([]string(nil), r.Groups...)
		r.GroupDNs = append([]string(nil), r.GroupDNs...)
		c.Records[i] = r
	}
	c.Problems = append([]model.Problem(nil), s.Problems...)
	return &c
}
