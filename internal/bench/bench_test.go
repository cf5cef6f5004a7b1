package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestUnavailability(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	commits := []Commit{{At: at(100)}, {At: at(150)}, {At: at(400)}, {At: at(420)}, {At: at(2000)}}
	if got := Unavailability(commits, at(0), at(500)); got != 250*time.Millisecond {
		t.Fatalf("gap %s, want 250ms (150 to 400)", got)
	}
	// The window's edges count: nothing acknowledged at all is the whole window.
	if got := Unavailability(nil, at(0), at(300)); got != 300*time.Millisecond {
		t.Fatalf("empty window gap %s", got)
	}
	if got := Unavailability(commits, at(410), at(1000)); got != 580*time.Millisecond {
		t.Fatalf("gap to the window's end %s", got)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := Percentile(ds, 50); p != 10*time.Millisecond {
		t.Fatalf("p50 %s", p)
	}
	if p := Percentile(ds, 99); p != 20*time.Millisecond {
		t.Fatalf("p99 %s", p)
	}
	if p := Percentile(ds, 100); p != 20*time.Millisecond {
		t.Fatalf("max %s", p)
	}
	if Percentile(nil, 50) != 0 {
		t.Fatal("percentile of nothing")
	}
}

func TestReport(t *testing.T) {
	t0 := time.Unix(1000, 0)
	commits := []Commit{{Client: 0, Seq: 0, At: t0}, {Client: 0, Seq: 1, At: t0.Add(400 * time.Millisecond)}, {Client: 1, Seq: 0, At: t0.Add(2 * time.Second)}}
	failures := []Failure{{At: t0.Add(200 * time.Millisecond), Message: "unexpected EOF"}, {At: t0.Add(250 * time.Millisecond), Connect: true, Message: "refused"}}
	tr := Trial{N: 1, Start: t0.Add(100 * time.Millisecond), End: t0.Add(300 * time.Millisecond)}
	tr.Window(commits, failures, 500*time.Millisecond)
	if tr.Unavailability != 400*time.Millisecond || tr.FailedTxns != 1 || tr.FailedConnects != 1 || tr.Commits != 2 {
		t.Fatalf("trial %+v", tr)
	}
	r := &Report{Clients: 2, Style: Persistent, Scale: 1, Trials: []Trial{tr}, Started: t0}
	r.Finish(commits, failures, 0, 0)
	var table, js, svg bytes.Buffer
	r.WriteTable(&table)
	if !strings.Contains(table.String(), "p50 400.0 ms") || !strings.Contains(table.String(), "connection closed 1") {
		t.Fatalf("table:\n%s", table.String())
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || decoded["write_unavailability_p50_ms"] != 400.0 {
		t.Fatalf("json %s (%v)", js.String(), err)
	}
	if err := r.WriteSVG(&svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "polyline") {
		t.Fatalf("svg %v:\n%s", err, svg.String())
	}
}
