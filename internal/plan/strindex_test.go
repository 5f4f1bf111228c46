package plan

import (
	"fmt"
	"slices"
	"testing"
)

func TestStrIndexFindsFirstHolderExactly(t *testing.T) {
	keys := []string{"a", "b", "a", "", "c", "b", "a"}
	first := map[string]int32{}
	for _, hash := range map[string]func(string) uint64{
		"seeded":       nil,
		"all collide":  func(string) uint64 { return 42 },
		"same tag":     func(s string) uint64 { return 7<<32 | uint64(len(s)) },
		"same slot":    func(s string) uint64 { return uint64(len(s)) << 32 },
		"wraps around": func(string) uint64 { return 1<<32 | 15 }, // the last of 16 slots
	} {
		x := newStrIndex(len(keys), func(i int32) string { return keys[i] })
		if hash != nil {
			x.hash = hash
		}
		clear(first)
		for i, k := range keys {
			got, added := x.add(int32(i), k)
			want, seen := first[k]
			if !seen {
				first[k], want = int32(i), int32(i)
			}
			if got != want || added == seen {
				t.Fatalf("add(%d, %q) = %d, %v; want %d, %v", i, k, got, added, want, !seen)
			}
		}
		for k, want := range first {
			if got, ok := x.get(k); !ok || got != want {
				t.Fatalf("get(%q) = %d, %v; want %d", k, got, ok, want)
			}
		}
		for _, k := range []string{"d", "A", "aa"} {
			if got, ok := x.get(k); ok {
				t.Fatalf("get(%q) = %d for a key never added", k, got)
			}
		}
		// addEach does what add does, item by item
		y := newStrIndex(len(keys), func(i int32) string { return keys[i] })
		if hash != nil {
			y.hash = hash
		}
		var repeated []string
		y.addEach(keys, func(i, first int32) { repeated = append(repeated, fmt.Sprint(i, first)) })
		if want := []string{"2 0", "5 1", "6 0"}; !slices.Equal(repeated, want) {
			t.Fatalf("addEach: repeated %v, want %v", repeated, want)
		}
		for k, want := range first {
			if got, ok := y.get(k); k != "" && (!ok || got != want) || k == "" && ok { // addEach skips ""
				t.Fatalf("after addEach get(%q) = %d, %v; want %d", k, got, ok, want)
			}
		}
		sought := slices.Repeat([]string{"c", "d", "a", "", "b", "aa"}, 5) // more than one batch
		out := make([]int32, len(sought))
		x.getAll(sought, out)
		for i, k := range sought {
			if want, ok := first[k]; !ok && out[i] != -1 || ok && out[i] != want {
				t.Fatalf("getAll: %q -> %d, want %d (%v)", k, out[i], want, ok)
			}
		}
	}
}

func TestStrIndexLarge(t *testing.T) {
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("id-%d", i%(n/2)) // every key twice
	}
	x := newStrIndex(n, func(i int32) string { return keys[i] })
	for i, k := range keys {
		got, added := x.add(int32(i), k)
		if want := int32(i % (n / 2)); got != want || added != (i < n/2) {
			t.Fatalf("add(%d) = %d, %v", i, got, added)
		}
	}
	for i := range n / 2 {
		if got, ok := x.get(keys[i]); !ok || got != int32(i) {
			t.Fatalf("get(%q) = %d, %v", keys[i], got, ok)
		}
	}
	if _, ok := x.get("id-x"); ok {
		t.Fatal("found a key never added")
	}
	sought := append(slices.Clone(keys[n/2:]), "id-x")
	out := make([]int32, len(sought))
	x.getAll(sought, out)
	for i, got := range out[:n/2] {
		if got != int32(i) {
			t.Fatalf("getAll: %q -> %d", sought[i], got)
		}
	}
	if out[n/2] != -1 {
		t.Fatal("getAll found a key never added")
	}
}
