// Package scim is a SCIM 2.0 (RFC 7643/7644) client for pushing users and groups to a target
// application, with capability discovery, rate-limit aware retries, bounded pagination, and an
// adapter (Target) speaking the model package's terms.
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/go-logr/logr"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/directory-sync/directory-sync-operator/internal/redact"
	"github.com/directory-sync/directory-sync-operator/internal/target"
	"github.com/directory-sync/directory-sync-operator/internal/textutil"
)

// Defaults of Options.
const (
	DefaultPageSize             = 100  // when neither the spec nor the server says
	MaxPageSize                 = 1000 // the largest page asked for, whatever the server allows
	DefaultMaxMembersPerRequest = 50
	DefaultMaxRetries           = 5
	DefaultMaxPages             = 100_000
	DefaultMaxItems             = 2_000_000
	DefaultMaxBodyBytes         = 64 << 20
	// maxRateLimitWaits bounds how often one request waits for a 429; the run's deadline bounds
	// the total time.
	maxRateLimitWaits = 1000
	// drainLimit bounds what is read of an answer the client does not need (a PATCH's resource, what
	// follows a decoded value), so that its connection is reused; a longer rest costs more than a
	// new connection.
	drainLimit = 1 << 20
	// maxListAhead bounds the list pages asked for ahead of the one being read (see listAll).
	maxListAhead = 4
)

// Options configure a Client. Zero values select the documented defaults.
type Options struct {
	Token string // sent as "Authorization: Bearer <Token>"; never logged
	// TokenSource, when set, supplies the bearer token instead of Token (OAuth 2.0 client
	// credentials); it is asked before every request and refreshes the token before it expires.
	TokenSource oauth2.TokenSource
	HTTPClient  *http.Client // default: a client with a 30s timeout
	// MaxRetries is how often a 5xx or transport timeout is retried: 0 means 5, a negative value
	// disables retries (429 included). 429 answers are waited for as the target asks, as long as
	// the context's deadline allows.
	MaxRetries  int
	BaseBackoff time.Duration // first backoff; default 200ms, doubled per attempt, with jitter
	MaxBackoff  time.Duration // backoff cap; default 10s (Retry-After is honoured beyond it)
	// Concurrency bounds the requests this client has in flight at once; default 4.
	Concurrency int
	// MaxRequestsPerSecond paces all requests of the client (0: no pacing).
	MaxRequestsPerSecond float64
	// PageSize is the list page size (count): default the server's filter.maxResults (at most
	// MaxPageSize), else 100; never above what the server advertises.
	PageSize int
	// MaxMembersPerRequest bounds the members one PATCH operation adds or removes; default 50,
	// lowered to bulk.maxOperations where the server advertises one.
	MaxMembersPerRequest int
	// Capabilities override what /ServiceProviderConfig says, for servers that lie.
	Capabilities CapabilityOverrides
	// Discovery, when set, shares discovery answers with other clients of the same target for a
	// bounded time (see DiscoveryCache). DiscoveryKey tells apart clients of the same base URL that
	// may be told different things (other credentials or TLS settings); it must not hold a secret.
	Discovery    *DiscoveryCache
	DiscoveryKey string
	// Limits bound a listing; an exceeded limit is an error, never a partial listing.
	Limits    ListLimits
	UserAgent string
	Logger    logr.Logger // optional
}

// CapabilityOverrides replace discovered capabilities; nil fields keep what the server says.
type CapabilityOverrides struct {
	FilterSupported   *bool
	PatchSupported    *bool
	ETagSupported     *bool
	MaxResults        *int
	BulkMaxOperations *int
}

// ListLimits are the ceilings of one listing.
type ListLimits struct {
	MaxPages     int   // default 100,000
	MaxItems     int   // default 2,000,000
	MaxBodyBytes int64 // per response; default 64 MiB
}

// Client talks SCIM 2.0 to one service provider. It is safe for concurrent use.
type Client struct {
	base    string
	origin  string // scheme://host:port of base
	opts    Options
	hc      *http.Client
	log     logr.Logger
	sem     chan struct{}
	limiter *rate.Limiter // nil without MaxRequestsPerSecond

	mu         sync.Mutex
	pauseUntil time.Time // set by a 429: every request waits until then

	discoverMu sync.Mutex
	caps       *Capabilities
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
		opts.MaxRetries = DefaultMaxRetries
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
	if opts.MaxMembersPerRequest <= 0 {
		opts.MaxMembersPerRequest = DefaultMaxMembersPerRequest
	}
	if opts.Limits.MaxPages <= 0 {
		opts.Limits.MaxPages = DefaultMaxPages
	}
	if opts.Limits.MaxItems <= 0 {
		opts.Limits.MaxItems = DefaultMaxItems
	}
	if opts.Limits.MaxBodyBytes <= 0 {
		opts.Limits.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "directory-sync-operator"
	}
	log := opts.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), origin: originOf(u), opts: opts, log: log,
		sem: make(chan struct{}, opts.Concurrency),
	}
	if opts.MaxRequestsPerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(opts.MaxRequestsPerSecond), 1) // no bursts: servers count per second
	}
	// A copy of the caller's client that never follows a redirect to another origin, nor one that
	// would change the method: the bearer token and SCIM writes stay with the configured target.
	hc := *opts.HTTPClient
	hc.CheckRedirect = c.checkRedirect
	c.hc = &hc
	return c, nil
}

