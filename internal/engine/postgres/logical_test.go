package postgres

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// startServer initialises and starts a server of the given major version
// for a test or benchmark, stopping it when that ends. Tests that start
// servers are skipped by make unit (go test -short).
func startServer(t testing.TB, e *Engine, sup *supervisor.Supervisor, major, name string) engine.Layout {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL servers; make test runs it")
	}
	b, err := engine.Resolve(e.Builds(), major)
	if err != nil {
		t.Fatalf("PostgreSQL %s: %v (run scripts/install-engines.sh)", major, err)
	}
	cred, err := supervisor.ServerUser()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "teal-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o711)
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	lay := engine.Layout{Build: b, DataDir: filepath.Join(dir, "data"), SocketDir: filepath.Join(dir, "run"),
		Port: port, LogPath: filepath.Join(dir, "server.log"), Credential: cred}
	ctx := context.Background()
	if err := e.Init(ctx, lay); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteConfig(lay, e.Defaults(b), nil); err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(ctx, name, e.Spec(lay)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Stop(context.Background(), name) })
	verifier, err := e.PasswordVerifier("secret-pass-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bootstrap(ctx, lay, engine.Master{Username: "master", Verifier: verifier, DBName: "app"}); err != nil {
		t.Fatal(err)
	}
	return lay
}

// testSession is an admin session that resolves the test's own
// unqualified names in public, as a client's does.
func testSession(t *testing.T, l engine.Layout, db string) *pgx.Conn {
	t.Helper()
	c, err := Connect(context.Background(), l, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), "SET search_path = public"); err != nil {
		t.Fatal(err)
	}
	return c
}

