package hr

import (
	"testing"
)

// A row that cannot become a record still proves that its person is present when its id can be
// trusted; that id travels in Problem.ID so that the person's target user is held, not offboarded.
func TestRowProblemsCarryTheIDWhenItCanBeTrusted(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		data string
		want map[string]string // problem subject → ID
	}{
		{
			name: "CSV with the id first: a short or long row keeps its id",
			cfg:  csvConfig(),
			data: "employeeId,name,mail\nE1,Ann,a@x\nE2,Bob\nE3,Carl,Jr,c@x\n,Dan,d@x\n",
			want: map[string]string{"line 3": "E2", "line 4": "E3", "line 5": ""},
		},
		{
			name: "CSV with the id after other columns: a shifted row's id is not trusted",
			cfg:  csvConfig(),
			data: "name,employeeId,mail\nAnn,E1,a@x\nBob,Jr,E2,b@x\n",
			want: map[string]string{"line 3": ""},
		},
		{
			name: "CSV duplicate id: the person is present",
			cfg:  csvConfig(),
			data: "employeeId,name\nE1,Ann\nE1,Ann B\n",
			want: map[string]string{"line 3": "E1"},
		},
		{
			name: "CSV quoting error: no id",
			cfg:  csvConfig(),
			data: "employeeId,name\nE1,Ann\nE2,B\"ob\nE3,Carl\n",
			want: map[string]string{"line 3": ""},
		},
		{
			name: "JSON item with a broken key but a readable id",
			cfg:  jsonConfig(),
			data: `[{"employeeId":"E1","name":"Ann"},{"employeeId":7,"name":{"first":"Bob"}},{"employeeId":{"x":1},"name":"C"},{"employeeId":["E4","E5"],"n":{}}]`,
			want: map[string]string{"item 1": "7", "item 2": "", "item 3": ""},
		},
		{
			name: "JSON item that is not an object",
			cfg:  jsonConfig(),
			data: `[{"employeeId":"E1"},"E2"]`,
			want: map[string]string{"item 1": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := Parse([]byte(tt.data), tt.cfg)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := map[string]string{}
			for _, p := range snap.Problems {
				got[p.Subject] = p.ID
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems %+v, want subjects %v", snap.Problems, tt.want)
			}
			for subject, id := range tt.want {
				if gotID, ok := got[subject]; !ok || gotID != id {
					t.Errorf("%s: id %q (reported %v), want %q; problems %+v", subject, gotID, ok, id, snap.Problems)
				}
			}
		})
	}
}
