// Package server assembles `teal serve`: the engines, the RDS service, the
// credentials and the HTTP listener.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/auth"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/engine/mariadb"
	"github.com/tealdb/teal/internal/engine/postgres"
	"github.com/tealdb/teal/internal/proxy"
	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/supervisor"
)

// Config is what `teal serve` is told.
type Config struct {
	DataDir    string
	Listen     string
	Region     string
	AccountID  string
	EnginesDir string   // where scripts/install-engines.sh installs builds
	EnginePath []string // more build directories
	Logger     *slog.Logger
	// SwitchoverHook, if set, is called as each switchover phase starts:
	// for tests and operators that act between phases.
	SwitchoverHook func(deployment, phase string)
	// Forwarding is how endpoints forward connections: auto, kernel or teal.
	Forwarding string
	// EndpointAddress is where every endpoint listens (default
	// 127.0.0.1); EndpointHostname is what Endpoint.Address says (default:
	// the address).
	EndpointAddress, EndpointHostname string
	// BackupDir holds DB snapshots and automated backups (default: the
	// backups directory of the data directory).
	BackupDir string
	// BackupInterval and BackupDay: rds.Config's (tests shorten them).
	BackupInterval, BackupDay time.Duration
	// InitialCopy is how a PostgreSQL green gets blue's data: "teal" (the
	// default; see docs/bluegreen.md) or "subscription", PostgreSQL's own
	// table synchronisation, slower, kept to compare with.
	InitialCopy string
	// TLSCert and TLSKey are files of the certificate (with its chain) and
	// key the API is served with over TLS. TLS serves it with a
	// certificate from teal's CA instead, for the listen address and
	// localhost.
	TLSCert, TLSKey string
	TLS             bool
	// MetricsToken, when set, is the bearer token GET /metrics requires;
	// without it /metrics answers loopback clients only.
	MetricsToken string
	// Connection caps (Limits); 0 derives each from the open-file limit.
	MaxAPIConns      int
	MaxProxiedConns  int
	MaxEndpointConns int
}

// DefaultEnginesDir is where scripts/install-engines.sh installs engine
// builds for this user.
func DefaultEnginesDir() string {
	if os.Geteuid() == 0 {
		return "/usr/local/lib/teal/engines"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "teal", "engines")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "teal", "engines")
}

// Engines finds the installed engine builds.
func Engines(enginesDir string, extra []string) []engine.Engine {
	pg := postgres.New(append(postgres.DefaultDirs(enginesDir), extra...))
	maria := mariadb.New(append(mariadb.DefaultDirs(), extra...))
	// DB clusters (aurora-postgresql) run on the same PostgreSQL builds.
	return []engine.Engine{pg, pg.Aurora(), maria}
}

// OpenService opens the RDS service on a data directory, running database
// servers as an unprivileged user when teal runs as root.
func OpenService(ctx context.Context, cfg Config) (*rds.Service, error) {
	cred, err := supervisor.ServerUser()
	if err != nil {
		return nil, err
	}
	engines := Engines(cfg.EnginesDir, cfg.EnginePath)
	switch cfg.InitialCopy {
	case "", "teal":
	case "subscription":
		for _, e := range engines {
			if pg, ok := e.(*postgres.Engine); ok {
				pg.SubscriptionCopy = true
			}
		}
	default:
		return nil, fmt.Errorf("initial copy %q: want teal or subscription", cfg.InitialCopy)
	}
	n := 0
	for _, e := range engines {
		n += len(e.Builds())
	}
	if n == 0 {
		cfg.Logger.Warn("no database engine builds found; run scripts/install-engines.sh", "engines_dir", cfg.EnginesDir)
	}
	return rds.Open(ctx, rds.Config{
		DataDir: cfg.DataDir, Region: cfg.Region, AccountID: cfg.AccountID,
		Engines: engines, Credential: cred, Logger: cfg.Logger, SwitchoverHook: cfg.SwitchoverHook,
		Forwarding: cfg.Forwarding, EndpointAddress: cfg.EndpointAddress, EndpointHostname: cfg.EndpointHostname,
		BackupDir: cfg.BackupDir, BackupInterval: cfg.BackupInterval, BackupDay: cfg.BackupDay,
	})
}

