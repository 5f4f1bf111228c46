package connect

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// echoingLDAP rejects every bind with a diagnostic message that repeats the bind DN and password.
func echoingLDAP(t *testing.T) string {
	t.Helper()
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	mux, _ := gldap.NewMux()
	_ = mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) {
		resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
		if m, err := r.GetSimpleBindMessage(); err == nil {
			resp.SetDiagnosticMessage("no such pair: " + m.UserName + " / " + string(m.Password))
		}
		_ = w.Write(resp)
	})
	_ = srv.Router(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	go func() { _ = srv.Run(addr) }()
	t.Cleanup(func() { _ = srv.Stop() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return "ldap://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("LDAP server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An LDAP server that echoes the bind credentials in its diagnostic message must not get them
// into the error, which reaches status, events and logs.
func TestLDAPErrorsNeverRepeatTheBindCredentials(t *testing.T) {
	const dn, password = "cn=CANARY-dn,dc=corp", "CANARY-password"
	creds := mapResolver{secrets: map[string]string{"bind/username": dn, "bind/password": password}}
	spec := v1.DirectorySourceSpec{LDAP: &v1.LDAPSource{URL: echoingLDAP(t), BaseDN: "dc=corp",
		BindSecretRef: v1.BindSecretReference{Name: "bind"}, Timeout: &metav1.Duration{Duration: 5 * time.Second}}}
	src, err := Source(context.Background(), spec, creds, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Read(context.Background())
	if directory.KindOf(err) != directory.KindAuthFailed {
		t.Fatalf("err = %v, want KindAuthFailed", err)
	}
	if strings.Contains(err.Error(), "CANARY") {
		t.Errorf("error repeats the bind credentials: %v", err)
	}
	if !strings.Contains(err.Error(), "no such pair: [redacted] / [redacted]") {
		t.Errorf("error %q lost the rest of the server's message", err)
	}
}

// The incremental source reads deltas against its base through the scrubbing wrapper (so that a
// changed group re-reads its people instead of everything), with the same scrubbed errors.
func TestOpenLDAPReadsDeltasWithoutTheBindCredentials(t *testing.T) {
	const dn, password = "cn=CANARY-dn,dc=corp", "CANARY-password"
	creds := mapResolver{secrets: map[string]string{"bind/username": dn, "bind/password": password}}
	spec := &v1.LDAPSource{URL: echoingLDAP(t), BaseDN: "dc=corp", BindSecretRef: v1.BindSecretReference{Name: "bind"},
		Timeout: &metav1.Duration{Duration: 5 * time.Second}, Incremental: &v1.LDAPIncremental{Attribute: "modifyTimestamp"}}
	src, err := OpenLDAP(context.Background(), spec, creds, logr.Discard(), "20260101000000Z")
	if err != nil {
		t.Fatal(err)
	}
	dr, ok := src.(directory.DeltaReader)
	if !ok {
		t.Fatalf("OpenLDAP returned %T, not a directory.DeltaReader", src)
	}
	_, err = dr.ReadDelta(context.Background(), &model.Snapshot{Complete: true})
	if directory.KindOf(err) != directory.KindAuthFailed || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("ReadDelta err = %v; want KindAuthFailed without the bind credentials", err)
	}
}

// A full LDAP read streams its records to the run through the scrubbing wrapper, with the same
// scrubbed errors; an error of the run's own yield comes back as it is.
func TestOpenLDAPStreamsWithoutTheBindCredentials(t *testing.T) {
	const dn, password = "cn=CANARY-dn,dc=corp", "CANARY-password"
	creds := mapResolver{secrets: map[string]string{"bind/username": dn, "bind/password": password}}
	spec := &v1.LDAPSource{URL: echoingLDAP(t), BaseDN: "dc=corp", BindSecretRef: v1.BindSecretReference{Name: "bind"},
		Timeout: &metav1.Duration{Duration: 5 * time.Second}}
	src, err := OpenLDAP(context.Background(), spec, creds, logr.Discard(), "")
	if err != nil {
		t.Fatal(err)
	}
	st, ok := src.(directory.Streamer)
	if !ok {
		t.Fatalf("OpenLDAP returned %T, not a directory.Streamer", src)
	}
	_, err = st.ReadStream(context.Background(), func([]model.Record) error { return nil })
	if directory.KindOf(err) != directory.KindAuthFailed || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("ReadStream err = %v; want KindAuthFailed without the bind credentials", err)
	}
	if _, ok := scrub(failingSource{}, "x").(directory.Streamer); ok {
		t.Error("the wrapper of a source that does not stream claims to stream")
	}
}

type failingSource struct{}

func (failingSource) Read(context.Context) (*model.Snapshot, error) { return nil, errors.New("no") }
