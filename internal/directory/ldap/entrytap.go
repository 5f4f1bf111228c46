package ldap

import (
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The user search decodes its entries itself. go-ldap decodes every message into a tree of
// asn1-ber packets, each holding a copy of its children's bytes, a bytes.Buffer and an io.ReadAll
// buffer of at least 512 bytes per value: ~550 allocations and ~30 KB per user entry of a dozen
// attributes, and most of a paged read's CPU time goes to that and to the garbage collector
// (make bench, section c). The LDAP connection therefore reads through an entryTap: a net.Conn
// that frames the LDAP messages of the byte stream and, while a user search has a sink attached,
// decodes its SearchResultEntry messages into entries (four allocations per entry) instead of
// passing them to go-ldap. Everything else, and every entry whose encoding the strict decoder below
// does not accept (controls, constructed strings, unusual lengths), goes to go-ldap as before, so
// go-ldap still decides results, errors, referrals, paging cookies and malformed input.

// maxMessage is the largest LDAP message framed; larger lengths go to go-ldap, which refuses
// them (asn1-ber's MaxPacketLengthBytes).
const maxMessage = math.MaxInt32

// entryTap sits between go-ldap and the (TLS) connection. Read runs on go-ldap's reader goroutine.
type entryTap struct {
	net.Conn
	sink atomic.Pointer[entrySink]

	in      []byte // bytes read, not yet framed (in[start:])
	start   int
	out     []byte // framed messages for go-ldap (out[outPos:])
	outPos  int
	err     error             // the connection's read error, returned once out is drained
	rawMode bool              // the stream could not be framed: everything passes through
	names   map[string]string // interned attribute names
}

func newEntryTap(c net.Conn) *entryTap { return &entryTap{Conn: c, names: map[string]string{}} }

// entrySink receives the entries of one search request. go-ldap's Search returns when the
// request's SearchResultDone has passed the tap, so by then every entry before it is here; once the
// Done has passed or the sink is detached, later entries (of an abandoned request) go to go-ldap,
// which drops them as it always did.
type entrySink struct {
	// id is the message ID of the request, read from go-ldap's write of it (0 until then: go-ldap
	// numbers requests from 1, and 0 is the ID of unsolicited notifications): only the entries
	// answering it are taken, as go-ldap's Search takes only those.
	id atomic.Int64
	// writes counts the messages go-ldap wrote while the sink was attached: more than one means
	// another request went out beside the search, and the sink may hold its entries.
	writes  atomic.Int32
	mu      sync.Mutex
	entries []entry
	// passed logs the messages of the request left to go-ldap, with how many entries the sink had
	// then: detach puts go-ldap's entries back in the order the server sent them.
	passed []passMark
	closed bool
}

type passMark struct {
	at    int  // len(entries) when the message passed
	entry bool // go-ldap's Search reads it as an entry
}

// Tag numbers of the protocolOps go-ldap's Search tells apart (it compares the number only, whatever
// the class or the form of the identifier).
const (
	opSearchEntry ber.Tag = 4
	opSearchDone  ber.Tag = 5
)

func (s *entrySink) add(e entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.entries = append(s.entries, e)
	return true
}

// pass logs a message of the request left to go-ldap, op being its protocolOp's tag number; after its
// SearchResultDone, go-ldap's Search has returned and the sink takes nothing more.
func (s *entrySink) pass(op ber.Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.passed = append(s.passed, passMark{at: len(s.entries), entry: op == opSearchEntry})
		s.closed = op == opSearchDone
	}
}

