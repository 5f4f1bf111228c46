// Package redact turns errors that may carry data from a server or a Secret into messages that
// describe what happened without quoting it, for status, events, logs and metrics.
package redact

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// Transport describes a failed HTTP request or body read. Go's HTTP client quotes the server's
// bytes in some errors (`malformed HTTP response "…"`), so the text of err is never used: only
// its type and the well-known causes are.
func Transport(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its text quotes the full URL, query included
	}
	var (
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
		certErr  x509.CertificateInvalidError
		verifErr *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		dnsErr   *net.DNSError
		netErr   net.Error
		opErr    *net.OpError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &hostErr):
		return "the server's TLS certificate is not valid for the host name of the URL"
	case errors.As(err, &authErr):
		return "the server's TLS certificate is signed by an unknown authority (configure its CA bundle)"
	case errors.As(err, &certErr):
		return "the server's TLS certificate is invalid (expired, not yet valid or not allowed for this use)"
	case errors.As(err, &verifErr):
		return "the server's TLS certificate cannot be verified"
	case errors.As(err, &recErr):
		return "the server did not answer with TLS (does the URL's scheme match the server?)"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"): // a fixed text of net/http
		return "the server answered plain HTTP to an https URL"
	case errors.As(err, &alertErr):
		// The alert's text comes from Go's fixed table, never from the peer.
		return fmt.Sprintf("the TLS handshake failed (%s)", alertErr.Error())
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "the host name cannot be resolved"
		}
		return "the host name cannot be looked up"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection before its answer was complete"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.As(err, &opErr):
		return fmt.Sprintf("network error (%s)", opErr.Op)
	}
	return "the server's answer is not a readable HTTP response"
}

// Wrap returns an error whose text is Transport(err) while errors.Is and errors.As still reach err
// (a timeout stays retryable, a refused redirect recognisable).
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &described{err}
}

type described struct{ err error }

func (d *described) Error() string { return Transport(d.err) }
func (d *described) Unwrap() error { return d.err }
