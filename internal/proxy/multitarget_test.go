package proxy

import (
	"bufio"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// setTargets sets the endpoint's targets or fails the test.
func setTargets(t *testing.T, m *Manager, name string, backends ...string) {
	t.Helper()
	if err := m.SetTargets(name, backends); err != nil {
		t.Fatalf("SetTargets(%s, %v): %v", name, backends, err)
	}
}

// connectN makes n sessions through port, one after the other, and returns
// them by the name of the backend each reached.
func connectN(t *testing.T, port, n int) map[string][]*session {
	t.Helper()
	by := map[string][]*session{}
	for range n {
		s := connect(t, port)
		by[s.by] = append(by[s.by], s)
	}
	return by
}

func endpointOf(t *testing.T, m *Manager, name string) *endpoint {
	t.Helper()
	e := m.lookup(name)
	if e == nil {
		t.Fatalf("endpoint %s not open", name)
	}
	return e
}

// TestSetTargetsSpreadsRoundRobin: new connections take the backends in
// turn, in the order given.
func TestSetTargetsSpreadsRoundRobin(t *testing.T) {
	a, b := startBackend(t, "A"), startBackend(t, "B")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db", "")
	setTargets(t, m, "db", a.addr(), b.addr())

	var order []string
	for i := range 10 {
		s := connect(t, port)
		order = append(order, s.by)
		s.roundTrip(t, "ping "+strconv.Itoa(i))
	}
	if want := strings.Repeat("AB", 5); strings.Join(order, "") != want {
		t.Fatalf("backends reached in order %v, want %s", order, want)
	}
	if a.open() != 5 || b.open() != 5 {
		t.Fatalf("backends hold %d and %d connections, want 5 and 5", a.open(), b.open())
	}
	if got := m.Conns("db"); got != 10 {
		t.Fatalf("Conns = %d, want 10", got)
	}
	if got := m.Targets("db"); !slices.Equal(got, []string{a.addr(), b.addr()}) {
		t.Fatalf("Targets = %v", got)
	}
	if got := m.Target("db"); got != a.addr() {
		t.Fatalf("Target = %q, want the first backend %q", got, a.addr())
	}
}

// TestSetTargetsValidates: a bad address changes nothing, duplicates count
// once, Targets is a copy, and giving the same backends again closes
// nothing.
func TestSetTargetsValidates(t *testing.T) {
	a, b := startBackend(t, "A"), startBackend(t, "B")
	m := newTestManager(t)
	if err := m.SetTargets("nope", []string{a.addr()}); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("SetTargets on unknown endpoint: err = %v, want ErrNotOpen", err)
	}
	port := openEndpoint(t, m, "db", "")
	setTargets(t, m, "db", a.addr(), b.addr(), a.addr(), "")
	if got := m.Targets("db"); !slices.Equal(got, []string{a.addr(), b.addr()}) {
		t.Fatalf("Targets = %v, want duplicates removed in order", got)
	}
	by := connectN(t, port, 2)
	if err := m.SetTargets("db", []string{a.addr(), "no-port"}); err == nil {
		t.Fatal("SetTargets with an address without port succeeded")
	}
	if got := m.Targets("db"); !slices.Equal(got, []string{a.addr(), b.addr()}) {
		t.Fatalf("Targets after a failed SetTargets = %v", got)
	}
	got := m.Targets("db")
	got[0] = "changed:1"
	if m.Target("db") != a.addr() {
		t.Fatal("Targets returned the endpoint's own slice")
	}

	// The same backends in another order: nothing is closed.
	setTargets(t, m, "db", b.addr(), a.addr())
	if got := m.Targets("db"); !slices.Equal(got, []string{b.addr(), a.addr()}) {
		t.Fatalf("Targets = %v after reordering", got)
	}
	for _, ss := range by {
		for _, s := range ss {
			s.roundTrip(t, "kept")
		}
	}
	if got := m.Conns("db"); got != 2 {
		t.Fatalf("Conns = %d, want 2", got)
	}
	if m.Targets("nope") != nil || m.Target("nope") != "" {
		t.Fatal("an endpoint that is not open has targets")
	}
}

