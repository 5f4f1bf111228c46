package ldap

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/samba"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/testca"
)

// The entry tap must be invisible: for any bytes a server sends, a search through the tap yields
// the entries and the error go-ldap alone yields. These tests answer go-ldap's search request with
// crafted messages over an in-memory connection and compare both ways of reading them.

// searchID is the message ID of the first request on a fresh go-ldap connection.
const searchID = 1

type attrSpec struct {
	name string
	vals []string
}

func ldapMessage(id int64, op *ber.Packet, controls ...*ber.Packet) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	p.AppendChild(op)
	if len(controls) > 0 {
		c := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, ctl := range controls {
			c.AppendChild(ctl)
		}
		p.AppendChild(c)
	}
	return p.Bytes()
}

func entryMessage(id int64, dn string, attrs []attrSpec, controls ...*ber.Packet) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "SearchResultEntry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "DN"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range attrs {
		attr := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
		attr.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.name, "Type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
		for _, v := range a.vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "Value"))
		}
		attr.AppendChild(set)
		list.AppendChild(attr)
	}
	op.AppendChild(list)
	return ldapMessage(id, op, controls...)
}

func resultMessage(id int64, app ber.Tag, code int64, diag string) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "Result")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "resultCode"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	return ldapMessage(id, op)
}

func doneMessage(code int64) []byte {
	return resultMessage(searchID, ldap.ApplicationSearchResultDone, code, "")
}

// serve answers the first request on server with stream, then closes the connection. With chunk
// > 0 the first 512 bytes of each message (its headers and first values) are written in chunks of
// chunk bytes, the rest at once; else each message is one write.
func serve(server net.Conn, stream [][]byte, chunk int) {
	defer server.Close()
	_ = server.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := ber.ReadPacket(server); err != nil {
		return
	}
	for _, msg := range stream {
		for written := 0; len(msg) > 0; {
			n := len(msg)
			if chunk > 0 && written < 512 {
				n = min(n, chunk)
			}
			written += n
			if _, err := server.Write(msg[:n]); err != nil {
				return
			}
			msg = msg[n:]
		}
	}
}

// searchThrough runs one search against stream, through a tap when tapped, and returns the entries
// as pagedUserSearch sees them.
func searchThrough(t testing.TB, stream [][]byte, tapped bool, chunk int) ([]entry, []string, error) {
	client, server := net.Pipe()
	go serve(server, stream, chunk)
	conn := client
	var tap *entryTap
	if tapped {
		tap = newEntryTap(client)
		conn = tap
	}
	lc := ldap.NewConn(conn, false)
	lc.Start()
	lc.SetTimeout(30 * time.Second)
	defer lc.Close()
	var detach func([]*ldap.Entry, bool, func(*entry)) error
	if tapped {
		detach = tap.attach()
	}
	res, err := lc.Search(ldap.NewSearchRequest("dc=x", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", nil, nil))
	var got []entry
	var fromGoLDAP []*ldap.Entry
	var refs []string
	if res != nil {
		fromGoLDAP, refs = res.Entries, res.Referrals
	}
	if detach != nil {
		detach(fromGoLDAP, err != nil, func(e *entry) { got = append(got, *e) })
	} else {
		for _, e := range fromGoLDAP {
			got = append(got, fromLDAP(e))
		}
	}
	return got, refs, err
}

func sameEntries(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].dn != b[i].dn || len(a[i].attrs) != len(b[i].attrs) {
			return false
		}
		for j, x := range a[i].attrs {
			y := b[i].attrs[j]
			if x.name != y.name || len(x.vals) != len(y.vals) {
				return false
			}
			for k := range x.vals {
				if !bytes.Equal(x.vals[k], y.vals[k]) {
					return false
				}
			}
		}
	}
	return true
}

func describe(es []entry, err error) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%q:", e.dn)
		for _, a := range e.attrs {
			fmt.Fprintf(&b, " %s=%q", a.name, a.vals)
		}
		b.WriteString("; ")
	}
	return fmt.Sprintf("%d entries %s err %v", len(es), b.String(), err)
}