func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// ErrRedirect is returned for a redirect the client refuses to follow.
var ErrRedirect = errors.New("scim: refused to follow a redirect")

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	switch {
	case originOf(req.URL) != c.origin:
		return fmt.Errorf("%w to another origin (scheme, host or port); the token and writes stay with the configured URL", ErrRedirect)
	case req.Method != via[0].Method:
		return fmt.Errorf("%w that changes the method from %s to %s", ErrRedirect, via[0].Method, req.Method)
	case len(via) >= 5:
		return fmt.Errorf("%w: more than 5 redirects", ErrRedirect)
	}
	return nil
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
	return c.patchWith(ctx, path, nil, ops)
}

// patchWith is patch with extra request headers (If-Match).
func (c *Client) patchWith(ctx context.Context, path string, header http.Header, ops []PatchOp) error {
	if len(ops) == 0 {
		return nil
	}
	body := patchRequest{Schemas: []string{MessagePatchOp}, Operations: ops}
	// Targets answer 200 with the resource or 204 without; the body is not needed.
	return c.doWith(ctx, http.MethodPatch, path, nil, header, body, nil)
}

func (c *Client) delete(ctx context.Context, path string) error {
	err := c.do(ctx, http.MethodDelete, path, nil, nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

func userSchemas(u *User) []string {
	out := []string{SchemaUser}
	if u.Enterprise != nil {
		out = append(out, SchemaEnterpriseUser)
	}
	for _, urn := range extensionSchemas(u.Extra) {
		if !slices.ContainsFunc(out, func(s string) bool { return strings.EqualFold(s, urn) }) {
			out = append(out, urn)
		}
	}
	return out
}

// listAll pages through a query with startIndex/count until totalResults are read. It copes with
// targets returning fewer than count items per page, stops on one that ignores startIndex, and
// fails when the listing exceeds the client's page or item ceiling.
//
// Once the first page tells totalResults, up to listAhead further pages are asked for at once, at
// the offsets the page before suggests (pages of the size it had, within totalResults), while the
// client decodes: a listing costs about one round trip per listAhead pages instead of one per page.
// A guess that proves wrong (an irregular short page) drops the pages asked after it and asks again
// at the right offset; regular pages waste no request.
func listAll[T any](ctx context.Context, c *Client, path, filter string) ([]T, error) {
	count, err := c.pageSize(ctx)
	if err != nil {
		return nil, err
	}
	lim := c.opts.Limits
	ahead := c.listAhead()
	var all []T
	start := 1
	var prevFirst []byte
	var queue []*pageFetch // pages asked for, in offset order; queue[0] is the next one read
	defer func() {
		for _, f := range queue {
			f.drop()
		}
	}()
	for pages := 1; ; pages++ {
		if pages > lim.MaxPages {
			return nil, fmt.Errorf("scim: GET %s: more than %d pages; the target's pagination does not end", path, lim.MaxPages)
		}
		if len(queue) == 0 || queue[0].start != start {
			// No page asked for at this offset (the first page, or a wrong guess): ask again from here.
			for _, f := range queue {
				f.drop()
			}
			queue = append(queue[:0], fetchPage(ctx, c, path, filter, start, count))
		}
		r := <-queue[0].done
		queue = queue[1:]
		if r.err != nil {
			return nil, r.err
		}
		var page ListResponse[T]
		if err := decodeList(r.body, &page); err != nil {
			return nil, decodeError(http.MethodGet, path, err)
		}
		n := len(page.Resources)
		// Ask for the pages after this one before working on it, sized as this one was.
		if n > 0 && page.TotalResults > 0 && (len(queue) == 0 || queue[0].start == start+n) {
			next := start + n
			if k := len(queue); k > 0 {
				next = queue[k-1].start + n
			}
			for len(queue) < ahead && next <= page.TotalResults && pages+len(queue) < lim.MaxPages {
				queue = append(queue, fetchPage(ctx, c, path, filter, next, count))
				next += n
			}
		}
		if n > 0 {
			// The first resource as decoded stands for the page: equal twice in a row means the
			// target ignores startIndex.
			first, err := json.Marshal(&page.Resources[0])
			if err != nil {
				return nil, fmt.Errorf("scim: GET %s: %w", path, err)
			}
			if prevFirst != nil && bytes.Equal(prevFirst, first) {
				return nil, fmt.Errorf("scim: GET %s: target returned the same page for startIndex %d; it ignores pagination", path, start)
			}
			prevFirst = first
		}
		if len(all)+n > lim.MaxItems {
			return nil, fmt.Errorf("scim: GET %s: more than %d resources; the listing was stopped", path, lim.MaxItems)
		}
		all = append(all, page.Resources...)
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

// listAhead is how many list pages one listing has in flight at most: the client's concurrency,
// which the user chose as what the target bears, but no more than maxListAhead.
func (c *Client) listAhead() int { return max(1, min(c.opts.Concurrency, maxListAhead)) }

// pageFetch is one list page on its way.
type pageFetch struct {
	start  int
	done   chan pageBody
	cancel context.CancelFunc
}

type pageBody struct {
	body rawBody
	err  error
}

func fetchPage(ctx context.Context, c *Client, path, filter string, start, count int) *pageFetch {
	ctx, cancel := context.WithCancel(ctx)
	f := &pageFetch{start: start, done: make(chan pageBody, 1), cancel: cancel}
	q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(count)}}
	if filter != "" {
		q.Set("filter", filter)
	}
	go func() {
		defer cancel()
		var b rawBody
		err := c.do(ctx, http.MethodGet, path, q, nil, &b)
		f.done <- pageBody{b, err}
	}()
	return f
}

// drop abandons a page nobody will read.
func (f *pageFetch) drop() {
	if f != nil {
		f.cancel()
	}
}

// rawBody receives a 2xx answer undecoded (within Limits.MaxBodyBytes).
type rawBody []byte

// do sends one request, retrying retryable failures within the context's deadline, and decodes a
// 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.doWith(ctx, method, path, query, nil, in, out)
}

func (c *Client) doWith(ctx context.Context, method, path string, query url.Values, header http.Header, in, out any) error {
	err := c.send(ctx, method, path, query, header, in, out)
	if err != nil {
		c.noteFailure(ctx, err)
	}
	return err
}

// send is doWith without the bookkeeping of failures.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, header http.Header, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("scim: %s %s: encode: %w", method, path, err)
		}
	}
	rawURL := c.base + path
	if len(query) > 0 {
		rawURL += "?" + query.Encode()
	}
	retries, rateWaits := 0, 0
	for {
		err := c.once(ctx, method, path, rawURL, header, body, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("scim: %s %s: %w", method, path, ctx.Err())
		}
		if c.opts.MaxRetries < 0 || !IsRetryable(err) {
			return err
		}
		var se *Error
		limited := errors.As(err, &se) && se.Status == http.StatusTooManyRequests
		if limited {
			if rateWaits >= maxRateLimitWaits {
				return err
			}
			rateWaits++
		} else {
			if retries >= c.opts.MaxRetries {
				return err
			}
			retries++
		}
		wait := c.backoff(retries + rateWaits - 1)
		if se != nil && se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller's deadline: give up now.
			return err
		}
		if limited {
			c.pause(wait)
		}
		c.log.V(1).Info("retrying SCIM request", "method", method, "path", path, "wait", wait, "error", err.Error())
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("scim: %s %s: %w", method, path, err)
		}
	}
}

