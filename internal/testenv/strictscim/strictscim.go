// Package strictscim is a second, independent SCIM 2.0 server for tests, built in-process on the
// github.com/elimity-com/scim library. Where the SCIMMY server (internal/testenv/scimserver) is lenient,
// this one is strict the way real applications are: schema validation including the enterprise
// extension and unknown attributes, 409 uniqueness on userName and emails, small pages, a member cap per
// PATCH operation, and switches for servers without filtering or PATCH, that normalise case, require an
// email, keep derived values, or rate-limit. /ServiceProviderConfig tells the truth about the switches.
//
// It serves on 127.0.0.1:0 under /scim/v2 and mirrors scimserver's test controls (Reset, faults,
// request counts, Dump) so tests can run table-driven over both servers.
package strictscim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
)

const basePath = "/scim/v2"

// FaultLostResponse processes the request and then answers 500, like a response lost on the way:
// the write happened, the client cannot know.
const FaultLostResponse scimserver.FaultKind = "lost"

// Options switch the server's behaviour. The zero value is a strict, fully featured server with
// pages of at most 50 and at most 100 members per PATCH operation.
type Options struct {
	// Token is the bearer token the server accepts; "strict-token" when empty.
	Token string
	// PageSize caps every list page (and is advertised as filter.maxResults); 50 when zero.
	PageSize int
	// MaxMembersPerOp caps the members one PATCH operation may add or replace; 100 when zero,
	// negative for no cap.
	MaxMembersPerOp int
	// MaxOperations caps the operations of one PATCH request; 0 for no cap.
	MaxOperations int
	// NoFilter answers every filtered list request with 400 invalidFilter.
	NoFilter bool
	// NoPatch answers every PATCH with 501 Not Implemented.
	NoPatch bool
	// ETag enables versions: responses carry ETag/meta.version and a stale If-Match gets 412.
	ETag bool
	// Normalize stores userName and email values in lower case.
	Normalize bool
	// RequireEmail refuses users without an email (on create, replace and patch).
	RequireEmail bool
	// KeepFormattedName derives name.formatted from the name parts and never removes it, like
	// servers that keep derived values after the parts are gone.
	KeepFormattedName bool
	// RateLimit allows that many requests per RateWindow (a fixed window); 0 disables it.
	RateLimit  int
	RateWindow time.Duration // 10s when zero
	// RateLimitHeader names the header carrying the seconds until the window resets with a 429:
	// "Retry-After" (default), "RateLimit-Reset", "X-RateLimit-Reset" (an epoch time) or "X-Retry-After".
	RateLimitHeader string
	// RequireIfMatch answers a PUT, PATCH or DELETE without If-Match with 428 (only with ETag).
	RequireIfMatch bool
	// UserExtensions are further User schema extensions (custom URNs) next to the enterprise one.
	UserExtensions []schema.Schema
}

func (o Options) withDefaults() Options {
	if o.Token == "" {
		o.Token = "strict-token"
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.MaxMembersPerOp == 0 {
		o.MaxMembersPerOp = 100
	}
	if o.RateWindow <= 0 {
		o.RateWindow = 10 * time.Second
	}
	if o.RateLimitHeader == "" {
		o.RateLimitHeader = "Retry-After"
	}
	return o
}

// Server is a running strict SCIM server.
type Server struct {
	base string // http://127.0.0.1:PORT
	hs   *http.Server
	ln   net.Listener

	mu        sync.Mutex
	initial   Options
	opts      Options
	lib       http.Handler // the elimity-com/scim server for the current options
	store     *store
	counts    map[string]int
	faults    []*fault
	window    time.Time // start of the current rate-limit window
	inWindow  int
	logs      bytes.Buffer
	throttled int
}

type fault struct {
	scimserver.Fault
	left int // remaining matches; -1 for unlimited
}

// Start serves a strict SCIM server on a free loopback port until Stop.
func Start(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{base: "http://" + ln.Addr().String(), ln: ln, initial: opts}
	if err := s.reset(opts); err != nil {
		ln.Close()
		return nil, err
	}
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// URL returns the SCIM base URL.
func (s *Server) URL() string { return s.base + basePath }

// Token returns the accepted bearer token.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Token
}

// Stop shuts the server down.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.hs.Shutdown(ctx)
}

