package demo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// printTable prints aligned columns like kubectl; header may be nil.
func printTable(w io.Writer, prefix string, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, prefix+strings.Join(header, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, prefix+strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// age formats a timestamp like kubectl's AGE column.
func age(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
