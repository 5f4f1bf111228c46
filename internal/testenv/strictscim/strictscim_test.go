package strictscim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type client struct {
	t    *testing.T
	s    *Server
	hc   *http.Client
	tok  string
	hdrs http.Header
}

func start(t *testing.T, opts Options) *client {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.Logs())
		}
	})
	return &client{t: t, s: s, hc: &http.Client{Timeout: 10 * time.Second}, tok: s.Token()}
}

// do sends a request and returns the status and decoded body.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.s.URL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/scim+json")
	for k, v := range c.hdrs {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	c.hdrs = nil
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if out == nil {
		out = map[string]any{}
	}
	out["_headers"] = resp.Header
	return resp.StatusCode, out
}

func user(name, email string) map[string]any {
	u := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name}
	if email != "" {
		u["emails"] = []map[string]any{{"value": email, "type": "work"}}
	}
	return u
}

func patch(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
}

func TestUniquenessOnUserNameAndEmail(t *testing.T) {
	c := start(t, Options{})
	if st, b := c.do("POST", "/Users", user("ada", "ada@example.com")); st != 201 {
		t.Fatalf("create: %d %v", st, b)
	}
	st, b := c.do("POST", "/Users", user("ADA", "other@example.com"))
	if st != 409 || b["scimType"] != "uniqueness" || !strings.Contains(fmt.Sprint(b["detail"]), "userName") {
		t.Errorf("duplicate userName: %d %v", st, b)
	}
	st, b = c.do("POST", "/Users", user("bob", "Ada@Example.com"))
	if st != 409 || !strings.Contains(fmt.Sprint(b["detail"]), "emails") {
		t.Errorf("duplicate email: %d %v", st, b)
	}
}

func TestStrictSchema(t *testing.T) {
	c := start(t, Options{})
	u := user("ada", "")
	u["favouriteColour"] = "blue"
	if st, b := c.do("POST", "/Users", u); st != 400 {
		t.Errorf("unknown attribute: %d %v", st, b)
	}
	u = user("ada", "")
	u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"department": "R&D"}
	if st, b := c.do("POST", "/Users", u); st != 400 {
		t.Errorf("undeclared extension: %d %v", st, b)
	}
	u["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}
	u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"shoeSize": "42"}
	if st, b := c.do("POST", "/Users", u); st != 400 {
		t.Errorf("unknown extension attribute: %d %v", st, b)
	}
	u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"department": "R&D"}
	st, b := c.do("POST", "/Users", u)
	if st != 201 {
		t.Fatalf("valid enterprise user: %d %v", st, b)
	}
	if st, b := c.do("PATCH", "/Users/"+b["id"].(string), patch(map[string]any{"op": "remove", "path": "userName"})); st != 400 {
		t.Errorf("removing the required userName: %d %v", st, b)
	}
}

func TestSwitchesAndServiceProviderConfig(t *testing.T) {
	c := start(t, Options{NoFilter: true, NoPatch: true, ETag: true})
	st, spc := c.do("GET", "/ServiceProviderConfig", nil)
	if st != 200 || fmt.Sprint(spc["filter"]) != "map[maxResults:50 supported:false]" ||
		fmt.Sprint(spc["patch"]) != "map[supported:false]" || fmt.Sprint(spc["etag"]) != "map[supported:true]" {
		t.Errorf("ServiceProviderConfig: %d %v", st, spc)
	}
	if st, b := c.do("GET", `/Users?filter=userName+eq+"x"`, nil); st != 400 || b["scimType"] != "invalidFilter" {
		t.Errorf("filter when off: %d %v", st, b)
	}
	_, u := c.do("POST", "/Users", user("ada", ""))
	id := u["id"].(string)
	if st, _ := c.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "replace", "path": "title", "value": "x"})); st != 501 {
		t.Errorf("PATCH when off: %d", st)
	}
	etag := u["_headers"].(http.Header).Get("Etag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	c.hdrs = http.Header{"If-Match": {etag}}
	if st, b := c.do("PUT", "/Users/"+id, user("ada2", "")); st != 200 {
		t.Fatalf("PUT with current If-Match: %d %v", st, b)
	}
	c.hdrs = http.Header{"If-Match": {etag}}
	if st, _ := c.do("PUT", "/Users/"+id, user("ada3", "")); st != 412 {
		t.Errorf("PUT with stale If-Match: %d, want 412", st)
	}
	// With everything on, the same server filters and patches.
	c = start(t, Options{})
	if _, spc := c.do("GET", "/ServiceProviderConfig", nil); fmt.Sprint(spc["filter"]) != "map[maxResults:50 supported:true]" || fmt.Sprint(spc["patch"]) != "map[supported:true]" {
		t.Errorf("ServiceProviderConfig: %v", spc)
	}
}

