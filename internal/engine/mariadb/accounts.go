package mariadb

// Accounts and privileges on a MariaDB server (SPEC §8).
//
// teal administers a server as one account: the OS user teal runs as, at
// localhost, IDENTIFIED VIA unix_socket. Only a process of that OS user that
// reaches the private socket can be it, and no account logs in without a
// password.
//
// The master user gets the RDS master user's privileges, placed where
// MariaDB 10.11 cannot turn them into more. MariaDB has no partial revokes:
// a global INSERT or UPDATE covers mysql.*, the grant tables, and CREATE USER
// renames, alters or drops any account, teal's own included. So:
//
//   - on *.*: RELOAD, PROCESS, SHOW DATABASES, REPLICATION SLAVE, BINLOG
//     MONITOR and SLAVE MONITOR, without GRANT OPTION (which would let it
//     revoke them from teal's accounts);
//   - every data privilege on the database pattern `%`, WITH GRANT OPTION;
//   - no CREATE USER: it creates, drops and re-passwords users with the
//     procedures mysql.teal_create_user, teal_drop_user and
//     teal_set_password, which run as teal's admin and refuse teal's
//     accounts and the master's own;
//   - on the schemas teal protects (mysql, sys, teal), rows of mysql.db that
//     the server matches before any pattern: it takes the first row matching
//     the client's user name and host, most specific host first, then most
//     specific database. Rows for the anonymous user '' match every user, so
//     the rows below leave no privilege on those schemas to anyone a pattern
//     grant reaches, at every host a client can come from, while the
//     master's own rows (same hosts, its name) let it read them. Roles are
//     looked up apart, by their own rows; each role and PUBLIC get the same
//     empty rows.
//
// reconcileAccounts brings any server to this state at each start: servers
// created by an older teal had root without a password and a master with
// ALL PRIVILEGES.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"

	"github.com/tealdb/teal/internal/engine"
)

// adminName is the account teal administers servers as: the name of the OS
// user teal runs as, which unix_socket authenticates.
var adminName = sync.OnceValues(func() (string, error) {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		return "", fmt.Errorf("name of the OS user teal runs as (the MariaDB admin account): %w", err)
	}
	return u.Username, nil
})

// legacyAdmin is the account older teals administered servers as: root,
// without a password.
const legacyAdmin = "root"

// privs are the bits of "access" in mysql.global_priv (MariaDB 10.5 and
// later), in the server's order.
type privs uint64

const (
	privSelect privs = 1 << iota
	privInsert
	privUpdate
	privDelete
	privCreate
	privDrop
	privReload
	privShutdown
	privProcess
	privFile
	privGrant
	privReferences
	privIndex
	privAlter
	privShowDB
	privSuper
	privCreateTmp
	privLockTables
	privExecute
	privReplSlave
	privBinlogMonitor
	privCreateView
	privShowView
	privCreateRoutine
	privAlterRoutine
	privCreateUser
	privEvent
	privTrigger
	privCreateTablespace
	privDeleteHistory
	privSetUser
	privFederatedAdmin
	privConnectionAdmin
	privReadOnlyAdmin
	privReplSlaveAdmin
	privReplMasterAdmin
	privBinlogAdmin
	privBinlogReplay
	privSlaveMonitor
	privLast = privSlaveMonitor
)

