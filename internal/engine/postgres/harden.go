package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// secure runs at every start of a server: what a primary must hold before
// clients come, whether teal created it just now or an older teal did.
func secure(ctx context.Context, c *pgx.Conn) error {
	var inRecovery bool
	if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		return fmt.Errorf("check recovery: %w", err)
	}
	if inRecovery {
		return nil // a replica has its source's catalog
	}
	if err := ensureReplicationUser(ctx, c); err != nil {
		return err
	}
	return protectServerPowerRoles(ctx, c)
}

// serverPowerRoles are the predefined roles whose members run programs as
// the server's OS user or read and write its files. The master user must
// never hold them.
var serverPowerRoles = []string{"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"}

// protectServerPowerRoles closes an escalation PostgreSQL 14 and 15 allow:
// there a role with CREATEROLE, as the master user has, may grant itself
// membership in any role that is not a superuser, these included. Marking
// the three roles rolsuper makes granting them a superuser's act ("must be
// superuser to alter superusers"), while it gives their members nothing:
// superuser is an attribute of the role that logs in, never inherited. The
// roles cannot log in, so no session runs as them. From 16 on a CREATEROLE
// role grants only roles it has ADMIN OPTION on, and nothing is changed.
func protectServerPowerRoles(ctx context.Context, c *pgx.Conn) error {
	var num string
	if err := c.QueryRow(ctx, "SHOW server_version_num").Scan(&num); err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	v, err := strconv.Atoi(num)
	if err != nil {
		return fmt.Errorf("server version %q: %w", num, err)
	}
	if v >= 160000 {
		return nil
	}
	// Members who hold a role already (granted before this protection
	// existed) lose it, except teal's own admin.
	if _, err := c.Exec(ctx, `UPDATE pg_catalog.pg_authid SET rolsuper = true
		WHERE rolname = ANY($1) AND NOT rolsuper`, serverPowerRoles); err != nil {
		return fmt.Errorf("protect predefined roles: %w", err)
	}
	rows, err := c.Query(ctx, `SELECT r.rolname, m.rolname FROM pg_catalog.pg_auth_members am
		JOIN pg_catalog.pg_roles r ON r.oid = am.roleid JOIN pg_catalog.pg_roles m ON m.oid = am.member
		WHERE r.rolname = ANY($1) AND m.rolname <> $2`, serverPowerRoles, AdminUser)
	if err != nil {
		return fmt.Errorf("list members of predefined roles: %w", err)
	}
	var revokes []string
	for rows.Next() {
		var role, member string
		if err := rows.Scan(&role, &member); err != nil {
			rows.Close()
			return fmt.Errorf("list members of predefined roles: %w", err)
		}
		revokes = append(revokes, fmt.Sprintf("REVOKE %s FROM %s",
			pgx.Identifier{role}.Sanitize(), pgx.Identifier{member}.Sanitize()))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list members of predefined roles: %w", err)
	}
	for _, q := range revokes {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
