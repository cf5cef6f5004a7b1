package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
	_ "modernc.org/sqlite"
)

// storeWritable sets or clears the immutable flag of teal's store (its
// database and write-ahead log), which makes every write to them fail, as
// a disk gone read-only would.
func storeWritable(t *testing.T, dir string, writable bool) {
	t.Helper()
	flag := "+i"
	if writable {
		flag = "-i"
	}
	for _, f := range []string{"teal.db", "teal.db-wal"} {
		path := filepath.Join(dir, f)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if out, err := exec.Command("chattr", flag, path).CombinedOutput(); err != nil {
			t.Fatalf("chattr %s %s: %v: %s", flag, path, err, out)
		}
	}
}

// TestSwitchoverStoreFails makes teal's store refuse every write as each
// switchover phase starts. While it refuses, the switchover's outcome is
// not published: the deployment stays in progress and says the save is
// retried. Once the store works again, a switchover whose commit point
// could not be saved ends rolled back; one past it ends completed. Then
// teal restarts: the deployment says the same as before, production is one
// writable primary behind its endpoint, and every insert acknowledged
// through the endpoint during the switchover is there.
func TestSwitchoverStoreFails(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	t.Cleanup(func() { storeWritable(t, dir, true) })
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 10*time.Minute)
	blue := createPostgres(t, svc, "sf", "15")
	port := blue.Endpoint.Port
	if _, err := connect(t, blue, "app").Exec(ctx, `CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL,
		seq int NOT NULL, at timestamptz DEFAULT now(), UNIQUE (writer, seq))`); err != nil {
		t.Fatal(err)
	}
	for i, phase := range bluegreen.Phases {
		if phase == bluegreen.PhaseDone {
			continue
		}
		// The hook runs as a phase starts, after the phase is saved: the
		// commit point's own transaction is the first to fail from
		// "committed" on, so only a failure from "release" on is past it.
		want := bluegreen.StatusSwitchoverFailed
		if phase == bluegreen.PhaseRelease {
			want = bluegreen.StatusSwitchoverCompleted
		}
		prod := describe(t, svc, "sf")
		dep := createBlueGreen(t, svc, fmt.Sprintf("sf-%d", i), prod.DBInstanceArn, "15", "")
		id := dep.BlueGreenDeploymentIdentifier

		stop := make(chan struct{})
		l, wg := runWriters(t, port, 10*i, 2, stop)
		halt := func() {
			if stop != nil {
				close(stop)
				wg.Wait()
				stop = nil
			}
		}
		var failed atomic.Bool
		svc.SetSwitchoverHook(func(d, p string) {
			if d == id && p == phase {
				storeWritable(t, dir, false)
				failed.Store(true)
			}
		})
		time.Sleep(300 * time.Millisecond)
		timeout := 60
		if _, err := svc.SwitchoverBlueGreenDeployment(ctx, id, &timeout); err != nil {
			t.Fatalf("%s: switchover: %v", phase, err)
		}
		// While the store refuses it, the outcome is not published: the
		// deployment stays in progress and says why.
		eventually(t, 2*time.Minute, phase+": the outcome waits for the store", func() error {
			if !failed.Load() {
				return fmt.Errorf("the phase has not started")
			}
			ds, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{})
			if err != nil {
				return err
			}
			if st := ds[0].Status; st != bluegreen.StatusSwitchoverInProgress {
				t.Fatalf("%s: the store refuses every write, yet the switchover says %s (%s)", phase, st, ds[0].StatusDetails)
			}
			if !strings.Contains(ds[0].StatusDetails, "failed, retrying") {
				return fmt.Errorf("status details %q", ds[0].StatusDetails)
			}
			return nil
		})
		storeWritable(t, dir, true)
		got := waitDeployment(t, svc, id, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
		svc.SetSwitchoverHook(nil)
		halt()
		if got.Status != want {
			t.Fatalf("store failing from %s: switchover %s (%s), want %s", phase, got.Status, got.StatusDetails, want)
		}

		// teal restarts: what it saved, and what it finishes at start,
		// must say the same.
		if err := svc.Close(); err != nil {
			t.Fatalf("%s: close: %v", phase, err)
		}
		svc = openService(t, dir)
		again := waitDeployment(t, svc, id, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
		if again.Status != want {
			t.Fatalf("store failing from %s: after a restart the switchover is %s (%s), before it %s", phase, again.Status, again.StatusDetails, want)
		}
		prod = waitStatus(t, svc, "sf", rds.StatusAvailable, 2*time.Minute)
		if prod.Endpoint.Port != port {
			t.Fatalf("%s: production moved from port %d to %d", phase, port, prod.Endpoint.Port)
		}
		c := connect(t, prod, "app")
		checkLedger(t, c, l)
		if _, err := c.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES ($1, -1)", 10*i); err != nil {
			t.Fatalf("%s: production is not writable after the restart: %v", phase, err)
		}
		c.Close(context.Background())
		t.Logf("store failing from %s: %s, and %s after a restart; %d inserts acknowledged", phase, got.Status, again.Status, len(l.acked))

		// Clean up for the next phase.
		if _, err := svc.DeleteBlueGreenDeployment(ctx, id, want == bluegreen.StatusSwitchoverFailed); err != nil {
			t.Fatalf("%s: delete deployment: %v", phase, err)
		}
		eventually(t, 2*time.Minute, "deployment deleted", func() error {
			if _, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{}); !isFault(err, "BlueGreenDeploymentNotFoundFault") {
				return fmt.Errorf("describe: %v", err)
			}
			return nil
		})
		if want == bluegreen.StatusSwitchoverCompleted {
			if _, err := svc.DeleteDBInstance(ctx, "sf-old1", true, ""); err != nil {
				t.Fatalf("%s: delete the old blue: %v", phase, err)
			}
			waitStatus(t, svc, "sf-old1", "deleted", time.Minute)
		}
	}
}

