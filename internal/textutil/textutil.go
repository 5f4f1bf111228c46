// Package textutil shortens and flattens text for status, events and problem reports.
package textutil

import (
	"strings"
	"unicode/utf8"
)

const ellipsis = "…"

// Truncate returns s cut to at most n bytes, ending in "…" when cut, on a rune boundary and as valid
// UTF-8, so that the result fits an API field's maxLength and never splits a character.
func Truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len(ellipsis)
	if cut <= 0 {
		// Too short for the ellipsis: cut on a rune boundary only.
		cut = max(n, 0)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut]
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// OneLine joins the lines of s with spaces, so that an event or a condition message stays on one
// line in kubectl's output.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t\v\f") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
