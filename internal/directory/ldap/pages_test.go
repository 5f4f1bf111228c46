package ldap

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestSearchPagesHandsOverEveryEntryOnceInOrder: the entries of a paged search are handed over a
// page behind the search, yet one at a time, in the server's order, and all of them before the
// search returns, through the tap and without it.
func TestSearchPagesHandsOverEveryEntryOnceInOrder(t *testing.T) {
	srv := sharedServer(t)
	cfg := seedConfig(srv)
	cfg.PageSize = 100 // 25 pages of the seeded users
	s, c := connected(t, cfg)
	filter, err := s.userFilter("")
	if err != nil {
		t.Fatal(err)
	}
	var inCall atomic.Bool
	enter := func() {
		if !inCall.CompareAndSwap(false, true) {
			t.Error("two entries handed over at once")
		}
		time.Sleep(50 * time.Microsecond) // slower than the reads, so pages queue up
	}
	var tapped []string
	err = s.pagedUserSearch(context.Background(), c, cfg.BaseDN, ldap.ScopeWholeSubtree, filter, s.userAttributes(), func(e *entry) {
		enter()
		tapped = append(tapped, e.dn)
		inCall.Store(false)
	})
	if err != nil || len(tapped) != seededUsers {
		t.Fatalf("through the tap: %d entries before the search returned (%v), want %d", len(tapped), err, seededUsers)
	}
	var plain []string
	err = s.pagedSearch(context.Background(), c, cfg.BaseDN, ldap.ScopeWholeSubtree, filter, []string{"1.1"}, func(e *ldap.Entry) {
		enter()
		plain = append(plain, e.DN)
		inCall.Store(false)
	})
	if err != nil || len(plain) != seededUsers {
		t.Fatalf("without the tap: %d entries before the search returned (%v), want %d", len(plain), err, seededUsers)
	}
	for i := range tapped {
		if tapped[i] != plain[i] { // the server sends the same order both times
			t.Fatalf("entry %d: %s through the tap, %s without", i, tapped[i], plain[i])
		}
	}
}

// TestSearchPagesPanicReachesTheCaller: a panic while entries are handed over (on the search's
// helper goroutine) comes out of the search call, where the caller's recovery sees it, instead of
// ending the process.
func TestSearchPagesPanicReachesTheCaller(t *testing.T) {
	cfg := seedConfig(sharedServer(t))
	cfg.PageSize = 100
	s, c := connected(t, cfg)
	filter, err := s.userFilter("")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	got := func() (p any) {
		defer func() { p = recover() }()
		_ = s.pagedUserSearch(context.Background(), c, cfg.BaseDN, ldap.ScopeWholeSubtree, filter, s.userAttributes(), func(*entry) {
			if seen++; seen == 150 {
				panic("bad entry")
			}
		})
		return nil
	}()
	if got != "bad entry" || seen != 150 {
		t.Fatalf("recovered %v after %d entries, want the callback's panic after 150 (and none handed over after it)", got, seen)
	}
}

func connected(t *testing.T, cfg Config) (*Source, *conn) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return s, c
}
