package hr

import (
	"reflect"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

func csvConfig() Config { return Config{Format: FormatCSV, IDColumn: "employeeId"} }

func jsonConfig() Config { return Config{Format: FormatJSON, IDColumn: "employeeId"} }

func rec(id string, attrs map[string][]string) model.Record {
	return model.Record{ID: id, Attributes: attrs}
}

func prob(subject string, reason model.ProblemReason) model.Problem {
	return model.Problem{Subject: subject, Reason: reason}
}

type parseCase struct {
	name     string
	cfg      Config
	data     string
	records  []model.Record
	problems []model.Problem // compared on Subject and Reason
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := Parse([]byte(tc.data), tc.cfg)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !snap.Complete {
				t.Error("Complete = false, want true")
			}
			if !reflect.DeepEqual(snap.Records, tc.records) {
				t.Errorf("records:\n got %+v\nwant %+v", snap.Records, tc.records)
			}
			var got []model.Problem
			for _, p := range snap.Problems {
				if p.Message == "" {
					t.Errorf("problem %+v has no message", p)
				}
				got = append(got, prob(p.Subject, p.Reason))
			}
			if !reflect.DeepEqual(got, tc.problems) {
				t.Errorf("problems:\n got %+v\nwant %+v\n full %+v", got, tc.problems, snap.Problems)
			}
		})
	}
}

