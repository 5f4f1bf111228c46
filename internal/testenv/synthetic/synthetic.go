// Package synthetic generates a large deterministic directory in process, for benchmarks and
// demos: the same parameters always yield the same records.
package synthetic

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// DepartmentCount is the number of departments; codes run from "100" up.
const DepartmentCount = 50

// Departments returns the lookup table of department codes to names.
func Departments() map[string]string {
	m := make(map[string]string, DepartmentCount)
	for d := range DepartmentCount {
		m[strconv.Itoa(100+d)] = fmt.Sprintf("Department %02d", d)
	}
	return m
}

// Attributes lists the attributes every record carries.
var Attributes = []string{"uid", "mail", "givenName", "sn", "title", "departmentNumber", "employeeNumber", "telephoneNumber"}

// Source is a directory.Source of Users people in Groups groups (each person is in two of them).
type Source struct {
	Users  int
	Groups int
	// Changed, when set, marks the people whose title differs from the base directory, to model
	// a change between two reads.
	Changed func(i int) bool
}

var _ directory.Source = (*Source)(nil)

// The values a person's record is made of; the shapes are the contract the tests and the bench's
// write counts rely on.
const (
	idPrefix    = "00000000-0000-4000-8000-"
	dnSuffix    = ",ou=people,dc=example,dc=com"
	mailSuffix  = "@example.com"
	titleCount  = 37
	familyCount = 9973
)

// ID returns the stable id of person i.
func ID(i int) string { return string(appendID(nil, i)) }

func appendID(b []byte, i int) []byte { return appendPadded(append(b, idPrefix...), i, 12) }

// appendPadded appends i in decimal, zero-padded to width digits (as fmt's %0*d does).
func appendPadded(b []byte, i, width int) []byte {
	if i < 0 {
		b = append(b, '-')
		i = -i
		width--
	}
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(i), 10)
	for n := len(d); n < width; n++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// constants holds the values many records share, made once per read rather than once per record.
type constants struct {
	titles, changedTitles, departments, families, groups []string
}

func newConstants(groups int) *constants {
	c := &constants{
		titles: make([]string, titleCount), changedTitles: make([]string, titleCount),
		departments: make([]string, DepartmentCount), families: make([]string, familyCount),
		groups: make([]string, groups),
	}
	for i := range c.titles {
		c.titles[i] = "Title " + strconv.Itoa(i)
		c.changedTitles[i] = c.titles[i] + " (changed)"
	}
	for i := range c.departments {
		c.departments[i] = strconv.Itoa(100 + i)
	}
	for i := range c.families {
		c.families[i] = "Family" + strconv.Itoa(i)
	}
	for g := range c.groups {
		c.groups[g] = string(appendPadded([]byte("grp-"), g, 4))
	}
	return c
}

// Read generates every record afresh, as a real source returns new data on each read.
func (s *Source) Read(ctx context.Context) (*model.Snapshot, error) {
	recs := make([]model.Record, max(s.Users, 0))
	if err := s.generate(ctx, newConstants(max(s.Groups, 0)), 0, recs); err != nil {
		return nil, err
	}
	return &model.Snapshot{Records: recs, Complete: true, ReadAt: time.Now()}, nil
}

// ReadStream is Read handing the records over as it generates them, directory.HandOverBatch at a
// time (directory.Streamer), so that a run never holds them all.
func (s *Source) ReadStream(ctx context.Context, yield func(batch []model.Record) error) (*model.Snapshot, error) {
	c := newConstants(max(s.Groups, 0))
	for start := 0; start < s.Users; start += directory.HandOverBatch {
		batch := make([]model.Record, min(directory.HandOverBatch, s.Users-start))
		if err := s.generate(ctx, c, start, batch); err != nil {
			return nil, err
		}
		if err := yield(batch); err != nil {
			return nil, err
		}
	}
	return &model.Snapshot{Complete: true, ReadAt: time.Now()}, nil
}

var _ directory.Streamer = (*Source)(nil)

// chunk is how many records generate writes the text of into one string.
const chunk = directory.HandOverBatch

