package mariadb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// Engine is the MariaDB engine.
type Engine struct {
	dialect Dialect
	builds  []engine.Build
	tools   map[string]string // build version -> directory of the client programs

	mu      sync.Mutex
	catalog map[string][]engine.ParamInfo
	learned map[string]bool // catalogs refined from a running server
}

// New finds mariadbd in the given directories (glob patterns allowed).
func New(dirs []string) *Engine {
	e := &Engine{dialect: Dialect{Flavor: MariaDB}, tools: map[string]string{}, catalog: map[string][]engine.ParamInfo{}, learned: map[string]bool{}}
	seen := map[string]bool{}
	for _, pattern := range dirs {
		matches, _ := filepath.Glob(pattern)
		for _, dir := range matches {
			bin := filepath.Join(dir, "mariadbd")
			if _, err := os.Stat(bin); err != nil {
				continue
			}
			v, err := serverVersion(bin)
			if err != nil || seen[v] {
				continue
			}
			seen[v] = true
			e.builds = append(e.builds, engine.Build{Engine: MariaDB, Version: v, BinDir: dir})
		}
	}
	engine.SortNewestFirst(e.builds)
	return e
}

// DefaultDirs are where Debian installs MariaDB.
func DefaultDirs() []string { return []string{"/usr/sbin"} }

var versionRE = regexp.MustCompile(`Ver (\d+\.\d+\.\d+)-MariaDB`)

func serverVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: unexpected output %q", bin, out)
	}
	return string(m[1]), nil
}

// Name implements engine.Engine.
func (e *Engine) Name() string { return MariaDB }

// Builds implements engine.Engine.
func (e *Engine) Builds() []engine.Build { return append([]engine.Build(nil), e.builds...) }

// Defaults implements engine.Engine: binary logs with GTIDs, row format,
// replicas that log what they apply: ready for read replicas and blue/green.
func (e *Engine) Defaults(b engine.Build) map[string]string {
	return map[string]string{
		"log_bin":                        "mariadb-bin",
		"binlog_format":                  "ROW",
		"log_slave_updates":              "ON",
		"gtid_strict_mode":               "ON",
		"binlog_row_image":               "FULL",
		"innodb_buffer_pool_size":        "134217728",
		"max_connections":                "151",
		"innodb_flush_log_at_trx_commit": "1",
		"sync_binlog":                    "1",
	}
}

// Init implements engine.Engine: mariadb-install-db, whose only accounts
// that can log in authenticate by unix_socket: teal's admin (the OS user
// teal runs as) and root, which the first start drops when teal runs as
// another user (reconcileAccounts).
func (e *Engine) Init(ctx context.Context, l engine.Layout) error {
	admin, err := adminName()
	if err != nil {
		return err
	}
	for _, d := range []string{l.DataDir, l.SocketDir} {
		if err := engine.MkdirOwned(d, 0o700, l.Credential); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "/usr/bin/mariadb-install-db", "--no-defaults", "--datadir="+l.DataDir,
		"--auth-root-authentication-method=socket", "--auth-root-socket-user="+admin,
		"--skip-test-db", "--skip-name-resolve", "--basedir=/usr",
		// Its own temporary directory: bootstraps running side by side in
		// /tmp collide on their temporary tables' file names.
		"--tmpdir="+filepath.Dir(l.DataDir))
	if err := engine.RunAs(cmd, l.Credential); err != nil {
		return fmt.Errorf("mariadb-install-db %s: %w", l.DataDir, err)
	}
	return nil
}

func configPath(l engine.Layout) string { return filepath.Join(filepath.Dir(l.DataDir), "my.cnf") }

// serverID derives a stable, distinct server_id from the data directory.
func serverID(l engine.Layout) uint32 {
	sum := sha256.Sum256([]byte(l.DataDir))
	return binary.BigEndian.Uint32(sum[:4])%4000000000 + 1
}

