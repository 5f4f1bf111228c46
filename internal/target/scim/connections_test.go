package scim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
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

// The next page is asked for while one is decoded, at the offset the previous page suggests: with
// regular pages no request is wasted; irregular short pages still list every resource once, in order.
func TestListingAsksAheadWithoutLosingResources(t *testing.T) {
	for name, sizes := range map[string][]int{"regular": {3, 3, 3, 1}, "irregular": {3, 1, 3, 2, 1}} {
		t.Run(name, func(t *testing.T) {
			total := 0
			for _, n := range sizes {
				total += n
			}
			var gets atomic.Int32
			srv := loopback(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/Users" {
					http.NotFound(w, r)
					return
				}
				gets.Add(1)
				start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
				// The page that starts at start: as many as the size list gives at that offset.
				size, at := 0, 1
				for _, n := range sizes {
					if at >= start {
						size = n
						break
					}
					at += n
				}
				if at != start { // an offset between the server's pages: cut the page there
					size = min(3, total-start+1)
				}
				writeUsersPage(w, start, size, total)
			})
			c, err := New(srv.URL, Options{PageSize: 3})
			if err != nil {
				t.Fatal(err)
			}
			listsUsersInOrder(t, c, total)
			if name == "regular" && gets.Load() != int32(len(sizes)) {
				t.Errorf("%d GETs for %d pages", gets.Load(), len(sizes))
			}
		})
	}
}

// Once the first page tells totalResults, several pages are in flight at once (bounded by the
// client's concurrency and listAhead), so that a listing of a distant target costs a round trip
// per few pages, not per page; every resource is still listed once, in order, with no request
// wasted on regular pages.
func TestListingKeepsSeveralPagesInFlight(t *testing.T) {
	const total, size = 60, 5
	// Client concurrency → pages in flight at most (4 is maxListAhead).
	for concurrency, wantInFlight := range map[int]int32{1: 1, 2: 2, 8: 4} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			var gets, inFlight, most atomic.Int32
			srv := loopback(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/Users" {
					http.NotFound(w, r)
					return
				}
				gets.Add(1)
				now := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				time.Sleep(20 * time.Millisecond) // a distant server: the round trip dominates
				start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
				writeUsersPage(w, start, size, total)
			})
			c, err := New(srv.URL, Options{PageSize: size, Concurrency: concurrency})
			if err != nil {
				t.Fatal(err)
			}
			listsUsersInOrder(t, c, total)
			if got, want := gets.Load(), int32(total/size); got != want {
				t.Errorf("%d GETs, want %d pages", got, want)
			}
			if got := most.Load(); got != wantInFlight {
				t.Errorf("at most %d pages were in flight at once, want %d", got, wantInFlight)
			}
		})
	}
}

// writeUsersPage answers a /Users listing with users u<start>..u<start+size-1> of total (u01…).
func writeUsersPage(w http.ResponseWriter, start, size, total int) {
	var res []string
	for i := start; i < start+size && i <= total; i++ {
		res = append(res, fmt.Sprintf(`{"id":"u%02d","userName":"u%02d"}`, i, i))
	}
	fmt.Fprintf(w, `{"totalResults":%d,"Resources":[%s]}`, total, strings.Join(res, ","))
}

// listsUsersInOrder lists c's users and checks that they are u01…u<total>, each once, in order.
func listsUsersInOrder(t *testing.T, c *Client, total int) {
	t.Helper()
	users, err := c.ListUsers(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != total {
		t.Fatalf("listed %d users, want %d", len(users), total)
	}
	for i, u := range users {
		if want := fmt.Sprintf("u%02d", i+1); u.ID != want {
			t.Fatalf("user %d is %s, want %s", i, u.ID, want)
		}
	}
}
