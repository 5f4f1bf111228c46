package main

import (
	"context"
	"io"
	"regexp"
	"testing"
	"time"
)

// TestSCIMSectionSmall runs the SCIM section at a tiny size on both servers: every initial sync
// creates each user with one POST, a run already in sync writes nothing (scimRows fails otherwise),
// and each figure stands beside its floor.
func TestSCIMSectionSmall(t *testing.T) {
	progress = io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := newBench(1)
	if err := b.scimRows(ctx, 40, 1); err != nil {
		t.Fatal(err)
	}
	report := b.report()
	for _, server := range []string{"SCIMMY", `strict server \(elimity-com/scim\)`} {
		for _, want := range []string{
			`\| SCIM initial sync, 40 users, ` + server + ` \| time, best of 1 [^|]*\| [0-9.]+ s \([0-9]+ users/s\) \| [0-9.]+ s \([0-9]+ users/s\) \| [0-9.]+× \| ≤ 1.30× \|`,
			`\| SCIM initial sync, 40 users, ` + server + ` \| requests by method; connections opened \| GET [0-9]+, POST 40; [0-9]+ \| POST 40; [0-9]+ \|`,
			`\| SCIM run already in sync, 40 users, ` + server + ` \| requests by method; connections opened \| GET [0-9]+; [0-9]+ \| GET [0-9]+; 1 \|`,
		} {
			if !regexp.MustCompile(want).MatchString(report) {
				t.Errorf("report lacks %s:\n%s", want, report)
			}
		}
	}
}
