package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/engine"
)

// The logical replication pieces of a blue/green deployment for PostgreSQL.
// Every object teal creates for a deployment is named after it (prefix
// "teal_" and the deployment's identifier), so each step can be re-run and
// everything can be found again for clean-up.

// tealSchema holds teal's heartbeat table in every replicated database.
const tealSchema = "teal"

// UserDatabases lists the databases whose contents a deployment replicates.
func UserDatabases(ctx context.Context, l engine.Layout) ([]string, error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return nil, err
	}
	defer done(c)
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Client is one installed set of PostgreSQL client programs (pg_dump,
// pg_dumpall, pg_restore, psql): Debian's /usr/lib/postgresql/<major>/bin or a prefix
// scripts/install-engines.sh unpacked into the engines directory.
type Client struct {
	Major  int
	BinDir string
}

// installedClients are the client programs New found. The schema copy's
// functions take only the two servers' layouts, so the engine registers
// what it found here rather than threading it through every call.
var installedClients struct {
	sync.Mutex
	list []Client
}

func registerClient(c Client) {
	installedClients.Lock()
	defer installedClients.Unlock()
	for _, have := range installedClients.list {
		if have.BinDir == c.BinDir {
			return
		}
	}
	installedClients.list = append(installedClients.list, c)
}

func clients() []Client {
	installedClients.Lock()
	defer installedClients.Unlock()
	return append([]Client(nil), installedClients.list...)
}

// ErrNoClient is wrapped by the error of a copy that has no suitable client
// programs installed. It is an engine.ErrUnsupported.
var ErrNoClient = fmt.Errorf("%w: no suitable PostgreSQL client programs", engine.ErrUnsupported)

// chooseClient picks the client programs that copy a schema from a server
// of major source into one of major target. pg_dump refuses servers newer
// than itself, and what a pg_dump writes is only sure to load into its own
// major or a newer one, so the newest client in [source, target] is
// preferred; it is the target's own when that is installed, and knows the
// most about both. psql comes from the same set, so it understands every
// meta-command that pg_dump writes.
//
// Without one in the range, the oldest newer client is used: the schema it
// dumps is the source's, which the target (as new as the source) knows,
// and the one setting such a dump starts with that an older server rejects
// is taken out before it is loaded (loadableInto).
func chooseClient(have []Client, source, target int) (Client, error) {
	best := Client{}
	for _, c := range have {
		if c.Major >= source && c.Major <= target && c.Major > best.Major {
			best = c
		}
	}
	if best.BinDir == "" {
		for _, c := range have {
			if c.Major > target && (best.BinDir == "" || c.Major < best.Major) {
				best = c
			}
		}
	}
	if best.BinDir == "" {
		want := fmt.Sprintf("%d or newer", source)
		return Client{}, fmt.Errorf("%w: copying PostgreSQL %d to %d needs pg_dump, pg_dumpall and psql of version %s, and none is installed (have %s; run scripts/install-engines.sh)",
			ErrNoClient, source, target, want, majors(have))
	}
	return best, nil
}

// transactionTimeoutMajor is the first pg_dump that writes SET
// transaction_timeout, a setting older servers do not know.
const transactionTimeoutMajor = 17

var transactionTimeoutRE = regexp.MustCompile(`^SET transaction_timeout = [0-9]+;$`)

// loadableInto takes out of a dump script the settings a server of major
// target does not know, as a newer pg_dump writes them at the top. Only
// the script's header is looked at: its comments, meta-commands and
// settings, up to the first other line. Past it a line may be part of a
// quoted name or string that blue's master wrote, and taking a line out
// of one could end it early and run the rest as SQL.
func loadableInto(script string, target int) string {
	if target >= transactionTimeoutMajor {
		return script
	}
	var b strings.Builder
	rest := script
	for rest != "" {
		line, after, found := strings.Cut(rest, "\n")
		if transactionTimeoutRE.MatchString(line) {
			rest = after
			continue
		}
		if !headerLine(line) {
			break
		}
		b.WriteString(line)
		if found {
			b.WriteString("\n")
		}
		rest = after
	}
	return b.String() + rest
}

// headerLine reports whether line is of the kind pg_dump, pg_dumpall and
// pg_restore start a script with.
func headerLine(line string) bool {
	return line == "" || strings.HasPrefix(line, "--") || strings.HasPrefix(line, "\\") ||
		strings.HasPrefix(line, "SET ") || strings.HasPrefix(line, "SELECT pg_catalog.set_config(")
}

func majors(cs []Client) string {
	var ms []int
	for _, c := range cs {
		ms = append(ms, c.Major)
	}
	sort.Ints(ms)
	if len(ms) == 0 {
		return "none"
	}
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ms)), ", "), "[]")
}

