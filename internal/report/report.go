// Package report turns one run into its complete report: every planned, applied, failed or withheld
// action with its reason, and every problem, as CSV split into chunks small enough for one API
// object each. status.plan and status.problems only show the first entries; the report has them all.
package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// Header is the CSV header of every chunk.
var Header = []string{"entry", "kind", "user", "externalId", "group", "fields", "reason", "outcome"}

// Outcomes of an action row.
const (
	OutcomeApplied  = "applied"
	OutcomeFailed   = "failed"
	OutcomePlanned  = "planned"  // dry run
	OutcomeBlocked  = "blocked"  // a safety limit stopped the plan
	OutcomeWithheld = "withheld" // spec.actions switched it off
	OutcomeNotRun   = "not run"  // the run ended before it
)

// Row is one line of a report.
type Row struct {
	Entry      string // "action" or "problem"
	Kind       string // action kind or problem reason
	User       string
	ExternalID string
	Group      string
	Fields     string
	Reason     string
	Outcome    string
}

func (r Row) record() []string {
	return []string{r.Entry, r.Kind, r.User, r.ExternalID, r.Group, r.Fields, r.Reason, r.Outcome}
}

// Build lists the rows of a run that produced a plan.
func Build(res *syncer.Result) []Row {
	p := res.Plan
	if p == nil {
		return nil
	}
	rows := make([]Row, 0, len(p.Actions)+len(p.Withheld)+len(res.Skipped)+len(res.Failures))
	for _, a := range p.Actions {
		outcome := OutcomePlanned
		switch {
		case p.Blocked != nil:
			outcome = OutcomeBlocked
		case res.Applied:
			msg, ran := res.Outcomes[syncer.ActionKey(a)]
			switch {
			case !ran:
				outcome = OutcomeNotRun
			case msg == "":
				outcome = OutcomeApplied
			default:
				outcome = OutcomeFailed + ": " + msg
			}
		}
		rows = append(rows, actionRow(a, outcome))
	}
	for _, a := range p.Withheld {
		rows = append(rows, actionRow(a, OutcomeWithheld))
	}
	for _, pr := range res.Skipped {
		rows = append(rows, Row{Entry: "problem", Kind: string(pr.Reason), User: pr.Subject, Reason: pr.Message})
	}
	for _, n := range p.Notes {
		rows = append(rows, Row{Entry: "note", Reason: n})
	}
	return rows
}

func actionRow(a plan.Action, outcome string) Row {
	user := a.UserName
	if user == "" && a.User != nil {
		user = a.User.UserName
	}
	return Row{Entry: "action", Kind: string(a.Kind), User: user, ExternalID: a.ExternalID, Group: a.Group,
		Fields: strings.Join(a.Fields, " "), Reason: a.Reason, Outcome: outcome}
}

// Chunks encodes rows as CSV documents of at most maxBytes each (a single longer row gets a chunk
// of its own), each starting with Header, and returns a digest of the whole content.
func Chunks(rows []Row, maxBytes int) (chunks []string, digest string) {
	h := sha256.New()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	start := func() {
		buf.Reset()
		_ = w.Write(Header)
		w.Flush()
	}
	start()
	headerLen := buf.Len()
	var line bytes.Buffer
	lw := csv.NewWriter(&line)
	for _, r := range rows {
		line.Reset()
		_ = lw.Write(r.record())
		lw.Flush()
		if buf.Len() > headerLen && buf.Len()+line.Len() > maxBytes {
			chunks = append(chunks, buf.String())
			start()
		}
		h.Write(line.Bytes())
		buf.Write(line.Bytes())
	}
	chunks = append(chunks, buf.String())
	return chunks, hex.EncodeToString(h.Sum(nil))[:16]
}

// Parse reads the rows of one chunk (for the kubectl plugin and tests).
func Parse(chunk string) ([]Row, error) {
	recs, err := csv.NewReader(strings.NewReader(chunk)).ReadAll()
	if err != nil {
		return nil, err
	}
	var rows []Row
	for i, r := range recs {
		if i == 0 || len(r) < len(Header) {
			continue
		}
		rows = append(rows, Row{Entry: r[0], Kind: r[1], User: r[2], ExternalID: r[3], Group: r[4], Fields: r[5], Reason: r[6], Outcome: r[7]})
	}
	return rows, nil
}

// WriteCSV writes rows as one CSV document with Header.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(Header)
	for _, r := range rows {
		_ = cw.Write(r.record())
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes rows as a JSON array of objects keyed by the Header names.
func WriteJSON(w io.Writer, rows []Row) error {
	out := make([]map[string]string, 0, len(rows))
	for _, r := range rows {
		m := make(map[string]string, len(Header))
		for i, v := range r.record() {
			if v != "" {
				m[Header[i]] = v
			}
		}
		out = append(out, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteTable writes rows as an aligned table, like kubectl get.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tKIND\tUSER\tGROUP\tFIELDS\tREASON\tOUTCOME")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Entry, r.Kind, r.User, r.Group, r.Fields, r.Reason, r.Outcome)
	}
	return tw.Flush()
}
