package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// hostileDB is a database name that is also a libpq option list, a path out
// of any directory and a quote.
const hostileDB = `other host=/tmp port=1 dbname=postgres ../../x' "y`

// copiedTables are the tables of TestInitialCopyConsistent, each with how
// its rows are compared: every row as text, in a fixed order.
var copiedTables = []string{"big", "counters", "events", "nopk", "generated", "kinds", "nocols", "part_a", "part_b"}

// TestInitialCopyConsistent builds a green while writers change every
// table of blue: updates that move values between rows of a large table,
// inserts and deletes, a table without a primary key, a generated column, a
// user type copied as text, a table without columns, partitions and a
// second database. Once the writers stop and green has caught up, every
// table holds exactly blue's rows: none lost by the copy's consistent
// point, none applied twice. While green is built, StatusDetails shows the
// copy's progress. PostgreSQL 15 -> 16 is copied table by table (16's
// build has no pg_upgrade); 15 -> 15 is a clone of blue's files; 15 -> 17
// and 15 -> 18 are such clones upgraded in place.
//
// Green of a newer major has planner statistics when it is available:
// collected again after a copy and after pg_upgrade to 17; carried by
// pg_upgrade to 18, which leaves out extended statistics, so only the
// table that has some is analyzed there.
func TestInitialCopyConsistent(t *testing.T) {
	for _, c := range []struct{ target, shows string }{
		{"16", "Creating the green environment: copying the data of database app"},
		{"15", "Creating the green environment: copying blue's files"},
		{"17", "Creating the green environment: upgrading the copy to PostgreSQL 17"},
		{"18", "Creating the green environment: upgrading the copy to PostgreSQL 18"},
	} {
		t.Run("15-to-"+c.target, func(t *testing.T) {
			t.Parallel()
			copyUnderLoad(t, c.target, c.shows)
		})
	}
}

