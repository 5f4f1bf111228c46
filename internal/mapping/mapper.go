package mapping

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
)

// Result is the outcome of mapping one record: exactly one of a User (Skip == nil and !OutOfScope),
// a Skip problem, or OutOfScope (no rule's scope matched; not a problem, the record is just not synced).
type Result struct {
	User model.User
	// Skip says why the record could not be mapped; its ID is the record's id when it has one.
	Skip       *model.Problem
	OutOfScope bool
	// Disabled is set with OutOfScope when a rule selects the record but excludes it because the
	// directory disables the account (includeDisabled false): it is disabled, not out of scope.
	Disabled bool
}

// Mapped reports whether the result carries a user.
func (r Result) Mapped() bool { return r.Skip == nil && !r.OutOfScope }

// candidate is one rule's mapping of a field.
type candidate struct {
	rule  int // index into Mapper.rules
	field *compiledField
}

// fieldPlan lists the rules mapping one target field, highest priority first.
type fieldPlan struct {
	target     string
	candidates []candidate
}

// Mapper applies a SyncTarget's compiled rules to records. It is safe for concurrent use.
type Mapper struct {
	rules      []*compiledRule // by priority desc, then name
	plans      []fieldPlan     // userName first, so later problems can name the user
	managed    []string
	createOnly []string
	// marked makes ExternalID the record id under marker (see WithMarker).
	marked bool
	marker string
}

// targetOrder is the order fields are evaluated in.
var targetOrder = append(slices.Clone(model.StringFields), model.FieldActive, model.FieldGroups)

func newMapper(compiled []*compiledRule) (*Mapper, error) {
	rules := slices.Clone(compiled)
	slices.SortStableFunc(rules, func(a, b *compiledRule) int {
		if a.priority != b.priority {
			return cmp.Compare(b.priority, a.priority)
		}
		return strings.Compare(a.name, b.name)
	})
	m := &Mapper{rules: rules}
	// Named fields first, then attribute paths in sorted order.
	order := slices.Clone(targetOrder)
	var paths []string
	for _, r := range rules {
		for name, f := range r.fields {
			if f.attr && !slices.Contains(paths, name) {
				paths = append(paths, name)
			}
		}
	}
	slices.Sort(paths)
	order = append(order, paths...)
	for _, target := range order {
		plan := fieldPlan{target: target}
		for i, r := range rules {
			if f := r.fields[target]; f != nil {
				plan.candidates = append(plan.candidates, candidate{rule: i, field: f})
			}
		}
		if len(plan.candidates) > 0 {
			m.plans = append(m.plans, plan)
			m.managed = append(m.managed, target)
			createOnly := plan.candidates[0].field.createOnly
			for _, c := range plan.candidates[1:] {
				if c.field.createOnly != createOnly {
					return nil, &CompileError{Rule: rules[c.rule].name, Field: fmt.Sprintf("fields[%s].applyOn", target),
						Message: fmt.Sprintf("rules %q and %q disagree on applyOn for %s; set the same on both",
							rules[plan.candidates[0].rule].name, rules[c.rule].name, target)}
				}
			}
			if createOnly {
				m.createOnly = append(m.createOnly, target)
			}
		}
	}
	if len(m.plans) == 0 || m.plans[0].target != model.FieldUserName {
		return nil, &CompileError{Field: "fields[userName]", Message: "no rule maps userName, which every user needs"}
	}
	return m, nil
}

// ManagedFields returns the model.Field* names the rules map, in a fixed order. The planner only
// patches these. active is included only when a rule maps it explicitly.
func (m *Mapper) ManagedFields() []string { return slices.Clone(m.managed) }

// CreateOnlyFields returns the managed fields whose rules say applyOn: Create: they are written
// when a user is created and never updated.
func (m *Mapper) CreateOnlyFields() []string { return slices.Clone(m.createOnly) }

