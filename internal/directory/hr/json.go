package hr

import (
	"bytes"
	"encoding/json"
	"fmt"
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
		fields, msg := jsonFields(raw)
		if msg != "" {
			c.problem(subject, model.ReasonMalformedRow, "%s", msg)
			continue
		}
		c.row(subject, fields)
	}
	return c.finish(true), nil
}

func jsonItems(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, directory.Errorf(directory.KindMalformed, nil, "JSON document is empty")
	}
	if !json.Valid(trimmed) {
		// Unmarshal again only to obtain a descriptive syntax error.
		var v any
		err := json.Unmarshal(trimmed, &v)
		return nil, directory.Errorf(directory.KindMalformed, err, "HR record is not valid JSON")
	}
	var items []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, directory.Errorf(directory.KindMalformed, err, "JSON array cannot be read")
		}
		return items, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return nil, directory.Errorf(directory.KindMalformed, err, "JSON object cannot be read")
		}
		if arr, ok := obj[employeesKey]; ok && bytes.HasPrefix(bytes.TrimSpace(arr), []byte("[")) {
			if err := json.Unmarshal(arr, &items); err != nil {
				return nil, directory.Errorf(directory.KindMalformed, err, "JSON %q array cannot be read", employeesKey)
			}
			return items, nil
		}
	}
	return nil, directory.Errorf(directory.KindMalformed, nil,
		"JSON document must be an array of objects or an object with an %q array", employeesKey)
}

// jsonFields converts one array item; a non-empty message explains why it cannot be used.
func jsonFields(raw json.RawMessage) ([]field, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Sprintf("item cannot be decoded: %v", err)
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
			return nil, fmt.Sprintf("key %q appears more than once", name)
		}
		seen[name] = true
		var values []string
		if arr, isArr := obj[k].([]any); isArr {
			for _, e := range arr {
				s, ok := jsonScalar(e)
				if !ok {
					return nil, fmt.Sprintf("key %q: array holds %s; only strings, numbers, booleans and null are supported", k, jsonKind(e))
				}
				values = append(values, s)
			}
		} else {
			s, ok := jsonScalar(obj[k])
			if !ok {
				return nil, fmt.Sprintf("key %q holds %s; nested objects are not supported", k, jsonKind(obj[k]))
			}
			values = append(values, s)
		}
		fields = append(fields, field{name: name, values: values})
	}
	return fields, ""
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