// attach makes the tap decode search entries into a new sink until detach is called with what
// go-ldap's Search returned; detach calls each for the entries of the request in the order the
// server sent them. When the Search failed, go-ldap stopped at a message it did not get past: the
// entries taken after the first message of the request it may have stopped at (the first one after
// the last entry it returned) are dropped, so a failed read never has an entry go-ldap would not
// have returned. One request at a time: when go-ldap wrote any other message while the sink was
// attached (a concurrent request, an Abandon), which request the sink's entries answer is not
// known, so detach passes only go-ldap's entries and returns an error: the read is incomplete.
func (t *entryTap) attach() (detach func(fromGoLDAP []*ldap.Entry, failed bool, each func(*entry)) error) {
	s := &entrySink{}
	t.sink.Store(s)
	return func(fromGoLDAP []*ldap.Entry, failed bool, each func(*entry)) error {
		t.sink.CompareAndSwap(s, nil)
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if n := s.writes.Load(); n > 1 {
			for _, le := range fromGoLDAP {
				e := fromLDAP(le)
				each(&e)
			}
			return fmt.Errorf("%d requests were sent while the user search's entries were decoded on its connection; its entries cannot be told apart", n)
		}
		i, mark := 0, 0 // next sink entry, next passed message
		for _, le := range fromGoLDAP {
			for mark < len(s.passed) && !s.passed[mark].entry {
				mark++
			}
			at := len(s.entries) // an entry go-ldap has that passed unseen (cannot happen) goes last
			if mark < len(s.passed) {
				at = s.passed[mark].at
				mark++
			}
			for ; i < at; i++ {
				each(&s.entries[i])
			}
			e := fromLDAP(le)
			each(&e)
		}
		end := len(s.entries)
		if failed && mark < len(s.passed) {
			end = s.passed[mark].at
		}
		for ; i < end; i++ {
			each(&s.entries[i])
		}
		return nil
	}
}

// Write sends go-ldap's messages (one whole message per call); the first one after attach is the
// request whose entries the sink takes.
func (t *entryTap) Write(p []byte) (int, error) {
	if s := t.sink.Load(); s != nil && s.writes.Add(1) == 1 {
		if id, ok := messageID(p); ok && id > 0 {
			s.id.CompareAndSwap(0, id)
		}
	}
	return t.Conn.Write(p)
}

func (t *entryTap) Read(p []byte) (int, error) {
	for t.outPos == len(t.out) {
		t.out, t.outPos = t.out[:0], 0
		if t.rawMode {
			if t.start < len(t.in) { // what was read before framing gave up
				n := copy(p, t.in[t.start:])
				t.start += n
				return n, nil
			}
			return t.Conn.Read(p)
		}
		if t.err != nil {
			return 0, t.err
		}
		t.frame()
	}
	n := copy(p, t.out[t.outPos:])
	t.outPos += n
	return n, nil
}

// frame handles the complete messages in the buffer, reading more when there is none; it returns
// when there is output for go-ldap or an error.
func (t *entryTap) frame() {
	for t.outPos == len(t.out) && !t.rawMode {
		buf := t.in[t.start:]
		size, ok := messageSize(buf)
		switch {
		case !ok:
			t.rawMode = true
			return
		case size > 0 && size <= len(buf):
			if t.handle(buf[:size]); !t.rawMode {
				t.start += size
			}
			continue
		}
		if err := t.fill(); err != nil {
			t.err = err
			t.out = append(t.out, t.in[t.start:]...) // go-ldap reads the partial message, then the error
			t.start = len(t.in)
			return
		}
	}
}

// fill reads once from the connection, first making room for 4 KiB more. The buffer grows with
// what arrives (doubling), not with the length a message announces: a header claiming 2 GiB costs
// no more memory than the bytes that follow it, as with go-ldap alone.
func (t *entryTap) fill() error {
	pending := t.in[t.start:]
	want := len(pending) + 4096
	if cap(t.in)-t.start < want {
		if cap(t.in) >= want {
			t.in = t.in[:copy(t.in[:cap(t.in)], pending)]
		} else {
			grown := make([]byte, len(pending), max(want, 2*cap(t.in), 32<<10))
			copy(grown, pending)
			t.in = grown
		}
		t.start = 0
	}
	n, err := t.Conn.Read(t.in[len(t.in):cap(t.in)])
	t.in = t.in[:len(t.in)+n]
	if n > 0 {
		return nil // an error comes again with the next read
	}
	return err
}

