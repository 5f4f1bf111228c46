// Command kubectl-dirsync is a kubectl plugin (install it on PATH, then `kubectl dirsync ...`) that
// reads the run reports the operator keeps in ConfigMaps:
//
//	kubectl dirsync reports SYNCTARGET [-n NAMESPACE]                 list the stored runs
//	kubectl dirsync report SYNCTARGET [--run RUN] [-o table|csv|json] [--entry action|problem|note]
//
// --run defaults to the newest report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
	"github.com/directory-sync/directory-sync-operator/internal/report"
)

const usage = `usage:
  kubectl dirsync reports SYNCTARGET [-n NAMESPACE]
  kubectl dirsync report SYNCTARGET [-n NAMESPACE] [--run RUN] [-o table|csv|json] [--entry action|problem|note]`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl-dirsync:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("kubectl-dirsync", flag.ContinueOnError)
	ns := fs.String("n", "", "namespace (default: the kubeconfig context's)")
	fs.StringVar(ns, "namespace", "", "namespace")
	kubeconfig := fs.String("kubeconfig", "", "path to the kubeconfig file")
	runID := fs.String("run", "", "report to show (default: the newest)")
	output := fs.String("o", "table", "output format: table, csv or json")
	entry := fs.String("entry", "", "only rows of this entry type: action, problem or note")
	// Flags may come before, between or after the two arguments, as with kubectl.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	if len(positional) != 2 {
		return errors.New(usage)
	}
	cmd, name := positional[0], positional[1]
	if cmd != "reports" && cmd != "report" {
		return errors.New(usage)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	if *ns == "" {
		n, _, err := cc.Namespace()
		if err != nil {
			return err
		}
		*ns = n
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var st v1.SyncTarget
	if err := c.Get(ctx, client.ObjectKey{Namespace: *ns, Name: name}, &st); err != nil {
		return err
	}
	switch cmd {
	case "reports":
		reports, err := controllers.ReadReports(ctx, c, &st, false)
		if err != nil {
			return err
		}
		return listReports(out, reports)
	case "report":
		reports, err := controllers.ReadReports(ctx, c, &st, true)
		if err != nil {
			return err
		}
		r, err := pick(reports, *runID)
		if err != nil {
			return err
		}
		return writeRows(out, filterRows(r.Rows, *entry), *output)
	}
	return errors.New(usage)
}

func listReports(out io.Writer, reports []controllers.StoredReport) error {
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tTIME\tMODE\tROWS\tPARTS\tBLOCKED")
	for _, r := range reports {
		s := r.Summary
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", r.Run, s.Time.UTC().Format(time.RFC3339), s.Mode, s.Rows, s.Parts, s.Blocked)
	}
	return tw.Flush()
}

func pick(reports []controllers.StoredReport, run string) (controllers.StoredReport, error) {
	if len(reports) == 0 {
		return controllers.StoredReport{}, errors.New("no reports stored for this SyncTarget (spec.reports.retain)")
	}
	if run == "" {
		return reports[len(reports)-1], nil
	}
	for _, r := range reports {
		if r.Run == run {
			return r, nil
		}
	}
	return controllers.StoredReport{}, fmt.Errorf("no report %q (see `kubectl dirsync reports`)", run)
}

func filterRows(rows []report.Row, entry string) []report.Row {
	if entry == "" {
		return rows
	}
	var out []report.Row
	for _, r := range rows {
		if r.Entry == entry {
			out = append(out, r)
		}
	}
	return out
}

func writeRows(out io.Writer, rows []report.Row, format string) error {
	switch format {
	case "table":
		return report.WriteTable(out, rows)
	case "csv":
		return report.WriteCSV(out, rows)
	case "json":
		return report.WriteJSON(out, rows)
	}
	return fmt.Errorf("unknown output format %q (want table, csv or json)", format)
}
