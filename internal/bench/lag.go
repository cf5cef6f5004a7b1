package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// ProbeTable is where the lag probe writes on blue. It is an ordinary table
// in the workload's database, so it replicates like the rest: it must exist
// before the deployment is created.
const ProbeTable = "bench_lag_probe"

// ProbeSchema creates the probe's table through conn, replacing any earlier one.
func ProbeSchema(ctx context.Context, conn *pgx.Conn) error {
	for _, q := range []string{
		`DROP TABLE IF EXISTS ` + ProbeTable,
		`CREATE TABLE ` + ProbeTable + ` (seq bigint PRIMARY KEY, committed timestamptz NOT NULL DEFAULT clock_timestamp())`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("create probe table: %w", err)
		}
	}
	return nil
}

// Probe is one row committed on blue and looked for on green.
type Probe struct {
	Seq  int64
	At   time.Duration // blue acknowledged the commit, from the level's start
	Lag  time.Duration // from that acknowledgement until green showed the row
	Seen bool          // green showed it before the probe gave up
}

// LagProbe commits a numbered row on blue every Every and polls green for
// new rows every Poll, from Start until Stop; Wait bounds how long it keeps
// polling for the last rows once it stops committing.
type LagProbe struct {
	Blue, Green *pgx.Conn
	Every, Poll time.Duration
	Wait        time.Duration
}

// Run probes until ctx ends or for d, whichever is first, and returns one
// Probe per acknowledged commit. Run reads its own clock: the time a row
// becomes visible is the first poll that returned it.
func (p LagProbe) Run(ctx context.Context, d time.Duration, firstSeq int64) ([]Probe, error) {
	start := time.Now()
	var (
		mu      sync.Mutex
		acked   = map[int64]time.Time{}
		visible = map[int64]time.Time{}
		done    = make(chan struct{})
		pollErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := firstSeq - 1
		var giveUp time.Time
		for {
			rows, err := p.Green.Query(ctx, `SELECT seq FROM `+ProbeTable+` WHERE seq > $1 ORDER BY seq`, last)
			now := time.Now()
			var seqs []int64
			if err == nil {
				seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			}
			if err != nil {
				pollErr = fmt.Errorf("poll green: %w", err)
				return
			}
			mu.Lock()
			for _, s := range seqs {
				visible[s] = now
				last = s
			}
			caughtUp := len(visible) >= len(acked)
			mu.Unlock()
			select {
			case <-done:
				if giveUp.IsZero() {
					giveUp = time.Now().Add(p.Wait)
				}
				if caughtUp || time.Now().After(giveUp) {
					return
				}
			case <-ctx.Done():
				return
			default:
			}
			time.Sleep(p.Poll)
		}
	}()

	var err error
	tick := time.NewTicker(p.Every)
	for seq := firstSeq; time.Since(start) < d && ctx.Err() == nil; seq++ {
		if _, err = p.Blue.Exec(ctx, `INSERT INTO `+ProbeTable+` (seq) VALUES ($1)`, seq); err != nil {
			err = fmt.Errorf("probe commit on blue: %w", err)
			break
		}
		mu.Lock()
		acked[seq] = time.Now()
		mu.Unlock()
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	close(done)
	wg.Wait()
	if err == nil {
		err = pollErr
	}
	if err == nil {
		err = ctx.Err()
	}
	probes := make([]Probe, 0, len(acked))
	for seq := firstSeq; ; seq++ {
		at, ok := acked[seq]
		if !ok {
			break
		}
		pr := Probe{Seq: seq, At: at.Sub(start)}
		if v, ok := visible[seq]; ok {
			// A poll can return the row before the client has read blue's
			// acknowledgement; that is no lag at all.
			pr.Lag, pr.Seen = max(v.Sub(at), 0), true
		}
		probes = append(probes, pr)
	}
	return probes, err
}

// LagLevel is one load level: pgbench at a fixed rate on blue while the
// probe ran.
type LagLevel struct {
	Percent     int
	TargetTPS   float64
	AchievedTPS float64
	Probes      []Probe
}

// Lags are the lags of the probes green showed, in commit order.
func (l LagLevel) Lags() []time.Duration {
	var ds []time.Duration
	for _, p := range l.Probes {
		if p.Seen {
			ds = append(ds, p.Lag)
		}
	}
	return ds
}

// Unseen counts probes green never showed within the probe's wait.
func (l LagLevel) Unseen() int { return len(l.Probes) - len(l.Lags()) }

// Summary is p50, p99 and max of the level's lag.
func (l LagLevel) Summary() (p50, p99, worst time.Duration) {
	ds := l.Lags()
	return Percentile(ds, 50), Percentile(ds, 99), Percentile(ds, 100)
}

// Drift is the median lag of the run's last third minus that of its first
// third: near zero when green keeps up, growing with the run when it does
// not.
func Drift(lags []time.Duration) time.Duration {
	n := len(lags) / 3
	if n == 0 {
		return 0
	}
	return Percentile(lags[len(lags)-n:], 50) - Percentile(lags[:n], 50)
}

// LagReport is a whole `teal bench lag` run.
type LagReport struct {
	Scale          int
	Clients        int
	Source, Target string // engine versions of blue and green
	FullTPS        float64
	Duration       time.Duration
	Levels         []LagLevel
}

// WriteTable prints one row per level.
func (r *LagReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "pgbench scale %d, %d clients, PostgreSQL %s → %s; blue's full TPC-B rate %.0f tps; %s per level\n\n",
		r.Scale, r.Clients, r.Source, r.Target, r.FullTPS, r.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "LOAD\tTARGET TPS\tACHIEVED TPS\tPROBES\tUNSEEN\tLAG P50\tLAG P99\tLAG MAX\tDRIFT\t")
	for _, l := range r.Levels {
		p50, p99, worst := l.Summary()
		fmt.Fprintf(tw, "%d%%\t%.0f\t%.0f\t%d\t%d\t%s\t%s\t%s\t%s\t\n", l.Percent, l.TargetTPS, l.AchievedTPS, len(l.Probes),
			l.Unseen(), ms(p50), ms(p99), ms(worst), ms(Drift(l.Lags())))
	}
	return tw.Flush()
}

