package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// TestClusterSwitchoverCrash switches a DB cluster (a writer and a reader)
// over with writers on its cluster endpoint: first with a green that
// cannot catch up within the timeout, which rolls back; then with teal
// killed (SIGKILL) as each persisted phase starts, and started again. Each
// deployment ends rolled back before the commit point and completed after
// it, with exactly one writable cluster, the cluster endpoint on it, and
// every acknowledged commit there.
func TestClusterSwitchoverCrash(t *testing.T) {
	dir := dataDir(t)
	c := &crashable{dir: dir, listen: freeAddr(t)}
	t.Cleanup(c.stop)
	c.start(t, "")
	rig := &apiRig{url: "http://" + c.listen}
	api := rig.clientFor(t, apiRootID, apiRootSecret)
	ctx := ctxFor(t, 12*time.Minute)

	if _, err := api.CreateDBCluster(ctx, &awsrds.CreateDBClusterInput{DBClusterIdentifier: aws.String("prod"),
		Engine: aws.String("aurora-postgresql"), EngineVersion: aws.String("15"), MasterUsername: aws.String(masterUser),
		MasterUserPassword: aws.String(masterPass), DatabaseName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"prod-1", "prod-2"} {
		if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id),
			DBClusterIdentifier: aws.String("prod"), Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large")}); err != nil {
			t.Fatal(err)
		}
		waitAvailable(t, api, id)
	}
	// Green's group allows prepared transactions, which stall its apply.
	if _, err := api.CreateDBClusterParameterGroup(ctx, &awsrds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("stall"), DBParameterGroupFamily: aws.String("aurora-postgresql15"),
		Description: aws.String("prepared transactions")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.ModifyDBClusterParameterGroup(ctx, &awsrds.ModifyDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("stall"), Parameters: []types.Parameter{{ParameterName: aws.String("max_prepared_transactions"),
			ParameterValue: aws.String("5"), ApplyMethod: types.ApplyMethodPendingReboot}}}); err != nil {
		t.Fatal(err)
	}
	cluster := func() types.DBCluster {
		out, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("prod")})
		if err != nil {
			t.Fatal(err)
		}
		return out.DBClusters[0]
	}
	port := int(aws.ToInt32(cluster().Port))
	if err := pgEngine.exec(ctx, port, pgEngine.ledgerDDL); err != nil {
		t.Fatal(err)
	}
	deploy := func(name string) (string, types.BlueGreenDeployment) {
		out, err := api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{
			BlueGreenDeploymentName: aws.String(name), Source: cluster().DBClusterArn,
			TargetDBClusterParameterGroupName: aws.String("stall")})
		if err != nil {
			t.Fatalf("%s: create deployment: %v", name, err)
		}
		id := *out.BlueGreenDeployment.BlueGreenDeploymentIdentifier
		return id, waitDeploymentAPI(t, api, id, 2*time.Minute, bluegreen.StatusAvailable)
	}
	// check asserts there is one writable cluster, prod, and that every
	// acknowledged commit is on it.
	check := func(round string, l *ledger) {
		t.Helper()
		out, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{})
		if err != nil {
			t.Fatal(err)
		}
		writable := 0
		for _, cl := range out.DBClusters {
			wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			werr := pgEngine.exec(wctx, int(aws.ToInt32(cl.Port)), "INSERT INTO ledger (writer, seq) VALUES (-1, $1)", time.Now().UnixNano()%1e9)
			cancel()
			if werr == nil {
				writable++
				if aws.ToString(cl.DBClusterIdentifier) != "prod" {
					t.Fatalf("%s: cluster %s is writable", round, aws.ToString(cl.DBClusterIdentifier))
				}
			} else if !strings.Contains(werr.Error(), "read-only") {
				t.Fatalf("%s: write to cluster %s: %v", round, aws.ToString(cl.DBClusterIdentifier), werr)
			}
		}
		if writable != 1 {
			t.Fatalf("%s: %d writable clusters", round, writable)
		}
		pgEngine.check(t, port, l)
	}
	// A green that cannot apply blue's writes: the switchover times out
	// and rolls back.
	id, dep := deploy("stalled")
	green, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: dep.Target})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := tryConnect(ctx, int(aws.ToInt32(green.DBClusters[0].Port)), "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Exec(ctx, "BEGIN READ WRITE; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE; PREPARE TRANSACTION 'stall'"); err != nil {
		t.Fatal(err)
	}
	gc.Close(ctx)
	blueID := aws.ToString(cluster().DbClusterResourceId)
	stop := make(chan struct{})
	l, wg := runWriters(t, port, 0, 4, stop)
	time.Sleep(500 * time.Millisecond)
	if _, err := api.SwitchoverBlueGreenDeployment(ctx, &awsrds.SwitchoverBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(id), SwitchoverTimeout: aws.Int32(30)}); err != nil {
		t.Fatal(err)
	}
	failed := waitDeploymentAPI(t, api, id, 2*time.Minute, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverCompleted)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if aws.ToString(failed.Status) != bluegreen.StatusSwitchoverFailed || aws.ToString(cluster().DbClusterResourceId) != blueID ||
		int(aws.ToInt32(cluster().Port)) != port {
		t.Fatalf("a stalled green: deployment %s (%s); prod %s", aws.ToString(failed.Status), aws.ToString(failed.StatusDetails),
			aws.ToString(cluster().DbClusterResourceId))
	}
	// The prepared transaction outlives the switchover; it would hold the
	// check's write to green.
	if err := pgEngine.exec(ctx, int(aws.ToInt32(green.DBClusters[0].Port)), "ROLLBACK PREPARED 'stall'"); err != nil {
		t.Fatal(err)
	}
	check("rollback", l)
	deleteDeployment(t, api, id, true)

	phases := []string{bluegreen.PhaseGuardrails, bluegreen.PhaseHold, bluegreen.PhaseStopWrites, bluegreen.PhaseCatchUp,
		bluegreen.PhaseSequences, bluegreen.PhaseCommitted, bluegreen.PhaseRelease}
	for i, phase := range phases {
		c.stop()
		c.start(t, phase)
		// Every member starts again with teal; a deployment copies them all.
		waitAvailable(t, api, "prod-1")
		waitAvailable(t, api, "prod-2")
		id, _ := deploy(fmt.Sprintf("crash-%d", i))
		blueID := aws.ToString(cluster().DbClusterResourceId)
		stop := make(chan struct{})
		l, wg := runWriters(t, port, 100*(i+1), 4, stop)
		time.Sleep(500 * time.Millisecond)
		_, err := api.SwitchoverBlueGreenDeployment(ctx, &awsrds.SwitchoverBlueGreenDeploymentInput{
			BlueGreenDeploymentIdentifier: aws.String(id), SwitchoverTimeout: aws.Int32(60)})
		if err != nil && apiCode(err) != "not an API error: "+err.Error() {
			t.Fatalf("%s: switchover: %v", phase, err)
		}
		select {
		case <-c.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("teal was not killed at phase %s", phase)
		}
		c.start(t, "")
		want := bluegreen.StatusSwitchoverFailed
		if bluegreen.Committed(phase) && phase != bluegreen.PhaseCommitted {
			want = bluegreen.StatusSwitchoverCompleted
		}
		dep := waitDeploymentAPI(t, api, id, 2*time.Minute, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed)
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
		if got := aws.ToString(dep.Status); got != want {
			t.Fatalf("killed at %s: deployment %s (%s), want %s", phase, got, aws.ToString(dep.StatusDetails), want)
		}
		now := cluster()
		if switched := aws.ToString(now.DbClusterResourceId) != blueID; switched != (want == bluegreen.StatusSwitchoverCompleted) {
			t.Fatalf("killed at %s: deployment %s but the cluster prod switched: %v", phase, want, switched)
		}
		if int(aws.ToInt32(now.Port)) != port {
			t.Fatalf("killed at %s: prod's cluster endpoint moved from %d to %d", phase, port, aws.ToInt32(now.Port))
		}
		t.Logf("killed at %s: %s", phase, want)
		check("killed at "+phase, l)
		deleteDeployment(t, api, id, want == bluegreen.StatusSwitchoverFailed)
	}
}

