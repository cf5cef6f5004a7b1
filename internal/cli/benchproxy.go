package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"
)

// `teal bench proxy` compares, in one run, pgbench through three paths to
// the same server: straight to the server's own port (inet_server_port()),
// through teal's endpoint, and through PgBouncer (installed from Debian if
// missing, configured on a free port).
func runBenchProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	clients, seconds, scale, rounds := 8, 10, 10, 3
	cn := newConn()
	defs := []*flagDef{
		intFlag("clients", "pgbench clients (default 8)", &clients),
		intFlag("seconds", "length of each pgbench run (default 10)", &seconds),
		intFlag("scale", "pgbench scale (default 10)", &scale),
		intFlag("rounds", "runs of each workload through each path, taking turns; the median counts (default 3)", &rounds),
	}
	globals := cn.flags()
	if err := parseFlags(args, append(defs, globals...)); err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprintln(stdout, "Usage: teal bench proxy [options]\n\nCompares pgbench TPS direct, through teal's endpoint and through PgBouncer.\n\nOptions:")
			writeFlags(stdout, defs)
			fmt.Fprintln(stdout, "\nGlobal options:")
			writeFlags(stdout, globals)
			return 0
		}
		return failUsage(stderr, "bench proxy", err)
	}
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		pgbench = "/usr/lib/postgresql/15/bin/pgbench"
	}
	client, err := cn.rdsClient(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	if clients < 1 || seconds < 1 || scale < 1 || rounds < 1 {
		return failUsage(stderr, "bench proxy", errors.New("--clients, --seconds, --scale and --rounds must be at least 1"))
	}
	if err := benchProxy(ctx, client, pgbench, clients, seconds, scale, rounds, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "teal: bench proxy:", cn.describeError(err))
		return 1
	}
	return 0
}