// Logs returns one line per request served (method, path, status).
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// Reset empties the store and restores the options given to Start; faults and counts are cleared.
func (s *Server) Reset(context.Context) error { return s.reset(s.initial) }

// Configure empties the store like Reset and switches to opts until the next Reset.
func (s *Server) Configure(opts Options) error { return s.reset(opts) }

func (s *Server) reset(opts Options) error {
	opts = opts.withDefaults()
	lib, st, err := newLibraryServer(opts, s.base+basePath)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts, s.lib, s.store = opts, lib, st
	s.counts = map[string]int{}
	s.faults = nil
	s.window, s.inWindow, s.throttled = time.Time{}, 0, 0
	s.logs.Reset()
	return nil
}

// Options returns the options in effect.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// InjectFault adds a fault; faults are checked in the order they were added.
func (s *Server) InjectFault(_ context.Context, f scimserver.Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := f.Count
	if left <= 0 {
		left = -1
	}
	s.faults = append(s.faults, &fault{Fault: f, left: left})
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	return nil
}

// SetMaxPageSize lowers the page cap to n (0 restores the configured one); like scimserver's
// control, it does not change what /ServiceProviderConfig advertises.
func (s *Server) SetMaxPageSize(_ context.Context, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store.pageOverride = n
	return nil
}

// RequestCounts returns the number of SCIM requests seen per HTTP method since the last reset.
func (s *Server) RequestCounts(context.Context) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out, nil
}

// ResetRequestCounts zeroes the request counters.
func (s *Server) ResetRequestCounts(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	return nil
}

// Throttled returns how many requests were answered 429 by the rate limiter since the last reset.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Dump returns the store's content as stored, users with their derived "groups".
func (s *Server) Dump(context.Context) (*scimserver.Dump, error) {
	s.mu.Lock()
	st := s.store
	s.mu.Unlock()
	return st.dump(), nil
}

// ServeHTTP applies the test controls and switches, then hands the request to the library.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.serve(rec, r)
	s.mu.Lock()
	fmt.Fprintf(&s.logs, "%s %s %d\n", r.Method, r.URL.RequestURI(), rec.status)
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, basePath) {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	opts, lib, st := s.opts, s.lib, s.store
	s.counts[r.Method]++
	f := s.matchFault(r)
	wait, limited := s.rateLimited(opts)
	s.mu.Unlock()

	if r.Header.Get("Authorization") != "Bearer "+opts.Token {
		writeError(w, scimerr.ScimError{Status: http.StatusUnauthorized, Detail: "Authorization failure."})
		return
	}
	if limited {
		secs := int(math.Ceil(wait.Seconds()))
		switch opts.RateLimitHeader {
		case "X-RateLimit-Reset":
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(wait).Unix()+1))
		default:
			w.Header().Set(opts.RateLimitHeader, fmt.Sprint(secs))
		}
		writeError(w, scimerr.ScimError{Status: http.StatusTooManyRequests, Detail: "Too many requests."})
		return
	}
	if f != nil {
		switch f.Kind {
		case scimserver.Fault429:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
			}
			writeError(w, scimerr.ScimError{Status: http.StatusTooManyRequests, Detail: "Injected fault."})
			return
		case scimserver.Fault500:
			writeError(w, scimerr.ScimError{Status: http.StatusInternalServerError, Detail: "Injected fault."})
			return
		case scimserver.FaultDelay:
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
	}
	path := strings.TrimPrefix(r.URL.Path, basePath)
	switch {
	case path == "/ServiceProviderConfig" && r.Method == http.MethodGet:
		s.serviceProviderConfig(w, r, lib, opts)
		return
	case opts.NoFilter && r.URL.Query().Has("filter"):
		writeError(w, scimerr.ScimErrorInvalidFilter)
		return
	case opts.NoPatch && r.Method == http.MethodPatch:
		writeError(w, scimerr.ScimError{Status: http.StatusNotImplemented, Detail: "PATCH is not supported."})
		return
	}
	if (r.Method == http.MethodPost || r.Method == http.MethodPut) && (path == "/Users" || strings.HasPrefix(path, "/Users/")) {
		if msg := st.unknownAttributes(r); msg != "" {
			writeError(w, scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidSyntax, Detail: msg})
			return
		}
	}
	if opts.ETag && opts.RequireIfMatch && r.Header.Get("If-Match") == "" && (r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete) {
		writeError(w, scimerr.ScimError{Status: http.StatusPreconditionRequired, Detail: "If-Match is required."})
		return
	}
	if opts.ETag && r.Header.Get("If-Match") != "" && r.Method != http.MethodGet && r.Method != http.MethodPost {
		if cur := st.version(path); cur != "" && cur != r.Header.Get("If-Match") && r.Header.Get("If-Match") != "*" {
			writeError(w, scimerr.ScimError{Status: http.StatusPreconditionFailed, ScimType: "versionMismatch", Detail: "The resource has changed."})
			return
		}
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = path
	if f != nil && f.Kind == FaultLostResponse {
		lib.ServeHTTP(&bufferedWriter{header: http.Header{}}, r2)
		writeError(w, scimerr.ScimError{Status: http.StatusInternalServerError, Detail: "Injected fault after processing."})
		return
	}
	lib.ServeHTTP(w, r2)
}

