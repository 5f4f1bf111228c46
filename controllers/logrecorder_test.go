package controllers_test

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
)

// logRecorder keeps every line the manager logs, at every verbosity, so that tests can check
// what reached the logs (see TestE2ECanaryNeverLeaks). Lines are also passed to next, if set.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

// managerLogs records the suite manager's logs.
var managerLogs = &logRecorder{}

func (r *logRecorder) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

// text returns everything logged so far.
func (r *logRecorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// sink returns a logr sink that records into r and forwards to next (which may be nil).
func (r *logRecorder) sink(next logr.LogSink) logr.LogSink {
	return &recordingSink{rec: r, next: next}
}

type recordingSink struct {
	rec    *logRecorder
	next   logr.LogSink
	name   string
	values []any
}

func (s *recordingSink) Init(info logr.RuntimeInfo) {
	if s.next != nil {
		s.next.Init(info)
	}
}

// Enabled records every level: a secret logged at V(5) is still a leak.
func (s *recordingSink) Enabled(int) bool { return true }

func (s *recordingSink) Info(level int, msg string, kv ...any) {
	s.rec.add(fmt.Sprintf("I%d %s %q %s", level, s.name, msg, formatKV(append(append([]any{}, s.values...), kv...))))
	if s.next != nil && s.next.Enabled(level) {
		s.next.Info(level, msg, kv...)
	}
}

func (s *recordingSink) Error(err error, msg string, kv ...any) {
	s.rec.add(fmt.Sprintf("E %s %q error=%v %s", s.name, msg, err, formatKV(append(append([]any{}, s.values...), kv...))))
	if s.next != nil {
		s.next.Error(err, msg, kv...)
	}
}

func (s *recordingSink) WithValues(kv ...any) logr.LogSink {
	c := *s
	c.values = append(append([]any{}, s.values...), kv...)
	if s.next != nil {
		c.next = s.next.WithValues(kv...)
	}
	return &c
}

func (s *recordingSink) WithName(name string) logr.LogSink {
	c := *s
	if c.name != "" {
		c.name += "."
	}
	c.name += name
	if s.next != nil {
		c.next = s.next.WithName(name)
	}
	return &c
}

// formatKV prints key/value pairs with %+v, so that structs and errors show their content.
func formatKV(kv []any) string {
	var b strings.Builder
	for i, v := range kv {
		if i%2 == 0 {
			fmt.Fprintf(&b, " %v=", v)
			continue
		}
		fmt.Fprintf(&b, "%+v", v)
	}
	return b.String()
}
