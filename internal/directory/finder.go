package directory

import (
	"context"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Finder is a Source that can read a single person without a full read (an LDAP targeted search).
type Finder interface {
	// Find returns the people in scope whose ID is key or whose attribute (one of attrs) has the
	// value key (case-insensitively).
	Find(ctx context.Context, key string, attrs []string) ([]model.Record, error)
}

// Find reads the people matching key from src: with a targeted read when src is a Finder, else by
// reading everything (an HR record is one file) and keeping the matches.
func Find(ctx context.Context, src Source, key string, attrs []string) ([]model.Record, error) {
	if f, ok := src.(Finder); ok {
		return f.Find(ctx, key, attrs)
	}
	snap, err := src.Read(ctx)
	if err != nil {
		return nil, err
	}
	return Matching(snap.Records, key, attrs), nil
}

// Matching keeps the records whose ID is key or whose attribute (one of attrs) has the value key.
func Matching(records []model.Record, key string, attrs []string) []model.Record {
	var out []model.Record
	for _, r := range records {
		if r.ID == key || hasValue(r, key, attrs) {
			out = append(out, r)
		}
	}
	return out
}

func hasValue(r model.Record, key string, attrs []string) bool {
	for _, a := range attrs {
		for name, vals := range r.Attributes {
			if !strings.EqualFold(name, a) {
				continue
			}
			for _, v := range vals {
				if strings.EqualFold(v, key) {
					return true
				}
			}
		}
	}
	return false
}