func TestParseCSV(t *testing.T) {
	withGroups := csvConfig()
	withGroups.GroupsColumn = "groups"
	withStatus := csvConfig()
	withStatus.DisabledColumn = "status"
	withStatus.DisabledValues = []string{"inactive", "Terminated"}
	semicolon := csvConfig()
	semicolon.Delimiter = ';'
	tab := csvConfig()
	tab.Delimiter = '\t'
	multi := csvConfig()
	multi.MultiValueSeparator = "|"
	multiGroups := withGroups
	multiGroups.MultiValueSeparator = "|"
	multiGroups.GroupsSeparator = ","

	runParseCases(t, []parseCase{
		{
			name: "good rows sorted by ID, cells trimmed, empty cells omitted",
			cfg:  csvConfig(),
			data: "employeeId, mail ,name\n2,b@x.org,Bob\n1, a@x.org ,\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "mail": {"a@x.org"}}),
				rec("2", map[string][]string{"employeeId": {"2"}, "mail": {"b@x.org"}, "name": {"Bob"}}),
			},
		},
		{
			name:    "header only is a valid empty record",
			cfg:     csvConfig(),
			data:    "employeeId,mail\n",
			records: []model.Record{},
		},
		{
			name: "BOM and CRLF",
			cfg:  csvConfig(),
			data: "\xEF\xBB\xBFemployeeId,mail\r\n1,a@x.org\r\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "mail": {"a@x.org"}}),
			},
		},
		{
			name: "wrong field counts are problems of their own lines only",
			cfg:  csvConfig(),
			data: "employeeId,mail\n1,a@x.org\n2\n3,c@x.org,extra\n4,d@x.org\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "mail": {"a@x.org"}}),
				rec("4", map[string][]string{"employeeId": {"4"}, "mail": {"d@x.org"}}),
			},
			problems: []model.Problem{prob("line 3", model.ReasonMalformedRow), prob("line 4", model.ReasonMalformedRow)},
		},
		{
			name: "quoted cells with delimiters, quotes and newlines keep line numbers right",
			cfg:  csvConfig(),
			data: "employeeId,address,mail\n" +
				"1,\"Main St 1,\nApt 2\",a@x.org\n" + // lines 2-3
				"\n" + // line 4: blank lines are skipped
				"2,\"say \"\"hi\"\"\",b@x.org\n" + // line 5
				"3,\"x\"y,c@x.org\n" + // line 6: text after closing quote
				"4,bare\"quote,d@x.org\n" + // line 7
				"5,\"two\nlines\",too,many\n" + // lines 8-9
				"6,\"a\nb\"c,f@x.org\n" + // lines 10-11: text after a multi-line quoted cell
				"7,ok,g@x.org\n", // line 12
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "address": {"Main St 1,\nApt 2"}, "mail": {"a@x.org"}}),
				rec("2", map[string][]string{"employeeId": {"2"}, "address": {`say "hi"`}, "mail": {"b@x.org"}}),
				rec("7", map[string][]string{"employeeId": {"7"}, "address": {"ok"}, "mail": {"g@x.org"}}),
			},
			problems: []model.Problem{
				prob("line 6", model.ReasonMalformedRow),
				prob("line 7", model.ReasonMalformedRow),
				prob("line 8", model.ReasonMalformedRow),
				prob("line 10", model.ReasonMalformedRow),
			},
		},
		{
			name: "missing and duplicate IDs",
			cfg:  csvConfig(),
			data: "employeeId,mail\n1,first@x.org\n ,nobody@x.org\n1,second@x.org\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "mail": {"first@x.org"}}),
			},
			problems: []model.Problem{prob("line 3", model.ReasonMissingID), prob("line 4", model.ReasonDuplicate)},
		},
		{
			name: "semicolon delimiter",
			cfg:  semicolon,
			data: "employeeId;name\n1;Doe, Jane\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "name": {"Doe, Jane"}}),
			},
		},
		{
			name: "tab delimiter",
			cfg:  tab,
			data: "employeeId\tname\n1\tJane Doe\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "name": {"Jane Doe"}}),
			},
		},
		{
			name: "multi-values split every column but the ID",
			cfg:  multi,
			data: "employeeId,mail\na|b, x@y.org | z@y.org ||\n",
			records: []model.Record{
				rec("a|b", map[string][]string{"employeeId": {"a|b"}, "mail": {"x@y.org", "z@y.org"}}),
			},
		},
		{
			name: "groups split, trimmed and deduplicated",
			cfg:  withGroups,
			data: "employeeId,groups\n1, eng ; ops;;eng\n2,\n",
			records: []model.Record{
				{ID: "1", Attributes: map[string][]string{"employeeId": {"1"}, "groups": {"eng ; ops;;eng"}}, Groups: []string{"eng", "ops"}},
				rec("2", map[string][]string{"employeeId": {"2"}}),
			},
		},
		{
			name: "groups with multi-values and a custom separator",
			cfg:  multiGroups,
			data: "employeeId,groups\n1,\"a,b|c\"\n",
			records: []model.Record{
				{ID: "1", Attributes: map[string][]string{"employeeId": {"1"}, "groups": {"a,b", "c"}}, Groups: []string{"a", "b|c"}},
			},
		},
		{
			name: "disabled column matches values case-insensitively",
			cfg:  withStatus,
			data: "employeeId,status\n1,active\n2, INACTIVE \n3,terminated\n4,\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "status": {"active"}}),
				{ID: "2", Attributes: map[string][]string{"employeeId": {"2"}, "status": {"INACTIVE"}}, Disabled: true},
				{ID: "3", Attributes: map[string][]string{"employeeId": {"3"}, "status": {"terminated"}}, Disabled: true},
				rec("4", map[string][]string{"employeeId": {"4"}}),
			},
		},
		{
			name: "invalid UTF-8 is replaced in attributes and rejected in IDs",
			cfg:  csvConfig(),
			data: "employeeId,name\n1,Jos\xe9\n\xff2,Bad\n",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "name": {"Jos\uFFFD"}}),
			},
			problems: []model.Problem{prob("line 3", model.ReasonMalformedRow)},
		},
	})
}

