package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

const acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

var (
	pathCostCenter = model.SchemaEnterpriseUser + ":costCenter"
	pathDivision   = model.SchemaEnterpriseUser + ":division"
	pathBadge      = acme + ":badgeId"
	pathClearance  = acme + ":clearance"
	pathContractor = acme + ":contractor"
	pathStart      = acme + ":startDate"
	pathSkills     = acme + ":skills"
	pathMobile     = `phoneNumbers[type eq "mobile"].value`
	pathHomeMail   = `emails[type eq "home"].value`
	pathLocality   = `addresses[type eq "work"].locality`
	pathPostal     = `addresses[type eq "work"].postalCode`
)

var attrFields = []string{
	model.FieldUserName, model.FieldDisplayName, model.FieldEmail, model.FieldDepartment, model.FieldActive,
	"nickName", "preferredLanguage", "name.middleName", "roles", "entitlements",
	pathCostCenter, pathDivision, pathBadge, pathClearance, pathContractor, pathStart, pathSkills,
	pathMobile, pathHomeMail, pathLocality, pathPostal,
}

func attrUser(ext, name string) model.User {
	u := model.User{ExternalID: "dirsync:" + ext, UserName: name, DisplayName: "Ada", Email: name + "@example.com",
		Department: "R&D", Active: true}
	set := func(p string, v model.Value) { u.SetAttr(p, v) }
	set("nickName", model.StringValue("ada"))
	set("preferredLanguage", model.StringValue("en-GB"))
	set("name.middleName", model.StringValue("King"))
	set("roles", model.StringsValue([]string{"reader", "writer"}))
	set("entitlements", model.StringsValue([]string{"vpn"}))
	set(pathCostCenter, model.StringValue("CC-1"))
	set(pathDivision, model.StringValue("Science"))
	set(pathBadge, model.StringValue("B-7"))
	set(pathClearance, model.IntValue(3))
	set(pathContractor, model.BoolValue(false))
	set(pathStart, model.Value{Kind: model.KindDateTime, Str: "2024-01-31T12:00:00Z"})
	set(pathSkills, model.StringsValue([]string{"math", "poetry"}))
	set(pathMobile, model.StringValue("+44 7700 900001"))
	set(pathLocality, model.StringValue("London"))
	set(pathPostal, model.StringValue("EC1"))
	return u
}

func rawUserOf(t *testing.T, ctx context.Context, c *Client, id string) map[string]any {
	t.Helper()
	var raw map[string]any
	if err := c.do(ctx, http.MethodGet, "/Users/"+url.PathEscape(id), nil, nil, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// planFor plans desired against the target's listing and returns the updates planned.
func planFor(t *testing.T, ctx context.Context, tg *Target, desired model.User) []plan.Action {
	t.Helper()
	actual, err := tg.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := plan.Compute(plan.Input{Desired: []model.User{desired}, Actual: actual, SourceComplete: true,
		Policy: plan.Policy{ExternalIDPrefix: "dirsync:", ManagedFields: attrFields, MaxDeletions: -1}})
	return p.Actions
}

// acmeSchema is the custom extension test/scim-server declares, for the strict server.
func acmeSchema() schema.Schema {
	return schema.Schema{ID: acme, Name: optional.NewString("AcmeUser"), Attributes: []schema.CoreAttribute{
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "badgeId", CaseExact: true})),
		schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "clearance", Type: schema.AttributeTypeInteger()})),
		schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "contractor"})),
		schema.SimpleCoreAttribute(schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "startDate"})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "skills", MultiValued: true})),
	}}
}

// withAcme gives the strict server the acme extension for one test; c discovers it again.
func withAcme(t *testing.T, c *Client, srv testServer, opts strictscim.Options) {
	t.Helper()
	if s, ok := srv.(*strictscim.Server); ok {
		c.discoverMu.Lock()
		c.caps = nil
		c.discoverMu.Unlock()
		opts.Token = s.Token()
		opts.UserExtensions = []schema.Schema{acmeSchema()}
		if err := s.Configure(opts); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Reset(context.Background()) })
	}
}

// TestAttributePaths writes core, complex, typed multi-valued, enterprise and custom extension
// attributes of every type, reads them back equal, and updates them without touching entries of
// other types set by an admin: with PATCH and with the PUT fallback, on both servers.
func TestAttributePaths(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		for _, mode := range []string{"patch", "put"} {
			t.Run(mode, func(t *testing.T) { testAttributePaths(t, srv, mode) })
		}
	})
}

