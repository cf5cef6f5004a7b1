package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// TestDeleteWhileProvisioning deletes a deployment at each point of its
// green's build, with and without DeleteTarget. Each time the build stops,
// and nothing is left behind: no slot, publication or teal schema on blue,
// no subscription on a kept green (which says it was not finished), no
// deployment record, even after teal restarts.
func TestDeleteWhileProvisioning(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "16", "17")
	ctx := ctxFor(t, 6*time.Minute)
	blue := createPostgres(t, svc, "prov", "15")
	bc := connect(t, blue, "app")
	if _, err := bc.Exec(ctx, `CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL);
		INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 300000) g;
		CREATE INDEX big_pad ON big (pad)`); err != nil {
		t.Fatal(err)
	}
	points := []struct {
		at           string // a prefix of StatusDetails; "" is at once
		deleteTarget bool
		target       string // 16 is copied table by table, 15 cloned, 17 cloned and upgraded
	}{
		{"", true, "16"},
		{"", false, "16"},
		{"Creating the green environment: copying the data of database app", true, "16"},
		{"Creating the green environment: building the indexes and constraints of database app", false, "16"},
		{"Creating the green environment: copying the data of database app", false, "16"},
		{"Creating the green environment: collecting statistics", true, "16"},
		{"Creating the green environment: copying blue's files", true, "15"},
		{"Creating the green environment: recovering the copy", false, "15"},
		{"Creating the green environment: upgrading the copy", true, "17"},
		{"Creating the green environment: upgrading the copy", false, "17"},
		// A clone's statistics are collected while its subscriptions are made.
		{"Creating the green environment: collecting statistics", true, "17"},
	}
	for i, p := range points {
		name := fmt.Sprintf("del-%d", i)
		d, err := svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{BlueGreenDeploymentName: name,
			Source: blue.DBInstanceArn, TargetEngineVersion: p.target})
		if err != nil {
			t.Fatal(err)
		}
		id := d.BlueGreenDeploymentIdentifier
		green := nameOf(d.Target)
		reached := p.at == ""
		for end := time.Now().Add(2 * time.Minute); !reached; time.Sleep(5 * time.Millisecond) {
			got, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{})
			if err != nil {
				t.Fatal(err)
			}
			reached = strings.HasPrefix(got[0].StatusDetails, p.at)
			if !reached && (got[0].Status != "PROVISIONING" || time.Now().After(end)) {
				t.Fatalf("%s: %q never seen; deployment %s: %s", name, p.at, got[0].Status, got[0].StatusDetails)
			}
		}
		if _, err := svc.DeleteBlueGreenDeployment(ctx, id, p.deleteTarget); err != nil {
			t.Fatalf("%s: delete at %q: %v", name, p.at, err)
		}
		eventually(t, 2*time.Minute, name+" deleted", func() error {
			if _, _, err := svc.DescribeBlueGreenDeployments(ctx, id, nil, rds.Page{}); !isFault(err, "BlueGreenDeploymentNotFoundFault") {
				return fmt.Errorf("describe: %v", err)
			}
			return nil
		})
		if !p.deleteTarget {
			// A build that went on after the delete would create its
			// objects now: give it the time to.
			time.Sleep(2 * time.Second)
		}
		for what, q := range map[string]string{
			"slots":        `SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'teal\_%'`,
			"publications": `SELECT count(*) FROM pg_publication WHERE pubname LIKE 'teal\_%'`,
			"teal schema":  `SELECT count(*) FROM pg_namespace WHERE nspname = 'teal'`,
		} {
			if n := count(t, bc, q); n != 0 {
				t.Errorf("%s (deleted at %q): %d %s left on blue", name, p.at, n, what)
			}
		}
		if p.deleteTarget {
			waitStatus(t, svc, green, "deleted", 2*time.Minute)
			continue
		}
		g := describe(t, svc, green)
		if g.DBInstanceStatus != rds.StatusFailed && g.DBInstanceStatus != rds.StatusAvailable {
			t.Errorf("%s: kept green is %s", name, g.DBInstanceStatus)
		}
		if g.DBInstanceStatus == rds.StatusAvailable {
			gc := connect(t, g, "app")
			if n := count(t, gc, `SELECT count(*) FROM pg_stat_subscription`); n != 0 {
				t.Errorf("%s: %d subscriptions left on green", name, n)
			}
		}
		if _, err := svc.DeleteDBInstance(ctx, green, true, ""); err != nil {
			t.Fatalf("delete kept green %s: %v", green, err)
		}
		waitStatus(t, svc, green, "deleted", 2*time.Minute)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	// pg_upgrade starts its servers detached from teal: none may outlive
	// the deployment.
	if left := processesUnder(t, dir); len(left) > 0 {
		t.Errorf("processes left running in the deleted instances: %q", left)
	}
	again := openService(t, dir)
	if got, _, err := again.DescribeBlueGreenDeployments(context.Background(), "", nil, rds.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("after a restart: deployments %+v (%v)", got, err)
	}
}

// processesUnder lists the command lines of running processes that name a
// path under dir.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	pids, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // it ended
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, dir+"/") {
			found = append(found, cmd)
		}
	}
	return found
}
