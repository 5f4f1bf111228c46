package mapping

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// boundedExprs run without cost tracking on records small enough; together they call every
// function of freeOverloads.
var boundedExprs = []string{
	"record.attrs.givenName + ' ' + record.attrs.sn",
	"record.groups",
	"'pilot' in record.groups && !('x' in record.attrs) || record.dn == 'a' || record.id != 'b'",
	"record.attrs.mail.lowerAscii().endsWith('b') ? record.attrs.mail.upperAscii() : record.attrs.sn.trim()",
	"record.attrs.mail.replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa')",
	"lookups.departments[record.attrs.dept] + record.values.mail[0]",
	"record.attrs.mail.matches('^a.*b$') && record.attrs.sn.contains('x')",
	"size(record.attrs) > 3 && record.attrs.size() < 9 && size(record.groups) >= 1 && record.groups.size() <= 4",
	"size(record.attrs.mail) > 2 && record.attrs.mail.size() < 20 && size(record.values.mail) > 0",
	"record.attrs.exists(k, k.startsWith('x'))",
	"record.groups.filter(g, g.startsWith('app-'))",
	"record.values.mail.map(m, m.upperAscii())",
	"record.id + record.dn + record.managerId",
	"size(record.attrs.sn) > 3 ? record.attrs.sn.substring(1, 3) : ''",
	"record.attrs.?givenName.orValue('') + ' ' + record.attrs.?sn.orValue('')",
	"['dept-' + record.attrs.?dept.orValue('none')] + record.groups.filter(g, g.startsWith('app-'))",
	"record.attrs.?mail.orValue(record.attrs.?sn.orValue('x')).lowerAscii()",
	"record.values.?mail.orValue(['a']).size() > 1",
}

func randomRecord(rng *rand.Rand) model.Record {
	str := func() string {
		// Mostly short, sometimes long, sometimes a's (which the replace above multiplies).
		n := rng.IntN(8)
		if rng.IntN(4) == 0 {
			n = rng.IntN(300)
		}
		c := "ab\u00e9x-"[rng.IntN(5)]
		return strings.Repeat(string(c), n)
	}
	list := func() []string {
		out := make([]string, rng.IntN(6))
		if rng.IntN(5) == 0 {
			out = make([]string, rng.IntN(200))
		}
		for i := range out {
			out[i] = str()
		}
		return out
	}
	r := model.Record{ID: str(), DN: str(), ManagerID: str(), Groups: list(), Attributes: map[string][]string{
		"givenName": {str()}, "sn": {str()}, "mail": append(list(), str()), "dept": {"10"},
	}}
	for range rng.IntN(4) {
		r.Attributes["x"+str()] = list()
	}
	if rng.IntN(3) == 0 {
		r.Attributes["bulk"] = list()
	}
	for _, name := range []string{"givenName", "sn", "dept", "mail"} {
		if rng.IntN(5) == 0 {
			delete(r.Attributes, name) // optional selections find nothing
		}
	}
	return r
}

// TestFreeBoundCoversActualCost: what lets an expression run without cost tracking is CEL's static
// estimate for records of up to recordSize; on random records that estimate is never below the cost
// the tracked evaluation actually counts, and both evaluations agree.
func TestFreeBoundCoversActualCost(t *testing.T) {
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	lookups := map[string]any{"departments": map[string]string{"10": "Research"}}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, expr := range boundedExprs {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		bound := freeBound(env, ast, 16)
		if bound == 0 {
			t.Errorf("%s: no bound", expr)
			continue
		}
		tracked, err := env.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptTrackCost))
		if err != nil {
			t.Fatal(err)
		}
		free, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for range 300 {
			rec := randomRecord(rng)
			act := &activation{lookups: lookups}
			act.reset(&rec)
			size := recordSize(&rec)
			v, det, err := tracked.Eval(act)
			fv, _, ferr := free.Eval(act)
			if (err == nil) != (ferr == nil) || (err == nil && v.Equal(fv) != types.True) {
				t.Fatalf("%s: tracked %v (%v), free %v (%v)", expr, v, err, fv, ferr)
			}
			if det == nil || det.ActualCost() == nil {
				t.Fatalf("%s: no actual cost", expr)
			}
			est, err := env.EstimateCost(ast, sizeEstimator{uint64(max(size, 1))})
			if err != nil {
				t.Fatal(err)
			}
			if actual := *det.ActualCost(); actual > est.Max {
				t.Fatalf("%s: record of size %d cost %d, estimated at most %d", expr, size, actual, est.Max)
			}
		}
	}
}

// TestFreeOverloadsAreChecked: every function allowed to run without cost tracking is called by an
// expression of TestFreeBoundCoversActualCost; list.join(), whose estimate is below its actual cost
// for long elements, is not allowed.
func TestFreeOverloadsAreChecked(t *testing.T) {
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	called := map[string]bool{}
	for _, expr := range boundedExprs {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		for _, ids := range ast.NativeRep().ReferenceMap() {
			for _, id := range ids.OverloadIDs {
				called[id] = true
			}
		}
	}
	for id := range freeOverloads {
		if !called[id] {
			t.Errorf("%s is allowed without cost tracking but no expression of the test calls it", id)
		}
	}
	ast, iss := env.Compile("record.values.mail.join(',')")
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	if b := freeBound(env, ast, 0); b != 0 {
		t.Errorf("join runs without cost tracking up to size %d", b)
	}
}

// TestCostLimitStillStopsRunawayExpressions: above its bound an expression runs with cost tracking,
// which stops it at CostLimit; below it, it runs free.
func TestCostLimitStillStopsRunawayExpressions(t *testing.T) {
	m := mustCompile(t, NamedRule{Name: "r", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{
		{Target: "userName", From: "uid"},
		exprField("displayName", "record.attrs.cn.replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa')"),
	}}})
	f := m.rules[0].fields[model.FieldDisplayName].program
	if f.free == nil || f.bound < 4 {
		t.Fatalf("no free program (bound %d)", f.bound)
	}
	small := m.Map(model.Record{ID: "1", Attributes: map[string][]string{"uid": {"ada"}, "cn": {"a"}}})
	if !small.Mapped() || len(small.User.DisplayName) != 1000 {
		t.Fatalf("small record: %+v", small)
	}
	big := m.Map(model.Record{ID: "2", Attributes: map[string][]string{"uid": {"bob"}, "cn": {strings.Repeat("a", 5000)}}})
	if big.Skip == nil || big.Skip.Reason != model.ReasonExpressionError || !strings.Contains(big.Skip.Message, "cost") {
		t.Fatalf("runaway expression: %+v", big)
	}
}
