package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDrift(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	for _, c := range []struct {
		name string
		lags []time.Duration
		want time.Duration
	}{
		{"steady", ms(5, 6, 5, 9, 5, 6, 5, 6, 5), 0},
		{"growing", ms(1, 2, 3, 4, 5, 6, 7, 8, 9), 6 * time.Millisecond},
		{"recovering", ms(90, 80, 70, 3, 3, 3, 2, 2, 2), -78 * time.Millisecond},
		{"too few", ms(1, 100), 0},
	} {
		if got := Drift(c.lags); got != c.want {
			t.Errorf("%s: drift %s, want %s", c.name, got, c.want)
		}
	}
}

func TestLagReport(t *testing.T) {
	level := func(pct int, lag func(i int) time.Duration) LagLevel {
		l := LagLevel{Percent: pct, TargetTPS: 10 * float64(pct), AchievedTPS: 9 * float64(pct)}
		for i := 0; i < 100; i++ {
			l.Probes = append(l.Probes, Probe{Seq: int64(i), At: time.Duration(i) * 10 * time.Millisecond, Lag: lag(i), Seen: true})
		}
		return l
	}
	steady := level(50, func(i int) time.Duration { return time.Duration(2+i%3) * time.Millisecond })
	behind := level(90, func(i int) time.Duration { return time.Duration(i) * time.Millisecond })
	behind.Probes[99].Seen = false
	r := &LagReport{Scale: 10, Clients: 8, Source: "15.18", Target: "17.6", FullTPS: 1000, Duration: time.Second, Levels: []LagLevel{steady, behind}}

	if p50, p99, worst := behind.Summary(); p50 != 49*time.Millisecond || p99 != 97*time.Millisecond || worst != 98*time.Millisecond {
		t.Fatalf("summary of the unseen-tail level: %s %s %s", p50, p99, worst)
	}
	var table, js, svg bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"full TPC-B rate 1000 tps", "50%   ", "90%   ", "100      1        49.0 ms   97.0 ms   98.0 ms   66.0 ms"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Levels []struct {
			Percent int     `json:"percent_of_full_rate"`
			Unseen  int     `json:"unseen"`
			P99     float64 `json:"lag_p99_ms"`
			Drift   float64 `json:"drift_ms"`
			Samples []any   `json:"samples"`
		} `json:"levels"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || len(decoded.Levels) != 2 {
		t.Fatalf("json %v:\n%s", err, js.String())
	}
	if l := decoded.Levels[0]; l.Percent != 50 || l.P99 != 4 || l.Drift != 0 || len(l.Samples) != 100 {
		t.Errorf("steady level %+v", l)
	}
	if l := decoded.Levels[1]; l.Unseen != 1 || l.Drift != 66 {
		t.Errorf("drifting level: unseen %d, drift %v", l.Unseen, l.Drift)
	}
	if err := r.WriteSVG(&svg); err != nil || strings.Count(svg.String(), "<polyline") != 2 {
		t.Fatalf("svg %v:\n%s", err, svg.String())
	}
	if err := (&LagReport{}).WriteSVG(&svg); err == nil {
		t.Error("an empty report drew a chart")
	}
}
