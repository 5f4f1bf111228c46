package ldap

import (
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in        string
		attr      string
		low, high int
		ok        bool
	}{
		{"member;range=0-1499", "member", 0, 1499, true},
		{"member;Range=1500-*", "member", 1500, -1, true},
		{"member;binary;range=3-4", "member;binary", 3, 4, true},
		{"member", "", 0, 0, false},
		{"member;range=5", "", 0, 0, false},
		{"member;range=9-3", "", 0, 0, false},
		{"member;range=a-*", "", 0, 0, false},
	}
	for _, tt := range tests {
		attr, low, high, ok := parseRange(tt.in)
		if attr != tt.attr || low != tt.low || high != tt.high || ok != tt.ok {
			t.Errorf("parseRange(%q) = %q, %d, %d, %v; want %q, %d, %d, %v", tt.in, attr, low, high, ok, tt.attr, tt.low, tt.high, tt.ok)
		}
	}
}
