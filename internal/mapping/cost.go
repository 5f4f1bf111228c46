package mapping

import (
	"context"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types/ref"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// program is a compiled expression. CEL's runtime cost tracking, which stops a runaway expression
// at CostLimit, observes every step and costs more than evaluating a simple expression itself. So
// the expression also runs without it — free — on records small enough that CEL's static cost
// estimate proves it stays within the limit.
type program struct {
	tracked cel.Program // with CostLimit
	// free has no cost tracking; nil when no record size bounds the expression's cost.
	free cel.Program
	// bound is the largest recordSize for which free may run.
	bound int
	// direct, when set, runs instead of free (see directExpr).
	direct *directExpr
}

// freeFor reports whether p may run without cost tracking for the record of act.
func (p *program) freeFor(act *activation) bool {
	if p.free == nil {
		return false
	}
	if act.size < 0 {
		act.size = recordSize(act.record.r)
	}
	return act.size <= p.bound
}

// costMargin divides CostLimit for the static proof: the estimate must stay well below the limit.
const costMargin = 10

// Record sizes tried for the static bound, largest first: a string of up to that many bytes, a list
// or map of up to that many entries.
const (
	maxSizeBound = 1 << 20
	minSizeBound = 1 << 6
)

// sizeEstimator bounds the size of every string, list and map an expression reads from its
// variables (the record and the rule's lookup tables) by one number.
type sizeEstimator struct{ size uint64 }

func (e sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if readsVariable(n) {
		return &checker.SizeEstimate{Min: 0, Max: e.size}
	}
	return nil // computed by CEL, or unknown (unbounded)
}

func readsVariable(n checker.AstNode) bool {
	p := n.Path()
	return len(p) > 0 && (p[0] == "record" || p[0] == "lookups")
}

// EstimateCallCost estimates the optional field selection and orValue, which CEL leaves unknown:
// one unit each at run time, and a value the size of the field or of the alternative.
func (e sizeEstimator) EstimateCallCost(_, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	one := checker.CostEstimate{Min: 0, Max: 1}
	switch overloadID {
	case "select_optional_field": // record.attrs.?name
		if len(args) == 2 && readsVariable(args[0]) {
			return &checker.CallEstimate{CostEstimate: one, ResultSize: &checker.SizeEstimate{Min: 0, Max: e.size}}
		}
	case "optional_orValue_value": // opt.orValue(alternative)
		if target == nil || len(args) != 1 {
			return nil
		}
		a, b := (*target).ComputedSize(), args[0].ComputedSize()
		if a == nil || b == nil {
			return nil
		}
		return &checker.CallEstimate{CostEstimate: one, ResultSize: &checker.SizeEstimate{Min: 0, Max: max(a.Max, b.Max)}}
	}
	return nil // CEL's own estimates
}

// freeOverloads are the functions an expression may call to run without cost tracking: those whose
// static cost estimate was checked against the cost counted at run time (TestFreeBoundCoversActualCost
// calls each). CEL's estimate is not an upper bound for every function: list.join() estimates its
// result from the list's length alone, while its cost counts the joined string.
var freeOverloads = map[string]bool{
	"add_string": true, "add_list": true, "in_list": true, "in_map": true, "index_map": true, "index_list": true,
	"equals": true, "not_equals": true, "logical_and": true, "logical_or": true, "logical_not": true,
	"not_strictly_false": true, "conditional": true, "size_string": true, "string_size": true, "size_list": true,
	"list_size": true, "size_map": true, "map_size": true, "less_int64": true, "greater_int64": true,
	"less_equals_int64": true, "greater_equals_int64": true, "starts_with_string": true, "ends_with_string": true,
	"contains_string": true, "string_lower_ascii": true, "string_upper_ascii": true, "matches_string": true,
	"string_replace_string_string": true, "string_trim": true, "string_substring_int_int": true,
	"select_optional_field": true, "optional_orValue_value": true,
}

// callsOnlyFreeOverloads reports whether every call of the checked expression is in freeOverloads.
func callsOnlyFreeOverloads(ast *cel.Ast) bool {
	native := ast.NativeRep()
	ok := true
	celast.PreOrderVisit(celast.NavigateAST(native), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		ids := native.GetOverloadIDs(e.ID())
		if len(ids) == 0 {
			ok = false
		}
		for _, id := range ids {
			ok = ok && freeOverloads[id]
		}
	}))
	return ok
}

// freeBound returns the largest record size (see recordSize), at least minSize, up to which the
// expression's estimated cost stays within CostLimit/costMargin, or 0 when there is none.
func freeBound(env *cel.Env, ast *cel.Ast, minSize int) int {
	if !callsOnlyFreeOverloads(ast) {
		return 0
	}
	for size := maxSizeBound; size >= minSizeBound && size >= minSize; size /= 2 {
		est, err := env.EstimateCost(ast, sizeEstimator{uint64(size)})
		if err == nil && est.Max <= CostLimit/costMargin {
			return size
		}
	}
	return 0
}

// lookupsSize is the size of the lookups variable in recordSize's terms: tables, entries per
// table, and the length of each key and value.
func lookupsSize(tables map[string]*compiledLookup) int {
	n := len(tables)
	for _, t := range tables {
		n = max(n, len(t.entries))
		for k, v := range t.entries {
			n = max(n, len(k), len(v))
		}
	}
	return n
}

// recordSize is the largest size of anything an expression can read from the record: the length in
// bytes of a string (at least its length in characters, which CEL counts), the number of entries
// of a list or map.
func recordSize(r *model.Record) int {
	n := max(len(r.ID), len(r.DN), len(r.ManagerID), len(r.Groups), len(r.Attributes))
	for _, g := range r.Groups {
		n = max(n, len(g))
	}
	for k, vals := range r.Attributes {
		n = max(n, len(k), len(vals))
		for _, v := range vals {
			n = max(n, len(v))
		}
	}
	return n
}

// eval evaluates p for the record of act: without cost tracking when the record is within p's
// bound, with it otherwise.
func eval(ctx context.Context, p *program, act *activation) (ref.Val, error) {
	prg := p.tracked
	if p.freeFor(act) {
		prg = p.free
	}
	var (
		v   ref.Val
		err error
	)
	if ctx.Done() == nil {
		v, _, err = prg.Eval(act)
	} else {
		v, _, err = prg.ContextEval(ctx, act)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
