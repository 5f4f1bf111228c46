// Package scim is a SCIM 2.0 (RFC 7643/7644) client for pushing users and groups to a target
// application, with retries, pagination, and an adapter (Target) speaking the model package's terms.
package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Options configure a Client. Zero values select the documented defaults.
type Options struct {
	Token      string       // sent as "Authorization: Bearer <Token>"; never logged
	HTTPClient *http.Client // default: a client with a 30s timeout
	// MaxRetries is how often a retryable failure (429, 5xx, transport timeout) is retried:
	// 0 means 3, a negative value disables retries.
	MaxRetries  int
	BaseBackoff time.Duration // first backoff; default 200ms, doubled per attempt, with jitter
	MaxBackoff  time.Duration // backoff cap; default 10s (Retry-After is honoured beyond it)
	// Concurrency bounds the requests this client has in flight at once; default 4.
	Concurrency int
	PageSize    int // list page size (count); default 100, capped by the target's filter.maxResults
	UserAgent   string
	Logger      logr.Logger // optional
}

// Client talks SCIM 2.0 to one service provider. It is safe for concurrent use.
type Client struct {
	base string
	opts Options
	hc   *http.Client
	log  logr.Logger
	sem  chan struct{}

	mu  sync.Mutex
	spc *ServiceProviderConfig
}

// New returns a client for the SCIM base URL (e.g. https://app.example.com/scim/v2).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("scim: invalid base URL %q", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 3
	} else if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "directory-sync-operator"
	}
	log := opts.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/"), opts: opts, hc: opts.HTTPClient, log: log,
		sem: make(chan struct{}, opts.Concurrency),
	}, nil
}

// ServiceProviderConfig fetches the target's capabilities; the answer is cached by the client.
func (c *Client) ServiceProviderConfig(ctx context.Context) (*ServiceProviderConfig, error) {
	c.mu.Lock()
	cached := c.spc
	c.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	var spc ServiceProviderConfig
	if err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil, &spc); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.spc = &spc
	c.mu.Unlock()
	return &spc, nil
}

func (c *Client) pageSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.spc != nil && c.spc.Filter.MaxResults > 0 && c.spc.Filter.MaxResults < c.opts.PageSize {
		return c.spc.Filter.MaxResults
	}
	return c.opts.PageSize
}

// ListUsers returns every user matching filter ("" for all), following pagination.
func (c *Client) ListUsers(ctx context.Context, filter string) ([]User, error) {
	return listAll[User](ctx, c, "/Users", filter)
}

