package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// TestUpgradeRefusedFallsBackToCopy: pg_upgrade refuses a table with a
// regproc column (its value is an OID it cannot carry). The green of a
// newer major is then copied table by table instead, with the same rows,
// and an event says so.
func TestUpgradeRefusedFallsBackToCopy(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 4*time.Minute)
	blue := createPostgres(t, svc, "regs", "15")
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, `CREATE TABLE calls (id int PRIMARY KEY, fn regproc NOT NULL);
		INSERT INTO calls SELECT g, 'now' FROM generate_series(1, 100) g`); err != nil {
		t.Fatal(err)
	}
	dep := createBlueGreen(t, svc, "regs-to-17", blue.DBInstanceArn, "17", "")
	green := describe(t, svc, nameOf(dep.Target))
	gc := connect(t, green, "app")
	if n := count(t, gc, "SELECT count(*) FROM calls WHERE fn = 'now'::regproc"); n != 100 {
		t.Fatalf("green has %d of blue's 100 rows", n)
	}
	if _, err := bc.Exec(ctx, "INSERT INTO calls VALUES (101, 'now')"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "green has blue's new row", func() error {
		if n := count(t, gc, "SELECT count(*) FROM calls"); n != 101 {
			return errorf("%d rows", n)
		}
		return nil
	})
	events, _, err := svc.DescribeEvents(ctx, rds.EventsInput{SourceType: "blue-green-deployment", SourceIdentifier: dep.BlueGreenDeploymentIdentifier})
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, e := range events {
		said = said || strings.Contains(e.Message, "copied table by table instead")
	}
	if !said {
		t.Errorf("no event says the upgrade was refused: %+v", events)
	}
	// The copy replicates as any green does: available, not degraded.
	d, _, err := svc.DescribeBlueGreenDeployments(ctx, dep.BlueGreenDeploymentIdentifier, nil, rds.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if d[0].Status != bluegreen.StatusAvailable || strings.Contains(d[0].StatusDetails, "degraded") {
		t.Fatalf("deployment %s: %s", d[0].Status, d[0].StatusDetails)
	}
}
