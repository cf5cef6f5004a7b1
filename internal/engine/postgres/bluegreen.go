package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// Preflight inspects db on blue for what logical replication cannot carry
// (see bluegreen.Classify for what each finding means).
func Preflight(ctx context.Context, blue engine.Layout, db string) ([]bluegreen.Finding, error) {
	c, err := session(ctx, blue, db)
	if err != nil {
		return nil, err
	}
	defer done(c)
	checks := []struct {
		kind string
		q    string
	}{
		{bluegreen.FindNoPrimaryKey, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '` + tealSchema + `')
			  AND NOT c.relispartition
			  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
			      SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')))`},
		{bluegreen.FindUnlogged, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u'`},
		{bluegreen.FindLargeObjects, `SELECT 'pg_largeobject' FROM pg_largeobject_metadata LIMIT 1`},
		{bluegreen.FindMaterializedView, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm'`},
		{bluegreen.FindExtension, `SELECT extname FROM pg_extension
			WHERE extname IN ('pg_partman', 'pg_cron', 'pglogical', 'pg_active', 'pgactive')`},
		{bluegreen.FindReplicaTrigger, `SELECT format('%I on %I.%I', t.tgname, n.nspname, c.relname) FROM pg_trigger t
			JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE NOT t.tgisinternal AND t.tgenabled IN ('R', 'A')`},
		{bluegreen.FindLogicalPublisher, `SELECT pubname FROM pg_publication WHERE pubname NOT LIKE 'teal\_%'`},
		{bluegreen.FindLogicalSubscriber, `SELECT subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
			WHERE d.datname = current_database() AND subname NOT LIKE 'teal\_%'`},
	}
	var out []bluegreen.Finding
	for _, ch := range checks {
		rows, err := c.Query(ctx, ch.q)
		if err != nil {
			return nil, fmt.Errorf("preflight %s in %s: %w", ch.kind, db, err)
		}
		objs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("preflight %s in %s: %w", ch.kind, db, err)
		}
		for _, o := range objs {
			out = append(out, bluegreen.Finding{Kind: ch.kind, Database: db, Object: o})
		}
	}
	code, err := userCode(ctx, c, db)
	if err != nil {
		return nil, err
	}
	return append(out, code...), nil
}

// userFunctions are the functions the master user may have written: not
// PostgreSQL's own, owned by a role that is not a superuser, and in a
// trusted language (only a superuser creates C, internal or untrusted
// functions). Being part of an extension says nothing: the master owns the
// trusted extensions it creates, and may add its own functions to them.
const userFunctions = `SELECT p.oid, format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)) AS name,
		l.lanname = 'sql' AS sql
	FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND l.lanpltrusted
	  AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = p.proowner)`

// applyTrees are the stored expressions that applying a row evaluates: of
// check constraints (of tables and of domains), indexes, generated
// columns and partition keys, outside PostgreSQL's own schemas.
const applyTrees = `SELECT format('check constraint %I on table %s', c.conname, c.conrelid::regclass), c.conbin::text
	FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
	WHERE c.contype = 'c' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	  AND c.conrelid <> 0
UNION ALL
SELECT format('check constraint %I on domain %s', c.conname, c.contypid::regtype), c.conbin::text
	FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
	WHERE c.contype = 'c' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	  AND c.contypid <> 0
UNION ALL
SELECT format('index %s', i.indexrelid::regclass), concat(i.indexprs::text, ' ', i.indpred::text)
	FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
	WHERE (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
UNION ALL
SELECT format('generated column %s.%I', ad.adrelid::regclass, a.attname), ad.adbin::text
	FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
	WHERE a.attgenerated <> ''
UNION ALL
SELECT format('the partition key of table %s', pt.partrelid::regclass), pt.partexprs::text
	FROM pg_partitioned_table pt WHERE pt.partexprs IS NOT NULL`

// unsafeBuiltins are PostgreSQL's own functions that, evaluated as a
// superuser, would let the master act as one: those PUBLIC may not
// execute (they read files, signal servers, …), the volatile ones but for
// a few harmless ones, and the stable ones that run a query given as text
// or a table's rows (…_to_xml) or look up the master's casts (the JSON
// builders). $1 are the functions called, $2 the operators; each unsafe
// one comes as what was called (an operator or not, its OID) and the
// function's name.
const unsafeBuiltins = `SELECT c.op, c.called, format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))
	FROM (SELECT false AS op, f AS called, f AS fn FROM unnest($1::oid[]) f
		UNION SELECT true, o.oid, o.oprcode::oid FROM pg_operator o WHERE o.oid = ANY ($2)) c
	JOIN pg_proc p ON p.oid = c.fn JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = p.proowner)
	  AND (NOT EXISTS (SELECT 1 FROM aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a
	          WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
	    OR (p.provolatile = 'v' AND p.proname NOT IN ('random', 'clock_timestamp', 'timeofday', 'gen_random_uuid'))
	    OR (p.provolatile = 's' AND (p.proname ~ '(_to_xml|xmlschema)' OR p.proname IN ('to_json', 'to_jsonb',
	        'row_to_json', 'array_to_json', 'json_build_array', 'json_build_object', 'jsonb_build_array',
	        'jsonb_build_object', 'json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg'))))`

// applyCode lists the user functions that applying a row evaluates: those
// that indexes, partition keys, constraints (of tables and of domains) and
// generated columns call, directly, through an operator, through an index's
// operator class, or as the subtype_diff of a range a GiST index holds.
const applyCode = `WITH userfn AS (` + userFunctions + `),
calls(classid, objid, objsubid, fn) AS (
	SELECT d.classid, d.objid, d.objsubid, d.refobjid FROM pg_depend d WHERE d.refclassid = 'pg_proc'::regclass
	UNION SELECT d.classid, d.objid, d.objsubid, o.oprcode::oid FROM pg_depend d JOIN pg_operator o ON o.oid = d.refobjid
		WHERE d.refclassid = 'pg_operator'::regclass
	UNION SELECT d.classid, d.objid, d.objsubid, ap.amproc::oid FROM pg_depend d JOIN pg_opclass oc ON oc.oid = d.refobjid
		JOIN pg_amproc ap ON ap.amprocfamily = oc.opcfamily WHERE d.refclassid = 'pg_opclass'::regclass
	UNION SELECT d.classid, d.objid, d.objsubid, o.oprcode::oid FROM pg_depend d JOIN pg_opclass oc ON oc.oid = d.refobjid
		JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily JOIN pg_operator o ON o.oid = ao.amopopr
		WHERE d.refclassid = 'pg_opclass'::regclass
	UNION SELECT 'pg_class'::regclass, i.indexrelid, 0, r.rngsubdiff::oid FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'gist'
		JOIN pg_attribute a ON a.attrelid IN (i.indrelid, i.indexrelid)
			AND (a.attrelid = i.indexrelid OR a.attnum = ANY (i.indkey))
		JOIN pg_range r ON a.atttypid IN (r.rngtypid, r.rngmultitypid)
)
SELECT DISTINCT format('%s in %s', f.name, CASE
		WHEN c.classid = 'pg_attrdef'::regclass THEN 'generated column ' || substr(o.identity, 5)
		WHEN o.type = 'table column' THEN 'generated column ' || o.identity
		WHEN o.type = 'table' THEN 'the partition key of table ' || o.identity
		ELSE o.type || ' ' || o.identity END)
FROM calls c JOIN userfn f ON f.oid = c.fn, pg_identify_object(c.classid, c.objid, c.objsubid) o
WHERE (c.classid = 'pg_class'::regclass AND c.objsubid = 0 AND EXISTS (SELECT 1 FROM pg_class r
		WHERE r.oid = c.objid AND r.relkind IN ('i', 'I', 'p')))
	-- up to 14 a generated column depends on its functions itself
	OR (c.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_attribute a
		WHERE a.attrelid = c.objid AND a.attnum = c.objsubid AND c.objsubid > 0 AND a.attgenerated <> ''))
	OR c.classid = 'pg_constraint'::regclass
	OR (c.classid = 'pg_attrdef'::regclass AND EXISTS (SELECT 1 FROM pg_attrdef ad
		JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
		WHERE ad.oid = c.objid AND a.attgenerated <> ''))
ORDER BY 1`

// foldedTrees are the stored expressions that PostgreSQL simplifies, calling
// every function whose arguments are constant, while a superuser acts:
//   - "copy": creating green's schema (pg_dump's script, run as superuser)
//     simplifies generated columns and partition keys as it creates them,
//     and the indexes of partitioned tables as it attaches them;
//   - "identity": from PostgreSQL 16 on the apply worker runs as each
//     table's owner, but it simplifies the indexes of a table replicated
//     with REPLICA IDENTITY FULL (as teal replicates a table without a
//     primary key) before it switches, looking for one to find rows by.
const foldedTrees = `SELECT 'copy', format('generated column %I.%I.%I', n.nspname, t.relname, a.attname), ad.adbin::text
	FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
	JOIN pg_class t ON t.oid = ad.adrelid JOIN pg_namespace n ON n.oid = t.relnamespace
	WHERE a.attgenerated <> ''
UNION ALL
SELECT 'copy', format('the partition key of table %I.%I', n.nspname, t.relname), pt.partexprs::text
	FROM pg_partitioned_table pt JOIN pg_class t ON t.oid = pt.partrelid JOIN pg_namespace n ON n.oid = t.relnamespace
	WHERE pt.partexprs IS NOT NULL
UNION ALL
SELECT CASE WHEN ic.relkind = 'I' OR ic.relispartition THEN 'copy' ELSE 'identity' END,
	format('index %I.%I', n.nspname, ic.relname), concat(i.indexprs::text, ' ', i.indpred::text)
	FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
	JOIN pg_class t ON t.oid = i.indrelid
	WHERE (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)
	  AND (ic.relkind = 'I' OR ic.relispartition OR t.relreplident = 'f' OR (t.relreplident IN ('d', 'n')
	      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = t.oid AND k.contype = 'p')))`

// userCode finds the master user's functions that green would run as
// superuser (see bluegreen.Classify for which green versions do).
func userCode(ctx context.Context, c *pgx.Conn, db string) ([]bluegreen.Finding, error) {
	rows, err := c.Query(ctx, applyCode)
	if err != nil {
		return nil, fmt.Errorf("preflight %s in %s: %w", bluegreen.FindApplyRunsUserCode, db, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("preflight %s in %s: %w", bluegreen.FindApplyRunsUserCode, db, err)
	}
	var out []bluegreen.Finding
	for _, o := range applied {
		out = append(out, bluegreen.Finding{Kind: bluegreen.FindApplyRunsUserCode, Database: db, Object: o})
	}
	builtins, err := unsafeBuiltinCalls(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("preflight %s in %s: %w", bluegreen.FindApplyRunsBuiltin, db, err)
	}
	for _, o := range builtins {
		out = append(out, bluegreen.Finding{Kind: bluegreen.FindApplyRunsBuiltin, Database: db, Object: o})
	}

	type tree struct{ when, what, expr string }
	rows, err = c.Query(ctx, foldedTrees)
	if err != nil {
		return nil, fmt.Errorf("preflight folded expressions in %s: %w", db, err)
	}
	trees, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tree, error) {
		var t tree
		err := r.Scan(&t.when, &t.what, &t.expr)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("preflight folded expressions in %s: %w", db, err)
	}
	var calls []nodeCall
	for _, t := range trees {
		calls = append(calls, nodeCalls(t.expr)...)
	}
	funcs, ops := splitCalls(calls)
	if len(funcs)+len(ops) == 0 {
		return out, nil
	}
	// An operator calls its function; resolve both to user functions.
	opCode := map[uint32]uint32{}
	rows, err = c.Query(ctx, `SELECT oid, oprcode::oid FROM pg_operator WHERE oid = ANY ($1)`, ops)
	if err != nil {
		return nil, fmt.Errorf("preflight operators in %s: %w", db, err)
	}
	var op, fn uint32
	if _, err := pgx.ForEachRow(rows, []any{&op, &fn}, func() error {
		opCode[op] = fn
		funcs = append(funcs, fn)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("preflight operators in %s: %w", db, err)
	}
	type userFunc struct {
		name string
		sql  bool
	}
	user := map[uint32]userFunc{}
	rows, err = c.Query(ctx, userFunctions+` AND p.oid = ANY ($1)`, funcs)
	if err != nil {
		return nil, fmt.Errorf("preflight user functions in %s: %w", db, err)
	}
	var uf userFunc
	if _, err := pgx.ForEachRow(rows, []any{&fn, &uf.name, &uf.sql}, func() error {
		user[fn] = uf
		return nil
	}); err != nil {
		return nil, fmt.Errorf("preflight user functions in %s: %w", db, err)
	}

	seen := map[string]bool{}
	for _, t := range trees {
		kind := bluegreen.FindCopyRunsUserCode
		if t.when == "identity" {
			kind = bluegreen.FindIdentityRunsUserCode
		}
		for _, call := range nodeCalls(t.expr) {
			oid := call.oid
			if call.op {
				oid = opCode[oid]
			}
			f, ok := user[oid]
			var obj string
			switch {
			case !ok:
				continue
			case call.constant:
				obj = fmt.Sprintf("%s called with constant arguments in %s", f.name, t.what)
			case f.sql:
				// PostgreSQL inlines a simple SQL function and simplifies
				// its body: what it calls with constants runs too.
				obj = fmt.Sprintf("%s, a SQL function PostgreSQL may inline, in %s", f.name, t.what)
			default:
				continue
			}
			if !seen[kind+obj] {
				seen[kind+obj] = true
				out = append(out, bluegreen.Finding{Kind: kind, Database: db, Object: obj})
			}
		}
	}
	return out, nil
}

// refuseUserCode fails if the catalog c reads holds what a green of
// targetMajor would run as superuser (bluegreen.Classify), among the
// findings of the given kinds (all of them if none is given). The preflight
// read blue when the deployment was created; the master may have changed
// the schema since, so a build checks again what it actually copies: the
// snapshot of blue a schema is dumped in, a clone about to be upgraded,
// green's own catalog before its subscription starts.
func refuseUserCode(ctx context.Context, c *pgx.Conn, db, targetMajor string, kinds ...string) error {
	fs, err := userCode(ctx, c, db)
	if err != nil {
		return err
	}
	if len(kinds) > 0 {
		kept := fs[:0]
		for _, f := range fs {
			if slices.Contains(kinds, f.Kind) {
				kept = append(kept, f)
			}
		}
		fs = kept
	}
	if msg := bluegreen.Blocking(bluegreen.Classify(fs, targetMajor)); msg != "" {
		return fmt.Errorf("%w: the schema changed after the deployment was created: %s", engine.ErrUnsupported, msg)
	}
	return nil
}

// unsafeBuiltinCalls lists the calls of unsafeBuiltins in the expressions
// applying a row evaluates, each as "function in where".
func unsafeBuiltinCalls(ctx context.Context, c *pgx.Conn) ([]string, error) {
	type tree struct {
		what  string
		calls []nodeCall
	}
	rows, err := c.Query(ctx, applyTrees)
	if err != nil {
		return nil, err
	}
	trees, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tree, error) {
		var t tree
		var expr string
		err := r.Scan(&t.what, &expr)
		t.calls = nodeCalls(expr)
		return t, err
	})
	if err != nil {
		return nil, err
	}
	var calls []nodeCall
	for _, t := range trees {
		calls = append(calls, t.calls...)
	}
	funcs, ops := splitCalls(calls)
	if len(funcs)+len(ops) == 0 {
		return nil, nil
	}
	// One query for every expression: by what was called, the function
	// run, where it is unsafe.
	type callee struct {
		op  bool
		oid uint32
	}
	unsafe := map[callee]string{}
	rows, err = c.Query(ctx, unsafeBuiltins, funcs, ops)
	if err != nil {
		return nil, err
	}
	var k callee
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&k.op, &k.oid, &name}, func() error {
		unsafe[k] = name
		return nil
	}); err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range trees {
		for _, call := range t.calls {
			if name, ok := unsafe[callee{call.op, call.oid}]; ok && !seen[name+t.what] {
				seen[name+t.what] = true
				out = append(out, name+" in "+t.what)
			}
		}
	}
	return out, nil
}

