package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// Settings no parameter group may hold: each runs a program, loads a
// library, names a file, weakens authentication or takes the server out of
// teal's control.
var dangerousPostgres = []string{
	"recovery_end_command", "archive_cleanup_command", "ssl_passphrase_command",
	"archive_command", "restore_command", "shared_preload_libraries",
	"session_preload_libraries", "local_preload_libraries", "dynamic_library_path",
	"jit_provider", "listen_addresses", "port", "unix_socket_directories", "data_directory",
	"hba_file", "ident_file", "ssl", "ssl_cert_file", "logging_collector", "log_directory",
	"krb_server_keyfile", "primary_conninfo", "allow_alter_system",
	// Developer options the server does not even list: refused as unknown.
	"allow_system_table_mods", "ignore_system_indexes", "zero_damaged_pages",
}

// listedPostgres are those of them PostgreSQL 17 describes, so
// DescribeDBParameters must show them, unmodifiable.
var listedPostgres = dangerousPostgres[:len(dangerousPostgres)-3]

// TestParameterGroupSecurityPostgres: through the AWS SDK, a parameter
// group refuses every command, library, path and control setting, and
// DescribeDBParameters says they are not modifiable; values that broke the
// configuration file or overflowed the range check are stored exactly or
// refused; and an instance a bad value kept from starting comes back with
// ResetDBParameterGroup and RebootDBInstance.
func TestParameterGroupSecurityPostgres(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "17")
	rig := startAPI(t, svc)
	c := rig.client
	ctx := ctxFor(t, 6*time.Minute)
	const group, id = "guarded17", "guarded"

	if _, err := c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{
		DBParameterGroupName: aws.String(group), DBParameterGroupFamily: aws.String("postgres17"),
		Description: aws.String("security checks")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"), EngineVersion: aws.String("17"),
		DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String(masterUser),
		MasterUserPassword: aws.String(masterPass), DBName: aws.String("app"),
		DBParameterGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}

	modify := func(name, value string, method types.ApplyMethod) error {
		_, err := c.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{
			DBParameterGroupName: aws.String(group),
			Parameters: []types.Parameter{{ParameterName: aws.String(name),
				ParameterValue: aws.String(value), ApplyMethod: method}}})
		return err
	}
	refused := func(name, value string) {
		t.Helper()
		err := modify(name, value, types.ApplyMethodPendingReboot)
		wantCode(t, name+"="+value, err, "InvalidParameterValue")
		var ae smithy.APIError
		if errors.As(err, &ae) && !strings.Contains(ae.ErrorMessage(), name) {
			t.Errorf("the refusal of %s does not name it: %s", name, ae.ErrorMessage())
		}
	}

	for _, name := range dangerousPostgres {
		refused(name, "/tmp/evil")
	}
	params := describeParams(t, c, group)
	for _, name := range listedPostgres {
		p, ok := params[name]
		if !ok {
			t.Errorf("DescribeDBParameters does not list %s", name)
			continue
		}
		if aws.ToBool(p.IsModifiable) {
			t.Errorf("DescribeDBParameters says %s is modifiable", name)
		}
	}
	for _, name := range []string{"work_mem", "log_line_prefix", "log_min_duration_statement", "wal_level"} {
		if !aws.ToBool(params[name].IsModifiable) {
			t.Errorf("DescribeDBParameters says %s is not modifiable", name)
		}
	}

	// Numbers beyond any range are refused, with or without a unit, and
	// so are control characters.
	refused("work_mem", "99999999999999999999")
	refused("work_mem", "99999999999999999999GB")
	refused("work_mem", "3000000GB")
	refused("log_line_prefix", "x\nshared_preload_libraries = 'evil'")

	waitAvailable(t, c, id)
	show := func(name string) string {
		t.Helper()
		conn, err := tryConnect(ctx, describe(t, svc, id).Endpoint.Port, "app")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	// A trailing backslash and a quote reach the server exactly, at once
	// and after a reboot.
	const prefix = `%m it's x\`
	start := time.Now()
	if err := modify("log_line_prefix", prefix, types.ApplyMethodImmediate); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("applying log_line_prefix took %s: the server did not take the new file", d)
	}
	if got := show("log_line_prefix"); got != prefix {
		t.Fatalf("log_line_prefix = %q, want %q", got, prefix)
	}
	reboot(t, c, id)
	waitAvailable(t, c, id)
	if got := show("log_line_prefix"); got != prefix {
		t.Fatalf("after reboot log_line_prefix = %q, want %q", got, prefix)
	}

	// A value no check here can judge (a time zone that does not exist)
	// keeps the server from starting: the instance fails.
	if err := modify("TimeZone", "Nowhere/Never", types.ApplyMethodPendingReboot); err != nil {
		t.Fatal(err)
	}
	reboot(t, c, id)
	waitStatusSDK(t, c, id, "failed")
	// Resetting the value rewrites the failed instance's configuration...
	if _, err := c.ResetDBParameterGroup(ctx, &awsrds.ResetDBParameterGroupInput{
		DBParameterGroupName: aws.String(group),
		Parameters:           []types.Parameter{{ParameterName: aws.String("TimeZone"), ApplyMethod: types.ApplyMethodPendingReboot}}}); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "instances", describe(t, svc, id).DbiResourceId, "data", "teal.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), "Nowhere") {
		t.Fatalf("ResetDBParameterGroup left the bad value in teal.conf:\n%s", conf)
	}
	// ...and a failed instance may be rebooted, which brings it back.
	reboot(t, c, id)
	waitAvailable(t, c, id)
	if got := show("log_line_prefix"); got != prefix {
		t.Fatalf("after recovery log_line_prefix = %q, want %q", got, prefix)
	}
}

// TestParameterGroupSecurityMariaDB: a MariaDB group refuses init_file,
// skip_grant_tables and other paths and switches teal owns; init_connect,
// which runs as the connecting user, is allowed, and a value with quotes, a
// # and a backslash reaches the server exactly through the option file.
func TestParameterGroupSecurityMariaDB(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "10.11")
	rig := startAPI(t, svc)
	c := rig.client
	ctx := ctxFor(t, 4*time.Minute)
	const group, id = "guarded-maria", "guarded-maria"

	if _, err := c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{
		DBParameterGroupName: aws.String(group), DBParameterGroupFamily: aws.String("mariadb10.11"),
		Description: aws.String("security checks")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), Engine: aws.String("mariadb"),
		DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String(masterPass), DBName: aws.String("shop"),
		DBParameterGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	modify := func(name, value string) error {
		_, err := c.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{
			DBParameterGroupName: aws.String(group),
			Parameters: []types.Parameter{{ParameterName: aws.String(name),
				ParameterValue: aws.String(value), ApplyMethod: types.ApplyMethodPendingReboot}}})
		return err
	}
	for _, p := range []struct{ name, value string }{
		{"init_file", "/tmp/evil.sql"}, {"skip_grant_tables", "1"}, {"plugin_load_add", "evil.so"},
		{"secure_file_priv", ""}, {"bind_address", "0.0.0.0"},
	} {
		err := modify(p.name, p.value)
		wantCode(t, p.name, err, "InvalidParameterValue")
		var ae smithy.APIError
		if errors.As(err, &ae) && !strings.Contains(ae.ErrorMessage(), p.name) {
			t.Errorf("the refusal of %s does not name it: %s", p.name, ae.ErrorMessage())
		}
	}
	params := describeParams(t, c, group)
	for _, name := range []string{"init_file", "skip_grant_tables", "secure_file_priv", "bind_address"} {
		p, ok := params[name]
		if !ok || aws.ToBool(p.IsModifiable) {
			t.Errorf("DescribeDBParameters for %s: listed %v, modifiable %v", name, ok, aws.ToBool(p.IsModifiable))
		}
	}

	waitAvailable(t, c, id)
	const initConnect = `SET @note = 'a # "b" \\ c'`
	if err := modify("init_connect", initConnect); err != nil {
		t.Fatal(err)
	}
	reboot(t, c, id)
	waitAvailable(t, c, id)
	db, err := sql.Open("mysql", fmt.Sprintf("admin:%s@tcp(127.0.0.1:%d)/shop?timeout=5s",
		masterPass, describe(t, svc, id).Endpoint.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	if err := db.QueryRowContext(ctx, "SELECT @@init_connect").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != initConnect {
		t.Fatalf("after reboot init_connect = %q, want %q", got, initConnect)
	}
	// At once too: teal reads the value back from the option file to set it.
	const again = `SET @other = "x # y" -- \\`
	if _, err := c.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{
		DBParameterGroupName: aws.String(group),
		Parameters: []types.Parameter{{ParameterName: aws.String("init_connect"),
			ParameterValue: aws.String(again), ApplyMethod: types.ApplyMethodImmediate}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT @@init_connect").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != again {
		t.Fatalf("applied at once, init_connect = %q, want %q", got, again)
	}
}

// describeParams lists all of a group's parameters, page by page.
func describeParams(t *testing.T, c *awsrds.Client, group string) map[string]types.Parameter {
	t.Helper()
	out := map[string]types.Parameter{}
	pages := awsrds.NewDescribeDBParametersPaginator(c, &awsrds.DescribeDBParametersInput{
		DBParameterGroupName: aws.String(group), MaxRecords: aws.Int32(100)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Parameters {
			out[aws.ToString(p.ParameterName)] = p
		}
	}
	return out
}

func reboot(t *testing.T, c *awsrds.Client, id string) {
	t.Helper()
	if _, err := c.RebootDBInstance(context.Background(), &awsrds.RebootDBInstanceInput{
		DBInstanceIdentifier: aws.String(id)}); err != nil {
		t.Fatalf("reboot %s: %v", id, err)
	}
}

// waitStatusSDK waits until DescribeDBInstances reports the status.
func waitStatusSDK(t *testing.T, c *awsrds.Client, id, status string) {
	t.Helper()
	eventually(t, 2*time.Minute, id+" becomes "+status, func() error {
		out, err := c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{
			DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			return err
		}
		if got := aws.ToString(out.DBInstances[0].DBInstanceStatus); got != status {
			return errorf("status %s", got)
		}
		return nil
	})
}
