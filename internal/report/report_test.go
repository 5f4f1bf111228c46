package report

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestChunksStayUnderTheLimitAndRoundTrip(t *testing.T) {
	var rows []Row
	for i := range 1000 {
		rows = append(rows, Row{Entry: "action", Kind: "Create", User: fmt.Sprintf("u%04d", i), ExternalID: fmt.Sprintf("x:%d", i),
			Reason: "new, in \"source\"\nline two", Outcome: OutcomeApplied})
	}
	rows = append(rows, Row{Entry: "problem", Kind: "Conflict", User: "big", Reason: strings.Repeat("y", 5000)})
	const limit = 4096
	chunks, digest := Chunks(rows, limit)
	if len(chunks) < 10 || digest == "" {
		t.Fatalf("%d chunks", len(chunks))
	}
	var back []Row
	for i, c := range chunks {
		if len(c) > limit && !strings.Contains(c, "big") {
			t.Errorf("chunk %d has %d bytes", i, len(c))
		}
		if !strings.HasPrefix(c, strings.Join(Header, ",")+"\n") {
			t.Errorf("chunk %d lacks the header", i)
		}
		part, err := Parse(c)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, part...)
	}
	if !reflect.DeepEqual(back, rows) {
		t.Fatalf("rows differ after the round trip: %d vs %d", len(back), len(rows))
	}
	if _, d2 := Chunks(rows[:10], limit); d2 == digest {
		t.Fatal("digest does not depend on the content")
	}
}
