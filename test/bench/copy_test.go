// Package bench holds teal's benchmarks with real database servers. Each
// runs teal's way side by side with its baseline in the same run.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/server"
	"github.com/tealdb/teal/internal/supervisor"
)

const pass = "bench-pass-1"

func envInt(name string, def int) int {
	if s, err := strconv.Atoi(os.Getenv(name)); err == nil && s > 0 {
		return s
	}
	return def
}

// openDir opens a teal service on a new data directory, which it also
// returns; initialCopy is server.Config.InitialCopy.
func openDir(b *testing.B, initialCopy string) (*rds.Service, string) {
	dir, err := os.MkdirTemp("", "teal-bench-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0o711)
	b.Cleanup(func() {
		// Once the service has stopped its servers: their OS users, then
		// their files.
		if entries, err := os.ReadDir(filepath.Join(dir, "instances")); err == nil {
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "db-") {
					if err := supervisor.RemoveSystemUser(rds.OSUserOf(e.Name())); err != nil {
						b.Errorf("remove the OS user of %s: %v", e.Name(), err)
					}
				}
			}
		}
		os.RemoveAll(dir)
	})
	svc, err := server.OpenService(context.Background(), server.Config{DataDir: dir, EnginesDir: server.DefaultEnginesDir(),
		InitialCopy: initialCopy, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	return svc, dir
}

// create creates a PostgreSQL instance with automated backups on, as by
// default.
func create(b *testing.B, svc *rds.Service, id, version string) *rds.DBInstance {
	return createWith(b, svc, rds.CreateDBInstanceInput{DBInstanceIdentifier: id, EngineVersion: version})
}

// createBare creates a PostgreSQL instance without automated backups: no
// WAL archived, no snapshot taken while a contender runs.
func createBare(b *testing.B, svc *rds.Service, id, version string) *rds.DBInstance {
	none := 0
	return createWith(b, svc, rds.CreateDBInstanceInput{DBInstanceIdentifier: id, EngineVersion: version, BackupRetentionPeriod: &none})
}

func createWith(b *testing.B, svc *rds.Service, in rds.CreateDBInstanceInput) *rds.DBInstance {
	ctx := context.Background()
	id := in.DBInstanceIdentifier
	in.Engine, in.DBInstanceClass, in.MasterUsername, in.MasterUserPassword, in.DBName = "postgres", "db.m5.large", "master", pass, "app"
	if _, err := svc.CreateDBInstance(ctx, in); err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	inst, err := svc.WaitForStatus(wctx, id, rds.StatusAvailable)
	if err != nil {
		b.Fatal(err)
	}
	return inst
}

func pgURL(inst *rds.DBInstance) string {
	return fmt.Sprintf("postgresql://master:%s@127.0.0.1:%d/app?sslmode=disable", pass, inst.Endpoint.Port)
}

func run(b *testing.B, name string, args ...string) {
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
}

const bin15 = "/usr/lib/postgresql/15/bin/"

// settle vacuums and analyzes inst's data once it is loaded, as autovacuum
// would soon after: each contender then reads a blue whose rows are
// marked committed and visible, and none runs beside autovacuum's first
// pass over freshly loaded tables, which would write all of them again
// while one contender runs and not the next.
func settle(b *testing.B, inst *rds.DBInstance) {
	run(b, bin15+"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "VACUUM (ANALYZE)", pgURL(inst))
}

// A dataSet fills a blue instance.
type dataSet struct {
	name string
	load func(b *testing.B, inst *rds.DBInstance)
}

// pgbenchData is pgbench's TPC-B tables at scale TEAL_BENCH_SCALE (50).
func pgbenchData() dataSet {
	scale := envInt("TEAL_BENCH_SCALE", 50)
	return dataSet{fmt.Sprintf("pgbench-scale-%d", scale), func(b *testing.B, inst *rds.DBInstance) {
		run(b, bin15+"pgbench", "-i", "-q", "-s", strconv.Itoa(scale), pgURL(inst))
	}}
}

// tablesData is TEAL_BENCH_TABLES (100) tables of TEAL_BENCH_ROWS
// (20,000) rows, each with a primary key and three secondary indexes.
func tablesData() dataSet {
	n, rows := envInt("TEAL_BENCH_TABLES", 100), envInt("TEAL_BENCH_ROWS", 20000)
	name := fmt.Sprintf("%d-tables", n)
	if rows != 20000 {
		name = fmt.Sprintf("%d-tables-of-%d-rows", n, rows)
	}
	return dataSet{name, func(b *testing.B, inst *rds.DBInstance) {
		var sql strings.Builder
		for i := range n {
			fmt.Fprintf(&sql, `CREATE TABLE t%[1]d (id bigint PRIMARY KEY, a int NOT NULL, b int NOT NULL, c text NOT NULL, d timestamptz NOT NULL);
INSERT INTO t%[1]d SELECT g, g %% 1000, (g * 7919) %% %[2]d, md5(g::text), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, %[2]d) g;
CREATE INDEX t%[1]d_a ON t%[1]d (a); CREATE INDEX t%[1]d_b ON t%[1]d (b, a); CREATE INDEX t%[1]d_c ON t%[1]d (c);
`, i, rows)
		}
		cmd := exec.Command(bin15+"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pgURL(inst))
		cmd.Stdin = strings.NewReader(sql.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("load %d tables: %v\n%s", n, err, out)
		}
	}}
}

// buildGreen creates a deployment of blue to PostgreSQL target and waits
// until it is AVAILABLE, logging each StatusDetails it shows with the time.
func buildGreen(b *testing.B, svc *rds.Service, name string, blue *rds.DBInstance, target string) (time.Duration, string) {
	start := time.Now()
	d, err := svc.CreateBlueGreenDeployment(context.Background(), rds.CreateBlueGreenInput{
		BlueGreenDeploymentName: name, Source: blue.DBInstanceArn, TargetEngineVersion: target})
	if err != nil {
		b.Fatal(err)
	}
	var phases []string
	last := ""
	for {
		got, _, err := svc.DescribeBlueGreenDeployments(context.Background(), d.BlueGreenDeploymentIdentifier, nil, rds.Page{})
		if err != nil {
			b.Fatal(err)
		}
		if got[0].Status == bluegreen.StatusAvailable {
			break
		}
		if got[0].Status != bluegreen.StatusProvisioning || time.Since(start) > 30*time.Minute {
			b.Fatalf("deployment %s: %s", got[0].Status, got[0].StatusDetails)
		}
		if s := got[0].StatusDetails; s != last && s != "" {
			// One line a phase: the first progress of each.
			phase, _, _ := strings.Cut(s, ",")
			if lastPhase, _, _ := strings.Cut(last, ","); phase != lastPhase {
				phases = append(phases, fmt.Sprintf("%6.2fs %s", time.Since(start).Seconds(), strings.TrimPrefix(phase, "Creating the green environment: ")))
			}
			last = s
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	// The benchmark's own log keeps only a few lines: the timeline goes
	// to stderr.
	fmt.Fprintf(os.Stderr, "%s: AVAILABLE after %s\n%s\n", name, took.Round(time.Millisecond), strings.Join(phases, "\n"))
	return took, d.BlueGreenDeploymentIdentifier
}

// sameRows fails the benchmark unless the green of deployment id has, in
// every table, as many rows as blue: a build that left data out would
// otherwise show as a speed-up. It runs after the timed part.
func sameRows(b *testing.B, svc *rds.Service, id string, blue *rds.DBInstance) {
	ctx := context.Background()
	d, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{})
	if err != nil {
		b.Fatal(err)
	}
	insts, _, err := svc.DescribeDBInstances(ctx, d[0].Target[strings.LastIndex(d[0].Target, ":")+1:], nil, rds.Page{})
	if err != nil {
		b.Fatal(err)
	}
	want, got := rowCounts(b, blue), rowCounts(b, &insts[0])
	if len(want) == 0 || !maps.Equal(want, got) {
		b.Fatalf("deployment %s: blue's tables hold %v rows, green's %v", id, want, got)
	}
}

// rowCounts counts the rows of every table of inst's database app, but
// for teal's own.
func rowCounts(b *testing.B, inst *rds.DBInstance) map[string]int64 {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgURL(inst))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables WHERE schemaname <> 'teal'`)
	if err != nil {
		b.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	counts := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			b.Fatalf("count %s: %v", t, err)
		}
		counts[t] = n
	}
	return counts
}

// removeGreen deletes a deployment and its green, and waits until only
// blue is left, so that the next run starts from blue as it was: without
// teal's objects, and with no green using the machine.
func removeGreen(b *testing.B, svc *rds.Service, id string) {
	ctx := context.Background()
	if _, err := svc.DeleteBlueGreenDeployment(ctx, id, true); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{})
		var f *rds.Fault
		gone := errors.As(err, &f) && f.Code == "BlueGreenDeploymentNotFoundFault"
		if err != nil && !gone {
			b.Fatal(err)
		}
		insts, _, err := svc.DescribeDBInstances(ctx, "", nil, rds.Page{})
		if err != nil {
			b.Fatal(err)
		}
		if gone && len(insts) == 1 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("deployment %s: still there after 5 minutes (%d instances)", id, len(insts))
		}
	}
}

// removed is when the benchmark last removed instances, and quietPeriod
// how long a contender waits after that (TEAL_BENCH_QUIET seconds, 65 by
// default). A file system without a journal (ext4 here) reuses no inode
// within a minute of its deletion (six while the deletion is not yet
// written back, so a removal is synced), so each new file's inode is
// found past all those just freed: right after a green of thousands of
// files was removed, a contender creates its own up to twice as slowly
// (copying 100 tables' files took 0.4-0.5 s on a quiet file system,
// 0.55-0.93 s right after each of a few removals). So a round's instances
// are removed only once its three contenders ran, and no contender starts
// within that time of a removal.
var (
	removed     time.Time
	quietPeriod = time.Duration(envInt("TEAL_BENCH_QUIET", 65)) * time.Second
)

// quiet waits out quietPeriod after the last removal, then writes back
// what the kernel holds: each contender starts on a file system with
// nothing left to do from the one before.
func quiet() {
	time.Sleep(time.Until(removed.Add(quietPeriod)))
	syscall.Sync()
}

// ready readies blue's files for a contender, after quiet: each contender
// finds its blue in the same state, whatever the kernel did with it since
// the last contender. By default blue's files are read into the page cache,
// as a busy server's would be (this machine's kernel pages out what was
// not touched for a minute, so a blue left alone would be read from disk
// by one contender and from memory by another). With TEAL_BENCH_COLD set,
// the page cache is dropped instead: every contender reads blue, and its
// own programs, from disk.
func ready(b *testing.B, dir string, blue *rds.DBInstance) {
	quiet()
	if os.Getenv("TEAL_BENCH_COLD") != "" {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
			b.Fatal(err)
		}
		return
	}
	root := filepath.Join(dir, "instances", blue.DbiResourceId)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// stopInstance stops a contender's instance once it is measured, so that
// nothing it does afterwards (a checkpoint, autovacuum's first pass over
// the rows it was just given) runs during the next contender.
func stopInstance(b *testing.B, svc *rds.Service, id string) {
	if _, err := svc.StopDBInstance(context.Background(), id, ""); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := svc.WaitForStatus(ctx, id, "stopped"); err != nil {
		b.Fatal(err)
	}
}

// endDeployment deletes a deployment but not its green, and returns the
// green's identifier once the deployment is gone: green stays, no longer
// replicating, until deleteInstance.
func endDeployment(b *testing.B, svc *rds.Service, id string) string {
	ctx := context.Background()
	d, err := svc.DeleteBlueGreenDeployment(ctx, id, false)
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{})
		var f *rds.Fault
		if errors.As(err, &f) && f.Code == "BlueGreenDeploymentNotFoundFault" {
			return d.Target[strings.LastIndex(d.Target, ":")+1:]
		}
		if err != nil {
			b.Fatal(err)
		}
		if time.Now().After(deadline) {
			b.Fatalf("deployment %s: still there after 5 minutes", id)
		}
	}
}

// deleteInstance deletes an instance and waits until it is gone.
func deleteInstance(b *testing.B, svc *rds.Service, id string) {
	if _, err := svc.DeleteDBInstance(context.Background(), id, true, ""); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := svc.WaitForStatus(ctx, id, "deleted"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInitialCopy compares the time to build a blue/green
// deployment's green environment from PostgreSQL 15 (until AVAILABLE) with
// two baselines on the same data in the same run: `pg_dump | psql` into a
// new instance of green's version, and the same deployment with
// PostgreSQL's own subscription copy (teal serve's InitialCopy
// "subscription"). Data: pgbench at TEAL_BENCH_SCALE (50), and
// TEAL_BENCH_TABLES (100) tables of TEAL_BENCH_ROWS (20,000) rows with
// three secondary indexes each, to PostgreSQL 17 (teal clones blue's
// files and upgrades the clone with pg_upgrade); pgbench again to 15 (a
// clone, not upgraded) and to 16 (whose build has no pg_upgrade: teal
// copies table by table). No instance keeps automated backups, so no
// contender's writes are also archived. A contender's instance is stopped
// once measured (stopInstance), the round's instances are deleted once its
// three contenders ran (see quietPeriod), and each contender starts with
// its blue's files in memory, or with TEAL_BENCH_COLD=1 with none of its
// files in memory (see ready).
//
//	go test ./test/bench -run '^$' -bench InitialCopy -benchtime 1x
//
// With -benchtime 2x, Go runs each case once and then twice: three runs.
func BenchmarkInitialCopy(b *testing.B) {
	for _, c := range []struct {
		ds     dataSet
		target string
	}{{pgbenchData(), "17"}, {tablesData(), "17"}, {pgbenchData(), "15"}, {pgbenchData(), "16"}} {
		ds, target := c.ds, c.target
		b.Run(ds.name+"-to-"+target, func(b *testing.B) {
			removed = time.Now() // the run before removed all it made
			viaTeal, tealDir := openDir(b, "teal")
			viaSub, subDir := openDir(b, "subscription")
			blue := createBare(b, viaTeal, "blue", "15")
			start := time.Now()
			ds.load(b, blue)
			settle(b, blue)
			b.Logf("load %s: %s", ds.name, time.Since(start).Round(time.Millisecond))
			subBlue := createBare(b, viaSub, "blue", "15")
			ds.load(b, subBlue)
			settle(b, subBlue)
			for i := 0; i < b.N; i++ {
				into := createBare(b, viaTeal, fmt.Sprintf("dump-%d", i), target)
				ready(b, tealDir, blue)
				start = time.Now()
				run(b, "bash", "-o", "pipefail", "-c", fmt.Sprintf(bin15+"pg_dump --no-owner %q | "+bin15+"psql -q -X -v ON_ERROR_STOP=1 %q >/dev/null",
					pgURL(blue), pgURL(into)))
				dump := time.Since(start)
				stopInstance(b, viaTeal, into.DBInstanceIdentifier)
				ready(b, subDir, subBlue)
				sub, subID := buildGreen(b, viaSub, fmt.Sprintf("subscription-%d", i), subBlue, target)
				sameRows(b, viaSub, subID, subBlue)
				subGreen := endDeployment(b, viaSub, subID)
				stopInstance(b, viaSub, subGreen)
				ready(b, tealDir, blue)
				green, greenID := buildGreen(b, viaTeal, fmt.Sprintf("teal-%d", i), blue, target)
				sameRows(b, viaTeal, greenID, blue)
				b.ReportMetric(dump.Seconds(), "dump_restore_s")
				b.ReportMetric(sub.Seconds(), "subscription_s")
				b.ReportMetric(green.Seconds(), "green_s")
				b.ReportMetric(dump.Seconds()/green.Seconds(), "x_dump")
				b.ReportMetric(sub.Seconds()/green.Seconds(), "x_subscription")
				b.Logf("%s: pg_dump | psql %s; subscription copy %s; teal's green %s: %.2fx pg_dump | psql, %.2fx the subscription",
					ds.name, dump.Round(time.Millisecond), sub.Round(time.Millisecond), green.Round(time.Millisecond),
					dump.Seconds()/green.Seconds(), sub.Seconds()/green.Seconds())
				// The round's instances go once all three contenders ran.
				deleteInstance(b, viaTeal, into.DBInstanceIdentifier)
				deleteInstance(b, viaSub, subGreen)
				removeGreen(b, viaTeal, greenID)
				syscall.Sync()
				removed = time.Now()
			}
		})
	}
}
