package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// BenchmarkUpgradeSync measures, side by side on the same data, how an
// upgraded green gets to the disk. Each iteration upgrades three fresh
// copies of the same stopped PostgreSQL 15 cluster to 17, in an order that
// turns from one iteration to the next:
//   - pg_upgrade syncing green itself;
//   - pg_upgrade --no-sync, then syncUpgraded (one syncfs), as UpgradeClone;
//   - pg_upgrade --no-sync, then the sync pg_upgrade itself runs when it is
//     done (initdb --sync-only --sync-method fsync: each file of green's
//     data directory, the copy's thousands of linked ones too), so that
//     the two syncs are also timed alone.
//
// The cluster holds TEAL_BENCH_TABLES (100) tables of TEAL_BENCH_ROWS
// (20,000) rows, each with a primary key and three secondary indexes, as
// the InitialCopy benchmark's many tables do.
//
//	go test ./internal/engine/postgres -run '^$' -bench UpgradeSync -benchtime 6x
func BenchmarkUpgradeSync(b *testing.B) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	b.Cleanup(func() { sup.Close(context.Background()) })
	blue := startServer(b, e, sup, "15", "blue")
	target, err := engine.Resolve(e.Builds(), "17")
	if err != nil {
		b.Fatalf("PostgreSQL 17: %v (run scripts/install-engines.sh)", err)
	}
	if err := upgradable(blue.Build, target); err != nil {
		b.Skip(err)
	}
	ctx := context.Background()
	tables, rows := benchEnv(b, "TEAL_BENCH_TABLES", 100), benchEnv(b, "TEAL_BENCH_ROWS", 20000)
	c, err := Connect(ctx, blue, "app")
	if err != nil {
		b.Fatal(err)
	}
	for i := range tables {
		_, err := c.Exec(ctx, fmt.Sprintf(`CREATE TABLE public.t%[1]d (id bigint PRIMARY KEY, a int NOT NULL, b int NOT NULL, c text NOT NULL, d timestamptz NOT NULL);
INSERT INTO public.t%[1]d SELECT g, g %% 1000, (g * 7919) %% %[2]d, md5(g::text), timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, %[2]d) g;
CREATE INDEX t%[1]d_a ON public.t%[1]d (a); CREATE INDEX t%[1]d_b ON public.t%[1]d (b, a); CREATE INDEX t%[1]d_c ON public.t%[1]d (c)`, i, rows))
		if err != nil {
			c.Close(ctx)
			b.Fatalf("load table %d: %v", i, err)
		}
	}
	c.Close(ctx)
	if err := sup.Stop(ctx, "blue"); err != nil {
		b.Fatal(err)
	}
	fsys, err := os.Open(filepath.Dir(blue.DataDir))
	if err != nil {
		b.Fatal(err)
	}
	defer fsys.Close()

	// The ways, and what each took in all: pg_upgrade, then the sync.
	ways := []string{"pg_upgrade's own sync", "--no-sync, then syncfs", "--no-sync, then file by file"}
	var upgrade, sync [3]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for k := range ways {
			way := (i + k) % len(ways)
			dir := filepath.Join(filepath.Dir(blue.DataDir), fmt.Sprintf("upgrade-%d-%d", i, way))
			if err := engine.MkdirOwned(dir, 0o700, blue.Credential); err != nil {
				b.Fatal(err)
			}
			clone := blue
			clone.DataDir = filepath.Join(dir, "clone")
			green := engine.Layout{Build: target, DataDir: filepath.Join(dir, "data"), SocketDir: filepath.Join(dir, "run"),
				Credential: blue.Credential}
			if out, err := exec.Command("cp", "-a", blue.DataDir, clone.DataDir).CombinedOutput(); err != nil {
				b.Fatalf("copy the cluster: %v\n%s", err, out)
			}
			if err := initCluster(ctx, green, "--no-sync"); err != nil {
				b.Fatal(err)
			}
			// Each starts with nothing of anyone's left to write.
			if err := unix.Syncfs(int(fsys.Fd())); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := upgradeClone(ctx, clone, green, way != 0); err != nil {
				b.Fatal(err)
			}
			upgraded := time.Now()
			switch way {
			case 1:
				err = syncUpgraded(green)
			case 2:
				cmd := exec.CommandContext(ctx, filepath.Join(target.BinDir, "initdb"), "--sync-only", "--sync-method", "fsync", "-D", green.DataDir)
				err = engine.RunAs(cmd, green.Credential)
			}
			if err != nil {
				b.Fatal(err)
			}
			upgrade[way] += upgraded.Sub(start)
			sync[way] += time.Since(upgraded)
			b.Logf("iteration %d, %s: pg_upgrade %.3fs, then %.3fs", i, ways[way], upgraded.Sub(start).Seconds(), time.Since(upgraded).Seconds())
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	mean := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(mean(upgrade[0]), "pg_upgrade_s")
	b.ReportMetric(mean(upgrade[1]+sync[1]), "no_sync_then_syncfs_s")
	b.ReportMetric(mean(sync[2]), "file_by_file_sync_s")
	b.ReportMetric(mean(sync[1]), "syncfs_s")
	b.Logf("%d tables, mean of %d: pg_upgrade syncing green itself %.3fs; with --no-sync and one syncfs %.3fs (%.3fs of it the syncfs); "+
		"the file-by-file sync alone %.3fs", tables, b.N, mean(upgrade[0]), mean(upgrade[1]+sync[1]), mean(sync[1]), mean(sync[2]))
}

// benchEnv is the positive integer in the environment variable name, or def.
func benchEnv(b *testing.B, name string, def int) int {
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: not a positive number", name, s)
	}
	return n
}
