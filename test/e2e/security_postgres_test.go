package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
)

// Passwords that broke out of the SQL literal teal used to build, with
// standard_conforming_strings off: the first made the master SUPERUSER, the
// second was stored without its backslash.
const (
	injectingPassword = `x\'SUPERUSER--`
	backslashPassword = `abc\def12345`
)

// TestPostgresMasterConfined attacks an instance as its master user would,
// on every major where the rules differ (14 and 15 let CREATEROLE grant any
// non-superuser role; 17 does not), through the AWS SDK and pgx: passwords
// crafted to escape a SQL literal under standard_conforming_strings=off, and
// grants of the roles that run programs and touch server files. Each attack
// fails; what the master legitimately does beside it works.
func TestPostgresMasterConfined(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "14", "15", "17")
	rig := startAPI(t, svc)
	ctx := ctxFor(t, 5*time.Minute)
	c := rig.client

	for _, major := range []string{"14", "15", "17"} {
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

	for _, major := range []string{"14", "15", "17"} {
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