// grantNames are the privileges teal grants or moves, as GRANT names them.
var grantNames = []struct {
	p    privs
	name string
}{
	{privSelect, "SELECT"}, {privInsert, "INSERT"}, {privUpdate, "UPDATE"}, {privDelete, "DELETE"},
	{privCreate, "CREATE"}, {privDrop, "DROP"}, {privReload, "RELOAD"}, {privProcess, "PROCESS"},
	{privReferences, "REFERENCES"}, {privIndex, "INDEX"}, {privAlter, "ALTER"},
	{privShowDB, "SHOW DATABASES"}, {privCreateTmp, "CREATE TEMPORARY TABLES"},
	{privLockTables, "LOCK TABLES"}, {privExecute, "EXECUTE"}, {privReplSlave, "REPLICATION SLAVE"},
	{privBinlogMonitor, "BINLOG MONITOR"}, {privCreateView, "CREATE VIEW"}, {privShowView, "SHOW VIEW"},
	{privCreateRoutine, "CREATE ROUTINE"}, {privAlterRoutine, "ALTER ROUTINE"}, {privEvent, "EVENT"},
	{privTrigger, "TRIGGER"}, {privDeleteHistory, "DELETE HISTORY"}, {privSlaveMonitor, "SLAVE MONITOR"},
}

const (
	// dataPrivs exist at database level, where a pattern grant can hold them.
	dataPrivs = privSelect | privInsert | privUpdate | privDelete | privCreate | privDrop |
		privReferences | privIndex | privAlter | privCreateTmp | privLockTables | privExecute |
		privCreateView | privShowView | privCreateRoutine | privAlterRoutine | privEvent |
		privTrigger | privDeleteHistory
	// masterGlobals are the only privileges an account but teal's holds on *.*.
	masterGlobals = privReload | privProcess | privShowDB | privReplSlave | privBinlogMonitor | privSlaveMonitor
	// legacyMaster is what an older teal's master held (ALL PRIVILEGES
	// but SUPER and READ_ONLY ADMIN): it still is the master.
	legacyMaster = privSelect | privInsert | privUpdate | privDelete | privCreate | privDrop |
		privReferences | privIndex | privAlter | privCreateTmp | privLockTables | privExecute |
		privCreateView | privShowView | privCreateRoutine | privAlterRoutine | privEvent |
		privTrigger | privGrant | privCreateUser
	allPrivs = privLast<<1 - 1
)

// grantList names the privileges of p that GRANT takes ("USAGE" for none).
func grantList(p privs) string {
	var names []string
	for _, g := range grantNames {
		if p&g.p != 0 {
			names = append(names, g.name)
		}
	}
	if len(names) == 0 {
		return "USAGE"
	}
	return strings.Join(names, ", ")
}

// protectedSchemas are the schemas no pattern grant reaches, with what the
// master may do in each: read the grant tables (SHOW GRANTS needs it), use
// sys, read teal's heartbeat. sys is protected because ALTER ROUTINE there
// could make one of its procedures run as mariadb.sys, which may delete
// from mysql.global_priv.
var protectedSchemas = []struct {
	db     string
	master []string // mysql.db columns set to 'Y' for the master
}{
	{"mysql", []string{"Select_priv"}},
	{"sys", []string{"Select_priv", "Execute_priv", "Show_view_priv"}},
	{tealDB, []string{"Select_priv"}},
}

// clientHosts are the hosts of the protective rows: any host, and every
// exact host a client can come from (teal's proxy and the server's own port
// are on the loopback). A row of an exact host sorts before any pattern, so
// each needs its own.
var clientHosts = []string{"%", "127.0.0.1", "::1", "localhost"}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}

// dbPrivColumns are the privilege columns of mysql.db.
var dbPrivColumns = []string{"Select_priv", "Insert_priv", "Update_priv", "Delete_priv", "Create_priv",
	"Drop_priv", "Grant_priv", "References_priv", "Index_priv", "Alter_priv", "Create_tmp_table_priv",
	"Lock_tables_priv", "Create_view_priv", "Show_view_priv", "Create_routine_priv",
	"Alter_routine_priv", "Execute_priv", "Event_priv", "Trigger_priv", "Delete_history_priv"}

// dbRow is a row of mysql.db.
type dbRow struct {
	Host, Db, User string
	Granted        []string // columns set to 'Y'
}

