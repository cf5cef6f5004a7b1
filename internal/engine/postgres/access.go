package postgres

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/engine"
)

// ReplicationUser is the role replicas and green environments follow their
// source as. It may replicate and read every table, and nothing else: a
// server's own processes authenticate as it, so it must never be a
// superuser.
const ReplicationUser = "tealrepl"

// Who may connect, and how. Every line is teal's; the file is rewritten at
// each start, so an instance created by an older teal gets it too.
//
//   - teal's admin sessions come over the private socket and are checked by
//     peer authentication: only a process running as teal's own OS user is
//     tealadmin. A process running as the server's OS user (what a master
//     user would get from any way to run a program) is not.
//   - Replicas and green environments connect to their source's socket as
//     the server's OS user, mapped to tealrepl only.
//   - Everyone else, over the socket or TCP, authenticates by password.
//     teal's roles are refused over TCP whatever their password. With
//     rds.force_ssl, TCP without TLS finds no line and is refused. The
//     server listens on 127.0.0.1 only; a client on another host reaches
//     it through an endpoint's kernel rewrite, with its own address.
const hbaTemplate = `# Managed by teal: rewritten at every start. Do not edit.
local   all             %[1]s                                   peer map=teal
local   replication     %[2]s                                   peer map=servers
local   all             %[2]s                                   peer map=servers
local   replication     all                                     reject
local   all             all                                     scram-sha-256
host    all             %[1]s,%[2]s         all                 reject
host    replication     all                 all                 reject
%[3]s    all             all                 all                 scram-sha-256
`

var osUserRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

// writeAccess writes pg_hba.conf and pg_ident.conf for the OS users teal
// and the servers run as, and opens the socket directory to the server's
// group.
func writeAccess(l engine.Layout, forceSSL bool) error {
	tealUser, err := osUserName(os.Getuid())
	if err != nil {
		return err
	}
	// Followers run as OS users of their own (teal-<id>, or the shared
	// user teal of older versions) when teal runs as root, and as teal's
	// user otherwise. Only the servers given this server's group reach its
	// socket directory.
	followers := tealUser
	if l.Credential != nil {
		followers = `/^teal(-[a-z2-7]{26})?$`
	}
	ident := fmt.Sprintf("# Managed by teal: rewritten at every start. Do not edit.\nteal     %s  %s\nservers  %s  %s\n",
		tealUser, AdminUser, followers, ReplicationUser)
	if err := engine.MkdirOwned(l.SocketDir, 0o750, l.Credential); err != nil {
		return err
	}
	if err := engine.WriteOwned(filepath.Join(l.DataDir, "pg_ident.conf"), []byte(ident), l.Credential); err != nil {
		return err
	}
	tcp := "host   "
	if forceSSL {
		tcp = "hostssl"
	}
	hba := fmt.Sprintf(hbaTemplate, AdminUser, ReplicationUser, tcp)
	return engine.WriteOwned(filepath.Join(l.DataDir, "pg_hba.conf"), []byte(hba), l.Credential)
}

func osUserName(uid int) (string, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return "", fmt.Errorf("name of OS user %d: %w", uid, err)
	}
	if !osUserRE.MatchString(u.Username) {
		return "", fmt.Errorf("OS user name %q cannot be written to pg_ident.conf", u.Username)
	}
	return u.Username, nil
}

// ensureReplicationUser creates tealrepl on a primary (replicas get it from
// their source). It reads every table (BYPASSRLS, so that rows hidden by
// row-level security are copied too) and may replicate; it cannot log in
// over TCP (pg_hba.conf), so its password is never set.
func ensureReplicationUser(ctx context.Context, c *pgx.Conn) error {
	role := pgx.Identifier{ReplicationUser}.Sanitize()
	var super bool
	err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1", ReplicationUser).Scan(&super)
	switch {
	case err == pgx.ErrNoRows:
		if _, err := c.Exec(ctx, "CREATE ROLE "+role+" LOGIN REPLICATION BYPASSRLS"); err != nil {
			return fmt.Errorf("create %s: %w", ReplicationUser, err)
		}
	case err != nil:
		return fmt.Errorf("look up %s: %w", ReplicationUser, err)
	default:
		// Made by an older teal or by someone else: give it exactly its
		// attributes, and no password.
		if _, err := c.Exec(ctx, "ALTER ROLE "+role+" NOSUPERUSER NOCREATEDB NOCREATEROLE LOGIN REPLICATION BYPASSRLS PASSWORD NULL"); err != nil {
			return fmt.Errorf("reset %s: %w", ReplicationUser, err)
		}
	}
	if _, err := c.Exec(ctx, "GRANT pg_read_all_data TO "+role); err != nil {
		return fmt.Errorf("grant %s: %w", ReplicationUser, err)
	}
	return nil
}
