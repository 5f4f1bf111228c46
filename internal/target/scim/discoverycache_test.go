package scim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// discoveryServer answers discovery with maxResults and counts the discovery reads; /Users answers
// with status users (200: an empty listing).
func discoveryServer(t *testing.T, maxResults *atomic.Int32, users *atomic.Int32) (url string, reads *atomic.Int32) {
	reads = &atomic.Int32{}
	srv := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ServiceProviderConfig":
			reads.Add(1)
			fmt.Fprintf(w, `{"filter":{"supported":true,"maxResults":%d},"patch":{"supported":true}}`, maxResults.Load())
		case "/ResourceTypes", "/Schemas":
			reads.Add(1)
			_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
		case "/Users":
			if code := int(users.Load()); code != http.StatusOK {
				w.WriteHeader(code)
				_, _ = io.WriteString(w, `{"detail":"refused"}`)
				return
			}
			_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
		default:
			http.NotFound(w, r)
		}
	})
	return srv.URL, reads
}

// Clients sharing a DiscoveryCache (one per run, as the controller builds them) ask the target
// once; each applies its own overrides; other credentials, an expired entry, or a failed request
// that is not about one resource make the next client ask again.
func TestDiscoveryCacheSharesAnswersAcrossClients(t *testing.T) {
	ctx := context.Background()
	var maxResults, users atomic.Int32
	maxResults.Store(40)
	users.Store(http.StatusOK)
	url, reads := discoveryServer(t, &maxResults, &users)
	cache := NewDiscoveryCache(time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cache.now = func() time.Time { return now }
	client := func(key string, overrides CapabilityOverrides) *Client {
		c, err := New(url, Options{Discovery: cache, DiscoveryKey: key, Capabilities: overrides, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	discover := func(c *Client, wantReads int32, wantMax int) {
		t.Helper()
		reads.Store(0)
		caps, err := c.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := reads.Load(); got != wantReads {
			t.Errorf("%d discovery reads, want %d", got, wantReads)
		}
		if caps.MaxResults != wantMax || !caps.Discovered || !caps.PatchSupported {
			t.Errorf("capabilities %+v, want maxResults %d, discovered, PATCH", caps, wantMax)
		}
	}

	discover(client("a", CapabilityOverrides{}), 3, 40)
	maxResults.Store(25) // unnoticed while the entry lives and nothing fails
	discover(client("a", CapabilityOverrides{}), 0, 40)
	ten := 10
	discover(client("a", CapabilityOverrides{MaxResults: &ten}), 0, 10) // overrides are the client's own...
	discover(client("a", CapabilityOverrides{}), 0, 40)                 // ...and stay out of the cache
	discover(client("b", CapabilityOverrides{}), 3, 25)                 // other credentials ask themselves

	// Answers about one resource keep the entry; a refused or failed listing drops it.
	for _, tc := range []struct {
		status int
		forget bool
	}{{http.StatusNotFound, false}, {http.StatusConflict, false}, {http.StatusBadRequest, true}, {http.StatusUnauthorized, true}, {http.StatusInternalServerError, true}} {
		maxResults.Store(int32(30 + tc.status%100))
		discover(client("c", CapabilityOverrides{}), 3, int(maxResults.Load()))
		users.Store(int32(tc.status))
		if _, err := client("c", CapabilityOverrides{}).ListUsers(ctx, ""); err == nil {
			t.Fatalf("a listing answered %d succeeded", tc.status)
		}
		users.Store(http.StatusOK)
		if tc.forget {
			discover(client("c", CapabilityOverrides{}), 3, int(maxResults.Load()))
		} else {
			discover(client("c", CapabilityOverrides{}), 0, int(maxResults.Load()))
		}
		cache.forget(client("c", CapabilityOverrides{}).discoveryKey())
	}

	// An entry lives TTL; expired ones are dropped when another is stored.
	now = now.Add(59 * time.Minute)
	discover(client("a", CapabilityOverrides{}), 0, 40)
	now = now.Add(time.Minute)
	maxResults.Store(20)
	discover(client("b", CapabilityOverrides{}), 3, 20)
	if n := cache.Len(); n != 1 {
		t.Errorf("%d entries after a's expired, want 1", n)
	}
	discover(client("a", CapabilityOverrides{}), 3, 20)
}

// Without a cache (the zero Options) every client asks for itself.
func TestDiscoveryWithoutCache(t *testing.T) {
	var maxResults, users atomic.Int32
	maxResults.Store(40)
	users.Store(http.StatusOK)
	url, reads := discoveryServer(t, &maxResults, &users)
	for range 2 {
		c, err := New(url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := reads.Load(); got != 6 {
		t.Errorf("%d discovery reads by two clients without a cache, want 6", got)
	}
}
