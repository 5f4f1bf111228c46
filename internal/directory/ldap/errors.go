package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"regexp"
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
		return directory.Errorf(directory.KindTLSFailed, err,
			"%s: TLS verification failed (check tls.ca and that the URL's host name is in the server certificate)", what)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultInvalidCredentials:
			return directory.Errorf(directory.KindAuthFailed, err, "%s: credentials rejected%s", what, adBindHint(err.Error()))
		case ldap.LDAPResultInappropriateAuthentication:
			return directory.Errorf(directory.KindAuthFailed, err, "%s: this kind of bind is not allowed (anonymous or empty password?)", what)
		case ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultStrongAuthRequired:
			return directory.Errorf(directory.KindTransportSecurityRequired, err,
				"%s: the server accepts simple binds only over an encrypted connection: use an ldaps:// url or startTLS: true", what)
		case ldap.LDAPResultInsufficientAccessRights:
			return directory.Errorf(directory.KindAuthFailed, err, "%s: not permitted for the bind account", what)
		case ldap.LDAPResultOperationsError:
			if unauthenticated(err.Error()) {
				return directory.Errorf(directory.KindAuthFailed, err,
					"%s: the server allows this only after a successful bind: set bind credentials", what)
			}
		case ldap.LDAPResultReferral:
			return directory.Errorf(directory.KindIncomplete, err,
				"%s: the server referred the request to another server; point url and baseDN at a server that holds the entries (e.g. a global catalog)", what)
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

// unauthenticated recognises "bind first" refusals: AD's operationsError 000004DC and Samba's
// "Operation unavailable without authentication".
func unauthenticated(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "without authentication") || strings.Contains(msg, "successful bind") ||
		strings.Contains(msg, "000004dc")
}

// adBindSubCodes explains the "data NNN" part of Active Directory's invalidCredentials message.
var adBindSubCodes = map[string]string{
	"525": "the bind user does not exist (check the bind DN)",
	"52e": "wrong password (or unknown user)",
	"530": "the account may not log on at this time (logon hours)",
	"531": "the account may not log on from this computer (workstation restriction)",
	"532": "the password has expired: set a new one",
	"533": "the account is disabled: enable it or use another account",
	"568": "the account is in too many groups (token too large)",
	"701": "the account has expired: extend accountExpires",
	"773": "the password must be changed before first use: set a new one",
	"775": "the account is locked out: unlock it or wait for the lockout to end",
}

var adDataCode = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{3,4})\b`)

// adBindHint turns AD's "AcceptSecurityContext error, data 533, v..." into an explanation.
func adBindHint(msg string) string {
	m := adDataCode.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	if why, ok := adBindSubCodes[strings.ToLower(m[1])]; ok {
		return ": Active Directory says " + why + " (data " + m[1] + ")"
	}
	return ""
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
	// go-ldap's StartTLS flattens the handshake error into text in some versions.
	if msg := err.Error(); strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ") {
		return err
	}
	return nil
}
