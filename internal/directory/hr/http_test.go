package hr

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

const testToken = "s3cr3t-token"

const testCSV = "employeeId,mail\n2,b@x.org\n1,a@x.org\n"

func TestHTTPSourceETagAndToken(t *testing.T) {
	var requests, bodies atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("Authorization = %q", got)
		}
		if r.Method != http.MethodGet {
			t.Errorf("method = %s", r.Method)
		}
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified) // no body: re-parsing it would fail
			return
		}
		bodies.Add(1)
		w.Header().Set("Content-Type", "application/octet-stream") // ignored
		_, _ = w.Write([]byte(testCSV))
	}))
	defer srv.Close()

	src := NewHTTP(srv.URL+"/hr.csv", csvConfig(), HTTPOptions{BearerToken: testToken})
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	src.now = func() time.Time { return clock }

	first, err := src.Read(context.Background())
	if err != nil {
		t.Fatalf("first Read: %v", err)
	}
	if len(first.Records) != 2 || first.Records[0].ID != "1" || !first.Complete || !first.ReadAt.Equal(clock) {
		t.Fatalf("first snapshot = %+v", first)
	}
	first.Records[0].Attributes["mail"][0] = "changed by the caller" // must not reach the cache

	clock = clock.Add(time.Hour)
	second, err := src.Read(context.Background())
	if err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if requests.Load() != 2 || bodies.Load() != 1 {
		t.Errorf("requests = %d, bodies sent = %d; want 2 and 1", requests.Load(), bodies.Load())
	}
	if !second.ReadAt.Equal(clock) {
		t.Errorf("ReadAt = %v, want %v", second.ReadAt, clock)
	}
	if got := second.Records[0].First("mail"); got != "a@x.org" {
		t.Errorf("cached mail = %q; the cache was changed through a returned snapshot", got)
	}
	first.ReadAt, second.ReadAt = time.Time{}, time.Time{}
	first.Records[0].Attributes["mail"][0] = "a@x.org"
	if !reflect.DeepEqual(first, second) {
		t.Errorf("304 snapshot differs:\n%+v\n%+v", first, second)
	}
}

