package scim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A target that echoes what it was sent — the token, a canary from a person's data — in its error
// bodies must not get that text into the error: it would reach status, events and logs.
func TestErrorNeverQuotesTheTargetsBody(t *testing.T) {
	const token = "scim-token-CANARY-1"
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"plain body", "denied for Bearer " + token + " CANARY-body", http.StatusUnauthorized},
		{"SCIM error detail", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"bad token ` + token + `"}`, http.StatusBadRequest},
		{"free-text scimType", `{"status":"409","scimType":"CANARY-type ` + token + `","detail":"x"}`, http.StatusConflict},
		{"5xx", "<html>" + token + "</html>", http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := New(srv.URL, Options{Token: token, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetUser(context.Background(), "u1")
			if err == nil {
				t.Fatal("GetUser succeeded")
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Errorf("error quotes the target's body: %v", err)
			}
		})
	}
	// The RFC's scimType is kept: it says what kind of failure it was.
	e := newError("POST", "/Users", &http.Response{StatusCode: 409, Header: http.Header{}}, []byte(`{"scimType":"uniqueness","detail":"taken"}`))
	if !strings.Contains(e.Error(), "(uniqueness)") {
		t.Errorf("error %q does not name the scimType", e)
	}
}

// rawTarget answers every connection with answer, whatever was asked.
func rawTarget(t *testing.T, answer string) string {
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
				_, _ = conn.Read(make([]byte, 8192))
				_, _ = conn.Write([]byte(answer))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// Malformed answers, reason phrases and undecodable bodies are described, not quoted.
func TestTransportErrorsNeverQuoteTheTarget(t *testing.T) {
	const token = "scim-token-CANARY-2"
	echo := "Bearer " + token + " CANARY"
	for _, tc := range []struct{ name, answer string }{
		{"malformed status line", echo + "\r\n\r\n"},
		{"malformed header", "HTTP/1.1 200 OK\r\n" + echo + "\r\n\r\n"},
		{"redirect reason phrase", "HTTP/1.1 302 " + echo + "\r\nContent-Length: 0\r\n\r\n"},
		{"undecodable body", "HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nContent-Length: " + strconv.Itoa(len(echo)) + "\r\n\r\n" + echo},
		{"body of the wrong type", "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(echo)+2) + "\r\n\r\n\"" + echo + "\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(rawTarget(t, tc.answer), Options{Token: token, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetUser(context.Background(), "u1")
			if err == nil {
				t.Fatal("GetUser succeeded")
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Errorf("error quotes the target: %v", err)
			}
		})
	}
}

func TestErrorTrimsBody(t *testing.T) {
	resp := &http.Response{StatusCode: 502, Header: http.Header{}}
	e := newError("GET", "/Users", resp, []byte(strings.Repeat("x", 5000)))
	if len(e.Detail) > maxErrorBody+len("…") || !e.retryable() {
		t.Errorf("detail length %d, retryable %v", len(e.Detail), e.retryable())
	}
	e = newError("POST", "/Users", &http.Response{StatusCode: 409, Header: http.Header{}},
		[]byte(`{"status":"409","scimType":"uniqueness","detail":"taken"}`))
	if !IsConflict(e) || e.ScimType != "uniqueness" || e.Detail != "taken" {
		t.Errorf("got %+v", e)
	}
}

// A list page that is not the JSON expected is described (what kind of error, where), never
// quoted: its bytes are the target's.
func TestMalformedListPageIsDescribedNotQuoted(t *testing.T) {
	for body, want := range map[string]string{
		`{"totalResults":1,"Resources":[{"id":"CANARY-1",}]}`:             "syntax error at byte",
		`{"totalResults":1,"Resources":[{"id":"CANARY-2","userName":7}]}`: "a number where string was expected at byte",
		`{"totalResults":1,"Resources":[{"id":"CANARY-3"`:                 "syntax error at byte",
	} {
		srv := loopback(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/Users" {
				http.NotFound(w, r)
				return
			}
			_, _ = io.WriteString(w, body)
		})
		c, err := New(srv.URL, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListUsers(context.Background(), "")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "CANARY") {
			t.Errorf("%s: err = %v, want it to say %q and quote nothing", body, err, want)
		}
	}
}
