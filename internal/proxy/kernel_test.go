package proxy

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
)

// kernelManager returns a Manager that forwards in the kernel, or skips the
// test where that cannot work (not root, no nft).
func kernelManager(t *testing.T) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the kernel path needs root")
	}
	m := newTestManager(t)
	if err := m.EnableKernelPath(); err != nil {
		t.Skipf("kernel path unavailable: %v", err)
	}
	return m
}

// nftTables lists the ip tables, one name a line.
func nftTables(t *testing.T) string {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var b strings.Builder
	for _, tb := range tables {
		b.WriteString(tb.Name + "\n")
	}
	return b.String()
}

// TestKernelPathForwardsDirectly: a session through the endpoint reaches the
// server from the client's own address, and teal forwards nothing itself.
func TestKernelPathForwardsDirectly(t *testing.T) {
	m := kernelManager(t)
	if !m.KernelPath() {
		t.Fatal("KernelPath() = false after EnableKernelPath")
	}
	b := startBackend(t, "A")
	port := openEndpoint(t, m, "db", b.addr())
	s := connect(t, port)
	if s.by != "A" {
		t.Fatalf("reached %q", s.by)
	}
	s.roundTrip(t, "hello")
	if !b.accepted(s.c.LocalAddr()) {
		t.Fatalf("the server did not see the client's address %s: the session went through teal", s.c.LocalAddr())
	}
	if n := m.Conns("db"); n != 0 {
		t.Fatalf("teal forwards %d connections itself", n)
	}
}

// TestKernelPathPauseHolds: while paused, new connections are held; on
// resume they go to the new target, straight (the kernel holds the attempt
// itself) where it can, and later connections go straight to it too.
func TestKernelPathPauseHolds(t *testing.T) {
	m := kernelManager(t)
	first, second := startBackend(t, "first"), startBackend(t, "second")
	port := openEndpoint(t, m, "db", first.addr())
	before := connect(t, port)
	if err := m.Pause("db", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	type reached struct {
		s   *session
		err error
	}
	got := make(chan reached, 1)
	go func() {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
		if err != nil {
			got <- reached{err: err}
			return
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		got <- reached{&session{c: c.(*net.TCPConn), r: r, by: strings.TrimSuffix(line, "\n")}, err}
	}()
	eventually(t, "the connection attempt is held", func() bool { return m.Held("db") == 1 })
	// The session made before the pause still works until its server is
	// left: the kernel remembers where it goes.
	before.roundTrip(t, "still here")

	if err := m.SetTarget("db", second.addr()); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, before.r, before.c)
	select {
	case r := <-got:
		t.Fatalf("a connection made while paused got through: %+v", r)
	default:
	}
	if n := m.Resume("db"); n > 1 {
		t.Fatalf("released %d connections", n)
	}
	var held reached
	select {
	case held = <-got:
	case <-time.After(promptly):
		t.Fatal("the held connection was not released")
	}
	if held.err != nil || held.s.by != "second" {
		t.Fatalf("after resume the held client reached %+v, want the new target", held)
	}
	t.Cleanup(func() { held.s.c.Close() })
	if m.router.(*kernelPath).syn != nil && !second.accepted(held.s.c.LocalAddr()) {
		t.Error("the held connection goes through teal, not straight to the new target")
	}
	after := connect(t, port)
	if after.by != "second" || !second.accepted(after.c.LocalAddr()) {
		t.Fatalf("after resume a new client reached %q, not straight to the new target", after.by)
	}
}

// TestKernelPathSetTargetEndsSessions: moving the target ends the sessions the
// kernel forwarded to the previous server, and an endpoint with no target
// refuses new connections.
func TestKernelPathSetTargetEndsSessions(t *testing.T) {
	m := kernelManager(t)
	a, b := startBackend(t, "A"), startBackend(t, "B")
	port := openEndpoint(t, m, "db", a.addr())
	s1, s2 := connect(t, port), connect(t, port)
	if err := m.SetTarget("db", b.addr()); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, s1.r, s1.c)
	expectClosed(t, s2.r, s2.c)
	eventually(t, "the old server to see its sessions end", func() bool { return a.open() == 0 })
	if s := connect(t, port); s.by != "B" {
		t.Fatalf("reached %q after the move", s.by)
	}
	if err := m.SetTarget("db", ""); err != nil {
		t.Fatal(err)
	}
	c := dial(t, port)
	expectClosed(t, c, c)
}

// TestKernelPathCloseEndsSessions: closing an endpoint ends the sessions the
// kernel forwarded, as it ends those teal forwarded, and frees the port.
func TestKernelPathCloseEndsSessions(t *testing.T) {
	m := kernelManager(t)
	a := startBackend(t, "A")
	port := openEndpoint(t, m, "db", a.addr())
	s := connect(t, port)
	if err := m.CloseEndpoint("db"); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, s.r, s.c)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), promptly); err == nil {
		c.Close()
		t.Fatal("a closed endpoint still takes connections")
	}
}

// TestKernelPathTables: a Manager's table goes with Close, and a table left by
// a process that is gone is removed by the next Manager.
func TestKernelPathTables(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kernel path needs root")
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	// A pid above the kernel's maximum never runs; and a table of this
	// process's pid that it has not numbered yet was left by a process
	// that had the same pid before.
	var stales []*nftables.Table
	for _, name := range []string{fmt.Sprintf("%s%d_1", tablePrefix, 1<<23), fmt.Sprintf("%s%d_%d", tablePrefix, os.Getpid(), 1<<20)} {
		stale := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: name}
		c.AddTable(stale)
		if err := c.Flush(); err != nil {
			t.Fatalf("add table: %v", err)
		}
		t.Cleanup(func() {
			if strings.Contains(nftTables(t), stale.Name+"\n") {
				c.DelTable(stale)
				c.Flush()
			}
		})
		stales = append(stales, stale)
	}

	m := NewManager(nil)
	if err := m.EnableKernelPath(); err != nil {
		t.Fatal(err)
	}
	if m.router.(*kernelPath).syn == nil {
		t.Errorf("connection attempts are not held in the kernel: %v", m.router.(*kernelPath).synErr)
	}
	own := m.router.(*kernelPath).table.Name
	tables := nftTables(t)
	for _, stale := range stales {
		if strings.Contains(tables, stale.Name+"\n") {
			t.Fatalf("stale table %s kept:\n%s", stale.Name, tables)
		}
	}
	if !strings.Contains(tables, own+"\n") {
		t.Fatalf("own table %s missing:\n%s", own, tables)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if tables := nftTables(t); strings.Contains(tables, own+"\n") {
		t.Fatalf("table %s left after Close:\n%s", own, tables)
	}
}