// clientTool finds the program name (pg_dump, pg_dumpall or psql) of the
// client programs that copy from blue to green.
func clientTool(name string, blue, green engine.Build) (string, error) {
	source, err := strconv.Atoi(blue.Major())
	if err != nil {
		return "", fmt.Errorf("version of %s: %w", blue.Version, err)
	}
	target, err := strconv.Atoi(green.Major())
	if err != nil {
		return "", fmt.Errorf("version of %s: %w", green.Version, err)
	}
	have := clients()
	c, err := chooseClient(have, source, target)
	if err != nil {
		return "", err
	}
	// Some builds (Debian's 17.12) give every column a pg_attver option
	// that their own pg_dump leaves out, and that builds without it dump
	// as an option the target refuses. Such a source is dumped by the
	// client of its own major.
	if c.Major != source {
		for _, own := range have {
			if own.Major == source && knowsAttver(own.BinDir) && !knowsAttver(c.BinDir) {
				c = own
				break
			}
		}
	}
	return filepath.Join(c.BinDir, name), nil
}

// attverKnown caches knowsAttver by bin directory.
var attverKnown sync.Map

// knowsAttver reports whether the pg_dump in bin knows the pg_attver
// column option.
func knowsAttver(bin string) bool {
	if v, ok := attverKnown.Load(bin); ok {
		return v.(bool)
	}
	b, err := os.ReadFile(filepath.Join(bin, "pg_dump"))
	known := err == nil && bytes.Contains(b, []byte("pg_attver"))
	attverKnown.Store(bin, known)
	return known
}

// canDump reports whether some pg_dump can dump a server of build b.
func canDump(b engine.Build) error {
	source, err := strconv.Atoi(b.Major())
	if err != nil {
		return fmt.Errorf("version of %s: %w", b.Version, err)
	}
	have := clients()
	for _, c := range have {
		if c.Major >= source {
			return nil
		}
	}
	return fmt.Errorf("%w: dumping PostgreSQL %d needs pg_dump %d or newer, and none is installed (have %s; run scripts/install-engines.sh)",
		ErrNoClient, source, source, majors(have))
}

// clientVersion reads the major of the client programs in bin, or reports
// that bin has no complete set.
func clientVersion(bin string) (int, bool) {
	for _, p := range []string{"pg_dump", "pg_dumpall", "pg_restore", "psql"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return 0, false
		}
	}
	out, err := exec.Command(filepath.Join(bin, "pg_dump"), "--version").Output()
	if err != nil {
		return 0, false
	}
	m := clientVersionRE.FindSubmatch(out)
	if m == nil {
		return 0, false
	}
	major, err := strconv.Atoi(string(m[1]))
	return major, err == nil
}

var clientVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// connString is the libpq connection string of teal's admin session, for
// the client programs and for subscriptions. Every value is quoted: a
// database's name is the master user's to choose, and unquoted, a name
// such as "x host=/elsewhere" would send teal's superuser session to
// another server.
func connString(l engine.Layout, db string) string {
	return conninfo("host", l.SocketDir, "port", strconv.Itoa(l.Port), "user", AdminUser, "dbname", db)
}

// replicationConnString is how green's subscription reaches blue: as the
// replication role, which green's server process may authenticate as.
func replicationConnString(l engine.Layout, db string) string {
	return conninfo("host", l.SocketDir, "port", strconv.Itoa(l.Port), "user", ReplicationUser, "dbname", db)
}

// conninfo writes keys and values as a libpq connection string, each
// value single-quoted with its quotes and backslashes escaped.
func conninfo(kv ...string) string {
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"='"+quote.Replace(kv[i+1])+"'")
	}
	return strings.Join(parts, " ")
}