// compareTap checks that the tap reads stream as go-ldap does and returns what it read: the same
// entries in the same order, an error exactly when go-ldap has one, and then at most a prefix of
// go-ldap's entries (what arrived after the point of failure may be dropped, never added).
func compareTap(t testing.TB, stream [][]byte, chunk int) ([]entry, error) {
	t.Helper()
	want, wantRefs, wantErr := searchThrough(t, stream, false, chunk)
	got, gotRefs, gotErr := searchThrough(t, stream, true, chunk)
	same := sameEntries(got, want) && slices.Equal(gotRefs, wantRefs)
	if wantErr != nil && len(got) <= len(want) {
		same = sameEntries(got, want[:len(got)])
	}
	if !same || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("chunk %d: through the tap %s\ngo-ldap alone  %s", chunk, describe(got, gotErr), describe(want, wantErr))
	}
	return got, gotErr
}

var (
	photo  = string([]byte{0xff, 0xd8, 0xff, 0x00, 0x80})
	person = []attrSpec{
		{"uid", []string{"zoe"}}, {"cn", []string{"Zoë Ångström"}}, {"mail", []string{"a@x", "b@x", ""}},
		{"jpegPhoto", []string{photo}}, {"description", []string{strings.Repeat("long ", 100)}},
		{"memberOf", []string{"cn=a,ou=g", "cn=b,ou=g"}}, {"emptySet", nil},
	}
)

// tapStreams are server answers the tap must read as go-ldap does; decoded says how many of the
// entries the tap's own decoder takes (the rest are go-ldap's).
var tapStreams = []struct {
	name    string
	stream  [][]byte
	entries int
	err     bool
}{
	{"entries", [][]byte{
		entryMessage(searchID, "uid=zoe,ou=p", person),
		entryMessage(searchID, "uid=big,ou=p", []attrSpec{{"description", []string{strings.Repeat("x", 70000)}}}),
		entryMessage(searchID, "uid=none,ou=p", nil),
		doneMessage(0),
	}, 3, false},
	{"entry with a control is go-ldap's", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:2], ldap.NewControlManageDsaIT(false).Encode()),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(0),
	}, 2, false},
	{"another request's entry is dropped", [][]byte{
		entryMessage(searchID+1, "uid=stale,ou=p", person[:1]),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(0),
	}, 1, false},
	{"referral and size limit", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		referenceMessage("ldap://other/dc=x"),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(ldap.LDAPResultSizeLimitExceeded),
	}, 1, true}, // uid=b arrived after a message go-ldap might have stopped at: dropped from the failed read
	{"referral", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		referenceMessage("ldap://other/dc=x"),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(0),
	}, 2, false},
	{"size limit", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(ldap.LDAPResultSizeLimitExceeded),
	}, 2, true},
	{"malformed attribute", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		malformedAttribute(),
		doneMessage(0),
	}, 1, true},
	{"connection cut inside an entry", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		entryMessage(searchID, "uid=b,ou=p", person)[:40],
	}, 1, true},
	{"not LDAP at all", [][]byte{[]byte("HTTP/1.1 400 Bad Request\r\n\r\n")}, 0, true},
	// go-ldap reads these as entries of the search; the tap leaves them to it, and they keep their place.
	{"entry whose message ID is an ENUMERATED", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		withIDTag(entryMessage(searchID, "uid=x,ou=p", person[:1]), ber.TagEnumerated),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(0),
	}, 3, false},
	{"entry whose protocolOp has a high-tag-number identifier", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		highTagOp(entryMessage(searchID, "uid=x,ou=p", person[:1])),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(0),
	}, 3, false},
	// The tap cannot frame an indefinite length: go-ldap gets the stream as it is from there on.
	{"entry of indefinite length", [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		indefinite(entryMessage(searchID, "uid=x,ou=p", person[:1])),
		entryMessage(searchID, "uid=b,ou=p", person[:1]),
		doneMessage(0),
	}, 3, false},
}

// indefinite is msg (short-form length) with its outer SEQUENCE in the indefinite-length form.
func indefinite(msg []byte) []byte {
	if msg[1] >= 0x80 {
		panic("indefinite: not a short message")
	}
	return append(append([]byte{0x30, 0x80}, msg[2:]...), 0, 0)
}

