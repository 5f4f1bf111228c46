package redact

import "testing"

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"token s3cret! in text", "token [redacted] in text"},
		{"encoded czNjcmV0IQ== too", "encoded [redacted] too"},
		{"raw czNjcmV0IQ too", "raw [redacted] too"},
		{"nothing here", "nothing here"},
	} {
		if got := Scrub(tc.in, "s3cret!\n", "", "ab"); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Scrub("a tab is ab", "ab"); got != "a tab is ab" {
		t.Errorf("a two-byte secret was scrubbed: %q", got)
	}
}
