// Package samba runs a throwaway Samba Active Directory domain controller on loopback for tests
// and benchmarks, so that Active Directory behaviour is tested against a real DC.
//
// Provisioning a domain takes tens of seconds, so Start provisions and seeds a template once per
// machine (cached under the system temp directory, keyed by the Samba version and the seed, and
// guarded by a file lock so parallel test binaries build it once) and then copies it for each
// server. Each server runs `samba -M single` with only the LDAP service, bound to its own loopback
// address: Samba's LDAP ports are fixed at 389 and 636, so parallel test processes coexist by
// listening on distinct 127.x.y.z addresses (chosen at random and checked free). Samba keeps its
// default "ldap server require strong auth = yes": simple binds need LDAPS or StartTLS, as on a
// real DC. The server certificate comes from a CA made here (see tls.go). Samba must run as root.
package samba

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/testenv/testca"
)

// InstallHint tells how to get Samba's AD DC on Debian/Ubuntu.
const InstallHint = "Samba AD DC not installed: apt-get install --no-install-recommends samba samba-ad-dc samba-ad-provision ldb-tools (hack/install-deps.sh does it)"

// harnessVersion changes the template cache key when the provisioning steps change.
const harnessVersion = "1"

// Server is a running Samba AD DC.
type Server struct {
	// IP is the loopback address the DC listens on.
	IP string
	// URL is ldap://IP:389 (StartTLS capable); LDAPSURL is ldaps://IP:636.
	URL, LDAPSURL string
	// CACertPEM is the CA that signed the DC's certificate (SAN: IP and the DC's host name).
	CACertPEM []byte

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  *bytes.Buffer
}

// lockedBuffer is written by the samba process and read by Log.
type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func lookPath(names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s: %w", InstallHint, err)
		}
	}
	return nil
}

// Options adds to the seeded domain.
type Options struct {
	// ExtraLDIF is added (ldbadd) after the seed, e.g. a benchmark's users and groups. It is part of
	// the cached template, so the same ExtraLDIF is loaded only once per machine.
	ExtraLDIF []byte
}

// Start provisions (or copies the cached template of) a domain and starts a DC. Call Stop.
func Start(options ...Options) (_ *Server, err error) {
	var opts Options
	if len(options) > 0 {
		opts = options[0]
	}
	if err := lookPath("samba", "samba-tool", "ldbadd", "ldbmodify"); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the Samba AD DC must run as root (it refuses otherwise)")
	}
	tmpl, err := provisionedTemplate(opts.ExtraLDIF)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "samba-dc-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if out, err := exec.Command("cp", "-a", tmpl+"/.", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy the provisioned template: %v: %s", err, out)
	}
	var lastErr error
	for range 3 { // an address found free may be taken by the time samba binds it
		ip, err := freeLoopbackIP()
		if err != nil {
			return nil, err
		}
		s := &Server{IP: ip, URL: "ldap://" + ip, LDAPSURL: "ldaps://" + ip, dir: dir}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// freeLoopbackIP picks an address in 127.64.0.0/10 whose LDAP ports are free.
func freeLoopbackIP() (string, error) {
	for range 50 {
		n := rand.Uint32N(1 << 22)
		ip := fmt.Sprintf("127.%d.%d.%d", 64+n>>16, n>>8&0xff, max(n&0xff, 1))
		free := true
		for _, port := range []string{"389", "636", "3268", "3269"} {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, port))
			if err != nil {
				free = false
				break
			}
			_ = l.Close()
		}
		if free {
			return ip, nil
		}
	}
	return "", errors.New("no free loopback address for the Samba DC")
}

func (s *Server) start() error {
	// Samba can make its own certificate, but it has a negative serial number and no
	// subjectAltName, both of which Go rejects; a real DC's certificate has neither flaw.
	dnsName := strings.ToLower(HostName + "." + Realm)
	tf, err := testca.New(dnsName, 7*24*time.Hour, s.IP, dnsName)
	if err != nil {
		return err
	}
	s.CACertPEM = tf.CACertPEM
	for name, data := range map[string][]byte{"ca.pem": tf.CACertPEM, "cert.pem": tf.ServerCertPEM, "key.pem": tf.ServerKeyPEM} {
		if err := os.WriteFile(filepath.Join(s.dir, "tls-"+name), data, 0o600); err != nil {
			return err
		}
	}
	conf := filepath.Join(s.dir, "etc", "smb.conf")
	var b bytes.Buffer
	if err := confTemplate.Execute(&b, map[string]string{"Dir": s.dir, "IP": s.IP}); err != nil {
		return err
	}
	if err := os.WriteFile(conf, b.Bytes(), 0o600); err != nil {
		return err
	}
	s.out = &bytes.Buffer{}
	w := lockedBuffer{mu: &s.mu, b: s.out}
	cmd := exec.Command("samba", "-i", "-M", "single", "-s", conf, "--debug-stdout", "-d", "1")
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+filepath.Join(s.dir, "private", "krb5.conf"))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start samba: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(120 * time.Second) // a loaded CI machine is slow
	for {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("samba exited at startup: %s", s.Log())
		default:
		}
		perr := s.ping()
		if perr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return fmt.Errorf("samba did not answer on %s within 120s: %v; log: %s", s.LDAPSURL, perr, s.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) ping() error {
	c, err := s.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(5 * time.Second)
	return c.Bind(ServiceDN, ServicePassword)
}

