package scim

import (
	"encoding/json"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`abc`, `"abc"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{`\"`, `"\\\""`},
		{"tab\there\n", `"tab\there\n"`},
		{"\x01", `"\u0001"`},
		{"müller", `"müller"`},
	} {
		got := Quote(tc.in)
		if got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		// A filter literal is a JSON string: decoding it must give the input back.
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != tc.in {
			t.Errorf("Quote(%q) = %s does not decode back as JSON: %q, %v", tc.in, got, back, err)
		}
	}
	if got := Eq("externalId", `x"y`); got != `externalId eq "x\"y"` {
		t.Errorf("Eq = %s", got)
	}
}
