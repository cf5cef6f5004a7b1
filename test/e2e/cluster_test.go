package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
)

// clusterRig is a DB cluster of a writer and two readers, made through the
// Go SDK.
type clusterRig struct {
	api *apiRig
	c   *awsrds.Client
	id  string
}

func (r *clusterRig) describe(t *testing.T) types.DBCluster {
	t.Helper()
	out, err := r.c.DescribeDBClusters(context.Background(), &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(r.id)})
	if err != nil {
		t.Fatalf("describe cluster %s: %v", r.id, err)
	}
	if len(out.DBClusters) != 1 {
		t.Fatalf("describe cluster %s: %d clusters", r.id, len(out.DBClusters))
	}
	return out.DBClusters[0]
}

// writer is the identifier of the member Describe calls the writer.
func (r *clusterRig) writer(t *testing.T) string {
	t.Helper()
	var w string
	for _, m := range r.describe(t).DBClusterMembers {
		if aws.ToBool(m.IsClusterWriter) {
			if w != "" {
				t.Fatalf("cluster %s has two writers: %s and %s", r.id, w, aws.ToString(m.DBInstanceIdentifier))
			}
			w = aws.ToString(m.DBInstanceIdentifier)
		}
	}
	return w
}

// serverPort is the port of an instance's own server, as
// inet_server_port() reports it in a session through the instance's
// endpoint.
func (r *clusterRig) serverPort(t *testing.T, id string) int {
	t.Helper()
	out, err := r.c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.DBInstances[0]
	if aws.ToInt32(inst.DbInstancePort) != aws.ToInt32(inst.Endpoint.Port) {
		t.Fatalf("%s: DbInstancePort %d, endpoint port %d", id, aws.ToInt32(inst.DbInstancePort), aws.ToInt32(inst.Endpoint.Port))
	}
	server, _, err := sessionOn(context.Background(), int(aws.ToInt32(inst.Endpoint.Port)))
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return server
}

func (r *clusterRig) waitStatus(t *testing.T, status string, d time.Duration) {
	t.Helper()
	eventually(t, d, "cluster "+r.id+" "+status, func() error {
		if got := aws.ToString(r.describe(t).Status); got != status {
			return fmt.Errorf("cluster is %s", got)
		}
		return nil
	})
}

// hostPort reads an endpoint teal reports as "host:port".
func hostPort(t *testing.T, endpoint string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	return n
}

// sessionOn connects through port and says which server answered and
// whether it is a replica.
func sessionOn(ctx context.Context, port int) (server int, replica bool, err error) {
	c, err := tryConnect(ctx, port, "app")
	if err != nil {
		return 0, false, err
	}
	defer c.Close(context.Background())
	err = c.QueryRow(ctx, "SELECT inet_server_port(), pg_is_in_recovery()").Scan(&server, &replica)
	return server, replica, err
}

func newClusterRig(t *testing.T) *clusterRig {
	t.Helper()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	api := startAPI(t, svc)
	r := &clusterRig{api: api, c: api.client, id: "orders"}
	ctx := context.Background()
	if _, err := r.c.CreateDBCluster(ctx, &awsrds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String(r.id), Engine: aws.String("aurora-postgresql"), EngineVersion: aws.String("15"),
		MasterUsername: aws.String(masterUser), MasterUserPassword: aws.String(masterPass), DatabaseName: aws.String("app"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("orders")}},
	}); err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	for i, id := range []string{"orders-1", "orders-2", "orders-3"} {
		if _, err := r.c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), DBClusterIdentifier: aws.String(r.id),
			Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large"),
		}); err != nil {
			t.Fatalf("add %s to the cluster: %v", id, err)
		}
		if i == 0 {
			// Readers are cloned from an available writer.
			waitAvailable(t, r.c, id)
		}
	}
	waitAvailable(t, r.c, "orders-2")
	waitAvailable(t, r.c, "orders-3")
	return r
}