// WriteConfig implements engine.Engine.
func (e *Engine) WriteConfig(l engine.Layout, params map[string]string, rep *engine.Replication) error {
	catalog, err := e.Parameters(l.Build)
	if err != nil {
		return err
	}
	// Only what a group may set is written, whatever a stored group holds.
	settable := engine.Settable(catalog)
	var b strings.Builder
	b.WriteString("# Managed by teal: rewritten from the DB parameter group. Do not edit.\n[mariadbd]\n")
	var bad error
	set := func(k, v string) {
		line, err := optionLine(k, v)
		if err != nil && bad == nil {
			bad = fmt.Errorf("write %s: %w", configPath(l), err)
		}
		b.WriteString(line)
	}
	set("datadir", l.DataDir)
	set("socket", filepath.Join(l.SocketDir, "mysqld.sock"))
	set("port", fmt.Sprint(l.Port))
	set("bind_address", "127.0.0.1")
	set("pid_file", filepath.Join(l.DataDir, "mariadbd.pid"))
	set("server_id", fmt.Sprint(serverID(l)))
	set("skip_name_resolve", "ON")
	set("log_bin", filepath.Join(l.DataDir, "mariadb-bin"))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// Only what a group may set: teal's own settings are above, and a
		// group stored before a variable became unmodifiable must not bring
		// it back.
		if settable[k] {
			set(k, params[k])
		}
	}
	if l.TLS != nil {
		for name, data := range map[string][]byte{"server-cert.pem": l.TLS.CertPEM, "server-key.pem": l.TLS.KeyPEM} {
			if err := engine.WriteOwned(filepath.Join(l.DataDir, name), data, l.Credential); err != nil {
				return err
			}
		}
		set("ssl_cert", filepath.Join(l.DataDir, "server-cert.pem"))
		set("ssl_key", filepath.Join(l.DataDir, "server-key.pem"))
	}
	if params[readOnlyParam] == "on" {
		// A green environment: no writes from clients, no scheduled events.
		set("read_only", "ON")
		set("event_scheduler", "OFF")
	} else if rep != nil {
		set("read_only", "ON")
	} else {
		set("read_only", "OFF")
	}
	if bad != nil {
		return bad
	}
	return engine.WriteOwned(configPath(l), []byte(b.String()), l.Credential)
}

// Spec implements engine.Engine.
func (e *Engine) Spec(l engine.Layout) supervisor.Spec {
	return supervisor.Spec{
		Path: filepath.Join(l.Build.BinDir, "mariadbd"),
		// Without symbolic links, DATA DIRECTORY and INDEX DIRECTORY are
		// ignored: a table's files stay in the data directory. On the
		// command line, which no configuration file overrides.
		Args:       []string{"--defaults-file=" + configPath(l), "--skip-symbolic-links"},
		Dir:        l.DataDir,
		Env:        []string{"PATH=/usr/bin:/bin"},
		Credential: l.Credential,
		LogPath:    l.LogPath,
		PidFile:    filepath.Join(l.DataDir, "mariadbd.pid"),
		StopSignal: syscall.SIGTERM,
		// InnoDB recovers from a kill; a shutdown stuck on a replication
		// thread's reconnect must not hold a delete or a reboot for long.
		StopTimeout:  30 * time.Second,
		ReadyTimeout: 10 * time.Minute,
		// Ready also brings the accounts to teal's rules, at every start:
		// a server an older teal created is fixed before it is used.
		Ready: func(ctx context.Context) error {
			if err := e.secureAccounts(ctx, l); err != nil {
				return err
			}
			db, err := Connect(l)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.PingContext(ctx); err != nil {
				return fmt.Errorf("admin connection: %w", err)
			}
			e.learn(ctx, db, l.Build)
			return nil
		},
	}
}

// Connect opens teal's admin connection: over the private socket, as the
// account unix_socket gives the OS user teal runs as.
func Connect(l engine.Layout) (*sql.DB, error) {
	admin, err := adminName()
	if err != nil {
		return nil, err
	}
	return connectAs(l, admin)
}

