package hr

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

var utf8BOM = []byte("\xEF\xBB\xBF")

// Parse reads an HR record. Rows that cannot be read become Problems of the snapshot (subject
// "line N" for CSV, the physical line where the row starts; "item N" for JSON, the 0-based array
// index) and never abort the rest. Records are sorted by ID; of rows sharing an ID the first is
// kept. ReadAt is left zero.
//
// Errors are directory.Errors: KindInvalidConfig for a bad Config or a configured column missing
// from the CSV header, KindMalformed when the document as a whole cannot be read. A CSV quoting
// error that swallows the rest of the document yields both the rows read so far (Complete=false)
// and a KindMalformed error.
func Parse(data []byte, cfg Config) (*model.Snapshot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	data = bytes.TrimPrefix(data, utf8BOM)
	if cfg.Format == FormatJSON {
		return parseJSON(data, cfg)
	}
	return parseCSV(data, cfg)
}

func parseCSV(data []byte, cfg Config) (*model.Snapshot, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = cfg.Delimiter
	r.FieldsPerRecord = -1 // field counts are checked per row below

	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, directory.Errorf(directory.KindMalformed, nil, "CSV has no header row")
	}
	if err != nil {
		return nil, directory.Errorf(directory.KindMalformed, err, "CSV header row cannot be read")
	}
	columns, err := csvColumns(header, cfg)
	if err != nil {
		return nil, err
	}

	c := newCollector(cfg)
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return c.finish(true), nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			subject := fmt.Sprintf("line %d", perr.StartLine)
			c.problem(subject, model.ReasonMalformedRow, "%v (line %d, column %d)", perr.Err, perr.Line, perr.Column)
			if swallowedRest(r, perr, len(data)) {
				return c.finish(false), directory.Errorf(directory.KindMalformed, perr.Err,
					"CSV quoted field starting at line %d is not closed properly; lines %d to %d could not be read",
					perr.StartLine, perr.StartLine, perr.Line)
			}
			continue
		}
		if err != nil { // not expected from an in-memory reader
			return c.finish(false), directory.Errorf(directory.KindMalformed, err, "CSV cannot be read")
		}
		line, _ := r.FieldPos(0)
		subject := fmt.Sprintf("line %d", line)
		if len(row) != len(columns) {
			c.problem(subject, model.ReasonMalformedRow, "row has %d fields, header has %d", len(row), len(columns))
			continue
		}
		fields := make([]field, len(row))
		for i, cell := range row {
			fields[i] = field{name: columns[i], values: []string{strings.ToValidUTF8(cell, "\uFFFD")}}
		}
		c.row(subject, fields)
	}
}

// swallowedRest reports whether a quoting error consumed the rest of the input past the row's
// first line; those lines may have been rows of their own (typically an unclosed quote). It errs
// on the side of reporting an incomplete read when a multi-line last row is malformed.
func swallowedRest(r *csv.Reader, perr *csv.ParseError, size int) bool {
	return errors.Is(perr.Err, csv.ErrQuote) && perr.Line > perr.StartLine && r.InputOffset() >= int64(size)
}

// csvColumns trims the header and checks it against the configuration.
func csvColumns(header []string, cfg Config) ([]string, error) {
	columns := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToValidUTF8(strings.TrimSpace(h), "\uFFFD")
		if h == "" {
			return nil, directory.Errorf(directory.KindMalformed, nil, "CSV header column %d is empty", i+1)
		}
		if seen[h] {
			return nil, directory.Errorf(directory.KindMalformed, nil, "CSV header column %q appears more than once", h)
		}
		seen[h] = true
		columns[i] = h
	}
	for _, want := range []struct{ what, name string }{
		{"idColumn", cfg.IDColumn}, {"groupsColumn", cfg.GroupsColumn}, {"disabledColumn", cfg.DisabledColumn},
	} {
		if want.name != "" && !seen[want.name] {
			return nil, directory.Errorf(directory.KindInvalidConfig, nil, "%s %q is not a column of the CSV header (%s)",
				want.what, want.name, strings.Join(columns, ", "))
		}
	}
	return columns, nil
}
