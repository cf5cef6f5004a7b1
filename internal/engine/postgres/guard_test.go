package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/supervisor"
)

// TestTealSchemaOfTheMasterStays: a schema named teal that the master made
// is refused, and removing the deployment's replication leaves it and what
// is in it; teal's own schema is removed.
func TestTealSchemaOfTheMasterStays(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	t.Cleanup(func() { sup.Close(context.Background()) })
	blue := startServer(t, e, sup, "15", "schema")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const id = "bgd-schema00000000"
	exec1(t, blue, "app", `CREATE SCHEMA teal AUTHORIZATION master;
		CREATE TABLE teal.heartbeat (id int PRIMARY KEY, note text);
		ALTER TABLE teal.heartbeat OWNER TO master;
		INSERT INTO teal.heartbeat VALUES (1, 'the master''s row')`)
	if err := PrepareSource(ctx, blue, id, "app"); err == nil || !strings.Contains(err.Error(), "schema teal belongs to master") {
		t.Fatalf("PrepareSource with the master's schema teal: %v", err)
	}
	if err := DropReplication(ctx, &blue, nil, id, "app"); err != nil {
		t.Fatal(err)
	}
	if n := query1[int64](t, blue, "app", "SELECT count(*) FROM teal.heartbeat WHERE note = 'the master''s row'"); n != 1 {
		t.Fatalf("the master's row: %d left", n)
	}

	exec1(t, blue, "app", "DROP SCHEMA teal CASCADE")
	if err := PrepareSource(ctx, blue, id, "app"); err != nil {
		t.Fatal(err)
	}
	if err := DropReplication(ctx, &blue, nil, id, "app"); err != nil {
		t.Fatal(err)
	}
	if n := query1[int64](t, blue, "app", "SELECT count(*) FROM pg_namespace WHERE nspname = 'teal'"); n != 0 {
		t.Fatal("teal's own schema stayed after its replication was removed")
	}
}

// TestMasterSearchPathIgnored: the master owns its database and may give it
// a search_path that puts its own functions before the catalog's; teal's
// superuser sessions still call the catalog's.
func TestMasterSearchPathIgnored(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	t.Cleanup(func() { sup.Close(context.Background()) })
	l := startServer(t, e, sup, "15", "searchpath")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := pgx.Connect(ctx, fmt.Sprintf("postgres://master:secret-pass-1@127.0.0.1:%d/app?sslmode=disable", l.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if _, err := m.Exec(ctx, `ALTER DATABASE app SET search_path = public, pg_catalog;
		CREATE FUNCTION public.pg_is_in_recovery() RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN EXECUTE 'ALTER ROLE master SUPERUSER'; RETURN false; END $$`); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(ctx, l, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var inRecovery bool
	if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		t.Fatal(err)
	}
	if query1[bool](t, l, "postgres", "SELECT rolsuper FROM pg_roles WHERE rolname = 'master'") {
		t.Fatal("teal's session ran the master's pg_is_in_recovery as superuser")
	}
}
