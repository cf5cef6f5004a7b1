package mariadb

import (
	"strings"
	"testing"
)

// Rows of mysql.global_priv as MariaDB 10.11 writes them.
const (
	installerSocket = `{"access":18446744073709551615,"plugin":"mysql_native_password","authentication_string":"invalid","auth_or":[{},{"plugin":"unix_socket"}]}`
	legacyRoot      = `{"access":18446744073709551615}`
	mariadbSys      = `{"access":0,"plugin":"mysql_native_password","authentication_string":"","account_locked":true,"password_last_changed":0}`
	socketAdmin     = `{"access":549755813887,"version_id":101119,"plugin":"unix_socket","authentication_string":"","password_last_changed":1}`
	// An older teal's master: ALL PRIVILEGES WITH GRANT OPTION, then
	// REVOKE SUPER, READ_ONLY ADMIN.
	legacyMasterRow = `{"access":18446744065119584255,"plugin":"mysql_native_password","authentication_string":"*D821809F681A40A6E379B50D0463EFAE20BDD122"}`
	masterRow       = `{"access":274879496512,"plugin":"mysql_native_password","authentication_string":"*D821809F681A40A6E379B50D0463EFAE20BDD122"}`
	// SELECT, INSERT, PROCESS, FILE WITH GRANT OPTION on *.*.
	appRow     = `{"access":1795,"plugin":"mysql_native_password","authentication_string":"*B69027D44F6E5EDC07F1AEAD1477967B16F28227"}`
	noPassword = `{"access":0,"plugin":"mysql_native_password","authentication_string":""}`
	roleRow    = `{"access":2,"version_id":101119,"is_role":true}`
	publicRow  = `{"access":0,"version_id":101119,"is_role":true}`
)

