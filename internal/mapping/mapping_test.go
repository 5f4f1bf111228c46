package mapping

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func ptr[T any](v T) *T { return &v }

func field(target, from string) v1alpha1.FieldMapping {
	return v1alpha1.FieldMapping{Target: v1alpha1.TargetField(target), From: from}
}

func exprField(target, expr string) v1alpha1.FieldMapping {
	return v1alpha1.FieldMapping{Target: v1alpha1.TargetField(target), Expression: expr}
}

// baseRule is the product example: attributes, a department lookup, a default role.
func baseRule() NamedRule {
	return NamedRule{Name: "base", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
		Fields: []v1alpha1.FieldMapping{
			field("userName", "sAMAccountName"),
			{Target: "email", From: "mail", Required: true},
			field("phoneNumber", "telephoneNumber"),
			{Target: "department", From: "departmentNumber", Lookup: "departments"},
			{Target: "role", Default: ptr("Member")},
			exprField("displayName", "record.attrs.givenName + ' ' + record.attrs.sn"),
		},
		Lookups: []v1alpha1.LookupTable{{Name: "departments", Entries: map[string]string{"102": "Supply Chain", "200": "Finance"}}},
	}}
}

func person(id string, attrs map[string]string, groups ...string) model.Record {
	r := model.Record{ID: id, Attributes: map[string][]string{}, Groups: groups}
	for k, v := range attrs {
		r.Attributes[k] = []string{v}
	}
	return r
}

func alice() model.Record {
	return person("guid-alice", map[string]string{
		"sAMAccountName": "alice", "mail": "alice@example.com", "telephoneNumber": "+49 30 1234-56",
		"departmentNumber": "102", "givenName": "Alice", "sn": "Smith",
	}, "pilot", "app-crm", "staff")
}

func mustCompile(t testing.TB, rules ...NamedRule) *Mapper {
	t.Helper()
	m, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func TestMapProductExamples(t *testing.T) {
	m := mustCompile(t, baseRule())
	res := m.Map(alice())
	if !res.Mapped() {
		t.Fatalf("not mapped: %+v", res)
	}
	want := model.User{
		ExternalID: "guid-alice", UserName: "alice", Email: "alice@example.com", PhoneNumber: "+49 30 1234-56",
		Department: "Supply Chain", Role: "Member", DisplayName: "Alice Smith", Active: true,
	}
	if !equalUser(res.User, want) {
		t.Errorf("got  %+v\nwant %+v", res.User, want)
	}
	if got, want := m.ManagedFields(), []string{"userName", "displayName", "email", "phoneNumber", "department", "role"}; !slices.Equal(got, want) {
		t.Errorf("ManagedFields = %v, want %v", got, want)
	}
}

func equalUser(a, b model.User) bool {
	return reflect.DeepEqual(a, b)
}

func TestMapSkipsAndScope(t *testing.T) {
	withAttrs := func(change func(r *model.Record)) model.Record {
		r := alice()
		change(&r)
		return r
	}
	tests := []struct {
		name       string
		rec        model.Record
		wantReason model.ProblemReason
		wantMsg    string
		subject    string
	}{
		{"unknown department", withAttrs(func(r *model.Record) { r.Attributes["departmentNumber"] = []string{"999"} }),
			model.ReasonUnknownLookupKey, `rule "base" field department: the value of attribute departmentNumber is not a key of lookup departments`, "alice"},
		{"no email", withAttrs(func(r *model.Record) { delete(r.Attributes, "mail") }),
			model.ReasonMissingField, `rule "base" field email: required value is empty (attribute mail missing)`, "alice"},
		{"empty email", withAttrs(func(r *model.Record) { r.Attributes["mail"] = []string{""} }),
			model.ReasonMissingField, `rule "base" field email: required value is empty (attribute mail is empty)`, "alice"},
		{"no userName", withAttrs(func(r *model.Record) { delete(r.Attributes, "sAMAccountName") }),
			model.ReasonMissingField, `rule "base" field userName: required value is empty (attribute sAMAccountName missing)`, "guid-alice"},
		{"expression on missing attribute", withAttrs(func(r *model.Record) { delete(r.Attributes, "sn") }),
			model.ReasonExpressionError, `rule "base" field displayName: expression failed: no such key: sn`, "alice"},
		{"no id", withAttrs(func(r *model.Record) { r.ID = ""; r.DN = "cn=alice" }),
			model.ReasonMissingID, "record has no id", "cn=alice"},
	}
	m := mustCompile(t, baseRule())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := m.Map(tt.rec)
			if res.Skip == nil {
				t.Fatalf("not skipped: %+v", res)
			}
			if res.Skip.Reason != tt.wantReason || res.Skip.Message != tt.wantMsg || res.Skip.Subject != tt.subject {
				t.Errorf("got %+v, want %s %q subject %q", *res.Skip, tt.wantReason, tt.wantMsg, tt.subject)
			}
		})
	}
}

