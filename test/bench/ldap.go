package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory/ldap"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// LDAP read throughput against its floors, on one slapd with the same entries, filter, attributes
// and page size: the operator's Source.Read (memberOf groups, as a DirectorySource would be
// configured), the same paged search with go-ldap alone (entries collected, nothing converted),
// and OpenLDAP's own ldapsearch writing LDIF to /dev/null.

var ldapUsers = flag.Int("ldap-users", 20_000, "users seeded into slapd for the LDAP read figures, before -scale (0 skips them)")

func init() {
	register(section{name: "ldap", order: 30, run: func(b *bench, ctx context.Context) error {
		return b.ldap(ctx, b.size(*ldapUsers))
	}})
}

// ldapReads is how many reads each path gets after one warm-up read; the median counts. Seven:
// on this shared machine one read of the same entries took 0.37 to 0.59 s between bench runs.
const ldapReads = 7

// ldapPath is one measured way of reading the entries.
type ldapPath struct {
	rate          float64 // entries/s, median of the measured reads
	entries       int
	allocs, bytes float64 // per entry, median; negative when not measured (other process)
}

func ldapBenchConfig(srv *slapd.Server) ldap.Config {
	return ldap.Config{
		URL: srv.URL, BindDN: slapd.ServiceDN, BindPassword: slapd.ServicePassword,
		BaseDN: slapd.PeopleDN, UserFilter: "(objectClass=inetOrgPerson)",
		Attributes: []string{"uid", "mail", "givenName", "sn", "displayName", "telephoneNumber", "title", "departmentNumber", "employeeNumber", "employeeType"},
		PageSize:   ldap.DefaultPageSize, Timeout: 30 * time.Second,
		Groups:   ldap.GroupsConfig{Mode: ldap.GroupsMemberOf},
		Disabled: ldap.DisabledConfig{Mode: ldap.DisabledAttribute, Attribute: slapd.DisabledAttribute, Value: slapd.DisabledValue},
	}
}

// readPath is one way of reading the entries: read returns how many it read. Allocations are the
// process's (runtime.MemStats), so only in-process paths report them.
type readPath struct {
	name      string
	inProcess bool
	read      func() (int, error)
}