// pause makes every request of the client wait d: a rate limit is the server's, not one request's.
func (c *Client) pause(d time.Duration) {
	c.mu.Lock()
	if until := time.Now().Add(d); until.After(c.pauseUntil) {
		c.pauseUntil = until
	}
	c.mu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff returns BaseBackoff·2^attempt capped at MaxBackoff, jittered to [d/2, d).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BaseBackoff << min(max(attempt, 0), 30)
	if d <= 0 || d > c.opts.MaxBackoff {
		d = c.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) once(ctx context.Context, method, path, rawURL string, header http.Header, body []byte, out any) error {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	wait := time.Until(c.pauseUntil)
	c.mu.Unlock()
	if err := sleep(ctx, wait); err != nil {
		return err
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("scim: %s %s: %w", method, path, err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return fmt.Errorf("scim: %s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/scim+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if err := c.authorize(req); err != nil {
		return err
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.Is(err, ErrRedirect) && errors.As(err, &uerr) {
			return fmt.Errorf("scim: %s %s: %w", method, path, uerr.Err) // checkRedirect's own words
		}
		// net/http's text quotes the server's bytes (a malformed answer): describe it instead.
		return fmt.Errorf("scim: %s %s: %w", method, path, redact.Wrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
			return nil
		}
		lr := &limitedReader{r: resp.Body, left: c.opts.Limits.MaxBodyBytes}
		if raw, ok := out.(*rawBody); ok {
			b, err := io.ReadAll(lr)
			switch {
			case lr.exceeded:
				return fmt.Errorf("scim: %s %s: the response is larger than %d bytes", method, path, c.opts.Limits.MaxBodyBytes)
			case err != nil:
				return fmt.Errorf("scim: %s %s: %w", method, path, redact.Wrap(err))
			}
			*raw = b
			return nil
		}
		if err := json.NewDecoder(lr).Decode(out); err != nil {
			if lr.exceeded {
				return fmt.Errorf("scim: %s %s: the response is larger than %d bytes", method, path, c.opts.Limits.MaxBodyBytes)
			}
			return decodeError(method, path, err)
		}
		// The decoder stops after the JSON value; a chunked body's last chunk is still unread then,
		// and a body closed before its end closes the connection: every list page would open a new one.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// A redirect the client refused (checkRedirect) or one without a Location.
		return fmt.Errorf("scim: %s %s: %w: %d %s", method, path, ErrRedirect, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := newError(method, path, resp, raw)
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return &target.AuthError{Status: e.Status, Err: e}
	}
	return e
}

// authorize sets the bearer token from Token or TokenSource.
func (c *Client) authorize(req *http.Request) error {
	if ts := c.opts.TokenSource; ts != nil {
		tok, err := ts.Token()
		if err != nil {
			// The token endpoint's answer may echo the secret: say what failed, not what it said.
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.Response != nil {
				code := re.Response.StatusCode // not Status: the reason phrase is the endpoint's own text
				return &target.AuthError{Err: fmt.Errorf("scim: obtaining an OAuth 2.0 token failed: the token endpoint answered %d %s", code, http.StatusText(code))}
			}
			return &target.AuthError{Err: errors.New("scim: obtaining an OAuth 2.0 token failed (token endpoint unreachable or invalid answer)")}
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return nil
	}
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	return nil
}

// limitedReader fails once more than left bytes were read, so that a huge body is an error and
// not an out-of-memory of the shared manager.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errBodyTooLarge = errors.New("response body too large")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.exceeded = true
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func newError(method, path string, resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, Method: method, Path: path}
	var eb errorBody
	if json.Unmarshal(raw, &eb) == nil && (eb.Detail != "" || eb.ScimType != "") {
		e.ScimType = textutil.Truncate(eb.ScimType, 64)
		e.Detail = textutil.Truncate(eb.Detail, maxErrorBody)
	} else {
		e.Detail = textutil.Truncate(strings.TrimSpace(string(raw)), maxErrorBody)
	}
	e.RetryAfter = retryAfter(resp.Header, time.Now())
	return e
}

// retryAfter reads how long the target asks to wait: Retry-After (RFC 9110 §10.2.3, seconds or an
// HTTP-date), or the rate-limit headers real servers send instead: X-Retry-After, RateLimit-Reset
// (seconds) and X-RateLimit-Reset (seconds, or a Unix time).
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"Retry-After", "X-Retry-After", "RateLimit-Reset", "X-RateLimit-Reset"} {
		if d := parseRetryAfter(h.Get(name), now); d > 0 {
			return d
		}
	}
	return 0
}

// parseRetryAfter reads delay-seconds, a Unix time (a number beyond 10⁹) or an HTTP-date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs >= 1_000_000_000 {
			secs = int64(time.Unix(secs, 0).Sub(now).Seconds() + 0.999)
		}
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// decodeError says an answer is not the JSON expected; encoding/json's own text would quote the
// offending character of the body.
func decodeError(method, path string, err error) error {
	return fmt.Errorf("scim: %s %s: the response is not the expected JSON (%s)", method, path, jsonErrorKind(err))
}

// jsonErrorKind names what kind of JSON error err is, without the quoted input.
func jsonErrorKind(err error) string {
	var (
		syn   *json.SyntaxError
		typ   *json.UnmarshalTypeError
		synV2 *jsonv1.SyntaxError // decodeList's
		typV2 *jsonv1.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &synV2):
		return fmt.Sprintf("syntax error at byte %d", synV2.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("a %s where %s was expected at byte %d", typ.Value, typ.Type, typ.Offset)
	case errors.As(err, &typV2):
		return fmt.Sprintf("a %s where %s was expected at byte %d", typV2.Value, typV2.Type, typV2.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the body ends early"
	}
	return "unreadable"
}

// HTTPClient returns the HTTP client requests go through (redirect policy applied).
func (c *Client) HTTPClient() *http.Client { return c.hc }