func copyUnderLoad(t *testing.T, target, shows string) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", target)
	ctx := ctxFor(t, 12*time.Minute)
	blue := createPostgres(t, svc, "copied", "15")
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, `
		CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
		CREATE TABLE big (id bigint PRIMARY KEY, v bigint NOT NULL, pad text NOT NULL);
		INSERT INTO big SELECT g, 1000, repeat(md5(g::text), 4) FROM generate_series(1, 400000) g;
		CREATE INDEX big_v ON big (v);
		CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
		INSERT INTO counters SELECT g, 0 FROM generate_series(1, 50) g;
		CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL, body text);
		INSERT INTO events (k, body) SELECT g % 97, md5(g::text) FROM generate_series(1, 20000) g;
		CREATE TABLE nopk (a int, b text);
		INSERT INTO nopk SELECT g % 100, md5(g::text) FROM generate_series(1, 5000) g;
		CREATE TABLE generated (id int PRIMARY KEY, x int NOT NULL, twice int GENERATED ALWAYS AS (x * 2) STORED);
		INSERT INTO generated (id, x) SELECT g, g FROM generate_series(1, 1000) g;
		CREATE TABLE kinds (id int PRIMARY KEY, m mood NOT NULL, ms mood[] NOT NULL);
		INSERT INTO kinds SELECT g, 'ok', ARRAY['sad', 'happy']::mood[] FROM generate_series(1, 1000) g;
		CREATE TABLE nocols ();
		INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES;
		CREATE TABLE part (id int NOT NULL, k text NOT NULL, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
		CREATE TABLE part_a PARTITION OF part FOR VALUES IN ('a');
		CREATE TABLE part_b PARTITION OF part FOR VALUES IN ('b');
		INSERT INTO part SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 2000) g;
		CREATE STATISTICS events_k_body ON k, body FROM events;
		ANALYZE;`); err != nil {
		t.Fatal(err)
	}
	// The second database's name is the master's to choose: this one
	// would redirect an unquoted connection string and escape a file name.
	if _, err := bc.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{hostileDB}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	oc := connect(t, blue, hostileDB)
	if _, err := oc.Exec(ctx, `CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
		INSERT INTO notes (body) SELECT md5(g::text) FROM generate_series(1, 3000) g`); err != nil {
		t.Fatal(err)
	}

	// Writers run from before the deployment starts until after green is
	// available. Each transaction touches several tables.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acked, failed, duringBuild atomic.Int64
	var building atomic.Bool
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var c *pgx.Conn
			defer func() {
				if c != nil {
					c.Close(context.Background())
				}
			}()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil {
					var err error
					if c, err = tryConnect(context.Background(), blue.Endpoint.Port, "app"); err != nil {
						failed.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				a, b := 1+r.IntN(400000), 1+r.IntN(400000)
				wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				batch := &pgx.Batch{}
				batch.Queue("BEGIN")
				batch.Queue("UPDATE big SET v = v - 1 WHERE id = $1", a)
				batch.Queue("UPDATE big SET v = v + 1 WHERE id = $1", b)
				batch.Queue("UPDATE counters SET n = n + 1 WHERE id = $1", 1+r.IntN(50))
				batch.Queue("INSERT INTO events (k, body) VALUES ($1, $2)", w, fmt.Sprintf("w%d-%d", w, i))
				batch.Queue("DELETE FROM events WHERE id = (SELECT min(id) FROM events WHERE k = $1)", r.IntN(97))
				batch.Queue("UPDATE nopk SET b = $1 WHERE ctid = (SELECT ctid FROM nopk WHERE a = $2 LIMIT 1)", fmt.Sprintf("w%d-%d", w, i), r.IntN(100))
				batch.Queue("INSERT INTO nopk VALUES ($1, $2)", r.IntN(100), fmt.Sprintf("new-w%d-%d", w, i))
				batch.Queue("UPDATE generated SET x = x + 1 WHERE id = $1", 1+r.IntN(1000))
				batch.Queue("UPDATE kinds SET m = $1::mood, ms = ms || $1::mood WHERE id = $2", []string{"sad", "ok", "happy"}[r.IntN(3)], 1+r.IntN(1000))
				batch.Queue("INSERT INTO nocols DEFAULT VALUES")
				batch.Queue("UPDATE part SET k = CASE k WHEN 'a' THEN 'b' ELSE 'a' END WHERE id = $1", 1+r.IntN(2000))
				batch.Queue("COMMIT")
				err := c.SendBatch(wctx, batch).Close()
				cancel()
				if err != nil {
					failed.Add(1)
					c.Close(context.Background())
					c = nil
					continue
				}
				acked.Add(1)
				if building.Load() {
					duringBuild.Add(1)
				}
				// A steady pace, not blue's full rate: one apply worker
				// replays what three sessions commit, and on a loaded
				// machine an unbounded load is a test of the machine.
				time.Sleep(writerPause)
			}
		}()
	}
	halt := func() {
		if stop != nil {
			close(stop)
			wg.Wait()
			stop = nil
		}
	}
	defer halt()
	time.Sleep(300 * time.Millisecond)

	building.Store(true)
	d, err := svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{BlueGreenDeploymentName: "copy-under-load",
		Source: blue.DBInstanceArn, TargetEngineVersion: target})
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	deadline := time.Now().Add(4 * time.Minute)
	for {
		got, _, err := svc.DescribeBlueGreenDeployments(ctx, d.BlueGreenDeploymentIdentifier, nil, rds.Page{})
		if err != nil {
			t.Fatal(err)
		}
		dep := got[0]
		if dep.Status == bluegreen.StatusAvailable {
			break
		}
		if dep.Status != bluegreen.StatusProvisioning || time.Now().After(deadline) {
			t.Fatalf("deployment is %s: %s", dep.Status, dep.StatusDetails)
		}
		if s := dep.StatusDetails; s != "" && (len(shown) == 0 || shown[len(shown)-1] != s) {
			shown = append(shown, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	building.Store(false)
	// Of a clone, and of its upgrade, nothing is left beside green's data.
	for _, name := range []string{"clone", "upgrade"} {
		left, err := filepath.Glob(filepath.Join(dir, "instances", "*", name))
		if err != nil || len(left) > 0 {
			t.Errorf("left after green was built: %v (%v)", left, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // writers go on while green streams
	halt()
	t.Logf("%d transactions acknowledged (%d while green was built), %d failed; progress shown: %q",
		acked.Load(), duringBuild.Load(), failed.Load(), shown)
	if duringBuild.Load() < 10 {
		t.Fatalf("only %d transactions committed while green was built: the test did not write during the copy", duringBuild.Load())
	}
	sawCopy := false
	for _, s := range shown {
		sawCopy = sawCopy || strings.HasPrefix(s, shows)
	}
	if !sawCopy {
		t.Errorf("StatusDetails never showed the data being copied: %q", shown)
	}

	// Green has caught up once every slot on blue is confirmed past the
	// last write: from then on, a table that differs was copied wrong.
	awaitSlotsPast(t, ctx, bc)
	green := describe(t, svc, nameOf(d.Target))
	gc := connect(t, green, "app")
	goc := connect(t, green, hostileDB)
	type side struct{ blue, green *pgx.Conn }
	checks := map[string]side{"notes": {oc, goc}}
	for _, tbl := range copiedTables {
		checks[tbl] = side{bc, gc}
	}
	var diff []string
	for tbl, s := range checks {
		b, g := tableDigest(t, s.blue, tbl), tableDigest(t, s.green, tbl)
		if b != g {
			diff = append(diff, fmt.Sprintf("%s: blue %s, green %s", tbl, b, g))
		}
	}
	if len(diff) > 0 {
		t.Fatalf("green differs from blue after it confirmed every write:\n%s", strings.Join(diff, "\n"))
	}
	var sum int64
	if err := gc.QueryRow(ctx, "SELECT sum(v) FROM big").Scan(&sum); err != nil || sum != 400000*1000 {
		t.Fatalf("sum of big.v on green is %d (%v), want %d", sum, err, 400000*1000)
	}
	checkStatistics(t, ctx, gc, target)
}

// checkStatistics checks the planner statistics of copyUnderLoad's green
// gc of major target: every column of big has them, and so does the
// extended statistics object on events. Where green is not blue's clone,
// teal analyzed events, and big too unless pg_upgrade (18) carried its
// statistics.
func checkStatistics(t *testing.T, ctx context.Context, gc *pgx.Conn, target string) {
	t.Helper()
	var columns, extended int
	if err := gc.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'big'),
		(SELECT count(*) FROM pg_stats_ext WHERE schemaname = 'public' AND statistics_name = 'events_k_body')`).
		Scan(&columns, &extended); err != nil {
		t.Fatal(err)
	}
	if columns != 3 || extended != 1 {
		t.Errorf("green has statistics of %d of big's 3 columns and %d of 1 extended statistics object", columns, extended)
	}
	if target == "15" {
		return
	}
	analyzed := map[string]bool{}
	rows, err := gc.Query(ctx, "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname IN ('big', 'events')")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var done bool
		if err := rows.Scan(&name, &done); err != nil {
			t.Fatal(err)
		}
		analyzed[name] = done
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"big": target != "18", "events": true}
	if analyzed["big"] != want["big"] || analyzed["events"] != want["events"] {
		t.Errorf("teal analyzed %v on green %s, want %v", analyzed, target, want)
	}
}

// writerPause is how long each writer of copyUnderLoad waits between
// transactions.
const writerPause = 30 * time.Millisecond

// awaitSlotsPast waits until every logical slot on the blue server c is
// connected to has been confirmed, by its subscriber, past blue's current
// position: what was committed before is on green.
func awaitSlotsPast(t *testing.T, ctx context.Context, c *pgx.Conn) {
	t.Helper()
	var target string
	if err := c.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	const limit = 5 * time.Minute
	for start := time.Now(); ; {
		var slots, behind int
		var lag int64
		err := c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE confirmed_flush_lsn IS NULL OR confirmed_flush_lsn < $1::pg_lsn),
			coalesce(max(pg_wal_lsn_diff($1::pg_lsn, confirmed_flush_lsn)), 0)::bigint
			FROM pg_replication_slots WHERE slot_type = 'logical'`, target).Scan(&slots, &behind, &lag)
		if err != nil {
			t.Fatal(err)
		}
		if slots == 0 {
			t.Fatal("blue has no logical replication slot")
		}
		if behind == 0 {
			t.Logf("green confirmed %s after %s", target, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%d of %d slots still %d bytes short of %s after %s", behind, slots, lag, target, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tableDigest is a table's row count and a hash of all its rows.
func tableDigest(t *testing.T, c *pgx.Conn, table string) string {
	t.Helper()
	var n int64
	var h *string
	q := fmt.Sprintf(`SELECT count(*), md5(string_agg(r::text, E'\n' ORDER BY r::text)) FROM %s r`, pgx.Identifier{table}.Sanitize())
	if err := c.QueryRow(context.Background(), q).Scan(&n, &h); err != nil {
		t.Fatalf("digest of %s: %v", table, err)
	}
	if h == nil {
		return fmt.Sprintf("%d rows", n)
	}
	return fmt.Sprintf("%d rows, %s", n, *h)
}