func connectAs(l engine.Layout, user string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Net = "unix"
	cfg.Addr = filepath.Join(l.SocketDir, "mysqld.sock")
	cfg.Timeout = 5 * time.Second
	cfg.InterpolateParams = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("admin connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func (e *Engine) exec(ctx context.Context, l engine.Layout, stmts ...string) error {
	db, err := Connect(l)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(q, " IDENTIFIED", 2)[0], err)
		}
	}
	return nil
}

// Bootstrap implements engine.Engine: the master user may do what the RDS
// master user may, from anywhere that reaches the endpoint, short of what
// would make it more (see accounts.go). As on RDS, it is not above
// read_only: a replica and a green environment refuse its writes too.
func (e *Engine) Bootstrap(ctx context.Context, l engine.Layout, m engine.Master) error {
	user := quote(m.Username) + "@'%'"
	hash, err := hashLiteral(m.Verifier)
	if err != nil {
		return fmt.Errorf("create master user: %w", err)
	}
	stmts := []string{
		"CREATE USER IF NOT EXISTS " + user + " IDENTIFIED BY PASSWORD " + hash,
		// The mark that makes it master; secureAccounts grants the rest.
		"GRANT EXECUTE ON PROCEDURE mysql." + markProcedure + " TO " + user,
	}
	if m.DBName != "" {
		stmts = append(stmts, "CREATE DATABASE IF NOT EXISTS `"+strings.ReplaceAll(m.DBName, "`", "``")+"`")
	}
	if err := e.exec(ctx, l, stmts...); err != nil {
		return err
	}
	return e.secureAccounts(ctx, l)
}

// SetPassword implements engine.Engine.
func (e *Engine) SetPassword(ctx context.Context, l engine.Layout, user, verifier string) error {
	hash, err := hashLiteral(verifier)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", user, err)
	}
	return e.exec(ctx, l, "ALTER USER "+quote(user)+"@'%' IDENTIFIED BY PASSWORD "+hash)
}

// readOnlyParam is how teal asks any engine to refuse client writes; for
// MariaDB it becomes read_only.
const readOnlyParam = "default_transaction_read_only"

// Reload implements engine.Engine. MariaDB re-reads no configuration, so
// the values of the configuration teal wrote are set on the running server;
// static ones are skipped (they apply at the next start).
func (e *Engine) Reload(ctx context.Context, l engine.Layout) error {
	data, err := os.ReadFile(configPath(l))
	if err != nil {
		return fmt.Errorf("read %s: %w", configPath(l), err)
	}
	db, err := Connect(l)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " = ")
		if !ok || managed[k] || k == "skip_name_resolve" {
			continue
		}
		if _, err := db.ExecContext(ctx, "SET GLOBAL "+k+" = "+sqlValue(optionValue(v))); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == errVariableIsReadonly {
				continue
			}
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	if l.TLS != nil {
		// The certificate files may be new: the server reads them again.
		// LOCAL: a FLUSH is otherwise written to the binary log, where a
		// replica (a green) would log it as a transaction of its own.
		if _, err := db.ExecContext(ctx, "FLUSH LOCAL SSL"); err != nil {
			return fmt.Errorf("reload the server certificate: %w", err)
		}
	}
	return nil
}