// adminSearchPath is the search_path of teal's superuser sessions.
const adminSearchPath = "pg_catalog,pg_temp"

// clientEnv makes client programs' sessions writable on a read-only server,
// and resolve names as teal's own sessions do.
var clientEnv = []string{"PGOPTIONS=-c default_transaction_read_only=off -c search_path=" + adminSearchPath}

// CopyRoles copies every role (with its password hash) from blue to green.
// pg_dumpall's script is loaded as written: names, comments and settings
// in it are the master's and may span lines, so no line of it is taken
// out. teal's own roles are in it too; only a superuser can change them
// on blue, so it gives them on green what they have on every instance,
// and green's start puts tealrepl's attributes back (secure) in any case.
func CopyRoles(ctx context.Context, blue, green engine.Layout) error {
	dumpall, err := clientTool("pg_dumpall", blue.Build, green.Build)
	if err != nil {
		return err
	}
	load, err := clientTool("psql", blue.Build, green.Build)
	if err != nil {
		return err
	}
	out, err := output(exec.CommandContext(ctx, dumpall, "--roles-only", "-d", connString(blue, "postgres")))
	if err != nil {
		return fmt.Errorf("dump roles: %w", err)
	}
	// Roles that already exist on green (teal's, and the master user when
	// green was bootstrapped) make CREATE ROLE fail; the ALTER ROLE that
	// follows still copies their attributes and password, so such errors
	// are expected.
	return psql(ctx, load, green, "postgres", loadableInto(out, majorOf(green.Build)), false)
}

// CopySchema creates db on green, owned as on blue, and copies its schema.
func CopySchema(ctx context.Context, blue, green engine.Layout, db string) error {
	bc, err := Connect(ctx, blue, "postgres")
	if err != nil {
		return err
	}
	var owner string
	err = bc.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, db).Scan(&owner)
	bc.Close(context.Background())
	if err != nil {
		return fmt.Errorf("owner of database %s: %w", db, err)
	}
	gc, err := Connect(ctx, green, "postgres")
	if err != nil {
		return err
	}
	var exists bool
	gc.QueryRow(ctx, `SELECT true FROM pg_database WHERE datname = $1`, db).Scan(&exists)
	if !exists {
		_, err = gc.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{db}.Sanitize(), pgx.Identifier{owner}.Sanitize()))
	} else {
		_, err = gc.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", pgx.Identifier{db}.Sanitize(), pgx.Identifier{owner}.Sanitize()))
	}
	gc.Close(context.Background())
	if err != nil {
		return fmt.Errorf("create database %s on green: %w", db, err)
	}
	dump, err := clientTool("pg_dump", blue.Build, green.Build)
	if err != nil {
		return err
	}
	load, err := clientTool("psql", blue.Build, green.Build)
	if err != nil {
		return err
	}
	schema, err := output(exec.CommandContext(ctx, dump, "--schema-only", "--no-publications", "--no-subscriptions",
		"-d", connString(blue, db)))
	if err != nil {
		return fmt.Errorf("dump schema of %s: %w", db, err)
	}
	return psql(ctx, load, green, db, loadableInto(schema, majorOf(green.Build)), true)
}

// majorOf is a build's major version as a number (0 if it has none).
func majorOf(b engine.Build) int {
	m, _ := strconv.Atoi(b.Major())
	return m
}

// psql runs a script against a database with the psql program bin; strict
// stops at the first error.
func psql(ctx context.Context, bin string, l engine.Layout, db, script string, strict bool) error {
	args := []string{"-X", "-q", "-d", connString(l, db)}
	if strict {
		args = append(args, "-v", "ON_ERROR_STOP=1", "--single-transaction")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(script)
	if _, err := output(cmd); err != nil {
		return fmt.Errorf("apply to %s: %w", db, err)
	}
	return nil
}

// output runs a client program and returns what it wrote. Unless the
// command has an environment of its own, its sessions may write on a
// read-only server (clientEnv).
func output(cmd *exec.Cmd) (string, error) {
	if cmd.Env == nil {
		cmd.Env = append(os.Environ(), clientEnv...)
	}
	cmd.Env = append(cmd.Env, "PGCONNECT_TIMEOUT=10")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, engine.Tail(stderr.String(), 2000))
	}
	return string(out), nil
}