func benchProxy(ctx context.Context, c *rds.Client, pgbench string, clients, seconds, scale, rounds int, stdout, log io.Writer) error {
	id := "teal-bench-proxy-" + randomHex(3)
	password := randomHex(12)
	fmt.Fprintf(log, "bench: creating scratch instance %s\n", id)
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
		EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.m5.large"), MasterUsername: aws.String("bench"),
		MasterUserPassword: aws.String(password), DBName: aws.String("bench"), AllocatedStorage: aws.Int32(20)}); err != nil {
		return err
	}
	defer (benchOptions{}).cleanup(c, id, log)
	if err := rds.NewDBInstanceAvailableWaiter(c, func(w *rds.DBInstanceAvailableWaiterOptions) {
		w.MinDelay, w.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 5*time.Minute); err != nil {
		return err
	}
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		return err
	}
	inst := out.DBInstances[0]
	endpoint := int(aws.ToInt32(inst.Endpoint.Port))
	url := func(port int) string {
		return fmt.Sprintf("postgresql://bench:%s@127.0.0.1:%d/bench?sslmode=disable", password, port)
	}
	// The server's own port, as the server reports it through the endpoint.
	var direct int
	conn, err := pgx.Connect(ctx, url(endpoint))
	if err != nil {
		return err
	}
	err = conn.QueryRow(ctx, "SELECT inet_server_port()").Scan(&direct)
	conn.Close(ctx)
	if err != nil || direct == 0 {
		return fmt.Errorf("the server's own port: %v", err)
	}
	fmt.Fprintf(log, "bench: pgbench -i -s %d\n", scale)
	if out, err := exec.CommandContext(ctx, pgbench, "-i", "-q", "-s", strconv.Itoa(scale), url(endpoint)).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %w: %s", err, out)
	}
	bouncer, stop, err := startPgBouncer(ctx, direct, password, clients, log)
	if err != nil {
		return err
	}
	defer stop()

	paths := []struct {
		name string
		port int
	}{{"direct", direct}, {"teal endpoint", endpoint}, {"pgbouncer", bouncer}}
	modes := []struct {
		name string
		args []string
	}{{"select-only", []string{"-S"}}, {"TPC-B", nil}}
	forwarding, err := endpointForwarding(ctx, url(endpoint))
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: the endpoint forwards %s\n", forwarding)
	runs := map[string]map[string][]float64{}
	for _, m := range modes {
		runs[m.name] = map[string][]float64{}
		for r := 1; r <= rounds; r++ {
			for _, p := range paths {
				args := append([]string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(seconds), "-M", "prepared"}, m.args...)
				out, err := exec.CommandContext(ctx, pgbench, append(args, url(p.port))...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("pgbench %s through %s: %w: %s", m.name, p.name, err, out)
				}
				v, err := parseTPS(out)
				if err != nil {
					return err
				}
				runs[m.name][p.name] = append(runs[m.name][p.name], v)
				fmt.Fprintf(log, "bench: %s through %s, round %d of %d: %.0f tps\n", m.name, p.name, r, rounds, v)
			}
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "WORKLOAD (%d clients, median of %d × %d s)\tDIRECT TPS\tTEAL TPS\tPGBOUNCER TPS\tTEAL/DIRECT\tTEAL/PGBOUNCER\t\n", clients, rounds, seconds)
	for _, m := range modes {
		direct, teal, bouncer := median(runs[m.name]["direct"]), median(runs[m.name]["teal endpoint"]), median(runs[m.name]["pgbouncer"])
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.1f%%\t%.1f%%\t\n", m.name, direct, teal, bouncer, 100*teal/direct, 100*teal/bouncer)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "teal's endpoint forwards %s.\n", forwarding)
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// endpointForwarding tells how the endpoint forwards: in the kernel, the
// server sees the client's own address; through teal, it sees teal's.
func endpointForwarding(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var port int
	if err := conn.QueryRow(ctx, "SELECT inet_client_port()").Scan(&port); err != nil {
		return "", err
	}
	if port == conn.PgConn().Conn().LocalAddr().(*net.TCPAddr).Port {
		return "in the kernel", nil
	}
	return "through teal", nil
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

func parseTPS(out []byte) (float64, error) {
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps in pgbench output: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// startPgBouncer runs PgBouncer (session pooling, like teal's pass-through)
// in front of the server's port, installing it if missing.
func startPgBouncer(ctx context.Context, serverPort int, password string, clients int, log io.Writer) (int, func(), error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintln(log, "bench: installing pgbouncer (apt-get)")
		cmd := exec.CommandContext(ctx, "sh", "-c", "apt-get install -y -q pgbouncer >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q pgbouncer >/dev/null 2>&1); service pgbouncer stop >/dev/null 2>&1 || true")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, nil, fmt.Errorf("install pgbouncer: %w: %s", err, out)
		}
	}
	dir, err := os.MkdirTemp("", "teal-pgbouncer-")
	if err != nil {
		return 0, nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return 0, nil, errors.Join(err, os.RemoveAll(dir))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ini := fmt.Sprintf(`[databases]
bench = host=127.0.0.1 port=%d dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s/userlist.txt
pool_mode = session
max_client_conn = %d
default_pool_size = %d
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
`, serverPort, port, dir, clients*4, clients*2, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(fmt.Sprintf("\"bench\" \"%s\"\n", password)), 0o644); err != nil {
		return 0, nil, err
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root.
		u, err := user.Lookup("teal")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return 0, nil, fmt.Errorf("no user to run pgbouncer as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return 0, nil, errors.Join(fmt.Errorf("give pgbouncer its directory: %w", err), os.RemoveAll(dir))
		}
		args = append([]string{"-u", u.Username}, args...)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start pgbouncer: %w", err)
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		// What is left is a temporary directory of pgbouncer's
		// configuration; the benchmark's result does not depend on it.
		_ = os.RemoveAll(dir)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return port, stop, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			stop()
			return 0, nil, fmt.Errorf("pgbouncer did not start: %s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