func TestParseCSVDocumentErrors(t *testing.T) {
	withGroups := csvConfig()
	withGroups.GroupsColumn = "teams"
	for _, tc := range []struct {
		name string
		cfg  Config
		data string
		kind directory.ErrorKind
		msg  string
	}{
		{"empty", csvConfig(), "", directory.KindMalformed, "no header"},
		{"only a BOM", csvConfig(), "\xEF\xBB\xBF", directory.KindMalformed, "no header"},
		{"empty header column", csvConfig(), "employeeId,,mail\n", directory.KindMalformed, "column 2 is empty"},
		{"duplicate header column", csvConfig(), "employeeId,mail, mail\n", directory.KindMalformed, "columns 2 and 3 have the same name"},
		{"duplicate configured column", csvConfig(), "employeeId,mail, employeeId\n", directory.KindMalformed, `columns 1 and 3 are both named "employeeId"`},
		{"broken header", csvConfig(), "employeeId,\"mail\"x\n", directory.KindMalformed, "header"},
		{"ID column not in header", csvConfig(), "id,mail\n", directory.KindInvalidConfig, `idColumn "employeeId" is not a column of the CSV header: the header has 2 columns; none is named so`},
		{"one column: wrong delimiter?", csvConfig(), "id;mail\n", directory.KindInvalidConfig, "the header has 1 column, not named so; is the delimiter (comma) right?"},
		{"groups column not in header", withGroups, "employeeId,groups\n", directory.KindInvalidConfig, `groupsColumn "teams"`},
		{"invalid config", Config{Format: "xml"}, "employeeId\n", directory.KindInvalidConfig, "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := Parse([]byte(tc.data), tc.cfg)
			if err == nil {
				t.Fatalf("Parse succeeded with %+v", snap)
			}
			if got := directory.KindOf(err); got != tc.kind {
				t.Errorf("kind = %s, want %s (%v)", got, tc.kind, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestParseCSVUnclosedQuoteIsIncomplete(t *testing.T) {
	data := "employeeId,name\n1,Ann\n2,\"Bob\n3,Carl\n4,Dora\n"
	snap, err := Parse([]byte(data), csvConfig())
	if directory.KindOf(err) != directory.KindMalformed {
		t.Fatalf("err = %v, want KindMalformed", err)
	}
	if !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %q does not name the line of the unclosed quote", err)
	}
	if snap == nil || snap.Complete {
		t.Fatalf("want an incomplete snapshot, got %+v", snap)
	}
	if len(snap.Records) != 1 || snap.Records[0].ID != "1" {
		t.Errorf("records = %+v, want only ID 1", snap.Records)
	}
	if len(snap.Problems) != 1 || snap.Problems[0].Subject != "line 3" {
		t.Errorf("problems = %+v, want one for line 3", snap.Problems)
	}
}

// A last row that ends inside a quoted field or has fewer fields than the header is what an
// export cut off in transit looks like: the read is incomplete, so nobody is offboarded on it.
func TestParseCSVCutOffIsIncomplete(t *testing.T) {
	for _, tc := range []struct{ name, data, msg string }{
		{"unclosed quote on the last line", "employeeId,name\n1,Ann\n2,\"Bob", "line 3"},
		{"unclosed quote, newline kept", "employeeId,name\n1,Ann\n2,\"Bob\n", "line 3"},
		{"last row shorter than the header", "employeeId,name,mail\n1,Ann,a@x.org\n2,Bo", "(line 3) has 2 fields, the header has 3"},
		{"last row with only its ID", "employeeId,name,mail\n1,Ann,a@x.org\n2\n", "(line 3) has 1 fields, the header has 3"},
		{"short last row before blank lines", "employeeId,name,mail\n1,Ann,a@x.org\n2,Bob\n\n\n", "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := Parse([]byte(tc.data), Config{Format: FormatCSV, IDColumn: "employeeId"})
			if directory.KindOf(err) != directory.KindMalformed {
				t.Fatalf("err = %v, want KindMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "cut off") {
				t.Errorf("error %q does not say %q and that the export looks cut off", err, tc.msg)
			}
			if snap == nil || snap.Complete {
				t.Fatalf("want an incomplete snapshot, got %+v", snap)
			}
			if len(snap.Records) != 1 || snap.Records[0].ID != "1" {
				t.Errorf("records = %+v, want only ID 1", snap.Records)
			}
			if len(snap.Problems) != 1 || snap.Problems[0].Subject != "line 3" {
				t.Errorf("problems = %+v, want one for line 3", snap.Problems)
			}
		})
	}
	// A short or longer row inside the document is a malformed row of its own, not a cut-off.
	snap, err := Parse([]byte("employeeId,name\n1\n2,Bob,extra\n3,Carl\n"), csvConfig())
	if err != nil || !snap.Complete || len(snap.Records) != 1 || len(snap.Problems) != 2 {
		t.Errorf("short row inside the document: %+v, %v", snap, err)
	}
	// A longer last row is not what a cut looks like.
	snap, err = Parse([]byte("employeeId,name\n1,Ann\n2,Bob,extra\n"), csvConfig())
	if err != nil || !snap.Complete || len(snap.Problems) != 1 {
		t.Errorf("long last row: %+v, %v", snap, err)
	}
}

// Every proper prefix of a JSON record, cut anywhere, fails to parse: never a complete read.
func TestParseJSONCutOffIsIncomplete(t *testing.T) {
	for _, doc := range []string{
		`[{"employeeId": "1", "mail": "a@x.org"}, {"employeeId": 2, "groups": ["a", "b"]}]`,
		`{"employees": [{"employeeId": "1"}, {"employeeId": "2"}], "generatedAt": "2030-01-01"}`,
	} {
		if snap, err := Parse([]byte(doc), jsonConfig()); err != nil || !snap.Complete {
			t.Fatalf("the whole document: %+v, %v", snap, err)
		}
		for n := 1; n < len(doc); n++ {
			cut := doc[:n]
			snap, err := Parse([]byte(cut), jsonConfig())
			if err == nil || (snap != nil && snap.Complete) {
				t.Fatalf("cut after %d bytes %q: %+v, %v; want an error", n, cut, snap, err)
			}
			if directory.KindOf(err) != directory.KindMalformed {
				t.Fatalf("cut after %d bytes: kind %s", n, directory.KindOf(err))
			}
		}
	}
	_, err := Parse([]byte(`[{"employeeId": "1"}, {"employeeId": "2"`), jsonConfig())
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("error %v does not say the export looks cut off", err)
	}
}

func TestParseJSON(t *testing.T) {
	withGroups := jsonConfig()
	withGroups.GroupsColumn = "groups"
	withStatus := jsonConfig()
	withStatus.DisabledColumn = "status"
	withStatus.DisabledValues = []string{"terminated"}
	multi := jsonConfig()
	multi.MultiValueSeparator = ","

	runParseCases(t, []parseCase{
		{
			name: "strings, numbers, booleans, null and arrays",
			cfg:  jsonConfig(),
			data: `[{"employeeId": 1002, "mail": " b@x.org ", "manager": null, "contractor": false,
			         "phones": ["+1 555", 42, null, ""], "salaryBand": 1.5},
			        {"employeeId": "1001", "big": 12345678901234567890, "sci": 1.2e3, "float": 1000.0, "tiny": 1e-3}]`,
			records: []model.Record{
				rec("1001", map[string][]string{"employeeId": {"1001"}, "big": {"12345678901234567890"},
					"sci": {"1200"}, "float": {"1000"}, "tiny": {"1e-3"}}),
				rec("1002", map[string][]string{"employeeId": {"1002"}, "mail": {"b@x.org"}, "contractor": {"false"},
					"phones": {"+1 555", "42"}, "salaryBand": {"1.5"}}),
			},
		},
		{
			name:    "empty array",
			cfg:     jsonConfig(),
			data:    " [ ] ",
			records: []model.Record{},
		},
		{
			name: "employees object with BOM",
			cfg:  jsonConfig(),
			data: "\xEF\xBB\xBF{\"employees\": [{\"employeeId\": \"a\"}], \"generatedAt\": \"today\"}",
			records: []model.Record{
				rec("a", map[string][]string{"employeeId": {"a"}}),
			},
		},
		{
			name: "malformed items are problems by index",
			cfg:  jsonConfig(),
			data: `[{"employeeId": "1"}, "text", {"employeeId": "2", "address": {"city": "X"}},
			        {"employeeId": "3", "tags": [["nested"]]}, {"employeeId": ["4", "5"]}, {"mail": "x"},
			        {"employeeId": null}, {"employeeId": "1"}, {"employeeId": "6", " employeeId": "7"}, 7]`,
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}}),
			},
			problems: []model.Problem{
				prob("item 1", model.ReasonMalformedRow),
				prob("item 2", model.ReasonMalformedRow),
				prob("item 3", model.ReasonMalformedRow),
				prob("item 4", model.ReasonMalformedRow),
				prob("item 5", model.ReasonMissingID),
				prob("item 6", model.ReasonMissingID),
				prob("item 7", model.ReasonDuplicate),
				prob("item 8", model.ReasonMalformedRow),
				prob("item 9", model.ReasonMalformedRow),
			},
		},
		{
			name: "groups as array or separated string, disabled status",
			cfg: func() Config {
				c := withGroups
				c.DisabledColumn, c.DisabledValues = withStatus.DisabledColumn, withStatus.DisabledValues
				return c
			}(),
			data: `[{"employeeId": "1", "groups": ["eng", " ops ", "eng"], "status": "Terminated"},
			        {"employeeId": "2", "groups": "a; b", "status": "active"}]`,
			records: []model.Record{
				{ID: "1", Attributes: map[string][]string{"employeeId": {"1"}, "groups": {"eng", "ops", "eng"}, "status": {"Terminated"}},
					Groups: []string{"eng", "ops"}, Disabled: true},
				{ID: "2", Attributes: map[string][]string{"employeeId": {"2"}, "groups": {"a; b"}, "status": {"active"}},
					Groups: []string{"a", "b"}},
			},
		},
		{
			name: "multi-value separator applies to strings",
			cfg:  multi,
			data: `[{"employeeId": "1,2", "mail": "a@x.org, b@x.org"}]`,
			records: []model.Record{
				rec("1,2", map[string][]string{"employeeId": {"1,2"}, "mail": {"a@x.org", "b@x.org"}}),
			},
		},
		{
			name: "invalid UTF-8 is replaced in attributes and rejected in IDs",
			cfg:  jsonConfig(),
			data: "[{\"employeeId\": \"1\", \"name\": \"Jos\xe9\"}, {\"employeeId\": \"\xff\"}]",
			records: []model.Record{
				rec("1", map[string][]string{"employeeId": {"1"}, "name": {"Jos\uFFFD"}}),
			},
			problems: []model.Problem{prob("item 1", model.ReasonMalformedRow)},
		},
	})
}

func TestParseJSONDocumentErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"empty", ""},
		{"whitespace", " \n"},
		{"not JSON", "employeeId,mail\n1,a@x.org\n"},
		{"truncated", `[{"employeeId": "1"}`},
		{"scalar", `"employees"`},
		{"object without employees", `{"people": []}`},
		{"employees not an array", `{"employees": {"employeeId": "1"}}`},
		{"trailing garbage", `[] []`},
		// not JSON whitespace (RFC 8259 §2), though bytes.TrimSpace takes them
		{"form feed before", "\f[]"},
		{"vertical tab after", "[]\v"},
		{"no-break space before", "\u00a0[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := Parse([]byte(tc.data), jsonConfig())
			if directory.KindOf(err) != directory.KindMalformed {
				t.Fatalf("got %+v, %v; want a KindMalformed error", snap, err)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	for lit, want := range map[string]string{
		"0": "0", "-0": "0", "0.0": "0", "42": "42", "-42": "-42", "100": "100", "1e2": "100", "1E+2": "100",
		"-2.50e1": "-25", "1.5": "1.5", "1e-3": "1e-3", "120e-1": "12", "1e999999999": "1e999999999",
		"1e39": "1000000000000000000000000000000000000000", "1e40": "1e40", "0e99999999999999999999": "0e99999999999999999999",
	} {
		if got := formatNumber(lit); got != want {
			t.Errorf("formatNumber(%q) = %q, want %q", lit, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string // empty: valid
	}{
		{"minimal csv", Config{Format: "csv", IDColumn: "id"}, ""},
		{"full json", Config{Format: "json", IDColumn: "id", GroupsColumn: "g", DisabledColumn: "s", DisabledValues: []string{"x"}, MultiValueSeparator: "|"}, ""},
		{"tab", Config{Format: "csv", Delimiter: '\t', IDColumn: "id"}, ""},
		{"no format", Config{IDColumn: "id"}, "format is required"},
		{"bad format", Config{Format: "xml", IDColumn: "id"}, `"xml"`},
		{"bad delimiter", Config{Format: "csv", Delimiter: '|', IDColumn: "id"}, "delimiter"},
		{"no id", Config{Format: "csv", IDColumn: " "}, "idColumn is required"},
		{"disabled column alone", Config{Format: "csv", IDColumn: "id", DisabledColumn: "s"}, "set together"},
		{"disabled values alone", Config{Format: "csv", IDColumn: "id", DisabledValues: []string{"x"}}, "set together"},
		{"empty disabled value", Config{Format: "csv", IDColumn: "id", DisabledColumn: "s", DisabledValues: []string{" "}}, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if directory.KindOf(err) != directory.KindInvalidConfig || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Validate = %v, want KindInvalidConfig mentioning %q", err, tc.msg)
			}
		})
	}
}

// An HR record may be the wrong Secret key, or a token read as a record: no error or problem
// message may quote it. Only the column names the spec configures are named.
func TestParseMessagesNeverQuoteTheDocument(t *testing.T) {
	const canary = "CANARY-hr-7f3a9"
	for _, tc := range []struct {
		name string
		cfg  Config
		data string
	}{
		{"a token read as CSV", csvConfig(), canary},
		{"a token line with the delimiter", csvConfig(), "Bearer " + canary + ",x\n1,2\n"},
		{"duplicate unconfigured columns", csvConfig(), "employeeId," + canary + "," + canary + "\n"},
		{"broken header", csvConfig(), "employeeId,\"" + canary + "\"x\n"},
		{"bare quote in a row", csvConfig(), "employeeId,name\n1," + canary + "\"x\n2,ok\n"},
		{"duplicate ID", csvConfig(), "employeeId,name\n" + canary + ",a\n" + canary + ",b\n"},
		{"cut-off row", csvConfig(), "employeeId,name,mail\n1,a,b\n2,\"" + canary},
		{"a token read as JSON", jsonConfig(), canary},
		{"JSON syntax error", jsonConfig(), `[{"employeeId": "1", "name": ` + canary + `}]`},
		{"JSON cut off", jsonConfig(), `[{"employeeId": "1", "` + canary},
		{"JSON trailing data", jsonConfig(), `[] ` + canary},
		{"nested object under an unconfigured key", jsonConfig(), `[{"employeeId": "1", "` + canary + `": {"a": 1}}]`},
		{"array of objects under an unconfigured key", jsonConfig(), `[{"employeeId": "1", "` + canary + `": [{}]}]`},
		{"keys equal after trimming", jsonConfig(), `[{"employeeId": "1", "` + canary + `": 1, " ` + canary + `": 2}]`},
		{"JSON duplicate ID", jsonConfig(), `[{"employeeId": "` + canary + `"}, {"employeeId": "` + canary + `"}]`},
		{"JSON multi-valued ID", jsonConfig(), `[{"employeeId": ["` + canary + `", "2"]}]`},
		{"JSON object", jsonConfig(), `{"` + canary + `": []}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := Parse([]byte(tc.data), tc.cfg)
			var texts []string
			if err != nil {
				texts = append(texts, err.Error())
			}
			if snap != nil {
				for _, p := range snap.Problems {
					texts = append(texts, p.Subject, p.Message)
				}
			}
			if len(texts) == 0 {
				t.Fatalf("no error and no problem for %q", tc.data)
			}
			for _, s := range texts {
				if strings.Contains(s, "CANARY") || strings.Contains(s, "invalid character") {
					t.Errorf("message quotes the document: %q", s)
				}
			}
		})
	}
}
