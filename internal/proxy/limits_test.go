package proxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickly bounds how long a client of an endpoint that is not flooded may
// wait while another one is: far below the seconds a starved teal took.
const quickly = time.Second

// withLimits sets the process's connection limits for one test and checks, at
// its end, that every connection slot was given back.
func withLimits(t *testing.T, l Limits) {
	t.Helper()
	old := CurrentLimits()
	SetLimits(l)
	t.Cleanup(func() {
		SetLimits(old)
		eventually(t, "every connection slot given back", func() bool { return admitted.Load() == 0 })
	})
}

// flood opens n idle connections to port; the test's cleanup closes them.
// A connection the endpoint resets so fast that the connect itself fails is
// nil.
func flood(t *testing.T, port, n int) []*net.TCPConn {
	t.Helper()
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		conns[i] = dialOrReset(t, port)
	}
	return conns
}

func dialOrReset(t *testing.T, port int) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), promptly)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	if err != nil {
		t.Fatalf("dial endpoint port %d: %v", port, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// outcome tells what a client of an endpoint sees within wait: the greeting
// of the backend it reached, "closed", or "open" when nothing came.
func outcome(c *net.TCPConn, wait time.Duration) string {
	if c == nil {
		return "closed"
	}
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	line, err := bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	switch {
	case err == nil:
		return strings.TrimSuffix(line, "\n")
	case errors.As(err, &ne) && ne.Timeout():
		return "open"
	default:
		return "closed"
	}
}

func outcomes(conns []*net.TCPConn, wait time.Duration) map[string]int {
	got := map[string]int{}
	for _, c := range conns {
		got[outcome(c, wait)]++
	}
	return got
}

// TestFloodIsShed: idle connections beyond an endpoint's limit are closed at
// once and counted; another endpoint still answers quickly until teal's
// total limit, beyond which it closes connections too; and once the flood
// ends, the flooded endpoint forwards again.
func TestFloodIsShed(t *testing.T) {
	withLimits(t, Limits{PerEndpoint: 4, Total: 6})
	m := newTestManager(t)
	a, b := startBackend(t, "A"), startBackend(t, "B")
	portA := openEndpoint(t, m, "a", a.addr())
	portB := openEndpoint(t, m, "b", b.addr())

	start := time.Now()
	conns := flood(t, portA, 10)
	eventually(t, "the flood sorted out", func() bool { return m.Conns("a") == 4 && m.Refused("a") == 6 })
	if got := outcomes(conns, promptly); got["A"] != 4 || got["closed"] != 6 {
		t.Fatalf("of 10 connections to a flooded endpoint with a limit of 4: %v, want 4 forwarded and 6 closed", got)
	}
	t.Logf("flood of 10 sorted out in %v", time.Since(start))

	// The endpoint's limit leaves room for another endpoint, up to the total.
	for i := 0; i < 2; i++ {
		start := time.Now()
		s := connect(t, portB)
		s.roundTrip(t, "ping")
		if d := time.Since(start); s.by != "B" || d > quickly {
			t.Fatalf("another endpoint during the flood: reached %q in %v", s.by, d)
		}
	}
	if got := outcome(dialOrReset(t, portB), promptly); got != "closed" {
		t.Fatalf("a connection over teal's total limit: %s, want closed", got)
	}
	eventually(t, "the refusal counted", func() bool { return m.Refused("b") == 1 })

	// The flood ends: the endpoint takes and forwards new connections.
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	eventually(t, "the flood's connections closed", func() bool { return m.Conns("a") == 0 && a.open() == 0 })
	s := connect(t, portA)
	if s.by != "A" {
		t.Fatalf("after the flood the endpoint reached %q", s.by)
	}
	s.roundTrip(t, "after the flood")
}

// TestFloodWhileHeld: during a switchover's hold, the connections teal's
// listener holds count against the endpoint's limit: the excess is closed at
// once, the others reach the target on resume, and another endpoint answers
// quickly meanwhile. With the kernel path, it is the case where connection
// attempts cannot be held in the kernel.
func TestFloodWhileHeld(t *testing.T) {
	for _, mode := range []string{"teal", "kernel"} {
		t.Run(mode, func(t *testing.T) {
			withLimits(t, Limits{PerEndpoint: 3, Total: 100})
			var m *Manager
			if mode == "kernel" {
				m = kernelManager(t)
				if m.router.(*kernelPath).syn != nil {
					m.router.(*kernelPath).syn.close()
					m.router.(*kernelPath).syn = nil
				}
			} else {
				m = newTestManager(t)
			}
			a, b := startBackend(t, "A"), startBackend(t, "B")
			portA := openEndpoint(t, m, "a", a.addr())
			portB := openEndpoint(t, m, "b", b.addr())
			if err := m.Pause("a", time.Minute); err != nil {
				t.Fatal(err)
			}

			conns := flood(t, portA, 8)
			eventually(t, "the flood sorted out", func() bool { return m.Held("a") == 3 && m.Refused("a") == 5 })
			// The closed ones answer at once; the held ones stay silent.
			if got := outcomes(conns, 200*time.Millisecond); got["open"] != 3 || got["closed"] != 5 {
				t.Fatalf("of 8 connections to a held endpoint with a limit of 3: %v, want 3 held and 5 closed", got)
			}
			start := time.Now()
			s := connect(t, portB)
			s.roundTrip(t, "ping")
			if d := time.Since(start); s.by != "B" || d > quickly {
				t.Fatalf("another endpoint during the flood: reached %q in %v", s.by, d)
			}

			if n := m.Resume("a"); n != 3 {
				t.Fatalf("resume released %d connections, want 3", n)
			}
			var reached []string
			for _, c := range conns {
				if got := outcome(c, promptly); got != "closed" {
					reached = append(reached, got)
				}
			}
			if strings.Join(reached, ",") != "A,A,A" {
				t.Fatalf("after resume the held connections reached %v, want A three times", reached)
			}
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
			eventually(t, "the flood's connections closed", func() bool { return m.Conns("a") == 0 })
			s = connect(t, portA)
			if s.by != "A" {
				t.Fatalf("after the flood the endpoint reached %q", s.by)
			}
			s.roundTrip(t, "after the flood")
		})
	}
}

// TestKernelPathFloodCostsNoDescriptor: connections the kernel forwards never
// reach teal's listener, so teal's limits do not apply to them.
func TestKernelPathFloodCostsNoDescriptor(t *testing.T) {
	withLimits(t, Limits{PerEndpoint: 2, Total: 2})
	m := kernelManager(t)
	a := startBackend(t, "A")
	port := openEndpoint(t, m, "a", a.addr())
	conns := flood(t, port, 6)
	if got := outcomes(conns, promptly); got["A"] != 6 {
		t.Fatalf("of 6 kernel-forwarded connections: %v, want all 6 at the server", got)
	}
	if c, r := m.Conns("a"), m.Refused("a"); c != 0 || r != 0 {
		t.Fatalf("teal holds %d and refused %d of the kernel's connections", c, r)
	}
}

// TestAcceptSurvivesEMFILE: when the process is out of descriptors, the
// endpoint backs off instead of spinning or giving up, and takes the waiting
// connection once descriptors are free again.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	m := newTestManager(t)
	b := startBackend(t, "A")
	port := openEndpoint(t, m, "db", b.addr())
	e := m.lookup("db")
	// The backend is in this process too: it must be waiting in accept, with
	// its descriptor-free poll, before descriptors run out.
	eventually(t, "the backend to wait in accept", func() bool {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[IO wait") && strings.Contains(g, "(*backend).serve") {
				return true
			}
		}
		return false
	})

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Errorf("restore the open file limit: %v", err)
		}
	}
	t.Cleanup(restore)
	// Leave one descriptor number below the limit: the client's. The
	// endpoint's accept then fails with EMFILE.
	free := freeDescriptors(t, 2)
	low := lim
	low.Cur = uint64(free[1])
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), promptly)
	if err != nil {
		restore()
		t.Fatalf("dial with one descriptor left: %v", err)
	}
	defer c.Close()
	eventually(t, "the accept to fail", func() bool { return e.acceptFailures.Load() > 0 })
	time.Sleep(500 * time.Millisecond)
	// Backing off from 5 ms, doubling: about 7 attempts in half a second.
	if n := e.acceptFailures.Load(); n > 20 {
		t.Errorf("%d failed accepts in half a second: the accept loop spins", n)
	}
	restore()
	if got := outcome(c.(*net.TCPConn), promptly+acceptBackoffMax); got != "A" {
		t.Fatalf("once descriptors are free, the waiting client got %q, want the server's greeting", got)
	}
}

// freeDescriptors returns the n lowest descriptor numbers not in use.
func freeDescriptors(t *testing.T, n int) []int {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	own := int(d.Fd())
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd != own {
			used[fd] = true
		}
	}
	var free []int
	for fd := 0; len(free) < n; fd++ {
		if !used[fd] {
			free = append(free, fd)
		}
	}
	return free
}

// TestRateLog: a repeated event is logged once per interval, with the count
// of what happened since.
func TestRateLog(t *testing.T) {
	r := RateLog{Interval: time.Second}
	t0 := time.Unix(1000, 0)
	var got []uint64
	for i := 0; i < 2500; i++ {
		if n := r.Tick(t0.Add(time.Duration(i) * time.Millisecond)); n > 0 {
			got = append(got, n)
		}
	}
	if want := []uint64{1, 1000, 1000}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("log lines reported %v, want %v", got, want)
	}
}
