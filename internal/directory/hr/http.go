package hr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/redact"
)

// Defaults of HTTPOptions.
const (
	DefaultMaxBytes    = 32 << 20
	DefaultHTTPTimeout = 30 * time.Second
)

// HTTPOptions tunes how an HR record is fetched.
type HTTPOptions struct {
	// BearerToken, if set, is sent as "Authorization: Bearer <token>". It never appears in errors.
	BearerToken string
	// Timeout bounds one Read, body included; default DefaultHTTPTimeout.
	Timeout time.Duration
	// MaxBytes bounds the body size; default DefaultMaxBytes. A larger body is a KindTooLarge error.
	MaxBytes int64
	// Client, if set, is used (e.g. with its own TLS configuration) with the redirect policy that
	// keeps the token with the configured origin in place of its own.
	Client *http.Client
	// CACertPEM, if set, holds the PEM certificates that alone are trusted for the server's
	// certificate. It cannot be combined with Client.
	CACertPEM []byte
}

// HTTPSource fetches an HR record with GET. It remembers the last successfully parsed snapshot
// and its ETag: when the server answers 304 Not Modified, that snapshot is returned again (with
// a fresh ReadAt) without re-parsing. The Content-Type is ignored; the format comes from Config.
// It is safe for concurrent use.
type HTTPSource struct {
	url     string
	cfg     Config
	opts    HTTPOptions
	client  *http.Client
	initErr error
	now     func() time.Time

	mu     sync.Mutex
	etag   string
	cached *model.Snapshot
}

var _ directory.Source = (*HTTPSource)(nil)

// NewHTTP returns a source reading the HR record at rawURL. Configuration errors (bad URL,
// Config or CA certificates) are reported by Read as KindInvalidConfig.
func NewHTTP(rawURL string, cfg Config, opts HTTPOptions) *HTTPSource {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultHTTPTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	s := &HTTPSource{url: rawURL, cfg: cfg, opts: opts, now: time.Now}
	s.client, s.initErr = buildClient(rawURL, cfg, opts)
	return s
}

func buildClient(rawURL string, cfg Config, opts HTTPOptions) (*http.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL itself is not quoted: it may carry credentials.
		return nil, directory.Errorf(directory.KindInvalidConfig, nil, "HR record URL must be an absolute http or https URL")
	}
	switch {
	case opts.Client != nil && len(opts.CACertPEM) > 0:
		return nil, directory.Errorf(directory.KindInvalidConfig, nil, "a custom HTTP client and CA certificates cannot be combined")
	case opts.Client != nil:
		c := *opts.Client // a copy: the caller's client keeps its own redirect policy
		c.CheckRedirect = checkRedirect
		return &c, nil
	case len(opts.CACertPEM) > 0:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opts.CACertPEM) {
			return nil, directory.Errorf(directory.KindInvalidConfig, nil, "CA certificates hold no PEM certificate")
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		return &http.Client{Transport: transport, CheckRedirect: checkRedirect}, nil
	}
	return &http.Client{CheckRedirect: checkRedirect}, nil
}

// maxRedirects is how many redirects one Read follows, as many as net/http's default.
const maxRedirects = 10

var (
	errTooManyRedirects = errors.New("too many redirects")
	errRedirectToHTTP   = errors.New("redirect from https to http")
)

