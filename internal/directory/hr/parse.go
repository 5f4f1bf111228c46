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
		return nil, directory.Errorf(directory.KindMalformed, nil, "CSV header row cannot be read: %s", describeCSVError(err))
	}
	columns, err := csvColumns(header, cfg)
	if err != nil {
		return nil, err
	}

	c := newCollector(cfg)
	// cutOff describes the last row read when it looks like the export was cut off in it: a
	// quoted field still open at the end, or fewer fields than the header. Only the last row
	// counts; earlier ones are malformed rows of their own.
	var cutOff string
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			if cutOff != "" {
				return c.finish(false), directory.Errorf(directory.KindMalformed, nil,
					"%s: the export looks cut off, so this read is incomplete and nobody is offboarded", cutOff)
			}
			return c.finish(true), nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			subject := fmt.Sprintf("line %d", perr.StartLine)
			c.problem(subject, model.ReasonMalformedRow, "%v (line %d, column %d)", perr.Err, perr.Line, perr.Column)
			if swallowedRest(r, perr, len(data)) {
				return c.finish(false), directory.Errorf(directory.KindMalformed, nil,
					"CSV quoted field starting at line %d is not closed properly; lines %d to %d could not be read",
					perr.StartLine, perr.StartLine, perr.Line)
			}
			cutOff = ""
			if errors.Is(perr.Err, csv.ErrQuote) {
				cutOff = fmt.Sprintf("the last row (line %d) has a quoted field that is not closed properly", perr.StartLine)
			}
			continue
		}
		if err != nil { // not expected from an in-memory reader
			return c.finish(false), directory.Errorf(directory.KindMalformed, nil, "CSV cannot be read")
		}
		line, _ := r.FieldPos(0)
		subject := fmt.Sprintf("line %d", line)
		cutOff = ""
		if len(row) != len(columns) {
			msg := fmt.Sprintf("row has %d fields, header has %d", len(row), len(columns))
			c.problemOf(subject, shiftedRowID(row, columns, cfg), model.ReasonMalformedRow, "%s", msg)
			if len(row) < len(columns) {
				cutOff = fmt.Sprintf("the last row (line %d) has %d fields, the header has %d", line, len(row), len(columns))
			}
			continue
		}
		fields := make([]field, len(row))
		for i, cell := range row {
			fields[i] = field{name: columns[i], values: []string{strings.ToValidUTF8(cell, "\uFFFD")}}
		}
		c.row(subject, fields)
	}
}

// shiftedRowID returns the id of a row whose field count differs from the header's, when it can be
// trusted: only a first-column id cannot have been shifted by a missing or extra delimiter.
func shiftedRowID(row, columns []string, cfg Config) string {
	if len(row) == 0 || columns[0] != cfg.IDColumn {
		return ""
	}
	id, rerr := singleID(cfg.IDColumn, []string{strings.ToValidUTF8(row[0], "\uFFFD")})
	if rerr != nil {
		return ""
	}
	return id
}

// swallowedRest reports whether a quoting error consumed the rest of the input past the row's
// first line; those lines may have been rows of their own (typically an unclosed quote). It errs
// on the side of reporting an incomplete read when a multi-line last row is malformed.
func swallowedRest(r *csv.Reader, perr *csv.ParseError, size int) bool {
	return errors.Is(perr.Err, csv.ErrQuote) && perr.Line > perr.StartLine && r.InputOffset() >= int64(size)
}

// csvColumns trims the header and checks it against the configuration. Errors never quote the
// header: when the wrong Secret or a token is read as an HR record, its first line would land in
// status and logs. Only the configured column names, which come from the spec, are named.
func csvColumns(header []string, cfg Config) ([]string, error) {
	configured := map[string]bool{cfg.IDColumn: true}
	for _, name := range []string{cfg.GroupsColumn, cfg.DisabledColumn} {
		if name != "" {
			configured[name] = true
		}
	}
	columns := make([]string, len(header))
	seen := map[string]int{} // name -> 1-based column number
	for i, h := range header {
		h = strings.ToValidUTF8(strings.TrimSpace(h), "\uFFFD")
		if h == "" {
			return nil, directory.Errorf(directory.KindMalformed, nil, "CSV header column %d is empty", i+1)
		}
		if first, dup := seen[h]; dup {
			if configured[h] {
				return nil, directory.Errorf(directory.KindMalformed, nil, "CSV header columns %d and %d are both named %q", first, i+1, h)
			}
			return nil, directory.Errorf(directory.KindMalformed, nil, "CSV header columns %d and %d have the same name", first, i+1)
		}
		seen[h] = i + 1
		columns[i] = h
	}
	for _, want := range []struct{ what, name string }{
		{"idColumn", cfg.IDColumn}, {"groupsColumn", cfg.GroupsColumn}, {"disabledColumn", cfg.DisabledColumn},
	} {
		if want.name != "" && seen[want.name] == 0 {
			return nil, directory.Errorf(directory.KindInvalidConfig, nil, "%s %q is not a column of the CSV header: %s",
				want.what, want.name, headerShape(len(columns), cfg.Delimiter))
		}
	}
	return columns, nil
}

// headerShape describes a header that lacks a configured column without quoting it.
func headerShape(n int, delim rune) string {
	delimiter := map[rune]string{',': "comma", ';': "semicolon", '\t': "tab"}[delim]
	if n == 1 {
		return fmt.Sprintf("the header has 1 column, not named so; is the delimiter (%s) right?", delimiter)
	}
	return fmt.Sprintf("the header has %d columns; none is named so", n)
}

// describeCSVError names what encoding/csv found wrong and where, without any of the input.
func describeCSVError(err error) string {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return fmt.Sprintf("%v (line %d, column %d)", perr.Err, perr.Line, perr.Column)
	}
	return "unreadable input"
}
