package proxy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// promptly bounds every wait in these tests. Closing is expected within
// milliseconds; the margin is for slow, loaded CI machines.
const promptly = 3 * time.Second

// backend is a small echo server. On accept it sends its name and a newline,
// so a client can tell which server the proxy reached, then echoes everything
// and half-closes when the client does.
type backend struct {
	name string
	ln   net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	peers map[string]bool // remote address of every connection accepted
	wg    sync.WaitGroup
}

func startBackend(t testing.TB, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("backend %s: listen: %v", name, err)
	}
	b := &backend{name: name, ln: ln, conns: make(map[net.Conn]struct{}), peers: make(map[string]bool)}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.peers[c.RemoteAddr().String()] = true
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() {
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
				c.Close()
			}()
			if _, err := io.WriteString(c, b.name+"\n"); err != nil {
				return
			}
			if _, err := io.Copy(c, c); err != nil {
				return
			}
			c.(*net.TCPConn).CloseWrite()
			// Wait for the peer to close so that the connection count reflects
			// what the proxy holds open.
			io.Copy(io.Discard, c)
		}()
	}
}

// open returns how many connections the backend currently has open.
func (b *backend) open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// accepted reports whether the backend accepted a connection from addr.
func (b *backend) accepted(addr net.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peers[addr.String()]
}

func (b *backend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func newTestManager(t testing.TB) *Manager {
	t.Helper()
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m := NewManager(logger)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close manager: %v", err)
		}
		expectNoProxyGoroutines(t)
	})
	return m
}

// openEndpoint opens name on a free port pointed at target.
func openEndpoint(t testing.TB, m *Manager, name, target string) int {
	t.Helper()
	port, err := m.Open(name, 0)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	if target != "" {
		if err := m.SetTarget(name, target); err != nil {
			t.Fatalf("set target %s: %v", name, err)
		}
	}
	return port
}

func dial(t testing.TB, port int) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), promptly)
	if err != nil {
		t.Fatalf("dial endpoint port %d: %v", port, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// session is a client connection through the proxy that has read the
// backend's greeting.
type session struct {
	c  *net.TCPConn
	r  *bufio.Reader
	by string // name of the backend reached
}

func connect(t testing.TB, port int) *session {
	t.Helper()
	c := dial(t, port)
	c.SetDeadline(time.Now().Add(promptly))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read greeting through port %d: %v", port, err)
	}
	c.SetDeadline(time.Time{})
	return &session{c: c, r: r, by: strings.TrimSuffix(line, "\n")}
}

// roundTrip sends msg and expects it echoed back.
func (s *session) roundTrip(t testing.TB, msg string) {
	t.Helper()
	s.c.SetDeadline(time.Now().Add(promptly))
	defer s.c.SetDeadline(time.Time{})
	if _, err := io.WriteString(s.c, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(s.r, got); err != nil {
		t.Fatalf("read echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// expectClosed asserts that the peer closes c within promptly: a read ends in
// EOF or a reset, not in a timeout and not with data.
func expectClosed(t testing.TB, r io.Reader, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(promptly))
	start := time.Now()
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if n > 0 {
		t.Fatalf("read %q from a connection that should be closed", buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", time.Since(start))
	}
	if err == nil {
		t.Fatal("read returned neither data nor error")
	}
}

// eventually polls cond every few milliseconds, for at most promptly.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(promptly)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// proxyGoroutines counts goroutines running this package's code, so tests can
// check that closing leaves none behind. Test helpers are plain functions and
// backend methods, never endpoint methods, so they are not counted.
func proxyGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		if len(buf) >= 64<<20 {
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("internal/proxy.(*endpoint)")) || bytes.Contains(g, []byte("internal/proxy.pipe")) {
			count++
		}
	}
	return count
}

func expectNoProxyGoroutines(t testing.TB) {
	t.Helper()
	eventually(t, "proxy goroutines to end", func() bool { return proxyGoroutines() == 0 })
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestForwardRoundTrip(t *testing.T) {
	a := startBackend(t, "A")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", a.addr())

	s := connect(t, port)
	if s.by != "A" {
		t.Fatalf("reached backend %q, want A", s.by)
	}
	for i := range 10 {
		s.roundTrip(t, "SELECT "+strconv.Itoa(i)+";")
	}
	if got := m.Conns("db1"); got != 1 {
		t.Fatalf("Conns = %d, want 1", got)
	}

	// A client close ends the backend session as well.
	s.c.Close()
	eventually(t, "backend to see the close", func() bool { return a.open() == 0 })
	eventually(t, "Conns to drop to 0", func() bool { return m.Conns("db1") == 0 })
}

func TestForwardLargeTransferWithHalfClose(t *testing.T) {
	a := startBackend(t, "A")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", a.addr())
	s := connect(t, port)

	const size = 32 << 20
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)

	s.c.SetDeadline(time.Now().Add(30 * time.Second))
	writeErr := make(chan error, 1)
	go func() {
		_, err := s.c.Write(data)
		if err == nil {
			// The backend echoes until it sees EOF, then closes its side;
			// the client only sees EOF if the proxy relays both half-closes.
			err = s.c.CloseWrite()
		}
		writeErr <- err
	}()

	h := sha256.New()
	n, err := io.Copy(h, s.r)
	if err != nil {
		t.Fatalf("read echo after %d bytes: %v", n, err)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if n != size {
		t.Fatalf("received %d bytes, want %d", n, size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatal("echoed data differs from sent data")
	}
}

func TestNoTargetClosesPromptly(t *testing.T) {
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", "")

	c := dial(t, port)
	expectClosed(t, c, c)
	if got := m.Conns("db1"); got != 0 {
		t.Fatalf("Conns = %d, want 0", got)
	}

	// Clearing a target fails closed too, including for open connections.
	a := startBackend(t, "A")
	if err := m.SetTarget("db1", a.addr()); err != nil {
		t.Fatal(err)
	}
	s := connect(t, port)
	if err := m.SetTarget("db1", ""); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, s.r, s.c)
	c = dial(t, port)
	expectClosed(t, c, c)
	eventually(t, "backend connections to close", func() bool { return a.open() == 0 })
}

func TestBackendDownClosesPromptly(t *testing.T) {
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))))

	for range 3 {
		c := dial(t, port)
		expectClosed(t, c, c)
	}
	eventually(t, "Conns to drop to 0", func() bool { return m.Conns("db1") == 0 })
}