func TestMapAttributeNamesCaseInsensitive(t *testing.T) {
	rule := baseRule()
	rule.Spec.Fields[0].From = "samaccountname"
	rule.Spec.Fields[5].Expression = "record.attrs.GIVENNAME + ' ' + record.values.SN[0]"
	res := mustCompile(t, rule).Map(alice())
	if res.User.UserName != "alice" || res.User.DisplayName != "Alice Smith" {
		t.Errorf("got %+v", res)
	}
}

func TestMapScope(t *testing.T) {
	rule := baseRule()
	rule.Spec.Scope = "'pilot' in record.groups"
	m := mustCompile(t, rule)
	if res := m.Map(alice()); !res.Mapped() {
		t.Errorf("pilot not mapped: %+v", res)
	}
	other := alice()
	other.Groups = []string{"staff"}
	if res := m.Map(other); !res.OutOfScope || res.Skip != nil {
		t.Errorf("non-pilot: got %+v, want out of scope", res)
	}
}

func TestMapGroups(t *testing.T) {
	tests := []struct {
		name string
		expr string
		from string
		want []string
	}{
		{"department group", "['dept-' + record.attrs.departmentNumber]", "", []string{"dept-102"}},
		{"filtered groups", "record.groups.filter(g, g.startsWith('app-'))", "", []string{"app-crm"}},
		{"single string", "'everyone'", "", []string{"everyone"}},
		{"deduplicated and sorted", "['b', 'a', 'b', '']", "", []string{"a", "b"}},
		{"all values of an attribute", "", "memberOf", []string{"x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := baseRule()
			rule.Spec.Fields = append(rule.Spec.Fields, v1alpha1.FieldMapping{Target: "groups", Expression: tt.expr, From: tt.from})
			rec := alice()
			rec.Attributes["memberOf"] = []string{"y", "x", "y"}
			res := mustCompile(t, rule).Map(rec)
			if !res.Mapped() || !slices.Equal(res.User.Groups, tt.want) {
				t.Errorf("got %+v, want groups %v", res, tt.want)
			}
		})
	}
}

func TestMapPriorities(t *testing.T) {
	// A high-priority rule for pilots overrides role and email; the base rule fills the rest.
	pilots := NamedRule{Name: "pilots", Generation: 1, Spec: v1alpha1.MappingRuleSpec{
		Priority: 10,
		Scope:    "'pilot' in record.groups",
		Fields: []v1alpha1.FieldMapping{
			{Target: "role", Default: ptr("Pilot")},
			exprField("email", "record.attrs.mail.replace('@example.com', '@pilot.example.com')"),
		},
	}}
	m := mustCompile(t, baseRule(), pilots)
	res := m.Map(alice())
	if res.User.Role != "Pilot" || res.User.Email != "alice@pilot.example.com" || res.User.Department != "Supply Chain" {
		t.Errorf("pilot: got %+v", res)
	}
	other := alice()
	other.Groups = nil
	res = m.Map(other)
	if res.User.Role != "Member" || res.User.Email != "alice@example.com" {
		t.Errorf("non-pilot: got %+v", res)
	}

	// Equal priorities: the name decides.
	a := NamedRule{Name: "a", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{{Target: "title", Default: ptr("from a")}}}}
	z := NamedRule{Name: "z", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{{Target: "title", Default: ptr("from z")}}}}
	if res := mustCompile(t, z, baseRule(), a).Map(alice()); res.User.Title != "from a" {
		t.Errorf("equal priority: title %q, want from a", res.User.Title)
	}
}