// TestParameterChangeStoreFails: a parameter change the store cannot save
// is refused and changes nothing, neither the group nor its instance's
// server; once the store works again, the same change applies.
func TestParameterChangeStoreFails(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	t.Cleanup(func() { storeWritable(t, dir, true) })
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := svc.CreateDBParameterGroup(ctx, "pf15", "postgres15", "store failing", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "pf", Engine: "postgres",
		EngineVersion: "15", DBInstanceClass: "db.t3.micro", MasterUsername: masterUser, MasterUserPassword: masterPass,
		DBName: "app", DBParameterGroupName: "pf15"}); err != nil {
		t.Fatal(err)
	}
	inst := waitStatus(t, svc, "pf", rds.StatusAvailable, 2*time.Minute)
	c := connect(t, inst, "app")
	setting := func() string {
		var v string
		if err := c.QueryRow(ctx, "SELECT current_setting('log_min_duration_statement')").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	inGroup := func() string {
		ps, _, err := svc.DescribeDBParameters(ctx, "pf15", "user", rds.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.ParameterName == "log_min_duration_statement" {
				return p.ParameterValue
			}
		}
		return ""
	}
	before := setting()
	change := []rds.ParameterChange{{ParameterName: "log_min_duration_statement", ParameterValue: "250", ApplyMethod: "immediate"}}

	storeWritable(t, dir, false)
	_, err := svc.ModifyDBParameterGroup(ctx, "pf15", change)
	storeWritable(t, dir, true)
	if err == nil {
		t.Fatal("a change the store could not save was accepted")
	}
	if v := inGroup(); v != "" {
		t.Fatalf("the group says %q after a refused change", v)
	}
	time.Sleep(300 * time.Millisecond)
	if v := setting(); v != before {
		t.Fatalf("the server has %q after a refused change, had %q", v, before)
	}

	if _, err := svc.ModifyDBParameterGroup(ctx, "pf15", change); err != nil {
		t.Fatal(err)
	}
	if v := inGroup(); v != "250" {
		t.Fatalf("the group says %q", v)
	}
	eventually(t, 10*time.Second, "the change applied", func() error {
		if v := setting(); v != "250ms" {
			return fmt.Errorf("log_min_duration_statement is %s", v)
		}
		return nil
	})
}

// TestReadersDoNotWaitForTheStore: while a change waits for the store's
// disk (here another connection holds SQLite's write lock), describing
// what teal has answers at once from memory, with the state from before
// the change; the change is published only once it is saved.
func TestReadersDoNotWaitForTheStore(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 2*time.Minute)
	if _, err := svc.CreateDBParameterGroup(ctx, "rw15", "postgres15", "readers and writers", nil); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "teal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()

	changed := make(chan error, 1)
	go func() {
		_, err := svc.ModifyDBParameterGroup(ctx, "rw15", []rds.ParameterChange{
			{ParameterName: "work_mem", ParameterValue: "8192", ApplyMethod: "immediate"}})
		changed <- err
	}()
	time.Sleep(300 * time.Millisecond) // the change reaches the store and waits there

	read := make(chan error, 1)
	go func() {
		if _, _, err := svc.DescribeDBParameterGroups(ctx, "rw15", rds.Page{}); err != nil {
			read <- err
			return
		}
		ps, _, err := svc.DescribeDBParameters(ctx, "rw15", "user", rds.Page{})
		if err == nil && len(ps) != 0 {
			err = fmt.Errorf("a change not yet saved is visible: %+v", ps)
		}
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-changed:
		t.Fatalf("the change finished while the store was locked: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("describing waited for a change the store had not saved")
	}
	select {
	case err := <-changed:
		t.Fatalf("the change finished while the store was locked: %v", err)
	default:
	}

	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	locked = false
	if err := <-changed; err != nil {
		t.Fatalf("the change failed once the store was free: %v", err)
	}
	ps, _, err := svc.DescribeDBParameters(ctx, "rw15", "user", rds.Page{})
	if err != nil || len(ps) != 1 || ps[0].ParameterValue != "8192" {
		t.Fatalf("after the change: %+v, %v", ps, err)
	}
}
