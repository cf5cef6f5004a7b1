// Package e2e holds teal's end-to-end tests: real database servers started by
// teal, reached through teal's endpoints.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/server"
	"github.com/tealdb/teal/internal/supervisor"
)

const (
	masterUser = "master"
	masterPass = "secret-pass-1"
)

// dataDir makes a data directory that database servers running as another
// OS user can reach, and removes it afterwards.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "teal-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logServerLogs(t, dir)
		}
		removeInstanceUsers(t, dir)
		os.RemoveAll(dir)
	})
	return dir
}

// logServerLogs writes the end of every server log under dir into the
// test's output: what the servers said is the first thing a failure needs.
func logServerLogs(t *testing.T, dir string) {
	const keep = 80
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "server.log" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Logf("%s: %v", path, err)
			return nil
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > keep {
			lines = lines[len(lines)-keep:]
		}
		t.Logf("last %d lines of %s:\n%s", len(lines), path, strings.Join(lines, "\n"))
		return nil
	})
}

// removeInstanceUsers deletes the OS users of the instances a test left in
// dir. It runs last, once every server of the test has stopped; deleting an
// instance removes its user, but most tests end with instances in place.
func removeInstanceUsers(t *testing.T, dir string) {
	entries, err := os.ReadDir(filepath.Join(dir, "instances"))
	if err != nil {
		return // no instance was ever created
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "db-") {
			continue
		}
		if err := supervisor.RemoveSystemUser(rds.OSUserOf(e.Name())); err != nil {
			t.Errorf("remove the OS user of %s: %v", e.Name(), err)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TEAL_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// openService opens teal's service on dir, closing it when the test ends.
func openService(t *testing.T, dir string) *rds.Service {
	t.Helper()
	return openServiceWith(t, dir, nil)
}

// openServiceWith is openService with changes to the configuration.
func openServiceWith(t *testing.T, dir string, change func(*server.Config)) *rds.Service {
	t.Helper()
	cfg := server.Config{DataDir: dir, EnginesDir: server.DefaultEnginesDir(), Logger: testLogger(t)}
	if change != nil {
		change(&cfg)
	}
	svc, err := server.OpenService(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open service: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func requireVersions(t *testing.T, svc *rds.Service, majors ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, e := range svc.Engines() {
		for _, b := range e.Builds() {
			have[b.Major()] = true
		}
	}
	for _, m := range majors {
		if !have[m] {
			t.Fatalf("PostgreSQL %s is not installed; run scripts/install-engines.sh", m)
		}
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func createPostgres(t *testing.T, svc *rds.Service, id, version string) *rds.DBInstance {
	t.Helper()
	_, err := svc.CreateDBInstance(context.Background(), rds.CreateDBInstanceInput{
		DBInstanceIdentifier: id, Engine: "postgres", EngineVersion: version,
		DBInstanceClass: "db.t3.micro", MasterUsername: masterUser, MasterUserPassword: masterPass,
		DBName: "app",
	})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return waitStatus(t, svc, id, rds.StatusAvailable, 2*time.Minute)
}

func waitStatus(t *testing.T, svc *rds.Service, id, status string, d time.Duration) *rds.DBInstance {
	t.Helper()
	inst, err := svc.WaitForStatus(ctxFor(t, d), id, status)
	if err != nil {
		t.Fatalf("wait for %s to be %s: %v", id, status, err)
	}
	return inst
}

// connect connects through an instance's endpoint as the master user.
func connect(t *testing.T, inst *rds.DBInstance, db string) *pgx.Conn {
	t.Helper()
	c, err := tryConnect(context.Background(), inst.Endpoint.Port, db)
	if err != nil {
		t.Fatalf("connect to %s through its endpoint (port %d): %v", inst.DBInstanceIdentifier, inst.Endpoint.Port, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func tryConnect(ctx context.Context, port int, db string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(db)
	return pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname='%s' sslmode=disable",
		port, masterUser, masterPass, quoted))
}

// eventually retries f until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverProcesses lists the PIDs of running postgres postmasters whose data
// directory is below dir.
func serverProcesses(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), dir) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// isFault reports whether err is an RDS fault with the code.
func isFault(err error, code string) bool {
	var f *rds.Fault
	return errors.As(err, &f) && f.Code == code
}

func freePortForTest(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpGet returns the status code of a GET.
func httpGet(url string) (int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
