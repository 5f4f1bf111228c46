package ldap

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

func TestADBindSubCodesAreExplained(t *testing.T) {
	for code, says := range map[string]string{
		"52e": "wrong password", "525": "does not exist", "530": "at this time", "531": "from this computer",
		"532": "password has expired", "533": "disabled", "701": "account has expired", "773": "must be changed",
		"775": "locked out",
	} {
		msg := "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data " + code + ", v4563"
		err := classify(context.Background(), &ldap.Error{ResultCode: ldap.LDAPResultInvalidCredentials, Err: errors.New(msg)}, "bind")
		if directory.KindOf(err) != directory.KindAuthFailed || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "data "+code) {
			t.Errorf("data %s: %v; want AuthFailed saying %q", code, err, says)
		}
	}
	if got := adBindHint("invalid credentials"); got != "" {
		t.Errorf("a message without a sub-code got a hint: %q", got)
	}
}

func TestReferralsMakeAReadIncomplete(t *testing.T) {
	err := classify(context.Background(), &ldap.Error{ResultCode: ldap.LDAPResultReferral, Err: errors.New("referral")}, "search")
	if directory.KindOf(err) != directory.KindIncomplete {
		t.Errorf("result code 10 = %v, want Incomplete", err)
	}
	c := &conn{root: rootDSE{namingContexts: []string{"DC=corp,DC=example", "CN=Configuration,DC=corp,DC=example"}}}
	for _, ref := range []string{"ldap://corp.example/CN=Configuration,DC=corp,DC=example", "ldap://corp.example/cn=configuration,dc=corp,dc=example"} {
		if !c.ownNamingContext(ref) {
			t.Errorf("%s is the server's own partition", ref)
		}
	}
	c.refs = []string{"ldap://emea.corp.example/DC=emea,DC=corp,DC=example"}
	if c.ownNamingContext(c.refs[0]) {
		t.Error("another domain counted as the server's own partition")
	}
	if err := c.referralError(); directory.KindOf(err) != directory.KindIncomplete || !strings.Contains(err.Error(), "emea") {
		t.Errorf("referralError = %v", err)
	}
}

func TestCertPoolSaysWhy(t *testing.T) {
	if _, err := certPool([]byte("not pem")); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("garbage: %v", err)
	}
	bad := []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	if _, err := certPool(bad); err == nil || !strings.Contains(err.Error(), "certificate 1") {
		t.Errorf("broken certificate: %v", err)
	}
}

// TestReferenceToAnotherServerMakesTheReadIncomplete: a real server (slapd, with an RFC 3296
// referral object under the base; Samba AD cannot make one, see the report) answers a subtree
// search with a continuation reference to another server. The people there were not read, so the
// read is incomplete and says where the rest is; nobody may be offboarded on it.
func TestReferenceToAnotherServerMakesTheReadIncomplete(t *testing.T) {
	s := ownServer(t, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := s.AdminConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const ref = "ldap://emea.example.net/ou=people,dc=emea,dc=example,dc=net"
	req := ldap.NewAddRequest("ou=emea,"+slapd.PeopleDN, nil)
	req.Attribute("objectClass", []string{"referral", "extensibleObject"})
	req.Attribute("ou", []string{"emea"})
	req.Attribute("ref", []string{ref})
	if err := admin.Add(req); err != nil {
		t.Fatalf("add the referral object: %v", err)
	}
	snap, err := read(t, seedConfig(s))
	if directory.KindOf(err) != directory.KindIncomplete || !strings.Contains(err.Error(), "emea.example.net") {
		t.Fatalf("Read = %v; want Incomplete naming the other server", err)
	}
	if snap == nil || snap.Complete || len(snap.Records) != 30 {
		t.Fatalf("snapshot %+v; want the 30 people read, not complete", snap)
	}
}
