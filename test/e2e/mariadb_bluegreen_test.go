package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

func mariaDSN(port int, db string) string {
	return fmt.Sprintf("admin:%s@tcp(127.0.0.1:%d)/%s?timeout=5s&readTimeout=10s&writeTimeout=10s", masterPass, port, db)
}

// runMariaWriters is runWriters for MariaDB: each writer keeps one
// connection and opens a new one after an error.
func runMariaWriters(t *testing.T, port, first, n int, stop <-chan struct{}) (*ledger, *sync.WaitGroup) {
	l := &ledger{acked: map[[2]int]time.Time{}}
	var wg sync.WaitGroup
	stop = writersEnd(t, stop, &wg)
	for w := first; w < first+n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			db, err := sql.Open("mysql", mariaDSN(port, "app"))
			if err != nil {
				l.fail(err)
				return
			}
			defer db.Close()
			var conn *sql.Conn
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					if conn != nil {
						conn.Close()
					}
					return
				default:
				}
				if conn == nil {
					if conn, err = db.Conn(context.Background()); err != nil {
						l.fail(err)
						conn = nil
						time.Sleep(5 * time.Millisecond)
						continue
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := conn.ExecContext(ctx, "INSERT INTO ledger (writer, seq) VALUES (?, ?)", w, seq)
				cancel()
				if err != nil {
					l.fail(err)
					conn.Raw(func(any) error { return errBadConn })
					conn.Close()
					conn = nil
					continue
				}
				l.ack(w, seq)
			}
		}(w)
	}
	return l, &wg
}

var errBadConn = fmt.Errorf("discard")

