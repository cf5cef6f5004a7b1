package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// ledger records every insert a writer saw acknowledged.
type ledger struct {
	mu     sync.Mutex
	acked  map[[2]int]time.Time // (writer, seq) -> when the commit was acknowledged
	errs   []string
	failed int
	// dupKeys counts inserts refused for a duplicate key. A writer never
	// repeats its (writer, seq), so only a key the table's own sequence
	// gave out twice (one not carried to green) is refused.
	dupKeys  int
	firstDup string
}

func (l *ledger) ack(w, seq int) {
	l.mu.Lock()
	l.acked[[2]int{w, seq}] = time.Now()
	l.mu.Unlock()
}

func (l *ledger) fail(err error) {
	l.mu.Lock()
	l.failed++
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" || errors.As(err, &myErr) && myErr.Number == 1062 {
		if l.dupKeys == 0 {
			l.firstDup = err.Error()
		}
		l.dupKeys++
	}
	if len(l.errs) < 50 {
		l.errs = append(l.errs, err.Error())
	}
	l.mu.Unlock()
}

// longestGap is the longest time without any acknowledged commit between
// from and to: the write unavailability a client saw.
func (l *ledger) longestGap(from, to time.Time) time.Duration {
	l.mu.Lock()
	var ts []time.Time
	for _, t := range l.acked {
		if t.After(from) && t.Before(to) {
			ts = append(ts, t)
		}
	}
	l.mu.Unlock()
	ts = append(ts, from, to)
	sortTimes(ts)
	var gap time.Duration
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i].Sub(ts[i-1]))
	}
	return gap
}

// waitDeploymentAPI polls DescribeBlueGreenDeployments through the SDK
// until the deployment has one of the statuses.
func waitDeploymentAPI(t *testing.T, c *awsrds.Client, id string, d time.Duration, statuses ...string) types.BlueGreenDeployment {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := c.DescribeBlueGreenDeployments(context.Background(), &awsrds.DescribeBlueGreenDeploymentsInput{
			BlueGreenDeploymentIdentifier: aws.String(id)})
		if err != nil {
			t.Fatalf("describe deployment %s: %v", id, err)
		}
		got := out.BlueGreenDeployments[0]
		status := aws.ToString(got.Status)
		for _, s := range statuses {
			if status == s {
				return got
			}
		}
		if status == bluegreen.StatusInvalidConfiguration || time.Now().After(deadline) {
			t.Fatalf("deployment %s is %s (%s), not %v", id, status, aws.ToString(got.StatusDetails), statuses)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// writersLimit bounds how long writers run when nothing stops them.
const writersLimit = 20 * time.Minute

// writersEnd is closed when stop is, when the test ends (a test that
// fails before it closes stop), or after writersLimit: writers never
// outlive their test. The test's cleanup waits for them.
func writersEnd(t *testing.T, stop <-chan struct{}, wg *sync.WaitGroup) <-chan struct{} {
	end, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(end)
		select {
		case <-stop:
		case <-quit:
		case <-time.After(writersLimit):
		}
	}()
	t.Cleanup(func() {
		close(quit)
		wg.Wait()
	})
	return end
}

// runWriters starts n writers, numbered from first, inserting through the
// endpoint port until stop is closed. Each keeps one connection and
// reconnects after an error.
func runWriters(t *testing.T, port, first, n int, stop <-chan struct{}) (*ledger, *sync.WaitGroup) {
	l := &ledger{acked: map[[2]int]time.Time{}}
	var wg sync.WaitGroup
	stop = writersEnd(t, stop, &wg)
	for w := first; w < first+n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var c *pgx.Conn
			defer func() {
				if c != nil {
					c.Close(context.Background())
				}
			}()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil {
					var err error
					if c, err = tryConnect(context.Background(), port, "app"); err != nil {
						l.fail(err)
						c = nil
						time.Sleep(5 * time.Millisecond)
						continue
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES ($1, $2)", w, seq)
				cancel()
				if err != nil {
					l.fail(err)
					c.Close(context.Background())
					c = nil
					continue
				}
				l.ack(w, seq)
			}
		}(w)
	}
	return l, &wg
}

