package scim

import (
	"encoding/json"
	"testing"
)

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