func testAttributePaths(t *testing.T, srv testServer, mode string) {
	{
		{
			var opts Options
			if mode == "put" {
				opts.Capabilities.PatchSupported = new(bool)
			}
			ctx, c := setup(t, srv, opts)
			withAcme(t, c, srv, strictscim.Options{NoPatch: mode == "put"})
			tg := NewTarget(c)
			tg.UseFields(attrFields)

			want := attrUser("ext-ada", "ada")
			id, err := tg.CreateUser(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			if acts := planFor(t, ctx, tg, want); len(acts) != 0 {
				t.Fatalf("after create, plan %+v", acts)
			}
			users, _ := tg.ListUsers(ctx)
			got := findModel(t, users, id)
			// SCIMMY stores dateTimes with milliseconds: the same instant (the plan above saw no change).
			if gs := got.Attr(pathStart).Str; gs != "2024-01-31T12:00:00.000Z" && gs != "2024-01-31T12:00:00Z" {
				t.Errorf("startDate read back as %q", gs)
			}
			got.SetAttr(pathStart, want.Attr(pathStart))
			if !reflect.DeepEqual(got.Attributes, want.Attributes) {
				t.Errorf("read back\n got %v\nwant %v", got.Attributes, want.Attributes)
			}

			// An admin adds entries of other types in the app.
			raw := rawUserOf(t, ctx, c, id)
			raw["emails"] = append(raw["emails"].([]any), map[string]any{"type": "other", "value": "ada@admin.example"})
			raw["phoneNumbers"] = append(raw["phoneNumbers"].([]any), map[string]any{"type": "fax", "value": "+44 20 7946 0000"})
			raw["addresses"] = append(raw["addresses"].([]any), map[string]any{"type": "home", "locality": "Oxford"})
			delete(raw, "groups")
			delete(raw, "meta")
			if err := c.do(ctx, http.MethodPut, "/Users/"+url.PathEscape(id), nil, raw, nil); err != nil {
				t.Fatal(err)
			}

			// The directory changes every attribute; the home email and work email are new entries.
			next := attrUser("ext-ada", "ada")
			next.Email = "ada.lovelace@example.com"
			next.SetAttr(pathHomeMail, model.StringValue("ada@home.example"))
			next.SetAttr(pathCostCenter, model.StringValue("CC-2"))
			next.SetAttr(pathClearance, model.IntValue(4))
			next.SetAttr(pathContractor, model.BoolValue(true))
			next.SetAttr(pathStart, model.Value{Kind: model.KindDateTime, Str: "2024-02-01T08:00:00Z"})
			next.SetAttr(pathSkills, model.StringsValue([]string{"math"}))
			next.SetAttr(pathMobile, model.StringValue("+44 7700 900002"))
			next.SetAttr(pathLocality, model.StringValue("Cambridge"))
			next.SetAttr("roles", model.StringsValue([]string{"admin"}))
			delete(next.Attributes, pathPostal)
			acts := planFor(t, ctx, tg, next)
			if len(acts) != 1 || acts[0].Kind != plan.KindUpdate {
				t.Fatalf("plan %+v", acts)
			}
			if err := tg.UpdateUser(ctx, id, next, acts[0].Fields); err != nil {
				t.Fatal(err)
			}
			if acts := planFor(t, ctx, tg, next); len(acts) != 0 {
				t.Errorf("after update, plan %+v", acts)
			}
			raw = rawUserOf(t, ctx, c, id)
			for attr, want := range map[string]map[string]string{
				"emails":       {"other": "ada@admin.example", "home": "ada@home.example", "work": "ada.lovelace@example.com"},
				"phoneNumbers": {"fax": "+44 20 7946 0000", "mobile": "+44 7700 900002"},
			} {
				gotTypes := map[string]string{}
				for _, e := range raw[attr].([]any) {
					m := e.(map[string]any)
					gotTypes[m["type"].(string)] = m["value"].(string)
				}
				if !reflect.DeepEqual(gotTypes, want) {
					t.Errorf("%s = %v, want %v", attr, gotTypes, want)
				}
			}
			var localities []string
			for _, e := range raw["addresses"].([]any) {
				m := e.(map[string]any)
				localities = append(localities, m["type"].(string)+":"+m["locality"].(string))
				if m["type"] == "work" && m["postalCode"] != nil {
					t.Errorf("work postalCode not removed: %v", m)
				}
			}
			slices.Sort(localities)
			if !slices.Equal(localities, []string{"home:Oxford", "work:Cambridge"}) {
				t.Errorf("addresses = %v", localities)
			}
			if s, _ := json.Marshal(raw["schemas"]); !slices.Contains(raw["schemas"].([]any), any(acme)) {
				t.Errorf("schemas = %s, want the acme extension", s)
			}
		}
	}
}

func TestAttrOpsRendering(t *testing.T) {
	aps, err := parseAttrPaths([]string{pathLocality, pathPostal, pathHomeMail, pathCostCenter, "roles", pathSkills})
	if err != nil {
		t.Fatal(err)
	}
	byName := func(n string) attrPath {
		return aps[slices.IndexFunc(aps, func(a attrPath) bool { return a.name == n })]
	}
	changes := []attrChange{
		{byName(pathLocality), model.StringValue("London")},
		{byName(pathPostal), model.StringValue("EC1")},
		{byName(pathHomeMail), model.Value{}},
		{byName(pathCostCenter), model.StringValue("CC")},
		{byName("roles"), model.StringsValue([]string{"b", "a"})},
		{byName(pathSkills), model.StringsValue([]string{"x"})},
	}
	ops := attrOps(changes, func(p model.Path) bool { return p.Attr == "emails" })
	got, _ := json.Marshal(ops)
	want := `[{"op":"add","path":"addresses","value":[{"locality":"London","postalCode":"EC1","type":"work"}]},` +
		`{"op":"remove","path":"emails[type eq \"home\"]"},` +
		`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","value":"CC"},` +
		`{"op":"replace","path":"roles","value":[{"value":"a"},{"value":"b"}]},` +
		`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:acme:2.0:User:skills","value":["x"]}]`
	if string(got) != want {
		t.Errorf("ops\n got %s\nwant %s", got, want)
	}
	// Existing entries are replaced in place.
	ops = attrOps(changes[:1], func(model.Path) bool { return true })
	if got, _ := json.Marshal(ops); string(got) != `[{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"London"}]` {
		t.Errorf("in place: %s", got)
	}
}

// TestCheckFields looks managed fields up in the servers' /Schemas: unknown attributes are named
// with their schema, caseExact ones are reported.
func TestCheckFields(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, c := setup(t, srv, Options{})
		withAcme(t, c, srv, strictscim.Options{})
		tg := NewTarget(c)
		check, err := tg.CheckFields(ctx, []string{model.FieldUserName, model.FieldEmail, model.FieldDepartment,
			model.FieldManager, model.FieldGroups, pathBadge, pathClearance, pathCostCenter, pathMobile,
			acme + ":shoeSize", "urn:ietf:params:scim:schemas:extension:other:2.0:User:x"})
		if err != nil {
			t.Fatal(err)
		}
		var unknown []string
		for _, u := range check.Unknown {
			unknown = append(unknown, u.Field+" @ "+u.Schema)
		}
		want := []string{acme + ":shoeSize @ " + acme,
			"urn:ietf:params:scim:schemas:extension:other:2.0:User:x @ urn:ietf:params:scim:schemas:extension:other:2.0:User"}
		if !slices.Equal(unknown, want) {
			t.Errorf("unknown\n got %q\nwant %q", unknown, want)
		}
		if !slices.Equal(check.CaseExact, []string{pathBadge}) {
			t.Errorf("caseExact = %q, want only badgeId", check.CaseExact)
		}
	})
}

func TestApplyOp(t *testing.T) {
	res := map[string]any{"userName": "u", "nickName": "keep", "name": map[string]any{"givenName": "g", "familyName": "f"}}
	applyOp(res, PatchOp{Op: "replace", Path: "name.givenName", Value: "G"})
	applyOp(res, PatchOp{Op: "remove", Path: "name.familyName"})
	applyOp(res, PatchOp{Op: "replace", Path: enterprisePrefix + "manager", Value: Manager{Value: "m"}})
	b, _ := json.Marshal(res)
	want := `{"name":{"givenName":"G"},"nickName":"keep","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}},"userName":"u"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