// measureReads reads once per path to warm up, then ldapReads rounds of one read per path, so that
// every path is measured under the same load of a shared machine; the medians count.
func measureReads(want int, paths []readPath) ([]ldapPath, error) {
	rates := make([][]float64, len(paths))
	allocs := make([][]float64, len(paths))
	bytes := make([][]float64, len(paths))
	for round := range ldapReads + 1 {
		for i, p := range paths {
			if round == 0 {
				fmt.Fprintf(progress, "LDAP read: %s ...\n", p.name)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			t := time.Now()
			n, err := p.read()
			d := time.Since(t)
			runtime.ReadMemStats(&after)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			if n != want {
				return nil, fmt.Errorf("%s: read %d entries, want %d", p.name, n, want)
			}
			if round > 0 {
				rates[i] = append(rates[i], float64(n)/d.Seconds())
				allocs[i] = append(allocs[i], float64(after.Mallocs-before.Mallocs)/float64(n))
				bytes[i] = append(bytes[i], float64(after.TotalAlloc-before.TotalAlloc)/float64(n))
			}
		}
	}
	out := make([]ldapPath, len(paths))
	for i, p := range paths {
		out[i] = ldapPath{rate: median(rates[i]), entries: want, allocs: -1, bytes: -1}
		if p.inProcess {
			out[i].allocs, out[i].bytes = median(allocs[i]), median(bytes[i])
		}
	}
	return out, nil
}

// median is the middle of xs; of an even count, the upper of the two middle ones.
func median[T cmp.Ordered](xs []T) T {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// operatorRead is the project's path: Source.Read, records mapped from entries, memberOf resolved.
func operatorRead(ctx context.Context, cfg ldap.Config) (func() (int, error), error) {
	src, err := ldap.New(cfg)
	if err != nil {
		return nil, err
	}
	return func() (int, error) {
		snap, err := src.Read(ctx)
		if err != nil {
			return 0, err
		}
		if !snap.Complete || len(snap.Problems) > 0 {
			return 0, fmt.Errorf("incomplete read: complete %v, %d problems", snap.Complete, len(snap.Problems))
		}
		return len(snap.Records), nil
	}, nil
}

// rawGoLDAPRead is the floor in Go: one connection, bind, go-ldap's SearchWithPaging with the same
// filter, attributes and page size; the entries are kept, as a reader must.
func rawGoLDAPRead(cfg ldap.Config, filter string, attrs []string) func() (int, error) {
	return func() (int, error) {
		c, err := goldap.DialURL(cfg.URL)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		if err := c.Bind(cfg.BindDN, cfg.BindPassword); err != nil {
			return 0, err
		}
		req := goldap.NewSearchRequest(cfg.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
		res, err := c.SearchWithPaging(req, uint32(cfg.PageSize))
		if err != nil {
			return 0, err
		}
		return len(res.Entries), nil
	}
}

// ldapsearchRead runs OpenLDAP's ldapsearch with the same search. Its first run counts the entries
// in its output; the later ones send the output to /dev/null, so the floor pays for no parsing.
func ldapsearchRead(ctx context.Context, cfg ldap.Config, filter string, attrs []string, dir string) (func() (int, error), error) {
	bin, err := exec.LookPath("ldapsearch")
	if err != nil {
		return nil, errors.New("ldapsearch not installed (apt-get install ldap-utils)")
	}
	pwFile := filepath.Join(dir, "ldapsearch.pw")
	if err := os.WriteFile(pwFile, []byte(cfg.BindPassword), 0o600); err != nil { // -y takes the whole file
		return nil, err
	}
	args := append([]string{"-x", "-LLL", "-H", cfg.URL, "-D", cfg.BindDN, "-y", pwFile, "-b", cfg.BaseDN,
		"-E", fmt.Sprintf("pr=%d/noprompt", cfg.PageSize), filter}, attrs...)
	counted, entries := false, 0 // the warm-up counts the entries; the measured runs discard the output
	return func() (int, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if counted {
			devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				return 0, err
			}
			defer devNull.Close()
			cmd.Stdout = devNull
			if err := cmd.Run(); err != nil {
				return 0, fmt.Errorf("ldapsearch: %w: %s", err, firstLine(stderr.String()))
			}
			return entries, nil // exit status 0: the whole paged search succeeded
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		n, scanErr := countDNs(out)
		if err := cmd.Wait(); err != nil {
			return 0, fmt.Errorf("ldapsearch: %w: %s", err, firstLine(stderr.String()))
		}
		if scanErr != nil {
			return 0, scanErr
		}
		counted, entries = true, n
		return n, nil
	}, nil
}

// countDNs counts the entries of LDIF output ("dn:" lines; -LLL prints no comments or version).
func countDNs(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		if line := sc.Bytes(); bytes.HasPrefix(line, []byte("dn: ")) || bytes.HasPrefix(line, []byte("dn:: ")) {
			n++
		}
	}
	return n, sc.Err()
}

func (b *bench) ldap(ctx context.Context, n int) error {
	if n <= 0 {
		b.add("c) LDAP read", "entries/s", "—", "skipped (-ldap-users 0)")
		return nil
	}
	if !slapd.Available() {
		return errors.New(slapd.InstallHint)
	}
	fmt.Fprintln(progress, "starting slapd ...")
	t := time.Now()
	srv, err := slapd.Start(slapd.Options{Users: n})
	if err != nil {
		return fmt.Errorf("slapd did not start: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	b.note("slapd with %d users started (slapadd included) in %s.", n, seconds(time.Since(t)))
	return b.ldapPaths(ctx, srv)
}

func (b *bench) ldapPaths(ctx context.Context, srv *slapd.Server) error {
	cfg := ldapBenchConfig(srv)
	src, err := ldap.New(cfg)
	if err != nil {
		return err
	}
	filter, err := src.UserFilter()
	if err != nil {
		return err
	}
	attrs := src.SearchAttributes()
	want := len(srv.Seed.Users)

	operator, err := operatorRead(ctx, cfg)
	if err != nil {
		return err
	}
	cliRead, err := ldapsearchRead(ctx, cfg, filter, attrs, srv.Dir())
	if err != nil {
		return err
	}
	measured, err := measureReads(want, []readPath{
		{"operator", true, operator},
		{"raw go-ldap", true, rawGoLDAPRead(cfg, filter, attrs)},
		{"ldapsearch", false, cliRead},
	})
	if err != nil {
		return err
	}
	op, raw, cli := measured[0], measured[1], measured[2]

	s := fmt.Sprintf("c) LDAP read, %d users, paged (%d/page), same slapd and search", want, cfg.PageSize)
	rate := func(p ldapPath) string { return fmt.Sprintf("%.0f entries/s (%s per read)", p.rate, perRead(p)) }
	b.vs(s, "operator Source.Read (memberOf groups) vs ldapsearch to /dev/null", "≤ 2×", rate(op), rate(cli), cli.rate/op.rate)
	b.vs(s, "raw go-ldap SearchWithPaging vs ldapsearch to /dev/null", "—", rate(raw), rate(cli), cli.rate/raw.rate)
	b.vs(s, "operator vs raw go-ldap", "—", rate(op), rate(raw), raw.rate/op.rate)
	perEntry := func(p ldapPath) string { return fmt.Sprintf("%.0f allocations, %.1f KB", p.allocs, p.bytes/1024) }
	b.vs(s, "allocated per entry: operator vs raw go-ldap (ratio of bytes)", "—", perEntry(op), perEntry(raw), op.bytes/raw.bytes)
	b.note("LDAP read: %d entries, filter %s, attributes %v; entries/s is the median of %d reads after a warm-up, the paths taking turns; "+
		"allocations are runtime.MemStats Mallocs and TotalAlloc around each read, divided by the entries.", want, filter, attrs, ldapReads)
	return nil
}

func perRead(p ldapPath) string {
	return seconds(time.Duration(float64(p.entries) / p.rate * float64(time.Second)))
}
