package e2e

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// TestMariaDBRollback: a MariaDB switchover that cannot catch up within its
// timeout, and one whose green server dies, both roll back with nothing
// lost: blue writable, names unchanged.
func TestMariaDBRollback(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "10.11")
	ctx := ctxFor(t, 6*time.Minute)
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "orders", Engine: "mariadb",
		DBInstanceClass: "db.t3.micro", MasterUsername: "admin", MasterUserPassword: masterPass, DBName: "app"}); err != nil {
		t.Fatal(err)
	}
	blue := waitStatus(t, svc, "orders", rds.StatusAvailable, 2*time.Minute)
	bdb, err := sql.Open("mysql", mariaDSN(blue.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if _, err := bdb.Exec("CREATE TABLE ledger (id bigint AUTO_INCREMENT PRIMARY KEY, writer int, seq int, UNIQUE (writer, seq)) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	// A non-transactional table cannot be copied consistently: refused.
	if _, err := bdb.Exec("CREATE TABLE cache (k int PRIMARY KEY) ENGINE=Aria"); err != nil {
		t.Fatal(err)
	}
	_, err = svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{BlueGreenDeploymentName: "refused", Source: blue.DBInstanceArn})
	if !isFault(err, "SourceDatabaseNotSupportedFault") || !strings.Contains(err.Error(), "app.cache") {
		t.Fatalf("deployment of a blue with an Aria table: %v", err)
	}
	if _, err := bdb.Exec("DROP TABLE cache"); err != nil {
		t.Fatal(err)
	}
	dep := createBlueGreen(t, svc, "orders-next", blue.DBInstanceArn, "", "")
	green := describe(t, svc, nameOf(dep.Target))

	// 1. Timeout: once the guardrails have passed, green's applier is
	// stopped (the master user may, as on RDS), so green never catches up.
	gdb, err := sql.Open("mysql", mariaDSN(green.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer gdb.Close()
	gc, err := gdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	svc.SetSwitchoverHook(func(_, phase string) {
		if phase == bluegreen.PhaseStopWrites {
			if _, err := gc.ExecContext(ctx, "CALL mysql.rds_stop_replication"); err != nil {
				t.Errorf("stall green: %v", err)
			}
		}
	})
	stop := make(chan struct{})
	l, wg := runMariaWriters(t, blue.Endpoint.Port, 0, 8, stop)
	time.Sleep(500 * time.Millisecond)
	timeout := 30
	start := time.Now()
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, &timeout); err != nil {
		t.Fatal(err)
	}
	failed := waitDeployment(t, svc, dep.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
	took := time.Since(start)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if failed.Status != bluegreen.StatusSwitchoverFailed || !strings.Contains(failed.StatusDetails, "timeout") {
		t.Fatalf("switchover with a stalled green: %s: %s", failed.Status, failed.StatusDetails)
	}
	t.Logf("rolled back after %s: %s", took.Round(time.Millisecond), failed.StatusDetails)
	after := describe(t, svc, "orders")
	if after.DbiResourceId != blue.DbiResourceId || after.Endpoint.Port != blue.Endpoint.Port {
		t.Fatalf("names changed by a failed switchover: %+v", after)
	}
	if _, err := bdb.Exec("INSERT INTO ledger (writer, seq) VALUES (-1, 1)"); err != nil {
		t.Fatalf("blue not writable after rollback: %v", err)
	}
	checkMariaLedger(t, bdb, l)
	svc.SetSwitchoverHook(nil)
	if _, err := gdb.Exec("CALL mysql.rds_start_replication"); err != nil {
		t.Fatal(err)
	}

	// 2. The green server dies as catch-up starts.
	if _, err := svc.DeleteBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, true); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, green.DBInstanceIdentifier, "deleted", 2*time.Minute)
	dep2 := createBlueGreen(t, svc, "orders-again", blue.DBInstanceArn, "", "")
	green2 := describe(t, svc, nameOf(dep2.Target))
	svc.SetSwitchoverHook(func(_, phase string) {
		if phase != bluegreen.PhaseCatchUp {
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, "instances", green2.DbiResourceId, "data", "mariadbd.pid"))
		if err != nil {
			t.Error(err)
			return
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		syscall.Kill(pid, syscall.SIGKILL)
	})
	defer svc.SetSwitchoverHook(nil)
	stop = make(chan struct{})
	l, wg = runMariaWriters(t, blue.Endpoint.Port, 100, 8, stop)
	time.Sleep(500 * time.Millisecond)
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep2.BlueGreenDeploymentIdentifier, &timeout); err != nil {
		t.Fatal(err)
	}
	failed = waitDeployment(t, svc, dep2.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if failed.Status != bluegreen.StatusSwitchoverFailed {
		t.Fatalf("switchover with a dead green: %s: %s", failed.Status, failed.StatusDetails)
	}
	t.Logf("rolled back: %s", failed.StatusDetails)
	if got := describe(t, svc, "orders"); got.DbiResourceId != blue.DbiResourceId {
		t.Fatal("names changed by a failed switchover")
	}
	if _, err := bdb.Exec("INSERT INTO ledger (writer, seq) VALUES (-1, 2)"); err != nil {
		t.Fatalf("blue not writable after rollback: %v", err)
	}
	checkMariaLedger(t, bdb, l)
}
