// Package bench holds teal's benchmarks with real database servers. Each
// runs teal's way side by side with its baseline in the same run.
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/server"
)

const pass = "bench-pass-1"

func scale() int {
	if s, err := strconv.Atoi(os.Getenv("TEAL_BENCH_SCALE")); err == nil && s > 0 {
		return s
	}
	return 50
}

func open(b *testing.B) *rds.Service {
	dir, err := os.MkdirTemp("", "teal-bench-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0o711)
	b.Cleanup(func() { os.RemoveAll(dir) })
	svc, err := server.OpenService(context.Background(), server.Config{DataDir: dir, EnginesDir: server.DefaultEnginesDir(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	return svc
}

func create(b *testing.B, svc *rds.Service, id, version string) *rds.DBInstance {
	ctx := context.Background()
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: id, Engine: "postgres",
		EngineVersion: version, DBInstanceClass: "db.m5.large", MasterUsername: "master", MasterUserPassword: pass, DBName: "app"}); err != nil {
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

// BenchmarkInitialCopy compares, on pgbench data of scale TEAL_BENCH_SCALE
// (default 50) in PostgreSQL 15, the time to create a blue/green
// deployment's green environment on PostgreSQL 17 (until AVAILABLE) with
// copying the same data by `pg_dump | psql` into a PostgreSQL 17 instance.
//
//	go test ./test/bench -run '^$' -bench InitialCopy -benchtime 1x
func BenchmarkInitialCopy(b *testing.B) {
	svc := open(b)
	blue := create(b, svc, "blue", "15")
	start := time.Now()
	run(b, "/usr/lib/postgresql/15/bin/pgbench", "-i", "-q", "-s", strconv.Itoa(scale()), pgURL(blue))
	b.Logf("pgbench -i -s %d: %s", scale(), time.Since(start).Round(time.Millisecond))
	for i := 0; i < b.N; i++ {
		target := create(b, svc, fmt.Sprintf("dump-%d", i), "17")
		start = time.Now()
		run(b, "bash", "-o", "pipefail", "-c", fmt.Sprintf("/usr/lib/postgresql/15/bin/pg_dump --no-owner %q | /usr/lib/postgresql/15/bin/psql -q -X -v ON_ERROR_STOP=1 %q >/dev/null",
			pgURL(blue), pgURL(target)))
		dump := time.Since(start)

		start = time.Now()
		d, err := svc.CreateBlueGreenDeployment(context.Background(), rds.CreateBlueGreenInput{
			BlueGreenDeploymentName: fmt.Sprintf("bench-%d", i), Source: blue.DBInstanceArn, TargetEngineVersion: "17"})
		if err != nil {
			b.Fatal(err)
		}
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
			time.Sleep(100 * time.Millisecond)
		}
		green := time.Since(start)
		b.ReportMetric(dump.Seconds(), "dump_restore_s")
		b.ReportMetric(green.Seconds(), "green_s")
		b.ReportMetric(dump.Seconds()/green.Seconds(), "speedup")
		b.Logf("scale %d: pg_dump | psql %s; teal green environment %s (%.2fx)", scale(), dump.Round(time.Millisecond),
			green.Round(time.Millisecond), dump.Seconds()/green.Seconds())
	}
}
