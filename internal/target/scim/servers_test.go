package scim

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/strictscim"
)

// testServer is what the client tests need of a SCIM server; the SCIMMY server (a child process)
// and the strict in-process server on elimity-com/scim both provide it.
type testServer interface {
	URL() string
	Token() string
	Logs() string
	Reset(ctx context.Context) error
	InjectFault(ctx context.Context, f scimserver.Fault) error
	ClearFaults(ctx context.Context) error
	SetMaxPageSize(ctx context.Context, n int) error
	RequestCounts(ctx context.Context) (map[string]int, error)
	ResetRequestCounts(ctx context.Context) error
	Dump(ctx context.Context) (*scimserver.Dump, error)
}

// The client tests run against two independent servers, one of each per package run.
var (
	scimmy *scimserver.Server
	strict *strictscim.Server
)

const token = "s3cret-token-value"

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s, err := scimserver.Start(ctx, scimserver.Options{Token: token})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scim tests need the SCIMMY test server:", err)
		os.Exit(1)
	}
	scimmy = s
	strict, err = strictscim.Start(strictscim.Options{Token: token})
	if err != nil {
		scimmy.Stop()
		fmt.Fprintln(os.Stderr, "scim tests need the strict test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	scimmy.Stop()
	strict.Stop()
	os.Exit(code)
}

// forEachServer runs f as a subtest per server, named "scimmy" and "strict".
func forEachServer(t *testing.T, f func(t *testing.T, srv testServer)) {
	t.Run("scimmy", func(t *testing.T) { f(t, scimmy) })
	t.Run("strict", func(t *testing.T) { f(t, strict) })
}

// isStrict reports whether srv is the strict server, for the few expectations that differ.
func isStrict(srv testServer) bool { _, ok := srv.(*strictscim.Server); return ok }

// modeOptions returns client options for "patch" (as the server says) or "put" (PATCH overridden
// off, as for a server that lies about it).
func modeOptions(mode string) Options {
	if mode == "put" {
		no := false
		return Options{Capabilities: CapabilityOverrides{PatchSupported: &no}}
	}
	return Options{}
}
