package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

func postmasterPid(t *testing.T, dir string, inst *rds.DBInstance) int {
	t.Helper()
	pid, err := readPostmasterPid(dir, inst)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// readPostmasterPid is postmasterPid for goroutines other than the test's.
func readPostmasterPid(dir string, inst *rds.DBInstance) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "instances", inst.DbiResourceId, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.SplitN(string(data), "\n", 2)[0])
}

// TestCrashRestart kills a database server with SIGKILL: teal reports the
// failure, restarts it, and the endpoint serves again.
func TestCrashRestart(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 3*time.Minute)
	inst := createPostgres(t, svc, "crashy", "15")
	c := connect(t, inst, "app")
	if _, err := c.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	pid := postmasterPid(t, dir, inst)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The failure is visible in the status and in the events.
	sawFailed := false
	eventually(t, 30*time.Second, "instance back to available", func() error {
		got := describe(t, svc, "crashy")
		if got.DBInstanceStatus == rds.StatusFailed {
			sawFailed = true
		}
		if got.DBInstanceStatus != rds.StatusAvailable || postmasterPid(t, dir, got) == pid {
			return errorf("status %s", got.DBInstanceStatus)
		}
		return nil
	})
	var back time.Duration
	eventually(t, 30*time.Second, "endpoint serves again", func() error {
		c2, err := tryConnect(ctx, inst.Endpoint.Port, "app")
		if err != nil {
			return err
		}
		defer c2.Close(ctx)
		var v int
		if err := c2.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil {
			return err
		}
		if v != 42 {
			return errorf("read %d", v)
		}
		back = time.Since(killed)
		return nil
	})
	t.Logf("endpoint served again %s after SIGKILL (failed status seen by polling: %v)", back.Round(time.Millisecond), sawFailed)
	events, _, err := svc.DescribeEvents(ctx, rds.EventsInput{SourceIdentifier: "crashy", SourceType: "db-instance"})
	if err != nil {
		t.Fatal(err)
	}
	var crashed, restarted bool
	for _, e := range events {
		crashed = crashed || strings.Contains(e.Message, "stopped unexpectedly")
		restarted = restarted || strings.Contains(e.Message, "restarted after a crash")
	}
	if !crashed || !restarted {
		t.Fatalf("events do not show the crash and the restart: %+v", events)
	}
}

// TestRestartService stops teal (in process, then the real `teal serve`
// binary with SIGTERM) and starts it again: every instance comes back with
// its data, and no server process is left over afterwards.
func TestRestartService(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 5*time.Minute)
	a := createPostgres(t, svc, "alpha", "15")
	b := createPostgres(t, svc, "beta", "17")
	for _, inst := range []*rds.DBInstance{a, b} {
		c := connect(t, inst, "app")
		if _, err := c.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('"+inst.DBInstanceIdentifier+"')"); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
	}
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{
		DBInstanceIdentifier: "alpha-r1", SourceDBInstanceIdentifier: "alpha"}); err != nil {
		t.Fatal(err)
	}
	r := waitStatus(t, svc, "alpha-r1", rds.StatusAvailable, 2*time.Minute)
	// The copy's first start synced it with syncfs; later starts of the
	// replica are with its own settings, still following alpha.
	conf, err := os.ReadFile(filepath.Join(dir, "instances", r.DbiResourceId, "data", "teal.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), "recovery_init_sync_method") || !strings.Contains(string(conf), "primary_conninfo") {
		t.Errorf("the replica's configuration after its first start:\n%s", conf)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if ps := serverProcesses(t, dir); len(ps) > 0 {
		t.Fatalf("processes left after Close: %v", ps)
	}

	// The real binary: start, serve the endpoints, stop on SIGTERM.
	bin := buildTeal(t)
	listen := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--listen", listen)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for _, inst := range []*rds.DBInstance{a, b, r} {
		eventually(t, 60*time.Second, inst.DBInstanceIdentifier+" serves through teal serve", func() error {
			c, err := tryConnect(ctx, inst.Endpoint.Port, "app")
			if err != nil {
				return err
			}
			defer c.Close(ctx)
			var v string
			if err := c.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
				return err
			}
			want := inst.DBInstanceIdentifier
			if inst == r {
				want = "alpha"
			}
			if v != want {
				return errorf("read %q, want %q", v, want)
			}
			return nil
		})
	}
	if len(serverProcesses(t, dir)) < 3 {
		t.Fatalf("expected three servers under teal serve, have %v", serverProcesses(t, dir))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("teal serve exited with %v after SIGTERM", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("teal serve did not stop within 90 s of SIGTERM")
	}
	if ps := serverProcesses(t, dir); len(ps) > 0 {
		t.Fatalf("processes left after teal serve stopped: %v", ps)
	}

	// In process again: every instance is available with its data.
	svc2 := openService(t, dir)
	for _, inst := range []*rds.DBInstance{a, b, r} {
		got := waitStatus(t, svc2, inst.DBInstanceIdentifier, rds.StatusAvailable, time.Minute)
		if got.Endpoint.Port != inst.Endpoint.Port || got.DbiResourceId != inst.DbiResourceId {
			t.Fatalf("%s came back as %+v", inst.DBInstanceIdentifier, got)
		}
	}
	rc := connect(t, r, "app")
	pc := connect(t, a, "app")
	if _, err := pc.Exec(ctx, "INSERT INTO kept VALUES ('after restart')"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "replica streams again after the restart", func() error {
		var n int
		if err := rc.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil {
			return err
		}
		if n != 2 {
			return errorf("replica has %d rows", n)
		}
		return nil
	})
	svc2.Close()
	if ps := serverProcesses(t, dir); len(ps) > 0 {
		t.Fatalf("processes left: %v", ps)
	}
}

