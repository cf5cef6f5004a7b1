package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// A waiter polls describe-db-instances until the instances reach a state.
// Its rules are those of the RDS waiters of the same names (botocore's
// waiters-2.json), so scripts written for `aws rds wait` behave the same.
type waiter struct {
	name    string
	summary string
	gone    string // how progress shows an instance that is not found
	// check decides from one poll: done, or failed with a reason.
	check func(insts []types.DBInstance, notFound bool) (done bool, failure string)
}

var waiters = []waiter{
	{"db-instance-available", "Wait until the DB instances are available.", "not found", func(insts []types.DBInstance, notFound bool) (bool, string) {
		if notFound {
			return false, "no such DB instance"
		}
		for _, i := range insts {
			switch s := str(i.DBInstanceStatus); s {
			case "deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters":
				return false, fmt.Sprintf("%s is %s", str(i.DBInstanceIdentifier), s)
			}
		}
		return len(insts) > 0 && allStatus(insts, "available"), ""
	}},
	{"db-instance-deleted", "Wait until the DB instances are deleted.", "deleted", func(insts []types.DBInstance, notFound bool) (bool, string) {
		if notFound || len(insts) == 0 {
			return true, ""
		}
		for _, i := range insts {
			switch s := str(i.DBInstanceStatus); s {
			case "creating", "modifying", "rebooting", "resetting-master-credentials":
				return false, fmt.Sprintf("%s is %s, not being deleted", str(i.DBInstanceIdentifier), s)
			}
		}
		return false, ""
	}},
}

func allStatus(insts []types.DBInstance, status string) bool {
	for _, i := range insts {
		if str(i.DBInstanceStatus) != status {
			return false
		}
	}
	return true
}

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
	in := &rds.DescribeDBInstancesInput{}
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

// wait polls until check says done or failed, or ctx ends.
func (w *waiter) wait(ctx context.Context, c *rds.Client, in *rds.DescribeDBInstancesInput, interval time.Duration, p *progress) error {
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
			insts, notFound, err := describeAll(ctx, c, *in)
			if err != nil {
				p.finish()
				return err
			}
			p.set(w.statusLine(insts, notFound, str(in.DBInstanceIdentifier)), time.Since(start))
			done, failure := w.check(insts, notFound)
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

// describeAll lists the instances that in selects; notFound reports the
// DBInstanceNotFound error, which is how a deleted instance answers.
func describeAll(ctx context.Context, c *rds.Client, in rds.DescribeDBInstancesInput) ([]types.DBInstance, bool, error) {
	var insts []types.DBInstance
	pages := rds.NewDescribeDBInstancesPaginator(c, &in)
	for n := 0; pages.HasMorePages(); n++ {
		if n == maxPages {
			return nil, false, fmt.Errorf("describe-db-instances: stopped after %d pages", maxPages)
		}
		out, err := pages.NextPage(ctx)
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "DBInstanceNotFound" {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		insts = append(insts, out.DBInstances...)
	}
	return insts, false, nil
}

// statusLine says where each instance is, e.g. "db1: creating".
func (w *waiter) statusLine(insts []types.DBInstance, notFound bool, id string) string {
	if notFound || len(insts) == 0 {
		if id == "" {
			return "no DB instances"
		}
		return id + ": " + w.gone
	}
	parts := make([]string, len(insts))
	for i, inst := range insts {
		parts[i] = str(inst.DBInstanceIdentifier) + ": " + str(inst.DBInstanceStatus)
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