// GetUser fetches one user.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	var u User
	if err := c.do(ctx, http.MethodGet, "/Users/"+url.PathEscape(id), nil, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser creates a user and returns it as the target stored it.
func (c *Client) CreateUser(ctx context.Context, u *User) (*User, error) {
	in := *u
	in.Schemas = userSchemas(&in)
	var out User
	if err := c.do(ctx, http.MethodPost, "/Users", nil, &in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplaceUser replaces a user (PUT). Attributes absent from u are cleared by the target.
func (c *Client) ReplaceUser(ctx context.Context, id string, u *User) (*User, error) {
	in := *u
	in.Schemas = userSchemas(&in)
	in.Groups = nil // read-only
	var out User
	if err := c.do(ctx, http.MethodPut, "/Users/"+url.PathEscape(id), nil, &in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchUser applies ops to a user.
func (c *Client) PatchUser(ctx context.Context, id string, ops []PatchOp) error {
	return c.patch(ctx, "/Users/"+url.PathEscape(id), ops)
}

// DeleteUser deletes a user; a user that is already gone is not an error.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.delete(ctx, "/Users/"+url.PathEscape(id))
}

// ListGroups returns every group matching filter ("" for all), following pagination.
func (c *Client) ListGroups(ctx context.Context, filter string) ([]Group, error) {
	return listAll[Group](ctx, c, "/Groups", filter)
}

// GetGroup fetches one group.
func (c *Client) GetGroup(ctx context.Context, id string) (*Group, error) {
	var g Group
	if err := c.do(ctx, http.MethodGet, "/Groups/"+url.PathEscape(id), nil, nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// CreateGroup creates a group and returns it as the target stored it.
func (c *Client) CreateGroup(ctx context.Context, g *Group) (*Group, error) {
	in := *g
	in.Schemas = []string{SchemaGroup}
	var out Group
	if err := c.do(ctx, http.MethodPost, "/Groups", nil, &in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchGroup applies ops to a group (e.g. member additions and removals).
func (c *Client) PatchGroup(ctx context.Context, id string, ops []PatchOp) error {
	return c.patch(ctx, "/Groups/"+url.PathEscape(id), ops)
}

// DeleteGroup deletes a group; a group that is already gone is not an error.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.delete(ctx, "/Groups/"+url.PathEscape(id))
}

func (c *Client) patch(ctx context.Context, path string, ops []PatchOp) error {
	if len(ops) == 0 {
		return nil
	}
	body := patchRequest{Schemas: []string{MessagePatchOp}, Operations: ops}
	// Targets answer 200 with the resource or 204 without; the body is not needed.
	return c.do(ctx, http.MethodPatch, path, nil, body, nil)
}

func (c *Client) delete(ctx context.Context, path string) error {
	err := c.do(ctx, http.MethodDelete, path, nil, nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

func userSchemas(u *User) []string {
	if u.Enterprise != nil {
		return []string{SchemaUser, SchemaEnterpriseUser}
	}
	return []string{SchemaUser}
}

// listAll pages through a query with startIndex/count until totalResults are read. It copes with
// targets returning fewer than count items per page, and stops on one that ignores startIndex.
func listAll[T any](ctx context.Context, c *Client, path, filter string) ([]T, error) {
	var all []T
	start := 1
	count := c.pageSize()
	var prevFirst []byte
	for {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(count)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page struct {
			ListResponse[json.RawMessage]
		}
		if err := c.do(ctx, http.MethodGet, path, q, nil, &page); err != nil {
			return nil, err
		}
		n := len(page.Resources)
		if n > 0 {
			if prevFirst != nil && bytes.Equal(prevFirst, page.Resources[0]) {
				return nil, fmt.Errorf("scim: GET %s: target returned the same page for startIndex %d; it ignores pagination", path, start)
			}
			prevFirst = page.Resources[0]
		}
		for _, raw := range page.Resources {
			var item T
			if err := json.Unmarshal(raw, &item); err != nil {
				return nil, fmt.Errorf("scim: GET %s: decode resource: %w", path, err)
			}
			all = append(all, item)
		}
		start += n
		switch {
		case n == 0:
			return all, nil
		case page.TotalResults > 0 && start > page.TotalResults:
			return all, nil
		case page.TotalResults <= 0 && n < count:
			// No usable totalResults: a short page is the last one.
			return all, nil
		}
	}
}

// do sends one request, retrying retryable failures, and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("scim: %s %s: encode: %w", method, path, err)
		}
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, target, body, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("scim: %s %s: %w", method, path, ctx.Err())
		}
		if attempt >= c.opts.MaxRetries || !IsRetryable(err) {
			return err
		}
		wait := c.backoff(attempt)
		var se *Error
		if errors.As(err, &se) && se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller's deadline: give up now.
			return err
		}
		c.log.V(1).Info("retrying SCIM request", "method", method, "path", path, "attempt", attempt+1, "wait", wait, "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("scim: %s %s: %w", method, path, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff returns BaseBackoff·2^attempt capped at MaxBackoff, jittered to [d/2, d).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BaseBackoff << min(attempt, 30)
	if d <= 0 || d > c.opts.MaxBackoff {
		d = c.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) once(ctx context.Context, method, path, target string, body []byte, out any) error {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("scim: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/scim+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("scim: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("scim: %s %s: decode response: %w", method, path, err)
		}
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return newError(method, path, resp, raw)
}

func newError(method, path string, resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, Method: method, Path: path}
	var eb errorBody
	if json.Unmarshal(raw, &eb) == nil && (eb.Detail != "" || eb.ScimType != "") {
		e.ScimType = truncate(eb.ScimType, 64)
		e.Detail = truncate(eb.Detail, maxErrorBody)
	} else {
		e.Detail = truncate(strings.TrimSpace(string(raw)), maxErrorBody)
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
