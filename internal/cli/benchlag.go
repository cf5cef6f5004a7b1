package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bench"
)

// lagLevels are the loads, in percent of blue's measured full rate, at
// which `teal bench lag` measures green's replication lag.
var lagLevels = []int{50, 90}

type lagOptions struct {
	scale, clients        int
	duration              time.Duration
	version, target       string
	jsonPath, chartPath   string
	pgbench               string
	probeEvery, probePoll time.Duration
	fullRun               time.Duration
}

// `teal bench lag` measures how far green trails blue under load: pgbench
// on blue at fractions of its full rate while a probe commits numbered rows
// on blue and polls green for them.
func runBenchLag(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := lagOptions{scale: 10, clients: 8, duration: 30 * time.Second, version: "15",
		probeEvery: 10 * time.Millisecond, probePoll: 2 * time.Millisecond}
	cn := newConn()
	defs := []*flagDef{
		intFlag("scale", "pgbench scale of blue's data (default 10)", &o.scale),
		intFlag("clients", "pgbench clients (default 8)", &o.clients),
		durationFlag("duration", "length of each load level (default 30s); the full-rate run lasts 10 s or this, if shorter", &o.duration),
		stringFlag("engine-version", "PostgreSQL version of blue (default 15)", &o.version),
		stringFlag("target-version", "version green is created on (default: blue's)", &o.target),
		stringFlag("json", "also write the report, with every probe, as JSON to this file", &o.jsonPath),
		stringFlag("chart", "also draw lag over time per load level to this SVG file", &o.chartPath),
	}
	globals := cn.flags()
	if err := parseFlags(args, append(defs, globals...)); err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprintln(stdout, "Usage: teal bench lag [options]\n\nMeasures blue/green replication lag with pgbench on blue at 50% and 90% of its full rate.\n\nOptions:")
			writeFlags(stdout, defs)
			fmt.Fprintln(stdout, "\nGlobal options:")
			writeFlags(stdout, globals)
			return 0
		}
		return failUsage(stderr, "bench lag", err)
	}
	if o.scale < 1 || o.clients < 1 || o.duration < time.Second {
		return failUsage(stderr, "bench lag", usagef("--scale and --clients must be at least 1, --duration at least 1s"))
	}
	o.fullRun = min(10*time.Second, o.duration)
	o.pgbench = pgbenchPath()
	client, err := cn.rdsClient(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	r, err := o.run(ctx, client, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "teal: bench lag:", cn.describeError(err))
		return 1
	}
	if err := r.WriteTable(stdout); err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{o.jsonPath, r.WriteJSON}, {o.chartPath, r.WriteSVG}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			fmt.Fprintln(stderr, "teal:", err)
			return 1
		}
	}
	return 0
}

func (o lagOptions) run(ctx context.Context, c *rds.Client, log io.Writer) (*bench.LagReport, error) {
	id := "teal-bench-lag-" + randomHex(3)
	password := randomHex(12)
	fmt.Fprintf(log, "bench: creating blue %s (PostgreSQL %s)\n", id, o.version)
	blue, err := createScratchInstance(ctx, c, id, o.version, password)
	// Whatever was created goes, even after a failure or an interrupt.
	defer deleteScratchInstance(c, id, log)
	if err != nil {
		return nil, err
	}
	blueURL := pgURL(blue, password)
	fmt.Fprintf(log, "bench: pgbench -i -s %d\n", o.scale)
	if out, err := exec.CommandContext(ctx, o.pgbench, "-i", "-q", "-s", strconv.Itoa(o.scale), blueURL).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgbench -i: %w: %s", err, out)
	}
	if err := withConn(ctx, blueURL, bench.ProbeSchema); err != nil {
		return nil, err
	}

	in := &rds.CreateBlueGreenDeploymentInput{BlueGreenDeploymentName: aws.String(id), Source: blue.DBInstanceArn}
	if o.target != "" {
		in.TargetEngineVersion = aws.String(o.target)
	}
	fmt.Fprintf(log, "bench: creating blue/green deployment %s\n", id)
	dep, err := c.CreateBlueGreenDeployment(ctx, in)
	if err != nil {
		return nil, err
	}
	bgd := aws.ToString(dep.BlueGreenDeployment.BlueGreenDeploymentIdentifier)
	target := aws.ToString(dep.BlueGreenDeployment.Target)
	greenID := target[strings.LastIndex(target, ":")+1:]
	defer deleteDeployment(c, bgd, greenID, log)
	if _, err := waitDeploymentStatus(ctx, c, bgd, 500*time.Millisecond, 15*time.Minute, "AVAILABLE"); err != nil {
		return nil, err
	}
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(greenID)})
	if err != nil {
		return nil, fmt.Errorf("describe green: %w", err)
	}
	green := out.DBInstances[0]

	report := &bench.LagReport{Scale: o.scale, Clients: o.clients, Source: aws.ToString(blue.EngineVersion),
		Target: aws.ToString(green.EngineVersion), Duration: o.duration}
	fmt.Fprintf(log, "bench: full rate, %s\n", o.fullRun)
	if report.FullTPS, err = o.runPgbench(ctx, blueURL, o.fullRun, 0); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: full rate %.0f tps\n", report.FullTPS)

	bconn, err := pgx.Connect(ctx, blueURL)
	if err != nil {
		return nil, fmt.Errorf("connect to blue: %w", err)
	}
	defer bconn.Close(context.Background())
	gconn, err := pgx.Connect(ctx, pgURL(&green, password))
	if err != nil {
		return nil, fmt.Errorf("connect to green: %w", err)
	}
	defer gconn.Close(context.Background())
	probe := bench.LagProbe{Blue: bconn, Green: gconn, Every: o.probeEvery, Poll: o.probePoll, Wait: 30 * time.Second}
	seq := int64(1)
	for _, pct := range lagLevels {
		level := bench.LagLevel{Percent: pct, TargetTPS: report.FullTPS * float64(pct) / 100}
		fmt.Fprintf(log, "bench: %d%% load, %.0f tps for %s\n", pct, level.TargetTPS, o.duration)
		if err := o.measureLevel(ctx, blueURL, probe, seq, &level); err != nil {
			return nil, fmt.Errorf("%d%% load: %w", pct, err)
		}
		seq += int64(len(level.Probes)) + 1
		report.Levels = append(report.Levels, level)
	}
	return report, nil
}