// withIDTag is msg (short-form length, one-byte message ID) with its message ID under another tag.
func withIDTag(msg []byte, tag ber.Tag) []byte {
	if msg[1] >= 0x80 || msg[2] != byte(ber.TagInteger) || msg[3] != 1 {
		panic("withIDTag: not a short message with a one-byte ID")
	}
	m := slices.Clone(msg)
	m[2] = byte(tag)
	return m
}

// highTagOp is msg (short-form length, one-byte message ID) with the identifier of its protocolOp
// in the high-tag-number form (0x7f 0x04 instead of 0x64), which asn1-ber reads as the same tag.
func highTagOp(msg []byte) []byte {
	if msg[1] >= 0x7f || msg[2] != byte(ber.TagInteger) || msg[3] != 1 {
		panic("highTagOp: not a short message with a one-byte ID")
	}
	op := msg[5]
	m := []byte{0x30, msg[1] + 1, msg[2], msg[3], msg[4], op | 0x1f, op & 0x1f}
	return append(m, msg[6:]...)
}

func referenceMessage(uri string) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "SearchResultReference")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, uri, "URI"))
	return ldapMessage(searchID, op)
}

// malformedAttribute is an entry whose attribute lacks its value set.
func malformedAttribute() []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "SearchResultEntry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid=m", "DN"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	attr := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
	attr.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid", "Type"))
	list.AppendChild(attr)
	op.AppendChild(list)
	return ldapMessage(searchID, op)
}

func TestEntryTapReadsAsGoLDAPDoes(t *testing.T) {
	for _, tt := range tapStreams {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 3, 1000} { // messages split across reads anywhere
				got, err := compareTap(t, tt.stream, chunk)
				if len(got) != tt.entries || (err != nil) != tt.err {
					t.Fatalf("chunk %d: %s; want %d entries, error %v", chunk, describe(got, err), tt.entries, tt.err)
				}
			}
		})
	}
}

// The decoder takes the plain entries itself (else the tap would be a slow no-op) and leaves the
// others to go-ldap.
func TestDecodeSearchEntry(t *testing.T) {
	names := map[string]string{}
	id, e, ok := decodeSearchEntry(entryMessage(7, "uid=zoe,ou=p", person), names)
	if !ok || id != 7 || e.dn != "uid=zoe,ou=p" || len(e.attrs) != len(person) {
		t.Fatalf("decode = %v %v %+v", ok, id, e)
	}
	if got := e.values("mail"); len(got) != 3 || got[1] != "b@x" || got[2] != "" || string(e.raw("jpegPhoto")[0]) != photo {
		t.Errorf("values: %+v", e)
	}
	for _, msg := range [][]byte{
		entryMessage(7, "uid=a", person[:1], ldap.NewControlManageDsaIT(false).Encode()),
		malformedAttribute(),
		doneMessage(0),
		entryMessage(7, "uid=a", person[:1])[:20],
		append(entryMessage(7, "uid=a", person[:1]), 0),
	} {
		if _, _, ok := decodeSearchEntry(msg, names); ok {
			t.Errorf("decoded % x", msg)
		}
	}
	for _, tc := range []struct {
		msg  []byte
		want int64
	}{{[]byte{0x30, 0x03, 0x02, 0x01, 0x05}, 5}, {[]byte{0x30, 0x04, 0x02, 0x02, 0x01, 0x00}, 256}, {[]byte{0x30, 0x03, 0x02, 0x01, 0xff}, -1}} {
		if id, ok := messageID(tc.msg); !ok || id != tc.want {
			t.Errorf("messageID(% x) = %d, %v; want %d", tc.msg, id, ok, tc.want)
		}
	}
}