// generate fills recs with the records of persons first, first+1, ...
func (s *Source) generate(ctx context.Context, c *constants, first int, recs []model.Record) error {
	// One backing array for the records' one-element value slices and one for their group lists;
	// each record gets capacity-limited windows, so an append to one never reaches another.
	values := make([]string, len(recs)*len(Attributes))
	var memberships []string
	if s.Groups > 0 {
		memberships = make([]string, 2*len(recs))
	}
	var buf []byte
	var ends [][textParts]int32
	for from := 0; from < len(recs); from += chunk {
		if ctx.Err() != nil {
			return directory.Errorf(directory.KindUnreachable, ctx.Err(), "read cancelled")
		}
		part := recs[from:min(from+chunk, len(recs))]
		// The text of a chunk of records in one string: each record's id, DN (holding the uid),
		// mail, givenName, employeeNumber and telephoneNumber are substrings of it.
		buf, ends = buf[:0], ends[:0]
		for k := range part {
			buf, ends = appendText(buf, ends, first+from+k)
		}
		text := string(buf)
		start := 0
		for k := range part {
			i, e := first+from+k, &ends[k]
			title := c.titles[i%titleCount]
			if s.Changed != nil && s.Changed(i) {
				title = c.changedTitles[i%titleCount]
			}
			at := (from + k) * len(Attributes)
			v := values[at : at+len(Attributes) : at+len(Attributes)]
			v[0] = text[e[dnStart]+int32(len("uid=")) : e[uidEnd]]
			v[1] = text[e[dnEnd]:e[mailEnd]]
			v[2] = text[e[mailEnd]:e[givenEnd]]
			v[3] = c.families[i%familyCount]
			v[4] = title
			v[5] = c.departments[i%DepartmentCount]
			v[6] = text[e[givenEnd]:e[employeeEnd]]
			v[7] = text[e[employeeEnd]:e[phoneEnd]]
			r := &part[k]
			r.ID = text[start:e[dnStart]]
			r.DN = text[e[dnStart]:e[dnEnd]]
			r.Attributes = map[string][]string{
				"uid":              v[0:1:1],
				"mail":             v[1:2:2],
				"givenName":        v[2:3:3],
				"sn":               v[3:4:4],
				"title":            v[4:5:5],
				"departmentNumber": v[5:6:6],
				"employeeNumber":   v[6:7:7],
				"telephoneNumber":  v[7:8:8],
			}
			if s.Groups > 0 {
				a, b := i%s.Groups, (i*7919+13)%s.Groups
				g := memberships[2*(from+k) : 2*(from+k)+2 : 2*(from+k)+2]
				g[0] = c.groups[a]
				if b != a {
					g[1] = c.groups[b]
					r.Groups = g
				} else {
					r.Groups = g[:1:1]
				}
			}
			start = int(e[phoneEnd])
		}
	}
	return nil
}

// Where the parts of a person's text end, as appendText records them.
const (
	dnStart = iota // = where the id ends
	uidEnd
	dnEnd
	mailEnd
	givenEnd
	employeeEnd
	phoneEnd
	textParts
)

// appendText appends the text of person i to buf and where its parts end to ends.
func appendText(buf []byte, ends [][textParts]int32, i int) ([]byte, [][textParts]int32) {
	var e [textParts]int32
	buf = appendID(buf, i)
	e[dnStart] = int32(len(buf))
	buf = append(buf, "uid="...)
	uidStart := len(buf)
	buf = appendPadded(append(buf, "user"...), i, 6)
	e[uidEnd] = int32(len(buf))
	buf = append(buf, dnSuffix...)
	e[dnEnd] = int32(len(buf))
	buf = append(buf, buf[uidStart:e[uidEnd]]...)
	buf = append(buf, mailSuffix...)
	e[mailEnd] = int32(len(buf))
	buf = strconv.AppendInt(append(buf, "Given"...), int64(i), 10)
	e[givenEnd] = int32(len(buf))
	buf = strconv.AppendInt(buf, 1_000_000+int64(i), 10)
	e[employeeEnd] = int32(len(buf))
	buf = appendPadded(append(buf, "+1 555 "...), i, 7)
	e[phoneEnd] = int32(len(buf))
	return buf, append(ends, e)
}