// protectedRows are the rows of mysql.db teal keeps on the protected
// schemas for the masters and roles named.
func protectedRows(masters, roles []string) []dbRow {
	var rows []dbRow
	for _, s := range protectedSchemas {
		for _, h := range clientHosts {
			rows = append(rows, dbRow{Host: h, Db: s.db, User: ""})
			for _, m := range masters {
				rows = append(rows, dbRow{Host: h, Db: s.db, User: m, Granted: s.master})
			}
		}
		for _, r := range roles {
			rows = append(rows, dbRow{Host: "", Db: s.db, User: r})
		}
	}
	return rows
}

// account is a row of mysql.global_priv.
type account struct {
	User, Host string
	Role       bool
	Access     privs
	Locked     bool
	Auth       []authMethod
}

type authMethod struct{ Plugin, Secret string }

func (a account) key() string { return a.User + "@" + a.Host }

// name is the account as SQL names it.
func (a account) name() string {
	if a.Role {
		return quote(a.User)
	}
	return quote(a.User) + "@" + quote(a.Host)
}

// passwordless says whether the account logs in without a password: an
// empty hash, or an OS user's word (unix_socket), which only teal's admin
// may take. A role logs in as nothing.
func (a account) passwordless() bool {
	if a.Role {
		return false
	}
	for _, m := range a.Auth {
		switch m.Plugin {
		case "", "mysql_native_password", "mysql_old_password", "ed25519":
			if m.Secret == "" {
				return true
			}
		case "unix_socket":
			return true
		}
	}
	return false
}

// ignored says whether the server leaves the account out: with
// skip_name_resolve, which teal sets, an account whose host is a name
// matches no client, and statements naming it but DROP USER fail.
func (a account) ignored() bool {
	if a.Role || strings.EqualFold(a.Host, "localhost") || strings.ContainsAny(a.Host, ":%_/") {
		return false
	}
	for _, c := range a.Host {
		if c != '.' && (c < '0' || c > '9') {
			return true
		}
	}
	return false
}

func (a account) socketOnly() bool {
	return len(a.Auth) == 1 && a.Auth[0].Plugin == "unix_socket"
}

// parseAccount reads a row of mysql.global_priv.
func parseAccount(user, host string, priv []byte) (account, error) {
	var p struct {
		Access json.Number `json:"access"`
		Plugin string      `json:"plugin"`
		Secret string      `json:"authentication_string"`
		Locked bool        `json:"account_locked"`
		Role   bool        `json:"is_role"`
		AuthOr []struct {
			Plugin string `json:"plugin"`
			Secret string `json:"authentication_string"`
		} `json:"auth_or"`
	}
	if err := json.Unmarshal(priv, &p); err != nil {
		return account{}, fmt.Errorf("privileges of %s@%s: %w", user, host, err)
	}
	access, err := strconv.ParseUint(string(p.Access), 10, 64)
	if err != nil && p.Access != "" {
		return account{}, fmt.Errorf("privileges of %s@%s: access %q: %w", user, host, p.Access, err)
	}
	a := account{User: user, Host: host, Role: p.Role, Access: privs(access), Locked: p.Locked}
	main := authMethod{Plugin: p.Plugin, Secret: p.Secret}
	if len(p.AuthOr) == 0 {
		a.Auth = []authMethod{main}
	}
	for _, m := range p.AuthOr {
		if m.Plugin == "" {
			// {} stands for the account's main method.
			a.Auth = append(a.Auth, main)
		} else {
			a.Auth = append(a.Auth, authMethod{Plugin: m.Plugin, Secret: m.Secret})
		}
	}
	return a, nil
}

// accountState is what reconcileAccounts reads from a server.
type accountState struct {
	Accounts []account
	Masters  map[string]bool   // user@host of the accounts marked master (EXECUTE on teal_create_user)
	Routines map[string]string // teal's procedures in mysql: name -> comment
}