// An entry that arrives before go-ldap has written the search request answers no request of the
// search, whatever its message ID (here -1, which no request has): go-ldap drops it, and so must the tap.
func TestEntryTapTakesNothingBeforeItsRequestIsWritten(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	tap := newEntryTap(client)
	lc := ldap.NewConn(tap, false)
	lc.Start()
	lc.SetTimeout(5 * time.Second)
	defer lc.Close()
	_ = server.SetDeadline(time.Now().Add(5 * time.Second))
	detach := tap.attach()
	// net.Pipe's Write returns once the tap has read the bytes, and the tap reads the second message
	// only after handling the first: the stray entry is handled before the request is written.
	for _, msg := range [][]byte{entryMessage(-1, "uid=stray,ou=p", person[:1]), resultMessage(99, ldap.ApplicationExtendedResponse, 0, "")} {
		if _, err := server.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	go serve(server, [][]byte{entryMessage(searchID, "uid=a,ou=p", person[:1]), doneMessage(0)}, 0)
	res, err := lc.Search(ldap.NewSearchRequest("dc=x", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", nil, nil))
	var got []entry
	var fromGoLDAP []*ldap.Entry
	if res != nil {
		fromGoLDAP = res.Entries
	}
	detach(fromGoLDAP, err != nil, func(e *entry) { got = append(got, *e) })
	if err != nil || len(got) != 1 || got[0].dn != "uid=a,ou=p" {
		t.Fatalf("search = %s; want only uid=a,ou=p", describe(got, err))
	}
}

// The read buffer grows with the bytes that arrive, not with the length a message announces (as
// go-ldap's own reading): a 9-byte header claiming 2 GiB must not allocate 2 GiB.
func TestEntryTapBuffersWhatArrivesNotWhatIsAnnounced(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := searchThrough(t, [][]byte{
		entryMessage(searchID, "uid=a,ou=p", person[:1]),
		{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01}, // then the server hangs up
	}, true, 0)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a message cut short was read without an error")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("a header announcing 2 GiB made the search allocate %d MiB", alloc>>20)
	}
}

// FuzzEntryTap sends an arbitrary message between two entries: whatever it is, the tap must read the
// stream as go-ldap does (the same entries, an error exactly when go-ldap has one).
func FuzzEntryTap(f *testing.F) {
	for _, tt := range tapStreams {
		for _, msg := range tt.stream {
			f.Add(msg)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		compareTap(t, [][]byte{entryMessage(searchID, "uid=a", person[:2]), msg, entryMessage(searchID, "uid=b", person[2:4]), doneMessage(0)}, 0)
	})
}

// On real servers every user entry, binary and non-ASCII ones included, is decoded by the tap, and
// the entries are those go-ldap reads from the same search on the same connection.
func TestUserSearchEntriesAreDecodedByTheTap(t *testing.T) {
	s := sharedServer(t)
	startTLS := seedConfig(s)
	startTLS.StartTLS, startTLS.CACertPEM = true, s.CACertPEM
	ldaps := seedConfig(s)
	ldaps.URL, ldaps.CACertPEM = s.LDAPSURL, s.CACertPEM
	for _, tc := range []struct {
		name string
		cfg  func() Config
		want int
	}{
		{"slapd", func() Config { return seedConfig(s) }, len(s.Seed.Users)},
		{"slapd StartTLS", func() Config { return startTLS }, len(s.Seed.Users)},
		{"slapd ldaps", func() Config { return ldaps }, len(s.Seed.Users)},
		{"Samba AD DC ldaps", func() Config { return dcConfig(sharedDC(t)) }, len(samba.People)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mustNew(t, tc.cfg())
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := src.connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			filter, _ := src.UserFilter()
			var tapped, viaGoLDAP []entry
			fallback := 0
			err = src.searchPages(ctx, c, src.cfg.BaseDN, ldap.ScopeWholeSubtree, filter, src.userAttributes(),
				func(e *entry) { tapped = append(tapped, *e) }, func(*ldap.Entry) { fallback++ })
			if err != nil || len(tapped) != tc.want || fallback != 0 {
				t.Fatalf("err %v: %d entries decoded by the tap, %d by go-ldap; want %d and 0", err, len(tapped), fallback, tc.want)
			}
			err = src.pagedSearch(ctx, c, src.cfg.BaseDN, ldap.ScopeWholeSubtree, filter, src.userAttributes(),
				func(e *ldap.Entry) { viaGoLDAP = append(viaGoLDAP, fromLDAP(e)) })
			if err != nil || !sameEntries(tapped, viaGoLDAP) {
				t.Fatalf("err %v: the tap's entries differ from go-ldap's:\n%s\n%s", err, describe(tapped[:1], nil), describe(viaGoLDAP[:min(1, len(viaGoLDAP))], nil))
			}
		})
	}
}

// A server that refuses StartTLS fails the read with the server's reason, as with go-ldap's StartTLS.
func TestStartTLSRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if req, err := ber.ReadPacket(c); err == nil && len(req.Children) == 2 {
			id, _ := req.Children[0].Value.(int64)
			_, _ = c.Write(resultMessage(id, ldap.ApplicationExtendedResponse, ldap.LDAPResultUnavailable, "no TLS here"))
		}
	}()
	cfg := Config{URL: "ldap://" + ln.Addr().String(), StartTLS: true, BaseDN: "dc=x", Timeout: 5 * time.Second}
	_, err = read(t, cfg)
	if directory.KindOf(err) != directory.KindUnreachable || !strings.Contains(err.Error(), "StartTLS with") || !strings.Contains(err.Error(), "no TLS here") {
		t.Fatalf("Read error = %v; want Unreachable naming StartTLS and the server's reason", err)
	}
}

