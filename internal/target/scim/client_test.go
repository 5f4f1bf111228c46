package scim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loopback starts an httptest server on 127.0.0.1 for h.
func loopback(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// The bearer token is never sent after a redirect to another origin, and writes are never replayed
// there: the client stops with ErrRedirect. Another port on the same host is another origin.
func TestRedirectToAnotherOriginIsRefused(t *testing.T) {
	var otherHits, otherAuth atomic.Int32
	other := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		if r.Header.Get("Authorization") != "" {
			otherAuth.Add(1)
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"evil"}`)
	})
	var sameHits atomic.Int32
	first := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/moved") {
			sameHits.Add(1)
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, `{"id":"u1","userName":"ada"}`)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/same") {
			http.Redirect(w, r, "/moved/Users/u1", http.StatusTemporaryRedirect)
			return
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	c, err := New(first.URL, Options{Token: token, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateUser(ctx, &User{UserName: "ada"}); !errors.Is(err, ErrRedirect) {
		t.Errorf("POST redirected elsewhere: %v, want ErrRedirect", err)
	}
	if err := c.PatchUser(ctx, "u1", []PatchOp{{Op: "replace", Path: "title", Value: "x"}}); !errors.Is(err, ErrRedirect) {
		t.Errorf("PATCH redirected elsewhere: %v", err)
	}
	if _, err := c.GetUser(ctx, "u1"); !errors.Is(err, ErrRedirect) {
		t.Errorf("GET redirected elsewhere: %v", err)
	}
	if otherHits.Load() != 0 || otherAuth.Load() != 0 {
		t.Errorf("the other origin got %d requests, %d with the token", otherHits.Load(), otherAuth.Load())
	}
	// A redirect within the origin is followed, with the token.
	if u, err := c.GetUser(ctx, "same"); err != nil || u.ID != "u1" || sameHits.Load() != 1 {
		t.Errorf("same-origin redirect: %+v, %v", u, err)
	}
}

// A listing has ceilings: an endless paginator and a huge body are clear errors, not an OOM.
func TestListingCeilings(t *testing.T) {
	var served atomic.Int64
	endless := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Users" {
			http.NotFound(w, r)
			return
		}
		n := served.Add(1)
		// Claims ever more results, each page new.
		fmt.Fprintf(w, `{"totalResults":%d,"Resources":[{"id":"a%d"},{"id":"b%d"}]}`, 1<<40, n, n)
	})
	c, _ := New(endless.URL, Options{Limits: ListLimits{MaxPages: 50}})
	_, err := c.ListUsers(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "more than 50 pages") || served.Load() != 50 {
		t.Errorf("pages: %v after %d pages", err, served.Load())
	}
	served.Store(0)
	c, _ = New(endless.URL, Options{Limits: ListLimits{MaxItems: 31}})
	if _, err := c.ListUsers(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "more than 31 resources") {
		t.Errorf("items: %v", err)
	}

	// 256 MiB of one never-ending JSON array, streamed; the default ceiling stops it.
	var sent atomic.Int64
	huge := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ServiceProviderConfig" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"totalResults":1,"Resources":[{"id":"x","userName":"`)
		chunk := []byte(strings.Repeat("a", 1<<20))
		for range 256 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent.Add(int64(len(chunk)))
		}
		_, _ = io.WriteString(w, `"}]}`)
	})
	c, _ = New(huge.URL, Options{})
	start := time.Now()
	_, err = c.ListUsers(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "larger than 67108864 bytes") {
		t.Errorf("huge body: %v", err)
	}
	t.Logf("stopped after %v, %d MiB sent", time.Since(start), sent.Load()>>20)
}

// The reset headers real servers send instead of Retry-After are honoured.
func TestRateLimitHeaders(t *testing.T) {
	for _, h := range []http.Header{
		{"Retry-After": {"1"}},
		{"X-Retry-After": {"1"}},
		{"Ratelimit-Reset": {"1"}},
		{"X-Ratelimit-Reset": {"epoch"}}, // filled in below: a Unix time 1.5 s ahead
	} {
		if h.Get("X-Ratelimit-Reset") == "epoch" {
			h.Set("X-Ratelimit-Reset", fmt.Sprint(time.Now().Add(1500*time.Millisecond).Unix()))
		}
		var calls atomic.Int32
		s := loopback(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ServiceProviderConfig" {
				http.NotFound(w, r)
				return
			}
			if calls.Add(1) == 1 {
				for k, v := range h {
					w.Header()[k] = v
				}
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			_, _ = io.WriteString(w, `{"id":"u1"}`)
		})
		c, _ := New(s.URL, Options{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		start := time.Now()
		if _, err := c.GetUser(context.Background(), "u1"); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 500*time.Millisecond || calls.Load() != 2 {
			t.Errorf("%v: waited %v over %d calls, want the server's delay", h, el, calls.Load())
		}
	}
}

// 429s are waited for as long as the run's deadline allows, not 3 quick retries.
func TestRateLimitWaitsBeyondRetryCount(t *testing.T) {
	var calls atomic.Int32
	s := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 8 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"id":"u1"}`)
	})
	c, _ := New(s.URL, Options{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.GetUser(ctx, "u1"); err != nil || calls.Load() != 9 {
		t.Errorf("err %v after %d calls, want success on the 9th", err, calls.Load())
	}
}

// The client-side limiter paces every request.
func TestMaxRequestsPerSecond(t *testing.T) {
	s := loopback(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"id":"u1"}`) })
	c, _ := New(s.URL, Options{MaxRequestsPerSecond: 20})
	start := time.Now()
	for range 21 {
		if _, err := c.GetUser(context.Background(), "u1"); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("21 requests at 20/s took %v, want about 1s", el)
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
