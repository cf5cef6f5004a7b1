package bluegreen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Finding kinds: what the preflight of a PostgreSQL blue found.
const (
	FindNoPrimaryKey      = "table-without-primary-key"
	FindUnlogged          = "unlogged-table"
	FindLargeObjects      = "large-objects"
	FindMaterializedView  = "materialized-view"
	FindExtension         = "unsupported-extension"
	FindReplicaTrigger    = "replica-trigger"
	FindLogicalPublisher  = "logical-publisher"
	FindLogicalSubscriber = "logical-subscriber"
	FindNonTransactional  = "non-transactional-table"
	FindEventScheduler    = "event-scheduler"
	// The master user's functions that green would run as superuser.
	FindApplyRunsUserCode    = "apply-runs-user-code"
	FindApplyRunsBuiltin     = "apply-runs-unsafe-builtin"
	FindIdentityRunsUserCode = "identity-index-runs-user-code"
	FindCopyRunsUserCode     = "schema-copy-runs-user-code"
)

// Finding is one preflight observation about blue.
type Finding struct {
	Kind     string
	Database string
	Object   string // table, extension, trigger, publication, …
	Blocking bool
	Message  string
}

// Classify decides which findings block a deployment and says what each
// means for the user. Only what would lose data, break replication or let
// the master user act as superuser blocks:
//   - a table without a primary key replicates once teal sets REPLICA
//     IDENTITY FULL on it, so it is reported, not blocking;
//   - unlogged tables and large objects are not replicated: their data would
//     be missing on green, so they block;
//   - materialized views are copied empty and must be refreshed on green;
//   - pg_partman and pglogical/pg_active change schema or replicate on their
//     own and block; pg_cron is reported (it is kept off on green);
//   - triggers set ENABLE REPLICA or ENABLE ALWAYS would fire twice: block;
//   - a blue that is itself a logical publisher or subscriber: block;
//   - the master user's functions that green would run as superuser block,
//     since the master user must never act as one (see UserCodeRunsAsSuperuser);
//     where green's version runs them as their owner they are not reported.
//
// targetMajor is the major version green runs, e.g. "15".
func Classify(fs []Finding, targetMajor string) []Finding {
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		where := f.Object
		if f.Database != "" {
			where = f.Database + ": " + f.Object
		}
		switch f.Kind {
		case FindNoPrimaryKey:
			f.Blocking = false
			f.Message = fmt.Sprintf("table %s has no primary key: teal replicates it with REPLICA IDENTITY FULL, so updates and deletes on it apply more slowly on green", where)
		case FindUnlogged:
			f.Blocking = true
			f.Message = fmt.Sprintf("table %s is unlogged: unlogged tables are not replicated and their rows would be missing on green; make it logged (ALTER TABLE … SET LOGGED)", where)
		case FindLargeObjects:
			f.Blocking = true
			f.Message = fmt.Sprintf("database %s holds large objects: they are not replicated and would be missing on green", f.Database)
		case FindMaterializedView:
			f.Blocking = false
			f.Message = fmt.Sprintf("materialized view %s is not refreshed by replication: refresh it on green before switchover", where)
		case FindExtension:
			switch f.Object {
			case "pg_cron":
				f.Blocking = false
				f.Message = fmt.Sprintf("extension pg_cron in %s: it stays off on green until switchover", f.Database)
			default:
				f.Blocking = true
				f.Message = fmt.Sprintf("extension %s in %s must be disabled on blue before a blue/green deployment: it changes schema or replicates on its own", f.Object, f.Database)
			}
		case FindReplicaTrigger:
			f.Blocking = true
			f.Message = fmt.Sprintf("trigger %s is ENABLE REPLICA or ENABLE ALWAYS: it would fire again on green and duplicate its effects", where)
		case FindLogicalPublisher:
			f.Blocking = true
			f.Message = fmt.Sprintf("blue is a logical replication publisher (%s): a blue/green source cannot be one", where)
		case FindNonTransactional:
			f.Blocking = true
			f.Message = fmt.Sprintf("table %s is not transactional: it cannot be copied consistently; convert it to InnoDB", where)
		case FindEventScheduler:
			f.Blocking = false
			f.Message = "the event scheduler is on in blue: it stays off in green until switchover"
		case FindLogicalSubscriber:
			f.Blocking = true
			f.Message = fmt.Sprintf("blue is a logical replication subscriber (%s): a blue/green source cannot replicate from elsewhere", where)
		case FindApplyRunsUserCode, FindApplyRunsBuiltin, FindIdentityRunsUserCode, FindCopyRunsUserCode:
			if !UserCodeRunsAsSuperuser(f.Kind, targetMajor) {
				continue
			}
			f.Blocking = true
			f.Message = userCodeMessage(f, targetMajor)
		default:
			f.Blocking = true
			f.Message = fmt.Sprintf("%s: %s", f.Kind, where)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Blocking && !out[j].Blocking })
	return out
}

