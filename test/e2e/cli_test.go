package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tealCLI runs the teal binary as a user would, against one server.
type tealCLI struct {
	bin string
	env []string
}

// run runs teal and returns its output and exit code.
func (c tealCLI) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("teal %v: %v", args, err)
	}
	t.Logf("teal %s → exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	return o.String(), e.String(), code
}

// ok runs teal and fails the test unless it exits 0.
func (c tealCLI) ok(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("teal %v: exit %d: %s", args, code, stderr)
	}
	return stdout, stderr
}

// envWithout is the test's environment less any credentials, so that only
// what a test sets is used.
func envWithout() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "TEAL_ACCESS_KEY_ID", "TEAL_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
			"AWS_SESSION_TOKEN", "TEAL_ENDPOINT", "TEAL_DATA_DIR", "AWS_REGION":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// serveFirstRun starts `teal serve` as on a first start: no credentials in
// its environment, so it writes <dir>/credentials, which the CLI then
// reads. The server is stopped when the test ends.
func serveFirstRun(t *testing.T, bin, dir string) string {
	t.Helper()
	return startServe(t, bin, dir, envWithout())
}

// TestCLI drives a DB instance's life through the teal binary: create, wait,
// describe as a table and as JSON, modify, delete, wait for the deletion;
// plus parameter groups, access keys and the errors a user meets.
func TestCLI(t *testing.T) {
	bin := buildTeal(t)
	dir := dataDir(t)
	endpoint := serveFirstRun(t, bin, dir)
	teal := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}

	out, _ := teal.ok(t, "create-db-instance", "--db-instance-identifier", "cli-e2e", "--engine", "postgres",
		"--db-instance-class", "db.t3.micro", "--master-username", masterUser, "--master-user-password", masterPass,
		"--db-name", "app", "--allocated-storage", "20", "--tags", "Key=team,Value=data", "Key=env,Value=test")
	if !strings.HasPrefix(out, "IDENTIFIER") || !strings.Contains(out, "cli-e2e") || !strings.Contains(out, "creating") {
		t.Errorf("create printed:\n%s", out)
	}
	_, progress := teal.ok(t, "wait", "db-instance-available", "--db-instance-identifier", "cli-e2e", "--timeout", "3m")
	if !strings.Contains(progress, "cli-e2e: available (") {
		t.Errorf("wait progress:\n%s", progress)
	}

	out, _ = teal.ok(t, "describe-db-instances")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "cli-e2e") || !strings.Contains(lines[1], "available") ||
		!strings.Contains(lines[1], "127.0.0.1:") {
		t.Errorf("describe table:\n%s", out)
	}

	out, _ = teal.ok(t, "describe-db-instances", "--db-instance-identifier", "cli-e2e", "--output", "json")
	var desc struct {
		DBInstances []struct {
			DBInstanceIdentifier, DBInstanceStatus, Engine string
			Endpoint                                       struct{ Port int }
			TagList                                        []struct{ Key, Value string }
		}
	}
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("describe json: %v\n%s", err, out)
	}
	if len(desc.DBInstances) != 1 || desc.DBInstances[0].DBInstanceStatus != "available" || desc.DBInstances[0].Endpoint.Port == 0 ||
		len(desc.DBInstances[0].TagList) != 2 || strings.Contains(out, "ResultMetadata") || strings.Contains(out, "null") {
		t.Fatalf("describe json:\n%s", out)
	}
	// The endpoint the CLI printed is one a client can use.
	c, err := tryConnect(context.Background(), desc.DBInstances[0].Endpoint.Port, "app")
	if err != nil {
		t.Fatalf("connect through the endpoint: %v", err)
	}
	c.Close(context.Background())

	// Parameter groups, with the AWS CLI's shorthand.
	teal.ok(t, "create-db-parameter-group", "--db-parameter-group-name", "cli-pg", "--db-parameter-group-family", "postgres18",
		"--description", "for the cli test")
	teal.ok(t, "modify-db-parameter-group", "--db-parameter-group-name", "cli-pg",
		"--parameters", "ParameterName=work_mem,ParameterValue=8MB,ApplyMethod=immediate")
	out, _ = teal.ok(t, "describe-db-parameters", "--db-parameter-group-name", "cli-pg", "--source", "user")
	if !strings.Contains(out, "work_mem") || !strings.Contains(out, "8MB") {
		t.Errorf("user parameters:\n%s", out)
	}

	// Modify: deletion protection then blocks the delete with RDS's error.
	teal.ok(t, "modify-db-instance", "--db-instance-identifier", "cli-e2e", "--deletion-protection", "--apply-immediately")
	out, errOut, code := teal.run(t, "delete-db-instance", "--db-instance-identifier", "cli-e2e", "--skip-final-snapshot")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "teal: InvalidParameterCombination: ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("delete of a protected instance: exit %d, stderr %q", code, errOut)
	}
	teal.ok(t, "modify-db-instance", "--db-instance-identifier", "cli-e2e", "--no-deletion-protection", "--apply-immediately")

	// An access key that may only describe.
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`), 0o600)
	out, _ = teal.ok(t, "iam", "create-access-key", "--policy-file", policy, "--description", "read only", "--output", "json")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal([]byte(out), &key); err != nil || key.AccessKey.SecretAccessKey == "" {
		t.Fatalf("create-access-key: %v\n%s", err, out)
	}
	reader := tealCLI{bin: bin, env: append(teal.env, "TEAL_ACCESS_KEY_ID="+key.AccessKey.AccessKeyId,
		"TEAL_SECRET_ACCESS_KEY="+key.AccessKey.SecretAccessKey)}
	reader.ok(t, "describe-db-instances")
	if _, errOut, code := reader.run(t, "delete-db-instance", "--db-instance-identifier", "cli-e2e", "--skip-final-snapshot"); code != 1 || !strings.HasPrefix(errOut, "teal: AccessDenied: ") {
		t.Errorf("delete with a read-only key: exit %d, %q", code, errOut)
	}
	if out, _ := teal.ok(t, "iam", "list-access-keys"); !strings.Contains(out, key.AccessKey.AccessKeyId) || strings.Contains(out, key.AccessKey.SecretAccessKey) {
		t.Errorf("list-access-keys:\n%s", out)
	}
	teal.ok(t, "iam", "delete-access-key", "--access-key-id", key.AccessKey.AccessKeyId)

	// Commands whose work goes on take --wait, which follows it.
	if _, progress := teal.ok(t, "create-db-snapshot", "--db-snapshot-identifier", "cli-snap", "--db-instance-identifier", "cli-e2e",
		"--wait"); !strings.Contains(progress, "cli-snap: available (") {
		t.Errorf("create-db-snapshot --wait:\n%s", progress)
	}
	if _, progress := teal.ok(t, "restore-db-instance-from-db-snapshot", "--db-instance-identifier", "cli-restored",
		"--db-snapshot-identifier", "cli-snap", "--wait"); !strings.Contains(progress, "cli-restored: creating") ||
		!strings.Contains(progress, "cli-restored: available (") {
		t.Errorf("restore-db-instance-from-db-snapshot --wait:\n%s", progress)
	}
	if _, progress := teal.ok(t, "delete-db-instance", "--db-instance-identifier", "cli-restored", "--skip-final-snapshot",
		"--wait"); !strings.Contains(progress, "cli-restored: deleted (") {
		t.Errorf("delete-db-instance --wait:\n%s", progress)
	}
	teal.ok(t, "delete-db-snapshot", "--db-snapshot-identifier", "cli-snap")

	out, _ = teal.ok(t, "delete-db-instance", "--db-instance-identifier", "cli-e2e", "--skip-final-snapshot")
	if !strings.Contains(out, "cli-e2e") {
		t.Errorf("delete printed:\n%s", out)
	}
	if _, progress := teal.ok(t, "wait", "db-instance-deleted", "--db-instance-identifier", "cli-e2e", "--timeout", "2m"); !strings.Contains(progress, "cli-e2e: deleted (") {
		t.Errorf("wait progress:\n%s", progress)
	}

	// The errors a user meets, each one line.
	out, errOut, code = teal.run(t, "describe-db-instances", "--db-instance-identifier", "cli-e2e")
	if code != 1 || out != "" || errOut != "teal: DBInstanceNotFound: DBInstance cli-e2e not found.\n" {
		t.Errorf("describe of a deleted instance: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := teal.run(t, "create-db-instance", "--db-instance-identifier", "x", "--allocated-storage", "lots"); code != 2 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("bad value: exit %d, %q", code, errOut)
	}
	if _, errOut, code := teal.run(t, "describe-db-instances", "--endpoint-url", "http://"+freeAddr(t)); code != 1 || !strings.Contains(errOut, "`teal serve`") {
		t.Errorf("no server: exit %d, %q", code, errOut)
	}
}
