package postgres

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tealdb/teal/internal/engine"
)

// teal's own initial copy of a database into green. Where the subscription
// copies each table into a table whose indexes already exist, one table at
// a time per worker, teal copies everything at one consistent point with
// the indexes still missing, several tables at once, and builds indexes
// and constraints afterwards, in parallel:
//
//  1. the slot is created on blue through a replication connection, which
//     exports the snapshot of its consistent point: exactly the transactions
//     that committed before the point the slot streams from;
//  2. pg_dump reads the schema in that snapshot, and green gets its
//     pre-data part (types, tables, functions; no indexes or constraints
//     other than checks and not-nulls);
//  3. workers, each in a transaction that imported the snapshot, copy the
//     tables, the largest first, each into a table truncated in the same
//     transaction on green (COPY FREEZE: the rows need no vacuum to freeze);
//  4. pg_restore builds the post-data part (indexes, constraints,
//     triggers) with as many jobs as workers;
//  5. the subscription starts from the slot without copying, its origin
//     advanced to the consistent point.
//
// Each table is loaded as its owner, so the constraints and generated
// columns COPY evaluates run the master's functions with the master's
// rights, as the subscription's copy does from 16 on. Where the preflight
// found such functions anyway, the subscription copies (StartReplication
// decides).

// copyWorkers is how many tables are copied, and index jobs run, at once.
func copyWorkers() int { return max(2, min(4, runtime.NumCPU())) }

// loadOptions are the settings of teal's sessions that load green: their
// commits need not wait for WAL to be flushed (a green whose copy is
// interrupted is built again from the start) and index builds get memory.
const loadOptions = "-c synchronous_commit=off -c maintenance_work_mem=256MB"

// copyTable is one table of blue to copy.
type copyTable struct {
	ident   string // schema-qualified, quoted
	owner   string // quoted
	columns string // quoted, in order; generated columns are left out ("": none)
	size    int64  // bytes of its heap on blue
	binary  bool   // every column is of a built-in type: copied in binary
}

// exportedSlot is a replication connection to blue that created a logical
// slot and holds the snapshot of its consistent point. The snapshot can be
// imported until the connection runs anything else or closes.
type exportedSlot struct {
	conn     *pgconn.PgConn
	LSN      string // the consistent point
	Snapshot string
}

// createExportedSlot creates slot on blue for db, replacing a stale one of
// an interrupted earlier attempt.
func createExportedSlot(ctx context.Context, blue engine.Layout, db, slot string) (*exportedSlot, error) {
	c, err := session(ctx, blue, db)
	if err != nil {
		return nil, err
	}
	_, err = c.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, slot)
	done(c)
	if err != nil {
		return nil, fmt.Errorf("drop stale slot %s: %w", slot, err)
	}
	cfg, err := connConfig(blue, db)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	rc, err := pgconn.ConnectConfig(ctx, &cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("replication connection to blue's %s: %w", db, err)
	}
	// The slot name is teal's own (slotNameFor): lower-case letters,
	// digits and underscores.
	res, err := rc.Exec(ctx, "CREATE_REPLICATION_SLOT "+slot+" LOGICAL pgoutput EXPORT_SNAPSHOT").ReadAll()
	if err == nil && (len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) < 3) {
		err = errors.New("unexpected answer")
	}
	if err != nil {
		rc.Close(context.Background())
		return nil, fmt.Errorf("create slot %s on blue: %w", slot, err)
	}
	row := res[0].Rows[0]
	return &exportedSlot{conn: rc, LSN: string(row[1]), Snapshot: string(row[2])}, nil
}

// Release ends the replication connection; the slot stays.
func (s *exportedSlot) Release() { s.conn.Close(context.Background()) }