func TestPagesCappedAndMembersCapped(t *testing.T) {
	c := start(t, Options{MaxMembersPerOp: 10})
	var ids []any
	for i := range 60 {
		_, u := c.do("POST", "/Users", user(fmt.Sprintf("u%02d", i), ""))
		ids = append(ids, map[string]any{"value": u["id"]})
	}
	st, page := c.do("GET", "/Users?count=500", nil)
	if st != 200 || len(page["Resources"].([]any)) != 50 || page["totalResults"] != float64(60) {
		t.Errorf("page: %d, %d resources, total %v", st, len(page["Resources"].([]any)), page["totalResults"])
	}
	_, g := c.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Eng"})
	gid := g["id"].(string)
	if st, b := c.do("PATCH", "/Groups/"+gid, patch(map[string]any{"op": "add", "path": "members", "value": ids[:11]})); st != 400 {
		t.Errorf("11 members in one op: %d %v", st, b)
	}
	if st, b := c.do("PATCH", "/Groups/"+gid, patch(map[string]any{"op": "add", "path": "members", "value": ids[:10]})); st != 200 {
		t.Errorf("10 members in one op: %d %v", st, b)
	}
	if st, _ := c.do("PATCH", "/Groups/"+gid, patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "nope"}}})); st != 400 {
		t.Errorf("unknown member: %d", st)
	}
	if st, _ := c.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "eng"}); st != 409 {
		t.Errorf("duplicate group displayName: %d", st)
	}
	first := ids[0].(map[string]any)["value"].(string)
	if st, b := c.do("PATCH", "/Groups/"+gid, patch(map[string]any{"op": "remove", "path": `members[value eq "` + first + `"]`})); st != 200 || len(b["members"].([]any)) != 9 {
		t.Errorf("remove one member: %d %v", st, b)
	}
	_, u := c.do("GET", "/Users/"+ids[1].(map[string]any)["value"].(string), nil)
	if fmt.Sprint(u["groups"]) == "" || !strings.Contains(fmt.Sprint(u["groups"]), gid) {
		t.Errorf("user groups: %v", u["groups"])
	}
}

func TestNormalizeRequireEmailKeepFormatted(t *testing.T) {
	c := start(t, Options{Normalize: true, RequireEmail: true, KeepFormattedName: true})
	if st, _ := c.do("POST", "/Users", user("nomail", "")); st != 400 {
		t.Errorf("user without email: %d", st)
	}
	u := user("Ada.Lovelace", "Ada@Example.COM")
	u["name"] = map[string]any{"givenName": "Ada", "familyName": "Lovelace"}
	st, b := c.do("POST", "/Users", u)
	if st != 201 || b["userName"] != "ada.lovelace" || !strings.Contains(fmt.Sprint(b["emails"]), "ada@example.com") ||
		fmt.Sprint(b["name"]) != "map[familyName:Lovelace formatted:Ada Lovelace givenName:Ada]" {
		t.Fatalf("normalised create: %d %v", st, b)
	}
	id := b["id"].(string)
	if st, _ := c.do("PATCH", "/Users/"+id, patch(map[string]any{"op": "remove", "path": "emails"})); st != 400 {
		t.Errorf("removing the required email: %d", st)
	}
	st, b = c.do("PATCH", "/Users/"+id, patch(
		map[string]any{"op": "remove", "path": "name.givenName"},
		map[string]any{"op": "remove", "path": "name.familyName"},
		map[string]any{"op": "remove", "path": "name.formatted"}))
	if st != 200 || fmt.Sprint(b["name"]) != "map[formatted:Ada Lovelace]" {
		t.Errorf("derived name kept: %d %v", st, b["name"])
	}
}

func TestRateLimit(t *testing.T) {
	c := start(t, Options{RateLimit: 5, RateWindow: 2 * time.Second})
	for i := range 5 {
		if st, _ := c.do("GET", "/Users", nil); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	st, b := c.do("GET", "/Users", nil)
	ra := b["_headers"].(http.Header).Get("Retry-After")
	if st != 429 || (ra != "1" && ra != "2") {
		t.Fatalf("6th request: %d Retry-After %q", st, ra)
	}
	time.Sleep(2100 * time.Millisecond)
	if st, _ := c.do("GET", "/Users", nil); st != 200 {
		t.Errorf("after the window: %d", st)
	}
	if c.s.Throttled() != 1 {
		t.Errorf("throttled %d, want 1", c.s.Throttled())
	}
}
