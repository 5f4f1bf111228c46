package plan

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSort compares the radix sort with a stable comparison sort by the same bits: keys of one
// to several digits, digits that do not end at hi, no and one item, one digit for all.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		lo, hi int
		max    uint64 // of the sorted bits' value
	}{{32, 32, 0}, {32, 33, 1}, {32, 43, 2047}, {32, 44, 2048}, {32, 52, 1_000_000}, {32, 63, 1<<31 - 1},
		{0, 64, 1<<64 - 1}, {0, 64, 5}, {32, 52, 7}} {
		for _, n := range []int{0, 1, 5000} {
			xs := make([]uint64, n)
			for i := range xs {
				v := rng.Uint64()
				if c.max < 1<<64-1 {
					v = rng.Uint64N(c.max + 1)
				}
				xs[i] = v << c.lo
				if c.lo == 32 {
					xs[i] |= uint64(i) // the low half records the order
				}
			}
			key := func(x uint64) uint64 { return x >> c.lo & (1<<(c.hi-c.lo) - 1) }
			want := slices.Clone(xs)
			slices.SortStableFunc(want, func(a, b uint64) int { return cmp.Compare(key(a), key(b)) })
			if got := radixSort(xs, make([]uint64, n), c.lo, c.hi); !slices.Equal(got, want) {
				t.Errorf("bits %d to %d, keys up to %d, %d items: not sorted stably", c.lo, c.hi, c.max, n)
			}
		}
	}
}

// BenchmarkRadixSort1M sorts a million random 64-bit hashes, as repeatedKeys does, beside the
// comparison sort it replaced.
func BenchmarkRadixSort1M(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]uint64, 1_000_000)
	for i := range xs {
		xs[i] = rng.Uint64()
	}
	work, tmp := make([]uint64, len(xs)), make([]uint64, len(xs))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(work, xs)
			radixSort(work, tmp, 0, 64)
		}
	})
	b.Run("pdqsort", func(b *testing.B) {
		for b.Loop() {
			copy(work, xs)
			slices.Sort(work)
		}
	})
}
