package mapping

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/cel-go/common/types"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// FieldTrace is one mapped field of a traced record: its value and where it came from.
type FieldTrace struct {
	Field  string `json:"field"`
	Value  string `json:"value"`
	Origin string `json:"origin"`
}

// Trace maps one record like Map and explains it: which rules' scopes took the record, and for each
// mapped field its value and origin (rule, attribute or expression, lookup, default). It serves
// provision-on-demand, not the hot path.
func (m *Mapper) Trace(rec model.Record) (res Result, scope string, fields []FieldTrace) {
	res = m.Map(rec)
	act := &activation{}
	act.reset(&rec)
	inScope := make([]bool, len(m.rules))
	var in, out []string
	for i, r := range m.rules {
		ok := true
		if r.scope != nil {
			act.use(r)
			v, err := eval(context.Background(), r.scope, act)
			b, isBool := v.(types.Bool)
			ok = err == nil && isBool && bool(b)
		}
		if ok && rec.Disabled && !r.includeDisabled {
			out = append(out, fmt.Sprintf("%s (record disabled, includeDisabled=false)", r.name))
			continue
		}
		inScope[i] = ok
		if ok {
			in = append(in, r.name)
		} else {
			out = append(out, r.name)
		}
	}
	switch {
	case len(in) == 0:
		scope = "out of scope of every rule: " + strings.Join(out, ", ")
	case len(out) == 0:
		scope = "in scope of " + strings.Join(in, ", ")
	default:
		scope = "in scope of " + strings.Join(in, ", ") + "; not of " + strings.Join(out, ", ")
	}
	if !res.Mapped() {
		return res, scope, nil
	}
	u := res.User
	for _, plan := range m.plans {
		var c *candidate
		for i := range plan.candidates {
			if inScope[plan.candidates[i].rule] {
				c = &plan.candidates[i]
				break
			}
		}
		if c == nil {
			continue
		}
		value := u.Get(plan.target)
		switch plan.target {
		case model.FieldActive:
			value = fmt.Sprint(u.Active)
		case model.FieldGroups:
			value = strings.Join(u.Groups, ", ")
		}
		fields = append(fields, FieldTrace{Field: plan.target, Value: value, Origin: origin(m.rules[c.rule].name, c.field, &rec)})
	}
	return res, scope, fields
}

// origin describes where a field's value comes from.
func origin(rule string, f *compiledField, rec *model.Record) string {
	var parts []string
	switch {
	case f.from != "":
		vals, ok := findAttr(rec.Attributes, f.from)
		if (!ok || allEmpty(vals)) && f.hasDef {
			parts = append(parts, fmt.Sprintf("default (attribute %s empty)", f.from))
		} else {
			parts = append(parts, "attribute "+f.from)
		}
	case f.program != nil:
		parts = append(parts, "expression")
	case f.hasDef:
		parts = append(parts, "default")
	}
	if f.lookup != nil {
		parts = append(parts, "lookup "+f.lookup.name)
	}
	return fmt.Sprintf("rule %s: %s", rule, strings.Join(parts, ", "))
}

// SourceAttributes lists the record attributes the rules read a field from (e.g. uid for
// userName), so that a single person can be looked up by that field's value.
func (m *Mapper) SourceAttributes(field string) []string {
	var out []string
	for _, plan := range m.plans {
		if plan.target != field {
			continue
		}
		for _, c := range plan.candidates {
			if c.field.from != "" {
				out = append(out, c.field.from)
			}
		}
	}
	return out
}