func exec1(t *testing.T, l engine.Layout, db, q string) {
	t.Helper()
	c := testSession(t, l, db)
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func query1[T any](t *testing.T, l engine.Layout, db, q string) T {
	t.Helper()
	c := testSession(t, l, db)
	defer c.Close(context.Background())
	var v T
	if err := c.QueryRow(context.Background(), q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestLogicalReplicationAcrossMajorVersions copies roles and schema from a
// PostgreSQL 15 server to a 17, replicates the data, syncs sequences and
// detects DDL, then cleans up.
func TestLogicalReplicationAcrossMajorVersions(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	t.Cleanup(func() { sup.Close(context.Background()) })
	blue := startServer(t, e, sup, "15", "blue")
	green := startServer(t, e, sup, "17", "green")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	exec1(t, blue, "app", `CREATE ROLE reporter LOGIN PASSWORD 'r-pass-123';
		GRANT pg_read_all_stats TO reporter;
		CREATE TABLE orders (id bigserial PRIMARY KEY, note text);
		GRANT SELECT ON orders TO reporter;
		INSERT INTO orders (note) SELECT 'n' || g FROM generate_series(1, 5000) g`)
	const id = "bgd-test0000000000"
	dbs, err := UserDatabases(ctx, blue)
	if err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 2 || dbs[0] != "app" || dbs[1] != "postgres" {
		t.Fatalf("databases %v", dbs)
	}
	for _, db := range dbs {
		if err := PrepareSource(ctx, blue, id, db); err != nil {
			t.Fatal(err)
		}
	}
	// Role names and comments are the master's, and may span lines: one
	// that names tealadmin on its first line, with SQL on the next, is
	// copied as a name and a comment, never run.
	const hostileRole = "z tealadmin \n;ALTER ROLE reporter SUPERUSER;--"
	const hostileComment = "x tealadmin \nALTER ROLE reporter CREATEDB;\n"
	exec1(t, blue, "app", `CREATE ROLE "z tealadmin 
;ALTER ROLE reporter SUPERUSER;--";
		COMMENT ON ROLE reporter IS 'x tealadmin 
ALTER ROLE reporter CREATEDB;
'`)
	if err := CopyRoles(ctx, blue, green); err != nil {
		t.Fatal(err)
	}
	if query1[bool](t, green, "postgres", "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = 'reporter'") {
		t.Fatal("a role name or comment on blue ran as SQL on green")
	}
	// A role teal granted on blue (GRANTED BY tealadmin) is granted on green.
	if !query1[bool](t, green, "postgres", "SELECT pg_has_role('reporter', 'pg_read_all_stats', 'MEMBER')") {
		t.Fatal("a grant made by teal's admin on blue was not copied")
	}
	if n := query1[int64](t, green, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = "+quoteLiteral(hostileRole)); n != 1 {
		t.Fatalf("green has %d roles named %q", n, hostileRole)
	}
	if got := query1[string](t, green, "postgres", "SELECT shobj_description('reporter'::regrole, 'pg_authid')"); got != hostileComment {
		t.Fatalf("reporter's comment on green is %q, want %q", got, hostileComment)
	}
	for _, db := range dbs {
		if err := CopySchema(ctx, blue, green, db); err != nil {
			t.Fatal(err)
		}
		if err := Subscribe(ctx, blue, green, id, db); err != nil {
			t.Fatal(err)
		}
		// A second run is a no-op.
		if err := Subscribe(ctx, blue, green, id, db); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	// Every database has its own subscription and slot (pg_subscription is
	// shared by all databases of a server).
	st, err := e.ReplicationStatus(ctx, blue, green, id)
	for err == nil && !st.Healthy() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		st, err = e.ReplicationStatus(ctx, blue, green, id)
	}
	if err != nil || !st.Healthy() || st.Tables != 3 {
		t.Fatalf("replication of every database: %+v, %v", st, err)
	}
	for {
		s, err := Sync(ctx, blue, green, id, "app")
		if err != nil {
			t.Fatal(err)
		}
		if s.Tables > 0 && s.Ready == s.Tables && s.Streaming {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("initial copy not done: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	exec1(t, blue, "app", `INSERT INTO orders (note) VALUES ('after copy')`)
	c, err := Connect(ctx, blue, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := Heartbeat(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	deadline = time.Now().Add(30 * time.Second)
	for {
		n := query1[int64](t, green, "app", "SELECT count(*) FROM orders")
		lag, err := HeartbeatLag(ctx, blue, green, "app")
		if err != nil {
			t.Fatal(err)
		}
		if n == 5001 && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("green has %d rows, heartbeat lag %.3fs", n, lag)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := query1[string](t, green, "app", "SHOW server_version"); v[:2] != "17" {
		t.Fatalf("green version %s", v)
	}
	if ok := query1[bool](t, green, "app", "SELECT has_table_privilege('reporter', 'orders', 'SELECT')"); !ok {
		t.Fatal("role grants were not copied")
	}

	// Sequences: green's would restart at 1 without the sync.
	n, err := SyncSequences(ctx, blue, green, "app")
	if err != nil || n != 1 {
		t.Fatalf("synced %d sequences: %v", n, err)
	}
	if v := query1[int64](t, green, "app", "SELECT nextval('orders_id_seq')"); v != 5002 {
		t.Fatalf("green's next id %d, want 5002", v)
	}

	// DDL on blue changes the fingerprint; DML does not.
	before, err := SchemaFingerprint(ctx, blue, "app")
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, blue, "app", `INSERT INTO orders (note) VALUES ('dml')`)
	if after, _ := SchemaFingerprint(ctx, blue, "app"); after != before {
		t.Fatal("DML changed the schema fingerprint")
	}
	exec1(t, blue, "app", `ALTER TABLE orders ADD COLUMN extra int`)
	if after, _ := SchemaFingerprint(ctx, blue, "app"); after == before {
		t.Fatal("DDL did not change the schema fingerprint")
	}
	lo0, err := LargeObjectWrites(ctx, blue, "app")
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, blue, "app", `SELECT lo_from_bytea(0, 'hello')`)
	deadline = time.Now().Add(10 * time.Second)
	for {
		lo1, err := LargeObjectWrites(ctx, blue, "app")
		if err != nil {
			t.Fatal(err)
		}
		if lo1 > lo0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a large object write was not seen")
		}
		time.Sleep(200 * time.Millisecond)
	}

	for _, db := range dbs {
		if err := DropReplication(ctx, &blue, &green, id, db); err != nil {
			t.Fatal(err)
		}
	}
	if n := query1[int64](t, blue, "postgres", "SELECT count(*) FROM pg_replication_slots"); n != 0 {
		t.Fatalf("%d slots left on blue", n)
	}
	if n := query1[int64](t, blue, "app", "SELECT count(*) FROM pg_publication"); n != 0 {
		t.Fatalf("%d publications left on blue", n)
	}
	if n := query1[int64](t, green, "app", "SELECT count(*) FROM pg_subscription"); n != 0 {
		t.Fatalf("%d subscriptions left on green", n)
	}
}