// TestParameters: an immediate parameter applies without a restart; a
// pending-reboot one waits for the reboot.
func TestParameters(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := svc.CreateDBParameterGroup(ctx, "tuned15", "postgres15", "tuned", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "tuned",
		Engine: "postgres", EngineVersion: "15", DBInstanceClass: "db.t3.micro", MasterUsername: masterUser,
		MasterUserPassword: masterPass, DBName: "app", DBParameterGroupName: "tuned15"}); err != nil {
		t.Fatal(err)
	}
	inst := waitStatus(t, svc, "tuned", rds.StatusAvailable, 2*time.Minute)
	c := connect(t, inst, "app")
	show := func(name string) string {
		t.Helper()
		var v string
		if err := c.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var started time.Time
	if err := c.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&started); err != nil {
		t.Fatal(err)
	}
	if show("wal_level") != "logical" {
		t.Fatalf("default wal_level %s", show("wal_level"))
	}

	if _, err := svc.ModifyDBParameterGroup(ctx, "tuned15", []rds.ParameterChange{
		{ParameterName: "log_min_duration_statement", ParameterValue: "250", ApplyMethod: "immediate"},
		{ParameterName: "max_connections", ParameterValue: "150", ApplyMethod: "pending-reboot"},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "immediate parameter applied", func() error {
		c2, err := tryConnect(ctx, inst.Endpoint.Port, "app")
		if err != nil {
			return err
		}
		defer c2.Close(ctx)
		var v string
		if err := c2.QueryRow(ctx, "SHOW log_min_duration_statement").Scan(&v); err != nil {
			return err
		}
		if v != "250ms" {
			return errorf("log_min_duration_statement = %s", v)
		}
		return nil
	})
	var startedNow time.Time
	if err := c.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&startedNow); err != nil {
		t.Fatal(err)
	}
	if !startedNow.Equal(started) {
		t.Fatal("the server restarted for an immediate parameter")
	}
	if show("max_connections") != "100" {
		t.Fatalf("pending-reboot parameter applied before the reboot: max_connections=%s", show("max_connections"))
	}
	if got := describe(t, svc, "tuned"); got.DBParameterGroups[0].ParameterApplyStatus != "pending-reboot" {
		t.Fatalf("apply status %q", got.DBParameterGroups[0].ParameterApplyStatus)
	}
	params, _, err := svc.DescribeDBParameters(ctx, "tuned15", "user", rds.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(params) != 2 || params[0].ParameterName != "log_min_duration_statement" || params[1].ApplyType != "static" {
		t.Fatalf("user parameters: %+v", params)
	}

	if _, err := svc.RebootDBInstance(ctx, "tuned"); err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(t, svc, "tuned", rds.StatusAvailable, time.Minute)
	if inst.DBParameterGroups[0].ParameterApplyStatus != "in-sync" {
		t.Fatalf("apply status after reboot %q", inst.DBParameterGroups[0].ParameterApplyStatus)
	}
	c = connect(t, inst, "app")
	if show("max_connections") != "150" {
		t.Fatalf("max_connections after reboot %s", show("max_connections"))
	}

	// Static parameters refuse immediate; unknown ones and bad values are refused; nothing changes.
	for _, bad := range []struct {
		change rds.ParameterChange
		code   string
	}{
		{rds.ParameterChange{ParameterName: "shared_buffers", ParameterValue: "256MB", ApplyMethod: "immediate"}, "InvalidParameterCombination"},
		{rds.ParameterChange{ParameterName: "no_such_param", ParameterValue: "1", ApplyMethod: "immediate"}, "InvalidParameterValue"},
		{rds.ParameterChange{ParameterName: "work_mem", ParameterValue: "lots", ApplyMethod: "immediate"}, "InvalidParameterValue"},
		{rds.ParameterChange{ParameterName: "port", ParameterValue: "5999", ApplyMethod: "pending-reboot"}, "InvalidParameterValue"},
	} {
		_, err := svc.ModifyDBParameterGroup(ctx, "tuned15", []rds.ParameterChange{
			{ParameterName: "work_mem", ParameterValue: "8MB", ApplyMethod: "immediate"}, bad.change})
		if !isFault(err, bad.code) {
			t.Fatalf("%+v: got %v, want %s", bad.change, err, bad.code)
		}
	}
	if show("work_mem") != "4MB" {
		t.Fatalf("a refused request changed work_mem to %s", show("work_mem"))
	}
	if _, err := svc.ModifyDBParameterGroup(ctx, "default.postgres15", []rds.ParameterChange{
		{ParameterName: "work_mem", ParameterValue: "8MB", ApplyMethod: "immediate"}}); !isFault(err, "InvalidParameterValue") {
		t.Fatalf("modify default group: %v", err)
	}
	if err := svc.DeleteDBParameterGroup(ctx, "tuned15"); !isFault(err, "InvalidDBParameterGroupState") {
		t.Fatalf("delete group in use: %v", err)
	}
}

