package scim

import (
	"strconv"
	"strings"
)

// Quote returns s as a SCIM filter string literal: a JSON string (RFC 7644 §3.4.2.2 compValue),
// with quotes, backslashes and control characters escaped.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20:
			switch r {
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteString(strconv.FormatInt(int64(r)>>4, 16))
				b.WriteString(strconv.FormatInt(int64(r)&0xF, 16))
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Eq returns the filter `attr eq "value"` with value quoted by Quote.
func Eq(attr, value string) string { return attr + " eq " + Quote(value) }

// needsEscaping reports whether Quote changes s beyond adding the surrounding quotes; some
// servers (SCIMMY among them) do not parse escaped filter literals.
func needsEscaping(s string) bool { return len(Quote(s)) != len(s)+2 }