// Names of the objects of deployment id in database db.
func publicationName(id string) string  { return "teal_" + sanitize(id) }
func subscriptionName(id string) string { return "teal_" + sanitize(id) }
func slotNameFor(id, db string) string {
	sum := sha256.Sum256([]byte(db))
	return "teal_" + sanitize(id) + "_" + hex.EncodeToString(sum[:4])
}

func sanitize(id string) string { return strings.ReplaceAll(strings.ToLower(id), "-", "_") }

// PrepareSource creates teal's heartbeat table and the publication of every
// table in db on blue. Idempotent.
func PrepareSource(ctx context.Context, blue engine.Layout, id, db string) error {
	c, err := session(ctx, blue, db)
	if err != nil {
		return err
	}
	defer done(c)
	pub := publicationName(id)
	if err := ownTealSchema(ctx, c, db, tealSchema); err != nil {
		return err
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + tealSchema + `.heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL)`,
		`INSERT INTO ` + tealSchema + `.heartbeat VALUES (1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("prepare %s on blue: %w", db, err)
		}
	}
	var exists bool
	c.QueryRow(ctx, `SELECT true FROM pg_publication WHERE pubname = $1`, pub).Scan(&exists)
	if !exists {
		if _, err := c.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR ALL TABLES"); err != nil {
			return fmt.Errorf("create publication in %s: %w", db, err)
		}
	}
	return nil
}

// Subscribe creates green's subscription to blue's publication in db, which
// copies the existing rows and then streams changes. Idempotent.
func Subscribe(ctx context.Context, blue, green engine.Layout, id, db string) error {
	c, err := session(ctx, green, db)
	if err != nil {
		return err
	}
	defer done(c)
	sub := subscriptionName(id)
	if err := guardGreen(ctx, c, db); err != nil {
		return err
	}
	// From here on only teal changes green's schema: what the apply will
	// evaluate is what is there now.
	if err := refuseUserCode(ctx, c, db, green.Build.Major()); err != nil {
		return err
	}
	var exists bool
	c.QueryRow(ctx, `SELECT true FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, sub).Scan(&exists)
	if exists {
		return nil
	}
	// The slot is created on blue first, outside the subscription, so that
	// a re-run after a crash can reuse or replace it.
	slot := slotNameFor(id, db)
	bc, err := session(ctx, blue, db)
	if err != nil {
		return err
	}
	defer done(bc)
	if _, err := bc.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE slot_name = $1 AND NOT active`, slot); err != nil {
		return fmt.Errorf("drop stale slot %s: %w", slot, err)
	}
	conn := quoteLiteral(replicationConnString(blue, db) + " application_name=" + slot)
	q := fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s
		WITH (copy_data = true, create_slot = true, slot_name = %s)`,
		sub, conn, publicationName(id), quoteLiteral(slot))
	if _, err := c.Exec(ctx, q); err != nil {
		return fmt.Errorf("create subscription in %s: %w", db, err)
	}
	return nil
}

// SyncState is how far green's initial copy and streaming have come in one
// database.
type SyncState struct {
	Tables, Ready int   // tables subscribed, tables whose copy is done
	LagBytes      int64 // WAL of blue that green has not confirmed
	Streaming     bool  // the apply worker is connected
}

// Sync reports the state of db's subscription.
func Sync(ctx context.Context, blue, green engine.Layout, id, db string) (SyncState, error) {
	var s SyncState
	c, err := session(ctx, green, db)
	if err != nil {
		return s, err
	}
	defer done(c)
	err = c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE sr.srsubstate IN ('r', 's'))
		FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = $1
		  AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		subscriptionName(id)).Scan(&s.Tables, &s.Ready)
	if err != nil {
		return s, fmt.Errorf("subscription state in %s: %w", db, err)
	}
	bc, err := session(ctx, blue, db)
	if err != nil {
		return s, err
	}
	defer done(bc)
	err = bc.QueryRow(ctx, `SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint, active
		FROM pg_replication_slots WHERE slot_name = $1`, slotNameFor(id, db)).Scan(&s.LagBytes, &s.Streaming)
	if err == pgx.ErrNoRows {
		return s, fmt.Errorf("replication slot of %s is missing on blue", db)
	}
	if err != nil {
		return s, fmt.Errorf("slot state in %s: %w", db, err)
	}
	return s, nil
}

