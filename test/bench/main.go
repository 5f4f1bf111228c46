// Command bench measures the sync engine at scale, each figure beside a floor measured in the same
// run where there is one, and prints one markdown report (optionally written to a results file and
// into README's Performance section).
//
//	go run ./test/bench [-scale full|small|FACTOR] [-users N] [-users-large N] [-only a,b] [-skip a,b]
//	                    [-results FILE] [-readme FILE] [flags of the sections]
//
// The report is made of sections. A file of this package adds one from an init function:
//
//	func init() { register(section{name: "scim", order: 20, run: (*bench).scim}) }
//
// Its run adds rows with b.add (a figure) or b.vs (a figure beside its floor; the ratio is computed),
// sizes its data with b.size(default) so that -scale applies, adds prose under the table with b.note,
// and may declare its own flags in its file (package-level flag.Int...; main parses them). An error
// returned by run becomes an error row; the other sections still run and bench exits 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// section is one part of the report.
type section struct {
	// name selects the section in -only and -skip ("memory", "scim", "ldap", "groups").
	name string
	// order places the section in the report (ascending).
	order int
	run   func(b *bench, ctx context.Context) error
}

var sections []section

// progress receives the progress lines (stderr; tests silence it).
var progress io.Writer = os.Stderr

// register adds a section; call it from an init function.
func register(s section) { sections = append(sections, s) }

