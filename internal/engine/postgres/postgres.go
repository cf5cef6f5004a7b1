// Package postgres implements teal's engine interface for PostgreSQL: it finds
// installed builds, initialises and configures servers, and builds streaming
// replicas.
package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// AdminUser is the superuser teal itself connects as, over the private Unix
// socket only. The master user is a separate, ordinary role.
const AdminUser = "tealadmin"

// Engine is the PostgreSQL engine.
type Engine struct {
	name   string // "postgres", or "aurora-postgresql" for the members of DB clusters
	builds []engine.Build
	// SubscriptionCopy makes green's subscriptions copy blue's data
	// (PostgreSQL's table synchronisation) instead of teal's copy. Set it
	// before the engine is used.
	SubscriptionCopy bool

	mu      sync.Mutex
	catalog map[string][]engine.ParamInfo // by build version
}

// New finds the PostgreSQL builds in the given directories. Each directory
// is either a bin directory holding postgres or a directory with bin/postgres;
// a glob pattern is allowed. Client programs (pg_dump, pg_dumpall, psql)
// found in the same places are what blue/green copies schemas with.
func New(dirs []string) *Engine {
	e := &Engine{name: "postgres", catalog: map[string][]engine.ParamInfo{}}
	seen := map[string]bool{}
	for _, pattern := range dirs {
		matches, _ := filepath.Glob(pattern)
		for _, dir := range matches {
			for _, bin := range []string{dir, filepath.Join(dir, "bin")} {
				if major, ok := clientVersion(bin); ok {
					registerClient(Client{Major: major, BinDir: bin})
				}
				if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
					continue
				}
				v, err := serverVersion(bin)
				if err != nil || seen[v] {
					continue
				}
				seen[v] = true
				e.builds = append(e.builds, engine.Build{Engine: "postgres", Version: v, BinDir: bin})
				break
			}
		}
	}
	engine.SortNewestFirst(e.builds)
	return e
}

