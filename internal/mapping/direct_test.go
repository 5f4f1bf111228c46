package mapping

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// TestDirectMatchesCEL: the expressions evaluated without the interpreter give CEL's value, or
// CEL's error, on random records: missing, empty and multi-valued attributes, names differing in
// case, invalid UTF-8.
func TestDirectMatchesCEL(t *testing.T) {
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string]valueKind{
		"record.attrs.givenName + ' ' + record.attrs.sn": kindString,
		"record.attrs.SN":                        kindString,
		"'x-' + (record.attrs.mail + '@') + 'y'": kindString,
		"record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + record.attrs.a + record.attrs.b + '!'": kindString,
		"record.groups": kindList,
		"record.attrs.?givenName.orValue('') + ' ' + record.attrs.?sn.orValue('-')": kindString,
		"record.attrs.?mail.orValue('none')":                                        kindString,
	}
	rng := rand.New(rand.NewPCG(5, 6))
	vals := []string{"", "Ada", "b\xffc", "Zoë"}
	for expr, kind := range exprs {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		d := directOf(ast, kind)
		if d == nil {
			t.Fatalf("%s has no direct form", expr)
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for range 500 {
			rec := model.Record{ID: "1", Attributes: map[string][]string{}}
			for _, name := range []string{"givenName", "sn", "mail", "a", "b", "GIVENNAME", "Sn"} {
				switch rng.IntN(4) {
				case 0: // absent
				case 1:
					rec.Attributes[name] = nil
				default:
					n := 1 + rng.IntN(2)
					for range n {
						rec.Attributes[name] = append(rec.Attributes[name], vals[rng.IntN(len(vals))])
					}
				}
			}
			for range rng.IntN(3) {
				rec.Groups = append(rec.Groups, vals[rng.IntN(len(vals))])
			}
			act := &activation{}
			act.reset(&rec)
			v, _, cerr := prg.Eval(act)
			var want []string
			if cerr == nil {
				want, cerr = toStrings(v, kind, nil)
			}
			got, ok, derr := d.eval(&rec, nil, 1<<20)
			if !ok {
				t.Fatalf("%s declined %q", expr, rec.Attributes)
			}
			if (cerr == nil) != (derr == nil) || (cerr != nil && cerr.Error() != derr.Error()) {
				t.Fatalf("%s on %q: CEL error %v, direct error %v", expr, rec.Attributes, cerr, derr)
			}
			if cerr == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s on %q %q: CEL %q, direct %q", expr, rec.Attributes, rec.Groups, want, got)
			}
		}
	}
	for expr, kind := range map[string]valueKind{
		"record.attrs.?givenName.orValue(record.id)":   kindString,
		"{'a': 'b'}.?a.orValue('')":                    kindString,
		"record.attrs.mail.lowerAscii()":               kindString,
		"record.attrs['mail']":                         kindString,
		"record.groups.filter(g, g.startsWith('app'))": kindList,
		"'a' + 'b'":                   kindString,
		"record.id + record.attrs.sn": kindString,
		"[record.attrs.sn]":           kindList,
	} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		if directOf(ast, kind) != nil {
			t.Errorf("%s has a direct form", expr)
		}
	}
}

// TestDirectRunsOnlyWithinTheCostBound: a concatenation reading a value beyond the expression's
// cost bound is evaluated by CEL with cost tracking, as without the direct form.
func TestDirectRunsOnlyWithinTheCostBound(t *testing.T) {
	m := mustCompile(t, baseRule())
	f := m.rules[0].fields[model.FieldDisplayName].program
	if f.direct == nil || f.free == nil {
		t.Fatalf("the display name has no direct form")
	}
	rec := alice()
	rec.Attributes["photo"] = []string{strings.Repeat("x", f.bound+1)} // not read by the expression
	if got, ok, err := f.direct.eval(&rec, nil, f.bound); !ok || err != nil || got[0] != "Alice Smith" {
		t.Errorf("a small value: %q, %v, %v", got, ok, err)
	}
	long := strings.Repeat("x", f.bound+1)
	rec.Attributes["givenName"] = []string{long}
	if _, ok, _ := f.direct.eval(&rec, nil, f.bound); ok {
		t.Errorf("a value of %d bytes is within the bound %d", len(long), f.bound)
	}
	if r := m.Map(rec); !r.Mapped() || r.User.DisplayName != long+" Smith" {
		t.Errorf("long given name: %+v", r.Skip)
	}
}
