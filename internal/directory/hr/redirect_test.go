package hr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// authRecorder serves the test CSV and records the Authorization header of every request.
type authRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	a.mu.Unlock()
	_, _ = w.Write([]byte(testCSV))
}

func (a *authRecorder) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func redirectTo(target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) }
}

// net/http forwards Authorization to the same host name on another port; the HR source must not:
// another port of the same host is another service.
func TestHTTPSourceTokenNeverFollowsARedirectToAnotherPort(t *testing.T) {
	other := &authRecorder{}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	origin := httptest.NewServer(redirectTo(otherSrv.URL + "/hr.csv"))
	defer origin.Close()

	snap, err := NewHTTP(origin.URL+"/export", csvConfig(), HTTPOptions{BearerToken: testToken}).Read(context.Background())
	if err != nil || len(snap.Records) != 2 {
		t.Fatalf("Read = %+v, %v; want the record served after the redirect", snap, err)
	}
	if got := other.requests(); len(got) != 1 || got[0] != "" {
		t.Errorf("Authorization headers seen by the other origin = %q, want one empty", got)
	}
}

func TestHTTPSourceTokenNeverFollowsARedirectToAnotherHost(t *testing.T) {
	other := &authRecorder{}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	// Same port, other host name: "localhost" is not 127.0.0.1 as far as origins go.
	origin := httptest.NewServer(redirectTo(strings.Replace(otherSrv.URL, "127.0.0.1", "localhost", 1)))
	defer origin.Close()
	if _, err := NewHTTP(origin.URL, csvConfig(), HTTPOptions{BearerToken: testToken}).Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := other.requests(); len(got) != 1 || got[0] != "" {
		t.Errorf("Authorization headers seen by the other host = %q, want one empty", got)
	}
}

func TestHTTPSourceTokenFollowsASameOriginRedirect(t *testing.T) {
	rec := &authRecorder{}
	mux := http.NewServeMux()
	mux.Handle("/hr.csv", rec)
	mux.Handle("/old", redirectTo("/hr.csv"))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if _, err := NewHTTP(srv.URL+"/old", csvConfig(), HTTPOptions{BearerToken: testToken}).Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests(); len(got) != 1 || got[0] != "Bearer "+testToken {
		t.Errorf("Authorization headers after a same-origin redirect = %q", got)
	}
}

func TestHTTPSourceRefusesARedirectFromHTTPSToHTTP(t *testing.T) {
	plain := &authRecorder{}
	plainSrv := httptest.NewServer(plain)
	defer plainSrv.Close()
	tlsSrv := httptest.NewTLSServer(redirectTo(plainSrv.URL))
	defer tlsSrv.Close()
	_, err := NewHTTP(tlsSrv.URL, csvConfig(), HTTPOptions{BearerToken: testToken, Client: tlsSrv.Client()}).Read(context.Background())
	if directory.KindOf(err) != directory.KindInvalidConfig || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("err = %v, want KindInvalidConfig about the downgrade", err)
	}
	if got := plain.requests(); len(got) != 0 {
		t.Errorf("the plain http server was asked %d times", len(got))
	}
}

func TestHTTPSourceRedirectLoop(t *testing.T) {
	srv := httptest.NewServer(redirectTo("/again"))
	defer srv.Close()
	_, err := NewHTTP(srv.URL, csvConfig(), HTTPOptions{}).Read(context.Background())
	if directory.KindOf(err) != directory.KindInvalidConfig || !strings.Contains(err.Error(), "more than 10") {
		t.Errorf("err = %v", err)
	}
}

// rawServer answers every connection with the given bytes, whatever was asked: a hostile or broken
// server whose status line or framing may quote what it was sent.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				_, _ = conn.Write([]byte(answer))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// The server's own words — reason phrases, malformed status lines, bodies — never reach an error:
// a server that echoes the token would otherwise put it into status.
func TestHTTPSourceErrorsNeverQuoteTheServer(t *testing.T) {
	echo := "Bearer " + testToken + " CANARY-body"
	for _, tc := range []struct {
		name, answer string
		kind         directory.ErrorKind
	}{
		{"reason phrase", "HTTP/1.1 401 " + echo + "\r\nContent-Length: 0\r\n\r\n", directory.KindAuthFailed},
		{"unknown status", "HTTP/1.1 599 " + echo + "\r\nContent-Length: 0\r\n\r\n", directory.KindUnreachable},
		{"error body", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: " + fmt.Sprint(len(echo)) + "\r\n\r\n" + echo, directory.KindUnreachable},
		{"malformed status line", echo + "\r\n\r\n", directory.KindUnreachable},
		{"malformed status code", "HTTP/1.1 4x1 " + echo + "\r\n\r\n", directory.KindUnreachable},
		{"malformed header", "HTTP/1.1 200 OK\r\n" + echo + "\r\n\r\n", directory.KindUnreachable},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + echo + "\r\n", directory.KindUnreachable},
		{"body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" + echo, directory.KindUnreachable},
		{"document is the echo", "HTTP/1.1 200 OK\r\nContent-Length: " + fmt.Sprint(len(echo)) + "\r\n\r\n" + echo, directory.KindInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := rawServer(t, tc.answer)
			_, err := NewHTTP(url+"/hr.csv", csvConfig(), HTTPOptions{BearerToken: testToken, Timeout: 5 * time.Second}).Read(context.Background())
			if directory.KindOf(err) != tc.kind {
				t.Errorf("err = %v, want kind %s", err, tc.kind)
			}
			if err != nil && (strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "CANARY")) {
				t.Errorf("error quotes the server: %v", err)
			}
		})
	}
}