// Heartbeat writes the current time into blue's heartbeat row of db.
func Heartbeat(ctx context.Context, c *pgx.Conn) error {
	_, err := c.Exec(ctx, `UPDATE `+tealSchema+`.heartbeat SET at = clock_timestamp() WHERE id = 1`)
	return err
}

// HeartbeatLag is how far green's applied heartbeat is behind blue's, in
// seconds: 0 when green has applied the latest beat.
func HeartbeatLag(ctx context.Context, blue, green engine.Layout, db string) (float64, error) {
	read := func(l engine.Layout) (float64, error) {
		c, err := session(ctx, l, db)
		if err != nil {
			return 0, err
		}
		defer done(c)
		var at float64
		err = c.QueryRow(ctx, `SELECT EXTRACT(EPOCH FROM at)::float8 FROM `+tealSchema+`.heartbeat WHERE id = 1`).Scan(&at)
		return at, err
	}
	b, err := read(blue)
	if err != nil {
		return 0, fmt.Errorf("blue heartbeat in %s: %w", db, err)
	}
	g, err := read(green)
	if err != nil {
		return 0, fmt.Errorf("green heartbeat in %s: %w", db, err)
	}
	return max(0, b-g), nil
}

// SchemaFingerprint summarises db's user schema (relations, columns, types,
// functions, schemas), so that DDL on blue shows as a changed fingerprint.
func SchemaFingerprint(ctx context.Context, l engine.Layout, db string) (string, error) {
	c, err := session(ctx, l, db)
	if err != nil {
		return "", err
	}
	defer done(c)
	var fp string
	err = c.QueryRow(ctx, `
		WITH ns AS (
			SELECT oid, nspname FROM pg_namespace
			WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', '`+tealSchema+`', '`+greenGuardSchema+`')
			  AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
		), items AS (
			SELECT 'n:' || nspname AS x FROM ns
			UNION ALL
			SELECT format('r:%s.%s:%s:%s', ns.nspname, c.relname, c.relkind, c.relpersistence)
			FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
			UNION ALL
			SELECT format('a:%s.%s.%s:%s:%s', ns.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull)
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
			WHERE a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT format('f:%s.%s(%s)', ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
			FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
			UNION ALL
			SELECT format('t:%s.%s', ns.nspname, t.typname) FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
		)
		SELECT md5(COALESCE(string_agg(x, ',' ORDER BY x), '')) FROM items`).Scan(&fp)
	if err != nil {
		return "", fmt.Errorf("schema fingerprint of %s: %w", db, err)
	}
	return fp, nil
}