// masterProcedures are the procedures teal gives the master, by name: its
// own for accounts, and RDS's for replication, since STOP SLAVE needs
// REPLICATION SLAVE ADMIN, which also allows CHANGE MASTER TO: a replica
// pointed at a server the master runs would apply, with every privilege,
// whatever that server logs.
var masterProcedures = []string{"teal_create_user", "teal_drop_user", "teal_set_password",
	"rds_stop_replication", "rds_start_replication"}

// markProcedure marks the master: only teal grants EXECUTE on it.
const markProcedure = "teal_create_user"

// procedureSQL is the CREATE statement of one of teal's procedures, and
// the comment that versions it. They run as teal's admin. The account
// procedures run CREATE USER, DROP USER and ALTER USER for any account but
// teal's and the caller's own, and none without a password. The password
// reaches the statement (and the binary log) as its mysql_native_password
// hash, computed here rather than with PASSWORD(), which follows the
// caller's old_passwords.
func procedureSQL(name, admin string) (stmt, comment string) {
	head := "CREATE OR REPLACE DEFINER=" + quote(admin) + "@'localhost' PROCEDURE mysql." + name
	var tail string
	switch name {
	case "rds_stop_replication":
		head, tail = head+"()", "\nBEGIN\n\tSTOP SLAVE;\nEND"
	case "rds_start_replication":
		head, tail = head+"()", "\nBEGIN\n\tSTART SLAVE;\nEND"
	default:
		params, body := accountProcedure(name, admin)
		head, tail = head+"("+params+")", "\nBEGIN\n\t"+body+"\nEND"
	}
	head += "\nMODIFIES SQL DATA SQL SECURITY DEFINER"
	sum := sha256.Sum256([]byte(head + tail))
	comment = "teal " + hex.EncodeToString(sum[:8])
	return head + " COMMENT " + quote(comment) + tail, comment
}

// accountProcedure is the parameter list and body of an account procedure.
func accountProcedure(name, admin string) (params, body string) {
	reserved := strings.Join([]string{quote(admin), quote(replUser), "'mariadb.sys'", "'PUBLIC'"}, ", ")
	account := `QUOTE(user_name), '@', QUOTE(host_name)`
	hash := `CONCAT('*', UPPER(SHA1(UNHEX(SHA1(new_password)))))`
	params = "IN user_name VARCHAR(128) CHARACTER SET utf8mb4, IN host_name VARCHAR(255) CHARACTER SET utf8mb4"
	var run string
	switch name {
	case "teal_create_user":
		params += ", IN new_password VARCHAR(1024) CHARACTER SET utf8mb4"
		run = `EXECUTE IMMEDIATE CONCAT('CREATE USER ', ` + account + `, ' IDENTIFIED BY PASSWORD ', QUOTE(` + hash + `));`
	case "teal_drop_user":
		run = `EXECUTE IMMEDIATE CONCAT('DROP USER ', ` + account + `);`
	case "teal_set_password":
		params += ", IN new_password VARCHAR(1024) CHARACTER SET utf8mb4"
		run = `EXECUTE IMMEDIATE CONCAT('ALTER USER ', ` + account + `, ' IDENTIFIED BY PASSWORD ', QUOTE(` + hash + `));`
	}
	checks := `IF user_name IS NULL OR host_name IS NULL OR user_name = '' OR user_name IN (` + reserved + `)
		OR user_name = SUBSTRING(USER(), 1, CHAR_LENGTH(USER()) - CHAR_LENGTH(SUBSTRING_INDEX(USER(), '@', -1)) - 1) THEN
		SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1227,
			MESSAGE_TEXT = 'Access denied: that account is teal''s own, or yours';
	END IF;`
	if name == "teal_create_user" {
		// The protective rows cover these hosts only; an account of a more
		// specific host would sort before them (clients reach the server
		// from other hosts' own addresses through the kernel's forwarding).
		checks += `
	IF host_name NOT IN (` + strings.Join(quoteAll(clientHosts), ", ") + `) THEN
		SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1227,
			MESSAGE_TEXT = 'Access denied: an account''s host must be ''%'' (or 127.0.0.1, ::1, localhost)';
	END IF;`
	}
	if strings.Contains(params, "new_password") {
		checks += `
	IF new_password IS NULL OR new_password = '' THEN
		SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1227, MESSAGE_TEXT = 'Every account needs a password';
	END IF;`
	}
	return params, checks + "\n\t" + run
}