// Run serves until ctx ends, then stops every database server.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	limits, err := applyLimits(cfg)
	if err != nil {
		return err
	}
	tcpLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	ln := newAPIListener(tcpLn, limits.API, cfg.Logger)
	defer ln.Close()
	svc, err := OpenService(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Close(); err != nil {
			cfg.Logger.Error("stop database servers", "err", err)
		}
		cfg.Logger.Info("teal stopped")
	}()
	creds, err := LoadCredentials(cfg.DataDir)
	if err != nil {
		return err
	}
	for _, e := range svc.Engines() {
		for _, b := range e.Builds() {
			cfg.Logger.Info("engine build", "engine", b.Engine, "version", b.Version, "bin", b.BinDir)
		}
	}

	keys, err := auth.NewKeyring(ctx, svc.Store(), creds.AccessKeyID, creds.SecretAccessKey, cfg.Region, cfg.AccountID)
	if err != nil {
		return err
	}
	srv := newHTTPServer(Handler(svc, keys, cfg.Logger, HandlerOptions{MetricsToken: cfg.MetricsToken}), ln, cfg.Logger)
	scheme := "http"
	if srv.TLSConfig, err = apiTLS(cfg, svc, tcpLn.Addr()); err != nil {
		return err
	}
	errc := make(chan error, 1)
	if srv.TLSConfig != nil {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	cfg.Logger.Info("teal is serving", "listen", ln.Addr().String(), "scheme", scheme, "data_dir", cfg.DataDir,
		"access_key_id", creds.AccessKeyID, "credentials", creds.Source)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	cfg.Logger.Info("stopping teal")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return nil
}

// applyLimits raises the open-file limit, derives the connection caps from
// it and sets the endpoints' (internal/proxy) before any endpoint opens.
func applyLimits(cfg Config) (Limits, error) {
	soft, hard, err := RaiseOpenFileLimit()
	if err != nil {
		// teal still runs, with caps derived from the limit it has, or
		// from the usual default when it cannot even read it.
		cfg.Logger.Warn("open file limit not raised", "err", err)
		if soft == 0 {
			soft = 1024
		}
	}
	limits, err := limitsFor(soft, cfg)
	if err != nil {
		return Limits{}, err
	}
	cfg.Logger.Info("open file limit", "soft", soft, "hard", hard,
		"max_api_conns", limits.API, "max_proxied_conns", limits.Proxied, "max_endpoint_conns", limits.PerEndpoint)
	if need := limits.descriptors() + minReserve; need > soft {
		cfg.Logger.Warn("the connection caps leave teal too few descriptors of its open file limit; a flood can exhaust them",
			"descriptors", limits.descriptors(), "reserve", minReserve, "open_file_limit", soft)
	}
	proxy.SetLimits(proxy.Limits{PerEndpoint: limits.PerEndpoint, Total: limits.Proxied})
	return limits, nil
}

// Credentials are the root access key.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Source          string // where they came from
}

// LoadCredentials returns the root access key: from TEAL_ACCESS_KEY_ID and
// TEAL_SECRET_ACCESS_KEY when set, else from <data-dir>/credentials, which
// is generated (mode 0600, profile "teal") on first start.
func LoadCredentials(dataDir string) (Credentials, error) {
	if id, secret := os.Getenv("TEAL_ACCESS_KEY_ID"), os.Getenv("TEAL_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return Credentials{AccessKeyID: id, SecretAccessKey: secret, Source: "environment"}, nil
	}
	path := filepath.Join(dataDir, "credentials")
	if data, err := os.ReadFile(path); err == nil {
		c := Credentials{Source: path}
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			}
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return Credentials{}, fmt.Errorf("%s has no aws_access_key_id and aws_secret_access_key", path)
		}
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return Credentials{}, fmt.Errorf("read credentials: %w", err)
	}
	c := Credentials{AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), Source: path}
	data := fmt.Sprintf("[teal]\naws_access_key_id = %s\naws_secret_access_key = %s\n", c.AccessKeyID, c.SecretAccessKey)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		return Credentials{}, fmt.Errorf("write credentials: %w", err)
	}
	return c, nil
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
