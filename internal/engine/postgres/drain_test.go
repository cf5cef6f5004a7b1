package postgres

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/supervisor"
)

// TestDrainSessions: an idle session ends at once; a session inside a
// transaction may still commit, and ends right after; a session whose port
// is skipped is left alone; one that never leaves its transaction is still
// open at the deadline.
func TestDrainSessions(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	t.Cleanup(func() { sup.Close(context.Background()) })
	l := startServer(t, e, sup, "15", "drain")
	exec1(t, l, "app", `CREATE TABLE ledger (id int PRIMARY KEY); GRANT ALL ON ledger TO master`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func() *pgx.Conn {
		t.Helper()
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://master:secret-pass-1@127.0.0.1:%d/app?sslmode=disable", l.Port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	port := func(c *pgx.Conn) int { return c.PgConn().Conn().LocalAddr().(*net.TCPAddr).Port }
	idle, inTxn, skipped, stuck := open(), open(), open(), open()
	txn, err := inTxn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Exec(ctx, "INSERT INTO ledger VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := stuck.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}

	type result struct{ ended, left int }
	done := make(chan result, 1)
	go func() {
		ended, left, err := DrainSessions(ctx, l, time.Now().Add(3*time.Second), []int{port(skipped)})
		if err != nil {
			t.Error(err)
		}
		done <- result{ended, left}
	}()
	// The idle session ends while the other two are still in transactions.
	deadline := time.Now().Add(2 * time.Second)
	for idle.Ping(ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the idle session was not ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := txn.Commit(ctx); err != nil {
		t.Fatalf("a transaction open when the drain began could not commit: %v", err)
	}
	r := <-done
	if r.ended != 2 || r.left != 1 {
		t.Errorf("drain ended %d sessions and left %d, want 2 and 1 (the stuck transaction)", r.ended, r.left)
	}
	if inTxn.Ping(ctx) == nil {
		t.Error("the session survived after its commit")
	}
	if err := skipped.Ping(ctx); err != nil {
		t.Errorf("the skipped session was ended: %v", err)
	}
	if err := stuck.Ping(ctx); err != nil {
		t.Errorf("the session still in its transaction was ended before EndSessions: %v", err)
	}
	if n := query1[int](t, l, "app", "SELECT count(*) FROM ledger"); n != 1 {
		t.Errorf("ledger has %d rows after the commit, want 1", n)
	}
}
