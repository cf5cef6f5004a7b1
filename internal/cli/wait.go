package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// A waiter polls a describe call until the resources it lists reach a
// state. Its rules are those of the RDS waiter of the same name (botocore's
// waiters-2.json), so scripts written for `aws rds wait` behave the same.
type waiter struct {
	name    string
	summary string
	polls   *subject
	rules   rules
}

var waiters = []waiter{
	{"db-instance-available", "Wait until the DB instances are available.", &dbInstances, untilAvailable},
	{"db-instance-deleted", "Wait until the DB instances are deleted.", &dbInstances, untilDeleted},
	{"db-cluster-available", "Wait until the DB clusters are available.", &dbClusters, untilAvailable},
	{"db-cluster-deleted", "Wait until the DB clusters are deleted.", &dbClusters, untilDeleted},
	{"db-snapshot-available", "Wait until the DB snapshots are available.", &dbSnapshots, untilAvailable},
	{"db-snapshot-deleted", "Wait until the DB snapshots are deleted.", &dbSnapshots, untilDeleted},
}

// rules are a waiter's acceptors. The acceptors of every RDS waiter teal
// has test the statuses of the listed items, in one of two sets:
// untilAvailable's or untilDeleted's.
type rules struct {
	// success when every item has this status (botocore's pathAll, which
	// an empty list does not match).
	allAre string
	// success when no item is listed, or when describing answers with the
	// subject's not-found error. Without it, that error ends the wait in
	// failure, as an error no acceptor expects does in botocore.
	gone bool
	// failure when any item has one of these statuses (pathAny).
	failures []string
	// failNote follows "<id> is <status>" in a failure.
	failNote string
}

var (
	// DBInstanceAvailable and DBClusterAvailable.
	untilAvailable = rules{allAre: "available",
		failures: []string{"deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"}}
	// DBInstanceDeleted and DBClusterDeleted.
	untilDeleted = rules{gone: true,
		failures: []string{"creating", "modifying", "rebooting", "resetting-master-credentials"},
		failNote: ", not being deleted"}
)

// check decides from one poll: done, or failed with a reason.
func (r rules) check(s *subject, items []item, notFound bool) (done bool, failure string) {
	if notFound {
		if r.gone {
			return true, ""
		}
		return false, "no such " + s.kind
	}
	if r.gone && len(items) == 0 {
		return true, ""
	}
	for _, it := range items {
		if slices.Contains(r.failures, it.status) {
			return false, fmt.Sprintf("%s is %s%s", it.id, it.status, r.failNote)
		}
	}
	if r.allAre == "" || len(items) == 0 {
		return false, ""
	}
	for _, it := range items {
		if it.status != r.allAre {
			return false, ""
		}
	}
	return true, ""
}

// A subject is what a waiter polls: a describe call that lists resources
// of one kind, each with an identifier and a status.
type subject struct {
	kind     string // "DB instance"
	notFound string // the error code of describing one that does not exist
	input    func() any
	named    func(in any) string // the identifier the input asks for, or ""
	list     func(ctx context.Context, c *rds.Client, in any) ([]item, error)
}

// item is one listed resource, as waiters see it; percent is how far the
// work on it has come ("42"), when the resource says.
type item struct{ id, status, percent string }

// pager is the SDK's paginator of a describe call.
type pager[Out any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*rds.Options)) (*Out, error)
}

// newSubject makes the subject of a describe call from its SDK input and
// paginator; items reads a page's resources.
func newSubject[In, Out any](kind, describe, notFound string, named func(*In) *string,
	pages func(*rds.Client, *In) pager[Out], items func(*Out) []item) subject {
	return subject{
		kind:     kind,
		notFound: notFound,
		input:    func() any { return new(In) },
		named:    func(in any) string { return str(named(in.(*In))) },
		list: func(ctx context.Context, c *rds.Client, in any) ([]item, error) {
			params := *in.(*In)
			p := pages(c, &params)
			var all []item
			for n := 0; p.HasMorePages(); n++ {
				if n == maxPages {
					return nil, fmt.Errorf("%s: stopped after %d pages", describe, maxPages)
				}
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				all = append(all, items(out)...)
			}
			return all, nil
		},
	}
}

