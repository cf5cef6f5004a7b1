package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/go-sql-driver/mysql"
)

// Passwords with a quote and a backslash: a SQL literal would have to
// escape them.
const (
	mariaMasterPass = `m'aster\pass-1`
	mariaNewPass    = `n'ew\pass-2`
	mariaAppPass    = `a'pp\pass-3`
	mariaRootPass   = "root-pass-4"
)

// TestMariaDBMasterConfined attacks MariaDB instances as their master user
// would, through the AWS SDK and go-sql-driver/mysql: root without a
// password, server files, shutdown, the grant tables, teal's own accounts,
// and a second user given every privilege the master can give. Each attack
// fails, while the master creates a database, a user and grants as on RDS;
// a master named root logs in with its password; no binary log holds a
// password; and an instance as an older teal left it is fixed at its next
// start.
func TestMariaDBMasterConfined(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "10.11")
	rig := startAPI(t, svc)
	c := rig.client
	ctx := ctxFor(t, 6*time.Minute)
	admin := tealOSUser(t)

	for _, in := range []struct{ id, user, pass string }{
		{"confined", masterUser, mariaMasterPass}, {"rooted", "root", mariaRootPass},
	} {
		if _, err := c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(in.id), Engine: aws.String("mariadb"),
			DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String(in.user),
			MasterUserPassword: aws.String(in.pass), DBName: aws.String("shop")}); err != nil {
			t.Fatalf("create %s: %v", in.id, err)
		}
	}
	waitAvailable(t, c, "confined")
	if _, err := c.CreateDBInstanceReadReplica(ctx, &awsrds.CreateDBInstanceReadReplicaInput{
		DBInstanceIdentifier: aws.String("confined-r"), SourceDBInstanceIdentifier: aws.String("confined")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "rooted")
	waitAvailable(t, c, "confined-r")
	inst, rooted, replica := describeAPI(t, c, "confined"), describeAPI(t, c, "rooted"), describeAPI(t, c, "confined-r")
	endpoint := fmt.Sprintf("127.0.0.1:%d", aws.ToInt32(inst.Endpoint.Port))
	var port int
	if err := mariaOpen(t, endpoint, masterUser, mariaMasterPass).QueryRowContext(ctx, "SELECT @@port").Scan(&port); err != nil {
		t.Fatal(err)
	}
	serverPort := strconv.Itoa(port)
	dataOf := func(i string) string { return filepath.Join(dir, "instances", i, "data") }
	otherData := dataOf(aws.ToString(rooted.DbiResourceId))

	// No account logs in without a password, whatever the way in.
	for _, addr := range []string{endpoint, net.JoinHostPort("127.0.0.1", serverPort), net.JoinHostPort("::1", serverPort)} {
		for _, u := range []string{"root", admin} {
			if err := mariaPing(ctx, addr, u, ""); err == nil {
				t.Errorf("%s logs in at %s without a password", u, addr)
			}
		}
	}

	// What the master does on RDS: a database, a table, a user it grants
	// them to, who uses them.
	m := mariaOpen(t, endpoint, masterUser, mariaMasterPass)
	mariaMust(t, m, "CREATE DATABASE orders", "CREATE TABLE orders.o (id int PRIMARY KEY) ENGINE=InnoDB")
	// The password travels as a parameter, so that only the procedure's
	// own quoting is at work.
	if _, err := m.ExecContext(ctx, "CALL mysql.teal_create_user(?, ?, ?)", "app", "%", mariaAppPass); err != nil {
		t.Fatalf("create a user: %v", err)
	}
	mariaMust(t, m, "GRANT SELECT, INSERT ON orders.* TO 'app'@'%'")
	app := mariaOpen(t, endpoint, "app", mariaAppPass)
	mariaMust(t, app, "INSERT INTO orders.o VALUES (1)")
	var n int
	if err := app.QueryRowContext(ctx, "SELECT count(*) FROM orders.o").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the master's user reads %d rows: %v", n, err)
	}
	if _, err := app.ExecContext(ctx, "DROP TABLE orders.o"); err == nil {
		t.Error("the master's user did more than it was granted")
	}
	var grants string
	if err := m.QueryRowContext(ctx, "SHOW GRANTS FOR 'app'@'%'").Scan(&grants); err != nil {
		t.Errorf("the master cannot show its user's grants: %v", err)
	}

	// The attacks.
	pwned := filepath.Join(otherData, "pwned.txt")
	for _, q := range []string{
		"SELECT 'x' INTO OUTFILE " + sqlString(pwned),
		"LOAD DATA INFILE " + sqlString(filepath.Join(otherData, "mariadb-bin.index")) + " INTO TABLE orders.o",
		"SHUTDOWN",
		"UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.access', 549755813887) WHERE User = 'master'",
		"INSERT INTO mysql.db (Host, Db, User, Insert_priv) VALUES ('%', 'mysql', 'master', 'Y')",
		"GRANT SUPER ON *.* TO 'master'@'%'",
		"GRANT FILE ON *.* TO 'master'@'%'",
		"GRANT ALL PRIVILEGES ON mysql.* TO 'app'@'%'",
		"CREATE USER 'sneaky'@'%' IDENTIFIED BY 'sneaky-pass'",
		"CREATE DEFINER='mariadb.sys'@'localhost' PROCEDURE orders.p() SELECT 1",
		"ALTER PROCEDURE sys.execute_prepared_stmt SQL SECURITY DEFINER",
		"INSTALL SONAME 'ha_connect'",
		"SET GLOBAL read_only = ON",
		// teal's own accounts.
		"ALTER USER " + sqlString(admin) + "@'localhost' IDENTIFIED BY 'taken-over'",
		"RENAME USER " + sqlString(admin) + "@'localhost' TO 'mine'@'%'",
		"DROP USER " + sqlString(admin) + "@'localhost'",
		"REVOKE PROCESS ON *.* FROM " + sqlString(admin) + "@'localhost'",
		"SET PASSWORD FOR 'tealrepl'@'127.0.0.1' = PASSWORD('taken-over')",
		"ALTER USER 'tealrepl'@'127.0.0.1' IDENTIFIED BY 'taken-over'",
		"DROP USER 'tealrepl'@'127.0.0.1'",
		"REVOKE REPLICATION SLAVE ON *.* FROM 'tealrepl'@'127.0.0.1'",
		"CALL mysql.teal_set_password('tealrepl', '127.0.0.1', 'taken-over')",
		"CALL mysql.teal_drop_user(" + sqlString(admin) + ", 'localhost')",
		"CALL mysql.teal_create_user(" + sqlString(admin) + ", '127.0.0.1', 'taken-over')",
		"CALL mysql.teal_drop_user('master', '%')",
		"CALL mysql.teal_create_user('nopass', '%', '')",
		// A more specific host would sort before the protective rows.
		"CALL mysql.teal_create_user('near', '10.%', 'near-pass-1')",
		"CALL mysql.teal_create_user('near', '10.1.2.3', 'near-pass-1')",
	} {
		if _, err := m.ExecContext(ctx, q); err == nil {
			t.Errorf("the master ran: %s", q)
		}
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("the master wrote into another instance's data directory: %v", err)
	}
	var file sql.NullString
	if err := m.QueryRowContext(ctx, "SELECT LOAD_FILE("+sqlString(filepath.Join(otherData, "mariadb-bin.index"))+")").Scan(&file); err != nil || file.Valid {
		t.Errorf("LOAD_FILE of another instance's file: %q, %v", file.String, err)
	}
	// DATA DIRECTORY is ignored: the table stays in the data directory.
	mariaMust(t, m, "CREATE TABLE orders.remote (id int) ENGINE=InnoDB DATA DIRECTORY = "+sqlString(otherData))
	if _, err := os.Stat(filepath.Join(otherData, "orders")); !os.IsNotExist(err) {
		t.Errorf("a table's files went to another instance's data directory: %v", err)
	}
	mariaMust(t, m, "SELECT 1") // still up after SHUTDOWN

	// A user the master gives everything it can, on every database pattern
	// and at the exact host clients come from, still cannot reach mysql.*.
	mariaMust(t, m, "CALL mysql.teal_create_user('evil', '%', 'evil-pass-1')",
		"CALL mysql.teal_create_user('evil2', '127.0.0.1', 'evil-pass-2')",
		"GRANT ALL PRIVILEGES ON `%`.* TO 'evil'@'%' WITH GRANT OPTION",
		"GRANT ALL PRIVILEGES ON `mysq_`.* TO 'evil'@'%'",
		"GRANT ALL PRIVILEGES ON `%`.* TO 'evil2'@'127.0.0.1'")
	for _, u := range [][2]string{{"evil", "evil-pass-1"}, {"evil2", "evil-pass-2"}} {
		e := mariaOpen(t, endpoint, u[0], u[1])
		mariaMust(t, e, "CREATE TABLE orders.t_"+u[0]+" (id int)")
		for _, q := range []string{
			"UPDATE mysql.global_priv SET Priv = Priv WHERE User = '" + u[0] + "'",
			"INSERT INTO mysql.db (Host, Db, User, Select_priv) VALUES ('%', 'x', 'y', 'Y')",
			"SELECT count(*) FROM mysql.global_priv",
			"ALTER PROCEDURE sys.execute_prepared_stmt SQL SECURITY DEFINER",
		} {
			if _, err := e.ExecContext(ctx, q); err == nil {
				t.Errorf("%s, given ALL on `%%`.*, ran: %s", u[0], q)
			}
		}
	}

	// The read replica refuses the master's writes, and its read_only stays.
	r := mariaOpen(t, fmt.Sprintf("127.0.0.1:%d", aws.ToInt32(replica.Endpoint.Port)), masterUser, mariaMasterPass)
	// It stops and starts replication as on RDS, with RDS's procedures,
	// but cannot point the replica elsewhere.
	for _, q := range []string{"SET GLOBAL read_only = OFF", "INSERT INTO orders.o VALUES (2)", "STOP SLAVE",
		"CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 1"} {
		if _, err := r.ExecContext(ctx, q); err == nil {
			t.Errorf("the master ran on the read replica: %s", q)
		}
	}
	mariaMust(t, r, "CALL mysql.rds_stop_replication")
	if got := replicaSQLThread(t, r); got != "No" {
		t.Errorf("after mysql.rds_stop_replication the applier is %q", got)
	}
	mariaMust(t, r, "CALL mysql.rds_start_replication")
	if got := replicaSQLThread(t, r); got != "Yes" {
		t.Errorf("after mysql.rds_start_replication the applier is %q", got)
	}

	// A master named root logs in over TCP with its password, root without
	// one does not.
	rootEndpoint := fmt.Sprintf("127.0.0.1:%d", aws.ToInt32(rooted.Endpoint.Port))
	var who string
	if err := mariaOpen(t, rootEndpoint, "root", mariaRootPass).QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&who); err != nil || who != "root@%" {
		t.Fatalf("the master named root is %q: %v", who, err)
	}
	if err := mariaPing(ctx, rootEndpoint, "root", ""); err == nil {
		t.Error("root logs in without a password where the master is named root")
	}

	// A new password; then no binary log holds any password teal or the
	// master's procedures were given.
	if _, err := c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("confined"),
		MasterUserPassword: aws.String(mariaNewPass), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the new master password", func() error { return mariaPing(ctx, endpoint, masterUser, mariaNewPass) })
	waitAvailable(t, c, "confined")
	for _, i := range []*string{inst.DbiResourceId, rooted.DbiResourceId, replica.DbiResourceId} {
		logs, _ := filepath.Glob(filepath.Join(dataOf(aws.ToString(i)), "mariadb-bin.[0-9]*"))
		if len(logs) == 0 {
			t.Fatalf("no binary log in %s", dataOf(aws.ToString(i)))
		}
		decoded, err := exec.CommandContext(ctx, "mariadb-binlog", append([]string{"--verbose"}, logs...)...).Output()
		if err != nil {
			t.Fatalf("mariadb-binlog: %v", err)
		}
		if !bytes.Contains(decoded, []byte("IDENTIFIED BY PASSWORD")) {
			t.Fatalf("the binary logs of %s hold no account statement: nothing was checked", aws.ToString(i))
		}
		for _, f := range logs {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			decoded = append(decoded, raw...)
		}
		for _, pw := range []string{mariaMasterPass, mariaNewPass, mariaAppPass, mariaRootPass} {
			if bytes.Contains(decoded, []byte(pw)) {
				t.Errorf("a binary log of %s holds the password %q", aws.ToString(i), pw)
			}
		}
	}

	// The instance as an older teal left it: root without a password, a
	// master with ALL PRIVILEGES, no protective rows. The next start fixes
	// it.
	sock := adminSocket(t, dir, aws.ToString(inst.DbiResourceId))
	old := mariaOpenSocket(t, sock, admin)
	mariaMust(t, old, "SET sql_log_bin = 0",
		"CREATE USER 'root'@'127.0.0.1'", "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
		"REVOKE EXECUTE ON PROCEDURE mysql.teal_create_user FROM 'master'@'%'",
		"GRANT ALL PRIVILEGES ON *.* TO 'master'@'%' WITH GRANT OPTION",
		"REVOKE SUPER, READ_ONLY ADMIN ON *.* FROM 'master'@'%'",
		"DELETE FROM mysql.db WHERE User = ''", "FLUSH PRIVILEGES")
	if err := mariaPing(ctx, net.JoinHostPort("127.0.0.1", serverPort), "root", ""); err != nil {
		t.Fatalf("the older teal's passwordless root is not back: %v", err)
	}
	evil := mariaOpen(t, endpoint, "evil", "evil-pass-1")
	if _, err := evil.ExecContext(ctx, "SELECT count(*) FROM mysql.global_priv"); err != nil {
		t.Fatalf("without the protective rows, the pattern grant should reach mysql.*: %v", err)
	}
	evil.Close()
	if _, err := c.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String("confined")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "confined")
	if err := mariaPing(ctx, net.JoinHostPort("127.0.0.1", serverPort), "root", ""); err == nil {
		t.Error("root logs in without a password after the start that should fix it")
	}
	m2 := mariaOpen(t, endpoint, masterUser, mariaNewPass)
	for _, q := range []string{"UPDATE mysql.global_priv SET Priv = Priv WHERE User = 'master'", "SELECT 'x' INTO OUTFILE " + sqlString(pwned)} {
		if _, err := m2.ExecContext(ctx, q); err == nil {
			t.Errorf("the older teal's master still runs: %s", q)
		}
	}
	mariaMust(t, m2, "CALL mysql.teal_create_user('app2', '%', 'app2-pass-1')", "GRANT SELECT ON orders.* TO 'app2'@'%'")
	evil = mariaOpen(t, endpoint, "evil", "evil-pass-1")
	if _, err := evil.ExecContext(ctx, "SELECT count(*) FROM mysql.global_priv"); err == nil {
		t.Error("the pattern grant reaches mysql.* after the start that should fix it")
	}
}

