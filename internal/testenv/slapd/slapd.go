// Package slapd runs a throwaway OpenLDAP server on loopback for tests, demos and benchmarks.
//
// The server never touches the system's slapd instance: Start writes its own slapd.conf, TLS
// material and mdb database into a temporary directory, loads a generated Seed with slapadd and
// starts slapd on free 127.0.0.1 ports (plain LDAP with StartTLS, and LDAPS). Searches by
// ServiceDN are limited to SizeLimit entries unless they use the paged results control, so a
// reader that does not page fails with sizeLimitExceeded.
package slapd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/testenv/testca"
)

// Default locations of the Debian/Ubuntu slapd package.
const (
	DefaultSlapdPath  = "/usr/sbin/slapd"
	DefaultSlapaddDir = "/usr/sbin"
	DefaultModulePath = "/usr/lib/ldap"
	DefaultSchemaDir  = "/etc/ldap/schema"
)

// InstallHint tells how to get slapd on Debian/Ubuntu.
const InstallHint = "slapd not installed: apt-get install slapd ldap-utils"

// Options configures Start. Zero values mean the defaults.
type Options struct {
	Users      int // seeded users, default 2500
	SizeLimit  int // non-paged search size limit for ServiceDN, default 500
	SlapdPath  string
	ModulePath string
	SchemaDir  string
	// Seed overrides the generated seed (Users is then ignored).
	Seed *Seed
}

// Available reports whether slapd, slapadd and the needed modules and schemas are installed.
func Available() bool {
	for _, p := range []string{
		DefaultSlapdPath,
		filepath.Join(DefaultSlapaddDir, "slapadd"),
		filepath.Join(DefaultModulePath, "back_mdb.so"),
		filepath.Join(DefaultModulePath, "memberof.so"),
		filepath.Join(DefaultSchemaDir, "inetorgperson.schema"),
	} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// Server is a running (or halted) slapd.
type Server struct {
	// URL is ldap://127.0.0.1:port (StartTLS capable); LDAPSURL is ldaps://127.0.0.1:port.
	URL       string
	LDAPSURL  string
	CACertPEM []byte
	Seed      *Seed
	SizeLimit int

	dir      string
	confPath string
	slapd    string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	stderr   *bytes.Buffer
}

// Start creates, seeds and starts a server. Call Stop when done.
func Start(opts Options) (_ *Server, err error) {
	if opts.Users == 0 {
		opts.Users = 2500
	}
	if opts.SizeLimit == 0 {
		opts.SizeLimit = 500
	}
	if opts.SlapdPath == "" {
		opts.SlapdPath = DefaultSlapdPath
	}
	if opts.ModulePath == "" {
		opts.ModulePath = DefaultModulePath
	}
	if opts.SchemaDir == "" {
		opts.SchemaDir = DefaultSchemaDir
	}
	if opts.Seed == nil {
		opts.Seed = NewSeed(opts.Users)
	}
	if _, err := os.Stat(opts.SlapdPath); err != nil {
		return nil, fmt.Errorf("%s (%w)", InstallHint, err)
	}
	dir, err := os.MkdirTemp("", "slapd-test-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	tlsFiles, err := testca.New("127.0.0.1", 24*time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("generate TLS material: %w", err)
	}
	files := map[string][]byte{
		"ca.pem":     tlsFiles.CACertPEM,
		"server.pem": tlsFiles.ServerCertPEM,
		"server.key": tlsFiles.ServerKeyPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	s := &Server{
		CACertPEM: tlsFiles.CACertPEM,
		Seed:      opts.Seed,
		SizeLimit: opts.SizeLimit,
		dir:       dir,
		confPath:  filepath.Join(dir, "slapd.conf"),
		slapd:     opts.SlapdPath,
	}
	var conf bytes.Buffer
	if err := confTemplate.Execute(&conf, map[string]any{
		"Dir": dir, "ModulePath": opts.ModulePath, "SchemaDir": opts.SchemaDir, "SizeLimit": opts.SizeLimit,
		"BaseDN": BaseDN, "AdminDN": AdminDN, "AdminPassword": AdminPassword,
	}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.confPath, conf.Bytes(), 0o600); err != nil {
		return nil, err
	}
	if err := s.slapadd(); err != nil {
		return nil, err
	}
	// A port found free may be taken before slapd binds it; retry with new ports.
	for attempt := 0; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		s.URL = "ldap://127.0.0.1:" + strconv.Itoa(ports[0])
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(ports[1])
		if err = s.Restart(); err == nil {
			return s, nil
		}
		if attempt == 2 {
			return nil, err
		}
	}
}

// Dir returns the server's temporary directory (configuration, TLS files, database).
func (s *Server) Dir() string { return s.dir }

func (s *Server) slapadd() error {
	cmd := exec.Command(filepath.Join(filepath.Dir(s.slapd), "slapadd"), "-q", "-f", s.confPath)
	var ldif bytes.Buffer
	if err := s.Seed.WriteLDIF(&ldif); err != nil {
		return err
	}
	cmd.Stdin = &ldif
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("slapadd: %w: %s", err, out)
	}
	return nil
}

// Restart starts slapd again on the same ports after Halt (it is a no-op while running).
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(s.slapd, "-d", "0", "-f", s.confPath, "-h", s.URL+"/ "+s.LDAPSURL+"/")
	s.stderr = &bytes.Buffer{}
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("slapd exited at startup: %s", s.stderr.String())
		default:
		}
		if err := s.ping(); err == nil {
			break
		} else if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("slapd did not answer on %s: %v", s.URL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd, s.done = cmd, done
	return nil
}

func (s *Server) ping() error {
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(time.Second)
	return c.Bind(ServiceDN, ServicePassword)
}

// Halt stops slapd but keeps its database, so Restart brings the same data back.
func (s *Server) Halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
	return nil
}

// Stop kills slapd and removes its directory.
func (s *Server) Stop() error {
	err := s.Halt()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// Running reports whether slapd is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Log returns what slapd wrote to stdout/stderr since it was last started.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stderr == nil {
		return ""
	}
	return s.stderr.String()
}

// AdminConn returns a connection bound as the rootdn, for modifying the directory.
func (s *Server) AdminConn(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(d))
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetTimeout(time.Until(dl))
	}
	if err := c.Bind(AdminDN, AdminPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// The rootdn bypasses limits; ServiceDN is limited to SizeLimit entries per non-paged search but
// may page through everything.
var confTemplate = template.Must(template.New("slapd.conf").Parse(`
include {{.SchemaDir}}/core.schema
include {{.SchemaDir}}/cosine.schema
include {{.SchemaDir}}/inetorgperson.schema
include {{.SchemaDir}}/nis.schema

modulepath {{.ModulePath}}
moduleload back_mdb
moduleload memberof

pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args

TLSCACertificateFile {{.Dir}}/ca.pem
TLSCertificateFile {{.Dir}}/server.pem
TLSCertificateKeyFile {{.Dir}}/server.key

sizelimit size.soft={{.SizeLimit}} size.hard={{.SizeLimit}} size.pr=unlimited size.prtotal=unlimited

database mdb
maxsize 2147483648
suffix "{{.BaseDN}}"
rootdn "{{.AdminDN}}"
rootpw {{.AdminPassword}}
directory {{.Dir}}/data
index objectClass eq
index uid,cn,mail eq
index member,memberOf eq
index entryUUID eq

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

access to attrs=userPassword
	by self write
	by anonymous auth
	by * none
access to *
	by * read
`))