func accounts(t *testing.T, rows ...[3]string) []account {
	t.Helper()
	var out []account
	for _, r := range rows {
		a, err := parseAccount(r[0], r[1], []byte(r[2]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestParseAccount(t *testing.T) {
	for _, c := range []struct {
		row                            string
		passwordless, socketOnly, role bool
		access                         privs
	}{
		{installerSocket, true, false, false, ^privs(0)},
		{legacyRoot, true, false, false, ^privs(0)},
		{socketAdmin, true, true, false, allPrivs},
		{masterRow, false, false, false, masterGlobals},
		{noPassword, true, false, false, 0},
		{roleRow, false, false, true, privInsert},
	} {
		a, err := parseAccount("u", "%", []byte(c.row))
		if err != nil {
			t.Fatalf("%s: %v", c.row, err)
		}
		if a.passwordless() != c.passwordless || a.socketOnly() != c.socketOnly || a.Role != c.role || a.Access != c.access {
			t.Errorf("%s: passwordless %v, socket only %v, role %v, access %d", c.row, a.passwordless(), a.socketOnly(), a.Role, a.Access)
		}
	}
	if _, err := parseAccount("u", "%", []byte(`{"access":"x"}`)); err == nil {
		t.Error("a malformed row was accepted")
	}
}

func TestIgnoredHosts(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": false, "LOCALHOST": false, "%": false, "127.0.0.1": false, "::1": false,
		"10.0.0.%": false, "10.0.0.0/255.0.0.0": false, "vm": true, "db.example.com": true, "cafe.be": true,
	} {
		if got := (account{User: "u", Host: host}).ignored(); got != want {
			t.Errorf("ignored(%q) = %v, want %v", host, got, want)
		}
	}
}

// has reports whether a plan holds a statement starting with prefix.
func has(plan []string, prefix string) bool {
	for _, q := range plan {
		if strings.HasPrefix(q, prefix) {
			return true
		}
	}
	return false
}

func TestPlanAccounts(t *testing.T) {
	type want struct {
		has, hasNot []string
	}
	cases := []struct {
		name    string
		admin   string
		rows    [][3]string
		masters []string // user@host marked
		want    want
	}{{
		name:  "a new server, teal running as an ordinary user",
		admin: "alice",
		rows: [][3]string{{"root", "localhost", installerSocket}, {"alice", "localhost", installerSocket},
			{"mariadb.sys", "localhost", mariadbSys}},
		want: want{
			has: []string{"ALTER USER 'alice'@'localhost' IDENTIFIED VIA unix_socket",
				"CREATE OR REPLACE DEFINER='alice'@'localhost' PROCEDURE mysql.teal_create_user(",
				"DELETE FROM mysql.proxies_priv", "DROP USER 'root'@'localhost'"},
			hasNot: []string{"GRANT ALL PRIVILEGES ON *.*", "CREATE USER", "GRANT EXECUTE",
				"ALTER USER 'mariadb.sys'", "DROP USER 'mariadb.sys'"},
		},
	}, {
		name:  "a server an older teal created",
		admin: "root",
		rows: [][3]string{{"root", "localhost", legacyRoot}, {"root", "127.0.0.1", legacyRoot},
			{"root", "::1", legacyRoot}, {"root", "vm", legacyRoot}, {"mariadb.sys", "localhost", mariadbSys},
			{"admin", "%", legacyMasterRow}, {"app", "%", appRow}, {"nopw", "%", noPassword},
			{"reader", "", roleRow}, {"PUBLIC", "", publicRow}},
		want: want{
			has: []string{"ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket",
				"GRANT EXECUTE ON PROCEDURE mysql.teal_create_user TO 'admin'@'%'",
				"REVOKE ALL PRIVILEGES ON *.* FROM 'admin'@'%'",
				"GRANT RELOAD, PROCESS, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'admin'@'%'",
				"GRANT ALL PRIVILEGES ON `%`.* TO 'admin'@'%' WITH GRANT OPTION",
				"REVOKE ALL PRIVILEGES ON *.* FROM 'app'@'%'", "GRANT PROCESS ON *.* TO 'app'@'%'",
				"GRANT SELECT, INSERT ON `%`.* TO 'app'@'%' WITH GRANT OPTION",
				"REVOKE ALL PRIVILEGES ON *.* FROM 'reader'", "GRANT INSERT ON `%`.* TO 'reader'",
				"DROP USER 'root'@'127.0.0.1'", "DROP USER 'root'@'::1'", "DROP USER 'root'@'vm'",
				"ALTER USER 'nopw'@'%' ACCOUNT LOCK"},
			hasNot: []string{"DROP USER 'root'@'localhost'", "GRANT EXECUTE ON PROCEDURE mysql.teal_create_user TO 'root'",
				"REVOKE ALL PRIVILEGES ON *.* FROM 'root'", "REVOKE ALL PRIVILEGES ON *.* FROM 'PUBLIC'",
				"GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost'"},
		},
	}, {
		name:  "a server teal already secured, with a master named like teal's admin",
		admin: "root",
		rows: [][3]string{{"root", "localhost", socketAdmin}, {"mariadb.sys", "localhost", mariadbSys},
			{"root", "%", masterRow}},
		masters: []string{"root@%"},
		want: want{
			has: []string{"GRANT ALL PRIVILEGES ON `%`.* TO 'root'@'%' WITH GRANT OPTION"},
			hasNot: []string{"ALTER USER", "DROP USER", "REVOKE", "CREATE USER",
				"GRANT ALL PRIVILEGES ON *.*", "CREATE OR REPLACE"},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := accountState{Accounts: accounts(t, c.rows...), Masters: map[string]bool{}, Routines: map[string]string{}}
			for _, m := range c.masters {
				st.Masters[m] = true
			}
			if len(c.masters) > 0 {
				for _, p := range masterProcedures {
					_, st.Routines[p] = procedureSQL(p, c.admin)
				}
			}
			plan := planAccounts(st, c.admin)
			for _, p := range c.want.has {
				if !has(plan, p) {
					t.Errorf("missing %q in\n%s", p, strings.Join(plan, "\n"))
				}
			}
			for _, p := range c.want.hasNot {
				if has(plan, p) {
					t.Errorf("unexpected %q in\n%s", p, strings.Join(plan, "\n"))
				}
			}
			// The mark comes before the master's global privileges go,
			// and teal's connection goes last.
			mark, revoke, drop := -1, -1, -1
			for i, q := range plan {
				switch {
				case strings.HasPrefix(q, "GRANT EXECUTE") && mark < 0:
					mark = i
				case strings.HasPrefix(q, "REVOKE") && revoke < 0:
					revoke = i
				case (strings.HasPrefix(q, "DROP USER") || strings.HasSuffix(q, "ACCOUNT LOCK")) && drop < 0:
					drop = i
				}
			}
			if revoke >= 0 && mark > revoke {
				t.Errorf("the master is marked after its privileges are revoked")
			}
			for i, q := range plan {
				if drop >= 0 && i > drop && !strings.HasPrefix(q, "DROP USER") && !strings.HasSuffix(q, "ACCOUNT LOCK") {
					t.Errorf("%q after the accounts are dropped", q)
				}
			}
		})
	}
}

func TestProtectedRows(t *testing.T) {
	rows := protectedRows([]string{"admin"}, []string{"reader", "PUBLIC"})
	type key struct{ host, db, user string }
	got := map[key][]string{}
	for _, r := range rows {
		got[key{r.Host, r.Db, r.User}] = r.Granted
	}
	for _, db := range []string{"mysql", "sys", "teal"} {
		for _, h := range []string{"%", "127.0.0.1", "::1", "localhost"} {
			if g, ok := got[key{h, db, ""}]; !ok || len(g) != 0 {
				t.Errorf("anonymous row on %s at %s: %v, %v", db, h, ok, g)
			}
			if _, ok := got[key{h, db, "admin"}]; !ok {
				t.Errorf("no row for the master on %s at %s", db, h)
			}
		}
		for _, r := range []string{"reader", "PUBLIC"} {
			if g, ok := got[key{"", db, r}]; !ok || len(g) != 0 {
				t.Errorf("role %s on %s: %v, %v", r, db, ok, g)
			}
		}
	}
	for k, g := range got {
		for _, col := range g {
			if k.db == "mysql" && col != "Select_priv" {
				t.Errorf("%v may %s on mysql", k, col)
			}
		}
	}
}

func TestProcedureSQL(t *testing.T) {
	for _, name := range masterProcedures {
		stmt, comment := procedureSQL(name, "root")
		again, same := procedureSQL(name, "root")
		_, other := procedureSQL(name, "alice")
		if stmt != again || comment != same || comment == other {
			t.Errorf("%s: the version does not follow the statement", name)
		}
		wants := []string{"DEFINER='root'@'localhost'", "SQL SECURITY DEFINER", "COMMENT '" + comment + "'"}
		if strings.HasPrefix(name, "teal_") {
			wants = append(wants, "IN ('root', 'tealrepl', 'mariadb.sys', 'PUBLIC')")
		}
		for _, want := range wants {
			if !strings.Contains(stmt, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, stmt)
			}
		}
		if strings.Contains(stmt, "PASSWORD(") {
			t.Errorf("%s hashes with PASSWORD(), which follows the caller's old_passwords", name)
		}
	}
}

func TestGrantList(t *testing.T) {
	if got := grantList(masterGlobals); got != "RELOAD, PROCESS, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR" {
		t.Errorf("master's global privileges: %s", got)
	}
	if got := grantList(privFile | privSuper | privShutdown); got != "USAGE" {
		t.Errorf("privileges teal never grants: %s", got)
	}
}
