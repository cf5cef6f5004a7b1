package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestCLICluster drives a DB cluster's life through the teal binary: create
// the cluster, add a writer with create-db-instance --db-cluster-identifier,
// wait for both, describe the cluster as a table and as JSON and connect
// through its endpoint, then delete the instance and the cluster, waiting
// for each deletion.
func TestCLICluster(t *testing.T) {
	bin := buildTeal(t)
	dir := dataDir(t)
	endpoint := serveFirstRun(t, bin, dir)
	teal := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}

	out, _ := teal.ok(t, "create-db-cluster", "--db-cluster-identifier", "cli-cluster", "--engine", "aurora-postgresql",
		"--engine-version", "15", "--master-username", masterUser, "--master-user-password", masterPass, "--database-name", "app")
	if !strings.HasPrefix(out, "IDENTIFIER") || !strings.Contains(out, "cli-cluster") || !strings.Contains(out, "READER ENDPOINT") {
		t.Errorf("create-db-cluster printed:\n%s", out)
	}
	out, _ = teal.ok(t, "create-db-instance", "--db-instance-identifier", "cli-cluster-1", "--db-cluster-identifier", "cli-cluster",
		"--engine", "aurora-postgresql", "--db-instance-class", "db.r6g.large")
	if !strings.Contains(out, "cli-cluster-1") || !strings.Contains(out, "creating") {
		t.Errorf("create-db-instance printed:\n%s", out)
	}
	if _, progress := teal.ok(t, "wait", "db-cluster-available", "--db-cluster-identifier", "cli-cluster", "--timeout", "3m"); !strings.Contains(progress, "cli-cluster: available (") {
		t.Errorf("wait db-cluster-available progress:\n%s", progress)
	}
	teal.ok(t, "wait", "db-instance-available", "--db-instance-identifier", "cli-cluster-1", "--timeout", "3m")

	out, _ = teal.ok(t, "describe-db-clusters")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "cli-cluster ") || !strings.Contains(lines[1], "available") ||
		!strings.Contains(lines[1], "127.0.0.1:") || !strings.HasSuffix(lines[1], "cli-cluster-1 (writer)") {
		t.Errorf("describe-db-clusters table:\n%s", out)
	}
	out, _ = teal.ok(t, "describe-db-clusters", "--db-cluster-identifier", "cli-cluster", "--output", "json")
	var desc struct {
		DBClusters []struct {
			Status           string
			Port             int
			DBClusterMembers []struct {
				DBInstanceIdentifier string
				IsClusterWriter      bool
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("describe-db-clusters json: %v\n%s", err, out)
	}
	if len(desc.DBClusters) != 1 || desc.DBClusters[0].Port == 0 || len(desc.DBClusters[0].DBClusterMembers) != 1 ||
		desc.DBClusters[0].DBClusterMembers[0].DBInstanceIdentifier != "cli-cluster-1" || !desc.DBClusters[0].DBClusterMembers[0].IsClusterWriter {
		t.Fatalf("describe-db-clusters json:\n%s", out)
	}
	// The cluster endpoint reaches the writer.
	c, err := tryConnect(context.Background(), desc.DBClusters[0].Port, "app")
	if err != nil {
		t.Fatalf("connect through the cluster endpoint: %v", err)
	}
	c.Close(context.Background())

	teal.ok(t, "delete-db-instance", "--db-instance-identifier", "cli-cluster-1", "--skip-final-snapshot")
	if _, progress := teal.ok(t, "wait", "db-instance-deleted", "--db-instance-identifier", "cli-cluster-1", "--timeout", "2m"); !strings.Contains(progress, "cli-cluster-1: deleted (") {
		t.Errorf("wait db-instance-deleted progress:\n%s", progress)
	}
	out, _ = teal.ok(t, "delete-db-cluster", "--db-cluster-identifier", "cli-cluster", "--skip-final-snapshot")
	if !strings.Contains(out, "cli-cluster") || !strings.Contains(out, "deleting") {
		t.Errorf("delete-db-cluster printed:\n%s", out)
	}
	if _, progress := teal.ok(t, "wait", "db-cluster-deleted", "--db-cluster-identifier", "cli-cluster", "--timeout", "2m"); !strings.Contains(progress, "cli-cluster: deleted (") {
		t.Errorf("wait db-cluster-deleted progress:\n%s", progress)
	}
	out, errOut, code := teal.run(t, "describe-db-clusters", "--db-cluster-identifier", "cli-cluster")
	if code != 1 || out != "" || errOut != "teal: DBClusterNotFoundFault: DBCluster cli-cluster not found.\n" {
		t.Errorf("describe of a deleted cluster: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
