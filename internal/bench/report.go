package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Trial is one measured switchover.
type Trial struct {
	N              int
	Start, End     time.Time // switchover requested, completed
	Unavailability time.Duration
	FailedTxns     int // transactions that failed in the trial's window
	FailedConnects int // connection attempts that failed in the window
	Commits        int // acknowledged in the window
	Err            string
}

// Report is a whole benchmark run.
type Report struct {
	Clients    int
	Style      string
	Scale      int
	Trials     []Trial
	Commits    int
	Missing    int
	Duplicates int
	Failures   map[string]int // by kind, over the whole run
	Started    time.Time
	commits    []Commit
	failures   []Failure
}

// Summary is p50, p99 and max of the trials' unavailability.
func (r *Report) Summary() (p50, p99, worst time.Duration) {
	var ds []time.Duration
	for _, t := range r.Trials {
		if t.Err == "" {
			ds = append(ds, t.Unavailability)
		}
	}
	return Percentile(ds, 50), Percentile(ds, 99), Percentile(ds, 100)
}

// Window measures a trial from the workload's records: the switchover
// lasted from start to end; the window adds margins on both sides.
func (t *Trial) Window(commits []Commit, failures []Failure, margin time.Duration) {
	from, to := t.Start.Add(-margin), t.End.Add(margin)
	t.Unavailability = Unavailability(commits, from, to)
	for _, c := range commits {
		if c.At.After(from) && c.At.Before(to) {
			t.Commits++
		}
	}
	for _, f := range failures {
		if f.At.After(from) && f.At.Before(to) {
			if f.Connect {
				t.FailedConnects++
			} else {
				t.FailedTxns++
			}
		}
	}
}

// Finish fills the run's totals from the workload's records.
func (r *Report) Finish(commits []Commit, failures []Failure, missing, duplicates int) {
	r.commits, r.failures = commits, failures
	r.Commits, r.Missing, r.Duplicates = len(commits), missing, duplicates
	r.Failures = map[string]int{}
	for _, f := range failures {
		r.Failures[failureKind(f)]++
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// WriteTable prints the trials and the summary.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "TRIAL\tSWITCHOVER\tWRITE UNAVAILABILITY\tCOMMITS\tFAILED TXNS\tFAILED CONNECTS\t")
	for _, t := range r.Trials {
		if t.Err != "" {
			fmt.Fprintf(tw, "%d\tfailed: %s\t\t\t\t\t\n", t.N, t.Err)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t\n", t.N, ms(t.End.Sub(t.Start)), ms(t.Unavailability), t.Commits, t.FailedTxns, t.FailedConnects)
	}
	tw.Flush()
	p50, p99, worst := r.Summary()
	fmt.Fprintf(w, "\n%d clients (%s), %d trials: write unavailability p50 %s, p99 %s, max %s\n", r.Clients, r.Style,
		len(r.Trials), ms(p50), ms(p99), ms(worst))
	var kinds []string
	for k, n := range r.Failures {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "%d commits acknowledged; %d missing afterwards; %d duplicates; failures: %s\n", r.Commits, r.Missing,
		r.Duplicates, strings.Join(append(kinds, "none")[:max(len(kinds), 1)], ", "))
}

// WriteJSON writes the report as JSON (durations in milliseconds).
func (r *Report) WriteJSON(w io.Writer) error {
	type trial struct {
		Trial            int     `json:"trial"`
		SwitchoverMs     float64 `json:"switchover_ms"`
		UnavailabilityMs float64 `json:"write_unavailability_ms"`
		Commits          int     `json:"commits"`
		FailedTxns       int     `json:"failed_transactions"`
		FailedConnects   int     `json:"failed_connection_attempts"`
		Error            string  `json:"error,omitempty"`
	}
	p50, p99, worst := r.Summary()
	out := struct {
		Clients    int            `json:"clients"`
		Style      string         `json:"style"`
		Scale      int            `json:"scale"`
		P50        float64        `json:"write_unavailability_p50_ms"`
		P99        float64        `json:"write_unavailability_p99_ms"`
		Max        float64        `json:"write_unavailability_max_ms"`
		Commits    int            `json:"commits_acknowledged"`
		Missing    int            `json:"commits_missing"`
		Duplicates int            `json:"duplicates"`
		Failures   map[string]int `json:"failures"`
		Trials     []trial        `json:"trials"`
	}{Clients: r.Clients, Style: r.Style, Scale: r.Scale, P50: msf(p50), P99: msf(p99), Max: msf(worst),
		Commits: r.Commits, Missing: r.Missing, Duplicates: r.Duplicates, Failures: r.Failures}
	for _, t := range r.Trials {
		out.Trials = append(out.Trials, trial{t.N, msf(t.End.Sub(t.Start)), msf(t.Unavailability), t.Commits, t.FailedTxns, t.FailedConnects, t.Err})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteSVG draws commits per 100 ms over the run, failures as red ticks,
// and each switchover as a shaded band.
func (r *Report) WriteSVG(w io.Writer) error {
	if len(r.commits) == 0 {
		return fmt.Errorf("nothing to draw")
	}
	start := r.Started
	end := r.commits[len(r.commits)-1].At
	for _, c := range r.commits {
		end = maxTime(end, c.At)
	}
	const bucket = 100 * time.Millisecond
	n := int(end.Sub(start)/bucket) + 1
	counts := make([]int, n)
	for _, c := range r.commits {
		if i := int(c.At.Sub(start) / bucket); i >= 0 && i < n {
			counts[i]++
		}
	}
	peak := 1
	for _, c := range counts {
		peak = max(peak, c)
	}
	const width, height, left, bottom = 1200.0, 360.0, 60.0, 40.0
	x := func(t time.Time) float64 {
		return left + (width-left-10)*float64(t.Sub(start))/float64(end.Sub(start)+bucket)
	}
	y := func(v int) float64 { return height - bottom - (height-bottom-20)*float64(v)/float64(peak) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for _, t := range r.Trials {
		fmt.Fprintf(&b, `<rect x="%.1f" y="20" width="%.1f" height="%.1f" fill="#fde2b8"/>`+"\n", x(t.Start), max(x(t.End)-x(t.Start), 1), height-bottom-20)
	}
	var pts []string
	for i, c := range counts {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(start.Add(time.Duration(i)*bucket)), y(c)))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="1" points="%s"/>`+"\n", strings.Join(pts, " "))
	for _, f := range r.failures {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#d62728"/>`+"\n", x(f.At), x(f.At), height-bottom, height-bottom+8)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, height-bottom, width-10, height-bottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="20" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, left, height-bottom)
	fmt.Fprintf(&b, `<text x="5" y="%.0f">%d</text><text x="5" y="%.0f">0</text>`+"\n", y(peak)+4, peak*10, height-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">seconds: 0 … %.0f; commits/s (blue), switchovers (shaded), failures (red ticks)</text>`+"\n",
		left, height-10, end.Sub(start).Seconds())
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
