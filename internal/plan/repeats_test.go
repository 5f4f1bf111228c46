package plan

import (
	"hash/maphash"
	"maps"
	"testing"
)

func TestRepeatedKeys(t *testing.T) {
	keys := []string{"x", "y", "", "x", "z", "", "x", "y", "skipped", "skipped"}
	key := func(i int) (string, bool) { return keys[i], keys[i] != "skipped" }
	want := map[string]int32{"x": 3, "y": 2}
	seed := maphash.MakeSeed()
	for name, hash := range map[string]func(string) uint64{
		"maphash":     func(s string) uint64 { return maphash.String(seed, s) },
		"all collide": func(string) uint64 { return 7 }, // counts stay exact
	} {
		if got := repeatedKeysBy(len(keys), key, hash, nil); !maps.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		unique := func(i int) (string, bool) { return []string{"a", "b", "", ""}[i], true }
		if got := repeatedKeysBy(4, unique, hash, make([]uint64, 8)); got != nil {
			t.Errorf("%s: unique keys: %v, want nil", name, got)
		}
	}
	if got := repeatedKeys(len(keys), key, nil); !maps.Equal(got, want) {
		t.Errorf("repeatedKeys: %v, want %v", got, want)
	}
	// one scratch for several key sets, as checkDesired passes it: what one left there does not count
	scratch := make([]uint64, 2*len(keys))
	others := func(i int) (string, bool) { return []string{"q", "r", "q", "", "s", "t", "u", "v", "w", "r"}[i], true }
	for range 2 {
		if got := repeatedKeys(len(keys), key, scratch); !maps.Equal(got, want) {
			t.Errorf("repeatedKeys with a used scratch: %v, want %v", got, want)
		}
		if got, want := repeatedKeys(len(keys), others, scratch), map[string]int32{"q": 2, "r": 2}; !maps.Equal(got, want) {
			t.Errorf("repeatedKeys with a used scratch: %v, want %v", got, want)
		}
	}
}