func userCodeMessage(f Finding, targetMajor string) string {
	fn := f.Object
	if f.Database != "" {
		fn += " (database " + f.Database + ")"
	}
	switch f.Kind {
	case FindApplyRunsUserCode:
		return fmt.Sprintf("function %s would run as superuser on green: PostgreSQL %s applies replicated rows as the subscription's owner, a superuser, "+
			"and evaluates the functions of indexes, constraints, generated columns and partition keys as it does. "+
			"Deploy straight to PostgreSQL 16 or newer, which applies rows as each table's owner, or drop the function or replace it with built-in expressions", fn, targetMajor)
	case FindApplyRunsBuiltin:
		return fmt.Sprintf("function %s would run as superuser on green: PostgreSQL %s applies replicated rows as the subscription's owner, a superuser, "+
			"and this function runs a query given to it, reads a table's rows, looks up the master user's casts, or needs a privilege the master user lacks. "+
			"Deploy straight to PostgreSQL 16 or newer, which applies rows as each table's owner, or take the function out of the expression", fn, targetMajor)
	case FindIdentityRunsUserCode:
		return fmt.Sprintf("function %s would run as superuser on green: the table replicates with REPLICA IDENTITY FULL, and PostgreSQL %s "+
			"simplifies the expressions of its indexes as the subscription's owner, a superuser, calling the functions they call with constant arguments. "+
			"Give the table a primary key, deploy to PostgreSQL 18 or newer, or take the function out of the index", fn, targetMajor)
	default:
		return fmt.Sprintf("function %s would run as superuser on green: creating green's schema simplifies generated columns, partition keys "+
			"and the indexes of partitioned tables as a superuser, calling the functions they call with constant arguments and inlining SQL functions. "+
			"Call the function with column arguments only, write it in PL/pgSQL rather than SQL, or take it out of the expression", fn)
	}
}

// UserCodeRunsAsSuperuser reports whether a green running PostgreSQL
// targetMajor runs, as superuser, the master user's functions a finding of
// kind names. Logical replication on green applies rows as the
// subscription's owner, teal's superuser (in 14 and 15 it must be one):
//   - up to 15 the apply evaluates every function of an index, constraint,
//     generated column or partition key as that superuser;
//   - 16 and 17 apply each row as the table's owner, but simplify the index
//     expressions of a REPLICA IDENTITY FULL table as the superuser first,
//     calling their functions with constant arguments;
//   - 18 simplifies them as the table's owner too;
//   - creating green's schema runs pg_dump's script as superuser, and that
//     simplifies generated columns and partition keys on every version.
//
// A version that cannot be read is taken to be the most exposed.
func UserCodeRunsAsSuperuser(kind, targetMajor string) bool {
	major, err := strconv.Atoi(targetMajor)
	if err != nil {
		major = 0
	}
	switch kind {
	case FindApplyRunsUserCode, FindApplyRunsBuiltin:
		return major < 16
	case FindIdentityRunsUserCode:
		// Up to 15, FindApplyRunsUserCode reports the same functions.
		return major >= 16 && major < 18 || major == 0
	case FindCopyRunsUserCode:
		return true
	}
	return false
}

// Blocking summarises the blocking findings in one message, or "" if none.
func Blocking(fs []Finding) string {
	var msgs []string
	for _, f := range fs {
		if f.Blocking {
			msgs = append(msgs, f.Message)
		}
	}
	return strings.Join(msgs, "; ")
}
