package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/rds"
)

// Passwords that broke out of the SQL literal teal used to build, with
// standard_conforming_strings off: the first made the master SUPERUSER, the
// second was stored without its backslash.
const (
	injectingPassword = `x\'SUPERUSER--`
	backslashPassword = `abc\def12345`
)

// TestPostgresMasterConfined attacks an instance as its master user would,
// on every major teal offers (14 and 15 let CREATEROLE grant any
// non-superuser role; 16 and later do not), through the AWS SDK and pgx:
// passwords crafted to escape a SQL literal under
// standard_conforming_strings=off, and grants of the roles that run
// programs and touch server files. Each attack
// fails; what the master legitimately does beside it works.
func TestPostgresMasterConfined(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	majors := []string{"14", "15", "16", "17", "18"}
	requireVersions(t, svc, majors...)
	rig := startAPI(t, svc)
	ctx := ctxFor(t, 5*time.Minute)
	c := rig.client

	for _, major := range majors {
		group := "lax-strings-" + major
		if _, err := c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{
			DBParameterGroupName: aws.String(group), DBParameterGroupFamily: aws.String("postgres" + major),
			Description: aws.String("standard_conforming_strings off")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{
			DBParameterGroupName: aws.String(group),
			Parameters: []types.Parameter{{ParameterName: aws.String("standard_conforming_strings"),
				ParameterValue: aws.String("0"), ApplyMethod: types.ApplyMethodImmediate}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String("pg" + major), Engine: aws.String("postgres"),
			EngineVersion: aws.String(major), DBInstanceClass: aws.String("db.t3.micro"),
			MasterUsername: aws.String(masterUser), MasterUserPassword: aws.String(injectingPassword),
			DBName: aws.String("app"), DBParameterGroupName: aws.String(group)}); err != nil {
			t.Fatalf("create pg%s: %v", major, err)
		}
	}

	for _, major := range majors {
		t.Run(major, func(t *testing.T) {
			id := "pg" + major
			waitAvailable(t, c, id)
			port := describe(t, svc, id).Endpoint.Port
			m := connectAs(t, port, masterUser, injectingPassword, "app")
			var scs string
			if err := m.QueryRow(ctx, "SHOW standard_conforming_strings").Scan(&scs); err != nil || scs != "off" {
				t.Fatalf("standard_conforming_strings = %q (%v); the attack needs it off", scs, err)
			}
			if super := isSuperuser(t, m); super {
				t.Fatal("the injecting password made the master a superuser")
			}

			// A new password with a backslash is stored as given.
			if _, err := c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(id),
				MasterUserPassword: aws.String(backslashPassword), ApplyImmediately: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			connectAs(t, port, masterUser, backslashPassword, "app")
			if bad, err := tryConnectAs(ctx, port, masterUser, "abcdef12345", "app"); err == nil {
				bad.Close(ctx)
				t.Fatal("the password without its backslash logs in")
			}

			// The roles that run programs and read or write server files
			// cannot be granted, and without them COPY cannot reach the OS.
			for _, role := range []string{"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"} {
				if _, err := m.Exec(ctx, "GRANT "+role+" TO "+masterUser); err == nil {
					t.Errorf("the master granted itself %s", role)
				}
				if _, err := m.Exec(ctx, "CREATE ROLE helper_"+role[3:]+" IN ROLE "+role); err == nil {
					t.Errorf("the master created a role in %s", role)
				}
			}
			if _, err := m.Exec(ctx, "COPY (SELECT 1) TO PROGRAM 'id'"); err == nil {
				t.Error("COPY TO PROGRAM ran as the master")
			}
			if _, err := m.Exec(ctx, "ALTER ROLE "+masterUser+" SUPERUSER"); err == nil {
				t.Error("the master made itself superuser")
			}
			if _, err := m.Exec(ctx, "SELECT pg_read_file('postgresql.conf')"); err == nil {
				t.Error("the master read a server file")
			}

			// A program running as the server's OS user (what COPY TO
			// PROGRAM would have given) is not teal's admin over the socket.
			serverUserIsNotAdmin(t, dir, describe(t, svc, id).DbiResourceId)

			// What the master may do: create a role and a database, and
			// give the role to itself.
			for _, q := range []string{
				"CREATE ROLE app_reader LOGIN PASSWORD 'reader-pass-1'",
				"GRANT app_reader TO " + masterUser,
				"CREATE DATABASE reports OWNER app_reader",
			} {
				if _, err := m.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			connectAs(t, port, "app_reader", "reader-pass-1", "reports")
		})
	}

	// Each server runs as an OS user of its own, which reaches its own
	// files and no other instance's.
	if os.Getuid() == 0 {
		a, b := describe(t, svc, "pg14").DbiResourceId, describe(t, svc, "pg15").DbiResourceId
		ownerA, ownerB := ownerOf(t, filepath.Join(dir, "instances", a, "data")), ownerOf(t, filepath.Join(dir, "instances", b, "data"))
		if ownerA == ownerB || ownerA == 0 {
			t.Fatalf("instances %s and %s are owned by uids %d and %d", a, b, ownerA, ownerB)
		}
		if u, err := user.LookupId(fmt.Sprint(ownerA)); err != nil || u.Username != rds.OSUserOf(a) {
			t.Fatalf("owner of %s: %v %v", a, u, err)
		}
		// ls lists a directory; cat reads a file.
		lsAs := func(uid uint32, path string) error {
			tool := "ls"
			if filepath.Ext(path) == ".db" {
				tool = "cat"
			}
			cmd := exec.Command(tool, path)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
			return cmd.Run()
		}
		if err := lsAs(ownerA, filepath.Join(dir, "instances", a, "data")); err != nil {
			t.Errorf("an instance's user cannot list its own data: %v", err)
		}
		for _, other := range []string{filepath.Join(dir, "instances", b, "data"), filepath.Join(dir, "instances", b, "run"), filepath.Join(dir, "teal.db")} {
			if err := lsAs(ownerA, other); err == nil {
				t.Errorf("the OS user of %s reaches %s", a, other)
			}
		}
		// Deleting an instance removes its OS user.
		gone := describe(t, svc, "pg17").DbiResourceId
		if _, err := c.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("pg17"),
			SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		waitDeleted(t, c, "pg17")
		if _, err := user.Lookup(rds.OSUserOf(gone)); err == nil {
			t.Errorf("the OS user of deleted instance %s is still there", gone)
		}
	}

	// No password teal was given is in its store, in any form SQLite may
	// leave behind (the database, its WAL).
	for _, pw := range []string{injectingPassword, backslashPassword} {
		files, _ := filepath.Glob(filepath.Join(dir, "teal.db*"))
		if len(files) == 0 {
			t.Fatal("no teal.db in the data directory")
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(pw)) {
				t.Errorf("%s holds the master password %q in plain text", filepath.Base(f), pw)
			}
		}
	}
}

// serverUserIsNotAdmin runs psql as the OS user that owns an instance's
// data directory, against its private socket: it is not tealadmin nor the
// master, and as the replication role it cannot run programs. teal itself
// (this process, root) still gets in as tealadmin.
func serverUserIsNotAdmin(t *testing.T, dir, resourceID string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Log("not root: teal and the servers run as the same OS user, nothing to separate")
		return
	}
	inst := filepath.Join(dir, "instances", resourceID)
	sockets, _ := filepath.Glob(filepath.Join(inst, "run", ".s.PGSQL.[0-9]*[0-9]"))
	if len(sockets) != 1 {
		t.Fatalf("socket of %s: found %v", resourceID, sockets)
	}
	st, err := os.Stat(filepath.Join(inst, "data"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	port := strings.TrimPrefix(filepath.Ext(sockets[0]), ".")
	psql := func(uid, gid uint32, user, sql string) (string, error) {
		cmd := exec.Command("psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", filepath.Dir(sockets[0]), "-p", port,
			"-U", user, "-d", "postgres", "-c", sql)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PGPASSWORD=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, user := range []string{"tealadmin", masterUser} {
		if out, err := psql(sys.Uid, sys.Gid, user, "SELECT current_user"); err == nil {
			t.Errorf("the server's OS user connected to the socket as %s: %s", user, out)
		}
	}
	// Replicas and green environments follow their source as tealrepl,
	// so the server's OS user is tealrepl: a role that reads and
	// replicates, and no more.
	if out, err := psql(sys.Uid, sys.Gid, "tealrepl", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"); err != nil || strings.TrimSpace(out) != "f" {
		t.Errorf("tealrepl: %v: %s", err, out)
	}
	if out, err := psql(sys.Uid, sys.Gid, "tealrepl", "COPY (SELECT 1) TO PROGRAM 'id'"); err == nil {
		t.Errorf("tealrepl ran a program: %s", out)
	}
	if out, err := psql(0, 0, "tealadmin", "SELECT current_user"); err != nil || strings.TrimSpace(out) != "tealadmin" {
		t.Errorf("teal's own OS user is refused as tealadmin: %v: %s", err, out)
	}
}

func ownerOf(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

func connectAs(t *testing.T, port int, user, password, db string) *pgx.Conn {
	t.Helper()
	c, err := tryConnectAs(context.Background(), port, user, password, db)
	if err != nil {
		t.Fatalf("connect as %s to port %d: %v", user, port, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func tryConnectAs(ctx context.Context, port int, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s sslmode=disable connect_timeout=10", port, db))
	if err != nil {
		return nil, err
	}
	// Set directly, so that no quoting of the connection string is involved.
	cfg.User, cfg.Password = user, password
	return pgx.ConnectConfig(ctx, cfg)
}

func isSuperuser(t *testing.T, c *pgx.Conn) bool {
	t.Helper()
	var super bool
	if err := c.QueryRow(context.Background(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	return super
}

// TestOlderInstancesAdopted starts teal on instances as an older teal left
// them: every file owned by the shared OS user teal, pg_hba.conf trusting
// whoever reaches the socket, a replica following its source as tealadmin.
// After the start each server runs as its own user, the replica streams
// again through the source's group, and the socket trusts no one.
func TestOlderInstancesAdopted(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("OS users of their own need root")
	}
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	ctx := ctxFor(t, 3*time.Minute)
	src := createPostgres(t, svc, "legacy", "15")
	if _, err := connect(t, src, "app").Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{
		DBInstanceIdentifier: "legacy-r1", SourceDBInstanceIdentifier: "legacy"}); err != nil {
		t.Fatal(err)
	}
	rep := waitStatus(t, svc, "legacy-r1", rds.StatusAvailable, 2*time.Minute)
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}

	shared, err := user.Lookup("teal")
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range []*rds.DBInstance{src, rep} {
		root := filepath.Join(dir, "instances", inst.DbiResourceId)
		if out, err := exec.Command("chown", "-R", shared.Uid+":"+shared.Gid, root).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
		if err := os.Chmod(filepath.Join(root, "run"), 0o700); err != nil {
			t.Fatal(err)
		}
		hba := "local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
		if err := os.WriteFile(filepath.Join(root, "data", "pg_hba.conf"), []byte(hba), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	svc = openService(t, dir)
	src = waitStatus(t, svc, "legacy", rds.StatusAvailable, time.Minute)
	rep = waitStatus(t, svc, "legacy-r1", rds.StatusAvailable, time.Minute)
	for _, inst := range []*rds.DBInstance{src, rep} {
		owner := ownerOf(t, filepath.Join(dir, "instances", inst.DbiResourceId, "data"))
		if u, err := user.LookupId(fmt.Sprint(owner)); err != nil || u.Username != rds.OSUserOf(inst.DbiResourceId) {
			t.Fatalf("%s is owned by %v (%v), want %s", inst.DBInstanceIdentifier, u, err, rds.OSUserOf(inst.DbiResourceId))
		}
		serverUserIsNotAdmin(t, dir, inst.DbiResourceId)
	}
	if _, err := connect(t, src, "app").Exec(ctx, "INSERT INTO kept VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	rc := connect(t, rep, "app")
	eventually(t, 30*time.Second, "the replica streams the row written after the start", func() error {
		if n := count(t, rc, "SELECT count(*) FROM kept"); n != 2 {
			return errorf("replica has %d rows, want 2", n)
		}
		return nil
	})
}