func TestSetTargetMovesEndpoint(t *testing.T) {
	a := startBackend(t, "A")
	b := startBackend(t, "B")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", a.addr())

	old := []*session{connect(t, port), connect(t, port)}
	for _, s := range old {
		if s.by != "A" {
			t.Fatalf("reached %q, want A", s.by)
		}
	}

	if err := m.SetTarget("db1", b.addr()); err != nil {
		t.Fatal(err)
	}
	if got := m.Target("db1"); got != b.addr() {
		t.Fatalf("Target = %q, want %q", got, b.addr())
	}
	// Sockets to the old backend are closed before SetTarget returns.
	if got := m.Conns("db1"); got != 0 {
		t.Fatalf("Conns right after SetTarget = %d, want 0", got)
	}
	for _, s := range old {
		expectClosed(t, s.r, s.c)
	}
	eventually(t, "old backend to lose its sessions", func() bool { return a.open() == 0 })

	s := connect(t, port)
	if s.by != "B" {
		t.Fatalf("new connection reached %q, want B", s.by)
	}
	s.roundTrip(t, "after move")
	if got := m.Conns("db1"); got != 1 {
		t.Fatalf("Conns = %d, want 1", got)
	}
}

// A connection whose backend dial completes just after the target changed
// must not be attached to the old backend.
func TestSetTargetDuringDial(t *testing.T) {
	a := startBackend(t, "A")
	b := startBackend(t, "B")
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
	port := openEndpoint(t, m, "db1", a.addr())

	c := dial(t, port)
	select {
	case <-dialed:
	case <-time.After(promptly):
		t.Fatal("backend dial did not complete")
	}
	if err := m.SetTarget("db1", b.addr()); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	expectClosed(t, c, c)
	eventually(t, "old backend to lose the late session", func() bool { return a.open() == 0 })

	s := connect(t, port)
	if s.by != "B" {
		t.Fatalf("new connection reached %q, want B", s.by)
	}
}

func TestSetSameTargetKeepsConnections(t *testing.T) {
	a := startBackend(t, "A")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", a.addr())
	s := connect(t, port)

	if err := m.SetTarget("db1", a.addr()); err != nil {
		t.Fatal(err)
	}
	s.roundTrip(t, "still here")
	if got := m.Conns("db1"); got != 1 {
		t.Fatalf("Conns = %d, want 1", got)
	}
}

func TestSetTargetErrors(t *testing.T) {
	m := newTestManager(t)
	if err := m.SetTarget("nope", "127.0.0.1:5432"); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("SetTarget on unknown endpoint: err = %v, want ErrNotOpen", err)
	}
	openEndpoint(t, m, "db1", "")
	if err := m.SetTarget("db1", "no-port"); err == nil {
		t.Fatal("SetTarget with an address without port succeeded")
	}
	if got := m.Target("db1"); got != "" {
		t.Fatalf("Target after bad SetTarget = %q, want empty", got)
	}
}