// measureLevel runs pgbench at the level's rate and the probe side by side.
func (o lagOptions) measureLevel(ctx context.Context, url string, probe bench.LagProbe, firstSeq int64, level *bench.LagLevel) error {
	ctx, cancel := context.WithTimeout(ctx, o.duration+2*time.Minute)
	defer cancel()
	type result struct {
		tps float64
		err error
	}
	done := make(chan result, 1)
	go func() {
		tps, err := o.runPgbench(ctx, url, o.duration, level.TargetTPS)
		done <- result{tps, err}
	}()
	probes, perr := probe.Run(ctx, o.duration, firstSeq)
	if perr != nil {
		cancel()
	}
	res := <-done
	level.AchievedTPS, level.Probes = res.tps, probes
	return errors.Join(perr, res.err)
}

// runPgbench runs TPC-B on url for d, at most rate transactions a second
// (0: as fast as it goes), and returns the TPS pgbench reports.
func (o lagOptions) runPgbench(ctx context.Context, url string, d time.Duration, rate float64) (float64, error) {
	args := []string{"-n", "-c", strconv.Itoa(o.clients), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())), "-M", "prepared"}
	if rate > 0 {
		args = append(args, "-R", strconv.Itoa(max(int(rate), 1)))
	}
	out, err := exec.CommandContext(ctx, o.pgbench, append(args, url)...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	return parseTPS(out)
}

// pgbenchPath is pgbench from PATH, or Debian's PostgreSQL 15 build.
func pgbenchPath() string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	return "/usr/lib/postgresql/15/bin/pgbench"
}

// createScratchInstance creates a PostgreSQL instance with a database and
// user named bench and waits until it is available.
func createScratchInstance(ctx context.Context, c *rds.Client, id, version, password string) (*types.DBInstance, error) {
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
		EngineVersion: aws.String(version), DBInstanceClass: aws.String("db.m5.large"), MasterUsername: aws.String("bench"),
		MasterUserPassword: aws.String(password), DBName: aws.String("bench"), AllocatedStorage: aws.Int32(20)}); err != nil {
		return nil, err
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, func(w *rds.DBInstanceAvailableWaiterOptions) {
		w.MinDelay, w.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 5*time.Minute); err != nil {
		return nil, err
	}
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		return nil, err
	}
	return &out.DBInstances[0], nil
}

func pgURL(inst *types.DBInstance, password string) string {
	return fmt.Sprintf("postgresql://bench:%s@%s:%d/bench?sslmode=disable&connect_timeout=30", password,
		aws.ToString(inst.Endpoint.Address), aws.ToInt32(inst.Endpoint.Port))
}

func withConn(ctx context.Context, url string, f func(context.Context, *pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return f(ctx, conn)
}

// deleteDeployment deletes a deployment and its green instance, and waits
// until green is gone; the caller deletes blue.
func deleteDeployment(c *rds.Client, id, green string, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.DeleteBlueGreenDeployment(ctx, &rds.DeleteBlueGreenDeploymentInput{BlueGreenDeploymentIdentifier: aws.String(id),
		DeleteTarget: aws.Bool(true)}); err != nil {
		fmt.Fprintf(log, "bench: could not delete blue/green deployment %s: %v\n", id, err)
		return
	}
	waitDeleted(ctx, c, green, log)
}

// deleteScratchInstance deletes an instance and waits until it is gone.
func deleteScratchInstance(c *rds.Client, id string, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		fmt.Fprintf(log, "bench: could not delete instance %s: %v\n", id, err)
		return
	}
	waitDeleted(ctx, c, id, log)
}

func waitDeleted(ctx context.Context, c *rds.Client, id string, log io.Writer) {
	if err := rds.NewDBInstanceDeletedWaiter(c, func(w *rds.DBInstanceDeletedWaiterOptions) {
		w.MinDelay, w.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute); err != nil {
		fmt.Fprintf(log, "bench: instance %s is not gone: %v\n", id, err)
	}
}
