package hr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// employeesKey is the key of the array when a JSON document is an object rather than an array.
const employeesKey = "employees"

// parseJSON reads a top-level array of objects, or an object whose "employees" key holds one.
// Values may be strings, numbers, booleans, null (omitted) or arrays of those (multi-valued);
// anything else makes the item a problem. Invalid UTF-8 in strings is replaced with U+FFFD by
// encoding/json; an ID containing it is a problem.
func parseJSON(data []byte, cfg Config) (*model.Snapshot, error) {
	items, err := jsonItems(data)
	if err != nil {
		return nil, err
	}
	c := newCollector(cfg)
	for i, raw := range items {
		subject := fmt.Sprintf("item %d", i)
		fields, msg := jsonFields(raw, cfg)
		if msg != "" {
			c.problemOf(subject, jsonItemID(raw, cfg.IDColumn), model.ReasonMalformedRow, "%s", msg)
			continue
		}
		c.row(subject, fields)
	}
	return c.finish(true), nil
}

// jsonSpace is JSON's whitespace (RFC 8259 §2); bytes.TrimSpace also takes \f, \v and Unicode
// spaces, which made a document such as "\f[]" pass as JSON.
const jsonSpace = " \t\n\r"

func jsonItems(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.Trim(data, jsonSpace)
	if len(trimmed) == 0 {
		return nil, directory.Errorf(directory.KindMalformed, nil, "JSON document is empty")
	}
	if !json.Valid(trimmed) {
		return nil, directory.Errorf(directory.KindMalformed, nil, "HR record is not valid JSON: %s", describeJSONError(trimmed))
	}
	var items []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, directory.Errorf(directory.KindMalformed, nil, "JSON array cannot be read")
		}
		return items, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return nil, directory.Errorf(directory.KindMalformed, nil, "JSON object cannot be read")
		}
		if arr, ok := obj[employeesKey]; ok && bytes.HasPrefix(bytes.TrimLeft(arr, jsonSpace), []byte("[")) {
			if err := json.Unmarshal(arr, &items); err != nil {
				return nil, directory.Errorf(directory.KindMalformed, nil, "JSON %q array cannot be read", employeesKey)
			}
			return items, nil
		}
	}
	return nil, directory.Errorf(directory.KindMalformed, nil,
		"JSON document must be an array of objects or an object with an %q array", employeesKey)
}

// describeJSONError says where an invalid document goes wrong without quoting it: encoding/json's
// messages quote the offending character, and the document may be a token or another Secret.
func describeJSONError(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	err := dec.Decode(&v)
	var serr *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Sprintf("it ends after %d bytes before its array or object is closed; the export looks cut off", len(data))
	case errors.As(err, &serr):
		return fmt.Sprintf("syntax error at byte %d of %d", serr.Offset, len(data))
	case err == nil:
		return fmt.Sprintf("more data follows the document at byte %d of %d", dec.InputOffset(), len(data))
	}
	return fmt.Sprintf("it cannot be decoded (%d bytes)", len(data))
}

// jsonItemID returns the id of an item that cannot be used otherwise, when its id key holds exactly
// one string or number: the person is there even if another key is broken.
func jsonItemID(raw json.RawMessage, idKey string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	var found []string
	for k, v := range obj {
		if strings.TrimSpace(k) != idKey {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var val any
		if dec.Decode(&val) != nil {
			return ""
		}
		switch val.(type) {
		case string, json.Number:
			s, _ := jsonScalar(val)
			found = append(found, s)
		default:
			return ""
		}
	}
	if len(found) != 1 {
		return ""
	}
	id, rerr := singleID(idKey, found)
	if rerr != nil {
		return ""
	}
	return id
}

// jsonFields converts one array item; a non-empty message explains why it cannot be used.
// Messages name a key only when it is one of the configured columns (see csvColumns).
func jsonFields(raw json.RawMessage, cfg Config) ([]field, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, "item cannot be decoded"
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Sprintf("item is %s, not an object", jsonKind(v))
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fields := make([]field, 0, len(obj))
	seen := make(map[string]bool, len(obj))
	for _, k := range keys {
		name := strings.TrimSpace(k)
		if name == "" {
			return nil, "item has an empty key"
		}
		if seen[name] {
			return nil, fmt.Sprintf("%s appears more than once (keys are compared without surrounding spaces)", keyName(name, cfg))
		}
		seen[name] = true
		var values []string
		if arr, isArr := obj[k].([]any); isArr {
			for _, e := range arr {
				s, ok := jsonScalar(e)
				if !ok {
					return nil, fmt.Sprintf("%s: array holds %s; only strings, numbers, booleans and null are supported", keyName(name, cfg), jsonKind(e))
				}
				values = append(values, s)
			}
		} else {
			s, ok := jsonScalar(obj[k])
			if !ok {
				return nil, fmt.Sprintf("%s holds %s; nested objects are not supported", keyName(name, cfg), jsonKind(obj[k]))
			}
			values = append(values, s)
		}
		fields = append(fields, field{name: name, values: values})
	}
	return fields, ""
}

// keyName names a key in a message only when the spec configures it.
func keyName(name string, cfg Config) string {
	switch name {
	case cfg.IDColumn, cfg.GroupsColumn, cfg.DisabledColumn:
		return fmt.Sprintf("key %q", name)
	}
	return "a key that is not a configured column"
}

// jsonScalar formats a scalar value; null becomes "" (and is then omitted).
func jsonScalar(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return formatNumber(string(v)), true
	}
	return "", false
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// maxIntegerDigits bounds the expansion of exponents (1e999999 stays as written).
const maxIntegerDigits = 40

// formatNumber writes a JSON number literal that denotes an integer in plain digits ("1e3" and
// "1000.0" become "1000"); other numbers are kept as written.
func formatNumber(lit string) string {
	s, neg := strings.CutPrefix(lit, "-")
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > maxIntegerDigits || e < -maxIntegerDigits-len(mant) {
			return lit
		}
		exp = e
	}
	// The value is digits × 10^exp.
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return "0"
	}
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		exp++
	}
	if exp < 0 || len(digits)+exp > maxIntegerDigits {
		return lit
	}
	out := digits + strings.Repeat("0", exp)
	if neg {
		out = "-" + out
	}
	return out
}