func TestHTTPSourceNoETagRefetches(t *testing.T) {
	var conditional atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			conditional.Add(1)
		}
		_, _ = w.Write([]byte(testCSV))
	}))
	defer srv.Close()
	src := NewHTTP(srv.URL, csvConfig(), HTTPOptions{})
	for range 2 {
		if _, err := src.Read(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if conditional.Load() != 0 {
		t.Errorf("sent If-None-Match without an ETag")
	}
}

func TestHTTPSourceMalformedBodyIsNotCached(t *testing.T) {
	var body atomic.Value
	body.Store("not,a\nvalid\"file")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"x"`)
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	defer srv.Close()
	src := NewHTTP(srv.URL, csvConfig(), HTTPOptions{})
	if _, err := src.Read(context.Background()); directory.KindOf(err) != directory.KindInvalidConfig {
		t.Fatalf("err = %v, want KindInvalidConfig (no employeeId column)", err)
	}
	body.Store(testCSV)
	snap, err := src.Read(context.Background())
	if err != nil || len(snap.Records) != 2 {
		t.Fatalf("second Read = %+v, %v; want the new body parsed", snap, err)
	}
}

func TestHTTPSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		opts    HTTPOptions
		kind    directory.ErrorKind
	}{
		{"401", statusHandler(http.StatusUnauthorized), HTTPOptions{}, directory.KindAuthFailed},
		{"403", statusHandler(http.StatusForbidden), HTTPOptions{}, directory.KindAuthFailed},
		{"404", statusHandler(http.StatusNotFound), HTTPOptions{}, directory.KindNotFound},
		{"500", statusHandler(http.StatusInternalServerError), HTTPOptions{}, directory.KindUnreachable},
		{"503", statusHandler(http.StatusServiceUnavailable), HTTPOptions{}, directory.KindUnreachable},
		{"unexpected 304", statusHandler(http.StatusNotModified), HTTPOptions{}, directory.KindMalformed},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, HTTPOptions{Timeout: 100 * time.Millisecond}, directory.KindUnreachable},
		{"body over the limit", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(testCSV))
		}, HTTPOptions{MaxBytes: int64(len(testCSV)) - 1}, directory.KindTooLarge},
		{"streamed body over the limit", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush() // no Content-Length
			for range 100 {
				_, _ = w.Write([]byte(strings.Repeat("x", 1000)))
			}
		}, HTTPOptions{MaxBytes: 50_000}, directory.KindTooLarge},
		{"malformed body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(nil)
		}, HTTPOptions{}, directory.KindMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			tc.opts.BearerToken = testToken
			snap, err := NewHTTP(srv.URL+"/hr.csv?key=value", csvConfig(), tc.opts).Read(context.Background())
			if got := directory.KindOf(err); got != tc.kind {
				t.Fatalf("got %+v, %v; want kind %s", snap, err, tc.kind)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error reveals the token: %v", err)
			}
		})
	}
}

func statusHandler(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func TestHTTPSourceBodyWithinLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(testCSV))
	}))
	defer srv.Close()
	snap, err := NewHTTP(srv.URL, csvConfig(), HTTPOptions{MaxBytes: int64(len(testCSV))}).Read(context.Background())
	if err != nil || len(snap.Records) != 2 {
		t.Fatalf("Read = %+v, %v", snap, err)
	}
}

func TestHTTPSourceUnreachableHidesQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	_, err := NewHTTP(addr+"/hr.csv?token=query-secret", csvConfig(), HTTPOptions{}).Read(context.Background())
	if directory.KindOf(err) != directory.KindUnreachable {
		t.Fatalf("err = %v, want KindUnreachable", err)
	}
	if strings.Contains(err.Error(), "query-secret") {
		t.Errorf("error reveals the URL query: %v", err)
	}
}

func TestHTTPSourceCustomCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(testCSV))
	}))
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	if _, err := NewHTTP(srv.URL, csvConfig(), HTTPOptions{}).Read(context.Background()); directory.KindOf(err) != directory.KindUnreachable {
		t.Errorf("without the CA: err = %v, want KindUnreachable", err)
	}
	snap, err := NewHTTP(srv.URL, csvConfig(), HTTPOptions{CACertPEM: caPEM}).Read(context.Background())
	if err != nil || len(snap.Records) != 2 {
		t.Errorf("with the CA: %+v, %v", snap, err)
	}
	snap, err = NewHTTP(srv.URL, csvConfig(), HTTPOptions{Client: srv.Client()}).Read(context.Background())
	if err != nil || len(snap.Records) != 2 {
		t.Errorf("with the server's client: %+v, %v", snap, err)
	}
}

func TestHTTPSourceInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		cfg  Config
		opts HTTPOptions
	}{
		{"bad config", "http://127.0.0.1/", Config{Format: "csv"}, HTTPOptions{}},
		{"relative URL", "/hr.csv", csvConfig(), HTTPOptions{}},
		{"ftp URL", "ftp://127.0.0.1/hr.csv", csvConfig(), HTTPOptions{}},
		{"unparsable URL", "http://user:pa ss@127.0.0.1:bad/", csvConfig(), HTTPOptions{}},
		{"not PEM", "https://127.0.0.1/", csvConfig(), HTTPOptions{CACertPEM: []byte("nope")}},
		{"client and CA", "https://127.0.0.1/", csvConfig(), HTTPOptions{Client: &http.Client{}, CACertPEM: []byte("x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHTTP(tc.url, tc.cfg, tc.opts).Read(context.Background())
			if directory.KindOf(err) != directory.KindInvalidConfig {
				t.Errorf("err = %v, want KindInvalidConfig", err)
			}
			if strings.Contains(err.Error(), "pa ss") {
				t.Errorf("error reveals the URL password: %v", err)
			}
		})
	}
}

func TestStaticSource(t *testing.T) {
	data := []byte(testCSV)
	src := NewStatic(data, csvConfig())
	copy(data, "XXXXXXXXXX") // the caller reusing its buffer must not matter
	before := time.Now()
	snap, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 2 || !snap.Complete || snap.ReadAt.Before(before) {
		t.Errorf("snapshot = %+v", snap)
	}
	if _, err := NewStatic(nil, csvConfig()).Read(context.Background()); directory.KindOf(err) != directory.KindMalformed {
		t.Errorf("empty data: err = %v, want KindMalformed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx); err == nil {
		t.Error("Read with a cancelled context succeeded")
	}
}
