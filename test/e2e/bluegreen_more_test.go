package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

func createBlueGreen(t *testing.T, svc *rds.Service, name, source, version, group string) rds.BlueGreenDeployment {
	t.Helper()
	d, err := svc.CreateBlueGreenDeployment(context.Background(), rds.CreateBlueGreenInput{BlueGreenDeploymentName: name,
		Source: source, TargetEngineVersion: version, TargetDBParameterGroupName: group})
	if err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
	return waitDeployment(t, svc, d.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusAvailable)
}

func nameOf(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// TestBlueGreenFaults: every refusal of CreateBlueGreenDeployment and
// SwitchoverBlueGreenDeployment gets its fault and creates nothing.
func TestBlueGreenFaults(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "14", "15", "17")
	ctx := ctxFor(t, 3*time.Minute)
	blue := createPostgres(t, svc, "faulty", "15")
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{DBInstanceIdentifier: "faulty-r1", SourceDBInstanceIdentifier: "faulty"}); err != nil {
		t.Fatal(err)
	}
	replica := waitStatus(t, svc, "faulty-r1", rds.StatusAvailable, time.Minute)
	if _, err := svc.CreateDBParameterGroup(ctx, "g15", "postgres15", "15", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBParameterGroup(ctx, "noreplication", "postgres15", "wal_level=replica", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ModifyDBParameterGroup(ctx, "noreplication", []rds.ParameterChange{
		{ParameterName: "wal_level", ParameterValue: "replica", ApplyMethod: "pending-reboot"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "physical", Engine: "postgres",
		EngineVersion: "15", DBInstanceClass: "db.t3.micro", MasterUsername: masterUser, MasterUserPassword: masterPass,
		DBParameterGroupName: "noreplication"}); err != nil {
		t.Fatal(err)
	}
	physical := waitStatus(t, svc, "physical", rds.StatusAvailable, time.Minute)
	// Unlogged tables would lose data: blocking.
	unlogged := createPostgres(t, svc, "unlogged", "15")
	if _, err := connect(t, unlogged, "app").Exec(ctx, "CREATE UNLOGGED TABLE cache (k text PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	api := startAPI(t, svc).client
	arn := blue.DBInstanceArn
	for _, c := range []struct {
		name string
		in   rds.CreateBlueGreenInput
		code string
	}{
		{"bad name", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "bad--name", Source: arn}, "InvalidParameterValue"},
		{"name too long", rds.CreateBlueGreenInput{BlueGreenDeploymentName: strings.Repeat("a", 61), Source: arn}, "InvalidParameterValue"},
		{"missing source", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x"}, "MissingParameter"},
		{"unknown instance", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: "arn:aws:rds:us-east-1:000000000000:db:ghost"}, "DBInstanceNotFound"},
		{"cluster", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: "arn:aws:rds:us-east-1:000000000000:cluster:aurora"}, "DBClusterNotFoundFault"},
		{"unknown group", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: arn, TargetDBParameterGroupName: "nope"}, "DBParameterGroupNotFound"},
		{"group of another family", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: arn, TargetEngineVersion: "17", TargetDBParameterGroupName: "g15"}, "InvalidParameterCombination"},
		{"downgrade", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: arn, TargetEngineVersion: "14"}, "InvalidParameterCombination"},
		{"unknown version", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: arn, TargetEngineVersion: "99"}, "InvalidParameterCombination"},
		{"replica as source", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: replica.DBInstanceArn}, "SourceDatabaseNotSupportedFault"},
		{"no logical replication", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: physical.DBInstanceArn}, "SourceDatabaseNotSupportedFault"},
		{"unlogged table", rds.CreateBlueGreenInput{BlueGreenDeploymentName: "x", Source: unlogged.DBInstanceArn}, "SourceDatabaseNotSupportedFault"},
	} {
		if c.name == "no logical replication" {
			// The pending wal_level=replica applies at the reboot.
			if _, err := svc.RebootDBInstance(ctx, "physical"); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, svc, "physical", rds.StatusAvailable, time.Minute)
		}
		var err error
		if c.in.Source == "" {
			// The SDK checks required members itself; the server's check is
			// reached directly.
			_, err = svc.CreateBlueGreenDeployment(ctx, c.in)
			if !isFault(err, c.code) {
				t.Errorf("%s: got %v, want %s", c.name, err, c.code)
			}
			continue
		}
		_, err = api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{
			BlueGreenDeploymentName: aws.String(c.in.BlueGreenDeploymentName), Source: aws.String(c.in.Source),
			TargetEngineVersion:        optional(c.in.TargetEngineVersion),
			TargetDBParameterGroupName: optional(c.in.TargetDBParameterGroupName)})
		if got := apiCode(err); got != c.code {
			t.Errorf("%s: got %q (%v), want %s", c.name, got, err, c.code)
		} else if c.name == "no logical replication" && !strings.Contains(err.Error(), "wal_level") {
			t.Errorf("the refusal does not name wal_level: %v", err)
		}
	}
	deps, _, err := svc.DescribeBlueGreenDeployments(ctx, "", nil, rds.Page{})
	if err != nil || len(deps) != 0 {
		t.Fatalf("refused requests created deployments: %+v %v", deps, err)
	}
	insts, _, _ := svc.DescribeDBInstances(ctx, "", nil, rds.Page{})
	if len(insts) != 4 {
		t.Fatalf("refused requests created instances: %d", len(insts))
	}
	// Instance not available: refused.
	if _, err := svc.RebootDBInstance(ctx, "faulty"); err != nil {
		t.Fatal(err)
	}
	_, err = api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{BlueGreenDeploymentName: aws.String("x"), Source: aws.String(arn)})
	wantCode(t, "source rebooting", err, "InvalidDBInstanceState")
	unknown := aws.String("bgd-nosuchdeployment0")
	_, err = api.DescribeBlueGreenDeployments(ctx, &awsrds.DescribeBlueGreenDeploymentsInput{BlueGreenDeploymentIdentifier: unknown})
	wantCode(t, "describe unknown", err, "BlueGreenDeploymentNotFoundFault")
	_, err = api.SwitchoverBlueGreenDeployment(ctx, &awsrds.SwitchoverBlueGreenDeploymentInput{BlueGreenDeploymentIdentifier: unknown})
	wantCode(t, "switchover unknown", err, "BlueGreenDeploymentNotFoundFault")
	_, err = api.DeleteBlueGreenDeployment(ctx, &awsrds.DeleteBlueGreenDeploymentInput{BlueGreenDeploymentIdentifier: unknown})
	wantCode(t, "delete unknown", err, "BlueGreenDeploymentNotFoundFault")
}