// planAccounts says what brings a server from st to teal's accounts and
// privileges, in an order that a crash can interrupt anywhere: the next
// start plans again from what it finds.
func planAccounts(st accountState, admin string) []string {
	var stmts []string
	adminAcct := quote(admin) + "@'localhost'"

	// teal's admin first: the procedures run as it.
	var adm *account
	for i, a := range st.Accounts {
		if !a.Role && a.User == admin && a.Host == "localhost" {
			adm = &st.Accounts[i]
		}
	}
	switch {
	case adm == nil:
		stmts = append(stmts, "CREATE USER "+adminAcct+" IDENTIFIED VIA unix_socket")
	case !adm.socketOnly():
		stmts = append(stmts, "ALTER USER "+adminAcct+" IDENTIFIED VIA unix_socket")
	}
	if adm == nil || adm.Access&allPrivs != allPrivs || adm.Access&privGrant == 0 {
		stmts = append(stmts, "GRANT ALL PRIVILEGES ON *.* TO "+adminAcct+" WITH GRANT OPTION")
	}
	for _, name := range masterProcedures {
		if stmt, comment := procedureSQL(name, admin); st.Routines[name] != comment {
			stmts = append(stmts, stmt)
		}
	}

	// Who is master: the accounts teal marked, and an older teal's master.
	// The mark comes first, so that a crash after it still finds it. An
	// account without a password is none (an older teal's root).
	isAdmin := func(a account) bool { return !a.Role && a.User == admin && a.Host == "localhost" }
	var masters []account
	var masterNames, roles []string
	for _, a := range st.Accounts {
		switch {
		case a.Role:
			roles = append(roles, a.User)
		case isAdmin(a) || a.ignored() || a.passwordless():
		case st.Masters[a.key()] || a.Access&legacyMaster == legacyMaster:
			masters = append(masters, a)
			masterNames = append(masterNames, a.User)
		}
	}
	for _, m := range masters {
		for _, p := range masterProcedures {
			stmts = append(stmts, "GRANT EXECUTE ON PROCEDURE mysql."+p+" TO "+m.name())
		}
	}

	// The grant tables, written directly: the rows on the protected
	// schemas, and no other grant there but teal's admin's and the
	// mysql.user view's owner's. No proxy grants either.
	rows := protectedRows(dedupe(masterNames), roles)
	stmts = append(stmts, upsertRows(rows))
	keep := "NOT (User = " + quote(admin) + " AND Host = 'localhost')"
	inProtected := "Db IN (" + schemaList() + ")"
	stmts = append(stmts,
		"DELETE FROM mysql.db WHERE "+inProtected+" AND "+keep+" AND (Host, Db, User) NOT IN ("+rowKeys(rows)+")",
		"DELETE FROM mysql.tables_priv WHERE "+inProtected+" AND "+keep+" AND NOT (User = 'mariadb.sys' AND Host = 'localhost')",
		"DELETE FROM mysql.columns_priv WHERE "+inProtected+" AND "+keep,
		"DELETE FROM mysql.procs_priv WHERE "+inProtected+" AND "+keep+masterProcs(masters),
		"DELETE FROM mysql.proxies_priv",
		"FLUSH PRIVILEGES")

	// Global privileges: the master's exactly; anyone else's, at most the
	// master's, data privileges moving to the pattern `%` (where the
	// protective rows hold), the rest dropped.
	for _, m := range masters {
		if m.Access != masterGlobals {
			stmts = append(stmts, "REVOKE ALL PRIVILEGES ON *.* FROM "+m.name(), "REVOKE GRANT OPTION ON *.* FROM "+m.name(),
				"GRANT "+grantList(masterGlobals)+" ON *.* TO "+m.name())
		}
		stmts = append(stmts, "GRANT ALL PRIVILEGES ON `%`.* TO "+m.name()+" WITH GRANT OPTION")
	}
	isMaster := map[string]bool{}
	for _, m := range masters {
		isMaster[m.key()] = true
	}
	for _, a := range st.Accounts {
		switch {
		case isMaster[a.key()] || isAdmin(a) || a.ignored() || (a.Role && a.User == "PUBLIC"):
			continue
		case a.passwordless() && !a.Locked && a.User == legacyAdmin:
			continue // dropped below
		case a.Access&^masterGlobals == 0:
			continue
		}
		stmts = append(stmts, "REVOKE ALL PRIVILEGES ON *.* FROM "+a.name(), "REVOKE GRANT OPTION ON *.* FROM "+a.name())
		if kept := a.Access & masterGlobals; kept != 0 {
			stmts = append(stmts, "GRANT "+grantList(kept)+" ON *.* TO "+a.name())
		}
		if moved := a.Access & dataPrivs; moved != 0 {
			q := "GRANT " + grantList(moved) + " ON `%`.* TO " + a.name()
			if a.Access&privGrant != 0 {
				q += " WITH GRANT OPTION"
			}
			stmts = append(stmts, q)
		}
	}

	// No account logs in without a password: an older teal's root
	// accounts go, anyone else's is locked. Last, since teal may be
	// connected as one of them.
	for _, a := range st.Accounts {
		switch {
		case a.Role || a.Locked || isAdmin(a) || !a.passwordless():
		case a.User == legacyAdmin:
			stmts = append(stmts, "DROP USER "+a.name())
		case !a.ignored():
			stmts = append(stmts, "ALTER USER "+a.name()+" ACCOUNT LOCK")
		}
	}
	return stmts
}