// fastCopy copies db from blue into green as described above and starts
// the subscription after it. progress gets the copy's state as it goes.
func fastCopy(ctx context.Context, blue, green engine.Layout, id, db string, progress func(engine.CopyProgress)) (err error) {
	if err := createDatabase(ctx, blue, green, db); err != nil {
		return err
	}
	dump, err := clientTool("pg_dump", blue.Build, green.Build)
	if err != nil {
		return err
	}
	restore, err := clientTool("pg_restore", blue.Build, green.Build)
	if err != nil {
		return err
	}
	load, err := clientTool("psql", blue.Build, green.Build)
	if err != nil {
		return err
	}
	slot := slotNameFor(id, db)
	progress(engine.CopyProgress{Phase: "copying the schema of database " + db})
	exp, err := createExportedSlot(ctx, blue, db, slot)
	if err != nil {
		return err
	}
	released := false
	release := func() {
		if !released {
			exp.Release()
			released = true
		}
	}
	defer release()

	// The schema holds no rows, but it names everything: it goes beside
	// green's data, readable by teal only, and is removed.
	// Its name comes from a hash: a database's name is the master user's
	// to choose, and may hold "/" and "..".
	sum := sha256.Sum256([]byte(db))
	file := filepath.Join(filepath.Dir(green.DataDir), "schema-"+hex.EncodeToString(sum[:8])+".dump")
	defer func() {
		if rerr := os.Remove(file); rerr != nil && !os.IsNotExist(rerr) {
			err = errors.Join(err, fmt.Errorf("remove the schema dump of %s: %w", db, rerr))
		}
	}()
	// Made here, mode 0600, before pg_dump writes into it.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err == nil {
		err = errors.Join(f.Chmod(0o600), f.Close())
	}
	if err != nil {
		return fmt.Errorf("schema dump of %s: %w", db, err)
	}
	if _, err := output(exec.CommandContext(ctx, dump, "--schema-only", "--no-publications", "--no-subscriptions",
		"--format=custom", "--snapshot="+exp.Snapshot, "--file="+file, "-d", connString(blue, db))); err != nil {
		return fmt.Errorf("dump schema of %s: %w", db, err)
	}

	// Every worker's transaction imports the snapshot before the slot's
	// connection is let go.
	workers := copyWorkers()
	readers := make([]*pgx.Conn, 0, workers)
	defer func() {
		for _, c := range readers {
			c.Close(context.Background())
		}
	}()
	for range workers {
		c, err := Connect(ctx, blue, db)
		if err != nil {
			return err
		}
		readers = append(readers, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return fmt.Errorf("copy %s: %w", db, err)
		}
		if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(exp.Snapshot)); err != nil {
			return fmt.Errorf("copy %s: import the slot's snapshot: %w", db, err)
		}
	}
	release()

	// The schema is loaded as a superuser, and the rows applied as one
	// before 16: what the snapshot holds must pass the preflight's rules.
	if err := refuseUserCode(ctx, readers[0], db, green.Build.Major()); err != nil {
		return err
	}
	pre, err := output(exec.CommandContext(ctx, restore, "--section=pre-data", "--file=-", file))
	if err != nil {
		return fmt.Errorf("read schema of %s: %w", db, err)
	}
	if err := psql(ctx, load, green, db, loadableInto(pre, majorOf(green.Build)), true); err != nil {
		return err
	}
	tables, err := tablesToCopy(ctx, readers[0], publicationName(id))
	if err != nil {
		return fmt.Errorf("copy %s: %w", db, err)
	}
	if err := copyTables(ctx, readers, green, db, tables, progress); err != nil {
		return err
	}
	for _, c := range readers {
		if _, err := c.Exec(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("copy %s: %w", db, err)
		}
	}

	progress(engine.CopyProgress{Phase: "building the indexes and constraints of database " + db})
	if err := restorePostData(ctx, restore, load, green, db, file, workers); err != nil {
		return err
	}
	return subscribeAt(ctx, blue, green, id, db, exp.LSN)
}

// createDatabase creates db on green, owned as on blue.
func createDatabase(ctx context.Context, blue, green engine.Layout, db string) error {
	bc, err := session(ctx, blue, "postgres")
	if err != nil {
		return err
	}
	var owner string
	err = bc.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, db).Scan(&owner)
	done(bc)
	if err != nil {
		return fmt.Errorf("owner of database %s: %w", db, err)
	}
	gc, err := session(ctx, green, "postgres")
	if err != nil {
		return err
	}
	defer done(gc)
	var exists bool
	if err := gc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s on green: %w", db, err)
	}
	q := fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", pgx.Identifier{db}.Sanitize(), pgx.Identifier{owner}.Sanitize())
	if !exists {
		q = fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{db}.Sanitize(), pgx.Identifier{owner}.Sanitize())
	}
	if _, err := gc.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s on green: %w", db, err)
	}
	return nil
}

