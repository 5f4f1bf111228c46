package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// classify wraps err into a directory.Error whose kind explains what went wrong; what says
// which step failed ("bind", "search ou=people,...").
func classify(ctx context.Context, err error, what string) error {
	if err == nil {
		return nil
	}
	var de *directory.Error
	if errors.As(err, &de) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return directory.Errorf(directory.KindUnreachable, errors.Join(ctxErr, err), "%s: interrupted", what)
	}
	if tlsErr := tlsCause(err); tlsErr != nil {
		return directory.Errorf(directory.KindUnreachable, err, "%s: TLS handshake failed", what)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication:
			return directory.Errorf(directory.KindAuthFailed, err, "%s: credentials rejected", what)
		case ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultConfidentialityRequired,
			ldap.LDAPResultStrongAuthRequired:
			return directory.Errorf(directory.KindAuthFailed, err, "%s: not permitted", what)
		case ldap.LDAPResultFilterError, ldap.ErrorFilterCompile, ldap.ErrorFilterDecompile:
			return directory.Errorf(directory.KindInvalidFilter, err, "%s: filter rejected", what)
		case ldap.LDAPResultNoSuchObject:
			return directory.Errorf(directory.KindNotFound, err, "%s: no such object", what)
		case ldap.LDAPResultInvalidDNSyntax:
			return directory.Errorf(directory.KindInvalidConfig, err, "%s: invalid DN", what)
		case ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded,
			ldap.LDAPResultServerDown, ldap.LDAPResultTimeout, ldap.LDAPResultConnectError:
			return directory.Errorf(directory.KindUnreachable, err, "%s: server unavailable", what)
		case ldap.LDAPResultSizeLimitExceeded:
			return directory.Errorf(directory.KindInternal, err, "%s: size limit exceeded (is paging disabled on the server?)", what)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "unable to read LDAP response packet") { // go-ldap flattens the cause into text
		return directory.Errorf(directory.KindUnreachable, err, "%s: network error", what)
	}
	return directory.Errorf(directory.KindInternal, err, "%s failed", what)
}

// tlsCause returns the certificate or TLS error inside err, if any.
func tlsCause(err error) error {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
		aerr tls.AlertError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr),
		errors.As(err, &rerr), errors.As(err, &aerr):
		return err
	}
	return nil
}
