package mapping

import (
	"errors"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// directExpr evaluates two common shapes of expression without the CEL interpreter, with CEL's
// result and errors: record.groups, and a concatenation of string literals and record.attrs.<name>
// (e.g. record.attrs.givenName + ' ' + record.attrs.sn), which CEL builds one allocation per +
// and a boxed value per operand for. It runs where the expression's cost bound holds (see program):
// CEL's cost of these shapes depends only on the values they read.
type directExpr struct {
	groups bool
	parts  []directPart // the concatenation, when !groups
}

// directPart is a literal or, when attr is set, the first value of that record attribute; when
// optional is set too, def stands in for a missing attribute (record.attrs.?name.orValue(def)).
type directPart struct {
	text     string
	attr     bool
	optional bool
	def      string
}

// optionalAttr recognises record.attrs.?name.orValue('literal').
func optionalAttr(native *celast.AST, e celast.Expr) (name, def string, ok bool) {
	call := e.AsCall()
	if call.FunctionName() != "orValue" || !call.IsMemberFunction() || len(call.Args()) != 1 ||
		!onlyOverload(native, e, "optional_orValue_value") || call.Args()[0].Kind() != celast.LiteralKind {
		return "", "", false
	}
	d, isString := call.Args()[0].AsLiteral().(types.String)
	sel := call.Target()
	if !isString || sel.Kind() != celast.CallKind || !onlyOverload(native, sel, "select_optional_field") {
		return "", "", false
	}
	args := sel.AsCall().Args()
	if len(args) != 2 || !isRecordField(args[0], "attrs") || args[1].Kind() != celast.LiteralKind {
		return "", "", false
	}
	n, isString := args[1].AsLiteral().(types.String)
	return string(n), string(d), isString
}

func onlyOverload(native *celast.AST, e celast.Expr, id string) bool {
	ids := native.GetOverloadIDs(e.ID())
	return len(ids) == 1 && ids[0] == id
}

// directOf returns the direct form of a checked expression of a field of kind, or nil when it has
// another shape.
func directOf(ast *cel.Ast, kind valueKind) *directExpr {
	native := ast.NativeRep()
	e := native.Expr()
	if isRecordField(e, "groups") && kind == kindList {
		return &directExpr{groups: true}
	}
	var parts []directPart
	var walk func(e celast.Expr) bool
	walk = func(e celast.Expr) bool {
		switch e.Kind() {
		case celast.LiteralKind:
			s, ok := e.AsLiteral().(types.String)
			parts = append(parts, directPart{text: string(s)})
			return ok
		case celast.SelectKind:
			sel := e.AsSelect()
			parts = append(parts, directPart{text: sel.FieldName(), attr: true})
			return !sel.IsTestOnly() && isRecordField(sel.Operand(), "attrs")
		case celast.CallKind:
			call := e.AsCall()
			if name, def, ok := optionalAttr(native, e); ok {
				parts = append(parts, directPart{text: name, attr: true, optional: true, def: def})
				return true
			}
			ids := native.GetOverloadIDs(e.ID())
			return call.FunctionName() == "_+_" && !call.IsMemberFunction() && len(call.Args()) == 2 &&
				len(ids) == 1 && ids[0] == "add_string" && walk(call.Args()[0]) && walk(call.Args()[1])
		}
		return false
	}
	if !walk(e) || !slicesContainsAttr(parts) {
		return nil
	}
	return &directExpr{parts: parts}
}

// isRecordField reports whether e is record.<field>.
func isRecordField(e celast.Expr, field string) bool {
	if e.Kind() != celast.SelectKind {
		return false
	}
	sel := e.AsSelect()
	op := sel.Operand()
	return !sel.IsTestOnly() && sel.FieldName() == field && op.Kind() == celast.IdentKind && op.AsIdent() == "record"
}

func slicesContainsAttr(parts []directPart) bool {
	for _, p := range parts {
		if p.attr {
			return true
		}
	}
	return false
}

// directMaxParts is how many parts a concatenation evaluates without allocating for them.
const directMaxParts = 16

// eval appends the expression's value to buf, or returns CEL's error (a missing attribute is "no
// such key"). It declines (ok false) a concatenation of a value longer than bound, the expression's
// cost bound: CEL then evaluates it with cost tracking. record.groups costs CEL the same whatever
// the record.
func (d *directExpr) eval(rec *model.Record, buf []string, bound int) (values []string, ok bool, err error) {
	if d.groups {
		return rec.Groups, true, nil // read only: callers copy what they keep
	}
	var stack [directMaxParts]string
	vals := stack[:0]
	if len(d.parts) > directMaxParts {
		vals = make([]string, 0, len(d.parts))
	}
	size := 0
	for _, p := range d.parts {
		v := p.text
		if p.attr {
			found, ok := findAttr(rec.Attributes, p.text)
			switch {
			case ok:
				v = found[0]
				if len(v) > bound {
					return nil, false, nil
				}
			case p.optional:
				v = p.def
			default:
				return nil, true, errors.New("no such key: " + p.text) // CEL's words
			}
		}
		vals = append(vals, v)
		size += len(v)
	}
	if len(vals) == 1 {
		return append(buf, vals[0]), true, nil
	}
	var b strings.Builder
	b.Grow(size)
	for _, v := range vals {
		b.WriteString(v)
	}
	return append(buf, b.String()), true, nil
}
