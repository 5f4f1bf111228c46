package scimserver

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestServerControls(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	get := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/Users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /Users: %v\n%s", err, s.Logs())
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if code := get("wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d, want 401", code)
	}
	if err := s.InjectFault(ctx, Fault{Kind: Fault500, Count: 1, Method: http.MethodGet}); err != nil {
		t.Fatal(err)
	}
	if code := get("tok"); code != http.StatusInternalServerError {
		t.Errorf("with one injected 500: status %d, want 500", code)
	}
	if code := get("tok"); code != http.StatusOK {
		t.Errorf("after the injected fault: status %d, want 200", code)
	}
	counts, err := s.RequestCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[http.MethodGet] != 3 || WriteCount(counts) != 0 {
		t.Errorf("counts = %v, want 3 GETs and no writes", counts)
	}
	d, err := s.Dump(ctx)
	if err != nil || len(d.Users) != 0 {
		t.Errorf("Dump = %+v, %v; want an empty store", d, err)
	}
	s.Stop()
	s.Stop()
}
