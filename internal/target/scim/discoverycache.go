package scim

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// DiscoveryCache keeps what targets answered to discovery (/ServiceProviderConfig, /ResourceTypes,
// /Schemas) across clients for at most a TTL. The SyncTarget controller builds a client per run,
// while a target's capabilities change with its software or configuration, not between two runs:
// without the cache every run would ask three times more than its listing needs.
//
// A client sharing the cache forgets its target's entry when a request fails for a reason that is
// not about one resource (anything but 404, 409 and 412, including transport errors), so that the
// next run asks again; the TTL bounds how long a change that causes no error goes unnoticed.
type DiscoveryCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]discoveryEntry
}

type discoveryEntry struct {
	caps *Capabilities // as the target answered, before a client's overrides; never modified
	at   time.Time
}

// NewDiscoveryCache returns a cache whose entries live at most ttl.
func NewDiscoveryCache(ttl time.Duration) *DiscoveryCache {
	return &DiscoveryCache{ttl: ttl, now: time.Now, entries: map[string]discoveryEntry{}}
}

// get returns the live entry of key, or nil. A nil cache holds nothing.
func (d *DiscoveryCache) get(key string) *Capabilities {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[key]
	if !ok || d.now().Sub(e.at) >= d.ttl {
		return nil
	}
	return e.caps
}

// put stores caps under key and drops expired entries, so that targets no longer synced (or
// rotated credentials) do not accumulate.
func (d *DiscoveryCache) put(key string, caps *Capabilities) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for k, e := range d.entries {
		if now.Sub(e.at) >= d.ttl {
			delete(d.entries, k)
		}
	}
	d.entries[key] = discoveryEntry{caps: caps, at: now}
}

// forget drops the entry of key.
func (d *DiscoveryCache) forget(key string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	delete(d.entries, key)
	d.mu.Unlock()
}

// Len is the number of entries held, expired ones not yet dropped included.
func (d *DiscoveryCache) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries)
}

// discoveryKey identifies the client's target in its DiscoveryCache.
func (c *Client) discoveryKey() string { return c.base + "\x00" + c.opts.DiscoveryKey }

// noteFailure forgets the target's cached discovery after a failed request that may say the target
// changed. Answers about one resource (absent, conflicting, modified meanwhile) and requests the
// caller gave up on say nothing about the target.
func (c *Client) noteFailure(ctx context.Context, err error) {
	if c.opts.Discovery == nil || ctx.Err() != nil {
		return
	}
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed:
		return
	}
	c.opts.Discovery.forget(c.discoveryKey())
}