// LargeObjectWrites counts writes to large objects in db since the server
// started; a change means large-object changes that logical replication
// does not carry.
func LargeObjectWrites(ctx context.Context, l engine.Layout, db string) (int64, error) {
	c, err := session(ctx, l, db)
	if err != nil {
		return 0, err
	}
	defer done(c)
	var n int64
	err = c.QueryRow(ctx, `SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint
		FROM pg_stat_sys_tables WHERE relname IN ('pg_largeobject', 'pg_largeobject_metadata')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("large object writes in %s: %w", db, err)
	}
	return n, nil
}

// SyncSequences sets every sequence of db on green to at least its value on
// blue, so that new rows on green do not reuse keys.
func SyncSequences(ctx context.Context, blue, green engine.Layout, db string) (int, error) {
	bc, err := session(ctx, blue, db)
	if err != nil {
		return 0, err
	}
	defer done(bc)
	rows, err := bc.Query(ctx, `SELECT format('%I.%I', schemaname, sequencename), last_value, true
		FROM pg_sequences WHERE last_value IS NOT NULL AND schemaname <> '`+tealSchema+`'`)
	if err != nil {
		return 0, fmt.Errorf("read sequences of %s: %w", db, err)
	}
	type seq struct {
		name  string
		value int64
	}
	var seqs []seq
	for rows.Next() {
		var s seq
		var called bool
		if err := rows.Scan(&s.name, &s.value, &called); err != nil {
			return 0, err
		}
		seqs = append(seqs, s)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i].name < seqs[j].name })
	gc, err := session(ctx, green, db)
	if err != nil {
		return 0, err
	}
	defer done(gc)
	batch := &pgx.Batch{}
	for _, s := range seqs {
		batch.Queue(`SELECT setval($1::regclass, GREATEST($2::bigint, COALESCE(pg_sequence_last_value($1::regclass), $2::bigint)), true)`,
			s.name, s.value)
	}
	if err := gc.SendBatch(ctx, batch).Close(); err != nil {
		return 0, fmt.Errorf("set sequences of %s on green: %w", db, err)
	}
	return len(seqs), nil
}

// slotDropTimeout bounds how long dropping a slot waits for the walsender
// that uses it to end.
const slotDropTimeout = 10 * time.Second

// dropSlot drops a logical slot if it exists, ending the walsender that
// uses it first: a terminated walsender releases its slot only once it has
// exited, so the drop is tried again until then.
func dropSlot(ctx context.Context, c *pgx.Conn, slot string) error {
	deadline := time.Now().Add(slotDropTimeout)
	for {
		if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, slot); err != nil {
			return fmt.Errorf("end walsender: %w", err)
		}
		if _, err := c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, slot); err != nil {
			return err
		}
		var left bool
		if err := c.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&left); err != nil {
			return err
		}
		if !left {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slot %s is still in use after %s", slot, slotDropTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DropReplication removes db's subscription on green (and with it the slot
// on blue, when blue is reachable) and the publication and heartbeat on blue.
func DropReplication(ctx context.Context, blue, green *engine.Layout, id, db string) error {
	sub := subscriptionName(id)
	if green != nil {
		c, err := session(ctx, *green, db)
		if err != nil {
			return err
		}
		defer done(c)
		// Green may still be held read-only; teal's own session may write.
		if _, err := c.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
			return fmt.Errorf("drop replication in %s: %w", db, err)
		}
		var exists bool
		c.QueryRow(ctx, `SELECT true FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, sub).Scan(&exists)
		if exists {
			if _, err := c.Exec(ctx, "ALTER SUBSCRIPTION "+sub+" DISABLE"); err != nil {
				return fmt.Errorf("disable subscription in %s: %w", db, err)
			}
			// Detach the slot so DROP SUBSCRIPTION does not depend on blue;
			// teal drops the slot on blue itself below.
			if _, err := c.Exec(ctx, "ALTER SUBSCRIPTION "+sub+" SET (slot_name = NONE)"); err != nil {
				return fmt.Errorf("detach subscription in %s: %w", db, err)
			}
			if _, err := c.Exec(ctx, "DROP SUBSCRIPTION "+sub); err != nil {
				return fmt.Errorf("drop subscription in %s: %w", db, err)
			}
		}
		for _, schema := range []string{greenGuardSchema, tealSchema} {
			if err := dropTealSchema(ctx, c, schema); err != nil {
				return fmt.Errorf("drop schema %s in %s on green: %w", schema, db, err)
			}
		}
	}
	if blue != nil {
		c, err := session(ctx, *blue, db)
		if err != nil {
			return err
		}
		defer done(c)
		// An old blue stays read-only; teal's own session may write.
		if _, err := c.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
			return fmt.Errorf("drop replication in %s: %w", db, err)
		}
		if err := dropSlot(ctx, c, slotNameFor(id, db)); err != nil {
			return fmt.Errorf("drop slot in %s: %w", db, err)
		}
		if _, err := c.Exec(ctx, "DROP PUBLICATION IF EXISTS "+publicationName(id)); err != nil {
			return fmt.Errorf("drop publication in %s: %w", db, err)
		}
		if err := dropTealSchema(ctx, c, tealSchema); err != nil {
			return fmt.Errorf("drop schema %s in %s on blue: %w", tealSchema, db, err)
		}
	}
	return nil
}