// TLSConfig trusts the DC's certificate.
func (s *Server) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM)
	return &tls.Config{RootCAs: pool, ServerName: s.IP, MinVersion: tls.VersionTLS12}
}

// Dial opens an LDAPS connection (not bound).
func (s *Server) Dial() (*ldap.Conn, error) {
	return ldap.DialURL(s.LDAPSURL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}),
		ldap.DialWithTLSConfig(s.TLSConfig()))
}

// AdminConn returns an LDAPS connection bound as the domain Administrator, for changing the
// directory; the context's deadline bounds each request.
func (s *Server) AdminConn(ctx context.Context) (*ldap.Conn, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	c.SetTimeout(30 * time.Second)
	if dl, ok := ctx.Deadline(); ok {
		c.SetTimeout(time.Until(dl))
	}
	if err := c.Bind(AdminDN, AdminPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Log returns what samba wrote so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// Stop stops samba and removes the server's directory.
func (s *Server) Stop() error {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		s.cmd = nil
	}
	return os.RemoveAll(s.dir)
}

// provisionedTemplate returns the directory of a provisioned and seeded domain, building it when missing.
func provisionedTemplate(extra []byte) (string, error) {
	version, err := exec.Command("samba", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("samba --version: %w", err)
	}
	adds, mods := seedLDIF()
	h := sha256.New()
	for _, part := range [][]byte{[]byte(harnessVersion), version, adds, mods, extra} {
		h.Write(part)
		h.Write([]byte{0})
	}
	root := filepath.Join(os.TempDir(), "directory-sync-samba")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	dir := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
		return dir, nil
	}
	_ = os.RemoveAll(dir)
	work := dir + ".building"
	_ = os.RemoveAll(work)
	if err := provision(work, adds, mods, extra); err != nil {
		_ = os.RemoveAll(work)
		return "", err
	}
	if err := os.WriteFile(filepath.Join(work, "ready"), nil, 0o600); err != nil {
		return "", err
	}
	return dir, os.Rename(work, dir)
}

// provision creates the domain in dir and loads the seed offline (ldbadd on sam.ldb, which is
// much faster than LDAP adds).
func provision(dir string, adds, mods, extra []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cmd := exec.Command("samba-tool", "domain", "provision", "--targetdir="+dir, "--realm="+Realm,
		"--domain="+NetBIOS, "--server-role=dc", "--dns-backend=NONE", "--host-name="+HostName,
		"--adminpass="+AdminPassword, "--use-rfc2307", "--quiet")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("samba-tool domain provision: %v: %s", err, out)
	}
	sam := filepath.Join(dir, "private", "sam.ldb")
	conf := "--configfile=" + filepath.Join(dir, "etc", "smb.conf")
	for _, step := range []struct {
		tool string
		ldif []byte
	}{{"ldbadd", adds}, {"ldbmodify", mods}, {"ldbadd", extra}} {
		if len(step.ldif) == 0 {
			continue
		}
		cmd := exec.Command(step.tool, conf, "-H", sam)
		cmd.Stdin = bytes.NewReader(step.ldif)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", step.tool, err, out)
		}
	}
	return nil
}

// confTemplate serves LDAP only, on one loopback address, with our own certificate. Paths are
// absolute because the template is copied for each server.
var confTemplate = template.Must(template.New("smb.conf").Parse(`[global]
	netbios name = DC1
	realm = DIRSYNC.TEST
	workgroup = DIRSYNC
	server role = active directory domain controller
	server services = ldap
	dcerpc endpoint servers =
	interfaces = {{.IP}}/8
	bind interfaces only = yes
	private dir = {{.Dir}}/private
	lock directory = {{.Dir}}
	state directory = {{.Dir}}/state
	cache directory = {{.Dir}}/cache
	pid directory = {{.Dir}}
	ncalrpc dir = {{.Dir}}/ncalrpc
	binddns dir = {{.Dir}}/bind-dns
	idmap_ldb:use rfc2307 = yes
	tls enabled = yes
	tls certfile = {{.Dir}}/tls-cert.pem
	tls keyfile = {{.Dir}}/tls-key.pem
	tls cafile = {{.Dir}}/tls-ca.pem
	log file = {{.Dir}}/log
`))
