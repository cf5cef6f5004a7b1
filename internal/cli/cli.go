// Package cli holds the `teal` commands. `teal serve` runs the server; the
// other commands are clients of its API.
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

	"github.com/tealdb/teal/internal/server"
)

// Version is set at build time.
var Version = "dev"

// Main runs the teal command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
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
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "teal: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `teal: self-hosted blue/green deployments for PostgreSQL and MariaDB, through the Amazon RDS API.

Usage:
  teal serve [flags]    run the server (teal serve -h lists the flags)
  teal version          print the version
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
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *enginePath != "" {
		cfg.EnginePath = filepath.SplitList(*enginePath)
	}
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