// tealOSUser is the name of the OS user teal (this test) runs as: the name
// of its MariaDB admin account.
func tealOSUser(t *testing.T) string {
	t.Helper()
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func mariaConfig(user, password string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, password
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 10*time.Second, 10*time.Second
	return cfg
}

// mariaOpen opens a pool of one connection to addr, set field by field so
// that no quoting of a DSN is involved, and checks it logs in.
func mariaOpen(t *testing.T, addr, user, password string) *sql.DB {
	t.Helper()
	cfg := mariaConfig(user, password)
	cfg.Net, cfg.Addr = "tcp", addr
	return mariaOpenConfig(t, cfg)
}

func mariaOpenSocket(t *testing.T, socket, user string) *sql.DB {
	t.Helper()
	cfg := mariaConfig(user, "")
	cfg.Net, cfg.Addr = "unix", socket
	return mariaOpenConfig(t, cfg)
}

func mariaOpenConfig(t *testing.T, cfg *mysql.Config) *sql.DB {
	t.Helper()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("log in as %s at %s: %v", cfg.User, cfg.Addr, err)
	}
	return db
}

// mariaPing tries to log in.
func mariaPing(ctx context.Context, addr, user, password string) error {
	cfg := mariaConfig(user, password)
	cfg.Net, cfg.Addr = "tcp", addr
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	return db.PingContext(ctx)
}

// mariaMust runs statements in order and fails the test on an error.
func mariaMust(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// replicaSQLThread is Slave_SQL_Running in SHOW SLAVE STATUS.
func replicaSQLThread(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SHOW SLAVE STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		t.Fatalf("no replica status: %v", err)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		if c == "Slave_SQL_Running" {
			return vals[i].String
		}
	}
	t.Fatal("no Slave_SQL_Running in SHOW SLAVE STATUS")
	return ""
}

// sqlString is a SQL string literal of a path or a name teal chose.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// adminSocket is the admin socket of an instance, from its configuration.
func adminSocket(t *testing.T, dir, resourceID string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "instances", resourceID, "my.cnf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "socket" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	t.Fatalf("no socket in the configuration of %s", resourceID)
	return ""
}