var (
	dbInstances = newSubject("DB instance", "describe-db-instances", "DBInstanceNotFound",
		func(in *rds.DescribeDBInstancesInput) *string { return in.DBInstanceIdentifier },
		func(c *rds.Client, in *rds.DescribeDBInstancesInput) pager[rds.DescribeDBInstancesOutput] {
			return rds.NewDescribeDBInstancesPaginator(c, in)
		},
		func(out *rds.DescribeDBInstancesOutput) []item {
			items := make([]item, len(out.DBInstances))
			for i, d := range out.DBInstances {
				items[i] = item{str(d.DBInstanceIdentifier), str(d.DBInstanceStatus), str(d.PercentProgress)}
			}
			return items
		})
	dbClusters = newSubject("DB cluster", "describe-db-clusters", "DBClusterNotFoundFault",
		func(in *rds.DescribeDBClustersInput) *string { return in.DBClusterIdentifier },
		func(c *rds.Client, in *rds.DescribeDBClustersInput) pager[rds.DescribeDBClustersOutput] {
			return rds.NewDescribeDBClustersPaginator(c, in)
		},
		func(out *rds.DescribeDBClustersOutput) []item {
			items := make([]item, len(out.DBClusters))
			for i, c := range out.DBClusters {
				items[i] = item{id: str(c.DBClusterIdentifier), status: str(c.Status)}
			}
			return items
		})
	dbSnapshots = newSubject("DB snapshot", "describe-db-snapshots", "DBSnapshotNotFound",
		func(in *rds.DescribeDBSnapshotsInput) *string { return in.DBSnapshotIdentifier },
		func(c *rds.Client, in *rds.DescribeDBSnapshotsInput) pager[rds.DescribeDBSnapshotsOutput] {
			return rds.NewDescribeDBSnapshotsPaginator(c, in)
		},
		func(out *rds.DescribeDBSnapshotsOutput) []item {
			items := make([]item, len(out.DBSnapshots))
			for i, s := range out.DBSnapshots {
				items[i] = item{id: str(s.DBSnapshotIdentifier), status: str(s.Status)}
				if s.PercentProgress != nil && str(s.Status) == "creating" {
					items[i].percent = strconv.Itoa(int(*s.PercentProgress))
				}
			}
			return items
		})
)

func runWait(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(stdout, "Usage: teal wait <waiter> [options]\n\nWaiters:")
		for _, w := range waiters {
			fmt.Fprintf(stdout, "  %-24s %s\n", w.name, w.summary)
		}
		fmt.Fprintln(stdout, "\nteal wait <waiter> --help lists a waiter's options.")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var w *waiter
	for i := range waiters {
		if waiters[i].name == args[0] {
			w = &waiters[i]
		}
	}
	if w == nil {
		fmt.Fprintf(stderr, "teal: unknown waiter %q (see teal wait help)\n", args[0])
		return 2
	}
	name := "wait " + w.name
	in := w.polls.input()
	defs := memberFlags(in)
	for _, d := range defs {
		d.hidden = d.name == "marker" || d.name == "max-records"
	}
	timeout, interval := 30*time.Minute, 2*time.Second
	defs = append(defs,
		durationFlag("timeout", "give up after this long (default 30m)", &timeout),
		durationFlag("interval", "time between polls (default 2s)", &interval))
	cn := newConn()
	globals := cn.flags()
	if err := parseFlags(args[1:], append(defs, globals...)); err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprintf(stdout, "Usage: teal %s [options]\n\n%s Progress goes to stderr; the exit code is 0 once done.\n\nOptions:\n", name, w.summary)
			writeFlags(stdout, defs)
			fmt.Fprintln(stdout, "\nGlobal options:")
			writeFlags(stdout, globals)
			return 0
		}
		return failUsage(stderr, name, err)
	}
	client, err := cn.rdsClient(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := w.wait(ctx, client, in, interval, newProgress(stderr)); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			fmt.Fprintf(stderr, "teal: %s: gave up after %s\n", w.name, timeout)
			return 1
		}
		return fail(stderr, cn, name, err)
	}
	return 0
}

// followed are the commands whose work goes on after they answer, with
// the waiter --wait runs on the resource they answer with.
var followed = map[string]string{
	"create-db-instance":                   "db-instance-available",
	"create-db-instance-read-replica":      "db-instance-available",
	"restore-db-instance-from-db-snapshot": "db-instance-available",
	"restore-db-instance-to-point-in-time": "db-instance-available",
	"reboot-db-instance":                   "db-instance-available",
	"start-db-instance":                    "db-instance-available",
	"delete-db-instance":                   "db-instance-deleted",
	"create-db-snapshot":                   "db-snapshot-available",
	"copy-db-snapshot":                     "db-snapshot-available",
}