// TestClusterFailoverCrash kills teal (SIGKILL) as each step of a
// FailoverDBCluster starts, with writers on the cluster endpoint, and
// starts it again. Before the commit point the old writer is the writer
// again, after it the new one; either way the cluster endpoint reaches
// the writer Describe names, it is the only primary, and every
// acknowledged commit is on it.
func TestClusterFailoverCrash(t *testing.T) {
	dir := dataDir(t)
	c := &crashable{dir: dir, listen: freeAddr(t)}
	t.Cleanup(c.stop)
	c.start(t, "")
	rig := &apiRig{url: "http://" + c.listen}
	api := rig.clientFor(t, apiRootID, apiRootSecret)
	ctx := ctxFor(t, 8*time.Minute)
	r := &clusterRig{c: api, id: "ledger"}
	if _, err := api.CreateDBCluster(ctx, &awsrds.CreateDBClusterInput{DBClusterIdentifier: aws.String(r.id),
		Engine: aws.String("aurora-postgresql"), EngineVersion: aws.String("15"), MasterUsername: aws.String(masterUser),
		MasterUserPassword: aws.String(masterPass), DatabaseName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ledger-1", "ledger-2"} {
		if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id),
			DBClusterIdentifier: aws.String(r.id), Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large")}); err != nil {
			t.Fatal(err)
		}
		waitAvailable(t, api, id)
	}
	port := int(aws.ToInt32(r.describe(t).Port))
	if err := pgEngine.exec(ctx, port, pgEngine.ledgerDDL); err != nil {
		t.Fatal(err)
	}
	for i, step := range []string{rds.FailoverStop, rds.FailoverCommit, rds.FailoverPromote} {
		c.stop()
		c.start(t, step)
		waitAvailable(t, api, "ledger-1")
		waitAvailable(t, api, "ledger-2")
		r.waitStatus(t, "available", time.Minute)
		from := r.writer(t)
		to := map[string]string{"ledger-1": "ledger-2", "ledger-2": "ledger-1"}[from]
		stop := make(chan struct{})
		l, wg := runWriters(t, port, 100*i, 4, stop)
		time.Sleep(500 * time.Millisecond)
		_, err := api.FailoverDBCluster(ctx, &awsrds.FailoverDBClusterInput{DBClusterIdentifier: aws.String(r.id),
			TargetDBInstanceIdentifier: aws.String(to)})
		if err != nil && apiCode(err) != "not an API error: "+err.Error() {
			t.Fatalf("%s: failover: %v", step, err)
		}
		select {
		case <-c.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("teal was not killed at %s", step)
		}
		c.start(t, "")
		want := from
		if step == rds.FailoverPromote {
			want = to
		}
		r.waitStatus(t, "available", time.Minute)
		waitAvailable(t, api, "ledger-1")
		waitAvailable(t, api, "ledger-2")
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
		if got := r.writer(t); got != want {
			t.Fatalf("killed at %s: the writer is %s, want %s", step, got, want)
		}
		eventually(t, 30*time.Second, "the cluster endpoint reaches "+want, func() error {
			server, replica, err := sessionOn(ctx, port)
			if err != nil {
				return err
			}
			if replica || server != r.serverPort(t, want) {
				return fmt.Errorf("reached server port %d (replica %v)", server, replica)
			}
			return nil
		})
		other := map[string]string{"ledger-1": "ledger-2", "ledger-2": "ledger-1"}[want]
		insts, err := api.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(other)})
		if err != nil {
			t.Fatal(err)
		}
		werr := pgEngine.exec(ctx, int(aws.ToInt32(insts.DBInstances[0].Endpoint.Port)), "INSERT INTO ledger (writer, seq) VALUES (-1, $1)", i)
		if werr == nil || !strings.Contains(werr.Error(), "read-only") {
			t.Fatalf("killed at %s: a write to the reader %s: %v", step, other, werr)
		}
		pgEngine.check(t, port, l)
		t.Logf("killed at %s: the writer is %s", step, want)
	}
}
