package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// TestCreateAtOnce creates two MariaDB and two PostgreSQL instances with
// one request each, without waiting in between: all four become available
// (their bootstraps run side by side) and each serves its own data.
func TestCreateAtOnce(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 4*time.Minute)
	ids := map[string]string{"pg-a": "postgres", "pg-b": "postgres", "maria-a": "mariadb", "maria-b": "mariadb"}
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for id, eng := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := rds.CreateDBInstanceInput{DBInstanceIdentifier: id, Engine: eng, DBInstanceClass: "db.t3.micro",
				MasterUsername: "admin", MasterUserPassword: masterPass, DBName: "app"}
			if eng == "postgres" {
				in.EngineVersion = "15"
			}
			if _, err := svc.CreateDBInstance(ctx, in); err != nil {
				errs <- fmt.Errorf("create %s: %w", id, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := range ids {
		inst := waitStatus(t, svc, id, rds.StatusAvailable, 3*time.Minute)
		if inst.Endpoint == nil || inst.Endpoint.Port == 0 {
			t.Fatalf("%s has no endpoint", id)
		}
	}
}

// TestDeleteSourceWhileReplicaDeletes: a source may be deleted while its
// read replica is being deleted, as RDS allows; both go.
func TestDeleteSourceWhileReplicaDeletes(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 3*time.Minute)
	createPostgres(t, svc, "src", "15")
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{DBInstanceIdentifier: "src-r1", SourceDBInstanceIdentifier: "src"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "src-r1", rds.StatusAvailable, 2*time.Minute)
	if _, err := svc.DeleteDBInstance(ctx, "src-r1", true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteDBInstance(ctx, "src", true, ""); err != nil {
		t.Fatalf("delete the source while its replica is deleting: %v", err)
	}
	for _, id := range []string{"src-r1", "src"} {
		waitStatus(t, svc, id, "deleted", 2*time.Minute)
	}
	if got, _, err := svc.DescribeDBInstances(context.Background(), "", nil, rds.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("instances left: %+v (%v)", got, err)
	}
}
