package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/server"
)

// TestMain lets the test binary act as `teal serve` for the crash tests:
// the same server.Run, with a switchover hook that kills the process with
// SIGKILL when the phase named in TEAL_E2E_KILL_AT starts.
func TestMain(m *testing.M) {
	if os.Getenv("TEAL_E2E_SERVE") == "" {
		os.Exit(m.Run())
	}
	killAt := os.Getenv("TEAL_E2E_KILL_AT")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := server.Run(ctx, server.Config{
		DataDir: os.Getenv("TEAL_DATA_DIR"), Listen: os.Getenv("TEAL_E2E_LISTEN"), EnginesDir: server.DefaultEnginesDir(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SwitchoverHook: func(_, phase string) {
			if phase == killAt {
				fmt.Fprintf(os.Stderr, "teal: killed at switchover phase %s\n", phase)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// crashable is a teal server process that the test can kill and restart on
// the same data directory and API address.
type crashable struct {
	dir, listen string
	cmd         *exec.Cmd
	exited      chan struct{}
}

func (c *crashable) start(t *testing.T, killAt string) {
	t.Helper()
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), "TEAL_E2E_SERVE=1", "TEAL_DATA_DIR="+c.dir, "TEAL_E2E_LISTEN="+c.listen,
		"TEAL_E2E_KILL_AT="+killAt, "TEAL_ACCESS_KEY_ID="+apiRootID, "TEAL_SECRET_ACCESS_KEY="+apiRootSecret)
	c.cmd.Stdout, c.cmd.Stderr = os.Stderr, os.Stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(c.cmd, c.exited)
	eventually(t, 30*time.Second, "teal answers", func() error {
		resp, err := httpGet("http://" + c.listen + "/healthz")
		if err != nil {
			return err
		}
		if resp != 200 {
			return errorf("healthz %d", resp)
		}
		return nil
	})
}

func (c *crashable) stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// TestSwitchoverCrash kills teal with SIGKILL as each persisted switchover
// phase starts, with writers running, and starts it again. The deployment
// must end rolled back (before the commit point) or completed (after it),
// with exactly one writable primary and every acknowledged insert on it.
func TestSwitchoverCrash(t *testing.T) {
	t.Run("postgres", func(t *testing.T) { switchoverCrash(t, pgEngine) })
	t.Run("mariadb", func(t *testing.T) { switchoverCrash(t, mariaEngine) })
}

// crashEngine is what the crash test needs to know of an engine.
type crashEngine struct {
	engine, version, user string
	ledgerDDL             string
	exec                  func(ctx context.Context, port int, q string, args ...any) error
	writers               func(t *testing.T, port, first, n int, stop <-chan struct{}) (*ledger, *sync.WaitGroup)
	check                 func(t *testing.T, port int, l *ledger)
}

var pgEngine = crashEngine{
	engine: "postgres", version: "15", user: masterUser,
	ledgerDDL: "CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int, seq int, at timestamptz DEFAULT now(), UNIQUE (writer, seq))",
	exec: func(ctx context.Context, port int, q string, args ...any) error {
		c, err := tryConnect(ctx, port, "app")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, q, args...)
		return err
	},
	writers: runWriters,
	check: func(t *testing.T, port int, l *ledger) {
		c, err := tryConnect(context.Background(), port, "app")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		checkLedger(t, c, l)
	},
}

var mariaEngine = crashEngine{
	engine: "mariadb", version: "10.11", user: "admin",
	ledgerDDL: "CREATE TABLE ledger (id bigint AUTO_INCREMENT PRIMARY KEY, writer int, seq int, UNIQUE (writer, seq)) ENGINE=InnoDB",
	exec: func(ctx context.Context, port int, q string, args ...any) error {
		db, err := sql.Open("mysql", mariaDSN(port, "app"))
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, strings.ReplaceAll(q, "$1", "?"), args...)
		return err
	},
	writers: runMariaWriters,
	check: func(t *testing.T, port int, l *ledger) {
		db, err := sql.Open("mysql", mariaDSN(port, "app"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		checkMariaLedger(t, db, l)
	},
}

func switchoverCrash(t *testing.T, eng crashEngine) {
	dir := dataDir(t)
	c := &crashable{dir: dir, listen: freeAddr(t)}
	t.Cleanup(c.stop)
	c.start(t, "")
	rig := &apiRig{url: "http://" + c.listen}
	api := rig.clientFor(t, apiRootID, apiRootSecret)
	ctx := ctxFor(t, 12*time.Minute)

	if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("prod"),
		Engine: aws.String(eng.engine), EngineVersion: aws.String(eng.version), DBInstanceClass: aws.String("db.t3.micro"),
		MasterUsername: aws.String(eng.user), MasterUserPassword: aws.String(masterPass), DBName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, "prod")
	prod := describeAPI(t, api, "prod")
	port := int(*prod.Endpoint.Port)
	if err := eng.exec(ctx, port, eng.ledgerDDL); err != nil {
		t.Fatal(err)
	}

	phases := []string{bluegreen.PhaseGuardrails, bluegreen.PhaseHold, bluegreen.PhaseStopWrites, bluegreen.PhaseCatchUp,
		bluegreen.PhaseSequences, bluegreen.PhaseCommitted, bluegreen.PhaseRelease}
	for i, phase := range phases {
		// Restart teal with the kill armed, make a deployment, switch over.
		c.stop()
		c.start(t, phase)
		waitAvailable(t, api, "prod")
		out, err := api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{
			BlueGreenDeploymentName: aws.String(fmt.Sprintf("crash-%d", i)), Source: aws.String(*describeAPI(t, api, "prod").DBInstanceArn)})
		if err != nil {
			t.Fatalf("%s: create deployment: %v", phase, err)
		}
		id := *out.BlueGreenDeployment.BlueGreenDeploymentIdentifier
		waitDeploymentAPI(t, api, id, 2*time.Minute, bluegreen.StatusAvailable)
		blueID := *describeAPI(t, api, "prod").DbiResourceId
		stop := make(chan struct{})
		l, wg := eng.writers(t, port, 100*i, 4, stop)
		time.Sleep(500 * time.Millisecond)
		// teal may die before it answers: the switchover starts at once.
		_, err = api.SwitchoverBlueGreenDeployment(ctx, &awsrds.SwitchoverBlueGreenDeploymentInput{
			BlueGreenDeploymentIdentifier: aws.String(id), SwitchoverTimeout: aws.Int32(60)})
		if err != nil && apiCode(err) != "not an API error: "+err.Error() {
			t.Fatalf("%s: switchover: %v", phase, err)
		}
		select {
		case <-c.exited:
		case <-time.After(60 * time.Second):
			d := waitDeploymentAPI(t, api, id, time.Second, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed, bluegreen.StatusSwitchoverInProgress)
			t.Fatalf("teal was not killed at phase %s: deployment %s: %s", phase, aws.ToString(d.Status), aws.ToString(d.StatusDetails))
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
		t.Logf("killed at %s: %s: %s", phase, want, aws.ToString(dep.StatusDetails))
		// prod is green after a completed switchover, still blue after a rollback.
		if switched := *describeAPI(t, api, "prod").DbiResourceId != blueID; switched != (want == bluegreen.StatusSwitchoverCompleted) {
			t.Fatalf("killed at %s: deployment %s but prod switched: %v", phase, want, switched)
		}

		// Exactly one writable primary: the one named prod.
		writable := 0
		insts, err := api.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, inst := range insts.DBInstances {
			if inst.ReadReplicaSourceDBInstanceIdentifier != nil {
				continue
			}
			werr := eng.exec(ctx, int(*inst.Endpoint.Port), "INSERT INTO ledger (writer, seq) VALUES (-1, $1)", time.Now().UnixNano()%1e9)
			if werr == nil {
				writable++
				if *inst.DBInstanceIdentifier != "prod" {
					t.Fatalf("killed at %s: %s is writable", phase, *inst.DBInstanceIdentifier)
				}
			} else if !strings.Contains(werr.Error(), "read-only") && !strings.Contains(werr.Error(), "--read-only") {
				t.Fatalf("killed at %s: write to %s: %v", phase, *inst.DBInstanceIdentifier, werr)
			}
		}
		if writable != 1 {
			t.Fatalf("killed at %s: %d writable primaries", phase, writable)
		}
		eng.check(t, port, l)

		// Clean up for the next round: a failed deployment takes its green with it.
		deleteDeployment(t, api, id, want == bluegreen.StatusSwitchoverFailed)
	}
}

// deleteDeployment deletes a deployment, with its green when deleteTarget,
// and waits until it is gone.
func deleteDeployment(t *testing.T, api *awsrds.Client, id string, deleteTarget bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := api.DeleteBlueGreenDeployment(ctx, &awsrds.DeleteBlueGreenDeploymentInput{
		BlueGreenDeploymentIdentifier: aws.String(id), DeleteTarget: aws.Bool(deleteTarget)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "deployment deleted", func() error {
		_, err := api.DescribeBlueGreenDeployments(ctx, &awsrds.DescribeBlueGreenDeploymentsInput{BlueGreenDeploymentIdentifier: aws.String(id)})
		if apiCode(err) != "BlueGreenDeploymentNotFoundFault" {
			return errorf("describe: %v", err)
		}
		return nil
	})
}

func describeAPI(t *testing.T, c *awsrds.Client, id string) *types.DBInstance {
	t.Helper()
	out, err := c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return &out.DBInstances[0]
}