func checkMariaLedger(t *testing.T, db *sql.DB, l *ledger) {
	t.Helper()
	rows, err := db.Query("SELECT writer, seq FROM ledger WHERE writer >= 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	have := map[[2]int]bool{}
	for rows.Next() {
		var w, s int
		if err := rows.Scan(&w, &s); err != nil {
			t.Fatal(err)
		}
		have[[2]int{w, s}] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	missing := 0
	for k := range l.acked {
		if !have[k] {
			missing++
		}
	}
	if missing > 0 || len(l.acked) == 0 {
		t.Fatalf("%d of %d acknowledged inserts are missing", missing, len(l.acked))
	}
	if l.dupKeys > 0 {
		t.Fatalf("%d inserts were refused for a duplicate key: %s", l.dupKeys, l.firstDup)
	}
}

// TestMariaDBBlueGreen: a MariaDB deployment whose change under test is a
// parameter group; eight writers across the switchover; every acknowledged
// insert on the new production.
func TestMariaDBBlueGreen(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "10.11")
	ctx := ctxFor(t, 5*time.Minute)
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "store", Engine: "mariadb",
		DBInstanceClass: "db.t3.micro", MasterUsername: "admin", MasterUserPassword: masterPass, DBName: "app",
		Tags: []rds.Tag{{Key: "env", Value: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	blue := waitStatus(t, svc, "store", rds.StatusAvailable, 2*time.Minute)
	bdb, err := sql.Open("mysql", mariaDSN(blue.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if _, err := bdb.Exec("CREATE TABLE ledger (id bigint AUTO_INCREMENT PRIMARY KEY, writer int, seq int, UNIQUE (writer, seq)) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	if _, err := bdb.Exec("INSERT INTO ledger (writer, seq) SELECT -1, seq FROM seq_1_to_5000"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBParameterGroup(ctx, "store-next", "mariadb10.11", "the change under test", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ModifyDBParameterGroup(ctx, "store-next", []rds.ParameterChange{
		{ParameterName: "max_connections", ParameterValue: "222", ApplyMethod: "pending-reboot"}}); err != nil {
		t.Fatal(err)
	}
	dep := createBlueGreen(t, svc, "store-params", blue.DBInstanceArn, "", "store-next")
	green := describe(t, svc, nameOf(dep.Target))
	eventually(t, 10*time.Second, "lag in seconds and GTID distance reported", func() error {
		d, _, _ := svc.DescribeBlueGreenDeployments(ctx, dep.BlueGreenDeploymentIdentifier, nil, rds.Page{})
		if !strings.Contains(d[0].StatusDetails, "transactions (GTID)") {
			return errorf("status details %q", d[0].StatusDetails)
		}
		return nil
	})
	gdb, err := sql.Open("mysql", mariaDSN(green.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer gdb.Close()
	var n int
	if err := gdb.QueryRow("SELECT count(*) FROM ledger").Scan(&n); err != nil || n != 5000 {
		t.Fatalf("green has %d rows (%v)", n, err)
	}
	if _, err := gdb.Exec("INSERT INTO ledger (writer, seq) VALUES (-2, 1)"); err == nil {
		t.Fatal("green accepted a client write")
	}
	var scheduler string
	if err := gdb.QueryRow("SELECT @@event_scheduler").Scan(&scheduler); err != nil || scheduler != "OFF" {
		t.Fatalf("green's event scheduler is %q (%v)", scheduler, err)
	}
	// DDL on blue replicates: no degradation.
	if _, err := bdb.Exec("ALTER TABLE ledger ADD COLUMN note varchar(20) NULL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "DDL replicated to green", func() error {
		var c int
		return gdb.QueryRow("SELECT count(note) FROM ledger").Scan(&c)
	})

	stop := make(chan struct{})
	l, wg := runMariaWriters(t, blue.Endpoint.Port, 0, 8, stop)
	time.Sleep(2 * time.Second)
	started := time.Now()
	timeout := 60
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, &timeout); err != nil {
		t.Fatal(err)
	}
	done := waitDeployment(t, svc, dep.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed)
	finished := time.Now()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if done.Status != bluegreen.StatusSwitchoverCompleted {
		t.Fatalf("switchover: %s: %s", done.Status, done.StatusDetails)
	}
	t.Logf("MariaDB switchover took %s; longest pause between acknowledged commits %s; %d acknowledged, %d failed attempts",
		finished.Sub(started).Round(time.Millisecond), l.longestGap(started.Add(-time.Second), finished.Add(time.Second)).Round(time.Millisecond),
		len(l.acked), l.failed)
	if d, _, err := svc.DescribeBlueGreenDeployments(ctx, dep.BlueGreenDeploymentIdentifier, nil, rds.Page{}); err == nil {
		t.Logf("phase timings (ms): %v", d[0].SwitchoverTimings)
	}
	errs := map[string]int{}
	for _, e := range l.errs {
		errs[e]++
	}
	t.Logf("writers saw: %v", errs)

	prod := describe(t, svc, "store")
	if prod.DbiResourceId != green.DbiResourceId || prod.Endpoint.Port != blue.Endpoint.Port {
		t.Fatalf("production after switchover: %+v", prod)
	}
	pdb, err := sql.Open("mysql", mariaDSN(prod.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	checkMariaLedger(t, pdb, l)
	var maxConn int
	if err := pdb.QueryRow("SELECT @@max_connections").Scan(&maxConn); err != nil || maxConn != 222 {
		t.Fatalf("the new production runs max_connections=%d (%v), want the green group's 222", maxConn, err)
	}
	if _, err := pdb.Exec("INSERT INTO ledger (writer, seq) VALUES (-3, 1)"); err != nil {
		t.Fatalf("insert after switchover: %v", err)
	}
	for _, e := range l.errs {
		if strings.Contains(e, "Duplicate entry") {
			t.Fatalf("a writer hit a duplicate key: %s", e)
		}
	}
	old := describe(t, svc, "store-old1")
	odb, err := sql.Open("mysql", mariaDSN(old.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer odb.Close()
	if _, err := odb.Exec("INSERT INTO ledger (writer, seq) VALUES (-4, 1)"); err == nil {
		t.Fatal("the old blue accepted a write")
	}
	if len(prod.TagList) != 1 || prod.TagList[0].Key != "env" {
		t.Fatalf("tags of the new production: %+v", prod.TagList)
	}

	// A second deployment, deleted without DeleteTarget: green keeps
	// replicating from blue.
	dep2 := createBlueGreen(t, svc, "store-keep", prod.DBInstanceArn, "", "")
	if _, err := svc.DeleteBlueGreenDeployment(ctx, dep2.BlueGreenDeploymentIdentifier, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "deployment gone", func() error {
		if _, _, err := svc.DescribeBlueGreenDeployments(ctx, dep2.BlueGreenDeploymentIdentifier, nil, rds.Page{}); !isFault(err, "BlueGreenDeploymentNotFoundFault") {
			return errorf("%v", err)
		}
		return nil
	})
	if _, err := pdb.Exec("INSERT INTO ledger (writer, seq) VALUES (-5, 1)"); err != nil {
		t.Fatal(err)
	}
	kept, err := sql.Open("mysql", mariaDSN(describe(t, svc, nameOf(dep2.Target)).Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	eventually(t, 20*time.Second, "the former green still replicates", func() error {
		var c int
		if err := kept.QueryRow("SELECT count(*) FROM ledger WHERE writer = -5").Scan(&c); err != nil {
			return err
		}
		if c != 1 {
			return errorf("not replicated yet")
		}
		return nil
	})
}
