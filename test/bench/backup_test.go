package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/rds"
)

// BenchmarkBackup measures what snapshots and point-in-time restores cost
// at pgbench scale TEAL_BENCH_SCALE (50) on PostgreSQL 15, next to the
// logical baseline of the same data in the same run: a DB snapshot until
// available, and its size, against `pg_dump -Fc` and its file; a restore
// from the snapshot until available against creating an instance and
// `pg_restore` into it; and a point-in-time restore to the latest time
// after TEAL_BENCH_SECONDS (30) of pgbench writes.
//
//	go test ./test/bench -run '^$' -bench Backup -benchtime 1x
func BenchmarkBackup(b *testing.B) {
	if testing.Short() {
		b.Skip("needs PostgreSQL servers")
	}
	for range b.N {
		svc, dataDir := openDir(b, "")
		ctx := context.Background()
		blue := create(b, svc, "blue", "15")
		data := pgbenchData()
		data.load(b, blue)
		backups := filepath.Join(dataDir, "backups")
		var lines []string
		report := func(format string, args ...any) {
			line := fmt.Sprintf(format, args...)
			lines = append(lines, line)
			b.Log(line)
		}

		// A snapshot against pg_dump.
		start := time.Now()
		if _, err := svc.CreateDBSnapshot(ctx, "bench-snap", "blue", nil); err != nil {
			b.Fatal(err)
		}
		waitSnapshot(b, svc, "bench-snap")
		snapTook := time.Since(start)
		snapSize := engine.DirSize(filepath.Join(backups, "snapshots"))
		dump := filepath.Join(b.TempDir(), "app.dump")
		start = time.Now()
		run(b, bin15+"pg_dump", "-Fc", "-f", dump, pgURL(blue))
		dumpTook := time.Since(start)
		fi, err := os.Stat(dump)
		if err != nil {
			b.Fatal(err)
		}
		report("%s: DB snapshot %.2fs, %s on disk; pg_dump -Fc %.2fs, %s (%.1fx the time)", data.name,
			snapTook.Seconds(), engine.FormatBytes(snapSize), dumpTook.Seconds(), engine.FormatBytes(fi.Size()), snapTook.Seconds()/dumpTook.Seconds())
		b.ReportMetric(snapTook.Seconds(), "snapshot-s")
		b.ReportMetric(dumpTook.Seconds(), "pg_dump-s")

		// A restore against a new instance and pg_restore.
		start = time.Now()
		if _, err := svc.RestoreDBInstanceFromDBSnapshot(ctx, rds.RestoreFromSnapshotInput{DBInstanceIdentifier: "restored",
			DBSnapshotIdentifier: "bench-snap"}); err != nil {
			b.Fatal(err)
		}
		waitAvailable(b, svc, "restored")
		restoreTook := time.Since(start)
		start = time.Now()
		logical := create(b, svc, "logical", "15")
		run(b, bin15+"pg_restore", "--no-owner", "-d", pgURL(logical), dump)
		pgRestoreTook := time.Since(start)
		report("%s: restore from the snapshot %.2fs; new instance + pg_restore %.2fs (%.1fx faster)", data.name,
			restoreTook.Seconds(), pgRestoreTook.Seconds(), pgRestoreTook.Seconds()/restoreTook.Seconds())
		b.ReportMetric(restoreTook.Seconds(), "restore-s")
		b.ReportMetric(pgRestoreTook.Seconds(), "pg_restore-s")

		// A point-in-time restore after a while of writes.
		seconds := envInt("TEAL_BENCH_SECONDS", 30)
		waitLatest(b, svc, "blue")
		before := engine.DirSize(filepath.Join(backups, "archive"))
		run(b, bin15+"pgbench", "-n", "-c", "4", "-T", strconv.Itoa(seconds), pgURL(blue))
		start = time.Now()
		if _, err := svc.RestoreDBInstanceToPointInTime(ctx, rds.RestorePointInTimeInput{SourceDBInstanceIdentifier: "blue",
			TargetDBInstanceIdentifier: "pitr", UseLatestRestorableTime: true}); err != nil {
			b.Fatal(err)
		}
		waitAvailable(b, svc, "pitr")
		pitrTook := time.Since(start)
		archived := engine.DirSize(filepath.Join(backups, "archive")) - before
		report("%s: point-in-time restore after %ds of pgbench (%s of WAL archived) %.2fs", data.name, seconds,
			engine.FormatBytes(archived), pitrTook.Seconds())
		b.ReportMetric(pitrTook.Seconds(), "pitr-s")
		fmt.Fprintln(os.Stderr, lines)
	}
}

func waitSnapshot(b *testing.B, svc *rds.Service, id string) {
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		got, _, err := svc.DescribeDBSnapshots(context.Background(), rds.DescribeSnapshotsInput{DBSnapshotIdentifier: id})
		if err != nil {
			b.Fatal(err)
		}
		switch got[0].Status {
		case rds.SnapshotAvailable:
			return
		case rds.SnapshotFailed:
			b.Fatalf("snapshot %s failed", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("snapshot %s not available in 30 minutes", id)
}

func waitAvailable(b *testing.B, svc *rds.Service, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if _, err := svc.WaitForStatus(ctx, id, rds.StatusAvailable); err != nil {
		b.Fatal(err)
	}
}

// waitLatest waits until an instance's automated backups restore.
func waitLatest(b *testing.B, svc *rds.Service, id string) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		got, _, err := svc.DescribeDBInstances(context.Background(), id, nil, rds.Page{})
		if err != nil {
			b.Fatal(err)
		}
		if !got[0].LatestRestorableTime.IsZero() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("%s has no automated backup after 10 minutes", id)
}
