package e2e

import (
	"strings"
	"testing"
)

// TestCLIBlueGreen drives a blue/green deployment with the teal CLI, whose
// --wait follows the tasks, the lag and the switchover phases.
func TestCLIBlueGreen(t *testing.T) {
	bin := buildTeal(t)
	dir := dataDir(t)
	endpoint := serveFirstRun(t, bin, dir)
	teal := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}

	teal.ok(t, "create-db-instance", "--db-instance-identifier", "web", "--engine", "postgres", "--engine-version", "15",
		"--db-instance-class", "db.t3.micro", "--master-username", masterUser, "--master-user-password", masterPass,
		"--db-name", "app")
	teal.ok(t, "wait", "db-instance-available", "--db-instance-identifier", "web", "--timeout", "3m")
	out, _ := teal.ok(t, "describe-db-instances", "--db-instance-identifier", "web", "--output", "json")
	i := strings.Index(out, "arn:aws:rds:")
	if i < 0 {
		t.Fatalf("no ARN in:\n%s", out)
	}
	arn := out[i : i+strings.IndexByte(out[i:], '"')]

	out, progress := teal.ok(t, "create-blue-green-deployment", "--blue-green-deployment-name", "web-17",
		"--source", arn, "--target-engine-version", "17", "--wait")
	if !strings.Contains(out, "bgd-") {
		t.Fatalf("create printed:\n%s", out)
	}
	if !strings.Contains(progress, "PROVISIONING") || !strings.Contains(progress, "AVAILABLE") ||
		!strings.Contains(progress, "tasks ") || !strings.Contains(progress, "CREATING_READ_REPLICA_OF_SOURCE") {
		t.Fatalf("create --wait progress:\n%s", progress)
	}
	id := out[strings.Index(out, "bgd-"):]
	id = id[:len("bgd-")+16]

	out, _ = teal.ok(t, "describe-blue-green-deployments", "--blue-green-deployment-identifier", id, "--output", "json")
	if !strings.Contains(out, `"Status": "AVAILABLE"`) || !strings.Contains(out, "web-green-") {
		t.Fatalf("describe json:\n%s", out)
	}
	_, progress = teal.ok(t, "switchover-blue-green-deployment", "--blue-green-deployment-identifier", id,
		"--switchover-timeout", "60", "--wait")
	if !strings.Contains(progress, "SWITCHOVER_COMPLETED") {
		t.Fatalf("switchover --wait progress:\n%s", progress)
	}
	out, _ = teal.ok(t, "describe-db-instances", "--db-instance-identifier", "web")
	if !strings.Contains(out, "17.") {
		t.Fatalf("after switchover web is not on 17:\n%s", out)
	}
	_, stderr, code := teal.run(t, "delete-blue-green-deployment", "--blue-green-deployment-identifier", id, "--delete-target")
	if code != 1 || !strings.Contains(stderr, "InvalidBlueGreenDeploymentStateFault") {
		t.Fatalf("delete --delete-target after switchover: exit %d: %s", code, stderr)
	}
	_, progress = teal.ok(t, "delete-blue-green-deployment", "--blue-green-deployment-identifier", id, "--wait")
	if !strings.Contains(progress, "deleted") {
		t.Fatalf("delete --wait progress:\n%s", progress)
	}
}