// handle gives one complete message to the attached sink when it is a search entry the decoder
// accepts, else to go-ldap.
//
// Taking a message out of the stream is only safe while go-ldap splits the stream into the same
// messages: asn1-ber reads a message by its elements, and a message whose elements overrun its
// length makes go-ldap read into the next one (and fail). So while a sink is attached, a message
// left to go-ldap is first parsed with asn1-ber as go-ldap will; if it does not parse, the tap stops
// taking entries for good and go-ldap gets the stream exactly as it came. (Messages passed while no
// sink is attached are not parsed twice: go-ldap agrees with the tap on every message boundary until
// a message it cannot parse, which ends the connection.)
func (t *entryTap) handle(msg []byte) {
	s := t.sink.Load()
	if s == nil {
		t.out = append(t.out, msg...)
		return
	}
	want := s.id.Load() // 0 until go-ldap has written the request: nothing answers it yet
	if want != 0 && isSearchEntry(msg) {
		own := make([]byte, len(msg)) // the entry's values point into it; the read buffer is reused
		copy(own, msg)
		if id, e, ok := decodeSearchEntry(own, t.names); ok && id == want && s.add(e) {
			return
		}
	}
	p, err := ber.DecodePacketErr(msg)
	if err != nil {
		t.rawMode = true
		return // frame leaves msg in the read buffer, which rawMode hands to go-ldap as it is
	}
	// What the message is to go-ldap is read from the packet go-ldap makes of it: its reader routes a
	// message by the int64 value of the first element (an ENUMERATED or a long INTEGER has one too),
	// and its Search goes by the protocolOp's tag number, whatever its class or identifier form.
	if want != 0 && len(p.Children) >= 2 && p.Children[0] != nil && p.Children[1] != nil {
		if id, ok := p.Children[0].Value.(int64); ok && id == want {
			s.pass(p.Children[1].Tag)
		}
	}
	t.out = append(t.out, msg...)
}

// isSearchEntry reports whether msg may be a SearchResultEntry in the form decodeSearchEntry takes
// (a cheap look at the protocolOp's identifier, so that other messages are not copied).
func isSearchEntry(msg []byte) bool {
	_, rest, ok := messageHead(msg)
	return ok && len(rest) > 0 && rest[0] == tagSearchEntry
}

// messageSize returns the size of the LDAPMessage (a SEQUENCE with a definite length, RFC 4511
// 5.1) at the start of b, 0 when b is too short to tell, and false when b does not start like one.
func messageSize(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, len(b) == 0 || b[0] == 0x30
	}
	if b[0] != 0x30 {
		return 0, false
	}
	l := int(b[1])
	if l < 0x80 {
		return 2 + l, true
	}
	n := l & 0x7f
	if n == 0 || n > 4 {
		return 0, false
	}
	if len(b) < 2+n {
		return 0, true
	}
	size := 0
	for _, c := range b[2 : 2+n] {
		size = size<<8 | int(c)
	}
	if size > maxMessage {
		return 0, false
	}
	return 2 + n + size, true
}

// tlv splits the BER element at the start of b into its tag, content and the bytes after it. It
// accepts single-byte tags and definite lengths of up to four length bytes, the forms LDAP servers
// send; anything else is false and the message goes to go-ldap.
func tlv(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, nil, nil, false
	}
	tag, l, b := b[0], int(b[1]), b[2:]
	if l >= 0x80 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < n {
			return 0, nil, nil, false
		}
		l = 0
		for _, c := range b[:n] {
			l = l<<8 | int(c)
		}
		b = b[n:]
	}
	if l > len(b) {
		return 0, nil, nil, false
	}
	return tag, b[:l], b[l:], true
}

// BER tags of a search result entry.
const (
	tagSequence      = 0x30
	tagSet           = 0x31
	tagInteger       = 0x02
	tagOctetString   = 0x04
	tagSearchEntry   = 0x64 // [APPLICATION 4] constructed
	maxMessageIDSize = 8    // go-ldap reads the message ID as an int64
)

