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
		if got := repeatedKeysBy(len(keys), key, hash); !maps.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		unique := func(i int) (string, bool) { return []string{"a", "b", "", ""}[i], true }
		if got := repeatedKeysBy(4, unique, hash); got != nil {
			t.Errorf("%s: unique keys: %v, want nil", name, got)
		}
	}
	if got := repeatedKeys(len(keys), key); !maps.Equal(got, want) {
		t.Errorf("repeatedKeys: %v, want %v", got, want)
	}
}
