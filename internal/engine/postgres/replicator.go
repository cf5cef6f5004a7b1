package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// The engine.Replicator of PostgreSQL: one publication FOR ALL TABLES and
// one subscription per user database.

var _ engine.Replicator = (*Engine)(nil)

// SourceReady implements engine.Replicator: logical decoding needs
// wal_level=logical.
func (e *Engine) SourceReady(params map[string]string) error {
	if v := params["wal_level"]; v != "logical" {
		return fmt.Errorf("wal_level=%s; blue/green deployments need wal_level=logical", v)
	}
	return nil
}

// Preflight implements engine.Replicator.
func (e *Engine) Preflight(ctx context.Context, blue engine.Layout) ([]bluegreen.Finding, error) {
	// Green's version is not known here; CopyRoles checks the client
	// programs against it.
	if err := canDump(blue.Build); err != nil {
		return nil, err
	}
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return nil, err
	}
	var out []bluegreen.Finding
	for _, db := range dbs {
		fs, err := Preflight(ctx, blue, db)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// StartReplication implements engine.Replicator. teal copies the data
// itself (fastCopy) unless the copy would evaluate the master user's
// functions: then the subscription copies, which from PostgreSQL 16 on
// writes each table as its owner (a green older than 16 is refused such a
// blue by the preflight). SubscriptionCopy chooses the subscription always.
func (e *Engine) StartReplication(ctx context.Context, blue, green engine.Layout, id string, progress func(engine.CopyProgress)) error {
	if progress == nil {
		progress = func(engine.CopyProgress) {}
	}
	dbs, userCode, err := prepareBlue(ctx, blue, id)
	if err != nil {
		return err
	}
	byTeal := !e.SubscriptionCopy && !userCode
	progress(engine.CopyProgress{Phase: "copying roles"})
	if err := CopyRoles(ctx, blue, green); err != nil {
		return err
	}
	for _, db := range dbs {
		if byTeal {
			if err := fastCopy(ctx, blue, green, id, db, progress); err != nil {
				return err
			}
			continue
		}
		progress(engine.CopyProgress{Phase: "copying the schema of database " + db})
		if err := CopySchema(ctx, blue, green, db); err != nil {
			return err
		}
		if err := Subscribe(ctx, blue, green, id, db); err != nil {
			return err
		}
	}
	return nil
}

// prepareBlue readies every user database of blue for the deployment: a
// table without primary key gets REPLICA IDENTITY FULL, and the heartbeat
// and publication are created. It reports whether a database holds the
// master user's functions that applying a row calls.
func prepareBlue(ctx context.Context, blue engine.Layout, id string) (dbs []string, userCode bool, err error) {
	dbs, err = UserDatabases(ctx, blue)
	if err != nil {
		return nil, false, err
	}
	for _, db := range dbs {
		fs, err := Preflight(ctx, blue, db)
		if err != nil {
			return nil, false, err
		}
		for _, f := range fs {
			switch f.Kind {
			case bluegreen.FindNoPrimaryKey:
				if err := SetReplicaIdentityFull(ctx, blue, db, f.Object); err != nil {
					return nil, false, err
				}
			case bluegreen.FindApplyRunsUserCode:
				userCode = true
			}
		}
		if err := PrepareSource(ctx, blue, id, db); err != nil {
			return nil, false, err
		}
	}
	return dbs, userCode, nil
}

var _ engine.Loader = (*Engine)(nil)

// LoadSettings implements engine.Loader. With wal_level=minimal, a table
// truncated and loaded in one transaction, and an index built, are written
// without WAL and synced at commit: the copy writes its data once instead
// of twice. No replica or slot can follow a server in that state, and none
// does while green is loaded; so no commit may wait for a standby, and
// from 17 on no WAL is summarized. Checkpoints wait for the end of the
// load, and autovacuum too: green is analyzed once its data is in.
func (e *Engine) LoadSettings(b engine.Build) map[string]string {
	out := map[string]string{
		"wal_level":                 "minimal",
		"max_wal_senders":           "0",
		"synchronous_standby_names": "",
		"max_wal_size":              "16GB",
		"checkpoint_timeout":        "1h",
		"autovacuum":                "off",
	}
	if majorOf(b) >= 17 {
		out["summarize_wal"] = "off"
	}
	return out
}

// ReplicationStatus implements engine.Replicator.
func (e *Engine) ReplicationStatus(ctx context.Context, blue, green engine.Layout, id string) (engine.ReplicationStatus, error) {
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return engine.ReplicationStatus{}, err
	}
	st := engine.ReplicationStatus{Streaming: true}
	var problems []string
	for _, db := range dbs {
		s, err := Sync(ctx, blue, green, id, db)
		if err != nil {
			problems = append(problems, err.Error())
			st.Streaming = false
			continue
		}
		st.Tables += s.Tables
		st.TablesCopied += s.Ready
		st.LagBytes = max(st.LagBytes, s.LagBytes)
		if !s.Streaming {
			st.Streaming = false
			problems = append(problems, fmt.Sprintf("changes of database %s are not streaming", db))
		}
		lag, err := HeartbeatLag(ctx, blue, green, db)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		st.LagSeconds = max(st.LagSeconds, lag)
	}
	st.Problem = strings.Join(problems, "; ")
	return st, nil
}

