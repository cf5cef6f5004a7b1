package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bench"
)

// `teal bench switchover` measures switchovers as clients see them, through
// the API like any client: it creates a scratch instance, runs a TPC-B-like
// workload through its endpoint, and switches over K times (each trial a
// fresh blue/green deployment of the current production).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "proxy" {
		return runBenchProxy(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "lag" {
		return runBenchLag(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "switchover" {
		fmt.Fprintln(stderr, "Usage: teal bench switchover|proxy|lag [options]   (teal bench switchover --help)")
		return 2
	}
	opts := benchOptions{clients: 8, trials: 20, style: "both", scale: 1, version: "15"}
	cn := newConn()
	defs := []*flagDef{
		intFlag("clients", "concurrent clients (default 8)", &opts.clients),
		intFlag("trials", "switchovers per client style (default 20)", &opts.trials),
		stringFlag("style", "persistent, per-txn or both (default both)", &opts.style),
		intFlag("scale", "workload size: 100,000 accounts per unit (default 1)", &opts.scale),
		stringFlag("engine-version", "PostgreSQL version of the scratch instance (default 15)", &opts.version),
		stringFlag("target-engine-version", "version green is created on (default: the same)", &opts.target),
		stringFlag("json", "also write the reports as JSON to this file", &opts.jsonPath),
		stringFlag("chart", "also draw commits per second and failures to this SVG file", &opts.chartPath),
	}
	globals := cn.flags()
	if err := parseFlags(args[1:], append(defs, globals...)); err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprintln(stdout, "Usage: teal bench switchover [options]\n\nMeasures write unavailability, failed transactions and lost commits across switchovers.\n\nOptions:")
			writeFlags(stdout, defs)
			fmt.Fprintln(stdout, "\nGlobal options:")
			writeFlags(stdout, globals)
			return 0
		}
		return failUsage(stderr, "bench switchover", err)
	}
	styles := []string{opts.style}
	switch opts.style {
	case "both":
		styles = []string{bench.Persistent, bench.PerTxn}
	case bench.Persistent, bench.PerTxn:
	default:
		return failUsage(stderr, "bench switchover", usagef("--style must be persistent, per-txn or both"))
	}
	if opts.clients < 1 || opts.trials < 1 || opts.scale < 1 {
		return failUsage(stderr, "bench switchover", usagef("--clients, --trials and --scale must be at least 1"))
	}
	client, err := cn.rdsClient(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	var reports []*bench.Report
	for _, style := range styles {
		r, err := opts.run(ctx, client, style, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "teal: bench switchover:", cn.describeError(err))
			return 1
		}
		fmt.Fprintf(stdout, "== %s clients ==\n", style)
		r.WriteTable(stdout)
		fmt.Fprintln(stdout)
		reports = append(reports, r)
	}
	if opts.jsonPath != "" {
		if err := writeFile(opts.jsonPath, func(w io.Writer) error {
			for _, r := range reports {
				if err := r.WriteJSON(w); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			fmt.Fprintln(stderr, "teal:", err)
			return 1
		}
	}
	if opts.chartPath != "" {
		for i, r := range reports {
			path := opts.chartPath
			if len(reports) > 1 {
				path = fmt.Sprintf("%s.%s.svg", trimExt(path), styles[i])
			}
			if err := writeFile(path, r.WriteSVG); err != nil {
				fmt.Fprintln(stderr, "teal:", err)
				return 1
			}
		}
	}
	return 0
}

type benchOptions struct {
	clients, trials, scale int
	style, version, target string
	jsonPath, chartPath    string
}

func (o benchOptions) run(ctx context.Context, c *rds.Client, style string, log io.Writer) (*bench.Report, error) {
	id := "teal-bench-" + randomHex(3)
	password := randomHex(12)
	fmt.Fprintf(log, "bench: creating scratch instance %s (PostgreSQL %s)\n", id, o.version)
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
		EngineVersion: aws.String(o.version), DBInstanceClass: aws.String("db.m5.large"), MasterUsername: aws.String("bench"),
		MasterUserPassword: aws.String(password), DBName: aws.String("bench"), AllocatedStorage: aws.Int32(20)}); err != nil {
		return nil, err
	}
	defer o.cleanup(c, id, log)
	if err := rds.NewDBInstanceAvailableWaiter(c, func(w *rds.DBInstanceAvailableWaiterOptions) {
		w.MinDelay, w.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 5*time.Minute); err != nil {
		return nil, err
	}
	inst, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		return nil, err
	}
	ep := inst.DBInstances[0].Endpoint
	dsn := fmt.Sprintf("host=%s port=%d user=bench password=%s dbname=bench sslmode=disable connect_timeout=30", aws.ToString(ep.Address), aws.ToInt32(ep.Port), password)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	err = bench.Schema(ctx, conn, o.scale)
	conn.Close(ctx)
	if err != nil {
		return nil, err
	}

	w := &bench.Workload{DSN: dsn, Clients: o.clients, Style: style, Scale: o.scale}
	report := &bench.Report{Clients: o.clients, Style: style, Scale: o.scale, Started: time.Now()}
	w.Start()
	time.Sleep(2 * time.Second)
	for n := 1; n <= o.trials; n++ {
		t := bench.Trial{N: n}
		if err := o.trial(ctx, c, id, &t); err != nil {
			t.Err = err.Error()
		}
		fmt.Fprintf(log, "bench: %s trial %d/%d: switchover %s %s\n", style, n, o.trials, t.End.Sub(t.Start).Round(time.Millisecond), t.Err)
		report.Trials = append(report.Trials, t)
		time.Sleep(time.Second)
	}
	w.Stop()
	commits, failures := w.Snapshot()
	for i := range report.Trials {
		if report.Trials[i].Err == "" {
			report.Trials[i].Window(commits, failures, 500*time.Millisecond)
		}
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	missing, dups, err := bench.Verify(ctx, conn, commits)
	if err != nil {
		return nil, err
	}
	report.Finish(commits, failures, missing, dups)
	return report, nil
}

// trial makes a deployment of the current production, switches over, and
// removes what is left: the deployment and the old blue.
func (o benchOptions) trial(ctx context.Context, c *rds.Client, id string, t *bench.Trial) error {
	inst, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		return err
	}
	in := &rds.CreateBlueGreenDeploymentInput{BlueGreenDeploymentName: aws.String(id + "-" + strconv.Itoa(t.N)),
		Source: inst.DBInstances[0].DBInstanceArn}
	if o.target != "" {
		in.TargetEngineVersion = aws.String(o.target)
	}
	out, err := c.CreateBlueGreenDeployment(ctx, in)
	if err != nil {
		return err
	}
	bgd := aws.ToString(out.BlueGreenDeployment.BlueGreenDeploymentIdentifier)
	if _, err := waitDeploymentStatus(ctx, c, bgd, 500*time.Millisecond, 10*time.Minute, "AVAILABLE"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	t.Start = time.Now()
	if _, err := c.SwitchoverBlueGreenDeployment(ctx, &rds.SwitchoverBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(bgd), SwitchoverTimeout: aws.Int32(60)}); err != nil {
		return err
	}
	status, err := waitDeploymentStatus(ctx, c, bgd, 10*time.Millisecond, 2*time.Minute, "SWITCHOVER_COMPLETED", "SWITCHOVER_FAILED")
	t.End = time.Now()
	if err != nil {
		return err
	}
	if status != "SWITCHOVER_COMPLETED" {
		return fmt.Errorf("switchover %s", status)
	}
	if _, err := c.DeleteBlueGreenDeployment(ctx, &rds.DeleteBlueGreenDeploymentInput{BlueGreenDeploymentIdentifier: aws.String(bgd)}); err != nil {
		return err
	}
	_, err = c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id + "-old1"), SkipFinalSnapshot: aws.Bool(true)})
	if err == nil {
		err = rds.NewDBInstanceDeletedWaiter(c, func(w *rds.DBInstanceDeletedWaiterOptions) {
			w.MinDelay, w.MaxDelay = 200*time.Millisecond, time.Second
		}).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id + "-old1")}, 2*time.Minute)
	}
	return err
}