// followResource waits, as followed says, for the resource a command
// answered with, showing its progress.
func followResource(ctx context.Context, c *rds.Client, cmd string, res any, p *progress) error {
	var inst *types.DBInstance
	var snap *types.DBSnapshot
	switch r := res.(type) {
	case *rds.CreateDBInstanceOutput:
		inst = r.DBInstance
	case *rds.CreateDBInstanceReadReplicaOutput:
		inst = r.DBInstance
	case *rds.RestoreDBInstanceFromDBSnapshotOutput:
		inst = r.DBInstance
	case *rds.RestoreDBInstanceToPointInTimeOutput:
		inst = r.DBInstance
	case *rds.RebootDBInstanceOutput:
		inst = r.DBInstance
	case *rds.StartDBInstanceOutput:
		inst = r.DBInstance
	case *rds.DeleteDBInstanceOutput:
		inst = r.DBInstance
	case *rds.CreateDBSnapshotOutput:
		snap = r.DBSnapshot
	case *rds.CopyDBSnapshotOutput:
		snap = r.DBSnapshot
	}
	var in any
	switch {
	case inst != nil && inst.DBInstanceIdentifier != nil:
		in = &rds.DescribeDBInstancesInput{DBInstanceIdentifier: inst.DBInstanceIdentifier}
	case snap != nil && snap.DBSnapshotIdentifier != nil:
		in = &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: snap.DBSnapshotIdentifier}
	default:
		return fmt.Errorf("%s: the answer names nothing to wait for", cmd)
	}
	for i := range waiters {
		if waiters[i].name == followed[cmd] {
			ctx, cancel := context.WithTimeout(ctx, resourceWaitTimeout)
			defer cancel()
			return waiters[i].wait(ctx, c, in, 2*time.Second, p)
		}
	}
	return fmt.Errorf("%s: no waiter %s", cmd, followed[cmd])
}

// resourceWaitTimeout bounds a --wait on an instance or a snapshot: a
// large restore takes a while.
const resourceWaitTimeout = 6 * time.Hour

func durationFlag(name, usage string, p *time.Duration) *flagDef {
	return &flagDef{name: name, arg: "DURATION", usage: usage, set: func(w []string) error {
		d, err := time.ParseDuration(w[0])
		if err != nil || d <= 0 {
			return fmt.Errorf("expected a duration such as 90s or 10m, got %q", w[0])
		}
		*p = d
		return nil
	}}
}

// wait polls until the rules say done or failed, or ctx ends.
func (w *waiter) wait(ctx context.Context, c *rds.Client, in any, interval time.Duration, p *progress) error {
	start := time.Now()
	poll := time.NewTimer(0)
	defer poll.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			p.finish()
			return ctx.Err()
		case <-tick.C:
			p.redraw(time.Since(start))
		case <-poll.C:
			items, err := w.polls.list(ctx, c, in)
			var api smithy.APIError
			notFound := errors.As(err, &api) && api.ErrorCode() == w.polls.notFound
			if err != nil && !notFound {
				p.finish()
				return err
			}
			p.set(w.statusLine(items, notFound, w.polls.named(in)), time.Since(start))
			done, failure := w.rules.check(w.polls, items, notFound)
			if failure != "" {
				p.finish()
				return fmt.Errorf("%s: %s", w.name, failure)
			}
			if done {
				p.finish()
				return nil
			}
			poll.Reset(interval)
		}
	}
}

// statusLine says where each item is, e.g. "db1: creating"; one that is
// not found shows as deleted to a waiter for deletion.
func (w *waiter) statusLine(items []item, notFound bool, id string) string {
	if notFound || len(items) == 0 {
		if id == "" {
			return "no " + w.polls.kind + "s"
		}
		if w.rules.gone {
			return id + ": deleted"
		}
		return id + ": not found"
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.id + ": " + it.status
		if it.percent != "" {
			parts[i] += ", " + it.percent + "%"
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// progress shows a wait on stderr. On a terminal the current line is
// redrawn each second with the elapsed time, a share done ("42%") is drawn
// as a bar, and a new status starts a new line unless only its numbers
// changed. Otherwise, as in CI logs, changes are written as lines, and a
// line that differs from the last only in its numbers at most every 10 s.
type progress struct {
	w       io.Writer
	tty     bool
	current string
	open    bool // a redrawable line is on screen
	written time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = os.Getenv("TERM") != "dumb"
		}
	}
	return p
}

var digitsRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// sameShape reports whether two statuses differ only in their numbers.
func sameShape(a, b string) bool {
	return digitsRE.ReplaceAllString(a, "#") == digitsRE.ReplaceAllString(b, "#")
}

func (p *progress) set(status string, elapsed time.Duration) {
	if status == p.current {
		p.redraw(elapsed)
		return
	}
	moved := p.current != "" && sameShape(status, p.current)
	if !p.tty {
		if moved && time.Since(p.written) < 10*time.Second {
			return
		}
		p.current, p.written = status, time.Now()
		fmt.Fprintf(p.w, "%s (%s)\n", status, elapsed.Round(time.Second))
		return
	}
	if p.open && !moved {
		fmt.Fprintln(p.w)
		p.open = false
	}
	p.current = status
	p.redraw(elapsed)
}

var shareRE = regexp.MustCompile(`\b([0-9]{1,3})%`)

// bar draws the share done a status states, or "" if it states none.
func bar(status string) string {
	m := shareRE.FindStringSubmatch(status)
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	const width = 20
	filled := min(n, 100) * width / 100
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "] "
}

func (p *progress) redraw(elapsed time.Duration) {
	if !p.tty || p.current == "" {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s%s (%s)", bar(p.current), p.current, elapsed.Round(time.Second))
	p.open = true
}

func (p *progress) finish() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}