// TestDelete: deletion protection refuses delete; delete removes the server
// process, its data and its endpoint.
func TestDelete(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "keep",
		Engine: "postgres", EngineVersion: "15", DBInstanceClass: "db.t3.micro", MasterUsername: masterUser,
		MasterUserPassword: masterPass, DeletionProtection: true}); err != nil {
		t.Fatal(err)
	}
	inst := waitStatus(t, svc, "keep", rds.StatusAvailable, 2*time.Minute)
	if _, err := svc.DeleteDBInstance(ctx, "keep", true, ""); !isFault(err, "InvalidParameterCombination") {
		t.Fatalf("delete with deletion protection: %v", err)
	}
	if got := describe(t, svc, "keep"); got.DBInstanceStatus != rds.StatusAvailable {
		t.Fatalf("refused delete changed status to %s", got.DBInstanceStatus)
	}
	off := false
	if _, err := svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{DBInstanceIdentifier: "keep", DeletionProtection: &off}); err != nil {
		t.Fatal(err)
	}
	pid := postmasterPid(t, dir, inst)
	if _, err := svc.DeleteDBInstance(ctx, "keep", true, ""); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "keep", "deleted", time.Minute)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("server process %d still exists after delete (%v)", pid, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "instances", inst.DbiResourceId)); !os.IsNotExist(err) {
		t.Fatalf("instance data still exists after delete: %v", err)
	}
	if c, err := tryConnect(ctx, inst.Endpoint.Port, "postgres"); err == nil {
		c.Close(ctx)
		t.Fatal("endpoint still serves after delete")
	}
}

