package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/directory-sync/directory-sync-operator/internal/target"
)

// Capabilities is what the client knows the target can do: /ServiceProviderConfig, /ResourceTypes
// and /Schemas as the server answered them, with the spec's overrides applied.
type Capabilities struct {
	// Discovered is false when the target has no /ServiceProviderConfig; the client then assumes
	// no filtering, no PATCH, no ETags and no bulk.
	Discovered        bool
	FilterSupported   bool
	MaxResults        int // 0: not advertised
	PatchSupported    bool
	BulkSupported     bool
	BulkMaxOperations int
	ETagSupported     bool
	ResourceTypes     []ResourceType
	Schemas           []Schema
}

// ResourceType is an entry of /ResourceTypes (RFC 7643 §6).
type ResourceType struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Endpoint         string `json:"endpoint"`
	Schema           string `json:"schema"`
	SchemaExtensions []struct {
		Schema   string `json:"schema"`
		Required Bool   `json:"required"`
	} `json:"schemaExtensions"`
}

// Schema is an entry of /Schemas (RFC 7643 §7).
type Schema struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Attributes []SchemaAttribute `json:"attributes"`
}

// SchemaAttribute describes one attribute of a Schema.
type SchemaAttribute struct {
	Name          string            `json:"name"`
	Type          string            `json:"type"`
	MultiValued   Bool              `json:"multiValued"`
	Required      Bool              `json:"required"`
	CaseExact     Bool              `json:"caseExact"`
	Mutability    string            `json:"mutability"`
	Uniqueness    string            `json:"uniqueness"`
	SubAttributes []SchemaAttribute `json:"subAttributes"`
}

// Schema returns the schema with the given id (case-insensitive), or nil.
func (c *Capabilities) Schema(id string) *Schema {
	for i := range c.Schemas {
		if strings.EqualFold(c.Schemas[i].ID, id) {
			return &c.Schemas[i]
		}
	}
	return nil
}

// Attribute returns the attribute named name (case-insensitive), or nil.
func (s *Schema) Attribute(name string) *SchemaAttribute {
	for i := range s.Attributes {
		if strings.EqualFold(s.Attributes[i].Name, name) {
			return &s.Attributes[i]
		}
	}
	return nil
}

// emailRequired reports whether the User schema marks emails required.
func (c *Capabilities) emailRequired() bool {
	if s := c.Schema(SchemaUser); s != nil {
		if a := s.Attribute("emails"); a != nil {
			return bool(a.Required)
		}
	}
	return false
}

// Discover fetches /ServiceProviderConfig, /ResourceTypes and /Schemas once per client and returns
// them with the overrides applied. With Options.Discovery the answers are shared with the clients
// of later runs for a bounded time (see DiscoveryCache). A target without these endpoints (404,
// 501) is assumed to support nothing optional; an authentication failure or a transport error is
// returned.
func (c *Client) Discover(ctx context.Context) (*Capabilities, error) {
	c.discoverMu.Lock()
	defer c.discoverMu.Unlock()
	if c.caps != nil {
		return c.caps, nil
	}
	served := c.opts.Discovery.get(c.discoveryKey())
	if served == nil {
		var err error
		if served, err = c.discover(ctx); err != nil {
			return nil, err
		}
		c.opts.Discovery.put(c.discoveryKey(), served)
	}
	caps := *served // the slices are shared and only read
	o := c.opts.Capabilities
	if o.FilterSupported != nil {
		caps.FilterSupported = *o.FilterSupported
	}
	if o.PatchSupported != nil {
		caps.PatchSupported = *o.PatchSupported
	}
	if o.ETagSupported != nil {
		caps.ETagSupported = *o.ETagSupported
	}
	if o.MaxResults != nil {
		caps.MaxResults = *o.MaxResults
	}
	if o.BulkMaxOperations != nil {
		caps.BulkSupported, caps.BulkMaxOperations = *o.BulkMaxOperations > 0, *o.BulkMaxOperations
	}
	c.caps = &caps
	return c.caps, nil
}

