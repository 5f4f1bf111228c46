package connect

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/target"
)

// fakeSCIM is a loopback SCIM endpoint that records the bearer tokens it sees.
func fakeSCIM(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		mu.Unlock()
		if r.URL.Path != "/Users" && r.URL.Path != "/Groups" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
	}))
	t.Cleanup(s.Close)
	return s, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// OAuth 2.0 client credentials: the client id and secret from a Secret go to the token endpoint
// with the scopes; the token is used for SCIM requests and renewed before it expires.
func TestSCIMTargetOAuth2ClientCredentials(t *testing.T) {
	const clientSecret = "client-secret-CANARY"
	var issued atomic.Int32
	var bad atomic.Bool
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, sec, _ := r.BasicAuth()
		if bad.Load() || id != "my-client" || sec != clientSecret || r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "scim.read scim.write" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"bad secret `+sec+`"}`)
			return
		}
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// Valid 1 s beyond the renewal margin: the next request after 1 s gets a new token.
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n, int(OAuth2TokenRenewal.Seconds())+1)
	}))
	defer tokenEndpoint.Close()
	scimSrv, seen := fakeSCIM(t)
	r := mapResolver{secrets: map[string]string{"oauth/client_id": "my-client", "oauth/client_secret": clientSecret + "\n"}}
	spec := v1.SCIMTarget{URL: scimSrv.URL, OAuth2: &v1.OAuth2ClientCredentials{
		TokenURL: tokenEndpoint.URL, ClientSecretRef: v1.OAuth2ClientSecretRef{Name: "oauth"}, Scopes: []string{"scim.read", "scim.write"},
	}}
	ctx := context.Background()
	tg, release, err := SCIMTarget(ctx, spec, r, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := tg.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if issued.Load() != 1 {
		t.Errorf("%d tokens issued for requests within the token's life, want 1", issued.Load())
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := tg.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	got := seen()
	if issued.Load() != 2 || got[0] != "tok-1" || got[len(got)-1] != "tok-2" {
		t.Errorf("issued %d, tokens seen %v; want tok-1 renewed to tok-2", issued.Load(), got)
	}

	// A refused token request is an authentication failure that does not repeat the endpoint's text.
	bad.Store(true)
	tg, release, err = SCIMTarget(ctx, spec, r, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = tg.ListUsers(ctx)
	if !target.IsAuth(err) || strings.Contains(err.Error(), "CANARY") {
		t.Errorf("err = %v, want an AuthError without the endpoint's text", err)
	}
}

// The transport keeps an idle connection per concurrent request (issue 15: it kept 2 for 4).
func TestSCIMTargetKeepsIdleConnectionsForItsConcurrency(t *testing.T) {
	r := mapResolver{secrets: map[string]string{"scim/token": "t"}}
	for _, conc := range []int32{0, 16} {
		tg, release, err := SCIMTarget(context.Background(), v1.SCIMTarget{URL: "http://127.0.0.1:1/scim/v2",
			TokenSecretRef: &v1.SecretKeySelector{Name: "scim", Key: "token"}, MaxConcurrency: conc}, r, logr.Discard())
		if err != nil {
			t.Fatal(err)
		}
		release()
		want := int(conc)
		if want == 0 {
			want = 4
		}
		tr := tg.Client().HTTPClient().Transport.(*http.Transport)
		if tr.MaxIdleConnsPerHost != want {
			t.Errorf("concurrency %d: MaxIdleConnsPerHost %d", conc, tr.MaxIdleConnsPerHost)
		}
	}
}

// The controller builds a SCIM target per run; the runs after the first reuse its discovery (the
// manager's cache) as long as URL, credentials and TLS settings are the same: a rotated token
// makes the next run ask again.
func TestSCIMTargetReusesDiscoveryAcrossRuns(t *testing.T) {
	var discovery atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ServiceProviderConfig":
			discovery.Add(1)
			_, _ = io.WriteString(w, `{"filter":{"supported":true,"maxResults":7}}`)
		case "/ResourceTypes", "/Schemas":
			discovery.Add(1)
			_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
		case "/Users", "/Groups":
			_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer s.Close()
	spec := v1.SCIMTarget{URL: s.URL, TokenSecretRef: &v1.SecretKeySelector{Name: "scim", Key: "token"}}
	run := func(token string) (reads int32) {
		t.Helper()
		discovery.Store(0)
		tg, release, err := SCIMTarget(context.Background(), spec, mapResolver{secrets: map[string]string{"scim/token": token}}, logr.Discard())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if _, err := tg.ListUsers(context.Background()); err != nil {
			t.Fatal(err)
		}
		caps, err := tg.Capabilities(context.Background())
		if err != nil || caps.MaxResults != 7 {
			t.Fatalf("capabilities %+v, %v; want maxResults 7", caps, err)
		}
		return discovery.Load()
	}
	for i, tc := range []struct {
		token string
		reads int32
	}{{"first", 3}, {"first", 0}, {"first", 0}, {"rotated", 3}, {"rotated", 0}} {
		if got := run(tc.token); got != tc.reads {
			t.Errorf("run %d (token %s): %d discovery reads, want %d", i+1, tc.token, got, tc.reads)
		}
	}
}