// splitCalls separates the functions called from the operators.
func splitCalls(calls []nodeCall) (funcs, ops []uint32) {
	for _, call := range calls {
		if call.op {
			ops = append(ops, call.oid)
		} else {
			funcs = append(funcs, call.oid)
		}
	}
	return funcs, ops
}

// nodeCall is a call of a function or an operator in a stored expression.
type nodeCall struct {
	oid      uint32 // pg_proc OID, or pg_operator OID if op
	op       bool
	constant bool // no argument depends on a row: simplifying it calls it
}

// nodeCalls lists the calls in an expression in PostgreSQL's stored form
// (pg_node_tree text), e.g. {FUNCEXPR :funcid 16390 ... :args ({VAR ...}
// {CONST ...}) :location 7}. A call is constant when nothing below it
// stands for a value known only at run time: a column (VAR), a parameter,
// or the value a CASE, array coercion or domain check substitutes.
func nodeCalls(tree string) []nodeCall {
	var out []nodeCall
	for i := 0; i < len(tree); i++ {
		switch tree[i] {
		case '\\':
			i++ // an escaped character is never syntax
			continue
		case '{':
		default:
			continue
		}
		name, rest, _ := strings.Cut(tree[i+1:], " ")
		var field string
		switch name {
		case "FUNCEXPR":
			field = ":funcid "
		case "OPEXPR", "DISTINCTEXPR", "NULLIFEXPR", "SCALARARRAYOPEXPR":
			field = ":opno "
		default:
			continue
		}
		if !strings.HasPrefix(rest, field) {
			continue
		}
		id, _, _ := strings.Cut(rest[len(field):], " ")
		oid, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			continue
		}
		node := tree[i:nodeEnd(tree, i)]
		constant := true
		for _, leaf := range []string{"{VAR ", "{PARAM ", "{CASETESTEXPR ", "{COERCETODOMAINVALUE "} {
			if strings.Contains(node, leaf) {
				constant = false
			}
		}
		out = append(out, nodeCall{oid: uint32(oid), op: name != "FUNCEXPR", constant: constant})
	}
	return out
}

