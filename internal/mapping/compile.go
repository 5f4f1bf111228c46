package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// CostLimit bounds the work one expression may do for one record (CEL cost units).
const CostLimit = 1_000_000

// interruptCheckFrequency is how many comprehension iterations pass between cancellation checks.
const interruptCheckFrequency = 100

// NamedRule is a MappingRule's spec with the identity the compile cache is keyed by: UID and
// generation. A rule deleted and created again under the same name starts at generation 1 again,
// so only its UID tells the two apart.
type NamedRule struct {
	Name       string
	UID        string
	Generation int64
	Spec       v1alpha1.MappingRuleSpec
}

// CompileError is one problem found in a rule, suitable for a status condition.
type CompileError struct {
	Rule string
	// Field locates the problem in the spec, e.g. "fields[email].expression", "scope", "lookups[departments]".
	Field   string
	Message string
}

func (e *CompileError) Error() string {
	if e.Rule == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return fmt.Sprintf("rule %q %s: %s", e.Rule, e.Field, e.Message)
}

// CompileErrors returns every *CompileError joined in err (as returned by Compile, CompileRule or Cache.Get).
func CompileErrors(err error) []*CompileError {
	var out []*CompileError
	var walk func(error)
	walk = func(err error) {
		if ce, ok := err.(*CompileError); ok {
			out = append(out, ce)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// valueKind is the type a target field takes.
type valueKind int

const (
	kindString valueKind = iota
	kindBool
	kindList
	kindInt
	kindDateTime
)

func kindOf(target string) valueKind {
	switch target {
	case model.FieldActive:
		return kindBool
	case model.FieldGroups:
		return kindList
	}
	return kindString
}

// kindOfValue is the evaluation kind of an attribute path's value kind.
func kindOfValue(k model.ValueKind) valueKind {
	switch k {
	case model.KindBool:
		return kindBool
	case model.KindInt:
		return kindInt
	case model.KindDateTime:
		return kindDateTime
	case model.KindStrings:
		return kindList
	}
	return kindString
}

var lookupNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// compiledLookup is a lookup table ready for use.
type compiledLookup struct {
	name    string
	entries map[string]string
	// valid is entries with its values made valid UTF-8 once, here rather than for every record.
	valid      map[string]string
	def        string
	hasDefault bool
}

// compiledField produces one target field.
type compiledField struct {
	target string
	// slot is the index of target in model.StringFields, -1 when it is not one of them.
	slot     int
	kind     valueKind
	from     string
	program  *program // nil unless the mapping has an expression
	lookup   *compiledLookup
	def      string
	hasDef   bool
	defBool  bool // def parsed, for active
	required bool
	// attr is set for attribute paths beyond the named fields: the value goes to User.Attributes
	// with kind vkind.
	attr       bool
	vkind      model.ValueKind
	createOnly bool // applyOn: Create
}

// compiledRule is one rule ready for evaluation. It is immutable and shared between Mappers.
type compiledRule struct {
	name            string
	generation      int64
	priority        int32
	scope           *program // nil = all records
	includeDisabled bool
	fields          map[string]*compiledField
	// lookupsVar is the value of the lookups variable for this rule's expressions.
	lookupsVar map[string]any
}

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.Strings(),
		cel.OptionalTypes(),
		cel.Variable("record", recordType),
		cel.Variable("lookups", cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.StringType))),
		// Last: options registering types need the standard registry as the provider.
		recordTypes(),
	)
})

// CompileRule checks one rule on its own and returns all problems found, joined, or nil.
func CompileRule(rule NamedRule) error {
	_, errs := compileRule(rule)
	return errors.Join(errs...)
}

