package mariadb

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// The engine.Replicator of MariaDB: green is loaded from a consistent dump
// of blue taken at a GTID position, then replicates from blue by GTID.
// Binary-log replication carries DDL too, so schema changes on blue do not
// degrade a deployment.

var _ engine.Replicator = (*Engine)(nil)

// tealDB holds the heartbeat on blue, replicated to green like any table.
const tealDB = "teal"

var systemSchemas = "'mysql', 'information_schema', 'performance_schema', 'sys', '" + tealDB + "'"

// SourceReady implements engine.Replicator: row-based binary logs.
func (e *Engine) SourceReady(params map[string]string) error {
	if v := params["binlog_format"]; !strings.EqualFold(v, "ROW") {
		return fmt.Errorf("binlog_format=%s; blue/green deployments need binlog_format=ROW", v)
	}
	return nil
}

func (e *Engine) query(ctx context.Context, l engine.Layout, fn func(*sql.DB) error) error {
	db, err := Connect(l)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

func strings1(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Preflight implements engine.Replicator.
func (e *Engine) Preflight(ctx context.Context, blue engine.Layout) ([]bluegreen.Finding, error) {
	var out []bluegreen.Finding
	err := e.query(ctx, blue, func(db *sql.DB) error {
		checks := []struct {
			kind, q string
		}{
			{bluegreen.FindNonTransactional, `SELECT CONCAT(table_schema, '.', table_name, ' (', engine, ')') FROM information_schema.tables
				WHERE table_type = 'BASE TABLE' AND engine <> 'InnoDB' AND table_schema NOT IN (` + systemSchemas + `)`},
			{bluegreen.FindNoPrimaryKey, `SELECT CONCAT(t.table_schema, '.', t.table_name) FROM information_schema.tables t
				WHERE t.table_type = 'BASE TABLE' AND t.table_schema NOT IN (` + systemSchemas + `)
				AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c WHERE c.table_schema = t.table_schema
				AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY')`},
			{bluegreen.FindEventScheduler, `SELECT 'event_scheduler' FROM DUAL WHERE @@GLOBAL.event_scheduler = 'ON'`},
		}
		for _, ch := range checks {
			objs, err := strings1(ctx, db, ch.q)
			if err != nil {
				return fmt.Errorf("preflight %s: %w", ch.kind, err)
			}
			for _, o := range objs {
				out = append(out, bluegreen.Finding{Kind: ch.kind, Object: o})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ext, err := e.ExternalReplication(ctx, blue); err != nil {
		return nil, err
	} else if ext {
		out = append(out, bluegreen.Finding{Kind: bluegreen.FindLogicalSubscriber, Object: "binary log replication"})
	}
	return out, nil
}

// StartReplication implements engine.Replicator.
func (e *Engine) StartReplication(ctx context.Context, blue, green engine.Layout, id string, progress func(engine.CopyProgress)) (err error) {
	if progress == nil {
		progress = func(engine.CopyProgress) {}
	}
	if err := e.exec(ctx, blue,
		"CREATE DATABASE IF NOT EXISTS "+tealDB,
		"CREATE TABLE IF NOT EXISTS "+tealDB+".heartbeat (id int PRIMARY KEY, at datetime(6) NOT NULL) ENGINE=InnoDB",
		"INSERT INTO "+tealDB+".heartbeat VALUES (1, NOW(6)) ON DUPLICATE KEY UPDATE at = NOW(6)"); err != nil {
		return err
	}
	admin, err := adminName()
	if err != nil {
		return err
	}
	dump := filepath.Join(filepath.Dir(green.DataDir), "blue.sql")
	// The dump is a copy of all of blue's data: it must not stay behind.
	defer func() {
		if rerr := os.Remove(dump); rerr != nil && !os.IsNotExist(rerr) {
			err = errors.Join(err, fmt.Errorf("remove blue's dump: %w", rerr))
		}
	}()
	f, err := os.Create(dump)
	if err != nil {
		return err
	}
	progress(engine.CopyProgress{Phase: "dumping blue"})
	cmd := exec.CommandContext(ctx, "/usr/bin/mariadb-dump", "--socket="+filepath.Join(blue.SocketDir, "mysqld.sock"), "--user="+admin,
		"--all-databases", "--single-transaction", "--gtid", "--master-data=1", "--routines", "--events", "--triggers", "--flush-privileges")
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	f.Close()
	if err != nil {
		return fmt.Errorf("mariadb-dump of blue: %w: %s", err, stderr.String())
	}
	pos, err := dumpGTID(dump)
	if err != nil {
		return err
	}
	// The dump is loaded without binary-logging it: green's own GTIDs would
	// collide with blue's, which it is about to replicate.
	load := exec.CommandContext(ctx, "/usr/bin/mariadb", "--socket="+filepath.Join(green.SocketDir, "mysqld.sock"), "--user="+admin,
		"--init-command=SET sql_log_bin=0")
	in, err := os.Open(dump)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	read := &progressReader{r: in, total: st.Size(), start: time.Now(), report: progress}
	load.Stdin = read
	if out, err := load.CombinedOutput(); err != nil {
		return fmt.Errorf("load blue's dump into green: %w: %s", err, out)
	}
	// Green's binary log starts at the dump's position, so that green's
	// own replicas (the topology of blue's) find there every GTID they
	// ask for; what green applies from blue is logged after it
	// (log_slave_updates, on in the default parameter group).
	stmts := []string{"RESET MASTER"}
	if pos != "" {
		stmts = append(stmts, "SET GLOBAL gtid_binlog_state = "+quote(pos))
	}
	if err := e.exec(ctx, green, stmts...); err != nil {
		return err
	}
	return e.follow(ctx, green, blue, pos)
}

// progressReader reports, at most twice a second, how much of blue's dump
// green has loaded.
type progressReader struct {
	r           io.Reader
	n, total    int64
	start, last time.Time
	report      func(engine.CopyProgress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= 500*time.Millisecond || err != nil {
		p.last = now
		p.report(engine.CopyProgress{Phase: "loading blue's data into green", Bytes: p.n, BytesTotal: p.total, Elapsed: now.Sub(p.start)})
	}
	return n, err
}

// dumpGTID finds the GTID position a mariadb-dump --gtid --master-data=1 was
// taken at: its SET GLOBAL gtid_slave_pos, which the dump prints near its end
// (and which loading the dump also runs).
func dumpGTID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	pos, found := "", false
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "gtid_slave_pos='"); i >= 0 {
			rest := line[i+len("gtid_slave_pos='"):]
			if j := strings.IndexByte(rest, '\''); j >= 0 {
				pos, found = rest[:j], true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read the dump of blue: %w", err)
	}
	if !found {
		return "", fmt.Errorf("no GTID position in the dump of blue")
	}
	return pos, nil
}

// ReplicationStatus implements engine.Replicator.
func (e *Engine) ReplicationStatus(ctx context.Context, blue, green engine.Layout, id string) (engine.ReplicationStatus, error) {
	st := engine.ReplicationStatus{Streaming: true}
	lag, err := e.ReplicaLag(ctx, green, engine.Replication{Source: blue})
	if err != nil {
		st.Streaming, st.Problem = false, err.Error()
		return st, nil
	}
	hb, err := e.heartbeatLag(ctx, blue, green)
	if err != nil {
		st.Problem = err.Error()
	}
	st.LagSeconds = max(lag.Seconds, hb)
	var bluePos, greenPos string
	if err := e.query(ctx, blue, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, e.dialect.GTIDPosition()).Scan(&bluePos)
	}); err != nil {
		return st, fmt.Errorf("blue's GTID position: %w", err)
	}
	if err := e.query(ctx, green, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_slave_pos").Scan(&greenPos)
	}); err != nil {
		return st, fmt.Errorf("green's GTID position: %w", err)
	}
	st.LagTransactions = gtidDistance(bluePos, greenPos)
	return st, nil
}

// gtidDistance counts, over MariaDB GTID domains, how many sequence
// numbers "domain-server-seq" position a is ahead of b.
func gtidDistance(a, b string) int64 {
	seqs := func(pos string) map[string]int64 {
		out := map[string]int64{}
		for _, g := range strings.Split(pos, ",") {
			f := strings.Split(strings.TrimSpace(g), "-")
			if len(f) != 3 {
				continue
			}
			var n int64
			fmt.Sscanf(f[2], "%d", &n)
			out[f[0]] = n
		}
		return out
	}
	sa, sb := seqs(a), seqs(b)
	var d int64
	for domain, n := range sa {
		if n > sb[domain] {
			d += n - sb[domain]
		}
	}
	return d
}

func (e *Engine) heartbeatLag(ctx context.Context, blue, green engine.Layout) (float64, error) {
	read := func(l engine.Layout) (float64, error) {
		var at float64
		err := e.query(ctx, l, func(db *sql.DB) error {
			return db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP(at) FROM "+tealDB+".heartbeat WHERE id = 1").Scan(&at)
		})
		return at, err
	}
	b, err := read(blue)
	if err != nil {
		return 0, fmt.Errorf("blue heartbeat: %w", err)
	}
	g, err := read(green)
	if err != nil {
		return 0, fmt.Errorf("green heartbeat: %w", err)
	}
	return max(0, b-g), nil
}

// Heartbeat implements engine.Replicator.
func (e *Engine) Heartbeat(ctx context.Context, blue engine.Layout) error {
	return e.exec(ctx, blue, "UPDATE "+tealDB+".heartbeat SET at = NOW(6) WHERE id = 1")
}

// SchemaState implements engine.Replicator: binary-log replication carries
// DDL, so there is nothing to compare.
func (e *Engine) SchemaState(ctx context.Context, blue engine.Layout) (engine.SchemaState, error) {
	return engine.SchemaState{}, nil
}

// AfterInitialCopy implements engine.Replicator: nothing to do.
func (e *Engine) AfterInitialCopy(context.Context, engine.Layout, bool, func(engine.CopyProgress)) error {
	return nil
}

// Activity implements engine.Replicator: client transactions that changed
// rows (the replication applier is not a client), and running DDL.
func (e *Engine) Activity(ctx context.Context, l engine.Layout) (engine.Activity, error) {
	var a engine.Activity
	notTeal, err := notTealSession()
	if err != nil {
		return a, err
	}
	err = e.query(ctx, l, func(db *sql.DB) error {
		var writeUs, ddlMs float64
		var who sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT count(*), COALESCE(MAX(TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6))), 0),
			MAX(CONCAT('id ', p.id, ', user ', p.user))
			FROM information_schema.innodb_trx t JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
			WHERE t.trx_rows_modified > 0 AND p.user <> 'system user' AND `+notTeal).Scan(&a.ActiveWrites, &writeUs, &who); err != nil {
			return fmt.Errorf("session activity: %w", err)
		}
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(p.time_ms), 0) FROM information_schema.processlist p
			WHERE p.command = 'Query' AND p.user <> 'system user' AND `+notTeal+`
			AND p.info REGEXP '^[[:space:]]*(ALTER|CREATE|DROP|TRUNCATE|RENAME)'`).Scan(&ddlMs); err != nil {
			return fmt.Errorf("session activity: %w", err)
		}
		a.LongestWrite = time.Duration(writeUs) * time.Microsecond
		a.LongestWriter = who.String
		a.LongestDDL = time.Duration(ddlMs) * time.Millisecond
		return nil
	})
	return a, err
}