// learn refines the parameter catalog of b from a running server: which
// variables are dynamic, their types and ranges.
func (e *Engine) learn(ctx context.Context, db *sql.DB, b engine.Build) {
	e.mu.Lock()
	done := e.learned[b.Version]
	e.mu.Unlock()
	if done {
		return
	}
	if _, err := e.Parameters(b); err != nil {
		return
	}
	rows, err := db.QueryContext(ctx, `SELECT LOWER(VARIABLE_NAME), READ_ONLY, VARIABLE_TYPE,
		COALESCE(NUMERIC_MIN_VALUE, ''), COALESCE(NUMERIC_MAX_VALUE, ''), COALESCE(ENUM_VALUE_LIST, ''), COALESCE(VARIABLE_COMMENT, '')
		FROM INFORMATION_SCHEMA.SYSTEM_VARIABLES`)
	if err != nil {
		return
	}
	defer rows.Close()
	info := map[string]engine.ParamInfo{}
	for rows.Next() {
		var name, ro, typ, lo, hi, enum, comment string
		if rows.Scan(&name, &ro, &typ, &lo, &hi, &enum, &comment) != nil {
			return
		}
		p := engine.ParamInfo{Name: name, Static: ro == "YES", Description: comment, Min: lo, Max: hi}
		switch {
		case typ == "BOOLEAN":
			p.Type, p.AllowedValues = engine.TypeBoolean, []string{"0", "1", "ON", "OFF"}
		case strings.Contains(typ, "INT"):
			p.Type = engine.TypeInteger
		case typ == "DOUBLE":
			p.Type = engine.TypeFloat
		case typ == "ENUM" || typ == "SET":
			p.Type, p.AllowedValues = engine.TypeEnum, strings.Split(enum, ",")
		default:
			p.Type = engine.TypeString
		}
		info[name] = p
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cat := e.catalog[b.Version]
	for i, p := range cat {
		if v, ok := info[p.Name]; ok {
			v.Default, v.Modifiable = p.Default, p.Modifiable
			cat[i] = v
		}
	}
	e.learned[b.Version] = true
}

// Promote implements engine.Engine.
func (e *Engine) Promote(ctx context.Context, l engine.Layout) error {
	return e.exec(ctx, l, e.dialect.StopReplica(), e.dialect.ResetReplica())
}

// DropReplicationSlot implements engine.Engine: MariaDB has no slots.
func (e *Engine) DropReplicationSlot(ctx context.Context, source engine.Layout, slot string) error {
	return nil
}

var bareValueRE = regexp.MustCompile(`^(-?[0-9]+(\.[0-9]+)?|ON|OFF|on|off|TRUE|FALSE|true|false)$`)

// sqlValue writes a configuration value as SET GLOBAL takes it: numbers and
// switches bare, anything else as a string.
func sqlValue(v string) string {
	if bareValueRE.MatchString(v) {
		return v
	}
	return quote(v)
}

// replUser is the account replicas use on their source.
const replUser = "tealrepl"

// CloneReplica implements engine.Engine with mariadb-backup: a consistent
// physical copy of the running source, prepared in the replica's data
// directory. Its GTID position is kept for StartReplica. mariadb-backup
// runs as teal, whose OS user is the admin account unix_socket lets in;
// the copy is then given to the replica's OS user.
func (e *Engine) CloneReplica(ctx context.Context, replica engine.Layout, rep engine.Replication) error {
	admin, err := adminName()
	if err != nil {
		return err
	}
	if err := engine.MkdirOwned(replica.DataDir, 0o700, replica.Credential); err != nil {
		return err
	}
	src := filepath.Join(rep.Source.SocketDir, "mysqld.sock")
	backup := exec.CommandContext(ctx, "/usr/bin/mariadb-backup", "--backup", "--target-dir="+replica.DataDir,
		"--socket="+src, "--user="+admin, "--datadir="+rep.Source.DataDir)
	if err := engine.RunAs(backup, nil); err != nil {
		return fmt.Errorf("mariadb-backup --backup: %w", err)
	}
	prepare := exec.CommandContext(ctx, "/usr/bin/mariadb-backup", "--prepare", "--target-dir="+replica.DataDir)
	if err := engine.RunAs(prepare, nil); err != nil {
		return fmt.Errorf("mariadb-backup --prepare: %w", err)
	}
	return chownTree(replica.DataDir, replica.Credential)
}

// chownTree gives dir and everything in it to cred's user (nil: teal's own).
func chownTree(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		return nil
	})
}

// backupGTID reads the GTID position a mariadb-backup copy was taken at.
func backupGTID(datadir string) (string, error) {
	for _, name := range []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"} {
		data, err := os.ReadFile(filepath.Join(datadir, name))
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) >= 3 {
			return f[2], nil
		}
		return "", nil // the source had written no GTID yet
	}
	return "", fmt.Errorf("no binlog position in the copy at %s", datadir)
}