// TestBlueGreenDegradedAndDelete: a same-version deployment; DDL on blue
// degrades it and switchover is refused; a deleted green member shows as
// MISSING_TARGET; delete without DeleteTarget leaves green standalone; with
// DeleteTarget the green instances go.
func TestBlueGreenDegradedAndDelete(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 4*time.Minute)
	blue := createPostgres(t, svc, "catalog", "15")
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'i' FROM generate_series(1, 100) g"); err != nil {
		t.Fatal(err)
	}
	dep := createBlueGreen(t, svc, "same-version", blue.DBInstanceArn, "", "")
	if len(dep.Tasks) != 2 {
		t.Fatalf("a same-version deployment has tasks %+v", dep.Tasks)
	}
	green := describe(t, svc, nameOf(dep.Target))
	if green.EngineVersion != blue.EngineVersion {
		t.Fatalf("green version %s, blue %s", green.EngineVersion, blue.EngineVersion)
	}
	eventually(t, 10*time.Second, "lag reported", func() error {
		d, _, _ := svc.DescribeBlueGreenDeployments(ctx, dep.BlueGreenDeploymentIdentifier, nil, rds.Page{})
		if !strings.Contains(d[0].StatusDetails, "lag") {
			return errorf("status details %q", d[0].StatusDetails)
		}
		return nil
	})

	if _, err := bc.Exec(ctx, "ALTER TABLE items ADD COLUMN price int"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "DDL on blue degrades the deployment", func() error {
		d, _, _ := svc.DescribeBlueGreenDeployments(ctx, dep.BlueGreenDeploymentIdentifier, nil, rds.Page{})
		if !strings.Contains(d[0].StatusDetails, "Replication degraded") || !strings.Contains(d[0].StatusDetails, "app") {
			return errorf("status details %q", d[0].StatusDetails)
		}
		return nil
	})
	_, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, nil)
	if !isFault(err, "InvalidBlueGreenDeploymentStateFault") || !strings.Contains(err.Error(), "degraded") {
		t.Fatalf("switchover of a degraded deployment: %v", err)
	}
	for _, bad := range []int{29, 3601} {
		if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, &bad); !isFault(err, "InvalidParameterValue") {
			t.Fatalf("timeout %d: %v", bad, err)
		}
	}
	events, _, _ := svc.DescribeEvents(ctx, rds.EventsInput{SourceType: "blue-green-deployment", SourceIdentifier: dep.BlueGreenDeploymentIdentifier})
	var degradedEvent bool
	for _, e := range events {
		degradedEvent = degradedEvent || strings.Contains(e.Message, "Replication degraded")
	}
	if !degradedEvent {
		t.Fatal("no event for the degraded replication")
	}

	// Delete without DeleteTarget: replication stops, green stays, read-only.
	if _, err := svc.DeleteBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "deployment gone", func() error {
		if _, _, err := svc.DescribeBlueGreenDeployments(ctx, dep.BlueGreenDeploymentIdentifier, nil, rds.Page{}); !isFault(err, "BlueGreenDeploymentNotFoundFault") {
			return errorf("%v", err)
		}
		return nil
	})
	standalone := describe(t, svc, green.DBInstanceIdentifier)
	if standalone.DBInstanceStatus != rds.StatusAvailable {
		t.Fatalf("green after delete: %s", standalone.DBInstanceStatus)
	}
	if _, err := bc.Exec(ctx, "INSERT INTO items VALUES (1000, 'after', 1)"); err != nil {
		t.Fatal(err)
	}
	gc := connect(t, standalone, "app")
	time.Sleep(time.Second)
	if n := count(t, gc, "SELECT count(*) FROM items WHERE id = 1000"); n != 0 {
		t.Fatal("green still receives changes after the deployment was deleted")
	}
	var pubs int64
	if err := bc.QueryRow(ctx, "SELECT count(*) FROM pg_publication").Scan(&pubs); err != nil || pubs != 0 {
		t.Fatalf("%d publications left on blue (%v)", pubs, err)
	}

	// A second deployment; delete its green member: MISSING_TARGET.
	dep2 := createBlueGreen(t, svc, "second", blue.DBInstanceArn, "", "")
	g2 := nameOf(dep2.Target)
	if _, err := svc.DeleteDBInstance(ctx, g2, true, ""); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, g2, "deleted", time.Minute)
	d2, _, _ := svc.DescribeBlueGreenDeployments(ctx, dep2.BlueGreenDeploymentIdentifier, nil, rds.Page{})
	if d2[0].SwitchoverDetails[0].Status != bluegreen.MemberMissingTgt {
		t.Fatalf("member status %q", d2[0].SwitchoverDetails[0].Status)
	}
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep2.BlueGreenDeploymentIdentifier, nil); !isFault(err, "InvalidBlueGreenDeploymentStateFault") {
		t.Fatalf("switchover with a missing member: %v", err)
	}
	if _, err := svc.DeleteBlueGreenDeployment(ctx, dep2.BlueGreenDeploymentIdentifier, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "second deployment gone", func() error {
		if _, _, err := svc.DescribeBlueGreenDeployments(ctx, dep2.BlueGreenDeploymentIdentifier, nil, rds.Page{}); !isFault(err, "BlueGreenDeploymentNotFoundFault") {
			return errorf("%v", err)
		}
		return nil
	})

	// A third, deleted with DeleteTarget: its green instance goes.
	dep3 := createBlueGreen(t, svc, "third", blue.DBInstanceArn, "", "")
	g3 := describe(t, svc, nameOf(dep3.Target))
	// A large object written on blue is not replicated: degraded.
	if _, err := connect(t, blue, "app").Exec(ctx, "SELECT lo_from_bytea(0, 'not replicated')"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "a large object on blue degrades the deployment", func() error {
		d, _, _ := svc.DescribeBlueGreenDeployments(ctx, dep3.BlueGreenDeploymentIdentifier, nil, rds.Page{})
		if !strings.Contains(d[0].StatusDetails, "large objects") {
			return errorf("status details %q", d[0].StatusDetails)
		}
		return nil
	})
	if _, err := svc.DeleteBlueGreenDeployment(ctx, dep3.BlueGreenDeploymentIdentifier, true); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, g3.DBInstanceIdentifier, "deleted", time.Minute)
	if _, err := connect(t, blue, "app").Exec(ctx, "INSERT INTO items VALUES (1001, 'blue still writable', 1)"); err != nil {
		t.Fatal(err)
	}
}

