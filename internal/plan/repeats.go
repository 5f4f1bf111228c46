package plan

import (
	"hash/maphash"
)

// repeatedKeys counts the keys that key(i), i in [0, n), returns more than once, skipping "" and
// items for which key reports false. It returns nil when no key repeats, the usual case.
//
// Rather than a million-entry map it sorts the keys' 64-bit hashes (radixSort), which reads
// memory in order only; just the keys whose hash repeats (the repeated keys, and the rare hash
// collisions) are then counted by their strings, so the counts are exact. scratch, when it holds
// 2n items, is used for the hashes instead of new memory: callers with several key sets pass one.
func repeatedKeys(n int, key func(i int) (string, bool), scratch []uint64) map[string]int32 {
	seed := maphash.MakeSeed()
	return repeatedKeysBy(n, key, func(s string) uint64 { return maphash.String(seed, s) }, scratch)
}

// repeatedKeysBy is repeatedKeys with the hash function as a parameter, for tests.
func repeatedKeysBy(n int, key func(i int) (string, bool), hash func(string) uint64, scratch []uint64) map[string]int32 {
	if len(scratch) < 2*n {
		scratch = make([]uint64, 2*n)
	}
	hashes := scratch[:0:n]
	for i := range n {
		if k, ok := key(i); ok && k != "" {
			hashes = append(hashes, hash(k))
		}
	}
	hashes = radixSort(hashes, scratch[n:n+len(hashes)], 0, 64)
	var twice map[uint64]bool
	for i := 1; i < len(hashes); i++ {
		if hashes[i] == hashes[i-1] {
			if twice == nil {
				twice = map[uint64]bool{}
			}
			twice[hashes[i]] = true
		}
	}
	if twice == nil {
		return nil
	}
	counts := map[string]int32{}
	for i := range n {
		if k, ok := key(i); ok && k != "" && twice[hash(k)] {
			counts[k]++
		}
	}
	for k, c := range counts {
		if c < 2 { // its hash collided with another key's
			delete(counts, k)
		}
	}
	if len(counts) == 0 {
		return nil
	}
	return counts
}