func schemaList() string {
	var names []string
	for _, s := range protectedSchemas {
		names = append(names, quote(s.db))
	}
	return strings.Join(names, ", ")
}

// masterProcs keeps the masters' EXECUTE on teal's procedures out of a
// DELETE FROM mysql.procs_priv.
func masterProcs(masters []account) string {
	if len(masters) == 0 {
		return ""
	}
	var keys, procs []string
	for _, m := range masters {
		keys = append(keys, "("+quote(m.User)+", "+quote(m.Host)+")")
	}
	for _, p := range masterProcedures {
		procs = append(procs, quote(p))
	}
	return " AND NOT (Db = 'mysql' AND Routine_name IN (" + strings.Join(procs, ", ") + ") AND (User, Host) IN (" + strings.Join(keys, ", ") + "))"
}

func upsertRows(rows []dbRow) string {
	var b strings.Builder
	b.WriteString("INSERT INTO mysql.db (Host, Db, User, " + strings.Join(dbPrivColumns, ", ") + ") VALUES ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + quote(r.Host) + ", " + quote(r.Db) + ", " + quote(r.User))
		for _, c := range dbPrivColumns {
			v := "'N'"
			for _, g := range r.Granted {
				if g == c {
					v = "'Y'"
				}
			}
			b.WriteString(", " + v)
		}
		b.WriteString(")")
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	for i, c := range dbPrivColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = VALUES(" + c + ")")
	}
	return b.String()
}