// decodeSearchEntry decodes an LDAPMessage holding a SearchResultEntry without controls:
//
//	SEQUENCE { INTEGER messageID, [APPLICATION 4] SEQUENCE { OCTET STRING objectName,
//	  SEQUENCE OF SEQUENCE { OCTET STRING type, SET OF OCTET STRING vals } } }
//
// Every element must be exactly there and fill its parent; then the entry is what go-ldap would
// make of the message (its message ID, DN, names and values), else ok is false. Values point into msg.
func decodeSearchEntry(msg []byte, names map[string]string) (id int64, e entry, ok bool) {
	id, body, ok := messageHead(msg)
	if !ok {
		return 0, entry{}, false
	}
	tag, op, rest, ok := tlv(body)
	if !ok || tag != tagSearchEntry || len(rest) != 0 { // a controls element follows: go-ldap's turn
		return 0, entry{}, false
	}
	tag, dn, op, ok := tlv(op)
	if !ok || tag != tagOctetString {
		return 0, entry{}, false
	}
	tag, list, rest, ok := tlv(op)
	if !ok || tag != tagSequence || len(rest) != 0 {
		return 0, entry{}, false
	}
	// One pass to check the structure and count, one to fill: two allocations for any entry.
	nattrs, nvals := 0, 0
	for b := list; len(b) > 0; {
		var attr []byte
		if tag, attr, b, ok = tlv(b); !ok || tag != tagSequence {
			return 0, entry{}, false
		}
		var vals []byte
		if tag, _, attr, ok = tlv(attr); !ok || tag != tagOctetString {
			return 0, entry{}, false
		}
		if tag, vals, attr, ok = tlv(attr); !ok || tag != tagSet || len(attr) != 0 {
			return 0, entry{}, false
		}
		for len(vals) > 0 {
			if tag, _, vals, ok = tlv(vals); !ok || tag != tagOctetString {
				return 0, entry{}, false
			}
			nvals++
		}
		nattrs++
	}
	e = entry{dn: string(dn), attrs: make([]entryAttr, 0, nattrs)}
	all := make([][]byte, 0, nvals)
	for b := list; len(b) > 0; {
		var attr, name, vals, v []byte
		_, attr, b, _ = tlv(b)
		_, name, attr, _ = tlv(attr)
		_, vals, _, _ = tlv(attr)
		first := len(all)
		for len(vals) > 0 {
			_, v, vals, _ = tlv(vals)
			all = append(all, v)
		}
		e.attrs = append(e.attrs, entryAttr{name: intern(names, name), vals: all[first:len(all):len(all)]})
	}
	return id, e, true
}

// messageHead reads the message ID of an LDAPMessage and returns what follows it.
func messageHead(msg []byte) (id int64, rest []byte, ok bool) {
	tag, body, after, ok := tlv(msg)
	if !ok || tag != tagSequence || len(after) != 0 {
		return 0, nil, false
	}
	tag, idBytes, rest, ok := tlv(body)
	if !ok || tag != tagInteger || len(idBytes) == 0 || len(idBytes) > maxMessageIDSize {
		return 0, nil, false
	}
	id = int64(int8(idBytes[0])) // two's complement, sign-extended like asn1-ber's ParseInt64
	for _, c := range idBytes[1:] {
		id = id<<8 | int64(c)
	}
	return id, rest, true
}

// messageID returns the ID of the LDAPMessage p.
func messageID(p []byte) (int64, bool) {
	id, _, ok := messageHead(p)
	return id, ok
}

// intern returns name as a string shared by all entries of the connection (a lookup with a []byte
// key does not allocate).
func intern(names map[string]string, name []byte) string {
	if s, ok := names[string(name)]; ok {
		return s
	}
	if len(names) >= 1024 { // a server inventing names cannot grow the map without bound
		return string(name)
	}
	s := string(name)
	names[s] = s
	return s
}