// StartReplica makes a replica, started from a mariadb-backup copy, follow
// its source by GTID from where the copy was taken.
func (e *Engine) StartReplica(ctx context.Context, replica engine.Layout, rep engine.Replication) error {
	pos, err := backupGTID(replica.DataDir)
	if err != nil {
		return err
	}
	return e.follow(ctx, replica, rep.Source, pos)
}

// applyThreads is how many threads a replica applies transactions on.
const applyThreads = 4

// follow makes a server replicate from source by GTID, starting after pos.
// The replication account on the source gets a fresh password each time;
// the replica keeps it in its own replication settings.
func (e *Engine) follow(ctx context.Context, replica, source engine.Layout, pos string) error {
	password := randomPassword()
	hash, err := e.PasswordVerifier(password)
	if err != nil {
		return err
	}
	acct := quote(replUser) + "@'127.0.0.1'"
	// Not binary-logged: the source may itself be a green replicating by
	// GTID, where a transaction of its own would break strict GTID order.
	// The source gets the hash only; the replica needs the password.
	if err := e.exec(ctx, source, "SET sql_log_bin = 0",
		"CREATE USER IF NOT EXISTS "+acct+" IDENTIFIED BY PASSWORD "+quote(hash),
		"ALTER USER "+acct+" IDENTIFIED BY PASSWORD "+quote(hash),
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO "+acct); err != nil {
		return err
	}
	stmts := []string{e.dialect.StopReplica()}
	// Writers on the source commit side by side; so does the replica,
	// which keeps it close behind (and a switchover's catch-up short).
	stmts = append(stmts, e.dialect.ParallelApply(applyThreads)...)
	stmts = append(stmts, e.dialect.StartFrom(pos)...)
	stmts = append(stmts, e.dialect.ChangeSource(Source{Host: "127.0.0.1", Port: source.Port, User: replUser, Password: password, TLS: source.TLS != nil}),
		e.dialect.StartReplica())
	if err := e.exec(ctx, replica, stmts...); err != nil {
		return err
	}
	return e.awaitConnected(ctx, replica)
}

// replicaStatus reads the replica's own status, by column.
func (e *Engine) replicaStatus(ctx context.Context, replica engine.Layout) (map[string]sql.NullString, error) {
	db, err := Connect(replica)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, e.dialect.ReplicaStatus())
	if err != nil {
		return nil, fmt.Errorf("replica status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, fmt.Errorf("the server is not a replica")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	status := map[string]sql.NullString{}
	for i, c := range cols {
		status[c] = vals[i]
	}
	return status, rows.Err()
}

// connectTimeout bounds how long a new replica may take to reach its
// source.
const connectTimeout = 30 * time.Second

// awaitConnected waits until the replica's I/O thread has reached its
// source, so a replica that cannot (wrong credentials, TLS required) fails
// instead of saying it is available.
func (e *Engine) awaitConnected(ctx context.Context, replica engine.Layout) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	for {
		status, err := e.replicaStatus(ctx, replica)
		if err != nil {
			return err
		}
		switch status["Slave_IO_Running"].String {
		case "Yes":
			return nil
		case "No":
			return fmt.Errorf("the replica cannot follow its source: %s", status["Last_IO_Error"].String)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the replica has not reached its source after %s: %s", connectTimeout, status["Last_IO_Error"].String)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReplicaLag implements engine.Engine from the replica's own status.
func (e *Engine) ReplicaLag(ctx context.Context, replica engine.Layout, rep engine.Replication) (engine.Lag, error) {
	status, err := e.replicaStatus(ctx, replica)
	if err != nil {
		return engine.Lag{}, err
	}
	if status["Slave_IO_Running"].String != "Yes" || status["Slave_SQL_Running"].String != "Yes" {
		return engine.Lag{}, fmt.Errorf("replication is not running: %s %s", status["Last_IO_Error"].String, status["Last_SQL_Error"].String)
	}
	var secs float64
	fmt.Sscanf(status["Seconds_Behind_Master"].String, "%g", &secs)
	return engine.Lag{Seconds: secs}, nil
}

func randomPassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}
