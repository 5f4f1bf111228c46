package hr

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// field is one column of a row before interpretation: a CSV cell, or a JSON value's scalars.
type field struct {
	name   string
	values []string
}

// rowError is why a row could not become a record.
type rowError struct {
	reason model.ProblemReason
	msg    string
}

// buildRecord turns the fields of one row into a record. Values are trimmed and empty values
// omitted; MultiValueSeparator splits every column but the ID column.
func buildRecord(cfg Config, fields []field) (model.Record, *rowError) {
	rec := model.Record{Attributes: map[string][]string{}}
	for _, f := range fields {
		if f.name == cfg.IDColumn {
			id, rerr := singleID(cfg.IDColumn, f.values)
			if rerr != nil {
				return model.Record{}, rerr
			}
			rec.ID = id
			if id != "" {
				rec.Attributes[f.name] = []string{id}
			}
			continue
		}
		var vals []string
		for _, v := range f.values {
			vals = appendSplit(vals, v, cfg.MultiValueSeparator)
		}
		if len(vals) > 0 {
			rec.Attributes[f.name] = vals
		}
		if f.name == cfg.GroupsColumn {
			for _, v := range f.values {
				rec.Groups = appendSplit(rec.Groups, v, cfg.GroupsSeparator)
			}
			rec.Groups = dedupe(rec.Groups)
		}
		if f.name == cfg.DisabledColumn && slices.ContainsFunc(vals, cfg.isDisabledValue) {
			rec.Disabled = true
		}
	}
	if rec.ID == "" {
		return model.Record{}, &rowError{model.ReasonMissingID, fmt.Sprintf("no value in ID column %q", cfg.IDColumn)}
	}
	return rec, nil
}

func singleID(column string, values []string) (string, *rowError) {
	var id string
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if id != "" {
			return "", &rowError{model.ReasonMalformedRow, fmt.Sprintf("ID column %q holds more than one value", column)}
		}
		id = v
	}
	if strings.ContainsRune(id, utf8.RuneError) {
		return "", &rowError{model.ReasonMalformedRow, fmt.Sprintf("ID column %q holds invalid UTF-8", column)}
	}
	return id, nil
}

// appendSplit appends the trimmed, non-empty parts of v split by sep (no split when sep is "").
func appendSplit(dst []string, v, sep string) []string {
	if sep == "" {
		if v = strings.TrimSpace(v); v != "" {
			dst = append(dst, v)
		}
		return dst
	}
	for part := range strings.SplitSeq(v, sep) {
		if part = strings.TrimSpace(part); part != "" {
			dst = append(dst, part)
		}
	}
	return dst
}

// dedupe removes repeated values, keeping the first occurrence.
func dedupe(vals []string) []string {
	if len(vals) < 2 {
		return vals
	}
	seen := make(map[string]bool, len(vals))
	out := vals[:0]
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// collector gathers the records and row problems of one document.
type collector struct {
	cfg       Config
	snap      model.Snapshot
	firstSeen map[string]string // ID -> subject of the row that defined it
}

func newCollector(cfg Config) *collector {
	return &collector{cfg: cfg, snap: model.Snapshot{Records: []model.Record{}}, firstSeen: map[string]string{}}
}

func (c *collector) problem(subject string, reason model.ProblemReason, format string, args ...any) {
	c.problemOf(subject, "", reason, format, args...)
}

// problemOf reports a row whose record id is known: the person is present, so their target user is
// held rather than offboarded.
func (c *collector) problemOf(subject, id string, reason model.ProblemReason, format string, args ...any) {
	c.snap.Problems = append(c.snap.Problems, model.Problem{Subject: subject, ID: id, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// row interprets one data row, adding a record or exactly one problem.
func (c *collector) row(subject string, fields []field) {
	rec, rerr := buildRecord(c.cfg, fields)
	if rerr != nil {
		c.problem(subject, rerr.reason, "%s", rerr.msg)
		return
	}
	if first, dup := c.firstSeen[rec.ID]; dup {
		// The ID itself is not repeated here: the subject locates the row.
		c.problemOf(subject, rec.ID, model.ReasonDuplicate, "its ID was first seen at %s; row ignored", first)
		return
	}
	c.firstSeen[rec.ID] = subject
	c.snap.Records = append(c.snap.Records, rec)
}

// finish returns the snapshot with records sorted by ID.
func (c *collector) finish(complete bool) *model.Snapshot {
	slices.SortFunc(c.snap.Records, func(a, b model.Record) int { return strings.Compare(a.ID, b.ID) })
	c.snap.Complete = complete
	return &c.snap
}