func TestCloseEndpointFreesEverything(t *testing.T) {
	a := startBackend(t, "A")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", a.addr())
	openEndpoint(t, m, "db2", a.addr()) // must survive closing db1

	sessions := []*session{connect(t, port), connect(t, port), connect(t, port)}
	m.mu.Lock()
	e := m.endpoints["db1"]
	m.mu.Unlock()

	if err := m.CloseEndpoint("db1"); err != nil {
		t.Fatalf("CloseEndpoint: %v", err)
	}
	select {
	case <-e.acceptDone:
	default:
		t.Fatal("accept loop still running after CloseEndpoint")
	}
	if n := e.connCount(); n != 0 {
		t.Fatalf("%d connections left after CloseEndpoint", n)
	}
	for _, s := range sessions {
		expectClosed(t, s.r, s.c)
	}
	eventually(t, "backend to lose its sessions", func() bool { return a.open() == 0 })
	if _, ok := m.Port("db1"); ok {
		t.Fatal("Port reports db1 open after CloseEndpoint")
	}
	if err := m.SetTarget("db1", a.addr()); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("SetTarget after CloseEndpoint: err = %v, want ErrNotOpen", err)
	}
	if err := m.CloseEndpoint("db1"); err != nil {
		t.Fatalf("second CloseEndpoint: %v", err)
	}

	// The port is free at once: another listener can bind it, and so can the
	// endpoint again.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("rebind port %d after CloseEndpoint: %v", port, err)
	}
	ln.Close()
	if got, err := m.Open("db1", port); err != nil || got != port {
		t.Fatalf("reopen db1 on %d = %d, %v", port, got, err)
	}

	if _, ok := m.Port("db2"); !ok {
		t.Fatal("closing db1 closed db2")
	}
}

func TestCloseClosesEverything(t *testing.T) {
	a := startBackend(t, "A")
	m := NewManager(nil)
	t.Cleanup(func() { m.Close() })
	var ports []int
	var sessions []*session
	for _, name := range []string{"db1", "db2", "db3"} {
		p := openEndpoint(t, m, name, a.addr())
		ports = append(ports, p)
		sessions = append(sessions, connect(t, p), connect(t, p))
	}
	// One endpoint without a target and one pointing at a dead backend, so
	// Close meets every state.
	openEndpoint(t, m, "idle", "")
	openEndpoint(t, m, "dead", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))))

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectNoProxyGoroutines(t)
	for _, s := range sessions {
		expectClosed(t, s.r, s.c)
	}
	eventually(t, "backend to lose its sessions", func() bool { return a.open() == 0 })
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("rebind port %d after Close: %v", p, err)
		}
		ln.Close()
	}

	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Open("db1", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: err = %v, want ErrClosed", err)
	}
	for _, name := range []string{"db1", "idle"} {
		if _, ok := m.Port(name); ok {
			t.Fatalf("Port reports %s open after Close", name)
		}
	}
}

func TestOpen(t *testing.T) {
	m := newTestManager(t)

	port, err := m.Open("db1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 {
		t.Fatalf("Open with port 0 returned %d", port)
	}
	if got, ok := m.Port("db1"); !ok || got != port {
		t.Fatalf("Port = %d, %v; want %d, true", got, ok, port)
	}
	// A real listener: a client can connect (and is refused by closing, since
	// there is no target yet).
	c := dial(t, port)
	expectClosed(t, c, c)

	t.Run("same port is idempotent", func(t *testing.T) {
		for _, p := range []int{port, 0} {
			got, err := m.Open("db1", p)
			if err != nil || got != port {
				t.Fatalf("Open(db1, %d) again = %d, %v; want %d, nil", p, got, err, port)
			}
		}
	})

	t.Run("other port for an open name", func(t *testing.T) {
		other := freePort(t)
		if _, err := m.Open("db1", other); err == nil {
			t.Fatal("Open on a second port succeeded")
		}
		if got, _ := m.Port("db1"); got != port {
			t.Fatalf("Port changed to %d", got)
		}
	})

	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		busy := ln.Addr().(*net.TCPAddr).Port
		_, err = m.Open("db2", busy)
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("Open on a busy port: err = %v, want EADDRINUSE", err)
		}
		if _, ok := m.Port("db2"); ok {
			t.Fatal("failed Open left db2 registered")
		}
		// Another endpoint's port is in use too.
		if _, err := m.Open("db3", port); !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("Open on db1's port: err = %v, want EADDRINUSE", err)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			port int
		}{{"", 0}, {"x", -1}, {"x", 65536}} {
			if _, err := m.Open(tc.name, tc.port); err == nil {
				t.Errorf("Open(%q, %d) succeeded", tc.name, tc.port)
			}
		}
	})
}