// TestSetTargetsRemoveClosesOnlyItsConnections: a backend leaving the set
// loses its connections before SetTargets returns; the others keep theirs,
// and new connections go to the backends left.
func TestSetTargetsRemoveClosesOnlyItsConnections(t *testing.T) {
	a, b, c := startBackend(t, "A"), startBackend(t, "B"), startBackend(t, "C")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db", "")
	setTargets(t, m, "db", a.addr(), b.addr())
	by := connectN(t, port, 6)
	if len(by["A"]) != 3 || len(by["B"]) != 3 {
		t.Fatalf("6 connections spread %d/%d, want 3/3", len(by["A"]), len(by["B"]))
	}

	setTargets(t, m, "db", a.addr())
	if got := m.Conns("db"); got != 3 {
		t.Fatalf("Conns right after SetTargets = %d, want 3", got)
	}
	for _, s := range by["B"] {
		expectClosed(t, s.r, s.c)
	}
	eventually(t, "the removed backend to lose its sessions", func() bool { return b.open() == 0 })
	for i, s := range by["A"] {
		s.roundTrip(t, "still here "+strconv.Itoa(i))
	}
	for range 3 {
		if s := connect(t, port); s.by != "A" {
			t.Fatalf("a new connection reached %q, want A", s.by)
		}
	}

	// Adding a backend keeps every connection too.
	setTargets(t, m, "db", a.addr(), c.addr())
	for i, s := range by["A"] {
		s.roundTrip(t, "after add "+strconv.Itoa(i))
	}
	if got := m.Conns("db"); got != 6 {
		t.Fatalf("Conns after adding a backend = %d, want 6", got)
	}
	more := connectN(t, port, 4)
	if len(more["A"]) != 2 || len(more["C"]) != 2 {
		t.Fatalf("4 connections spread A=%d C=%d, want 2/2", len(more["A"]), len(more["C"]))
	}
}

// TestSetTargetsNilRefuses: no backends means no target: connections are
// closed and new ones refused.
func TestSetTargetsNilRefuses(t *testing.T) {
	a, b := startBackend(t, "A"), startBackend(t, "B")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db", "")
	for _, none := range [][]string{nil, {}, {""}} {
		setTargets(t, m, "db", a.addr(), b.addr())
		by := connectN(t, port, 2)
		refused := m.Refused("db")
		if err := m.SetTargets("db", none); err != nil {
			t.Fatal(err)
		}
		if m.Targets("db") != nil || m.Target("db") != "" {
			t.Fatalf("SetTargets(%q) left targets %v", none, m.Targets("db"))
		}
		for _, ss := range by {
			for _, s := range ss {
				expectClosed(t, s.r, s.c)
			}
		}
		c := dial(t, port)
		expectClosed(t, c, c)
		if got := m.Refused("db"); got != refused+1 {
			t.Fatalf("Refused = %d, want %d", got, refused+1)
		}
		eventually(t, "backends to lose their sessions", func() bool { return a.open() == 0 && b.open() == 0 })
	}
}

// TestSetTargetsDuringDial: a connection whose backend dial completes after
// its backend left the set, and came back, is not attached: the backend
// re-entered the set at a later generation than the connection's.
func TestSetTargetsDuringDial(t *testing.T) {
	a, b := startBackend(t, "A"), startBackend(t, "B")
	m := newTestManager(t)
	dialed := make(chan struct{})
	proceed := make(chan struct{})
	var once sync.Once
	m.afterDial = func() {
		once.Do(func() {
			close(dialed)
			<-proceed
		})
	}
	var proceedOnce sync.Once
	release := func() { proceedOnce.Do(func() { close(proceed) }) }
	t.Cleanup(release)
	port := openEndpoint(t, m, "db", "")
	setTargets(t, m, "db", a.addr(), b.addr())
	e := endpointOf(t, m, "db")
	e.mu.Lock()
	admitted := e.gen
	e.mu.Unlock()

	// The first connection goes to A.
	c := dial(t, port)
	select {
	case <-dialed:
	case <-time.After(promptly):
		t.Fatal("backend dial did not complete")
	}
	setTargets(t, m, "db", b.addr())
	setTargets(t, m, "db", a.addr(), b.addr())
	release()
	expectClosed(t, c, c)
	eventually(t, "A to lose the late session", func() bool { return a.open() == 0 })

	// The scheme itself, whatever else closes the connection: one
	// admitted before A left is not current, one to B (which stayed) is.
	if e.attach(&conn{target: a.addr(), gen: admitted}, nil) {
		t.Error("a connection admitted before its backend left and came back was attached")
	}
	if !e.attach(&conn{target: b.addr(), gen: admitted}, nil) {
		t.Error("a connection to a backend that stayed in the set was not attached")
	}
	e.mu.Lock()
	now := e.gen
	e.mu.Unlock()
	if !e.attach(&conn{target: a.addr(), gen: now}, nil) {
		t.Error("a connection admitted after its backend came back was not attached")
	}

	by := connectN(t, port, 4)
	if len(by["A"]) != 2 || len(by["B"]) != 2 {
		t.Fatalf("4 connections spread A=%d B=%d, want 2/2", len(by["A"]), len(by["B"]))
	}
}