// Heartbeat implements engine.Replicator.
func (e *Engine) Heartbeat(ctx context.Context, blue engine.Layout) error {
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		c, err := Connect(ctx, blue, db)
		if err != nil {
			return err
		}
		err = Heartbeat(ctx, c)
		c.Close(context.Background())
		if err != nil {
			return fmt.Errorf("heartbeat in %s: %w", db, err)
		}
	}
	return nil
}

// SchemaState implements engine.Replicator.
func (e *Engine) SchemaState(ctx context.Context, blue engine.Layout) (engine.SchemaState, error) {
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return engine.SchemaState{}, err
	}
	st := engine.SchemaState{Fingerprints: map[string]string{}, LargeObjectWrites: map[string]int64{}}
	for _, db := range dbs {
		if st.Fingerprints[db], err = SchemaFingerprint(ctx, blue, db); err != nil {
			return st, err
		}
		if st.LargeObjectWrites[db], err = LargeObjectWrites(ctx, blue, db); err != nil {
			return st, err
		}
	}
	return st, nil
}

// AfterInitialCopy implements engine.Replicator: fresh planner statistics,
// which a major upgrade would otherwise lack. From 18 on, pg_upgrade
// carries the statistics of columns and expression indexes but not those
// of extended statistics objects: only the tables it left something out of
// are analyzed again (onlyMissing).
func (e *Engine) AfterInitialCopy(ctx context.Context, green engine.Layout, onlyMissing bool, progress func(engine.CopyProgress)) error {
	if progress == nil {
		progress = func(engine.CopyProgress) {}
	}
	dbs, err := UserDatabases(ctx, green)
	if err != nil {
		return err
	}
	tables := make([][]string, len(dbs))
	total := 0
	for i, db := range dbs {
		if tables[i], err = tablesToAnalyze(ctx, green, db, onlyMissing); err != nil {
			return err
		}
		total += len(tables[i])
	}
	var analyzed atomic.Int64
	start := time.Now()
	report := func() {
		progress(engine.CopyProgress{Phase: "collecting statistics", Item: "tables",
			Done: int(analyzed.Load()), Total: total, Elapsed: time.Since(start)})
	}
	stop := reportEvery(500*time.Millisecond, report)
	defer stop()
	for i, db := range dbs {
		if err := Analyze(ctx, green, db, tables[i], &analyzed); err != nil {
			return err
		}
	}
	return nil
}

// Activity implements engine.Replicator.
func (e *Engine) Activity(ctx context.Context, l engine.Layout) (engine.Activity, error) {
	return SessionActivity(ctx, l)
}

