package e2e

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// TestChainUpgrade upgrades one instance again and again through blue/green
// deployments, as a user keeping up with PostgreSQL would: 15 -> 16 -> 17 ->
// 18, and 14 -> 16 (which skips a major) -> 16 (a same-major deployment,
// copied by a newer pg_dump). Writers insert through the
// endpoint during each deployment and switchover; after each, every
// acknowledged insert is there, the endpoint's port is the same, and the
// user deletes the deployment and the old blue before the next upgrade.
func TestChainUpgrade(t *testing.T) {
	for _, chain := range [][]string{{"15", "16", "17", "18"}, {"14", "16", "16"}} {
		t.Run(strings.Join(chain, "-"), func(t *testing.T) {
			t.Parallel()
			dir := dataDir(t)
			svc := openService(t, dir)
			requireVersions(t, svc, chain...)
			upgradeChain(t, svc, "chain", chain)
		})
	}
}

func upgradeChain(t *testing.T, svc *rds.Service, id string, chain []string) {
	ctx := ctxFor(t, time.Duration(len(chain))*4*time.Minute)
	blue := createPostgres(t, svc, id, chain[0])
	port := blue.Endpoint.Port
	const seeded = 2000
	if _, err := connect(t, blue, "app").Exec(ctx, fmt.Sprintf(`
		CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, at timestamptz DEFAULT now(), UNIQUE (writer, seq));
		CREATE INDEX ledger_at ON ledger (at);
		INSERT INTO ledger (writer, seq) SELECT -1, g FROM generate_series(1, %d) g`, seeded)); err != nil {
		t.Fatal(err)
	}

	// Every hop copies what the hops before it committed: the inserts
	// acknowledged so far, on every blue since the first.
	everAcked := map[[2]int]time.Time{}
	for hop, version := range chain[1:] {
		from := chain[hop]
		stop := make(chan struct{})
		l, wg := runWriters(t, port, 10*hop, 4, stop)
		halt := func() {
			if stop != nil {
				close(stop)
				wg.Wait()
				stop = nil
			}
		}
		defer halt()

		dep := createBlueGreen(t, svc, fmt.Sprintf("hop%d-to-%s", hop+1, version), blue.DBInstanceArn, version, "")
		depID := dep.BlueGreenDeploymentIdentifier
		green := describe(t, svc, nameOf(dep.Target))
		if !strings.HasPrefix(green.EngineVersion, version+".") {
			t.Fatalf("%s -> %s: green runs %s", from, version, green.EngineVersion)
		}
		time.Sleep(time.Second) // writers commit while green replicates
		timeout := 60
		if _, err := svc.SwitchoverBlueGreenDeployment(ctx, depID, &timeout); err != nil {
			t.Fatalf("%s -> %s: switchover: %v", from, version, err)
		}
		done := waitDeployment(t, svc, depID, 2*time.Minute, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed)
		time.Sleep(500 * time.Millisecond) // writers commit on the new production
		halt()
		if done.Status != bluegreen.StatusSwitchoverCompleted {
			t.Fatalf("%s -> %s: switchover %s: %s", from, version, done.Status, done.StatusDetails)
		}

		prod := describe(t, svc, id)
		if !strings.HasPrefix(prod.EngineVersion, version+".") || prod.Endpoint.Port != port || prod.DbiResourceId == blue.DbiResourceId {
			t.Fatalf("%s -> %s: production is %s on port %d (resource %s), want %s on port %d, not %s",
				from, version, prod.EngineVersion, prod.Endpoint.Port, prod.DbiResourceId, version, port, blue.DbiResourceId)
		}
		c := connect(t, prod, "app")
		checkLedger(t, c, l)
		maps.Copy(everAcked, l.acked)
		checkLedger(t, c, &ledger{acked: everAcked})
		if n := count(t, c, "SELECT count(*) FROM ledger WHERE writer = -1"); n != seeded {
			t.Fatalf("%s -> %s: %d of %d seeded rows", from, version, n, seeded)
		}
		var server string
		if err := c.QueryRow(ctx, "SHOW server_version").Scan(&server); err != nil || !strings.HasPrefix(server, version+".") {
			t.Fatalf("%s -> %s: the endpoint reaches PostgreSQL %s (%v)", from, version, server, err)
		}
		c.Close(ctx)
		t.Logf("%s -> %s: %d inserts acknowledged during the deployment and switchover, %d failed attempts",
			from, version, len(l.acked), l.failed)

		// Clean up as a user would before the next upgrade, which names
		// its old blue id-old1 again.
		if _, err := svc.DeleteBlueGreenDeployment(ctx, depID, false); err != nil {
			t.Fatalf("%s -> %s: delete deployment: %v", from, version, err)
		}
		if _, err := svc.DeleteDBInstance(ctx, id+"-old1", true, ""); err != nil {
			t.Fatalf("%s -> %s: delete the old blue: %v", from, version, err)
		}
		waitStatus(t, svc, id+"-old1", "deleted", time.Minute)
		blue = prod
	}
}