func TestManyConcurrentClients(t *testing.T) {
	a := startBackend(t, "A")
	b := startBackend(t, "B")
	m := newTestManager(t)
	port := openEndpoint(t, m, "db1", a.addr())

	// Clients connect while the target flips between two backends. Each
	// client either completes its round trips on one backend or sees its
	// connection closed; it is never moved silently.
	const clients = 32
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), promptly)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(promptly))
			r := bufio.NewReader(c)
			if _, err := r.ReadString('\n'); err != nil {
				return // closed by a target change before the greeting
			}
			msg := "client " + strconv.Itoa(i)
			for range 5 {
				if _, err := io.WriteString(c, msg); err != nil {
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(r, got); err != nil {
					return
				}
				if string(got) != msg {
					errs <- errors.New("client " + strconv.Itoa(i) + " got " + string(got))
					return
				}
			}
		}()
	}
	for i := range 10 {
		target := a.addr()
		if i%2 == 0 {
			target = b.addr()
		}
		if err := m.SetTarget("db1", target); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := m.CloseEndpoint("db1"); err != nil {
		t.Fatal(err)
	}
	expectNoProxyGoroutines(t)
}

// BenchmarkForward compares a request/response ping-pong, the shape of
// database traffic, and a bulk stream, directly against the echo backend and
// through an endpoint. ns/op of pingpong is the round-trip latency.
func BenchmarkForward(b *testing.B) {
	be := startBackend(b, "A")
	m := newTestManager(b)
	port := openEndpoint(b, m, "db1", be.addr())
	addrs := []struct{ name, addr string }{
		{"direct", be.addr()},
		{"proxy", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))},
	}

	for _, size := range []int{64, 64 << 10} {
		name := "pingpong"
		if size > 64 {
			name = "bulk"
		}
		b.Run(name, func(b *testing.B) {
			for _, a := range addrs {
				b.Run(a.name, func(b *testing.B) {
					nc, err := net.DialTimeout("tcp", a.addr, promptly)
					if err != nil {
						b.Fatal(err)
					}
					defer nc.Close()
					r := bufio.NewReaderSize(nc, 64<<10)
					if _, err := r.ReadString('\n'); err != nil {
						b.Fatal(err)
					}
					msg := make([]byte, size)
					got := make([]byte, size)
					b.SetBytes(int64(size))
					for b.Loop() {
						if _, err := nc.Write(msg); err != nil {
							b.Fatal(err)
						}
						if _, err := io.ReadFull(r, got); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestPauseHoldsAndResumeReleases: while paused, a new client is accepted and
// held (not refused); on resume it reaches the target of that moment.
func TestPauseHoldsAndResumeReleases(t *testing.T) {
	m := newTestManager(t)
	first, second := startBackend(t, "first"), startBackend(t, "second")
	port := openEndpoint(t, m, "db", first.addr())
	if err := m.Pause("db", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c := dial(t, port)
	eventually(t, "the connection is held", func() bool { return m.Held("db") == 1 })
	if first.open() != 0 {
		t.Fatal("a held connection reached the backend")
	}
	if err := m.SetTarget("db", second.addr()); err != nil {
		t.Fatal(err)
	}
	if n := m.Resume("db"); n != 1 {
		t.Fatalf("released %d connections", n)
	}
	c.SetDeadline(time.Now().Add(promptly))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "second\n" {
		t.Fatalf("after resume the client reached %q (%v), want the new target", line, err)
	}
	if m.Resume("db") != 0 {
		t.Fatal("a second resume released connections")
	}
}

// TestPauseExpires: a hold never outlives its maximum.
func TestPauseExpires(t *testing.T) {
	m := newTestManager(t)
	b := startBackend(t, "only")
	port := openEndpoint(t, m, "db", b.addr())
	if err := m.Pause("db", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	s := connect(t, port)
	if s.by != "only" {
		t.Fatalf("greeting %q", s.by)
	}
	s.roundTrip(t, "ping")
}

// TestCloseWhilePaused: closing an endpoint closes the connections it holds.
func TestCloseWhilePaused(t *testing.T) {
	m := newTestManager(t)
	b := startBackend(t, "only")
	port := openEndpoint(t, m, "db", b.addr())
	if err := m.Pause("db", time.Minute); err != nil {
		t.Fatal(err)
	}
	c := dial(t, port)
	eventually(t, "the connection is held", func() bool { return m.Held("db") == 1 })
	if err := m.CloseEndpoint("db"); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c, c)
}
