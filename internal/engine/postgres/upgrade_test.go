package postgres

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// TestUpgradeBinDirPgCtl runs pg_upgrade's pg_ctl (pgCtlScript) on a real
// server as pg_upgrade does: a start returns once the server accepts
// connections, a stop once it is gone, a start that fails still fails,
// other uses are the build's pg_ctl, and no pg_ctl is left running.
func TestUpgradeBinDirPgCtl(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	t.Cleanup(func() { sup.Close(context.Background()) })
	l := startServer(t, e, sup, "15", "server")
	if err := sup.Stop(context.Background(), "server"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(l.DataDir), "upgrade")
	if err := engine.MkdirOwned(dir, 0o700, l.Credential); err != nil {
		t.Fatal(err)
	}
	bin, err := upgradeBinDir(filepath.Join(dir, "bin"), l.Build.BinDir, l.Credential)
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(bin, "postgres")); err != nil || target != filepath.Join(l.Build.BinDir, "postgres") {
		t.Fatalf("postgres in the bin directory: %q, %v", target, err)
	}
	pgCtl := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), args...)
		cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
		cmd.Dir = dir
		return engine.RunAs(cmd, l.Credential)
	}
	// As pg_upgrade runs it, with the options it gives the server.
	opts := "-p " + strconv.Itoa(l.Port) + " -c listen_addresses='' -c unix_socket_permissions=0700 -c unix_socket_directories='" + dir + "'"
	logFile := filepath.Join(dir, "server.log")
	stopped := true
	t.Cleanup(func() {
		if !stopped {
			stopUpgradeServer(l)
		}
	})

	stopped = false
	if err := pgCtl("-w", "-l", logFile, "-D", l.DataDir, "-o", opts, "start"); err != nil {
		t.Fatalf("start: %v", err)
	}
	// Connections are taken as soon as it answers: postmaster.pid says
	// ready, which is what pg_ctl -w waits for.
	pid, err := os.ReadFile(filepath.Join(l.DataDir, "postmaster.pid"))
	if lines := strings.Split(string(pid), "\n"); err != nil || len(lines) < 8 || strings.TrimSpace(lines[7]) != "ready" {
		t.Fatalf("postmaster.pid after the start: %q, %v", pid, err)
	}
	if err := pgCtl("-D", l.DataDir, "status"); err != nil {
		t.Fatalf("status after the start: %v", err)
	}
	if err := pgCtl("-w", "-D", l.DataDir, "-o", opts, "-m", "smart", "stop"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	if _, err := os.Stat(filepath.Join(l.DataDir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid after the stop: %v", err)
	}
	// A stop with no server is pg_ctl's own answer: an error.
	if err := pgCtl("-w", "-D", l.DataDir, "-m", "smart", "stop"); err == nil {
		t.Fatal("a stop of no server succeeded")
	}
	// A server that cannot start fails the start, as pg_ctl -w does.
	stopped = false
	if err := pgCtl("-w", "-l", logFile, "-D", l.DataDir, "-o", opts+" -c no_such_setting=1", "start"); err == nil {
		t.Fatal("a start with a setting the server refuses succeeded")
	}
	stopped = true
	if out, err := exec.Command(filepath.Join(bin, "pg_ctl"), "-V").Output(); err != nil || !strings.HasPrefix(string(out), "pg_ctl (PostgreSQL) 15") {
		t.Fatalf("pg_ctl -V: %q, %v", out, err)
	}
	if left := processesNaming(t, l.DataDir); len(left) > 0 {
		t.Errorf("left running: %q", left)
	}
}

// processesNaming lists the command lines of running processes that name
// path.
func processesNaming(t *testing.T, path string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // ended meanwhile
		}
		if line := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})); strings.Contains(line, path) {
			found = append(found, line)
		}
	}
	return found
}
