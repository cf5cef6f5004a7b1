package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// Preflight inspects db on blue for what logical replication cannot carry
// (see bluegreen.Classify for what each finding means).
func Preflight(ctx context.Context, blue engine.Layout, db string) ([]bluegreen.Finding, error) {
	c, err := session(ctx, blue, db)
	if err != nil {
		return nil, err
	}
	defer done(c)
	checks := []struct {
		kind string
		q    string
	}{
		{bluegreen.FindNoPrimaryKey, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '` + tealSchema + `')
			  AND NOT c.relispartition
			  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
			      SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')))`},
		{bluegreen.FindUnlogged, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u'`},
		{bluegreen.FindLargeObjects, `SELECT 'pg_largeobject' FROM pg_largeobject_metadata LIMIT 1`},
		{bluegreen.FindMaterializedView, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm'`},
		{bluegreen.FindExtension, `SELECT extname FROM pg_extension
			WHERE extname IN ('pg_partman', 'pg_cron', 'pglogical', 'pg_active', 'pgactive')`},
		{bluegreen.FindReplicaTrigger, `SELECT format('%I on %I.%I', t.tgname, n.nspname, c.relname) FROM pg_trigger t
			JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE NOT t.tgisinternal AND t.tgenabled IN ('R', 'A')`},
		{bluegreen.FindLogicalPublisher, `SELECT pubname FROM pg_publication WHERE pubname NOT LIKE 'teal\_%'`},
		{bluegreen.FindLogicalSubscriber, `SELECT subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
			WHERE d.datname = current_database() AND subname NOT LIKE 'teal\_%'`},
	}
	var out []bluegreen.Finding
	for _, ch := range checks {
		rows, err := c.Query(ctx, ch.q)
		if err != nil {
			return nil, fmt.Errorf("preflight %s in %s: %w", ch.kind, db, err)
		}
		objs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("preflight %s in %s: %w", ch.kind, db, err)
		}
		for _, o := range objs {
			out = append(out, bluegreen.Finding{Kind: ch.kind, Database: db, Object: o})
		}
	}
	return out, nil
}

// SetReplicaIdentityFull makes a table without a primary key replicate its
// updates and deletes: with a FOR ALL TABLES publication, PostgreSQL refuses
// them on such a table otherwise.
func SetReplicaIdentityFull(ctx context.Context, blue engine.Layout, db, table string) error {
	c, err := session(ctx, blue, db)
	if err != nil {
		return err
	}
	defer done(c)
	if _, err := c.Exec(ctx, "ALTER TABLE "+table+" REPLICA IDENTITY FULL"); err != nil {
		return fmt.Errorf("set replica identity of %s in %s: %w", table, db, err)
	}
	return nil
}

// SessionActivity reports client write activity on a server.
func SessionActivity(ctx context.Context, l engine.Layout) (engine.Activity, error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return engine.Activity{}, err
	}
	defer done(c)
	var a engine.Activity
	var writeSecs, ddlSecs float64
	err = c.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE backend_xid IS NOT NULL),
		COALESCE(EXTRACT(EPOCH FROM max(now() - xact_start) FILTER (WHERE backend_xid IS NOT NULL)), 0)::float8,
		COALESCE((array_agg(format('pid %s, user %s', pid, usename) ORDER BY xact_start) FILTER (WHERE backend_xid IS NOT NULL))[1], ''),
		COALESCE(EXTRACT(EPOCH FROM max(now() - query_start) FILTER (WHERE state = 'active'
			AND query ~* '^\s*(ALTER|CREATE|DROP|TRUNCATE|REINDEX|CLUSTER|VACUUM\s+FULL)')), 0)::float8
		FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1`,
		AdminUser).Scan(&a.ActiveWrites, &writeSecs, &a.LongestWriter, &ddlSecs)
	if err != nil {
		return engine.Activity{}, fmt.Errorf("session activity: %w", err)
	}
	a.LongestWrite = time.Duration(writeSecs * float64(time.Second))
	a.LongestDDL = time.Duration(ddlSecs * float64(time.Second))
	return a, nil
}

// drainPoll is how often DrainSessions looks for sessions that have left
// their transaction. A poll is one cheap query on pg_stat_activity.
const drainPoll = time.Millisecond

// DrainSessions ends client sessions between transactions (see
// engine.Replicator). A session is between transactions when its backend
// is idle: not running a statement and not inside a transaction block.
func DrainSessions(ctx context.Context, l engine.Layout, deadline time.Time, skip []int) (ended, left int, err error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return 0, 0, err
	}
	defer done(c)
	if skip == nil {
		skip = []int{}
	}
	// CASE, unlike AND, guarantees that only idle backends are terminated.
	const q = `SELECT count(CASE WHEN state = 'idle' THEN pg_terminate_backend(pid) END),
			count(*) FILTER (WHERE state IS DISTINCT FROM 'idle')
		FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1
			AND NOT coalesce(client_port = ANY($2), false)`
	for {
		var n int
		if err := c.QueryRow(ctx, q, AdminUser, skip).Scan(&n, &left); err != nil {
			return ended, left, fmt.Errorf("drain sessions: %w", err)
		}
		ended += n
		if left == 0 || !time.Now().Before(deadline) {
			return ended, left, nil
		}
		select {
		case <-ctx.Done():
			return ended, left, ctx.Err()
		case <-time.After(drainPoll):
		}
	}
}

// EndSessions terminates every client session except teal's own, rolling
// back their open transactions. It returns how many it ended.
func EndSessions(ctx context.Context, l engine.Layout) (int, error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return 0, err
	}
	defer done(c)
	var n int
	err = c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1`, AdminUser).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	// Terminated backends take a moment to exit; wait so none commits later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1`, AdminUser).Scan(&left); err != nil {
			return n, fmt.Errorf("end sessions: %w", err)
		}
		if left == 0 {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("end sessions: %d sessions still running", left)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// WriteMarker commits a new heartbeat in db on blue, even when blue is
// read-only, and returns it. Once green has applied the marker, it has
// applied every transaction blue committed before it.
func WriteMarker(ctx context.Context, blue engine.Layout, db string) (float64, error) {
	c, err := session(ctx, blue, db)
	if err != nil {
		return 0, err
	}
	defer done(c)
	var at float64
	if _, err := c.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		return 0, fmt.Errorf("marker in %s: %w", db, err)
	}
	err = c.QueryRow(ctx, `UPDATE `+tealSchema+`.heartbeat SET at = clock_timestamp() WHERE id = 1
		RETURNING EXTRACT(EPOCH FROM at)::float8`).Scan(&at)
	if err != nil {
		return 0, fmt.Errorf("marker in %s: %w", db, err)
	}
	return at, nil
}

// Analyze refreshes the planner statistics of db, as after a major upgrade.
func Analyze(ctx context.Context, l engine.Layout, db string) error {
	c, err := session(ctx, l, db)
	if err != nil {
		return err
	}
	defer done(c)
	if _, err := c.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze %s: %w", db, err)
	}
	return nil
}
