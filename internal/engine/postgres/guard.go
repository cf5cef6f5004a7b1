package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// teal's own objects in a user database run as tealadmin, a superuser,
// whenever teal touches them: the heartbeat on blue is updated by teal's
// sessions, and green's guard fires in every session. An object the master
// user owns (or a schema it owns, whose objects it may drop and replace)
// would let the master run code as superuser, for example with a trigger
// on a heartbeat it created first. So teal uses its objects only when they
// are its own, and refuses the deployment otherwise.

// ownTealSchema creates schema (if missing) and checks that it and every
// object in it belong to tealadmin.
func ownTealSchema(ctx context.Context, c *pgx.Conn, db, schema string) error {
	if _, err := c.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()+" AUTHORIZATION "+AdminUser); err != nil {
		return fmt.Errorf("create schema %s in %s: %w", schema, db, err)
	}
	var foreign string
	err := c.QueryRow(ctx, `SELECT kind || ' ' || name || ' belongs to ' || pg_catalog.pg_get_userbyid(owner) FROM (
			SELECT 'schema' AS kind, n.nspname::text AS name, n.nspowner AS owner FROM pg_catalog.pg_namespace n WHERE n.nspname = $1
			UNION ALL SELECT 'relation', c.relname::text, c.relowner FROM pg_catalog.pg_class c
				JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
			UNION ALL SELECT 'function', p.proname::text, p.proowner FROM pg_catalog.pg_proc p
				JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
			UNION ALL SELECT 'type', t.typname::text, t.typowner FROM pg_catalog.pg_type t
				JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1
		) o WHERE pg_catalog.pg_get_userbyid(owner) <> $2 LIMIT 1`, schema, AdminUser).Scan(&foreign)
	switch {
	case err == pgx.ErrNoRows:
	case err != nil:
		return fmt.Errorf("check schema %s in %s: %w", schema, db, err)
	default:
		return fmt.Errorf("database %s: teal keeps its own objects in schema %s, but %s; rename or drop it", db, schema, foreign)
	}
	// Triggers on teal's tables, whoever made them (a superuser-owned table
	// takes none from anyone else, but teal checks what it relies on).
	var trigger string
	err = c.QueryRow(ctx, `SELECT t.tgname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal LIMIT 1`, schema).Scan(&trigger)
	switch {
	case err == pgx.ErrNoRows:
		return nil
	case err != nil:
		return fmt.Errorf("check schema %s in %s: %w", schema, db, err)
	default:
		return fmt.Errorf("database %s: schema %s holds trigger %s, which teal did not create", db, schema, trigger)
	}
}

// dropTealSchema drops schema with what is in it, but only when teal owns
// it: a schema of that name the master made (and teal refused to use) is
// the master's data and stays. No one else may create in a schema teal
// owns, so what CASCADE takes is teal's.
func dropTealSchema(ctx context.Context, c *pgx.Conn, schema string) error {
	var ours bool
	err := c.QueryRow(ctx, `SELECT pg_catalog.pg_get_userbyid(nspowner) = $2 FROM pg_catalog.pg_namespace WHERE nspname = $1`,
		schema, AdminUser).Scan(&ours)
	switch {
	case err == pgx.ErrNoRows:
		return nil
	case err != nil:
		return err
	case !ours:
		return nil
	}
	_, err = c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// greenGuardSchema holds the event trigger that keeps green's schema as
// blue's while it replicates.
const greenGuardSchema = "teal_green_guard"

// guardGreen refuses, in db on green, every DDL statement of anyone but
// teal while green replicates. Green is read-only only by
// default_transaction_read_only, which a session may turn off; without the
// guard, the master could add an index or a constraint calling its own
// function on green, and the apply (which runs as a superuser before
// PostgreSQL 16) would run it. DropReplication removes the guard with the
// schema.
func guardGreen(ctx context.Context, c *pgx.Conn, db string) error {
	if err := ownTealSchema(ctx, c, db, greenGuardSchema); err != nil {
		return err
	}
	for _, q := range []string{
		`CREATE OR REPLACE FUNCTION ` + greenGuardSchema + `.refuse_ddl() RETURNS event_trigger
			LANGUAGE plpgsql SET search_path = pg_catalog AS $$
		BEGIN
			IF current_user <> '` + AdminUser + `' OR session_user <> '` + AdminUser + `' THEN
				RAISE EXCEPTION 'green is a copy of blue while it replicates: % is refused', tg_tag
					USING ERRCODE = 'read_only_sql_transaction';
			END IF;
		END $$`,
		`DROP EVENT TRIGGER IF EXISTS teal_green_guard`,
		`CREATE EVENT TRIGGER teal_green_guard ON ddl_command_start EXECUTE FUNCTION ` + greenGuardSchema + `.refuse_ddl()`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("guard %s on green: %w", db, err)
		}
	}
	return nil
}
