package scim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// dialCounter is an HTTP client whose transport counts the connections it opens.
func dialCounter(idle int) (*http.Client, *atomic.Int32) {
	var dials atomic.Int32
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		MaxIdleConnsPerHost: idle,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, &dials
}

// The connections discovery opened (its three reads run at once) carry the rest of a run of
// sequential requests: a create and a listing of several pages. The strict server sends pages chunked; a client that closed a body after decoding
// it, without reading the last chunk, opened a new connection for every page.
func TestSequentialRequestsReuseOneConnection(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv testServer) {
		ctx, seed := setup(t, srv, Options{})
		const users = 120
		for i := range users {
			if _, err := seed.CreateUser(ctx, &User{UserName: fmt.Sprintf("conn%03d", i), ExternalID: fmt.Sprintf("conn:%d", i),
				Emails: []MultiValued{{Value: fmt.Sprintf("conn%03d@example.com", i), Type: "work", Primary: true}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := srv.SetMaxPageSize(ctx, 50); err != nil { // three pages on both servers
			t.Fatal(err)
		}
		hc, dials := dialCounter(4)
		c, err := New(srv.URL(), Options{Token: srv.Token(), HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		discovery := dials.Load()
		if discovery < 1 || discovery > 3 {
			t.Errorf("discovery opened %d connections, want 1 to 3", discovery)
		}
		if _, err := c.CreateUser(ctx, &User{UserName: "conn-last", ExternalID: "conn:last"}); err != nil {
			t.Fatal(err)
		}
		resetCounts(t, srv, ctx)
		list, err := c.ListUsers(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != users+1 {
			t.Fatalf("listed %d users, want %d", len(list), users+1)
		}
		if got := counts(t, srv, ctx)[http.MethodGet]; got != 3 {
			t.Errorf("the listing took %d GETs, want 3 pages", got)
		}
		if got := dials.Load() - discovery; got != 0 {
			t.Errorf("a create and a 3-page listing after discovery opened %d more connections, want 0", got)
		}
	})
}