// BenchmarkDecodeToRecord is the project's share of reading one user entry: the tap's decoding and
// the conversion to a record (go test -bench DecodeToRecord -benchmem).
func BenchmarkDecodeToRecord(b *testing.B) {
	msg := entryMessage(searchID, "uid=user00042,ou=people,dc=example,dc=com", []attrSpec{
		{"uid", []string{"user00042"}}, {"mail", []string{"user00042@example.com"}}, {"givenName", []string{"Given42"}},
		{"sn", []string{"Surname42"}}, {"displayName", []string{"Given42 Surname42"}}, {"telephoneNumber", []string{"+1 555 0000042"}},
		{"title", []string{"Engineer"}}, {"departmentNumber", []string{"103"}}, {"employeeNumber", []string{"E000042"}},
		{"entryUUID", []string{"6f1c2a4e-0000-4000-8000-000000000042"}}, {"memberOf", []string{"cn=engineering,ou=groups,dc=example,dc=com"}},
	})
	cfg := Config{IDAttribute: "entryUUID", Attributes: []string{"uid", "mail", "givenName", "sn", "displayName", "telephoneNumber",
		"title", "departmentNumber", "employeeNumber", "employeeType"}}
	names := map[string]string{}
	b.ReportAllocs()
	for b.Loop() {
		own := make([]byte, len(msg))
		copy(own, msg)
		_, e, ok := decodeSearchEntry(own, names)
		if !ok {
			b.Fatal("not decoded")
		}
		if _, problem := toRecord(cfg, &e); problem != nil {
			b.Fatal(problem)
		}
	}
}

// StartTLS is done by dial (before go-ldap takes the stream) with the same verification as before:
// the certificate must name the configured host (ServerName) and TLS 1.2 is the least accepted, and
// either failure is a TLS error (issue 11), not an unreachable server.
func TestStartTLSVerification(t *testing.T) {
	ca, err := testca.New("starttls", time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(ca.ServerCertPEM, ca.ServerKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		serverName string
		maxVersion uint16
	}{
		{"a name not in the certificate", "elsewhere.example", tls.VersionTLS13},
		{"a server offering only TLS 1.1", "", tls.VersionTLS11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				req, err := ber.ReadPacket(c)
				if err != nil || len(req.Children) != 2 {
					return
				}
				id, _ := req.Children[0].Value.(int64)
				if _, err := c.Write(resultMessage(id, ldap.ApplicationExtendedResponse, ldap.LDAPResultSuccess, "")); err != nil {
					return
				}
				_ = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tc.maxVersion}).Handshake()
			}()
			cfg := Config{URL: "ldap://" + ln.Addr().String(), StartTLS: true, CACertPEM: ca.CACertPEM, ServerName: tc.serverName,
				BaseDN: "dc=x", Timeout: 5 * time.Second}
			_, err = read(t, cfg)
			if directory.KindOf(err) != directory.KindTLSFailed || !strings.Contains(err.Error(), "StartTLS with") {
				t.Fatalf("Read error = %v; want TLSFailed naming StartTLS", err)
			}
		})
	}
}

