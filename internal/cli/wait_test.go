package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressOnTerminal(t *testing.T) {
	// On a terminal the line is redrawn in place and a new status starts a
	// new line, so the history of statuses stays on screen.
	var b bytes.Buffer
	p := &progress{w: &b, tty: true}
	p.set("db1: creating", 0)
	p.redraw(time.Second)
	p.set("db1: creating", 2*time.Second)
	p.set("db1: available", 3*time.Second)
	p.finish()
	want := "\r\x1b[Kdb1: creating (0s)\r\x1b[Kdb1: creating (1s)\r\x1b[Kdb1: creating (2s)\n\r\x1b[Kdb1: available (3s)\n"
	if b.String() != want {
		t.Errorf("terminal progress %q, want %q", b.String(), want)
	}

	b.Reset()
	p = &progress{w: &b}
	p.set("db1: creating", 0)
	p.redraw(time.Second)
	p.set("db1: creating", 2*time.Second)
	p.set("db1: available", 3*time.Second)
	p.finish()
	if want := "db1: creating (0s)\ndb1: available (3s)\n"; b.String() != want {
		t.Errorf("plain progress %q, want %q", b.String(), want)
	}
}

func findWaiter(t *testing.T, name string) *waiter {
	t.Helper()
	for i := range waiters {
		if waiters[i].name == name {
			return &waiters[i]
		}
	}
	t.Fatalf("no waiter %s", name)
	return nil
}

// TestWaiterRules checks each waiter against the acceptors of botocore's
// waiter of the same name (data/rds/2014-10-31/waiters-2.json).
func TestWaiterRules(t *testing.T) {
	type poll struct {
		items    []item
		notFound bool
		done     bool
		failure  string
	}
	one := func(id, status string) []item { return []item{{id: id, status: status}} }
	available := func(kind, a, b string) []poll {
		polls := []poll{
			{items: one(a, "creating")},
			{items: one(a, "backing-up")},
			{items: one(a, "modifying")},
			{items: one(a, "available"), done: true},
			// pathAll: every item, and an empty list matches nothing.
			{items: []item{{id: a, status: "available"}, {id: b, status: "creating"}}},
			{items: []item{{id: a, status: "available"}, {id: b, status: "available"}}, done: true},
			{},
			// No acceptor expects the not-found error, so it ends the wait.
			{notFound: true, failure: "no such " + kind},
			{items: []item{{id: a, status: "available"}, {id: b, status: "deleting"}}, failure: b + " is deleting"},
		}
		for _, s := range []string{"deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"} {
			polls = append(polls, poll{items: one(a, s), failure: a + " is " + s})
		}
		return polls
	}
	deleted := func(a string) []poll {
		polls := []poll{
			{items: one(a, "deleting")},
			{items: one(a, "available")},
			{items: one(a, "failed")},
			// length(...) == `0`, and the not-found error.
			{done: true},
			{notFound: true, done: true},
		}
		for _, s := range []string{"creating", "modifying", "rebooting", "resetting-master-credentials"} {
			polls = append(polls, poll{items: []item{{id: a + "-other", status: "deleting"}, {id: a, status: s}}, failure: a + " is " + s + ", not being deleted"})
		}
		return polls
	}
	for name, polls := range map[string][]poll{
		"db-instance-available": available("DB instance", "db1", "db2"),
		"db-instance-deleted":   deleted("db1"),
		"db-cluster-available":  available("DB cluster", "c1", "c2"),
		"db-cluster-deleted":    deleted("c1"),
	} {
		w := findWaiter(t, name)
		for _, p := range polls {
			done, failure := w.rules.check(w.polls, p.items, p.notFound)
			if done != p.done || failure != p.failure {
				t.Errorf("%s with %v (not found: %v): done %v, failure %q; want %v, %q",
					name, p.items, p.notFound, done, failure, p.done, p.failure)
			}
		}
	}
}

