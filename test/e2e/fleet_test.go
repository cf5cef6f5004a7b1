package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// TestFleet creates PostgreSQL 15 and 17 instances, writes and reads through
// their endpoints, adds a read replica to the 15, and renames the primary.
func TestFleet(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 5*time.Minute)

	pg15 := createPostgres(t, svc, "orders", "15")
	pg17 := createPostgres(t, svc, "billing", "17")
	if pg15.EngineVersion[:3] != "15." || pg17.EngineVersion[:3] != "17." {
		t.Fatalf("versions: %s and %s", pg15.EngineVersion, pg17.EngineVersion)
	}
	if !strings.HasPrefix(pg15.DbiResourceId, "db-") || len(pg15.DbiResourceId) != 29 {
		t.Fatalf("DbiResourceId %q", pg15.DbiResourceId)
	}
	if pg15.DBInstanceArn != "arn:aws:rds:us-east-1:000000000000:db:orders" {
		t.Fatalf("ARN %q", pg15.DBInstanceArn)
	}

	for _, inst := range []*rds.DBInstance{pg15, pg17} {
		c := connect(t, inst, "app")
		var version string
		if err := c.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(version, inst.EngineVersion) {
			t.Fatalf("%s: server says %s, instance says %s", inst.DBInstanceIdentifier, version, inst.EngineVersion)
		}
		if _, err := c.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, name text)"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1000 {
			t.Fatalf("%s: count %d, %v", inst.DBInstanceIdentifier, n, err)
		}
	}

	// A read replica of the 15 streams the rows.
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{
		DBInstanceIdentifier: "orders-r1", SourceDBInstanceIdentifier: "orders"}); err != nil {
		t.Fatal(err)
	}
	replica := waitStatus(t, svc, "orders-r1", rds.StatusAvailable, 2*time.Minute)
	if replica.ReadReplicaSourceDBInstanceIdentifier != "orders" {
		t.Fatalf("replica source %q", replica.ReadReplicaSourceDBInstanceIdentifier)
	}
	primary := describe(t, svc, "orders")
	if len(primary.ReadReplicaDBInstanceIdentifiers) != 1 || primary.ReadReplicaDBInstanceIdentifiers[0] != "orders-r1" {
		t.Fatalf("primary's replicas %v", primary.ReadReplicaDBInstanceIdentifiers)
	}
	pc := connect(t, primary, "app")
	if _, err := pc.Exec(ctx, "INSERT INTO items SELECT g, 'late ' || g FROM generate_series(1001, 1500) g"); err != nil {
		t.Fatal(err)
	}
	rc := connect(t, replica, "app")
	eventually(t, 30*time.Second, "replica has the rows written after it was created", func() error {
		var n int
		if err := rc.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
			return err
		}
		if n != 1500 {
			return errorf("replica has %d rows, want 1500", n)
		}
		return nil
	})
	if _, err := rc.Exec(ctx, "INSERT INTO items VALUES (9999, 'x')"); err == nil {
		t.Fatal("the read replica accepted a write")
	}
	lag, err := svc.ReplicaLag(ctx, "orders-r1")
	if err != nil {
		t.Fatalf("replica lag: %v", err)
	}
	if lag.Bytes < 0 || lag.Bytes > 16<<20 {
		t.Fatalf("replica lag %d bytes", lag.Bytes)
	}

	// Rename: the new name has an endpoint with the data; the old one is gone.
	oldPort := primary.Endpoint.Port
	renamed, err := svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: "orders", NewDBInstanceIdentifier: "orders-v2", ApplyImmediately: true})
	if err != nil {
		t.Fatal(err)
	}
	if renamed.DbiResourceId != primary.DbiResourceId {
		t.Fatalf("rename changed DbiResourceId %s -> %s", primary.DbiResourceId, renamed.DbiResourceId)
	}
	if _, _, err := svc.DescribeDBInstances(ctx, "orders", nil, rds.Page{}); !isFault(err, "DBInstanceNotFound") {
		t.Fatalf("old name still described: %v", err)
	}
	nc := connect(t, renamed, "app")
	var n int
	if err := nc.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1500 {
		t.Fatalf("renamed: count %d, %v", n, err)
	}
	if c, err := tryConnect(ctx, oldPort, "app"); err == nil {
		c.Close(ctx)
		t.Fatal("the old name's endpoint still accepts connections")
	}
	if got := describe(t, svc, "orders-r1"); got.ReadReplicaSourceDBInstanceIdentifier != "orders-v2" {
		t.Fatalf("replica's source after rename: %q", got.ReadReplicaSourceDBInstanceIdentifier)
	}

	// Promote the replica: it becomes writable and standalone.
	if _, err := svc.PromoteReadReplica(ctx, "orders-r1"); err != nil {
		t.Fatal(err)
	}
	promoted := waitStatus(t, svc, "orders-r1", rds.StatusAvailable, time.Minute)
	if promoted.ReadReplicaSourceDBInstanceIdentifier != "" {
		t.Fatalf("promoted replica still has source %q", promoted.ReadReplicaSourceDBInstanceIdentifier)
	}
	pr := connect(t, promoted, "app")
	if _, err := pr.Exec(ctx, "INSERT INTO items VALUES (9999, 'after promotion')"); err != nil {
		t.Fatalf("write to promoted replica: %v", err)
	}
	if got := describe(t, svc, "orders-v2"); len(got.ReadReplicaDBInstanceIdentifiers) != 0 {
		t.Fatalf("primary still lists replicas %v", got.ReadReplicaDBInstanceIdentifiers)
	}
}

func describe(t *testing.T, svc *rds.Service, id string) *rds.DBInstance {
	t.Helper()
	got, _, err := svc.DescribeDBInstances(context.Background(), id, nil, rds.Page{})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return &got[0]
}