// ExternalReplication implements engine.Replicator: a subscription that is
// not teal's makes blue a replication target.
func (e *Engine) ExternalReplication(ctx context.Context, blue engine.Layout) (bool, error) {
	c, err := session(ctx, blue, "postgres")
	if err != nil {
		return false, err
	}
	defer done(c)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_subscription WHERE subname NOT LIKE 'teal\_%'`).Scan(&n); err != nil {
		return false, fmt.Errorf("external replication: %w", err)
	}
	return n > 0, nil
}

// DrainSessions implements engine.Replicator.
func (e *Engine) DrainSessions(ctx context.Context, l engine.Layout, deadline time.Time, skip []int) (int, int, error) {
	return DrainSessions(ctx, l, deadline, skip)
}

// EndSessions implements engine.Replicator.
func (e *Engine) EndSessions(ctx context.Context, l engine.Layout) (int, error) {
	return EndSessions(ctx, l)
}

// WriteMarker implements engine.Replicator: a heartbeat committed in every
// database, all at once.
func (e *Engine) WriteMarker(ctx context.Context, blue engine.Layout) (engine.Marker, error) {
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return nil, err
	}
	m := engine.Marker{}
	var mu sync.Mutex
	err = eachDB(dbs, func(db string) error {
		at, err := WriteMarker(ctx, blue, db)
		if err != nil {
			return err
		}
		mu.Lock()
		m[db] = strconv.FormatFloat(at, 'f', -1, 64)
		mu.Unlock()
		return nil
	})
	return m, err
}

// WaitMarker implements engine.Replicator: one connection per database,
// polled every millisecond or two until green has applied the marker.
func (e *Engine) WaitMarker(ctx context.Context, green engine.Layout, m engine.Marker) error {
	var dbs []string
	for db := range m {
		dbs = append(dbs, db)
	}
	return eachDB(dbs, func(db string) error {
		at, err := strconv.ParseFloat(m[db], 64)
		if err != nil {
			return fmt.Errorf("marker of %s: %w", db, err)
		}
		c, err := session(ctx, green, db)
		if err != nil {
			return err
		}
		defer done(c)
		for {
			var got float64
			if err := c.QueryRow(ctx, `SELECT EXTRACT(EPOCH FROM at)::float8 FROM `+tealSchema+`.heartbeat WHERE id = 1`).Scan(&got); err != nil {
				return fmt.Errorf("green marker in %s: %w", db, err)
			}
			if got >= at {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("green has not caught up with blue in %s: %w", db, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	})
}

// eachDB runs fn for every database at once and returns the first error.
func eachDB(dbs []string, fn func(db string) error) error {
	errs := make(chan error, len(dbs))
	for _, db := range dbs {
		go func(db string) { errs <- fn(db) }(db)
	}
	var first error
	for range dbs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// SyncSequences implements engine.Replicator.
func (e *Engine) SyncSequences(ctx context.Context, blue, green engine.Layout) (int, error) {
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	total := 0
	err = eachDB(dbs, func(db string) error {
		n, err := SyncSequences(ctx, blue, green, db)
		mu.Lock()
		total += n
		mu.Unlock()
		return err
	})
	return total, err
}

// StopReplication implements engine.Replicator.
func (e *Engine) StopReplication(ctx context.Context, blue, green *engine.Layout, id string) error {
	var dbs []string
	var err error
	switch {
	case blue != nil:
		dbs, err = UserDatabases(ctx, *blue)
	case green != nil:
		dbs, err = UserDatabases(ctx, *green)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	// Each side is cleaned even when the other cannot be reached (a green
	// whose build stopped before its server ran).
	var errs []error
	for _, db := range dbs {
		if green != nil {
			errs = append(errs, DropReplication(ctx, nil, green, id, db))
		}
		if blue != nil {
			errs = append(errs, DropReplication(ctx, blue, nil, id, db))
		}
	}
	if blue != nil {
		// The slot of a green cloned from blue, if its build stopped early.
		errs = append(errs, e.DropReplicationSlot(ctx, *blue, cloneSlotName(id)))
	}
	return errors.Join(errs...)
}