// TestClusterEndpointsAndFailover builds a cluster of a writer and two
// readers through the Go SDK: writes through the cluster endpoint are read
// through the reader endpoint, which spreads sessions over both readers; a
// custom endpoint reaches its static member only; FailoverDBCluster under
// eight writers on the cluster endpoint loses no acknowledged commit, and
// the cluster endpoint then reaches the new writer.
func TestClusterEndpointsAndFailover(t *testing.T) {
	t.Parallel()
	r := newClusterRig(t)
	ctx := context.Background()

	cl := r.describe(t)
	if got := r.writer(t); got != "orders-1" {
		t.Fatalf("writer = %q, want orders-1 (the first instance added)", got)
	}
	if len(cl.DBClusterMembers) != 3 || aws.ToString(cl.Engine) != "aurora-postgresql" {
		t.Fatalf("cluster: %d members, engine %s", len(cl.DBClusterMembers), aws.ToString(cl.Engine))
	}
	resID := aws.ToString(cl.DbClusterResourceId)
	if len(resID) != len("cluster-")+26 {
		t.Fatalf("DbClusterResourceId %q", resID)
	}
	writerPort := int(aws.ToInt32(cl.Port))
	readerPort := hostPort(t, aws.ToString(cl.ReaderEndpoint))
	if writerPort == readerPort {
		t.Fatalf("writer and reader endpoints share port %d", writerPort)
	}

	// Writes through the cluster endpoint are read on the reader endpoint.
	w := connectPort(t, writerPort, "app")
	if _, err := w.Exec(ctx, `CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, UNIQUE (writer, seq));
		INSERT INTO ledger (writer, seq) VALUES (-1, 1)`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the reader endpoint sees the write", func() error {
		c, err := tryConnect(ctx, readerPort, "app")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM ledger WHERE writer = -1").Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d rows", n)
		}
		return nil
	})

	// The reader endpoint spreads new sessions over both readers.
	readers := map[int]bool{r.serverPort(t, "orders-2"): true, r.serverPort(t, "orders-3"): true}
	seen := map[int]int{}
	for range 6 {
		server, replica, err := sessionOn(ctx, readerPort)
		if err != nil {
			t.Fatal(err)
		}
		if !replica || !readers[server] {
			t.Fatalf("the reader endpoint reached server port %d (replica %v); readers are %v", server, replica, readers)
		}
		seen[server]++
	}
	if len(seen) != 2 {
		t.Fatalf("six sessions on the reader endpoint reached %v: want both readers", seen)
	}

	// A custom endpoint with a static member reaches that member only.
	ce, err := r.c.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{
		DBClusterIdentifier: aws.String(r.id), DBClusterEndpointIdentifier: aws.String("orders-reports"),
		EndpointType: aws.String("READER"), StaticMembers: []string{"orders-3"}})
	if err != nil {
		t.Fatalf("create custom endpoint: %v", err)
	}
	customPort := hostPort(t, aws.ToString(ce.Endpoint))
	for range 3 {
		server, _, err := sessionOn(ctx, customPort)
		if err != nil {
			t.Fatal(err)
		}
		if server != r.serverPort(t, "orders-3") {
			t.Fatalf("custom endpoint reached server port %d, want orders-3's", server)
		}
	}
	// One of type ANY that excludes the writer reaches the readers.
	ex, err := r.c.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{
		DBClusterIdentifier: aws.String(r.id), DBClusterEndpointIdentifier: aws.String("orders-no-writer"),
		EndpointType: aws.String("ANY"), ExcludedMembers: []string{"orders-1"}})
	if err != nil {
		t.Fatalf("create custom endpoint: %v", err)
	}
	for range 4 {
		server, _, err := sessionOn(ctx, hostPort(t, aws.ToString(ex.Endpoint)))
		if err != nil {
			t.Fatal(err)
		}
		if !readers[server] {
			t.Fatalf("an endpoint that excludes the writer reached server port %d", server)
		}
	}
	if _, err := r.c.DeleteDBClusterEndpoint(ctx, &awsrds.DeleteDBClusterEndpointInput{DBClusterEndpointIdentifier: aws.String("orders-no-writer")}); err != nil {
		t.Fatal(err)
	}
	eps, err := r.c.DescribeDBClusterEndpoints(ctx, &awsrds.DescribeDBClusterEndpointsInput{DBClusterIdentifier: aws.String(r.id)})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range eps.DBClusterEndpoints {
		kinds[aws.ToString(e.EndpointType)] = true
	}
	if len(eps.DBClusterEndpoints) != 3 || !kinds["WRITER"] || !kinds["READER"] || !kinds["CUSTOM"] {
		t.Fatalf("DescribeDBClusterEndpoints: %+v", eps.DBClusterEndpoints)
	}

	// Failover to orders-2 with eight writers on the cluster endpoint.
	stop := make(chan struct{})
	l, wg := runWriters(t, writerPort, 0, 8, stop)
	stopped := false
	stopWriters := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	t.Cleanup(stopWriters)
	time.Sleep(time.Second)
	if _, err := r.c.FailoverDBCluster(ctx, &awsrds.FailoverDBClusterInput{
		DBClusterIdentifier: aws.String(r.id), TargetDBInstanceIdentifier: aws.String("orders-2")}); err != nil {
		t.Fatalf("failover: %v", err)
	}
	r.waitStatus(t, "available", 2*time.Minute)
	if got := r.writer(t); got != "orders-2" {
		t.Fatalf("after failover the writer is %q, want orders-2", got)
	}
	time.Sleep(time.Second)
	stopWriters()

	l.mu.Lock()
	acked := len(l.acked)
	l.mu.Unlock()
	if acked < 100 {
		t.Fatalf("only %d commits acknowledged around the failover (errors: %v)", acked, l.errs)
	}
	// The cluster endpoint reaches the new writer, which has every
	// acknowledged commit.
	newWriter := r.serverPort(t, "orders-2")
	eventually(t, 30*time.Second, "the cluster endpoint reaches orders-2 as a writer", func() error {
		server, replica, err := sessionOn(ctx, writerPort)
		if err != nil {
			return err
		}
		if server != newWriter || replica {
			return fmt.Errorf("reached server port %d (replica %v), want %d as a primary", server, replica, newWriter)
		}
		return nil
	})
	c := connectPort(t, writerPort, "app")
	checkLedger(t, c, l)
	t.Logf("failover: %d commits acknowledged, all found on the new writer; %d failed attempts", acked, l.failed)
	if _, err := c.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-2, 1)"); err != nil {
		t.Fatalf("write through the cluster endpoint after failover: %v", err)
	}

	// The old writer and the other reader rejoin as readers of orders-2,
	// and the reader endpoint spreads over them again.
	waitAvailable(t, r.c, "orders-1")
	waitAvailable(t, r.c, "orders-3")
	readers = map[int]bool{r.serverPort(t, "orders-1"): true, r.serverPort(t, "orders-3"): true}
	eventually(t, 30*time.Second, "the readers replay the new writer's commits", func() error {
		for range 4 {
			c, err := tryConnect(ctx, readerPort, "app")
			if err != nil {
				return err
			}
			var server, n int
			err = c.QueryRow(ctx, "SELECT inet_server_port(), count(*) FROM ledger WHERE writer = -2").Scan(&server, &n)
			c.Close(ctx)
			if err != nil {
				return err
			}
			if !readers[server] || n != 1 {
				return fmt.Errorf("reader endpoint reached server port %d with %d new rows; readers are %v", server, n, readers)
			}
		}
		return nil
	})
	var rows int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM ledger").Scan(&rows); err != nil {
		t.Fatal(err)
	}

	// Without a target, the failover picks a reader, and the new writer
	// has every row.
	if _, err := r.c.FailoverDBCluster(ctx, &awsrds.FailoverDBClusterInput{DBClusterIdentifier: aws.String(r.id)}); err != nil {
		t.Fatalf("failover to any reader: %v", err)
	}
	r.waitStatus(t, "available", 2*time.Minute)
	writer := r.writer(t)
	if writer != "orders-1" && writer != "orders-3" {
		t.Fatalf("after a failover without target the writer is %q", writer)
	}
	var now int
	if err := connectPort(t, writerPort, "app").QueryRow(ctx, "SELECT count(*) FROM ledger").Scan(&now); err != nil || now != rows {
		t.Fatalf("the new writer has %d rows (%v), want %d", now, err, rows)
	}
	waitAvailable(t, r.c, "orders-2")

	// The writer goes last: deleting it while it has readers is refused.
	// Once every instance is gone the cluster keeps its data, as Aurora's
	// storage outlives its instances, and the next instance starts from it.
	_, err = r.c.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(writer), SkipFinalSnapshot: aws.Bool(true)})
	wantCode(t, "delete the writer of a cluster with readers", err, "InvalidDBClusterStateFault")
	order := []string{"orders-2"}
	for _, id := range []string{"orders-1", "orders-3"} {
		if id != writer {
			order = append(order, id)
		}
	}
	for _, id := range append(order, writer) {
		if _, err := r.c.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
		waitDeleted(t, r.c, id)
	}
	if n := len(r.describe(t).DBClusterMembers); n != 0 {
		t.Fatalf("%d members left", n)
	}
	if _, err := r.c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("orders-4"),
		DBClusterIdentifier: aws.String(r.id), Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, r.c, "orders-4")
	if got := r.writer(t); got != "orders-4" {
		t.Fatalf("writer %q, want orders-4", got)
	}
	var after int
	if err := connectPort(t, writerPort, "app").QueryRow(ctx, "SELECT count(*) FROM ledger").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != rows {
		t.Fatalf("the cluster's new writer has %d rows, its last writer had %d", after, rows)
	}
	// A new master password is set on the writer, and is the cluster's.
	if _, err := r.c.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String(r.id),
		MasterUserPassword: aws.String("rotated-pass-2")}); err != nil {
		t.Fatal(err)
	}
	dsn := "host=127.0.0.1 port=%d user=%s password=%s dbname=app sslmode=disable"
	nc, err := pgx.Connect(ctx, fmt.Sprintf(dsn, writerPort, masterUser, "rotated-pass-2"))
	if err != nil {
		t.Fatalf("connect with the new master password: %v", err)
	}
	nc.Close(ctx)
	if oc, err := pgx.Connect(ctx, fmt.Sprintf(dsn, writerPort, masterUser, masterPass)); err == nil {
		oc.Close(ctx)
		t.Fatal("the old master password still works")
	}
}