// ExternalReplication implements engine.Replicator.
func (e *Engine) ExternalReplication(ctx context.Context, blue engine.Layout) (bool, error) {
	var found bool
	err := e.query(ctx, blue, func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, e.dialect.ReplicaStatus())
		if err != nil {
			return err
		}
		defer rows.Close()
		found = rows.Next()
		return rows.Err()
	})
	return found, err
}

// notTealSession excludes, from information_schema.processlist p, teal's
// admin sessions: its account, over the socket. A master user may have
// the same name (root), never the same host.
func notTealSession() (string, error) {
	admin, err := adminName()
	if err != nil {
		return "", err
	}
	return "NOT (p.user = " + quote(admin) + " AND p.host = 'localhost')", nil
}

// clientSessions selects the client connections: all but teal's,
// replication's and the server's own threads.
func clientSessions() (string, error) {
	notTeal, err := notTealSession()
	if err != nil {
		return "", err
	}
	return `p.id <> CONNECTION_ID() AND ` + notTeal + `
	AND p.user NOT IN ('system user', 'event_scheduler', '` + replUser + `')
	AND p.command NOT IN ('Binlog Dump', 'Daemon')`, nil
}

// DrainSessions implements engine.Replicator. A connection is between
// transactions when it sleeps with no InnoDB transaction under way.
func (e *Engine) DrainSessions(ctx context.Context, l engine.Layout, deadline time.Time, skip []int) (ended, left int, err error) {
	clients, err := clientSessions()
	if err != nil {
		return 0, 0, err
	}
	err = e.query(ctx, l, func(db *sql.DB) error {
		db.SetMaxOpenConns(1)
		q := `SELECT p.id, p.command = 'Sleep' FROM information_schema.processlist p WHERE ` + clients
		if len(skip) > 0 {
			ports := make([]string, len(skip))
			for i, p := range skip {
				ports[i] = quote(strconv.Itoa(p))
			}
			q += " AND SUBSTRING_INDEX(p.host, ':', -1) NOT IN (" + strings.Join(ports, ",") + ")"
		}
		for {
			sleeping, busy, err := sessionStates(ctx, db, q)
			if err != nil {
				return fmt.Errorf("drain sessions: %w", err)
			}
			// Read after the process list: a session that starts a
			// transaction in between is only left for the next round.
			var engine, name, status string
			if err := db.QueryRowContext(ctx, "SHOW ENGINE INNODB STATUS").Scan(&engine, &name, &status); err != nil {
				return fmt.Errorf("drain sessions: %w", err)
			}
			open := e.dialect.OpenTransactions(status)
			left = busy
			for _, id := range sleeping {
				if open[id] {
					left++
					continue
				}
				// A session may end by itself meanwhile; that is fine.
				if _, err := db.ExecContext(ctx, "KILL CONNECTION "+id); err == nil {
					ended++
				}
			}
			if left == 0 || !time.Now().Before(deadline) {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	})
	return ended, left, err
}

// sessionStates runs q, which selects (id, sleeping), and splits the
// sessions into those sleeping and a count of the others.
func sessionStates(ctx context.Context, db *sql.DB, q string) (sleeping []string, busy int, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var asleep bool
		if err := rows.Scan(&id, &asleep); err != nil {
			return nil, 0, err
		}
		if asleep {
			sleeping = append(sleeping, id)
		} else {
			busy++
		}
	}
	return sleeping, busy, rows.Err()
}

// EndSessions implements engine.Replicator: every client connection except
// teal's, replication's and the server's own threads.
func (e *Engine) EndSessions(ctx context.Context, l engine.Layout) (int, error) {
	n := 0
	sessions, err := clientSessions()
	if err != nil {
		return 0, err
	}
	err = e.query(ctx, l, func(db *sql.DB) error {
		clients := `SELECT p.id FROM information_schema.processlist p WHERE ` + sessions
		ids, err := strings1(ctx, db, clients)
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		for _, id := range ids {
			// A session may end by itself meanwhile; that is fine.
			_, _ = db.ExecContext(ctx, "KILL CONNECTION "+id)
		}
		n = len(ids)
		deadline := time.Now().Add(10 * time.Second)
		for {
			left, err := strings1(ctx, db, clients)
			if err != nil {
				return err
			}
			if len(left) == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("end sessions: %d still running", len(left))
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	return n, err
}

// WriteMarker implements engine.Replicator: blue's GTID position once its
// writes have stopped.
func (e *Engine) WriteMarker(ctx context.Context, blue engine.Layout) (engine.Marker, error) {
	var pos string
	err := e.query(ctx, blue, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, e.dialect.GTIDPosition()).Scan(&pos)
	})
	if err != nil {
		return nil, fmt.Errorf("blue's GTID position: %w", err)
	}
	return engine.Marker{"gtid": pos}, nil
}

// WaitMarker implements engine.Replicator: the server itself waits for the
// GTID position, in slices so that ctx is honoured.
func (e *Engine) WaitMarker(ctx context.Context, green engine.Layout, m engine.Marker) error {
	if m["gtid"] == "" {
		return nil
	}
	return e.query(ctx, green, func(db *sql.DB) error {
		for {
			var r int
			if err := db.QueryRowContext(ctx, e.dialect.WaitForPosition(m["gtid"], time.Second)).Scan(&r); err != nil {
				return fmt.Errorf("green's GTID position: %w", err)
			}
			if r == 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("green has not caught up with blue: %w", err)
			}
		}
	})
}

// SyncSequences implements engine.Replicator: sequences and auto-increment
// counters travel with the replicated rows.
func (e *Engine) SyncSequences(ctx context.Context, blue, green engine.Layout) (int, error) {
	return 0, nil
}

// StopReplication implements engine.Replicator.
func (e *Engine) StopReplication(ctx context.Context, blue, green *engine.Layout, id string) error {
	if green != nil {
		if err := e.exec(ctx, *green, e.dialect.StopReplica(), e.dialect.ResetReplica(),
			"SET sql_log_bin = 0", "DROP DATABASE IF EXISTS "+tealDB); err != nil {
			return err
		}
	}
	if blue != nil {
		if err := e.exec(ctx, *blue, "DROP DATABASE IF EXISTS "+tealDB); err != nil {
			return err
		}
	}
	return nil
}

// KeepsReplicationOnDelete implements engine.ReplicationKeeper: as on RDS,
// deleting a deployment without its green environment leaves green
// replicating from blue.
func (e *Engine) KeepsReplicationOnDelete() bool { return true }
