package bluegreen

import (
	"fmt"
	"sort"
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
// means for the user. Only what would lose data or break replication blocks:
//   - a table without a primary key replicates once teal sets REPLICA
//     IDENTITY FULL on it, so it is reported, not blocking;
//   - unlogged tables and large objects are not replicated: their data would
//     be missing on green, so they block;
//   - materialized views are copied empty and must be refreshed on green;
//   - pg_partman and pglogical/pg_active change schema or replicate on their
//     own and block; pg_cron is reported (it is kept off on green);
//   - triggers set ENABLE REPLICA or ENABLE ALWAYS would fire twice: block;
//   - a blue that is itself a logical publisher or subscriber: block.
func Classify(fs []Finding) []Finding {
	out := make([]Finding, len(fs))
	for i, f := range fs {
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
		default:
			f.Blocking = true
			f.Message = fmt.Sprintf("%s: %s", f.Kind, where)
		}
		out[i] = f
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Blocking && !out[j].Blocking })
	return out
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