func waitDeployment(t *testing.T, svc *rds.Service, id string, d time.Duration, statuses ...string) rds.BlueGreenDeployment {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got, _, err := svc.DescribeBlueGreenDeployments(context.Background(), id, nil, rds.Page{})
		if err != nil {
			t.Fatalf("describe deployment %s: %v", id, err)
		}
		for _, s := range statuses {
			if got[0].Status == s {
				return got[0]
			}
		}
		if got[0].Status == bluegreen.StatusInvalidConfiguration {
			t.Fatalf("deployment %s failed: %s", id, got[0].StatusDetails)
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s is %s (%s; tasks %+v; lag %.1f s, %d bytes), not %v after %s", id, got[0].Status,
				got[0].StatusDetails, got[0].Tasks, got[0].ReplicaLagSeconds, got[0].ReplicaLagBytes, statuses, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// setupBlue creates the production instance "shop" (PostgreSQL 15) with a
// read replica and three databases: app (sequence-backed keys and the
// writers' ledger), inventory (a table without a primary key), analytics.
func setupBlue(t *testing.T, svc *rds.Service) *rds.DBInstance {
	t.Helper()
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "shop", Engine: "postgres",
		EngineVersion: "15", DBInstanceClass: "db.t3.micro", MasterUsername: masterUser, MasterUserPassword: masterPass,
		DBName: "app", Tags: []rds.Tag{{Key: "env", Value: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	blue := waitStatus(t, svc, "shop", rds.StatusAvailable, 2*time.Minute)
	c := connect(t, blue, "app")
	for _, q := range []string{
		"CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, at timestamptz DEFAULT now(), UNIQUE (writer, seq))",
		"INSERT INTO ledger (writer, seq) SELECT -1, g FROM generate_series(1, 20000) g",
		"CREATE DATABASE inventory", "CREATE DATABASE analytics",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	inv := connect(t, blue, "inventory")
	if _, err := inv.Exec(ctx, `CREATE TABLE audit_log (item text, qty int);
		INSERT INTO audit_log SELECT 'item' || g, g FROM generate_series(1, 1000) g`); err != nil {
		t.Fatal(err)
	}
	an := connect(t, blue, "analytics")
	if _, err := an.Exec(ctx, `CREATE TABLE events (id int PRIMARY KEY, kind text);
		INSERT INTO events SELECT g, 'k' FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{
		DBInstanceIdentifier: "shop-r1", SourceDBInstanceIdentifier: "shop"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "shop-r1", rds.StatusAvailable, 2*time.Minute)
	return blue
}

func count(t *testing.T, c *pgx.Conn, q string) int64 {
	t.Helper()
	var n int64
	if err := c.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestBlueGreenSwitchover upgrades PostgreSQL 15 to 17 with a read replica
// and three databases while eight writers insert through the endpoint. Every
// acknowledged insert must be on the new production, which the same
// endpoint now reaches.
func TestBlueGreenSwitchover(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 8*time.Minute)
	blue := setupBlue(t, svc)

	// The deployment is driven through the RDS API with aws-sdk-go-v2.
	api := startAPI(t, svc).client
	created, err := api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{
		BlueGreenDeploymentName: aws.String("upgrade-17"), Source: aws.String(blue.DBInstanceArn),
		TargetEngineVersion: aws.String("17"), Tags: []types.Tag{{Key: aws.String("change"), Value: aws.String("pg17")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.BlueGreenDeployment.BlueGreenDeploymentIdentifier)
	if aws.ToString(created.BlueGreenDeployment.Status) != bluegreen.StatusProvisioning || !strings.HasPrefix(id, "bgd-") {
		t.Fatalf("created: %+v", created.BlueGreenDeployment)
	}
	// The preflight findings are teal's own addition to the description.
	deps, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var noPK bool
	for _, f := range deps[0].Findings {
		noPK = noPK || (f.Kind == bluegreen.FindNoPrimaryKey && strings.Contains(f.Object, "audit_log") && !f.Blocking)
	}
	if !noPK {
		t.Fatalf("the table without a primary key was not reported: %+v", deps[0].Findings)
	}
	_, err = api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{
		BlueGreenDeploymentName: aws.String("upgrade-17"), Source: aws.String(blue.DBInstanceArn)})
	wantCode(t, "duplicate name", err, "BlueGreenDeploymentAlreadyExistsFault")
	avail := waitDeploymentAPI(t, api, id, 90*time.Second, bluegreen.StatusAvailable)
	for _, task := range avail.Tasks {
		if aws.ToString(task.Status) != bluegreen.TaskCompleted {
			t.Fatalf("task %s is %s", aws.ToString(task.Name), aws.ToString(task.Status))
		}
	}
	if len(avail.Tasks) != 4 || len(avail.SwitchoverDetails) != 2 {
		t.Fatalf("tasks %+v, members %+v", avail.Tasks, avail.SwitchoverDetails)
	}
	greenArn := aws.ToString(avail.Target)
	greenName := greenArn[strings.LastIndex(greenArn, ":")+1:]
	if !strings.HasPrefix(greenName, "shop-green-") || len(greenName) != len("shop-green-")+6 {
		t.Fatalf("green name %q", greenName)
	}
	green := describe(t, svc, greenName)
	if !strings.HasPrefix(green.EngineVersion, "17.") {
		t.Fatalf("green version %s", green.EngineVersion)
	}
	gc := connect(t, green, "app")
	if n := count(t, gc, "SELECT count(*) FROM ledger"); n != 20000 {
		t.Fatalf("green has %d ledger rows", n)
	}
	if _, err := gc.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-2, 1)"); err == nil {
		t.Fatal("green accepted a client write")
	}
	// Updates and deletes on the table without a primary key replicate.
	bi := connect(t, blue, "inventory")
	if _, err := bi.Exec(ctx, "UPDATE audit_log SET qty = 0 WHERE item = 'item7'; DELETE FROM audit_log WHERE item = 'item8'"); err != nil {
		t.Fatalf("update on blue's table without a primary key: %v", err)
	}
	gi := connect(t, green, "inventory")
	eventually(t, 30*time.Second, "update and delete replicated", func() error {
		if n := count(t, gi, "SELECT count(*) FROM audit_log WHERE item = 'item8' OR (item = 'item7' AND qty = 0)"); n != 1 {
			return errorf("green has %d matching rows", n)
		}
		return nil
	})

	// Eight writers through the production endpoint, across the switchover.
	stop := make(chan struct{})
	l, wg := runWriters(t, blue.Endpoint.Port, 0, 8, stop)
	time.Sleep(2 * time.Second)
	started := time.Now()
	if _, err := api.SwitchoverBlueGreenDeployment(ctx, &awsrds.SwitchoverBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(id), SwitchoverTimeout: aws.Int32(120)}); err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	done := waitDeploymentAPI(t, api, id, 3*time.Minute, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed)
	finished := time.Now()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if aws.ToString(done.Status) != bluegreen.StatusSwitchoverCompleted {
		t.Fatalf("switchover: %s: %s", aws.ToString(done.Status), aws.ToString(done.StatusDetails))
	}
	gap := l.longestGap(started.Add(-time.Second), finished.Add(time.Second))
	t.Logf("switchover took %s; longest pause between acknowledged commits: %s; %d commits acknowledged, %d failed attempts",
		finished.Sub(started).Round(time.Millisecond), gap.Round(time.Millisecond), len(l.acked), l.failed)
	if d, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{}); err == nil {
		t.Logf("phase timings (ms): %v", d[0].SwitchoverTimings)
	}
	distinct := map[string]int{}
	for _, e := range l.errs {
		distinct[e]++
	}
	for e, n := range distinct {
		t.Logf("writers saw %d× %s", n, e)
	}

	// The same endpoint reaches PostgreSQL 17 with every acknowledged row.
	prod := describe(t, svc, "shop")
	if prod.Endpoint.Port != blue.Endpoint.Port || !strings.HasPrefix(prod.EngineVersion, "17.") || prod.DbiResourceId == blue.DbiResourceId {
		t.Fatalf("production after switchover: %+v", prod)
	}
	pc := connect(t, prod, "app")
	var version string
	if err := pc.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil || !strings.Contains(version, "PostgreSQL 17") {
		t.Fatalf("version through the endpoint: %q %v", version, err)
	}
	checkLedger(t, pc, l)
	// Inserts continue with fresh keys.
	if _, err := pc.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-3, 1)"); err != nil {
		t.Fatalf("insert after switchover: %v", err)
	}
	if tags := prod.TagList; len(tags) != 1 || tags[0] != (rds.Tag{Key: "env", Value: "prod"}) {
		t.Fatalf("new production's tags %+v", tags)
	}

	// The old blue and its replica are renamed and read-only.
	old := describe(t, svc, "shop-old1")
	if old.DbiResourceId != blue.DbiResourceId {
		t.Fatalf("shop-old1 is %s, want the old blue %s", old.DbiResourceId, blue.DbiResourceId)
	}
	oc := connect(t, old, "app")
	if _, err := oc.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-4, 1)"); err == nil {
		t.Fatal("the old blue accepted a write")
	}
	// The other databases came across whole: the old blue, read-only now,
	// and the new production hold the same rows, the table without a
	// primary key included.
	for db, table := range map[string]string{"inventory": "audit_log", "analytics": "events"} {
		if was, is := tableDigest(t, connect(t, old, db), table), tableDigest(t, connect(t, prod, db), table); was != is {
			t.Fatalf("%s.%s: the old blue has %s, the new production %s", db, table, was, is)
		}
	}
	oldReplica := describe(t, svc, "shop-r1-old1")
	if oldReplica.ReadReplicaSourceDBInstanceIdentifier != "shop-old1" {
		t.Fatalf("old replica's source %q", oldReplica.ReadReplicaSourceDBInstanceIdentifier)
	}
	newReplica := describe(t, svc, "shop-r1")
	if newReplica.ReadReplicaSourceDBInstanceIdentifier != "shop" || !strings.HasPrefix(newReplica.EngineVersion, "17.") {
		t.Fatalf("new replica %+v", newReplica)
	}
	rc := connect(t, newReplica, "app")
	eventually(t, 30*time.Second, "new replica has the insert made after switchover", func() error {
		if count(t, rc, "SELECT count(*) FROM ledger WHERE writer = -3") != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	if _, _, err := svc.DescribeDBInstances(ctx, greenName, nil, rds.Page{}); !isFault(err, "DBInstanceNotFound") {
		t.Fatalf("the green name still exists: %v", err)
	}
	// Reboot makes the old blue writable.
	if _, err := svc.RebootDBInstance(ctx, "shop-old1"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "shop-old1", rds.StatusAvailable, time.Minute)
	eventually(t, 20*time.Second, "old blue writable after reboot", func() error {
		c, err := tryConnect(ctx, old.Endpoint.Port, "app")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-5, 1)")
		return err
	})

	// Delete: DeleteTarget is refused after switchover; without it the record goes.
	_, err = api.DeleteBlueGreenDeployment(ctx, &awsrds.DeleteBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(id), DeleteTarget: aws.Bool(true)})
	wantCode(t, "delete with DeleteTarget after switchover", err, "InvalidBlueGreenDeploymentStateFault")
	if _, err := api.DeleteBlueGreenDeployment(ctx, &awsrds.DeleteBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "deployment deleted", func() error {
		_, err := api.DescribeBlueGreenDeployments(ctx, &awsrds.DescribeBlueGreenDeploymentsInput{BlueGreenDeploymentIdentifier: aws.String(id)})
		if apiCode(err) != "BlueGreenDeploymentNotFoundFault" {
			return fmt.Errorf("describe: %v", err)
		}
		return nil
	})
	events, _, err := svc.DescribeEvents(ctx, rds.EventsInput{SourceType: "blue-green-deployment", SourceIdentifier: id})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range events {
		msgs = append(msgs, e.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"creation started", "available", "Switchover started", "Switchover completed", "deleted"} {
		if !strings.Contains(all, want) {
			t.Errorf("no event says %q:\n%s", want, all)
		}
	}
}