// WriteJSON writes the report as JSON (durations in milliseconds).
func (r *LagReport) WriteJSON(w io.Writer) error {
	type probe struct {
		Seq   int64   `json:"seq"`
		AtMs  float64 `json:"at_ms"`
		LagMs float64 `json:"lag_ms"`
		Seen  bool    `json:"seen"`
	}
	type level struct {
		Percent     int     `json:"percent_of_full_rate"`
		TargetTPS   float64 `json:"target_tps"`
		AchievedTPS float64 `json:"achieved_tps"`
		Probes      int     `json:"probes"`
		Unseen      int     `json:"unseen"`
		P50         float64 `json:"lag_p50_ms"`
		P99         float64 `json:"lag_p99_ms"`
		Max         float64 `json:"lag_max_ms"`
		Drift       float64 `json:"drift_ms"`
		Samples     []probe `json:"samples"`
	}
	out := struct {
		Scale    int     `json:"scale"`
		Clients  int     `json:"clients"`
		Source   string  `json:"source_version"`
		Target   string  `json:"target_version"`
		FullTPS  float64 `json:"full_tps"`
		Duration float64 `json:"duration_s"`
		Levels   []level `json:"levels"`
	}{Scale: r.Scale, Clients: r.Clients, Source: r.Source, Target: r.Target, FullTPS: r.FullTPS, Duration: r.Duration.Seconds()}
	for _, l := range r.Levels {
		p50, p99, worst := l.Summary()
		lv := level{Percent: l.Percent, TargetTPS: l.TargetTPS, AchievedTPS: l.AchievedTPS, Probes: len(l.Probes), Unseen: l.Unseen(),
			P50: msf(p50), P99: msf(p99), Max: msf(worst), Drift: msf(Drift(l.Lags())), Samples: []probe{}}
		for _, p := range l.Probes {
			lv.Samples = append(lv.Samples, probe{p.Seq, msf(p.At), msf(p.Lag), p.Seen})
		}
		out.Levels = append(out.Levels, lv)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteSVG draws each level's lag over its run, one line per level.
func (r *LagReport) WriteSVG(w io.Writer) error {
	var span, peak time.Duration
	for _, l := range r.Levels {
		for _, p := range l.Probes {
			span = max(span, p.At)
			if p.Seen {
				peak = max(peak, p.Lag)
			}
		}
	}
	if span == 0 {
		return fmt.Errorf("nothing to draw")
	}
	peak = max(peak, time.Millisecond)
	const width, height, left, bottom = 1200.0, 360.0, 70.0, 40.0
	x := func(d time.Duration) float64 { return left + (width-left-10)*float64(d)/float64(span) }
	y := func(d time.Duration) float64 { return height - bottom - (height-bottom-20)*float64(d)/float64(peak) }
	colours := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	var legend []string
	for i, l := range r.Levels {
		colour := colours[i%len(colours)]
		var pts []string
		for _, p := range l.Probes {
			if p.Seen {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Lag)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1" points="%s"/>`+"\n", colour, strings.Join(pts, " "))
		_, p99, _ := l.Summary()
		legend = append(legend, fmt.Sprintf(`<tspan fill="%s">%d%% (%.0f tps, p99 %s)</tspan>`, colour, l.Percent, l.AchievedTPS, ms(p99)))
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, height-bottom, width-10, height-bottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="20" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, left, height-bottom)
	fmt.Fprintf(&b, `<text x="5" y="%.0f">%s</text><text x="5" y="%.0f">0 ms</text>`+"\n", y(peak)+4, ms(peak), height-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">seconds: 0 … %.0f; replication lag per probe at load %s</text>`+"\n",
		left, height-10, span.Seconds(), strings.Join(legend, ", "))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
