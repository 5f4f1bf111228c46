package hr

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

var fuzzDelimiters = []rune{',', ';', '\t'}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte(testCSV), uint8(0))
	f.Add([]byte("\xEF\xBB\xBFid;groups;status\r\n1;a;b;x\r\n2;\"multi\nline\";x\n\n3;\"bad\"quote;\n"), uint8(1))
	f.Add([]byte("id\tname\n1\t\"unclosed\n2\tx\n"), uint8(2))
	f.Add([]byte("id,groups,status\n1,a|b;c,X\n1,dup,\n,missing,\n\xff,bad,\n"), uint8(0))
	f.Add([]byte("id,name,mail\n1,Ann,a@x.org\n2,Bo"), uint8(0))  // cut in the last row
	f.Add([]byte("id;name\n1;Ann\n2;\"Bob"), uint8(1))            // cut inside a quoted field
	f.Add([]byte("id,name,mail\n1,Ann,a@x.org\n2\n\n"), uint8(0)) // short last row, blank lines after
	f.Fuzz(func(t *testing.T, data []byte, delim uint8) {
		comma := fuzzDelimiters[int(delim)%len(fuzzDelimiters)]
		// Use the document's own columns so that most inputs get past the header check.
		cfg := Config{Format: FormatCSV, Delimiter: comma, IDColumn: "id", MultiValueSeparator: "|"}
		if header := csvHeader(data, comma); len(header) > 0 {
			cfg.IDColumn = header[0]
			if len(header) > 2 {
				cfg.GroupsColumn, cfg.DisabledColumn, cfg.DisabledValues = header[1], header[2], []string{"x"}
			}
		}
		snap, err := Parse(data, cfg)
		checkSnapshot(t, snap, err, func() int { return csvRowCount(data, comma) })
		if err == nil && snap != nil && snap.Complete && csvLastRowCutOff(data, comma) {
			t.Fatal("a document whose last row looks cut off was read as complete")
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`[{"id": 1, "groups": ["a", "b"], "status": "x"}, {"id": "2", "n": 1e3, "o": {}}, 3, {"id": null}]`))
	f.Add([]byte("\xEF\xBB\xBF{\"employees\": [{\"id\": \"\xff\"}, {\"id\": [\"1\", \"2\"]}, {\"id\": 1.0}, {\"id\": 1}]}"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"employees": 1}`))
	f.Add([]byte(`[{"id": "1"}, {"id": "2"`)) // cut off
	f.Add([]byte(`{"employees": [{"id": "1"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{Format: FormatJSON, IDColumn: "id", GroupsColumn: "groups", DisabledColumn: "status",
			DisabledValues: []string{"x"}, MultiValueSeparator: ","}
		snap, err := Parse(data, cfg)
		checkSnapshot(t, snap, err, func() int { return jsonItemCount(t, data) })
	})
}

// checkSnapshot checks what holds for every outcome of Parse; rows counts the data rows.
func checkSnapshot(t *testing.T, snap *model.Snapshot, err error, rows func() int) {
	t.Helper()
	if err != nil {
		if kind := directory.KindOf(err); kind != directory.KindMalformed && kind != directory.KindInvalidConfig {
			t.Fatalf("unexpected error kind %s: %v", kind, err)
		}
		if snap != nil && snap.Complete {
			t.Fatalf("error %v with a complete snapshot", err)
		}
	}
	if snap == nil {
		if err == nil {
			t.Fatal("nil snapshot without error")
		}
		return
	}
	for i, r := range snap.Records {
		if r.ID == "" || !utf8.ValidString(r.ID) || strings.ContainsRune(r.ID, utf8.RuneError) {
			t.Fatalf("record %d has an unusable ID %q", i, r.ID)
		}
		if i > 0 && snap.Records[i-1].ID >= r.ID {
			t.Fatalf("records not sorted or IDs repeated: %q then %q", snap.Records[i-1].ID, r.ID)
		}
		for k, vs := range r.Attributes {
			if len(vs) == 0 || slices.Contains(vs, "") {
				t.Fatalf("record %q attribute %q has empty values %q", r.ID, k, vs)
			}
		}
	}
	for _, p := range snap.Problems {
		if p.Subject == "" || p.Message == "" || p.Reason == "" {
			t.Fatalf("incomplete problem %+v", p)
		}
	}
	if snap.Complete {
		if got, want := len(snap.Records)+len(snap.Problems), rows(); got != want {
			t.Fatalf("%d records + %d problems for %d data rows", len(snap.Records), len(snap.Problems), want)
		}
	}
}

func csvReader(data []byte, comma rune) *csv.Reader {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	r.Comma = comma
	r.FieldsPerRecord = -1
	return r
}

func csvHeader(data []byte, comma rune) []string {
	header, err := csvReader(data, comma).Read()
	if err != nil {
		return nil
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	return header
}

// csvRowCount counts the rows after the header that encoding/csv delimits, well-formed or not.
func csvRowCount(data []byte, comma rune) int {
	r := csvReader(data, comma)
	n := -1
	for {
		if _, err := r.Read(); errors.Is(err, io.EOF) {
			return max(n, 0)
		}
		n++
	}
}

func jsonItemCount(t *testing.T, data []byte) int {
	var doc any
	if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &doc); err != nil {
		t.Fatalf("Parse accepted JSON that encoding/json rejects: %v", err)
	}
	if obj, ok := doc.(map[string]any); ok {
		doc = obj[employeesKey]
	}
	items, ok := doc.([]any)
	if !ok {
		t.Fatalf("Parse accepted a document that is not an array: %T", doc)
	}
	return len(items)
}

// csvLastRowCutOff reports whether the last row encoding/csv delimits has fewer fields than the
// header or ends inside a quoted field.
func csvLastRowCutOff(data []byte, comma rune) bool {
	r := csvReader(data, comma)
	header, err := r.Read()
	if err != nil {
		return false
	}
	cut := false
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return cut
		}
		var perr *csv.ParseError
		cut = (errors.As(err, &perr) && errors.Is(perr.Err, csv.ErrQuote)) || (err == nil && len(row) < len(header))
	}
}
