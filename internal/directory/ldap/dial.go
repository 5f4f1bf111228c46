package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// startTLSOID names the StartTLS extended operation (RFC 4511 4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// dial opens the plaintext stream of an ldap:// or ldaps:// URL (TLS for ldaps, and StartTLS when
// startTLS is set) and starts a go-ldap connection on it through an entryTap. The TLS steps are
// done here rather than by go-ldap's DialURL and StartTLS, which would put TLS between the tap and
// go-ldap; errors are go-ldap's kinds (ldap.Error with ErrorNetwork or the server's result code),
// so classify reads them as before. timeout bounds each step.
func dial(ctx context.Context, rawURL string, startTLS bool, tc *tls.Config, timeout time.Duration) (*ldap.Conn, *entryTap, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if err != nil {
		return nil, nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	c := raw
	switch {
	case u.Scheme == "ldaps":
		tlsConn := tls.Client(raw, tc)
		if err := tlsConn.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, nil, ldap.NewError(ldap.ErrorNetwork, err)
		}
		c = tlsConn
	case startTLS:
		if c, err = startTLSOn(dctx, raw, tc); err != nil {
			raw.Close()
			return nil, nil, &stepError{step: "StartTLS", err: err}
		}
	}
	tap := newEntryTap(c)
	lc := ldap.NewConn(tap, u.Scheme == "ldaps" || startTLS)
	lc.Start()
	return lc, tap, nil
}

// stepError says which step of dial failed (the caller names it in its message).
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// startTLSOn sends the StartTLS request as the connection's first message and, when the server
// accepts it, returns the TLS connection over raw.
func startTLSOn(ctx context.Context, raw net.Conn, tc *tls.Config) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		if err := raw.SetDeadline(dl); err != nil {
			return nil, ldap.NewError(ldap.ErrorNetwork, err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) }) // unblocks the exchange
	defer stop()
	req := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(1), "MessageID"))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedRequest, nil, "Start TLS")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, startTLSOID, "TLS Extended Command"))
	req.AppendChild(op)
	if _, err := raw.Write(req.Bytes()); err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	resp, err := ber.ReadPacket(raw) // reads exactly the response: the TLS handshake follows
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("reading the StartTLS response: %w", err))
	}
	if len(resp.Children) < 2 || resp.Children[1].Tag != ldap.ApplicationExtendedResponse {
		return nil, ldap.NewError(ldap.ErrorUnexpectedResponse, errors.New("the server did not answer the StartTLS request"))
	}
	if err := ldap.GetLDAPError(resp); err != nil {
		return nil, err
	}
	tlsConn := tls.Client(raw, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake failed: %w", err))
	}
	// Stop the timeout callback before clearing the deadline: if it already fired, the deadline it
	// set may land after ours, so the dial has timed out and the connection is not handed on.
	if !stop() {
		return nil, ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("StartTLS: %w", context.Cause(ctx)))
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	return tlsConn, nil
}
