package e2e

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/tealdb/teal/internal/rds"
)

// TestMariaDBInstance creates a MariaDB instance, reaches it through its
// endpoint as the master user, applies an immediate parameter, reboots,
// survives a restart of teal, and deletes it.
func TestMariaDBInstance(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "10.11")
	ctx := ctxFor(t, 4*time.Minute)
	if _, err := svc.CreateDBParameterGroup(ctx, "maria", "mariadb10.11", "MariaDB", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "maria", Engine: "mariadb",
		DBInstanceClass: "db.t3.micro", MasterUsername: "admin", MasterUserPassword: masterPass, DBName: "shop",
		DBParameterGroupName: "maria"}); err != nil {
		t.Fatal(err)
	}
	inst := waitStatus(t, svc, "maria", rds.StatusAvailable, 2*time.Minute)
	if inst.EngineVersion[:6] != "10.11." {
		t.Fatalf("engine version %s", inst.EngineVersion)
	}
	open := func() *sql.DB {
		db, err := sql.Open("mysql", fmt.Sprintf("admin:%s@tcp(127.0.0.1:%d)/shop?timeout=5s", masterPass, inst.Endpoint.Port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db := open()
	if _, err := db.ExecContext(ctx, "CREATE TABLE items (id int PRIMARY KEY, name text) ENGINE=InnoDB"); err != nil {
		t.Fatalf("write through the endpoint: %v", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO items VALUES (1, 'one'), (2, 'two')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 2 {
		t.Fatalf("read: %d, %v", n, err)
	}
	var binlog, gtidStrict string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@gtid_strict_mode").Scan(&binlog, &gtidStrict); err != nil || binlog != "1" || gtidStrict != "1" {
		t.Fatalf("defaults for blue/green: log_bin=%s gtid_strict_mode=%s (%v)", binlog, gtidStrict, err)
	}

	// A read replica by GTID replication.
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{DBInstanceIdentifier: "maria-r1",
		SourceDBInstanceIdentifier: "maria"}); err != nil {
		t.Fatal(err)
	}
	replica := waitStatus(t, svc, "maria-r1", rds.StatusAvailable, 2*time.Minute)
	if _, err := db.ExecContext(ctx, "INSERT INTO items VALUES (3, 'after the copy')"); err != nil {
		t.Fatal(err)
	}
	rdb, err := sql.Open("mysql", fmt.Sprintf("admin:%s@tcp(127.0.0.1:%d)/shop?timeout=5s", masterPass, replica.Endpoint.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	eventually(t, 30*time.Second, "the replica has the row written after the copy", func() error {
		var c int
		if err := rdb.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&c); err != nil {
			return err
		}
		if c != 3 {
			return errorf("replica has %d rows", c)
		}
		return nil
	})
	if _, err := rdb.ExecContext(ctx, "INSERT INTO items VALUES (4, 'x')"); err == nil {
		t.Fatal("the read replica accepted a write")
	}
	if _, err := svc.ReplicaLag(ctx, "maria-r1"); err != nil {
		t.Fatalf("replica lag: %v", err)
	}
	if _, err := svc.PromoteReadReplica(ctx, "maria-r1"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "maria-r1", rds.StatusAvailable, time.Minute)
	eventually(t, 10*time.Second, "the promoted replica accepts writes", func() error {
		_, err := rdb.ExecContext(ctx, "INSERT INTO items VALUES (4, 'promoted')")
		return err
	})

	// max_connections is dynamic: it applies at once.
	if _, err := svc.ModifyDBParameterGroup(ctx, "maria", []rds.ParameterChange{
		{ParameterName: "max_connections", ParameterValue: "77", ApplyMethod: "immediate"}}); err != nil {
		t.Fatal(err)
	}
	var maxConn int
	if err := db.QueryRowContext(ctx, "SELECT @@max_connections").Scan(&maxConn); err != nil || maxConn != 77 {
		t.Fatalf("max_connections after an immediate change: %d (%v)", maxConn, err)
	}
	if got := describe(t, svc, "maria"); got.DBParameterGroups[0].ParameterApplyStatus != "in-sync" {
		t.Fatalf("apply status %s", got.DBParameterGroups[0].ParameterApplyStatus)
	}

	if _, err := svc.RebootDBInstance(ctx, "maria"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "maria", rds.StatusAvailable, time.Minute)
	svc.Close()
	svc = openService(t, dir)
	waitStatus(t, svc, "maria", rds.StatusAvailable, time.Minute)
	db2 := open()
	eventually(t, 20*time.Second, "data after restarts", func() error {
		return db2.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n)
	})
	if n != 3 {
		t.Fatalf("%d rows after restarts", n)
	}
	for _, id := range []string{"maria", "maria-r1"} {
		if _, err := svc.DeleteDBInstance(ctx, id, true, ""); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, svc, id, "deleted", 2*time.Minute)
	}
	if ps := serverProcesses(t, dir); len(ps) > 0 {
		t.Fatalf("processes left: %v", ps)
	}
}