// nodeEnd is the index just past the node that opens at tree[start].
func nodeEnd(tree string, start int) int {
	depth := 0
	for i := start; i < len(tree); i++ {
		switch tree[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(tree)
}

// SetReplicaIdentityFull makes a table without a primary key replicate its
// updates and deletes: with a FOR ALL TABLES publication, PostgreSQL refuses
// them on such a table otherwise.
func SetReplicaIdentityFull(ctx context.Context, blue engine.Layout, db, table string) error {
	c, err := session(ctx, blue, db)
	if err != nil {
		return err
	}
	defer done(c)
	if _, err := c.Exec(ctx, "ALTER TABLE "+table+" REPLICA IDENTITY FULL"); err != nil {
		return fmt.Errorf("set replica identity of %s in %s: %w", table, db, err)
	}
	return nil
}

// SessionActivity reports client write activity on a server.
func SessionActivity(ctx context.Context, l engine.Layout) (engine.Activity, error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return engine.Activity{}, err
	}
	defer done(c)
	var a engine.Activity
	var writeSecs, ddlSecs float64
	err = c.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE backend_xid IS NOT NULL),
		COALESCE(EXTRACT(EPOCH FROM max(now() - xact_start) FILTER (WHERE backend_xid IS NOT NULL)), 0)::float8,
		COALESCE((array_agg(format('pid %s, user %s', pid, usename) ORDER BY xact_start) FILTER (WHERE backend_xid IS NOT NULL))[1], ''),
		COALESCE(EXTRACT(EPOCH FROM max(now() - query_start) FILTER (WHERE state = 'active'
			AND query ~* '^\s*(ALTER|CREATE|DROP|TRUNCATE|REINDEX|CLUSTER|VACUUM\s+FULL)')), 0)::float8
		FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1`,
		AdminUser).Scan(&a.ActiveWrites, &writeSecs, &a.LongestWriter, &ddlSecs)
	if err != nil {
		return engine.Activity{}, fmt.Errorf("session activity: %w", err)
	}
	a.LongestWrite = time.Duration(writeSecs * float64(time.Second))
	a.LongestDDL = time.Duration(ddlSecs * float64(time.Second))
	return a, nil
}

// drainPoll is how often DrainSessions looks for sessions that have left
// their transaction. A poll is one cheap query on pg_stat_activity.
const drainPoll = time.Millisecond

// DrainSessions ends client sessions between transactions (see
// engine.Replicator). A session is between transactions when its backend
// is idle: not running a statement and not inside a transaction block.
func DrainSessions(ctx context.Context, l engine.Layout, deadline time.Time, skip []int) (ended, left int, err error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return 0, 0, err
	}
	defer done(c)
	if skip == nil {
		skip = []int{}
	}
	// CASE, unlike AND, guarantees that only idle backends are terminated.
	// A terminated backend may still be listed at the next poll: sessions
	// are counted once, by pid.
	const q = `SELECT array_remove(array_agg(CASE WHEN state = 'idle' THEN CASE WHEN pg_terminate_backend(pid) THEN pid END END), NULL),
			count(*) FILTER (WHERE state IS DISTINCT FROM 'idle')
		FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1
			AND NOT coalesce(client_port = ANY($2), false)`
	terminated := map[int32]bool{}
	for {
		var pids []int32
		if err := c.QueryRow(ctx, q, AdminUser, skip).Scan(&pids, &left); err != nil {
			return len(terminated), left, fmt.Errorf("drain sessions: %w", err)
		}
		for _, p := range pids {
			terminated[p] = true
		}
		ended = len(terminated)
		if left == 0 || !time.Now().Before(deadline) {
			return ended, left, nil
		}
		select {
		case <-ctx.Done():
			return ended, left, ctx.Err()
		case <-time.After(drainPoll):
		}
	}
}

// EndSessions terminates every client session except teal's own, rolling
// back their open transactions. It returns how many it ended.
func EndSessions(ctx context.Context, l engine.Layout) (int, error) {
	c, err := session(ctx, l, "postgres")
	if err != nil {
		return 0, err
	}
	defer done(c)
	var n int
	err = c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1`, AdminUser).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	// Terminated backends take a moment to exit; wait so none commits later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> $1`, AdminUser).Scan(&left); err != nil {
			return n, fmt.Errorf("end sessions: %w", err)
		}
		if left == 0 {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("end sessions: %d sessions still running", left)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// WriteMarker commits a new heartbeat in db on blue, even when blue is
// read-only, and returns it. Once green has applied the marker, it has
// applied every transaction blue committed before it.
func WriteMarker(ctx context.Context, blue engine.Layout, db string) (float64, error) {
	c, err := session(ctx, blue, db)
	if err != nil {
		return 0, err
	}
	defer done(c)
	var at float64
	if _, err := c.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		return 0, fmt.Errorf("marker in %s: %w", db, err)
	}
	err = c.QueryRow(ctx, `UPDATE `+tealSchema+`.heartbeat SET at = clock_timestamp() WHERE id = 1
		RETURNING EXTRACT(EPOCH FROM at)::float8`).Scan(&at)
	if err != nil {
		return 0, fmt.Errorf("marker in %s: %w", db, err)
	}
	return at, nil
}

