package scim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`abc`, `"abc"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{`\"`, `"\\\""`},
		{"tab\there\n", `"tab\there\n"`},
		{"\x01", `"\u0001"`},
		{"müller", `"müller"`},
	} {
		got := Quote(tc.in)
		if got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		// A filter literal is a JSON string: decoding it must give the input back.
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != tc.in {
			t.Errorf("Quote(%q) = %s does not decode back as JSON: %q, %v", tc.in, got, back, err)
		}
	}
	if got := Eq("externalId", `x"y`); got != `externalId eq "x\"y"` {
		t.Errorf("Eq = %s", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 0 ", 0}, {"-5", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBoolTolerant(t *testing.T) {
	var u User
	if err := json.Unmarshal([]byte(`{"active":"False","emails":[{"value":"a","primary":"true"}],"extra":{"x":[1]}}`), &u); err != nil {
		t.Fatal(err)
	}
	if u.IsActive() || !bool(u.Emails[0].Primary) {
		t.Errorf("decoded %+v: want active=false, primary=true", u)
	}
	var none User
	_ = json.Unmarshal([]byte(`{"userName":"x"}`), &none)
	if !none.IsActive() {
		t.Error("user without active should count as active")
	}
}

func TestErrorTrimsBody(t *testing.T) {
	resp := &http.Response{StatusCode: 502, Header: http.Header{}}
	e := newError("GET", "/Users", resp, []byte(strings.Repeat("x", 5000)))
	if len(e.Detail) > maxErrorBody+len("…") || !e.retryable() {
		t.Errorf("detail length %d, retryable %v", len(e.Detail), e.retryable())
	}
	e = newError("POST", "/Users", &http.Response{StatusCode: 409, Header: http.Header{}},
		[]byte(`{"status":"409","scimType":"uniqueness","detail":"taken"}`))
	if !IsConflict(e) || e.ScimType != "uniqueness" || e.Detail != "taken" {
		t.Errorf("got %+v", e)
	}
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

func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(`{"id":"1","userName":"a","active":true,"name":{"givenName":"x"},"emails":[{"value":"e","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`))
	f.Add([]byte(`{"active":"yes","emails":null,"name":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var u User
		if json.Unmarshal(data, &u) != nil {
			return
		}
		_ = toModel(&u)
		_, _ = json.Marshal(&u)
	})
}

func FuzzDecodeListResponse(f *testing.F) {
	f.Add([]byte(`{"totalResults":2,"startIndex":1,"itemsPerPage":1,"Resources":[{"id":"1","userName":"a"}]}`))
	f.Add([]byte(`{"totalResults":-1,"Resources":[null,{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l ListResponse[User]
		if json.Unmarshal(data, &l) != nil {
			return
		}
		for i := range l.Resources {
			_ = toModel(&l.Resources[i])
		}
	})
}
