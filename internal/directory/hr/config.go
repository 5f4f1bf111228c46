// Package hr reads people from an HR record: a CSV or JSON list of all active employees, where a
// person's absence means they were offboarded. It parses bytes handed over by the caller (the
// contents of a ConfigMap or Secret key) or fetched from a URL, and knows nothing about Kubernetes.
package hr

import (
	"errors"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// Supported values of Config.Format.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Config describes the layout of an HR record.
type Config struct {
	// Format is "csv" or "json".
	Format string
	// Delimiter separates CSV fields: ',' (the default when zero), ';' or '\t'.
	Delimiter rune
	// IDColumn names the column (CSV header) or key (JSON) holding the stable employee ID. Required.
	IDColumn string
	// GroupsColumn optionally names the column holding the person's groups.
	GroupsColumn string
	// GroupsSeparator splits a groups cell into group names; default ";". In JSON, an array value
	// lists the groups directly.
	GroupsSeparator string
	// DisabledColumn optionally names a status column; a person whose value equals one of
	// DisabledValues (case-insensitive, surrounding spaces ignored) is Disabled. Both must be set
	// together.
	DisabledColumn string
	DisabledValues []string
	// MultiValueSeparator, if set, splits every attribute cell except the ID into multiple values.
	MultiValueSeparator string
}

// Validate reports an unusable configuration as a directory.Error of kind KindInvalidConfig.
func (c Config) Validate() error {
	var errs []string
	switch c.Format {
	case FormatCSV, FormatJSON:
	case "":
		errs = append(errs, `format is required ("csv" or "json")`)
	default:
		errs = append(errs, `format must be "csv" or "json", got "`+c.Format+`"`)
	}
	switch c.Delimiter {
	case 0, ',', ';', '\t':
	default:
		errs = append(errs, `delimiter must be ',', ';' or tab, got "`+string(c.Delimiter)+`"`)
	}
	if strings.TrimSpace(c.IDColumn) == "" {
		errs = append(errs, "idColumn is required")
	}
	if (c.DisabledColumn == "") != (len(c.DisabledValues) == 0) {
		errs = append(errs, "disabledColumn and disabledValues must be set together")
	}
	for _, v := range c.DisabledValues {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, "disabledValues must not contain empty values")
			break
		}
	}
	if len(errs) > 0 {
		return directory.Errorf(directory.KindInvalidConfig, errors.New(strings.Join(errs, "; ")),
			"invalid HR record configuration")
	}
	return nil
}

// withDefaults returns c with the defaults filled in and column names trimmed.
func (c Config) withDefaults() Config {
	if c.Delimiter == 0 {
		c.Delimiter = ','
	}
	if c.GroupsSeparator == "" {
		c.GroupsSeparator = ";"
	}
	c.IDColumn = strings.TrimSpace(c.IDColumn)
	c.GroupsColumn = strings.TrimSpace(c.GroupsColumn)
	c.DisabledColumn = strings.TrimSpace(c.DisabledColumn)
	return c
}

// isDisabledValue reports whether v is one of the configured DisabledValues.
func (c Config) isDisabledValue(v string) bool {
	v = strings.TrimSpace(v)
	for _, d := range c.DisabledValues {
		if strings.EqualFold(v, strings.TrimSpace(d)) {
			return true
		}
	}
	return false
}