// analyzedTables are the tables and materialized views of a database that
// ANALYZE gathers statistics of, the largest first.
const analyzedTables = `SELECT format('%I.%I', n.nspname, t.relname) FROM pg_class t
	JOIN pg_namespace n ON n.oid = t.relnamespace
	WHERE t.relkind IN ('r', 'm', 'p') AND t.relpersistence <> 't'
	  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
	  AND ($1 OR ` + missingStatistics + `)
	ORDER BY pg_relation_size(t.oid) DESC`

// missingStatistics is true for a table t of analyzedTables that lacks
// statistics of a column, of an expression index's column, or of an
// extended statistics object.
const missingStatistics = `(EXISTS (SELECT 1 FROM pg_attribute a
	    WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget IS DISTINCT FROM 0
	      AND NOT EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = t.oid AND s.staattnum = a.attnum)
	  ) OR EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indexrelid
	    WHERE i.indrelid = t.oid AND i.indexprs IS NOT NULL AND a.attnum > 0 AND i.indkey[a.attnum - 1] = 0
	      AND NOT EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = a.attrelid AND s.staattnum = a.attnum)
	  ) OR EXISTS (SELECT 1 FROM pg_statistic_ext x
	    WHERE x.stxrelid = t.oid AND NOT EXISTS (SELECT 1 FROM pg_statistic_ext_data d WHERE d.stxoid = x.oid)))`