func waitDeploymentStatus(ctx context.Context, c *rds.Client, id string, every, limit time.Duration, want ...string) (string, error) {
	deadline := time.Now().Add(limit)
	for {
		out, err := c.DescribeBlueGreenDeployments(ctx, &rds.DescribeBlueGreenDeploymentsInput{BlueGreenDeploymentIdentifier: aws.String(id)})
		if err != nil {
			return "", err
		}
		status := aws.ToString(out.BlueGreenDeployments[0].Status)
		for _, w := range want {
			if status == w {
				return status, nil
			}
		}
		if status == "INVALID_CONFIGURATION" || time.Now().After(deadline) {
			return status, fmt.Errorf("deployment %s is %s: %s", id, status, aws.ToString(out.BlueGreenDeployments[0].StatusDetails))
		}
		time.Sleep(every)
	}
}

func (o benchOptions) cleanup(c *rds.Client, id string, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		fmt.Fprintf(log, "bench: could not delete scratch instance %s: %v\n", id, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func intFlag(name, usage string, p *int) *flagDef {
	return &flagDef{name: name, arg: "N", usage: usage, set: func(w []string) error {
		v, err := strconv.Atoi(w[0])
		if err != nil {
			return fmt.Errorf("expected a number, got %q", w[0])
		}
		*p = v
		return nil
	}}
}

func stringFlag(name, usage string, p *string) *flagDef {
	return &flagDef{name: name, arg: "VALUE", usage: usage, set: func(w []string) error { *p = w[0]; return nil }}
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func trimExt(p string) string {
	for i := len(p) - 1; i >= 0 && p[i] != '/'; i-- {
		if p[i] == '.' {
			return p[:i]
		}
	}
	return p
}
