package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestLDAPSectionSmall runs the LDAP section on a small real slapd: every path must read exactly the
// seeded entries (the bench checks the counts) and the report must carry each row with its floor.
func TestLDAPSectionSmall(t *testing.T) {
	progress = io.Discard
	b := newBench(1)
	if err := b.ldap(context.Background(), 600); err != nil {
		t.Fatal(err)
	}
	report := b.report()
	for _, want := range []string{
		"| c) LDAP read, 600 users, paged (500/page), same slapd and search | operator Source.Read (memberOf groups) vs ldapsearch to /dev/null |",
		"| raw go-ldap SearchWithPaging vs ldapsearch to /dev/null |",
		"| allocated per entry: operator vs raw go-ldap (ratio of bytes) |",
		"attributes [uid mail givenName sn displayName telephoneNumber title departmentNumber employeeNumber employeeType entryUUID memberOf manager]",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "NaN") || strings.Contains(report, "n/a") {
		t.Errorf("report has a figure that was not measured:\n%s", report)
	}
}