// tablesToAnalyze lists what Analyze gathers statistics of in db: every
// table, or with onlyMissing those missingStatistics names.
func tablesToAnalyze(ctx context.Context, l engine.Layout, db string, onlyMissing bool) ([]string, error) {
	c, err := session(ctx, l, db)
	if err != nil {
		return nil, err
	}
	defer done(c)
	rows, err := c.Query(ctx, analyzedTables, !onlyMissing)
	if err != nil {
		return nil, fmt.Errorf("analyze %s: list tables: %w", db, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("analyze %s: list tables: %w", db, err)
	}
	return tables, nil
}

// Analyze collects the statistics of tables in db, several at once,
// counting those done in analyzed. Each ANALYZE runs as the table's owner.
func Analyze(ctx context.Context, l engine.Layout, db string, tables []string, analyzed *atomic.Int64) error {
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(copyWorkers(), len(tables)) {
		g.Go(func() error {
			c, err := Connect(gctx, l, db)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			// Statistics are gathered again after a crash; no ANALYZE
			// need wait for its commit to reach the disk.
			if _, err := c.Exec(gctx, "SET synchronous_commit = off"); err != nil {
				return fmt.Errorf("analyze %s: %w", db, err)
			}
			for i := int(next.Add(1)) - 1; i < len(tables); i = int(next.Add(1)) - 1 {
				if _, err := c.Exec(gctx, "ANALYZE "+tables[i]); err != nil {
					return fmt.Errorf("analyze %s in %s: %w", tables[i], db, err)
				}
				analyzed.Add(1)
			}
			return nil
		})
	}
	return g.Wait()
}
