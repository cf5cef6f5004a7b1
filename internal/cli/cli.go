// Package cli holds the `teal` commands. `teal serve` runs the server; the
// other commands are clients of its API, through aws-sdk-go-v2 and with the
// names and options of `aws rds`.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/server"
)

// Version is set at build time.
var Version = "dev"

// Main runs the teal command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	args = commandFirst(args)
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "teal", Version)
		return 0
	case "help", "-h", "--help":
		if len(args) > 1 {
			return Main([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "wait":
		return runWait(ctx, args[1:], stdout, stderr)
	case "iam":
		return runIAM(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "ca":
		return runCA(ctx, args[1:], stdout, stderr)
	}
	if o, ok := findOp(args[0]); ok {
		return runOp(ctx, o, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "teal: unknown command %q (teal help lists the commands)\n", args[0])
	return 2
}

// commandFirst moves the command name, and the subcommand of wait and
// iam, in front of options given before it, as in
// "teal --output json describe-db-instances".
func commandFirst(args []string) []string {
	if len(args) == 0 || !strings.HasPrefix(args[0], "--") || args[0] == "--help" || args[0] == "--version" {
		return args
	}
	for i, a := range args {
		_, isOp := findOp(a)
		n := 1
		if a == "wait" || a == "iam" {
			n = 2
		} else if !isOp && a != "serve" {
			continue
		}
		n = min(n, len(args)-i)
		out := append([]string{}, args[i:i+n]...)
		out = append(out, args[:i]...)
		return append(out, args[i+n:]...)
	}
	return args
}

func usage(w io.Writer) {
	fmt.Fprint(w, `teal: self-hosted blue/green deployments for PostgreSQL and MariaDB, through the Amazon RDS API.

Usage:
  teal serve [options]            run the server (teal serve -h lists the options)
  teal <command> [options]        call the server; the commands and options are those of aws rds
  teal wait <waiter> [options]    wait for DB instances or clusters to reach a state
  teal iam <command> [options]    manage access keys
  teal bench switchover [options] measure switchovers as clients see them
  teal bench proxy [options]      pgbench direct vs through teal's endpoint vs PgBouncer
  teal bench lag [options]        replication lag from blue to green under pgbench load
  teal ca [--endpoint-url URL]    print teal's CA certificate, which the database servers' certificates verify against
  teal version                    print the version

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, o := range ops {
		fmt.Fprintf(tw, "  %s\t%s\n", o.name, o.summary)
	}
	for _, wt := range waiters {
		fmt.Fprintf(tw, "  wait %s\t%s\n", wt.name, wt.summary)
	}
	for _, c := range iamCommands {
		fmt.Fprintf(tw, "  iam %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
teal <command> --help lists a command's options. Every client command takes:
  --endpoint-url URL   the server (env TEAL_ENDPOINT; default `+defaultEndpoint+`)
  --region REGION      (env AWS_REGION; default `+defaultRegion+`)
  --data-dir DIR       where the server wrote its credentials file (env TEAL_DATA_DIR; default .teal)
  --output FORMAT      table (default), json or text
Over https, the server is verified against the system's roots and the file of TEAL_CA_BUNDLE
(else AWS_CA_BUNDLE); teal ca prints teal's own CA.
Credentials come from TEAL_ACCESS_KEY_ID and TEAL_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, else profile "teal" of <data-dir>/credentials.
`)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("teal serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := server.Config{}
	fs.StringVar(&cfg.DataDir, "data-dir", env("TEAL_DATA_DIR", ".teal"), "where teal keeps its state and the database servers' data (env TEAL_DATA_DIR)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:7480", "address of the RDS API")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "region named in ARNs")
	fs.StringVar(&cfg.AccountID, "account-id", "000000000000", "account named in ARNs")
	fs.StringVar(&cfg.EnginesDir, "engines-dir", env("TEAL_ENGINES_DIR", server.DefaultEnginesDir()), "where scripts/install-engines.sh put engine builds (env TEAL_ENGINES_DIR)")
	enginePath := fs.String("engine-path", os.Getenv("TEAL_ENGINE_PATH"), "more engine build directories, separated by ':' (env TEAL_ENGINE_PATH)")
	fs.StringVar(&cfg.Forwarding, "forwarding", env("TEAL_FORWARDING", "auto"), "how endpoints forward connections: kernel (an nftables rule, as fast as a direct connection; needs root or CAP_NET_ADMIN), teal (through teal's own proxy), or auto: kernel where possible (env TEAL_FORWARDING)")
	fs.IntVar(&cfg.MaxAPIConns, "max-api-conns", 0, "connections the API serves at once; 0 derives it from the open-file limit")
	fs.IntVar(&cfg.MaxProxiedConns, "max-proxied-conns", 0, "connections teal's endpoint listeners hold at once, all endpoints together (the kernel's forwarding is not counted); 0 derives it from the open-file limit")
	fs.IntVar(&cfg.MaxEndpointConns, "max-endpoint-conns", 0, "connections one endpoint listener holds at once; 0: a quarter of --max-proxied-conns")
	fs.StringVar(&cfg.EndpointAddress, "endpoint-address", env("TEAL_ENDPOINT_ADDRESS", "127.0.0.1"), "the IPv4 address of this host every database endpoint listens on; another than 127.0.0.1 lets other hosts connect (env TEAL_ENDPOINT_ADDRESS)")
	fs.StringVar(&cfg.BackupDir, "backup-dir", os.Getenv("TEAL_BACKUP_DIR"), "where DB snapshots and automated backups are kept; default: backups under the data directory (env TEAL_BACKUP_DIR)")
	fs.StringVar(&cfg.EndpointHostname, "endpoint-hostname", os.Getenv("TEAL_ENDPOINT_HOSTNAME"), "the name clients reach the endpoints by: what Endpoint.Address says, and what the servers' certificate names; default: the endpoint address (env TEAL_ENDPOINT_HOSTNAME)")
	fs.BoolVar(&cfg.TLS, "tls", false, "serve the API over TLS with a certificate from teal's CA (clients verify it with the bundle of teal ca, e.g. AWS_CA_BUNDLE)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve the API over TLS with this certificate file (PEM, with its chain); needs --tls-key")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "the key file of --tls-cert")
	backupInterval := fs.String("backup-interval", env("TEAL_BACKUP_INTERVAL", rds.DefaultBackupInterval.String()),
		"how often automated backups collect the archived changes (PostgreSQL's WAL, MariaDB's binary logs): at most this much of the latest changes is not yet restorable; an instance's first base backup comes this long after its creation, 1s to 1h (env TEAL_BACKUP_INTERVAL)")
	tokenFile := fs.String("metrics-token-file", os.Getenv("TEAL_METRICS_TOKEN_FILE"), "a file holding the bearer token GET /metrics requires from any address; without it, /metrics answers loopback clients only (env TEAL_METRICS_TOKEN_FILE)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *tokenFile != "" {
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(stderr, "teal serve: --metrics-token-file:", err)
			return 2
		}
		cfg.MetricsToken = strings.TrimSpace(string(raw))
		if len(cfg.MetricsToken) < 16 {
			fmt.Fprintf(stderr, "teal serve: --metrics-token-file %s: the token must be at least 16 characters\n", *tokenFile)
			return 2
		}
	}
	if *enginePath != "" {
		cfg.EnginePath = filepath.SplitList(*enginePath)
	}
	d, err := time.ParseDuration(*backupInterval)
	if err != nil || d < time.Second || d > time.Hour {
		fmt.Fprintf(stderr, "teal serve: bad --backup-interval %q: give a duration from 1s to 1h, such as 5m\n", *backupInterval)
		return 2
	}
	cfg.BackupInterval = d
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(*level))); err != nil {
		fmt.Fprintf(stderr, "teal serve: bad --log-level %q\n", *level)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, "teal serve:", err)
		return 1
	}
	return 0
}