func (s *Server) matchFault(r *http.Request) *fault {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			if f.left > 0 {
				f.left--
				if f.left == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			return f
		}
	}
	return nil
}

// rateLimited counts r in a fixed window and says how long until it resets when over the limit.
func (s *Server) rateLimited(opts Options) (time.Duration, bool) {
	if opts.RateLimit <= 0 {
		return 0, false
	}
	now := time.Now()
	if s.window.IsZero() || now.Sub(s.window) >= opts.RateWindow {
		s.window, s.inWindow = now, 0
	}
	s.inWindow++
	if s.inWindow > opts.RateLimit {
		s.throttled++
		return s.window.Add(opts.RateWindow).Sub(now), true
	}
	return 0, false
}

// serviceProviderConfig serves the library's document with the switches it does not know about
// (etag, the page cap) set to what the server really does.
func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request, lib http.Handler, opts Options) {
	rec := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/ServiceProviderConfig"
	lib.ServeHTTP(rec, r2)
	var doc map[string]any
	if err := json.Unmarshal(rec.body.Bytes(), &doc); err != nil {
		writeError(w, scimerr.ScimErrorInternal)
		return
	}
	doc["etag"] = map[string]any{"supported": opts.ETag}
	doc["bulk"] = map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0}
	doc["filter"] = map[string]any{"supported": !opts.NoFilter, "maxResults": opts.PageSize}
	doc["patch"] = map[string]any{"supported": !opts.NoPatch}
	w.Header().Set("Content-Type", "application/scim+json")
	_ = json.NewEncoder(w).Encode(doc)
}

func newLibraryServer(opts Options, baseURL string) (http.Handler, *store, error) {
	st := newStore(opts)
	var exts []scim.SchemaExtension
	exts = append(exts, scim.SchemaExtension{Schema: schema.ExtensionEnterpriseUser()})
	for _, e := range opts.UserExtensions {
		exts = append(exts, scim.SchemaExtension{Schema: e})
	}
	st.userExtensions = exts
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			MaxResults:       opts.PageSize,
			SupportFiltering: !opts.NoFilter,
			SupportPatch:     !opts.NoPatch,
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token",
				Description: "Authentication with a bearer token.", Primary: true,
			}},
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description: optional.NewString("User Account"), Schema: schema.CoreUserSchema(),
				SchemaExtensions: exts, Handler: &handler{st: st, kind: kindUser},
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description: optional.NewString("Group"), Schema: schema.CoreGroupSchema(),
				Handler: &handler{st: st, kind: kindGroup},
			},
		},
	}, scim.WithBaseURL(baseURL))
	if err != nil {
		return nil, nil, err
	}
	return srv, st, nil
}

func writeError(w http.ResponseWriter, e scimerr.ScimError) {
	raw, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(raw)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(code int)        { b.status = code }
