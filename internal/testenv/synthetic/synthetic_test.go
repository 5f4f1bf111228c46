package synthetic

import (
	"context"
	"reflect"
	"testing"
)

func TestReadIsDeterministicAndChangesOnlyMarkedUsers(t *testing.T) {
	src := &Source{Users: 500, Groups: 20}
	a, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := src.Read(context.Background())
	if !reflect.DeepEqual(a.Records, b.Records) || len(a.Records) != 500 || !a.Complete {
		t.Fatal("two reads differ")
	}
	src.Changed = func(i int) bool { return i%100 == 0 }
	base := &Source{Users: 500, Groups: 20}
	x, _ := base.Read(context.Background())
	y, _ := src.Read(context.Background())
	members := map[string]int{}
	for i := range x.Records {
		if got, want := !reflect.DeepEqual(x.Records[i], y.Records[i]), i%100 == 0; got != want {
			t.Errorf("record %d changed = %v, want %v", i, got, want)
		}
		if _, ok := Departments()[x.Records[i].First("departmentNumber")]; !ok {
			t.Errorf("record %d has an unknown department", i)
		}
		for _, g := range x.Records[i].Groups {
			members[g]++
		}
	}
	if len(members) != 20 {
		t.Errorf("%d groups have members, want 20", len(members))
	}
}
