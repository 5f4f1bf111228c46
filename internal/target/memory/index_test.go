package memory

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexAgainstAMap adds and removes entries with few distinct hashes (long probe runs,
// wrap-around, many collisions) and checks every lookup against a plain map.
func TestIndexAgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x index
	want := map[uint32][]int32{}
	live := map[int32]uint32{}
	next := int32(0)
	for step := range 20_000 {
		if len(live) > 0 && rng.IntN(5) < 2 {
			for h, hash := range live { // a random-enough entry
				x.remove(hash, h)
				delete(live, h)
				want[hash] = slices.DeleteFunc(want[hash], func(v int32) bool { return v == h })
				break
			}
		} else {
			hash := rng.Uint32N(64) - 32 // few homes, half of them at the table's end: probe runs wrap
			x.add(hash, next)
			live[next] = hash
			want[hash] = append(want[hash], next)
			next++
		}
		if step%97 == 0 || step > 19_900 {
			for hash, hs := range want {
				got := slices.Sorted(x.candidates(hash))
				if !slices.Equal(got, slices.Sorted(slices.Values(hs))) {
					t.Fatalf("step %d: candidates(%d) = %v, want %v", step, hash, got, hs)
				}
			}
		}
	}
	if x.n != len(live) {
		t.Errorf("n = %d, want %d", x.n, len(live))
	}
	used := 0
	for _, s := range x.slots {
		if s != 0 {
			used++
		}
	}
	if used != len(live) || x.slots[len(x.slots)-1] == 0 && x.slots[0] == 0 {
		t.Errorf("%d slots used, want %d; wrap-around exercised: %v", used, len(live), x.slots[len(x.slots)-1] != 0)
	}
}