// TestSetTargetsResumeSpreadsHeld: connections held during a pause are
// spread over the targets of the moment of the resume.
func TestSetTargetsResumeSpreadsHeld(t *testing.T) {
	first, a, b := startBackend(t, "first"), startBackend(t, "A"), startBackend(t, "B")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db", first.addr())
	if err := m.Pause("db", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var clients []*bufio.Reader
	for range 4 {
		c := dial(t, port)
		c.SetDeadline(time.Now().Add(promptly))
		clients = append(clients, bufio.NewReader(c))
	}
	eventually(t, "the connections are held", func() bool { return m.Held("db") == 4 })
	setTargets(t, m, "db", a.addr(), b.addr())
	if n := m.Resume("db"); n != 4 {
		t.Fatalf("released %d connections, want 4", n)
	}
	count := map[string]int{}
	for _, r := range clients {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("a released client read %q: %v", line, err)
		}
		count[strings.TrimSuffix(line, "\n")]++
	}
	if count["A"] != 2 || count["B"] != 2 {
		t.Fatalf("released connections reached %v, want 2 on A and 2 on B", count)
	}
}

// TestKernelPathMultiTarget: with several targets teal spreads every new
// connection itself, keeping the sessions the kernel forwarded to a backend
// that stays; back to one target, the kernel forwards again; and removing
// the backend the kernel forwarded to ends those sessions.
func TestKernelPathMultiTarget(t *testing.T) {
	m := kernelManager(t)
	a, b := startBackend(t, "A"), startBackend(t, "B")
	port := openEndpoint(t, m, "db", a.addr())
	direct := connect(t, port)
	if direct.by != "A" || !a.accepted(direct.c.LocalAddr()) {
		t.Fatalf("with one target the session reached %q, not straight", direct.by)
	}

	setTargets(t, m, "db", a.addr(), b.addr())
	direct.roundTrip(t, "kept")
	by := connectN(t, port, 10)
	if len(by["A"]) != 5 || len(by["B"]) != 5 {
		t.Fatalf("10 connections spread A=%d B=%d, want 5/5", len(by["A"]), len(by["B"]))
	}
	for _, s := range append(by["A"], by["B"]...) {
		if a.accepted(s.c.LocalAddr()) || b.accepted(s.c.LocalAddr()) {
			t.Fatal("with two targets a connection went straight to a server, not through teal")
		}
	}
	if got := m.Conns("db"); got != 10 {
		t.Fatalf("Conns = %d, want 10", got)
	}

	// Removing B ends its connections only; the kernel's session to A,
	// which stays, is kept.
	setTargets(t, m, "db", a.addr())
	for _, s := range by["B"] {
		expectClosed(t, s.r, s.c)
	}
	direct.roundTrip(t, "still kept")
	for _, s := range by["A"] {
		s.roundTrip(t, "through teal")
	}
	if got := m.Conns("db"); got != 5 {
		t.Fatalf("Conns = %d, want 5", got)
	}
	again := connect(t, port)
	if again.by != "A" || !a.accepted(again.c.LocalAddr()) {
		t.Fatalf("back to one target a new session reached %q, not straight", again.by)
	}
	if got := m.Conns("db"); got != 5 {
		t.Fatalf("Conns = %d after a kernel-forwarded session, want 5", got)
	}

	// Removing A ends every session to it, the kernel's included.
	setTargets(t, m, "db", b.addr())
	for _, s := range append([]*session{direct, again}, by["A"]...) {
		expectClosed(t, s.r, s.c)
	}
	eventually(t, "A to lose its sessions", func() bool { return a.open() == 0 })
	if s := connect(t, port); s.by != "B" || !b.accepted(s.c.LocalAddr()) {
		t.Fatalf("after the move a new session reached %q, not straight", s.by)
	}
}