// RulesFor returns the names of the rules mapping a managed field, highest priority first.
func (m *Mapper) RulesFor(field string) []string {
	var out []string
	for _, p := range m.plans {
		if p.target == field {
			for _, c := range p.candidates {
				out = append(out, m.rules[c.rule].name)
			}
		}
	}
	return out
}

// AttributePaths returns the managed attribute paths beyond the named fields (see
// model.ResolveTarget), sorted.
func (m *Mapper) AttributePaths() []string {
	var out []string
	for _, p := range m.plans {
		if p.candidates[0].field.attr {
			out = append(out, p.target)
		}
	}
	return out
}

// activation resolves the expression variables; one per goroutine, reused across records.
type activation struct {
	record  recordVal
	lookups map[string]any
	// lookupsOf is the rule whose lookups are set: a pointer written only when the rule changes,
	// not once per field (a write barrier each while the GC runs).
	lookupsOf *compiledRule
	// size is recordSize of the record, -1 until an expression needs it.
	size int
}

// use sets the lookups variable to rule r's tables.
func (a *activation) use(r *compiledRule) {
	if a.lookupsOf != r {
		a.lookupsOf, a.lookups = r, r.lookupsVar
	}
}

// reset makes act the activation of rec.
func (a *activation) reset(rec *model.Record) {
	a.record, a.size = recordVal{rec}, -1
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "record":
		return a.record, true
	case "lookups":
		return a.lookups, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Map maps one record.
func (m *Mapper) Map(rec model.Record) Result {
	var res Result
	switch o, p := m.mapRecord(context.Background(), &rec, &activation{}, &res.User); o {
	case outSkipped:
		res.Skip = p
	case outDisabled:
		res.OutOfScope, res.Disabled = true, true
	case outOutOfScope:
		res.OutOfScope = true
	}
	return res
}

// WithMarker returns a Mapper that gives the users it maps the externalId plan.UserExternalID(marker,
// record id), the form targets hold, instead of the record's id.
func (m *Mapper) WithMarker(marker string) *Mapper {
	c := *m
	c.marked, c.marker = true, marker
	return &c
}

func (m *Mapper) externalID(id string) string { return plan.UserExternalID(m.marker, id) }

// MapAll maps records in parallel and returns the users and problems in record order, and the number
// of records out of scope.
func (m *Mapper) MapAll(records []model.Record) (users []model.User, problems []model.Problem, outOfScope int) {
	users, problems, outOfScope, _ = m.MapAllContext(context.Background(), records)
	return users, problems, outOfScope
}

// MapAllContext is MapAll that stops early, returning ctx's error, when ctx is done.
func (m *Mapper) MapAllContext(ctx context.Context, records []model.Record) (users []model.User, problems []model.Problem, outOfScope int, err error) {
	out, err := m.MapRecords(ctx, records)
	if err != nil {
		return nil, nil, 0, err
	}
	return out.Users, out.Problems, len(out.OutOfScope) + len(out.Disabled), nil
}

// Outcome is the mapping of a whole snapshot. Every record with an id is in exactly one of Users,
// Problems (with Problem.ID set), OutOfScope or Disabled, so that a record present in the directory
// is never mistaken for one that is absent.
type Outcome struct {
	Users []model.User
	// Problems lists the records that could not be mapped, in record order.
	Problems []model.Problem
	// OutOfScope lists the ids of records that no rule's scope selects, in record order.
	OutOfScope []string
	// Disabled lists the ids of disabled records that the rules selecting them exclude.
	Disabled []string
}

// mapChunk is how many records a worker takes at a time.
const mapChunk = 512

// MapRecords maps records in parallel, in record order; it stops early, returning ctx's error, when
// ctx is done.
func (m *Mapper) MapRecords(ctx context.Context, records []model.Record) (Outcome, error) {
	// Users are mapped straight into their record's slot and the holes closed afterwards: at a
	// million records, per-chunk slices concatenated at the end would hold every user twice.
	users := make([]model.User, len(records))
	mapped := make([]bool, len(records))
	chunks := make([]Outcome, (len(records)+mapChunk-1)/mapChunk) // problems, out of scope, disabled
	var next atomic.Int64
	work := func() {
		act := &activation{}
		for {
			c := int(next.Add(1) - 1)
			if c >= len(chunks) || ctx.Err() != nil {
				return
			}
			out := &chunks[c]
			end := min((c+1)*mapChunk, len(records))
			for i := c * mapChunk; i < end; i++ {
				switch o, p := m.mapRecord(ctx, &records[i], act, &users[i]); o {
				case outDisabled:
					out.Disabled = append(out.Disabled, records[i].ID)
				case outOutOfScope:
					out.OutOfScope = append(out.OutOfScope, records[i].ID)
				case outSkipped:
					out.Problems = append(out.Problems, *p)
				default:
					mapped[i] = true
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	n := 0
	for i := range users {
		if mapped[i] {
			users[n] = users[i]
			n++
		}
	}
	clear(users[n:])
	total := Outcome{Users: users[:n]}
	if n < len(users)/2 {
		total.Users = slices.Clone(total.Users) // most records out of scope: do not keep the slack
	}
	nProblems := 0
	for _, c := range chunks {
		nProblems += len(c.Problems)
	}
	total.Problems = make([]model.Problem, 0, nProblems)
	for _, c := range chunks {
		total.Problems = append(total.Problems, c.Problems...)
		total.OutOfScope = append(total.OutOfScope, c.OutOfScope...)
		total.Disabled = append(total.Disabled, c.Disabled...)
	}
	return total, nil
}

// maxRules is how many rules fit the scope bitmap kept on the stack; more fall back to the heap.
const maxRules = 64

// outcome is what became of one record.
type outcome uint8

const (
	outMapped outcome = iota
	outSkipped
	outOutOfScope
	outDisabled
)

// mapRecord maps rec into *u, which must be the zero User, or returns why it could not.
func (m *Mapper) mapRecord(ctx context.Context, rec *model.Record, act *activation, u *model.User) (outcome, *model.Problem) {
	if rec.ID == "" {
		subject := rec.DN
		if subject == "" {
			subject = "(record without id)"
		}
		return skip(subject, "", model.ReasonMissingID, "record has no id")
	}
	act.reset(rec)

	var inScopeBuf [maxRules]bool
	inScope := inScopeBuf[:0]
	if len(m.rules) > maxRules {
		inScope = make([]bool, 0, len(m.rules))
	}
	anyInScope := false
	for _, r := range m.rules {
		in := true
		if r.scope != nil {
			act.use(r)
			v, err := eval(ctx, r.scope, act)
			if err != nil {
				return skip(rec.ID, rec.ID, model.ReasonExpressionError, fmt.Sprintf("rule %q scope: %s", r.name, evalMessage(err, rec)))
			}
			b, ok := v.(types.Bool)
			if !ok {
				return skip(rec.ID, rec.ID, model.ReasonExpressionError, fmt.Sprintf("rule %q scope: returned %s, want bool", r.name, v.Type().TypeName()))
			}
			in = bool(b)
		}
		if in && rec.Disabled && !r.includeDisabled {
			// The rule treats disabled accounts as absent from the directory.
			return outDisabled, nil
		}
		inScope = append(inScope, in)
		anyInScope = anyInScope || in
	}
	if !anyInScope {
		return outOutOfScope, nil
	}

	u.ExternalID, u.Active = rec.ID, !rec.Disabled
	if m.marked {
		u.ExternalID = m.externalID(rec.ID)
	}
	subject := rec.ID
	userNameMapped := false
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
		r := m.rules[c.rule]
		act.use(r)
		if p := m.applyField(ctx, u, rec, r, c.field, act, subject); p != nil {
			p.ID = rec.ID
			*u = model.User{}
			return outSkipped, p
		}
		if plan.target == model.FieldUserName {
			userNameMapped = true
			subject = u.UserName
		}
	}
	if !userNameMapped {
		*u = model.User{}
		return skip(rec.ID, rec.ID, model.ReasonMissingField, "no rule in scope maps userName")
	}
	return outMapped, nil
}

func skip(subject, id string, reason model.ProblemReason, msg string) (outcome, *model.Problem) {
	return outSkipped, &model.Problem{Subject: subject, ID: id, Reason: reason, Message: msg}
}

// emptyWhy explains an empty value in MissingField messages; the text is only built for a problem.
type emptyWhy struct {
	kind uint8 // one of the why* constants
	attr string
}

const (
	whyNoValue uint8 = iota
	whyAttrMissing
	whyAttrEmpty
	whyExprEmpty
)

func (w emptyWhy) String() string {
	switch w.kind {
	case whyAttrMissing:
		return fmt.Sprintf("attribute %s missing", w.attr)
	case whyAttrEmpty:
		return fmt.Sprintf("attribute %s is empty", w.attr)
	case whyExprEmpty:
		return "expression returned an empty value"
	}
	return "no value"
}

// applyField computes one field into u, or returns the problem that skips the record.
func (m *Mapper) applyField(ctx context.Context, u *model.User, rec *model.Record, r *compiledRule, f *compiledField, act *activation, subject string) *model.Problem {
	problem := func(reason model.ProblemReason, format string, args ...any) *model.Problem {
		return &model.Problem{Subject: subject, Reason: reason,
			Message: fmt.Sprintf("rule %q field %s: ", r.name, f.target) + fmt.Sprintf(format, args...)}
	}
	why := emptyWhy{}

	var values []string // the raw value(s); empty or one element for single-valued fields
	var single [1]string
	// owned is set when values are the field's own constants (a lookup's values, the default),
	// checked to be valid UTF-8 when the rule was compiled.
	owned := false
	switch {
	case f.from != "":
		vals, ok := findAttr(rec.Attributes, f.from)
		switch {
		case !ok:
			why = emptyWhy{whyAttrMissing, f.from}
		case f.kind == kindList:
			values = vals
		default:
			single[0] = vals[0]
			values = single[:]
			why = emptyWhy{whyAttrEmpty, f.from}
		}
	case f.program != nil:
		if d := f.program.direct; d != nil {
			vals, ok, err := d.eval(rec, single[:0], f.program.bound)
			if err != nil {
				return problem(model.ReasonExpressionError, "expression failed: %s", evalMessage(err, rec))
			}
			if ok {
				values, why = vals, emptyWhy{kind: whyExprEmpty}
				break
			}
		}
		v, err := eval(ctx, f.program, act)
		if err != nil {
			return problem(model.ReasonExpressionError, "expression failed: %s", evalMessage(err, rec))
		}
		why = emptyWhy{kind: whyExprEmpty}
		values, err = toStrings(v, f.kind, single[:0])
		if err != nil {
			return problem(model.ReasonExpressionError, "%v", err)
		}
	}

	if f.lookup != nil && len(values) > 0 {
		var translated []string
		if f.kind == kindList {
			translated = make([]string, 0, len(values))
		} else {
			translated = single[:0]
		}
		for _, key := range values {
			if key == "" {
				continue
			}
			v, ok := f.lookup.valid[key]
			if !ok {
				if !f.lookup.hasDefault {
					// The key is the person's data (perhaps from a fetched HR document): not quoted.
					return problem(model.ReasonUnknownLookupKey, "%s is not a key of lookup %s", lookupInput(f), f.lookup.name)
				}
				v = f.lookup.def
			}
			translated = append(translated, v)
		}
		values, owned = translated, true
	}
	if allEmpty(values) && f.hasDef {
		single[0] = f.def
		values, owned = single[:], true
	}
	if allEmpty(values) {
		if f.required || f.target == model.FieldUserName {
			return problem(model.ReasonMissingField, "required value is empty (%s)", why)
		}
		values = nil
	}

	if f.attr {
		var v model.Value
		if f.vkind == model.KindStrings {
			// StringsValue copies: values may be the record's own slice, which is not the mapper's to change.
			valid := make([]string, len(values))
			for i := range values {
				valid[i] = validUTF8(values[i])
			}
			v = model.StringsValue(valid)
		} else if len(values) > 0 {
			var err error
			if v, err = model.ParseValue(f.vkind, validUTF8(values[0])); err != nil {
				return problem(model.ReasonExpressionError, "%v", err)
			}
		}
		if !v.IsEmpty() {
			u.SetAttr(f.target, v)
		}
		return nil
	}
	switch f.kind {
	case kindBool:
		if len(values) == 0 {
			return nil // keeps the default, !rec.Disabled
		}
		b, err := strconv.ParseBool(strings.TrimSpace(values[0]))
		if err != nil {
			return problem(model.ReasonExpressionError, "the value is not a bool (true or false)") // not quoted: it is the person's data
		}
		u.Active = b
	case kindList:
		u.Groups = normalizeGroups(values)
	default:
		if len(values) > 0 {
			v := values[0]
			if !owned {
				v = validUTF8(v)
			}
			*stringField(u, f.slot) = v
		}
	}
	return nil
}

// toStrings converts an expression result to the field's string form: bools become "true"/"false" (so
// that lookups and defaults work uniformly), lists are only accepted for groups.
func toStrings(v ref.Val, kind valueKind, buf []string) ([]string, error) {
	switch v := v.(type) {
	case types.String:
		return append(buf, string(v)), nil
	case types.Bool:
		if kind == kindBool {
			return append(buf, strconv.FormatBool(bool(v))), nil
		}
	case types.Int:
		if kind == kindInt {
			return append(buf, strconv.FormatInt(int64(v), 10)), nil
		}
	case types.Uint:
		if kind == kindInt {
			return append(buf, strconv.FormatUint(uint64(v), 10)), nil
		}
	case types.Timestamp:
		if kind == kindDateTime {
			return append(buf, v.Time.UTC().Format(time.RFC3339Nano)), nil
		}
	case types.Null:
		return buf, nil
	case traits.Lister:
		if kind != kindList {
			break
		}
		if native, ok := v.Value().([]string); ok {
			return native, nil // e.g. record.groups: read only, callers copy what they keep
		}
		n, _ := v.Size().(types.Int)
		out := make([]string, 0, int(n))
		for it := v.Iterator(); it.HasNext() == types.True; {
			e := it.Next()
			s, ok := e.(types.String)
			if !ok {
				return nil, fmt.Errorf("list element is %s, want string", e.Type().TypeName())
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	want := map[valueKind]string{kindString: "string", kindBool: "bool", kindList: "list(string) or string",
		kindInt: "int", kindDateTime: "timestamp or string"}[kind]
	return nil, fmt.Errorf("expression returned %s, want %s", v.Type().TypeName(), want)
}

func allEmpty(values []string) bool {
	for _, v := range values {
		if v != "" {
			return false
		}
	}
	return true
}

// normalizeGroups returns the non-empty group names, valid UTF-8, sorted and deduplicated.
func normalizeGroups(values []string) []string {
	if len(values) == 0 {
		return nil
	}
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" {
			out = append(out, validUTF8(v))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// validUTF8 replaces invalid UTF-8 so the value survives a JSON round trip unchanged.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// stringField returns the named string field of u with index slot in model.StringFields: an index
// resolved when the rule was compiled is cheaper per record than the field's name.
func stringField(u *model.User, slot int) *string {
	switch slot {
	case 0:
		return &u.UserName
	case 1:
		return &u.DisplayName
	case 2:
		return &u.GivenName
	case 3:
		return &u.FamilyName
	case 4:
		return &u.Email
	case 5:
		return &u.PhoneNumber
	case 6:
		return &u.Title
	case 7:
		return &u.Department
	case 8:
		return &u.EmployeeNumber
	case 9:
		return &u.Manager
	case 10:
		return &u.Role
	}
	panic(fmt.Sprintf("mapping: no string field %d", slot))
}