// connectPort connects through an endpoint port as the master user.
func connectPort(t *testing.T, port int, db string) *pgx.Conn {
	t.Helper()
	c, err := tryConnect(context.Background(), port, db)
	if err != nil {
		t.Fatalf("connect through port %d: %v", port, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// runReaders reads through port until stop is closed, counting the reads
// that succeeded.
func runReaders(port, n int, stop <-chan struct{}) (reads *atomic.Int64, done func()) {
	reads = &atomic.Int64{}
	finished := make(chan struct{}, n)
	for range n {
		go func() {
			defer func() { finished <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				server, _, err := sessionOn(ctx, port)
				cancel()
				if err == nil && server > 0 {
					reads.Add(1)
				} else {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	return reads, func() {
		for range n {
			<-finished
		}
	}
}

// TestClusterBlueGreen upgrades a cluster of a writer and two readers from
// PostgreSQL 15 to 17 with a new cluster parameter group, while eight
// writers use the cluster endpoint and readers the reader endpoint. Every
// acknowledged commit is on the new production; the cluster, its
// instances and its endpoints keep their names and ports; the old cluster
// is NAME-old1, read-only until rebooted.
func TestClusterBlueGreen(t *testing.T) {
	t.Parallel()
	r := newClusterRig(t)
	requireVersions(t, r.api.svc, "17")
	ctx := context.Background()
	cl := r.describe(t)
	writerPort := int(aws.ToInt32(cl.Port))
	readerPort := hostPort(t, aws.ToString(cl.ReaderEndpoint))
	c := connectPort(t, writerPort, "app")
	if _, err := c.Exec(ctx, `CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, UNIQUE (writer, seq));
		INSERT INTO ledger (writer, seq) SELECT -1, g FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.CreateDBClusterParameterGroup(ctx, &awsrds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("orders-17"), DBParameterGroupFamily: aws.String("aurora-postgresql17"),
		Description: aws.String("orders on 17")}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.ModifyDBClusterParameterGroup(ctx, &awsrds.ModifyDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("orders-17"), Parameters: []types.Parameter{{
			ParameterName: aws.String("work_mem"), ParameterValue: aws.String("8192"), ApplyMethod: types.ApplyMethodImmediate}}}); err != nil {
		t.Fatal(err)
	}

	created, err := r.c.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{
		BlueGreenDeploymentName: aws.String("orders-17"), Source: cl.DBClusterArn, TargetEngineVersion: aws.String("17"),
		TargetDBClusterParameterGroupName: aws.String("orders-17")})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	id := aws.ToString(created.BlueGreenDeployment.BlueGreenDeploymentIdentifier)
	avail := waitDeploymentAPI(t, r.c, id, 3*time.Minute, "AVAILABLE")
	if aws.ToString(avail.Source) != aws.ToString(cl.DBClusterArn) || len(avail.SwitchoverDetails) != 4 {
		t.Fatalf("deployment source %s, details %+v", aws.ToString(avail.Source), avail.SwitchoverDetails)
	}
	green := aws.ToString(avail.Target)
	out, err := r.c.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(green)})
	if err != nil {
		t.Fatalf("describe green cluster %s: %v", green, err)
	}
	gcl := out.DBClusters[0]
	suffix := aws.ToString(gcl.DBClusterIdentifier)[len("orders-green-"):]
	if aws.ToString(gcl.DBClusterIdentifier) != "orders-green-"+suffix || len(gcl.DBClusterMembers) != 3 ||
		aws.ToString(gcl.DBClusterParameterGroup) != "orders-17" {
		t.Fatalf("green cluster %+v", gcl)
	}
	for _, m := range gcl.DBClusterMembers {
		want := aws.ToBool(m.IsClusterWriter) == (aws.ToString(m.DBInstanceIdentifier) == "orders-1-green-"+suffix)
		if !want {
			t.Fatalf("green member %s writer=%v", aws.ToString(m.DBInstanceIdentifier), aws.ToBool(m.IsClusterWriter))
		}
	}

	_, err = r.c.FailoverDBCluster(ctx, &awsrds.FailoverDBClusterInput{DBClusterIdentifier: aws.String(r.id)})
	wantCode(t, "fail over a cluster in a deployment", err, "InvalidDBClusterStateFault")

	// A green reader deleted before the switchover: its blue twin is not
	// switched over and keeps its name (MISSING_TARGET).
	if _, err := r.c.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("orders-3-green-" + suffix),
		SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitDeleted(t, r.c, "orders-3-green-"+suffix)
	missing := waitDeploymentAPI(t, r.c, id, time.Second, "AVAILABLE")
	statuses := map[string]string{}
	for _, d := range missing.SwitchoverDetails {
		statuses[aws.ToString(d.SourceMember)] = aws.ToString(d.Status)
	}
	if got := statuses["arn:aws:rds:us-east-1:000000000000:db:orders-3"]; got != "MISSING_TARGET" {
		t.Fatalf("orders-3's twin deleted: its detail says %q (%v)", got, statuses)
	}

	stop := make(chan struct{})
	l, wg := runWriters(t, writerPort, 0, 8, stop)
	reads, readersDone := runReaders(readerPort, 2, stop)
	stopped := false
	stopAll := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
			readersDone()
		}
	}
	t.Cleanup(stopAll)
	time.Sleep(time.Second)
	if _, err := r.c.SwitchoverBlueGreenDeployment(ctx, &awsrds.SwitchoverBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(id), SwitchoverTimeout: aws.Int32(120)}); err != nil {
		t.Fatalf("switchover: %v", err)
	}
	done := waitDeploymentAPI(t, r.c, id, 3*time.Minute, "SWITCHOVER_COMPLETED", "SWITCHOVER_FAILED")
	if aws.ToString(done.Status) != "SWITCHOVER_COMPLETED" {
		t.Fatalf("switchover ended %s: %s", aws.ToString(done.Status), aws.ToString(done.StatusDetails))
	}
	time.Sleep(500 * time.Millisecond)
	readsBefore := reads.Load()
	stopAll()
	checkLedger(t, connectPort(t, writerPort, "app"), l)
	// The rows green was built with, before the writers started, are
	// there too, once each.
	if n := count(t, connectPort(t, writerPort, "app"), "SELECT count(*) FROM ledger WHERE writer = -1"); n != 5000 {
		t.Fatalf("the new writer has %d of the 5000 rows blue had before the deployment", n)
	}
	acked := len(l.acked)
	if acked < 100 || readsBefore == 0 {
		t.Fatalf("%d commits and %d reads around the switchover (errors: %v)", acked, readsBefore, l.errs)
	}
	t.Logf("cluster switchover: %d commits acknowledged, all on the new writer; %d reads on the reader endpoint", acked, readsBefore)

	// The names and endpoints: orders is the green cluster, on 17, with
	// the group given, at the same ports; orders-old1 is the old one.
	now := r.describe(t)
	if aws.ToString(now.DbClusterResourceId) != aws.ToString(gcl.DbClusterResourceId) || aws.ToInt32(now.Port) != int32(writerPort) ||
		hostPort(t, aws.ToString(now.ReaderEndpoint)) != readerPort || aws.ToString(now.DBClusterParameterGroup) != "orders-17" {
		t.Fatalf("orders after switchover: %+v", now)
	}
	if got := r.writer(t); got != "orders-1" {
		t.Fatalf("writer of orders is %q, want orders-1 (green renamed)", got)
	}
	var version, workMem string
	if err := connectPort(t, writerPort, "app").QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('work_mem')").Scan(&version, &workMem); err != nil {
		t.Fatal(err)
	}
	if version[:3] != "17." || workMem != "8MB" {
		t.Fatalf("through the cluster endpoint: version %s, work_mem %s; want 17 and the cluster group's 8MB", version, workMem)
	}
	// A change to the cluster's group reaches its members at once.
	if _, err := r.c.ModifyDBClusterParameterGroup(ctx, &awsrds.ModifyDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("orders-17"), Parameters: []types.Parameter{{
			ParameterName: aws.String("work_mem"), ParameterValue: aws.String("16384"), ApplyMethod: types.ApplyMethodImmediate}}}); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{writerPort, readerPort} {
		eventually(t, 30*time.Second, "work_mem of the cluster group", func() error {
			c, err := tryConnect(ctx, port, "app")
			if err != nil {
				return err
			}
			defer c.Close(ctx)
			if err := c.QueryRow(ctx, "SHOW work_mem").Scan(&workMem); err != nil {
				return err
			}
			if workMem != "16MB" {
				return fmt.Errorf("work_mem %s through port %d", workMem, port)
			}
			return nil
		})
	}
	for range 2 {
		server, replica, err := sessionOn(ctx, readerPort)
		if err != nil || !replica || server != r.serverPort(t, "orders-2") {
			t.Fatalf("reader endpoint after switchover: server %d replica %v err %v; want orders-2, the only green reader", server, replica, err)
		}
	}
	if n := len(now.DBClusterMembers); n != 2 {
		t.Fatalf("orders has %d members after switchover, want 2", n)
	}
	old, err := r.c.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("orders-old1")})
	if err != nil {
		t.Fatalf("the old cluster: %v", err)
	}
	oldPort := int(aws.ToInt32(old.DBClusters[0].Port))
	members := map[string]bool{}
	for _, m := range old.DBClusters[0].DBClusterMembers {
		members[aws.ToString(m.DBInstanceIdentifier)] = true
	}
	if !members["orders-1-old1"] || !members["orders-2-old1"] || !members["orders-3"] || len(members) != 3 || oldPort == writerPort {
		t.Fatalf("old cluster %+v", old.DBClusters[0])
	}
	if _, err := connectPort(t, oldPort, "app").Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-3, 1)"); err == nil {
		t.Fatal("the old cluster's writer took a write before its reboot")
	}
	if _, err := r.c.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String("orders-1-old1")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, r.c, "orders-1-old1")
	eventually(t, 30*time.Second, "the old cluster is writable after its reboot", func() error {
		c, err := tryConnect(ctx, oldPort, "app")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "INSERT INTO ledger (writer, seq) VALUES (-3, 1)")
		return err
	})
}