// tablesToCopy lists, in the snapshot c holds, the tables of the
// publication with the columns a COPY carries, the largest first.
func tablesToCopy(ctx context.Context, c *pgx.Conn, pub string) ([]copyTable, error) {
	// The binary form of a built-in type (an OID below 16384) is the same
	// in every version; that of another type may name OIDs (of an array's
	// elements, of a record's columns) that differ between blue and green,
	// or not exist at all.
	rows, err := c.Query(ctx, `SELECT format('%I.%I', n.nspname, t.relname), quote_ident(pg_get_userbyid(t.relowner)),
			pg_relation_size(t.oid), cols.list, COALESCE(cols.builtin, true)
		FROM pg_publication_tables p
		JOIN pg_namespace n ON n.nspname = p.schemaname
		JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = p.tablename
		CROSS JOIN LATERAL (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS list,
				bool_and(a.atttypid < 16384) AS builtin
			FROM pg_attribute a
			WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') cols
		WHERE p.pubname = $1`, pub)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out []copyTable
	var cols *string
	var t copyTable
	if _, err := pgx.ForEachRow(rows, []any{&t.ident, &t.owner, &t.size, &cols, &t.binary}, func() error {
		t.columns = ""
		if cols != nil {
			t.columns = *cols
		}
		out = append(out, t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].size > out[j].size })
	return out, nil
}

// copyTables copies tables with one worker per reader, each reader a blue
// session in the snapshot, reporting progress every half second.
func copyTables(ctx context.Context, readers []*pgx.Conn, green engine.Layout, db string, tables []copyTable, progress func(engine.CopyProgress)) error {
	var total int64
	for _, t := range tables {
		total += t.size
	}
	var (
		next, finished atomic.Int64
		bytesDone      atomic.Int64   // heap bytes of the tables finished
		inFlight       []atomic.Int64 // bytes streamed of each worker's table
	)
	inFlight = make([]atomic.Int64, len(readers))
	start := time.Now()
	report := func() {
		b := bytesDone.Load()
		for i := range inFlight {
			b += inFlight[i].Load()
		}
		progress(engine.CopyProgress{Phase: "copying the data of database " + db, Item: "tables",
			Done: int(finished.Load()), Total: len(tables), Bytes: min(b, total), BytesTotal: total, Elapsed: time.Since(start)})
	}
	stop := reportEvery(500*time.Millisecond, report)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w, reader := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gc, err := Connect(ctx, green, db)
			if err != nil {
				cancel(err)
				return
			}
			defer gc.Close(context.Background())
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tables) || ctx.Err() != nil {
					return
				}
				t := tables[i]
				if err := copyOne(ctx, reader, gc, t, &inFlight[w]); err != nil {
					cancel(fmt.Errorf("copy table %s of database %s: %w", t.ident, db, err))
					return
				}
				bytesDone.Add(t.size)
				inFlight[w].Store(0)
				finished.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	report()
	return nil
}

// reportEvery calls report now and then every interval until the returned
// stop is called.
func reportEvery(interval time.Duration, report func()) (stop func()) {
	report()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				report()
			}
		}
	}()
	return func() { close(done) }
}