func TestMapDisabled(t *testing.T) {
	rec := alice()
	rec.Disabled = true
	res := mustCompile(t, baseRule()).Map(rec)
	if !res.Mapped() || res.User.Active {
		t.Errorf("disabled, included: got %+v, want mapped inactive", res)
	}
	if res := mustCompile(t, baseRule()).Map(alice()); !res.User.Active {
		t.Errorf("enabled: got inactive")
	}

	rule := baseRule()
	rule.Spec.IncludeDisabled = ptr(false)
	if res := mustCompile(t, rule).Map(rec); !res.OutOfScope {
		t.Errorf("disabled, excluded: got %+v, want out of scope", res)
	}

	rule = baseRule()
	rule.Spec.Fields = append(rule.Spec.Fields, v1alpha1.FieldMapping{Target: "active", From: "accountActive"})
	rec = alice()
	rec.Attributes["accountActive"] = []string{"FALSE"}
	if res := mustCompile(t, rule).Map(rec); !res.Mapped() || res.User.Active {
		t.Errorf("active from attribute: got %+v", res)
	}
}

func TestMapLookupDefaultAndExpressionLookups(t *testing.T) {
	rule := baseRule()
	rule.Spec.Lookups[0].Default = ptr("Other")
	rule.Spec.Fields = append(rule.Spec.Fields,
		exprField("title", "lookups.departments[record.attrs.departmentNumber] + ' staff'"))
	rec := alice()
	rec.Attributes["departmentNumber"] = []string{"999"}
	res := mustCompile(t, rule).Map(rec)
	if res.Skip == nil || res.Skip.Reason != model.ReasonExpressionError {
		t.Fatalf("title expression on unknown key: got %+v", res)
	}
	res = mustCompile(t, rule).Map(alice())
	if res.User.Department != "Supply Chain" || res.User.Title != "Supply Chain staff" {
		t.Errorf("got %+v", res)
	}
	rule.Spec.Fields = rule.Spec.Fields[:len(rule.Spec.Fields)-1]
	if res := mustCompile(t, rule).Map(rec); res.User.Department != "Other" {
		t.Errorf("table default: got %+v", res)
	}
}

