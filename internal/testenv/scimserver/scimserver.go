// Package scimserver runs the SCIMMY-based test SCIM server (test/scim-server) as a child process,
// for tests and for demos or benchmarks. It needs node on PATH and `npm ci --prefix test/scim-server`.
package scimserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Start.
type Options struct {
	// Token is the bearer token the server accepts; "test-token" when empty.
	Token string
	// Dir is the path of test/scim-server; found relative to the module root when empty.
	Dir string
	// StartTimeout bounds the wait for the server to listen; 20s when zero.
	StartTimeout time.Duration
}

// Server is a running test SCIM server.
type Server struct {
	base  string // http://127.0.0.1:PORT
	token string
	cmd   *exec.Cmd
	logs  *syncBuffer
	http  *http.Client
	done  chan struct{}
	once  sync.Once
}

// DefaultDir returns the path of test/scim-server: next to this source file's module root when the
// source tree is present, else the first one found walking up from the working directory.
func DefaultDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		// file is <root>/internal/testenv/scimserver/scimserver.go
		dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "test", "scim-server")
		if _, err := os.Stat(dir); err == nil {
			return filepath.Clean(dir)
		}
	}
	wd, err := os.Getwd()
	for err == nil {
		dir := filepath.Join(wd, "test", "scim-server")
		if _, serr := os.Stat(filepath.Join(dir, "server.js")); serr == nil {
			return dir
		}
		parent := filepath.Dir(wd)
		if parent == wd {
			break
		}
		wd = parent
	}
	return filepath.Join("test", "scim-server")
}

// Available reports why the server cannot be started (node missing, dependencies not installed),
// or nil when it can.
func Available() error { return available(DefaultDir()) }

func available(dir string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("scimserver: node not found on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
		return fmt.Errorf("scimserver: %s not found: %w", filepath.Join(dir, "server.js"), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "scimmy")); err != nil {
		return errors.New("scimserver: SCIMMY is not installed: run `npm ci --prefix test/scim-server`")
	}
	return nil
}

// Start runs the server on a free loopback port and waits until it answers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir := opts.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	if err := available(dir); err != nil {
		return nil, err
	}
	if opts.Token == "" {
		opts.Token = "test-token"
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}

	// Not exec.CommandContext: the server must outlive ctx, which only bounds startup.
	cmd := exec.Command("node", "server.js", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SCIM_TOKEN="+opts.Token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("scimserver: start node: %w", err)
	}
	s := &Server{token: opts.Token, cmd: cmd, logs: logs, http: &http.Client{Timeout: 10 * time.Second}, done: make(chan struct{})}

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "LISTENING "); ok {
				select {
				case addr <- a:
				default:
				}
			}
			_, _ = logs.Write([]byte(line + "\n"))
		}
		_, _ = io.Copy(logs, stdout)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()

	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.done:
		return nil, fmt.Errorf("scimserver: node exited before listening; logs:\n%s", logs.String())
	case <-wait.Done():
		s.Stop()
		return nil, fmt.Errorf("scimserver: not listening after %s: %w; logs:\n%s", timeout, wait.Err(), logs.String())
	}
	if err := s.waitReady(wait); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ServiceProviderConfig", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := s.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scimserver: not ready: %w; logs:\n%s", ctx.Err(), s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL returns the SCIM base URL (…/scim/v2).
func (s *Server) URL() string { return s.base + "/scim/v2" }

// Token returns the bearer token the server accepts.
func (s *Server) Token() string { return s.token }

// Logs returns what the server printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stop terminates the server and waits for it to exit. It is safe to call more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.done
			}
		}
	})
}

// Reset empties the store and clears faults and request counts.
func (s *Server) Reset(ctx context.Context) error {
	return s.control(ctx, http.MethodPost, "/reset", nil, nil)
}

// FaultKind is what an injected fault does.
type FaultKind string

const (
	Fault429   FaultKind = "429"   // answer 429 Too Many Requests, with Retry-After when set
	Fault500   FaultKind = "500"   // answer 500 Internal Server Error
	FaultDelay FaultKind = "delay" // wait Delay, then serve the request normally
)

// Fault describes an injected fault for requests under /scim.
type Fault struct {
	Kind FaultKind
	// Count is how many matching requests are affected; 0 means every one until ClearFaults.
	Count int
	// RetryAfter is sent as Retry-After (seconds) with 429 when > 0.
	RetryAfter int
	// Delay applies to FaultDelay.
	Delay time.Duration
	// Method ("GET", "PATCH"…) and Path (prefix of the request path, e.g. "/scim/v2/Users")
	// restrict the fault; empty matches everything.
	Method string
	Path   string
}

// InjectFault adds a fault; faults are checked in the order they were added.
func (s *Server) InjectFault(ctx context.Context, f Fault) error {
	body := map[string]any{"kind": string(f.Kind), "count": -1}
	if f.Count > 0 {
		body["count"] = f.Count
	}
	if f.RetryAfter > 0 {
		body["retryAfter"] = f.RetryAfter
	}
	if f.Delay > 0 {
		body["delayMs"] = f.Delay.Milliseconds()
	}
	if f.Method != "" {
		body["method"] = f.Method
	}
	if f.Path != "" {
		body["path"] = f.Path
	}
	return s.control(ctx, http.MethodPost, "/faults", body, nil)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults(ctx context.Context) error {
	return s.control(ctx, http.MethodDelete, "/faults", nil, nil)
}

// SetMaxPageSize makes list requests return at most n resources per page whatever count the
// client asked for, like targets with a server-side page limit; 0 removes the cap.
func (s *Server) SetMaxPageSize(ctx context.Context, n int) error {
	return s.control(ctx, http.MethodPost, "/settings", map[string]int{"maxPageSize": n}, nil)
}

// RequestCounts returns the number of /scim requests seen per HTTP method since the last reset.
func (s *Server) RequestCounts(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	err := s.control(ctx, http.MethodGet, "/requests", nil, &counts)
	return counts, err
}

// ResetRequestCounts zeroes the request counters.
func (s *Server) ResetRequestCounts(ctx context.Context) error {
	return s.control(ctx, http.MethodDelete, "/requests", nil, nil)
}

// WriteCount sums the POST, PUT, PATCH and DELETE counts.
func WriteCount(counts map[string]int) int {
	return counts[http.MethodPost] + counts[http.MethodPut] + counts[http.MethodPatch] + counts[http.MethodDelete]
}

// Dump is the server's store as stored (users carry their derived "groups").
type Dump struct {
	Users  []map[string]any `json:"users"`
	Groups []map[string]any `json:"groups"`
}

// Dump returns the store's content, bypassing SCIM.
func (s *Server) Dump(ctx context.Context) (*Dump, error) {
	var d Dump
	if err := s.control(ctx, http.MethodGet, "/dump", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (s *Server) control(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+"/_control"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("scimserver: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("scimserver: %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