// checkRedirect keeps the bearer token with the configured origin. net/http forwards the
// Authorization header to any redirect whose host name matches or is a subdomain of the
// original one, whatever the scheme and port: another service on the same host would get the
// token. Here the header is dropped whenever scheme, host or port differ from the configured
// URL's, and a redirect from https to plain http is refused, since the record holds personal data.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errTooManyRedirects
	}
	origin := via[0].URL
	if origin.Scheme == "https" && req.URL.Scheme != "https" {
		return errRedirectToHTTP
	}
	if !sameOrigin(origin, req.URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

// sameOrigin compares scheme, host and port (RFC 6454), with the scheme's default port filled in.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// Read fetches and parses the HR record.
func (s *HTTPSource) Read(ctx context.Context) (*model.Snapshot, error) {
	if s.initErr != nil {
		return nil, s.initErr
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, directory.Errorf(directory.KindInvalidConfig, nil, "HR record request cannot be built")
	}
	if s.opts.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.BearerToken)
	}
	s.mu.Lock()
	etag := s.etag
	s.mu.Unlock()
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}

	resp, err := s.client.Do(req)
	switch {
	case errors.Is(err, errRedirectToHTTP):
		return nil, directory.Errorf(directory.KindInvalidConfig, nil,
			"HR record server at %s redirects from https to plain http; the redirect was not followed", s.redactedURL())
	case errors.Is(err, errTooManyRedirects):
		return nil, directory.Errorf(directory.KindInvalidConfig, nil,
			"HR record server at %s redirects more than %d times", s.redactedURL(), maxRedirects)
	case err != nil:
		return nil, s.transportError(ctx, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		_ = resp.Body.Close()
	}()

	// The status is named by its code: the reason phrase is the server's own text, which a
	// hostile or misconfigured server may fill with what it was sent. The body is never read.
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
	case code == http.StatusNotModified:
		return s.notModified()
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, directory.Errorf(directory.KindAuthFailed, nil, "HR record server answered %s", statusName(code))
	case code == http.StatusNotFound || code == http.StatusGone:
		return nil, directory.Errorf(directory.KindNotFound, nil, "HR record server answered %s", statusName(code))
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return nil, directory.Errorf(directory.KindUnreachable, nil, "HR record server answered %s", statusName(code))
	default:
		return nil, directory.Errorf(directory.KindInvalidConfig, nil, "HR record server answered unexpected %s", statusName(code))
	}

	if resp.ContentLength > s.opts.MaxBytes {
		return nil, s.tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.opts.MaxBytes+1))
	if err != nil {
		return nil, s.transportError(ctx, err)
	}
	if int64(len(body)) > s.opts.MaxBytes {
		return nil, s.tooLarge()
	}

	snap, err := Parse(body, s.cfg)
	if snap != nil {
		snap.ReadAt = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && resp.Header.Get("ETag") != "" {
		s.etag, s.cached = resp.Header.Get("ETag"), cloneSnapshot(snap)
	} else {
		s.etag, s.cached = "", nil
	}
	return snap, err
}

func (s *HTTPSource) notModified() (*model.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == nil {
		return nil, directory.Errorf(directory.KindMalformed, nil, "HR record server answered 304 Not Modified to an unconditional request")
	}
	snap := cloneSnapshot(s.cached)
	snap.ReadAt = s.now()
	return snap, nil
}

func (s *HTTPSource) tooLarge() error {
	return directory.Errorf(directory.KindTooLarge, nil, "HR record exceeds the limit of %d bytes", s.opts.MaxBytes)
}

// statusName is "401 Unauthorized" for a known code, the bare number otherwise.
func statusName(code int) string {
	if text := http.StatusText(code); text != "" {
		return fmt.Sprintf("%d %s", code, text)
	}
	return fmt.Sprint(code)
}

// transportError classifies a failed request or body read. Its text is described, not quoted
// (see redact.Transport): net/http quotes the URL, query included, and the server's bytes.
func (s *HTTPSource) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return directory.Errorf(directory.KindUnreachable, context.DeadlineExceeded, "HR record not read within %s", s.opts.Timeout)
	}
	return directory.Errorf(directory.KindUnreachable, nil, "HR record cannot be fetched from %s: %s", s.redactedURL(), redact.Transport(err))
}

// redactedURL returns scheme, host and path of the URL, without user info or query.
func (s *HTTPSource) redactedURL() string {
	u, err := url.Parse(s.url)
	if err != nil {
		return "the configured URL"
	}
	return fmt.Sprintf("%s://%s%s", u.Scheme, u.Host, u.Path)
}