func rowKeys(rows []dbRow) string {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = "(" + quote(r.Host) + ", " + quote(r.Db) + ", " + quote(r.User) + ")"
	}
	return strings.Join(keys, ", ")
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// readAccounts reads what planAccounts needs.
func readAccounts(ctx context.Context, conn *sql.Conn) (accountState, error) {
	st := accountState{Masters: map[string]bool{}, Routines: map[string]string{}}
	rows, err := conn.QueryContext(ctx, "SELECT User, Host, Priv FROM mysql.global_priv")
	if err != nil {
		return st, fmt.Errorf("read accounts: %w", err)
	}
	for rows.Next() {
		var u, h string
		var priv []byte
		if err := rows.Scan(&u, &h, &priv); err != nil {
			rows.Close()
			return st, fmt.Errorf("read accounts: %w", err)
		}
		a, err := parseAccount(u, h, priv)
		if err != nil {
			rows.Close()
			return st, err
		}
		st.Accounts = append(st.Accounts, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read accounts: %w", err)
	}
	rows, err = conn.QueryContext(ctx, `SELECT User, Host FROM mysql.procs_priv
		WHERE Db = 'mysql' AND Routine_name = ? AND Routine_type = 'PROCEDURE' AND FIND_IN_SET('Execute', Proc_priv)`, markProcedure)
	if err != nil {
		return st, fmt.Errorf("read the master's mark: %w", err)
	}
	for rows.Next() {
		var u, h string
		if err := rows.Scan(&u, &h); err != nil {
			rows.Close()
			return st, fmt.Errorf("read the master's mark: %w", err)
		}
		st.Masters[u+"@"+h] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read the master's mark: %w", err)
	}
	rows, err = conn.QueryContext(ctx, `SELECT ROUTINE_NAME, ROUTINE_COMMENT FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_TYPE = 'PROCEDURE'`)
	if err != nil {
		return st, fmt.Errorf("read teal's procedures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, comment string
		if err := rows.Scan(&name, &comment); err != nil {
			return st, fmt.Errorf("read teal's procedures: %w", err)
		}
		st.Routines[name] = comment
	}
	return st, rows.Err()
}

// reconcileAccounts brings a running server to teal's accounts and
// privileges. It binary-logs nothing: every server runs it at its own
// start, and a replica or a green environment must not gain transactions
// of its own.
func (e *Engine) reconcileAccounts(ctx context.Context, db *sql.DB) error {
	admin, err := adminName()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("secure accounts: %w", err)
	}
	defer conn.Close()
	// A known sql_mode: quote() escapes with backslashes, and the
	// procedures keep the mode they are created in.
	for _, q := range []string{"SET SESSION sql_log_bin = 0",
		"SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("secure accounts: %w", err)
		}
	}
	st, err := readAccounts(ctx, conn)
	if err != nil {
		return err
	}
	for _, q := range planAccounts(st, admin) {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("secure accounts: %s: %w", firstLine(q), err)
		}
	}
	return nil
}

func firstLine(q string) string {
	q, _, _ = strings.Cut(q, "\n")
	if len(q) > 120 {
		q = q[:120] + "…"
	}
	return q
}

// secureAccounts runs reconcileAccounts on the server of l.
func (e *Engine) secureAccounts(ctx context.Context, l engine.Layout) error {
	db, err := connectAdmin(ctx, l)
	if err != nil {
		return err
	}
	defer db.Close()
	return e.reconcileAccounts(ctx, db)
}

// connectAdmin opens teal's admin connection and checks it, falling back,
// on a server an older teal created, to its root without a password, which
// reconcileAccounts then removes.
func connectAdmin(ctx context.Context, l engine.Layout) (*sql.DB, error) {
	db, err := Connect(l)
	if err != nil {
		return nil, err
	}
	err = db.PingContext(ctx)
	if err == nil {
		return db, nil
	}
	db.Close()
	var me *mysql.MySQLError
	// 1045, 1698: access denied.
	if !errors.As(err, &me) || (me.Number != 1045 && me.Number != 1698) {
		return nil, err
	}
	legacy, lerr := connectAs(l, legacyAdmin)
	if lerr != nil {
		return nil, err
	}
	if lerr := legacy.PingContext(ctx); lerr != nil {
		legacy.Close()
		return nil, err
	}
	return legacy, nil
}