// copyOne streams one table from blue into green, in one transaction on
// green that truncates it first. streamed counts the bytes, up to the
// table's size. The load runs as the table's owner: COPY evaluates check
// and domain constraints and partition bounds as the session's user, and
// the functions they call, directly or through a built-in that runs a
// query, are the master's.
func copyOne(ctx context.Context, reader, writer *pgx.Conn, t copyTable, streamed *atomic.Int64) error {
	if _, err := writer.Exec(ctx, "BEGIN; SET LOCAL ROLE "+t.owner+"; SET LOCAL synchronous_commit = off; TRUNCATE ONLY "+t.ident); err != nil {
		return err
	}
	// A table without columns to copy still has rows: COPY without a
	// column list carries them.
	target := t.ident
	if t.columns != "" {
		target += " (" + t.columns + ")"
	}
	out, in := "COPY "+target+" TO STDOUT", "COPY "+target+" FROM STDIN WITH (FREEZE)"
	if t.binary {
		out, in = out+" WITH (FORMAT binary)", "COPY "+target+" FROM STDIN WITH (FREEZE, FORMAT binary)"
	}
	pr, pw := io.Pipe()
	sent := make(chan error, 1)
	go func() {
		// Rows come one message each; they go on to green in large
		// chunks, which is what makes the relay cheap.
		buf := bufio.NewWriterSize(&countingWriter{w: pw, n: streamed, limit: t.size}, 256<<10)
		_, err := reader.PgConn().CopyTo(ctx, buf, out)
		if err == nil {
			err = buf.Flush()
		}
		pw.CloseWithError(err)
		sent <- err
	}()
	_, err := writer.PgConn().CopyFrom(ctx, pr, in)
	pr.CloseWithError(errors.New("the load into green ended"))
	if serr := <-sent; serr != nil && err == nil {
		err = fmt.Errorf("read from blue: %w", serr)
	}
	if err != nil {
		// The copy fails and with it green's build, which starts over
		// from a new server: a rollback that fails too changes nothing.
		if _, rerr := writer.Exec(context.Background(), "ROLLBACK"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
		return err
	}
	if _, err := writer.Exec(ctx, "COMMIT"); err != nil {
		return err
	}
	return nil
}

// countingWriter counts what passes through it, up to limit.
type countingWriter struct {
	w     io.Writer
	n     *atomic.Int64
	limit int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if v := c.n.Add(int64(n)); v > c.limit {
		c.n.Store(c.limit)
	}
	return n, err
}

// restorePostData builds the indexes, constraints and triggers of db on
// green from the schema dump, with jobs parallel sessions. A client newer
// than green writes settings green may not know; its script is filtered
// and loaded by one session instead.
func restorePostData(ctx context.Context, restore, load string, green engine.Layout, db, file string, jobs int) error {
	if clientMajor(restore) > majorOf(green.Build) {
		post, err := output(exec.CommandContext(ctx, restore, "--section=post-data", "--file=-", file))
		if err != nil {
			return fmt.Errorf("read schema of %s: %w", db, err)
		}
		return psql(ctx, load, green, db, loadableInto(post, majorOf(green.Build)), true)
	}
	cmd := exec.CommandContext(ctx, restore, "--section=post-data", "--exit-on-error", fmt.Sprintf("--jobs=%d", jobs),
		"-d", connString(green, db), file)
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c default_transaction_read_only=off "+loadOptions)
	if _, err := output(cmd); err != nil {
		return fmt.Errorf("build indexes and constraints of %s on green: %w", db, err)
	}
	return nil
}

// clientMajor is the major version of the client programs bin belongs to.
func clientMajor(bin string) int {
	for _, c := range clients() {
		if c.BinDir == filepath.Dir(bin) {
			return c.Major
		}
	}
	return 0
}

// subscribeAt creates green's subscription of db from the slot teal created,
// without copying, starting at lsn, the slot's consistent point.
func subscribeAt(ctx context.Context, blue, green engine.Layout, id, db, lsn string) error {
	c, err := session(ctx, green, db)
	if err != nil {
		return err
	}
	defer done(c)
	if err := guardGreen(ctx, c, db); err != nil {
		return err
	}
	// From here on only teal changes green's schema: what the apply will
	// evaluate is what is there now.
	if err := refuseUserCode(ctx, c, db, green.Build.Major()); err != nil {
		return err
	}
	sub := subscriptionName(id)
	slot := slotNameFor(id, db)
	conn := quoteLiteral(replicationConnString(blue, db) + " application_name=" + slot)
	if _, err := c.Exec(ctx, fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s
		WITH (copy_data = false, create_slot = false, enabled = false, slot_name = %s)`,
		sub, conn, publicationName(id), quoteLiteral(slot))); err != nil {
		return fmt.Errorf("create subscription in %s: %w", db, err)
	}
	if _, err := c.Exec(ctx, `SELECT pg_replication_origin_advance('pg_' || oid, $1::pg_lsn) FROM pg_subscription
		WHERE subname = $2 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, lsn, sub); err != nil {
		return fmt.Errorf("start subscription in %s at %s: %w", db, lsn, err)
	}
	if _, err := c.Exec(ctx, "ALTER SUBSCRIPTION "+sub+" ENABLE"); err != nil {
		return fmt.Errorf("enable subscription in %s: %w", db, err)
	}
	return nil
}
