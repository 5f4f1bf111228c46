package memory

import "iter"

// index maps a 32-bit hash of a key to the handles of the users holding that key. It keeps no
// keys: callers compare the candidates' stored fields, so duplicates (Seed may create them) and
// hash collisions are both just more candidates. It is an open-addressing table with linear
// probing in one pointer-free slice, so a million users cost the garbage collector nothing to scan
// and ~16 bytes each, where a map[string]… costs ~40 bytes and a pointer per entry.
type index struct {
	slots []uint64 // 0 = empty; otherwise hash<<32 | handle+1
	n     int
}

const minIndexSlots = 16

func slot(hash uint32, h int32) uint64 { return uint64(hash)<<32 | uint64(uint32(h)+1) }

// add records that user h holds a key with this hash.
func (x *index) add(hash uint32, h int32) {
	if 2*(x.n+1) > len(x.slots) {
		old := x.slots
		x.slots = make([]uint64, max(minIndexSlots, 2*len(old)))
		for _, s := range old {
			if s != 0 {
				x.put(s)
			}
		}
	}
	x.put(slot(hash, h))
	x.n++
}

func (x *index) put(s uint64) {
	mask := uint32(len(x.slots) - 1)
	for i := uint32(s>>32) & mask; ; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			x.slots[i] = s
			return
		}
	}
}

// remove forgets that user h holds a key with this hash; it must have been added.
func (x *index) remove(hash uint32, h int32) {
	mask := uint32(len(x.slots) - 1)
	want := slot(hash, h)
	i := hash & mask
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			panic("memory: index entry missing") // a bug in this package, not in the caller
		}
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move later entries of the probe run into the hole when the hole
	// lies between their home slot and where they sit, so no lookup ever stops short.
	for j := i; ; {
		j = (j + 1) & mask
		s := x.slots[j]
		if s == 0 {
			break
		}
		home := uint32(s>>32) & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = s
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}

// candidates yields the handles added with this hash (and no others), in no particular order.
func (x *index) candidates(hash uint32) iter.Seq[int32] {
	return func(yield func(int32) bool) {
		if len(x.slots) == 0 {
			return
		}
		mask := uint32(len(x.slots) - 1)
		for i := hash & mask; x.slots[i] != 0; i = (i + 1) & mask {
			if s := x.slots[i]; uint32(s>>32) == hash && !yield(int32(uint32(s)-1)) {
				return
			}
		}
	}
}