// discover asks the target what it supports, as it answers (no overrides).
func (c *Client) discover(ctx context.Context) (*Capabilities, error) {
	// The three reads are independent: one round trip instead of three.
	var (
		spc                    ServiceProviderConfig
		rts                    ListResponse[ResourceType]
		raw                    json.RawMessage
		spcErr, rtsErr, rawErr error
		wg                     sync.WaitGroup
	)
	wg.Go(func() { spcErr = c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil, &spc) })
	wg.Go(func() { rtsErr = c.do(ctx, http.MethodGet, "/ResourceTypes", nil, nil, &rts) })
	wg.Go(func() { rawErr = c.do(ctx, http.MethodGet, "/Schemas", nil, nil, &raw) })
	wg.Wait()
	caps := &Capabilities{}
	switch err := spcErr; {
	case err == nil:
		caps.Discovered = true
		caps.FilterSupported = bool(spc.Filter.Supported)
		caps.MaxResults = spc.Filter.MaxResults
		caps.PatchSupported = bool(spc.Patch.Supported)
		caps.BulkSupported = bool(spc.Bulk.Supported)
		caps.BulkMaxOperations = spc.Bulk.MaxOperations
		caps.ETagSupported = bool(spc.ETag.Supported)
	case absent(err):
	default:
		return nil, err
	}
	if err := rtsErr; err == nil {
		caps.ResourceTypes = rts.Resources
	} else if !absent(err) {
		return nil, err
	}
	// /Schemas is a ListResponse per RFC 7644 §4; some servers answer a bare array.
	if err := rawErr; err == nil {
		var list ListResponse[Schema]
		if json.Unmarshal(raw, &list) == nil && list.Resources != nil {
			caps.Schemas = list.Resources
		} else {
			_ = json.Unmarshal(raw, &caps.Schemas)
		}
	} else if !absent(err) {
		return nil, err
	}
	return caps, nil
}

// absent reports whether err says an optional discovery endpoint does not exist (or cannot be
// read in a way that retrying would change), so that defaults apply.
func absent(err error) bool {
	if target.IsAuth(err) {
		return false
	}
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusNotImplemented, http.StatusBadRequest, http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// ServiceProviderConfig fetches the target's capabilities (see Discover); the answer is cached.
func (c *Client) ServiceProviderConfig(ctx context.Context) (*ServiceProviderConfig, error) {
	caps, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	spc := &ServiceProviderConfig{}
	spc.Patch.Supported = Bool(caps.PatchSupported)
	spc.Filter.Supported = Bool(caps.FilterSupported)
	spc.Filter.MaxResults = caps.MaxResults
	spc.Bulk.Supported = Bool(caps.BulkSupported)
	spc.Bulk.MaxOperations = caps.BulkMaxOperations
	spc.ETag.Supported = Bool(caps.ETagSupported)
	return spc, nil
}

// pageSize is the count asked for per list page: the configured size, else the server's
// maxResults (bounded by MaxPageSize), else DefaultPageSize — never above what the server allows.
func (c *Client) pageSize(ctx context.Context) (int, error) {
	caps, err := c.Discover(ctx)
	if err != nil {
		return 0, err
	}
	n := c.opts.PageSize
	if n <= 0 {
		n = DefaultPageSize
		if caps.MaxResults > 0 {
			n = min(caps.MaxResults, MaxPageSize)
		}
	}
	if caps.MaxResults > 0 && caps.MaxResults < n {
		n = caps.MaxResults
	}
	return n, nil
}

// membersPerRequest is how many members one PATCH operation may carry.
func (c *Client) membersPerRequest(ctx context.Context) int {
	n := c.opts.MaxMembersPerRequest
	if caps, err := c.Discover(ctx); err == nil && caps.BulkSupported && caps.BulkMaxOperations > 0 {
		n = min(n, caps.BulkMaxOperations)
	}
	return n
}