func main() {
	scale := flag.String("scale", "full", `size of the data sets: "full" (the figures of RESULTS.md), "small" (1/100, for a quick check) or a factor`)
	only := flag.String("only", "", "comma-separated sections to run (default all: "+strings.Join(sectionNames(), ",")+")")
	skip := flag.String("skip", "", "comma-separated sections not to run")
	results := flag.String("results", "", "also write the report to this markdown file")
	readme := flag.String("readme", "", "also put the report into this README between its bench markers")
	flag.Parse()

	factor, err := parseScale(*scale)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	b := newBench(factor)
	failed := b.runSections(context.Background(), splitList(*only), splitList(*skip))
	report := b.report()
	fmt.Print(report)
	if *results != "" {
		if err := os.WriteFile(*results, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *readme != "" {
		if err := replaceBetweenMarkers(*readme, report); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// parseScale reads -scale: a name or a positive factor.
func parseScale(s string) (float64, error) {
	switch s {
	case "full", "":
		return 1, nil
	case "small":
		return 0.01, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) { // !(f > 0) also refuses NaN
		return 0, fmt.Errorf("-scale %q: want full, small or a positive factor", s)
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sectionNames() []string {
	slices.SortStableFunc(sections, func(a, b section) int { return a.order - b.order })
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return names
}

// row is one line of the report. Floor and Ratio are empty for figures without a floor.
type row struct{ scenario, measure, result, floor, ratio, goal string }

type bench struct {
	// scale multiplies the default data sizes (b.size).
	scale float64
	rows  []row
	notes []string
	start time.Time
	// machine describes where the bench ran, taken at the start (load average included).
	machine string
	// ran and skipped name the sections, for the report.
	ran, skipped []string
}

func newBench(scale float64) *bench {
	return &bench{scale: scale, start: time.Now(), machine: machineLine()}
}

// size scales a default size by -scale (at least 1 unless n is 0).
func (b *bench) size(n int) int {
	if n <= 0 {
		return n
	}
	return max(1, int(math.Round(float64(n)*b.scale)))
}

// runSections runs the registered sections in order and reports whether one failed.
func (b *bench) runSections(ctx context.Context, only, skip []string) bool {
	names := sectionNames()
	for _, n := range append(slices.Clone(only), skip...) {
		if !slices.Contains(names, n) {
			fmt.Fprintf(os.Stderr, "bench: unknown section %q (have %s)\n", n, strings.Join(names, ", "))
			return true
		}
	}
	failed := false
	for _, s := range sections {
		if (len(only) > 0 && !slices.Contains(only, s.name)) || slices.Contains(skip, s.name) {
			b.skipped = append(b.skipped, s.name)
			continue
		}
		b.ran = append(b.ran, s.name)
		fmt.Fprintf(progress, "== %s\n", s.name)
		// Each section starts from a collected heap returned to the system: otherwise the next
		// collection waits for twice the previous section's heap (gigabytes after the 1M rows), and
		// a section allocating meanwhile pays for fresh pages instead of reusing freed ones.
		runtime.GC()
		debug.FreeOSMemory()
		if err := s.run(b, ctx); err != nil {
			b.add(s.name, "run", "—", "error: "+firstLine(err.Error()))
			failed = true
		}
	}
	return failed
}

// add adds a figure without a floor.
func (b *bench) add(scenario, measure, goal, result string) {
	b.addRow(row{scenario: scenario, measure: measure, result: result, goal: goal})
}

// vs adds a figure beside its floor measured in the same run; ratio is result/floor (e.g. times),
// formatted as "1.3×".
func (b *bench) vs(scenario, measure, goal, result, floor string, ratio float64) {
	b.addRow(row{scenario: scenario, measure: measure, result: result, floor: floor, ratio: formatRatio(ratio), goal: goal})
}

func (b *bench) addRow(r row) {
	b.rows = append(b.rows, r)
	line := fmt.Sprintf("  %s: %s = %s", r.scenario, r.measure, r.result)
	if r.floor != "" {
		line += fmt.Sprintf(" (floor %s, %s)", r.floor, r.ratio)
	}
	fmt.Fprintln(progress, line)
}

// note adds a paragraph under the table.
func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

func formatRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0) || r < 0:
		return "n/a"
	case r < 10:
		return fmt.Sprintf("%.2f×", r)
	default:
		return fmt.Sprintf("%.1f×", r)
	}
}

func (b *bench) report() string {
	var w strings.Builder
	fmt.Fprintf(&w, "## Benchmark results\n\n")
	fmt.Fprintf(&w, "%s Whole bench: %s", b.machine, seconds(time.Since(b.start)))
	if b.scale != 1 {
		fmt.Fprintf(&w, ", data sizes scaled by %g (-scale)", b.scale)
	}
	fmt.Fprintf(&w, ". Sections: %s", strings.Join(b.ran, ", "))
	if len(b.skipped) > 0 {
		fmt.Fprintf(&w, " (not run: %s)", strings.Join(b.skipped, ", "))
	}
	fmt.Fprintf(&w, ".\n\n")
	fmt.Fprintf(&w, "| Scenario | Measure | Result | Floor (same run) | Ratio | Goal |\n|---|---|---|---|---|---|\n")
	for _, r := range b.rows {
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s |\n", r.scenario, r.measure, r.result, dash(r.floor), dash(r.ratio), r.goal)
	}
	for _, n := range b.notes {
		fmt.Fprintf(&w, "\n%s\n", n)
	}
	fmt.Fprintf(&w, "\nTimes are single runs unless a row says otherwise; on a shared machine they vary between bench runs, "+
		"ratios to a floor measured in the same run much less.\n")
	fmt.Fprintf(&w, "\nReproduce: `make bench` (rewrites this file and README's Performance section), "+
		"or `go run ./test/bench -h` for the flags (`-scale small` for a quick check, `-only memory`).\n")
	return w.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// machineLine names the machine: processors, CPU model, Go version, the GC settings, the load
// average at the start and the date.
func machineLine() string {
	gc := "GOGC " + envOr("GOGC", "default (100)") + ", GOMEMLIMIT " + envOr("GOMEMLIMIT", "unset")
	return fmt.Sprintf("Machine: %d processors (GOMAXPROCS %d), %s, %s %s/%s; %s; load average at start %s; %s.",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		gc, loadAverage(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// Bench markers delimit the generated part of a README.
const (
	markerStart = "<!-- bench:start (generated by `make bench`; edits between the markers are overwritten) -->"
	markerEnd   = "<!-- bench:end -->"
)

// replaceBetweenMarkers puts report between the bench markers of the file at path.
func replaceBetweenMarkers(path, report string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(data, []byte(markerStart))
	j := bytes.Index(data, []byte(markerEnd))
	if i < 0 || j < i {
		return errors.New(path + ": no bench markers (" + markerStart + " … " + markerEnd + ")")
	}
	// The README has its own heading; the report's is dropped there.
	body := strings.TrimPrefix(report, "## Benchmark results\n\n")
	var out bytes.Buffer
	out.Write(data[:i+len(markerStart)])
	out.WriteString("\n" + body)
	out.Write(data[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// resetPeakRSS resets VmHWM to the current RSS (Linux 4.0+).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatus returns a /proc/self/status size field in bytes, or -1.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	return parseStatus(f, field)
}

func parseStatus(r io.Reader, field string) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return -1
		}
		return kb * 1024
	}
	return -1
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

func mib(bytes int64) string {
	if bytes < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(bytes)/(1<<20))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func first[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}