// A paged user search through the tap (searchPages: a sink per page, the message ID of each page's
// request) reads every entry once and in the server's order, across pages whose entries mix the
// tap's, go-ldap's (with a control) and continuation references, with the paging cookie go-ldap reads.
func TestPagedUserSearchThroughTheTap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	control := ldap.NewControlManageDsaIT(false).Encode()
	done := func(id int64, cookie string) []byte {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultDone, nil, "Done")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "resultCode"))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
		paging := ldap.NewControlPaging(0)
		paging.SetCookie([]byte(cookie))
		return ldapMessage(id, op, paging.Encode())
	}
	reference := func(id int64) []byte {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "Reference")
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://other/dc=x", "URI"))
		return ldapMessage(id, op)
	}
	pages := []func(id int64) [][]byte{
		func(id int64) [][]byte {
			return [][]byte{entryMessage(id, "uid=1", person[:1]), entryMessage(id, "uid=2", person[:1], control),
				entryMessage(id, "uid=3", person[:1]), done(id, "page2")}
		},
		func(id int64) [][]byte {
			return [][]byte{entryMessage(id, "uid=4", person[:1], control), reference(id), entryMessage(id, "uid=5", person[:1]),
				entryMessage(id+100, "uid=stale", person[:1]), entryMessage(id, "uid=6", person[:1], control), done(id, "")}
		},
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		rootDSE := func(id int64) [][]byte { return [][]byte{done(id, "")} } // connect reads it first
		for _, page := range append([]func(int64) [][]byte{rootDSE}, pages...) {
			req, err := ber.ReadPacket(c)
			if err != nil || len(req.Children) < 2 {
				return
			}
			id, _ := req.Children[0].Value.(int64)
			for _, msg := range page(id) {
				if _, err := c.Write(msg); err != nil {
					return
				}
			}
		}
	}()
	src := mustNew(t, Config{URL: "ldap://" + ln.Addr().String(), BaseDN: "dc=x", PageSize: 3, Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := src.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var got []string
	err = src.pagedUserSearch(ctx, c, "dc=x", ldap.ScopeWholeSubtree, "(objectClass=*)", nil, func(e *entry) { got = append(got, e.dn) })
	if want := []string{"uid=1", "uid=2", "uid=3", "uid=4", "uid=5", "uid=6"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("paged search = %v, %v; want %v", got, err, want)
	}
	if len(c.refs) != 1 {
		t.Errorf("continuation references = %v; want the one of page 2", c.refs)
	}
}

// The tap takes the entries of the first request go-ldap writes after attach. Should another request
// go out on the connection while the user search's sink is attached (nothing does so today: every
// search of a read waits for the previous one), the sink may hold the other request's entries: the
// search must fail rather than count them as its own.
func TestEntryTapRefusesToGuessBetweenConcurrentRequests(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	tap := newEntryTap(client)
	lc := ldap.NewConn(tap, false)
	lc.Start()
	lc.SetTimeout(10 * time.Second)
	defer lc.Close()
	_ = server.SetDeadline(time.Now().Add(10 * time.Second))
	search := func(base string) (*ldap.SearchResult, error) {
		return lc.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	}
	detach := tap.attach()
	other := make(chan error, 1)
	go func() { _, err := search("cn=manager"); other <- err }() // written first: its ID is the one the sink takes
	first, err := ber.ReadPacket(server)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		second, err := ber.ReadPacket(server)
		if err != nil {
			answered <- err
			return
		}
		for _, req := range []*ber.Packet{first, second} {
			id, _ := req.Children[0].Value.(int64)
			base, _ := req.Children[1].Children[0].Value.(string)
			for _, msg := range [][]byte{entryMessage(id, base, person[:1]), resultMessage(id, ldap.ApplicationSearchResultDone, 0, "")} {
				if _, err := server.Write(msg); err != nil {
					answered <- err
					return
				}
			}
		}
		answered <- nil
	}()
	res, err := search("uid=user")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	derr := detach(res.Entries, false, func(e *entry) { got = append(got, e.dn) })
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	if derr == nil || slices.Contains(got, "cn=manager") {
		t.Fatalf("detach = %v with entries %v; want an error and never the other request's entry", derr, got)
	}
}
