package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"ääääää", 8, "ää…"},  // 12 bytes; 5 bytes are left for text: two runes, not two and a half
		{"日本語テキスト", 9, "日本…"}, // 3-byte runes
		{"abc", 2, "ab"},
		{"äbc", 1, ""},
		{"bad\xffbyte", 20, "bad\uFFFDbyte"},
	} {
		got := Truncate(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
		if len(got) > tc.n && len(tc.in) > tc.n {
			t.Errorf("Truncate(%q, %d) is %d bytes long", tc.in, tc.n, len(got))
		}
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", tc.in, tc.n, got)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("ääääää", 5)
	f.Add("plain text", 4)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		got := Truncate(s, n)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		if len(got) > n && got != strings.ToValidUTF8(s, "\uFFFD") {
			t.Fatalf("Truncate(%q, %d) = %q is longer than %d", s, n, got, n)
		}
	})
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"one line":                               "one line",
		"Get \"https://x\":\n dial tcp: refused": "Get \"https://x\": dial tcp: refused",
		"a\r\nb\tc":                              "a b c",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