func TestMapHasAndOptional(t *testing.T) {
	rule := baseRule()
	rule.Spec.Fields[5].Expression = "has(record.attrs.sn) ? record.attrs.givenName + ' ' + record.attrs.sn : record.attrs.?givenName.orValue('')"
	m := mustCompile(t, rule)
	rec := alice()
	delete(rec.Attributes, "sn")
	if res := m.Map(rec); res.User.DisplayName != "Alice" {
		t.Errorf("got %+v", res)
	}
	if res := m.Map(alice()); res.User.DisplayName != "Alice Smith" {
		t.Errorf("got %+v", res)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name      string
		change    func(s *v1alpha1.MappingRuleSpec)
		wantField string
		wantMsg   string
	}{
		{"syntax error", func(s *v1alpha1.MappingRuleSpec) { s.Fields[5].Expression = "record.attrs.givenName +" },
			"fields[displayName].expression", "1:25: Syntax error"},
		{"wrong output type", func(s *v1alpha1.MappingRuleSpec) { s.Fields[5].Expression = "size(record.groups)" },
			"fields[displayName].expression", "expression returns int, want string"},
		{"scope not bool", func(s *v1alpha1.MappingRuleSpec) { s.Scope = "record.id" },
			"scope", "expression returns string, want bool"},
		{"unknown lookup", func(s *v1alpha1.MappingRuleSpec) { s.Fields[3].Lookup = "depts" },
			"fields[department].lookup", `unknown lookup table "depts"`},
		{"unknown lookup in expression", func(s *v1alpha1.MappingRuleSpec) { s.Fields[5].Expression = "lookups.depts['1']" },
			"fields[displayName].expression", `unknown lookup table "depts"`},
		{"undefined variable", func(s *v1alpha1.MappingRuleSpec) { s.Fields[5].Expression = "user.name" },
			"fields[displayName].expression", "undeclared reference to 'user'"},
		{"unknown record field", func(s *v1alpha1.MappingRuleSpec) { s.Fields[5].Expression = "record.mail" },
			"fields[displayName].expression", "undefined field 'mail'"},
		{"bad active default", func(s *v1alpha1.MappingRuleSpec) {
			s.Fields = append(s.Fields, v1alpha1.FieldMapping{Target: "active", Default: ptr("yes")})
		}, "fields[active].default", `"yes" is not a bool`},
		{"groups of ints", func(s *v1alpha1.MappingRuleSpec) {
			s.Fields = append(s.Fields, exprField("groups", "[1, 2]"))
		}, "fields[groups].expression", "want list(string) or string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := baseRule()
			tt.change(&rule.Spec)
			err := CompileRule(rule)
			errs := CompileErrors(err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors (%v), want 1", len(errs), err)
			}
			if errs[0].Rule != "base" || errs[0].Field != tt.wantField || !strings.Contains(errs[0].Message, tt.wantMsg) {
				t.Errorf("got %#v, want field %s and message containing %q", errs[0], tt.wantField, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), `rule "base" `+tt.wantField+": ") {
				t.Errorf("Error() = %q lacks rule and field", err)
			}
			if _, cerr := Compile([]NamedRule{rule}); cerr == nil {
				t.Errorf("Compile accepted the rule")
			}
		})
	}
}

