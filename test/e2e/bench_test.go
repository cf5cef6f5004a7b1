package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchCommands runs both benchmarks as a user would, briefly: `teal bench
// proxy` must print its comparison with a positive figure on every path, and
// `teal bench switchover` must switch over with both client styles, lose no
// acknowledged commit, and write its JSON and chart.
func TestBenchCommands(t *testing.T) {
	bin := buildTeal(t)
	dir := dataDir(t)
	endpoint := serveFirstRun(t, bin, dir)
	teal := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}

	out, _ := teal.ok(t, "bench", "proxy", "--seconds", "1", "--rounds", "1", "--scale", "1")
	row := regexp.MustCompile(`(?m)^(select-only|TPC-B)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+%\s+[\d.]+%`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 {
		t.Fatalf("bench proxy printed no comparison of both workloads:\n%s", out)
	}
	for _, r := range rows {
		for _, v := range r[2:] {
			if n, _ := strconv.Atoi(v); n <= 0 {
				t.Errorf("%s: a path ran at %s tps", r[1], v)
			}
		}
	}
	want := "through teal"
	if os.Geteuid() == 0 {
		want = "in the kernel"
	}
	if !strings.Contains(out, "teal's endpoint forwards "+want) {
		t.Errorf("bench proxy should report forwarding %s:\n%s", want, out)
	}

	jsonPath, chartPath := filepath.Join(t.TempDir(), "bench.json"), filepath.Join(t.TempDir(), "bench.svg")
	out, _ = teal.ok(t, "bench", "switchover", "--trials", "1", "--clients", "4", "--json", jsonPath, "--chart", chartPath)
	if !strings.Contains(out, "write unavailability p50") {
		t.Errorf("bench switchover printed no summary:\n%s", out)
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	styles := map[string]bool{}
	for dec := json.NewDecoder(f); ; {
		var r struct {
			Style   string `json:"style"`
			Commits int    `json:"commits_acknowledged"`
			Missing int    `json:"commits_missing"`
			Dups    int    `json:"duplicates"`
			Trials  []struct {
				Error string `json:"error"`
			} `json:"trials"`
		}
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("bench JSON: %v", err)
		}
		styles[r.Style] = true
		if r.Commits == 0 || r.Missing != 0 || r.Dups != 0 || len(r.Trials) != 1 || r.Trials[0].Error != "" {
			t.Errorf("%s: %d commits, %d missing, %d duplicates, trials %+v", r.Style, r.Commits, r.Missing, r.Dups, r.Trials)
		}
	}
	if !styles["persistent"] || !styles["per-txn"] {
		t.Errorf("JSON reports styles %v, want persistent and per-txn", styles)
	}
	// With both styles, there is a chart per style.
	for _, style := range []string{"persistent", "per-txn"} {
		path := strings.TrimSuffix(chartPath, ".svg") + "." + style + ".svg"
		svg, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(svg), "<svg") {
			t.Errorf("chart of %s: %v, %.80q", style, err, svg)
		}
	}
}

// TestBenchCommandsLag runs `teal bench lag` briefly: both load levels must
// report probes that green showed, and the JSON and chart must be written.
func TestBenchCommandsLag(t *testing.T) {
	bin := buildTeal(t)
	dir := dataDir(t)
	endpoint := serveFirstRun(t, bin, dir)
	teal := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}

	jsonPath, chartPath := filepath.Join(t.TempDir(), "lag.json"), filepath.Join(t.TempDir(), "lag.svg")
	out, _ := teal.ok(t, "bench", "lag", "--scale", "1", "--duration", "3s", "--json", jsonPath, "--chart", chartPath)
	if !regexp.MustCompile(`(?m)^50%\s+\d+\s+\d+\s+\d+\s+0\s+[\d.]+ ms`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^90%\s+\d+\s+\d+\s+\d+\s+0\s+[\d.]+ ms`).MatchString(out) {
		t.Errorf("bench lag printed no row per level with every probe seen:\n%s", out)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		FullTPS float64 `json:"full_tps"`
		Levels  []struct {
			Percent  int     `json:"percent_of_full_rate"`
			Achieved float64 `json:"achieved_tps"`
			Probes   int     `json:"probes"`
			Unseen   int     `json:"unseen"`
			P99      float64 `json:"lag_p99_ms"`
		} `json:"levels"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bench lag JSON: %v", err)
	}
	if r.FullTPS <= 0 || len(r.Levels) != 2 {
		t.Fatalf("bench lag JSON: %s", b)
	}
	for _, l := range r.Levels {
		// A probe every 10 ms for 3 s: well over 100 even on a slow machine.
		if l.Achieved <= 0 || l.Probes < 100 || l.Unseen != 0 || l.P99 <= 0 {
			t.Errorf("level %d%%: %+v", l.Percent, l)
		}
	}
	if svg, err := os.ReadFile(chartPath); err != nil || !strings.Contains(string(svg), "<polyline") {
		t.Errorf("lag chart: %v, %.80q", err, svg)
	}
	// Nothing it created is left behind.
	out, _ = teal.ok(t, "describe-db-instances")
	if strings.Contains(out, "teal-bench-lag") {
		t.Errorf("bench lag left instances behind:\n%s", out)
	}
}