// DefaultDirs are where teal looks for PostgreSQL builds: Debian's packages
// and the engines directory that scripts/install-engines.sh fills.
func DefaultDirs(enginesDir string) []string {
	return []string{
		"/usr/lib/postgresql/*/bin",
		filepath.Join(enginesDir, "postgresql-*"),
	}
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)\.(\d+)`)

func serverVersion(bin string) (string, error) {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("postgres --version in %s: %w", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("postgres --version in %s: unexpected output %q", bin, out)
	}
	return string(m[1]) + "." + string(m[2]), nil
}

// Name implements engine.Engine.
func (e *Engine) Name() string { return e.name }

// Aurora is the engine of DB clusters (aurora-postgresql): the same
// PostgreSQL builds, named as Aurora names them, so that their families
// are aurora-postgresqlNN.
func (e *Engine) Aurora() *Engine {
	a := &Engine{name: "aurora-postgresql", SubscriptionCopy: e.SubscriptionCopy, catalog: map[string][]engine.ParamInfo{}}
	for _, b := range e.builds {
		b.Engine = a.name
		a.builds = append(a.builds, b)
	}
	return a
}

// Builds implements engine.Engine.
func (e *Engine) Builds() []engine.Build { return append([]engine.Build(nil), e.builds...) }

// Defaults implements engine.Engine: logical replication on, with room for the
// slots and senders of replicas and blue/green deployments.
func (e *Engine) Defaults(b engine.Build) map[string]string {
	return map[string]string{
		"wal_level":                         "logical",
		"max_replication_slots":             "20",
		"max_wal_senders":                   "20",
		"max_worker_processes":              "16",
		"max_logical_replication_workers":   "8",
		"max_sync_workers_per_subscription": "4",
		"hot_standby":                       "on",
		"hot_standby_feedback":              "on",
		"wal_keep_size":                     "256MB",
		"shared_buffers":                    "128MB",
		"max_connections":                   "100",
		"track_commit_timestamp":            "on",
	}
}

// Init implements engine.Engine: initdb with teal's admin superuser.
func (e *Engine) Init(ctx context.Context, l engine.Layout) error {
	return initCluster(ctx, l)
}

// initCluster runs initdb with teal's settings and extra arguments.
func initCluster(ctx context.Context, l engine.Layout, extra ...string) error {
	if err := engine.MkdirOwned(l.DataDir, 0o700, l.Credential); err != nil {
		return err
	}
	if err := engine.MkdirOwned(l.SocketDir, 0o750, l.Credential); err != nil {
		return err
	}
	args := append([]string{"-D", l.DataDir, "-U", AdminUser, "-E", "UTF8", "--no-locale",
		"--auth-local=peer", "--auth-host=scram-sha-256"}, extra...)
	cmd := exec.CommandContext(ctx, filepath.Join(l.Build.BinDir, "initdb"), args...)
	if err := engine.RunAs(cmd, l.Credential); err != nil {
		return fmt.Errorf("initdb %s: %w", l.DataDir, err)
	}
	// pg_hba.conf and pg_ident.conf are written by WriteConfig, before the
	// first start.
	conf := filepath.Join(l.DataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", conf, err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n# Settings managed by teal.\ninclude_if_exists = 'teal.conf'\n"); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	return nil
}

// WriteConfig implements engine.Engine.
func (e *Engine) WriteConfig(l engine.Layout, params map[string]string, rep *engine.Replication) error {
	path := filepath.Join(l.DataDir, "teal.conf")
	catalog, err := e.Parameters(l.Build)
	if err != nil {
		return err
	}
	// Only what a group may set is written, whatever a stored group holds.
	settable := engine.Settable(catalog)
	var b strings.Builder
	b.WriteString("# Managed by teal: rewritten from the DB parameter group. Do not edit.\n")
	var bad error
	set := func(k, v string) {
		line, err := confLine(k, v)
		if err != nil && bad == nil {
			bad = fmt.Errorf("write %s: %w", path, err)
		}
		b.WriteString(line)
	}
	set("listen_addresses", "127.0.0.1")
	set("port", fmt.Sprint(l.Port))
	set("unix_socket_directories", l.SocketDir)
	set("unix_socket_permissions", "0770") // the directory (0750) decides who reaches it
	set("hot_standby", "on")
	// Archiving is always on, so that automated backups start and stop
	// with a reload; without them, finished segments are dropped. A
	// server loading a green's copy runs with wal_level=minimal, which
	// cannot archive; it is restarted with the group's level afterwards.
	if params["wal_level"] == "minimal" {
		set("archive_mode", "off")
	} else {
		set("archive_mode", "on")
	}
	if l.ArchiveDir != "" {
		if err := engine.MkdirOwned(l.ArchiveDir, 0o700, l.Credential); err != nil {
			return err
		}
		set("archive_command", archiveCommand(l.ArchiveDir))
	} else {
		set("archive_command", "true")
	}
	for _, k := range sortedKeys(params) {
		// Only what a group may set: teal's own settings are above, and a
		// group stored before a parameter became unmodifiable must not
		// bring it back.
		if settable[k] && k != ForceSSL {
			set(k, params[k])
		}
	}
	if l.TLS != nil {
		// Clients may ask for TLS; rds.force_ssl makes them (pg_hba.conf).
		for name, data := range map[string][]byte{"server.crt": l.TLS.CertPEM, "server.key": l.TLS.KeyPEM} {
			if err := engine.WriteOwned(filepath.Join(l.DataDir, name), data, l.Credential); err != nil {
				return err
			}
		}
		set("ssl", "on")
		set("ssl_cert_file", "server.crt")
		set("ssl_key_file", "server.key")
	}
	if rep != nil {
		set("primary_conninfo", fmt.Sprintf("host=%s port=%d user=%s application_name=%s",
			rep.Source.SocketDir, rep.Source.Port, ReplicationUser, rep.Slot))
		set("primary_slot_name", rep.Slot)
		if rep.StopAt != "" {
			// Replay every record that starts before the point, none
			// from it on, then leave recovery.
			set("recovery_target_lsn", rep.StopAt)
			set("recovery_target_inclusive", "off")
			set("recovery_target_action", "promote")
		}
	}
	if bad != nil {
		return bad
	}
	if err := engine.WriteOwned(path, []byte(b.String()), l.Credential); err != nil {
		return err
	}
	if err := writeAccess(l, truthy(params[ForceSSL])); err != nil {
		return err
	}
	standby := filepath.Join(l.DataDir, "standby.signal")
	if rep != nil {
		return engine.WriteOwned(standby, nil, l.Credential)
	}
	if err := os.Remove(standby); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", standby, err)
	}
	return nil
}

// truthy reads a boolean parameter value as the server reads booleans:
// every spelling validation lets through counts.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "on", "true", "yes", "y", "t":
		return true
	}
	return false
}

// Spec implements engine.Engine.
func (e *Engine) Spec(l engine.Layout) supervisor.Spec {
	return supervisor.Spec{
		Path:         filepath.Join(l.Build.BinDir, "postgres"),
		Args:         []string{"-D", l.DataDir},
		Dir:          l.DataDir,
		Env:          []string{"LC_ALL=C", "PATH=/usr/bin:/bin"},
		Credential:   l.Credential,
		LogPath:      l.LogPath,
		PidFile:      filepath.Join(l.DataDir, "postmaster.pid"),
		StopSignal:   syscall.SIGINT, // fast shutdown: roll back open transactions, checkpoint, exit
		StopTimeout:  60 * time.Second,
		ReadyTimeout: 10 * time.Minute, // crash recovery of a large database takes a while
		Ready: func(ctx context.Context) error {
			c, err := session(ctx, l, "postgres")
			if err != nil {
				return err
			}
			defer done(c)
			return secure(ctx, c)
		},
	}
}

// Connect opens an admin connection to a running server over its socket.
func Connect(ctx context.Context, l engine.Layout, dbname string) (*pgx.Conn, error) {
	cfg, err := connConfig(l, dbname)
	if err != nil {
		return nil, err
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", l.DataDir, err)
	}
	return c, nil
}

func connConfig(l engine.Layout, dbname string) (*pgx.ConnConfig, error) {
	// Quoted: a database's name is the master user's to choose.
	cfg, err := pgx.ParseConfig(connString(l, dbname) + " connect_timeout=5")
	if err != nil {
		return nil, fmt.Errorf("admin connection config: %w", err)
	}
	// teal's own sessions write even where clients may not (a green, an old blue).
	cfg.RuntimeParams["default_transaction_read_only"] = "off"
	// A superuser session resolves names only in the catalog: the master
	// owns its databases and may give one a search_path (ALTER DATABASE
	// ... SET) that puts its own functions before pg_catalog's. A setting
	// sent at connection start wins over the database's.
	cfg.RuntimeParams["search_path"] = adminSearchPath
	return cfg, nil
}

// Bootstrap implements engine.Engine. The master user owns its database and
// may create databases and roles, like the RDS master user.
func (e *Engine) Bootstrap(ctx context.Context, l engine.Layout, m engine.Master) error {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return err
	}
	defer done(c)
	user := pgx.Identifier{m.Username}.Sanitize()
	exists := false
	if err := c.QueryRow(ctx, "SELECT true FROM pg_roles WHERE rolname = $1", m.Username).Scan(&exists); err != nil && err != pgx.ErrNoRows {
		return fmt.Errorf("look up master user: %w", err)
	}
	if !exists {
		// CREATE ROLE takes no parameters: the verifier goes as a literal,
		// which verifierLiteral allows only for the verifier's own charset.
		pw, err := verifierLiteral(m.Verifier)
		if err != nil {
			return fmt.Errorf("create master user: %w", err)
		}
		if _, err := c.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD %s", user, pw)); err != nil {
			return fmt.Errorf("create master user: %w", err)
		}
	}
	for _, q := range []string{
		"GRANT pg_monitor, pg_signal_backend, pg_read_all_settings TO " + user,
		"ALTER DATABASE postgres OWNER TO " + user,
		"ALTER SCHEMA public OWNER TO " + user,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("set up master user: %s: %w", q, err)
		}
	}
	if m.DBName != "" && m.DBName != "postgres" {
		var found bool
		if err := c.QueryRow(ctx, "SELECT true FROM pg_database WHERE datname = $1", m.DBName).Scan(&found); err != nil && err != pgx.ErrNoRows {
			return fmt.Errorf("look up database: %w", err)
		}
		if !found {
			if _, err := c.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s",
				pgx.Identifier{m.DBName}.Sanitize(), user)); err != nil {
				return fmt.Errorf("create database %s: %w", m.DBName, err)
			}
		}
	}
	return nil
}

// SetPassword implements engine.Engine.
func (e *Engine) SetPassword(ctx context.Context, l engine.Layout, user, verifier string) error {
	pw, err := verifierLiteral(verifier)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", user, err)
	}
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return err
	}
	defer done(c)
	if _, err := c.Exec(ctx, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{user}.Sanitize(), pw)); err != nil {
		return fmt.Errorf("set password of %s: %w", user, err)
	}
	return nil
}

// Reload implements engine.Engine.
func (e *Engine) Reload(ctx context.Context, l engine.Layout) error {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return err
	}
	defer done(c)
	// pg_reload_conf only signals the postmaster. The postmaster rereads
	// the files and then signals its backends, this one too; once this
	// session has reloaded, every new session starts with the new values.
	var before time.Time
	if err := c.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&before); err != nil {
		return fmt.Errorf("reload configuration: %w", err)
	}
	if _, err := c.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("reload configuration: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var reloaded bool
		if err := c.QueryRow(ctx, "SELECT pg_conf_load_time() > $1", before).Scan(&reloaded); err != nil {
			return fmt.Errorf("reload configuration: %w", err)
		}
		if reloaded {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reload configuration: %s did not reload within 10 s", l.DataDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Promote implements engine.Engine.
func (e *Engine) Promote(ctx context.Context, l engine.Layout) error {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return err
	}
	defer done(c)
	var inRecovery bool
	if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		return fmt.Errorf("check recovery: %w", err)
	}
	if !inRecovery {
		return nil
	}
	var done bool
	if err := c.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&done); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if !done {
		return fmt.Errorf("promote %s: not finished within 60 s", l.DataDir)
	}
	return nil
}

// DropReplicationSlot implements engine.Engine.
func (e *Engine) DropReplicationSlot(ctx context.Context, source engine.Layout, slot string) error {
	c, err := session(ctx, source, "postgres")
	if err != nil {
		return err
	}
	defer done(c)
	// A walsender may still hold the slot for a moment after the replica
	// stopped following; end it first.
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE slot_name = $1 AND active_pid IS NOT NULL`, slot); err != nil {
		return fmt.Errorf("end walsender of slot %s: %w", slot, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, slot)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drop replication slot %s: %w", slot, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReplicaLag implements engine.Engine: bytes of WAL the replica has not
// replayed (seen from the source) and seconds since the last replayed
// transaction, or 0 when it has replayed everything.
func (e *Engine) ReplicaLag(ctx context.Context, replica engine.Layout, rep engine.Replication) (engine.Lag, error) {
	src, err := session(ctx, rep.Source, "postgres")
	if err != nil {
		return engine.Lag{}, err
	}
	defer done(src)
	var lag engine.Lag
	err = src.QueryRow(ctx, `SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint,
		COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8
		FROM pg_stat_replication WHERE application_name = $1`, rep.Slot).Scan(&lag.Bytes, &lag.Seconds)
	if err == pgx.ErrNoRows {
		return engine.Lag{}, fmt.Errorf("replica %s is not streaming from its source", rep.Slot)
	}
	if err != nil {
		return engine.Lag{}, fmt.Errorf("measure replica lag: %w", err)
	}
	return lag, nil
}

// quoteLiteral quotes s as an escape string (E'…'), whose meaning does not
// depend on standard_conforming_strings.
func quoteLiteral(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(s) + "'"
}