func TestCompileReportsAllErrors(t *testing.T) {
	rule := baseRule()
	rule.Spec.Scope = "1 +"
	rule.Spec.Fields[3].Lookup = "nope"
	other := NamedRule{Name: "other", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{exprField("title", "x")}}}
	_, err := Compile([]NamedRule{rule, other})
	var got []string
	for _, e := range CompileErrors(err) {
		got = append(got, e.Rule+" "+e.Field)
	}
	want := []string{"base scope", "base fields[department].lookup", "other fields[title].expression"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCompileNeedsUserName(t *testing.T) {
	rule := NamedRule{Name: "r", Spec: v1alpha1.MappingRuleSpec{Fields: []v1alpha1.FieldMapping{field("email", "mail")}}}
	if err := CompileRule(rule); err != nil {
		t.Errorf("CompileRule: %v; a single rule need not map userName", err)
	}
	if _, err := Compile([]NamedRule{rule}); err == nil || !strings.Contains(err.Error(), "userName") {
		t.Errorf("Compile: %v, want an error about userName", err)
	}
	if _, err := Compile(nil); err == nil {
		t.Errorf("Compile(nil) succeeded")
	}
}

func TestCache(t *testing.T) {
	var c Cache
	r1 := baseRule()
	m1, err := c.Get([]NamedRule{r1})
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := c.Get([]NamedRule{r1})
	if m1 != m2 || c.compiles != 1 {
		t.Errorf("same generation: got a new mapper or %d compiles", c.compiles)
	}

	r2 := baseRule()
	r2.Generation = 2
	r2.Spec.Fields[4].Default = ptr("Guest")
	m3, err := c.Get([]NamedRule{r2})
	if err != nil {
		t.Fatal(err)
	}
	if c.compiles != 2 || m3.Map(alice()).User.Role != "Guest" {
		t.Errorf("new generation not recompiled (%d compiles)", c.compiles)
	}

	bad := baseRule()
	bad.Name, bad.Spec.Scope = "bad", "("
	for range 2 {
		if _, err := c.Get([]NamedRule{r2, bad}); len(CompileErrors(err)) != 1 {
			t.Errorf("bad rule: %v", err)
		}
	}
	if c.compiles != 3 {
		t.Errorf("compile errors not cached: %d compiles", c.compiles)
	}
}

// A MappingRule deleted and created again under its name starts at generation 1 again: only the UID
// tells the new rule from the old, and the new one must be used at once.
func TestCacheRecreatedRuleSameGeneration(t *testing.T) {
	var c Cache
	old := baseRule()
	old.UID = "uid-old"
	if _, err := c.Get([]NamedRule{old}); err != nil {
		t.Fatal(err)
	}
	recreated := baseRule()
	recreated.UID = "uid-new"
	recreated.Spec.Fields[4].Default = ptr("Guest")
	m, err := c.Get([]NamedRule{recreated})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Map(alice()).User.Role; got != "Guest" || c.compiles != 2 {
		t.Errorf("re-created rule (same name and generation, new UID): role %q after %d compiles, want Guest after 2", got, c.compiles)
	}
}

func TestCacheConcurrent(t *testing.T) {
	var c Cache
	done := make(chan *Mapper)
	for range 8 {
		go func() {
			m, _ := c.Get([]NamedRule{baseRule()})
			done <- m
		}()
	}
	first := <-done
	for range 7 {
		if m := <-done; m != first {
			t.Errorf("different mappers for one generation")
		}
	}
}

func TestCostLimitStopsExpensiveExpression(t *testing.T) {
	rule := baseRule()
	rule.Spec.Fields[5].Expression = "string(record.groups.map(a, record.groups.map(b, a + b)).size())"
	m := mustCompile(t, rule)
	rec := alice()
	for i := range 1500 { // 1500² pairs cost more than CostLimit
		rec.Groups = append(rec.Groups, strings.Repeat("g", i%50))
	}
	res := m.Map(rec)
	if res.Skip == nil || res.Skip.Reason != model.ReasonExpressionError || !strings.Contains(res.Skip.Message, "cost limit") {
		t.Errorf("got %+v, want an ExpressionError about the cost limit", res)
	}
}

func TestMapAllDeterministic(t *testing.T) {
	m := mustCompile(t, baseRule())
	records := make([]model.Record, 5000)
	for i := range records {
		records[i] = alice()
		records[i].ID = string(rune('a'+i%26)) + strings.Repeat("x", i%7) + "-" + strconv.Itoa(i)
		records[i].Attributes["sAMAccountName"] = []string{"user" + strconv.Itoa(i)}
		if i%10 == 3 {
			records[i].Attributes["departmentNumber"] = []string{"999"}
		}
	}
	users, problems, out := m.MapAll(records)
	if len(users) != 4500 || len(problems) != 500 || out != 0 {
		t.Fatalf("got %d users, %d problems, %d out of scope", len(users), len(problems), out)
	}
	j := 0
	for i := range records {
		if i%10 == 3 {
			continue
		}
		if users[j].ExternalID != records[i].ID {
			t.Fatalf("user %d is %s, want %s", j, users[j].ExternalID, records[i].ID)
		}
		j++
	}
	if problems[0].Subject != "user3" || problems[499].Subject != "user4993" {
		t.Errorf("problems out of order: %v ... %v", problems[0], problems[499])
	}
}

func TestMapAllContextCancelled(t *testing.T) {
	m := mustCompile(t, baseRule())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	users, _, _, err := m.MapAllContext(ctx, benchRecords(2000))
	if !errors.Is(err, context.Canceled) || users != nil {
		t.Errorf("got %d users and error %v, want context.Canceled", len(users), err)
	}
}

func TestMapManagerIDFromTheRecord(t *testing.T) {
	rule := baseRule()
	rule.Spec.Fields = append(rule.Spec.Fields, exprField("manager", "has(record.managerId) ? record.managerId : ''"))
	m := mustCompile(t, rule)
	rec := alice()
	rec.ManagerID = "guid-bob"
	if res := m.Map(rec); !res.Mapped() || res.User.Manager != "guid-bob" {
		t.Errorf("manager = %q (%+v), want guid-bob", res.User.Manager, res)
	}
	if res := m.Map(alice()); !res.Mapped() || res.User.Manager != "" {
		t.Errorf("manager without managerId = %q, want empty", res.User.Manager)
	}
}