// TestBlueGreenRollback: a switchover that cannot catch up within its
// timeout, and one whose green server dies, both roll back with nothing
// lost: blue writable, names unchanged.
func TestBlueGreenRollback(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "14", "16")
	ctx := ctxFor(t, 6*time.Minute)
	// 14 -> 16, with a green parameter group that allows prepared
	// transactions, which the test uses to stall green's apply.
	if _, err := svc.CreateDBParameterGroup(ctx, "green16", "postgres16", "green", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ModifyDBParameterGroup(ctx, "green16", []rds.ParameterChange{
		{ParameterName: "max_prepared_transactions", ParameterValue: "5", ApplyMethod: "pending-reboot"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "ledger", Engine: "postgres",
		EngineVersion: "14", DBInstanceClass: "db.t3.micro", MasterUsername: masterUser, MasterUserPassword: masterPass, DBName: "app"}); err != nil {
		t.Fatal(err)
	}
	blue := waitStatus(t, svc, "ledger", rds.StatusAvailable, time.Minute)
	if _, err := connect(t, blue, "app").Exec(ctx, "CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int, seq int, at timestamptz DEFAULT now(), UNIQUE (writer, seq))"); err != nil {
		t.Fatal(err)
	}
	dep := createBlueGreen(t, svc, "to-16", blue.DBInstanceArn, "16", "green16")
	id := dep.BlueGreenDeploymentIdentifier
	green := describe(t, svc, nameOf(dep.Target))
	if !strings.HasPrefix(green.EngineVersion, "16.") || green.DBParameterGroups[0].DBParameterGroupName != "green16" {
		t.Fatalf("green %s with %s", green.EngineVersion, green.DBParameterGroups[0].DBParameterGroupName)
	}

	// 1. Timeout: a prepared transaction on green locks the ledger, so
	// green cannot apply the writers' inserts; the switchover times out.
	gc := connect(t, green, "app")
	if _, err := gc.Exec(ctx, "BEGIN READ WRITE; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE; PREPARE TRANSACTION 'stall'"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	l, wg := runWriters(t, blue.Endpoint.Port, 0, 8, stop)
	time.Sleep(500 * time.Millisecond)
	timeout := 30
	start := time.Now()
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, id, &timeout); err != nil {
		t.Fatal(err)
	}
	failed := waitDeployment(t, svc, id, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
	took := time.Since(start)
	time.Sleep(time.Second) // writers reach blue again
	close(stop)
	wg.Wait()
	if failed.Status != bluegreen.StatusSwitchoverFailed || !strings.Contains(failed.StatusDetails, "timeout") {
		t.Fatalf("switchover with a stalled green: %s: %s", failed.Status, failed.StatusDetails)
	}
	if took < 30*time.Second || took > 90*time.Second {
		t.Fatalf("rollback after %s for a 30 s timeout", took)
	}
	t.Logf("rolled back after %s: %s", took.Round(time.Millisecond), failed.StatusDetails)
	after := describe(t, svc, "ledger")
	if after.DbiResourceId != blue.DbiResourceId || after.Endpoint.Port != blue.Endpoint.Port {
		t.Fatalf("names changed by a failed switchover: %+v", after)
	}
	bc := connect(t, after, "app")
	if _, err := bc.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-1, 1)"); err != nil {
		t.Fatalf("blue not writable after rollback: %v", err)
	}
	checkLedger(t, bc, l)
	// The switchover ended green's sessions; the prepared transaction survives them.
	if _, err := connect(t, green, "app").Exec(ctx, "ROLLBACK PREPARED 'stall'"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, id, nil); !isFault(err, "InvalidBlueGreenDeploymentStateFault") {
		t.Fatalf("switchover of a failed deployment: %v", err)
	}

	// 2. The green server dies during the switchover: a new deployment,
	// and the green postmaster is killed as catch-up starts.
	if _, err := svc.DeleteBlueGreenDeployment(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, green.DBInstanceIdentifier, "deleted", time.Minute)
	dep2 := createBlueGreen(t, svc, "to-16-again", blue.DBInstanceArn, "16", "")
	green2 := describe(t, svc, nameOf(dep2.Target))
	// The hook runs on the switchover's goroutine: it reports, the test
	// asserts.
	killed := make(chan error, 1)
	svc.SetSwitchoverHook(func(_, phase string) {
		if phase == bluegreen.PhaseCatchUp {
			pid, err := readPostmasterPid(dir, green2)
			if err == nil {
				err = syscall.Kill(pid, syscall.SIGKILL)
			}
			select {
			case killed <- err:
			default:
			}
		}
	})
	defer svc.SetSwitchoverHook(nil)
	stop = make(chan struct{})
	l, wg = runWriters(t, blue.Endpoint.Port, 100, 8, stop)
	time.Sleep(500 * time.Millisecond)
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep2.BlueGreenDeploymentIdentifier, &timeout); err != nil {
		t.Fatal(err)
	}
	failed = waitDeployment(t, svc, dep2.BlueGreenDeploymentIdentifier, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	select {
	case err := <-killed:
		if err != nil {
			t.Fatalf("kill green's server as catch-up starts: %v", err)
		}
	default:
		t.Fatalf("the switchover never reached catch-up, where green's server is killed: %s: %s", failed.Status, failed.StatusDetails)
	}
	if failed.Status != bluegreen.StatusSwitchoverFailed {
		t.Fatalf("switchover with a dead green: %s: %s", failed.Status, failed.StatusDetails)
	}
	t.Logf("rolled back: %s", failed.StatusDetails)
	after = describe(t, svc, "ledger")
	if after.DbiResourceId != blue.DbiResourceId {
		t.Fatalf("names changed by a failed switchover")
	}
	bc = connect(t, after, "app")
	if _, err := bc.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-1, 2)"); err != nil {
		t.Fatalf("blue not writable after rollback: %v", err)
	}
	checkLedger(t, bc, l)
}

// checkLedger asserts every acknowledged insert is in the ledger.
func checkLedger(t *testing.T, c *pgx.Conn, l *ledger) {
	t.Helper()
	rows, err := c.Query(context.Background(), "SELECT writer, seq FROM ledger WHERE writer >= 0")
	if err != nil {
		t.Fatal(err)
	}
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
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged inserts are missing", missing, len(l.acked))
	}
	if len(l.acked) == 0 {
		t.Fatal("the writers had no insert acknowledged")
	}
	if l.dupKeys > 0 {
		t.Fatalf("%d inserts were refused for a duplicate key: %s", l.dupKeys, l.firstDup)
	}
}

// optional is nil for an empty string, as an SDK caller leaves members unset.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