func TestWaiterStatusLine(t *testing.T) {
	available, deleted := findWaiter(t, "db-cluster-available"), findWaiter(t, "db-cluster-deleted")
	for _, c := range []struct {
		w        *waiter
		items    []item
		notFound bool
		id, want string
	}{
		{available, []item{{id: "c2", status: "creating"}, {id: "c1", status: "available"}}, false, "", "c1: available, c2: creating"},
		{findWaiter(t, "db-snapshot-available"), []item{{id: "s1", status: "creating", percent: "42"}}, false, "", "s1: creating, 42%"},
		{available, nil, true, "c1", "c1: not found"},
		{available, nil, false, "", "no DB clusters"},
		{deleted, nil, true, "c1", "c1: deleted"},
		{findWaiter(t, "db-instance-deleted"), nil, false, "", "no DB instances"},
	} {
		if got := c.w.statusLine(c.items, c.notFound, c.id); got != c.want {
			t.Errorf("%s: statusLine(%v, %v, %q) = %q, want %q", c.w.name, c.items, c.notFound, c.id, got, c.want)
		}
	}
}

// TestFollowedCommands checks that every command that takes --wait on a
// resource exists and names a waiter.
func TestFollowedCommands(t *testing.T) {
	for cmd, w := range followed {
		found := false
		for _, o := range ops {
			found = found || o.name == cmd
		}
		if !found {
			t.Errorf("--wait is given to %s, which is not a command", cmd)
		}
		findWaiter(t, w)
	}
}

func TestWaitCluster(t *testing.T) {
	s := startStub(t)
	s.statuses = []string{"creating", "creating", "available"}
	_, errOut, code := run(t, "wait", "db-cluster-available", "--db-cluster-identifier", "c1", "--interval", "10ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "c1: creating (") || !strings.HasPrefix(lines[1], "c1: available (") {
		t.Errorf("progress:\n%s", errOut)
	}
	if f := s.forms()[0]; f["Action"] != "DescribeDBClusters" || f["DBClusterIdentifier"] != "c1" {
		t.Errorf("polled with %v", f)
	}

	s.statuses = []string{"available", "deleting", "gone"}
	if _, errOut, code := run(t, "wait", "db-cluster-deleted", "--db-cluster-identifier", "c1", "--interval", "10ms"); code != 0 || !strings.Contains(errOut, "c1: deleting (") || !strings.Contains(errOut, "c1: deleted (") {
		t.Errorf("deleted: exit %d: %s", code, errOut)
	}
	// Without an identifier, an empty list is the end of a deletion.
	s.statuses = []string{"deleting", "gone"}
	if _, errOut, code := run(t, "wait", "db-cluster-deleted", "--filters", "Name=engine,Values=aurora-postgresql", "--interval", "10ms"); code != 0 || !strings.Contains(errOut, "no DB clusters (") {
		t.Errorf("deleted, by filter: exit %d: %s", code, errOut)
	}

	s.statuses = []string{"modifying"}
	if _, errOut, code := run(t, "wait", "db-cluster-deleted", "--db-cluster-identifier", "c1", "--interval", "10ms"); code != 1 || !strings.Contains(errOut, "teal: db-cluster-deleted: c1 is modifying, not being deleted") {
		t.Errorf("modifying: exit %d: %q", code, errOut)
	}
	s.statuses = []string{"gone"}
	if _, errOut, code := run(t, "wait", "db-cluster-available", "--db-cluster-identifier", "c1", "--interval", "10ms"); code != 1 || !strings.Contains(errOut, "teal: db-cluster-available: no such DB cluster") {
		t.Errorf("not found: exit %d: %q", code, errOut)
	}
	if out, _, code := run(t, "wait", "db-cluster-available", "--help"); code != 0 || !strings.Contains(out, "--db-cluster-identifier") || !strings.Contains(out, "--include-shared") || strings.Contains(out, "--marker") {
		t.Errorf("help: exit %d:\n%s", code, out)
	}
}