// TestBadInput: each bad request gets its typed RDS fault and creates or
// changes nothing.
func TestBadInput(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "17")
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := svc.CreateDBParameterGroup(ctx, "g17", "postgres17", "for 17", nil); err != nil {
		t.Fatal(err)
	}
	good := rds.CreateDBInstanceInput{DBInstanceIdentifier: "good", Engine: "postgres", EngineVersion: "15",
		DBInstanceClass: "db.t3.micro", MasterUsername: masterUser, MasterUserPassword: masterPass}
	if _, err := svc.CreateDBInstance(ctx, good); err != nil {
		t.Fatal(err)
	}
	with := func(f func(*rds.CreateDBInstanceInput)) rds.CreateDBInstanceInput {
		in := good
		in.DBInstanceIdentifier = "other"
		f(&in)
		return in
	}
	cases := []struct {
		name string
		in   rds.CreateDBInstanceInput
		code string
	}{
		{"identifier starts with a digit", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "1db" }), "InvalidParameterValue"},
		{"identifier with --", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "a--b" }), "InvalidParameterValue"},
		{"identifier ends with -", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "ab-" }), "InvalidParameterValue"},
		{"identifier too long", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "a" + strings.Repeat("b", 63) }), "InvalidParameterValue"},
		{"identifier with _", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "a_b" }), "InvalidParameterValue"},
		{"missing identifier", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "" }), "MissingParameter"},
		{"unknown engine version", with(func(in *rds.CreateDBInstanceInput) { in.EngineVersion = "99.1" }), "InvalidParameterCombination"},
		{"unknown engine", with(func(in *rds.CreateDBInstanceInput) { in.Engine = "oracle-ee" }), "InvalidParameterValue"},
		{"duplicate identifier", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceIdentifier = "GOOD" }), "DBInstanceAlreadyExists"},
		{"unknown parameter group", with(func(in *rds.CreateDBInstanceInput) { in.DBParameterGroupName = "nope" }), "DBParameterGroupNotFound"},
		{"wrong family", with(func(in *rds.CreateDBInstanceInput) { in.DBParameterGroupName = "g17" }), "InvalidParameterCombination"},
		{"bad class", with(func(in *rds.CreateDBInstanceInput) { in.DBInstanceClass = "huge" }), "InvalidParameterCombination"},
		{"short password", with(func(in *rds.CreateDBInstanceInput) { in.MasterUserPassword = "short" }), "InvalidParameterValue"},
		{"reserved user", with(func(in *rds.CreateDBInstanceInput) { in.MasterUsername = "rdsadmin" }), "InvalidParameterValue"},
		{"storage too small", with(func(in *rds.CreateDBInstanceInput) { in.AllocatedStorage = 5 }), "InvalidParameterValue"},
		{"tag with aws: prefix", with(func(in *rds.CreateDBInstanceInput) { in.Tags = []rds.Tag{{Key: "aws:x", Value: "y"}} }), "InvalidParameterValue"},
		{"tag with bad characters", with(func(in *rds.CreateDBInstanceInput) { in.Tags = []rds.Tag{{Key: "a*b", Value: "y"}} }), "InvalidParameterValue"},
	}
	for _, c := range cases {
		_, err := svc.CreateDBInstance(ctx, c.in)
		if !isFault(err, c.code) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	all, _, err := svc.DescribeDBInstances(ctx, "", nil, rds.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].DBInstanceIdentifier != "good" {
		t.Fatalf("refused requests created instances: %+v", all)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "instances"))
	if len(entries) > 1 {
		t.Fatalf("refused requests left %d instance directories", len(entries))
	}

	// Modify, reboot, delete, replicas of unknown instances; bad renames.
	if _, err := svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{DBInstanceIdentifier: "ghost"}); !isFault(err, "DBInstanceNotFound") {
		t.Errorf("modify ghost: %v", err)
	}
	if _, err := svc.RebootDBInstance(ctx, "ghost"); !isFault(err, "DBInstanceNotFound") {
		t.Errorf("reboot ghost: %v", err)
	}
	if _, err := svc.DeleteDBInstance(ctx, "ghost", true, ""); !isFault(err, "DBInstanceNotFound") {
		t.Errorf("delete ghost: %v", err)
	}
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{DBInstanceIdentifier: "r", SourceDBInstanceIdentifier: "ghost"}); !isFault(err, "DBInstanceNotFound") {
		t.Errorf("replica of ghost: %v", err)
	}
	waitStatus(t, svc, "good", rds.StatusAvailable, 2*time.Minute)
	if _, err := svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{DBInstanceIdentifier: "good", NewDBInstanceIdentifier: "bad--name"}); !isFault(err, "InvalidParameterValue") {
		t.Errorf("rename to bad name: %v", err)
	}
	if _, err := svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{DBInstanceIdentifier: "good", DBParameterGroupName: "g17"}); !isFault(err, "InvalidParameterCombination") {
		t.Errorf("modify to wrong family: %v", err)
	}
	if _, err := svc.PromoteReadReplica(ctx, "good"); !isFault(err, "InvalidDBInstanceState") {
		t.Errorf("promote a primary: %v", err)
	}
	if _, _, err := svc.DescribeDBInstances(ctx, "", []rds.Filter{{Name: "color", Values: []string{"x"}}}, rds.Page{}); !isFault(err, "InvalidParameterValue") {
		t.Errorf("unknown filter: %v", err)
	}
	if _, _, err := svc.DescribeDBInstances(ctx, "", nil, rds.Page{MaxRecords: 5}); !isFault(err, "InvalidParameterValue") {
		t.Errorf("MaxRecords 5: %v", err)
	}
	if got := describe(t, svc, "good"); got.DBParameterGroups[0].DBParameterGroupName != "default.postgres15" || got.DBInstanceStatus != rds.StatusAvailable {
		t.Fatalf("refused modifications changed the instance: %+v", got)
	}
}

func buildTeal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "teal")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/teal")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build teal: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freePortForTest(t))
}