// Compile compiles a SyncTarget's rules into a Mapper. All problems found are returned, joined
// (see CompileErrors).
func Compile(rules []NamedRule) (*Mapper, error) {
	if len(rules) == 0 {
		// Mapping nothing would put every record out of scope and offboard everyone.
		return nil, &CompileError{Field: "rules", Message: "no mapping rules"}
	}
	compiled := make([]*compiledRule, 0, len(rules))
	var errs []error
	for _, r := range rules {
		cr, rerrs := compileRule(r)
		errs = append(errs, rerrs...)
		compiled = append(compiled, cr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newMapper(compiled)
}

func compileRule(rule NamedRule) (*compiledRule, []error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &CompileError{Rule: rule.Name, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	env, err := celEnv()
	if err != nil {
		fail("", "building the CEL environment: %v", err)
		return nil, errs
	}
	spec := rule.Spec
	cr := &compiledRule{
		name:            rule.Name,
		generation:      rule.Generation,
		priority:        spec.Priority,
		includeDisabled: spec.IncludeDisabled == nil || *spec.IncludeDisabled,
		fields:          make(map[string]*compiledField, len(spec.Fields)),
		lookupsVar:      make(map[string]any, len(spec.Lookups)),
	}

	tables := make(map[string]*compiledLookup, len(spec.Lookups))
	for _, l := range spec.Lookups {
		where := fmt.Sprintf("lookups[%s]", l.Name)
		switch {
		case !lookupNamePattern.MatchString(l.Name):
			fail(where, "invalid table name, want letters, digits and _")
		case tables[l.Name] != nil:
			fail(where, "duplicate table name")
		case len(l.Entries) == 0:
			fail(where, "table has no entries")
		}
		t := &compiledLookup{name: l.Name, entries: l.Entries, valid: validValues(l.Entries)}
		if l.Default != nil {
			t.def, t.hasDefault = validUTF8(*l.Default), true
		}
		if tables[l.Name] == nil {
			tables[l.Name] = t
			cr.lookupsVar[l.Name] = l.Entries
		}
	}

	// attrExpr lets attribute expressions return text that is parsed to the attribute's type.
	attrExpr := false
	lookupSize := lookupsSize(tables)
	compileExpr := func(where, expr string, want valueKind) *program {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			fail(where, "%s", formatIssues(iss))
			return nil
		}
		if msg := checkOutputType(ast.OutputType(), want, attrExpr); msg != "" {
			fail(where, "%s", msg)
			return nil
		}
		for _, name := range referencedTables(ast) {
			if tables[name] == nil {
				fail(where, "unknown lookup table %q (the rule defines %s)", name, tableNames(tables))
			}
		}
		prg, err := env.Program(ast,
			cel.CostLimit(CostLimit),
			cel.InterruptCheckFrequency(interruptCheckFrequency),
			cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			fail(where, "%v", err)
			return nil
		}
		p := &program{tracked: prg}
		if bound := freeBound(env, ast, lookupSize); bound > 0 {
			free, err := env.Program(ast,
				cel.InterruptCheckFrequency(interruptCheckFrequency),
				cel.EvalOptions(cel.OptOptimize))
			if err == nil {
				p.free, p.bound, p.direct = free, bound, directOf(ast, want)
			}
		}
		return p
	}

	if strings.TrimSpace(spec.Scope) != "" {
		cr.scope = compileExpr("scope", spec.Scope, kindBool)
	}
	if len(spec.Fields) == 0 {
		fail("fields", "at least one field mapping is required")
	}
	for _, fm := range spec.Fields {
		target, path, perr := model.ResolveTarget(string(fm.Target))
		where := fmt.Sprintf("fields[%s]", fm.Target)
		if perr != nil {
			fail(where+".target", "invalid target: %v", perr)
			continue
		}
		if cr.fields[target] != nil {
			fail(where, "target mapped twice (%s)", target)
			continue
		}
		attr := !model.IsField(target)
		vkind := path.Kind()
		if !attr {
			vkind = model.KindString
		}
		if fm.Type != "" {
			k, ok := model.ParseKind(fm.Type)
			known, _ := path.Known()
			switch {
			case !ok:
				fail(where+".type", "unknown type %q (want string, boolean, integer, dateTime or stringList)", fm.Type)
			case (known || !attr) && k != vkind && target != model.FieldActive && target != model.FieldGroups:
				fail(where+".type", "%s is a %s attribute, not %s", target, vkind, fm.Type)
			default:
				vkind = k
			}
		}
		switch fm.ApplyOn {
		case "", v1alpha1.ApplyAlways, v1alpha1.ApplyCreate:
		default:
			fail(where+".applyOn", "unknown applyOn %q (want Always or Create)", fm.ApplyOn)
		}
		if fm.ApplyOn == v1alpha1.ApplyCreate && (target == model.FieldUserName || target == model.FieldActive || target == model.FieldGroups) {
			fail(where+".applyOn", "%s is always kept in step with the directory", target)
		}
		cf := &compiledField{target: target, slot: slices.Index(model.StringFields, target), kind: kindOf(target), from: fm.From, required: fm.Required,
			attr: attr, vkind: vkind, createOnly: fm.ApplyOn == v1alpha1.ApplyCreate}
		if attr {
			cf.kind = kindOfValue(vkind)
		}
		switch {
		case fm.From != "" && fm.Expression != "":
			fail(where, "set at most one of from or expression")
		case fm.From == "" && fm.Expression == "" && fm.Default == nil:
			fail(where, "set from, expression or default")
		case fm.Expression != "":
			attrExpr = cf.attr
			cf.program = compileExpr(where+".expression", fm.Expression, cf.kind)
			attrExpr = false
		}
		if fm.Lookup != "" {
			if fm.From == "" && fm.Expression == "" {
				fail(where+".lookup", "lookup needs from or expression to give the key")
			}
			if cf.lookup = tables[fm.Lookup]; cf.lookup == nil {
				fail(where+".lookup", "unknown lookup table %q (the rule defines %s)", fm.Lookup, tableNames(tables))
			}
		}
		if fm.Default != nil {
			cf.def, cf.hasDef = validUTF8(*fm.Default), true
			if cf.kind == kindBool && !cf.attr {
				b, err := strconv.ParseBool(cf.def)
				if err != nil {
					fail(where+".default", "%q is not a bool (true or false)", cf.def)
				}
				cf.defBool = b
			}
			if cf.attr {
				if _, err := model.ParseValue(cf.vkind, cf.def); err != nil {
					fail(where+".default", "%v", err)
				}
			}
		}
		cr.fields[target] = cf
	}
	return cr, errs
}

// formatIssues renders CEL's errors as "line:column: message", one per error, for a status condition.
func formatIssues(iss *cel.Issues) string {
	var parts []string
	for _, e := range iss.Errors() {
		parts = append(parts, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
	}
	if len(parts) == 0 {
		return iss.String()
	}
	return strings.Join(parts, "; ")
}

func checkOutputType(t *cel.Type, want valueKind, attrString bool) string {
	if t == nil || t.Kind() == types.DynKind {
		return "" // checked at evaluation
	}
	switch want {
	case kindBool:
		if t.Kind() == types.BoolKind {
			return ""
		}
		if attrString && t.Kind() == types.StringKind {
			return ""
		}
		return fmt.Sprintf("expression returns %s, want bool", t)
	case kindInt:
		if t.Kind() == types.IntKind || t.Kind() == types.UintKind || t.Kind() == types.StringKind {
			return ""
		}
		return fmt.Sprintf("expression returns %s, want int or string", t)
	case kindDateTime:
		if t.Kind() == types.TimestampKind || t.Kind() == types.StringKind {
			return ""
		}
		return fmt.Sprintf("expression returns %s, want timestamp or string", t)
	case kindList:
		if t.Kind() == types.StringKind {
			return ""
		}
		if t.Kind() == types.ListKind {
			if p := t.Parameters(); len(p) == 1 && (p[0].Kind() == types.StringKind || p[0].Kind() == types.DynKind) {
				return ""
			}
		}
		return fmt.Sprintf("expression returns %s, want list(string) or string", t)
	default:
		if t.Kind() == types.StringKind {
			return ""
		}
		return fmt.Sprintf("expression returns %s, want string", t)
	}
}

// referencedTables lists the table names an expression selects from lookups with a constant name
// (lookups.x or lookups['x']).
func referencedTables(ast *cel.Ast) []string {
	var names []string
	isLookups := func(e celast.Expr) bool {
		return e.Kind() == celast.IdentKind && e.AsIdent() == "lookups"
	}
	visit := celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.SelectKind:
			if s := e.AsSelect(); isLookups(s.Operand()) {
				names = append(names, s.FieldName())
			}
		case celast.CallKind:
			c := e.AsCall()
			if c.FunctionName() == operators.Index && len(c.Args()) == 2 && isLookups(c.Args()[0]) &&
				c.Args()[1].Kind() == celast.LiteralKind {
				if s, ok := c.Args()[1].AsLiteral().(types.String); ok {
					names = append(names, string(s))
				}
			}
		}
	})
	celast.PreOrderVisit(celast.NavigateAST(ast.NativeRep()), visit)
	return names
}

func tableNames(tables map[string]*compiledLookup) string {
	if len(tables) == 0 {
		return "no tables"
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, strconv.Quote(n))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// validValues returns entries, or when a value is not valid UTF-8 a copy with valid values.
func validValues(entries map[string]string) map[string]string {
	for _, v := range entries {
		if !utf8.ValidString(v) {
			valid := make(map[string]string, len(entries))
			for k, v := range entries {
				valid[k] = validUTF8(v)
			}
			return valid
		}
	}
	return entries
}
