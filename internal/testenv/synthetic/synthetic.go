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

// ID returns the stable id of person i.
func ID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// Read generates every record afresh, as a real source returns new data on each read.
func (s *Source) Read(ctx context.Context) (*model.Snapshot, error) {
	recs := make([]model.Record, s.Users)
	groupNames := make([]string, s.Groups)
	for g := range groupNames {
		groupNames[g] = fmt.Sprintf("grp-%04d", g)
	}
	for i := range recs {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, directory.Errorf(directory.KindUnreachable, ctx.Err(), "read cancelled")
		}
		uid := fmt.Sprintf("user%06d", i)
		title := fmt.Sprintf("Title %d", i%37)
		if s.Changed != nil && s.Changed(i) {
			title += " (changed)"
		}
		r := model.Record{
			ID: ID(i),
			DN: "uid=" + uid + ",ou=people,dc=example,dc=com",
			Attributes: map[string][]string{
				"uid":              {uid},
				"mail":             {uid + "@example.com"},
				"givenName":        {fmt.Sprintf("Given%d", i)},
				"sn":               {fmt.Sprintf("Family%d", i%9973)},
				"title":            {title},
				"departmentNumber": {strconv.Itoa(100 + i%DepartmentCount)},
				"employeeNumber":   {strconv.Itoa(1_000_000 + i)},
				"telephoneNumber":  {fmt.Sprintf("+1 555 %07d", i)},
			},
		}
		if s.Groups > 0 {
			a, b := i%s.Groups, (i*7919+13)%s.Groups
			r.Groups = []string{groupNames[a]}
			if b != a {
				r.Groups = append(r.Groups, groupNames[b])
			}
		}
		recs[i] = r
	}
	return &model.Snapshot{Records: recs, Complete: true, ReadAt: time.Now()}, nil
}
