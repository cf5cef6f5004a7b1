// Package proxy serves teal's endpoints: one TCP listener per DB instance
// identifier on 127.0.0.1, forwarding to the database server that currently
// holds that identifier. It fails closed.
//
// An endpoint belongs to an identifier, not to a server: when a rename or a
// switchover moves the identifier to another server, the caller re-points the
// endpoint with SetTarget and clients keep the same address. The proxy is plain
// TCP pass-through, so TLS and authentication go end to end. Where teal may,
// the kernel does the forwarding (kernel.go) and teal's listener takes only
// what the kernel leaves it: connections made during a switchover's hold.
//
// An endpoint may also have several targets (SetTargets), as a DB cluster's
// reader endpoint or a custom endpoint does: each new connection goes to the
// next of them in turn (round-robin), and a connection keeps its server for
// its whole life. The kernel routes only an endpoint with a single target, so
// teal's listener takes, and forwards itself, every connection to an
// endpoint with several.
//
// Failing closed means that whenever the proxy is unsure where the identifier
// lives (no target, the backend refuses, the target just changed) it closes
// the client connection rather than forwarding it anywhere else. A client that
// talks to a server which no longer holds the identifier could write to a stale
// primary, which is worse than a reconnect. Likewise, when a server leaves an
// endpoint's targets, the connections to it are closed, while those to the
// servers that stay are kept; and a connection the proxy gave a server is
// never forwarded to another one: if that server refuses it, the client sees
// its connection closed. For the same reason, a connection over the limits on
// what teal's listeners hold (limits.go) is closed at once rather than left
// waiting.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ErrNotOpen is returned for an endpoint name that has no listener.
var ErrNotOpen = errors.New("endpoint not open")

// ErrClosed is returned by Open after the Manager has been closed.
var ErrClosed = errors.New("proxy manager closed")

// defaultAddress is where endpoints listen unless told otherwise
// (SetAddress): this host's clients only.
var defaultAddress = net.IPv4(127, 0, 0, 1)

// Manager owns every endpoint listener of a teal server. It is safe for
// concurrent use.
type Manager struct {
	logger *slog.Logger
	// afterDial, if set, runs between a successful backend dial and attaching
	// the connection, so tests can change the targets in that window.
	afterDial func()

	mu        sync.Mutex
	endpoints map[string]*endpoint
	closed    bool
	// router is what endpoints opened from now on route with:
	// listenerOnly, or the kernel path once it is enabled.
	router router
	// addr is where endpoints listen.
	addr net.IP
}

// NewManager returns a Manager with no endpoints. A nil logger discards logs.
func NewManager(logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		logger:    logger,
		endpoints: make(map[string]*endpoint),
		router:    listenerOnly{},
		addr:      defaultAddress,
	}
}

// SetAddress makes endpoints listen on addr (an IPv4 address of this host)
// rather than 127.0.0.1, so that other hosts reach them. It must come
// before EnableKernelPath and before any endpoint opens.
func (m *Manager) SetAddress(addr net.IP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr.To4() == nil {
		return fmt.Errorf("endpoint address %s: teal's endpoints are IPv4", addr)
	}
	if len(m.endpoints) > 0 {
		return errors.New("endpoint address: endpoints are open already")
	}
	if _, ok := m.router.(*kernelPath); ok {
		return errors.New("endpoint address: set it before the kernel path")
	}
	m.addr = addr.To4()
	return nil
}

// Address is where endpoints listen.
func (m *Manager) Address() net.IP {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// EnableKernelPath makes the endpoints opened from now on forward their
// connections in the kernel (kernel.go) rather than through teal, so a
// session through an endpoint is as fast as a direct one. It needs
// CAP_NET_ADMIN (teal speaks nftables' netlink itself); when it returns an
// error, endpoints forward every connection themselves, which always works.
func (m *Manager) EnableKernelPath() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.router.(*kernelPath); ok {
		return nil
	}
	k, err := openKernelPath(m.addr)
	if err != nil {
		return fmt.Errorf("kernel path: %w", err)
	}
	m.router = k
	if k.synErr != nil {
		m.logger.Info("connections made during a hold will be forwarded by teal", "why", k.synErr)
	}
	return nil
}

// KernelPath reports whether the endpoints forward in the kernel.
func (m *Manager) KernelPath() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.router.(*kernelPath)
	return ok
}

// Open starts (or keeps, if already open on that port) the listener for
// endpoint name on 127.0.0.1:port. Port 0 picks a free port, or keeps the
// current one if name is already open. Open returns the bound port.
//
// Opening a name that is already open on a different port is an error, so a
// caller cannot silently move an endpoint clients are using. Opening a port
// that is in use returns an error wrapping the bind error (errors.Is with
// syscall.EADDRINUSE works). A new endpoint has no target and refuses
// connections until SetTarget or SetTargets gives it one.
func (m *Manager) Open(name string, port int) (int, error) {
	if name == "" {
		return 0, errors.New("open endpoint: empty name")
	}
	if port < 0 || port > 65535 {
		return 0, fmt.Errorf("open endpoint %s: invalid port %d", name, port)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("open endpoint %s: %w", name, ErrClosed)
	}
	if e, ok := m.endpoints[name]; ok {
		if port == 0 || port == e.port {
			return e.port, nil
		}
		return 0, fmt.Errorf("open endpoint %s on port %d: already open on port %d", name, port, e.port)
	}

	addr := net.JoinHostPort(m.addr.String(), strconv.Itoa(port))
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("open endpoint %s on %s: %w", name, addr, err)
	}
	e := newEndpoint(name, ln.(*net.TCPListener), m.logger)
	e.afterDial = m.afterDial
	e.router = m.router
	m.endpoints[name] = e
	e.start()
	e.logger.Info("endpoint opened")
	return e.port, nil
}

// SetTarget points the endpoint at a backend "host:port"; "" means no target,
// so new connections are refused. When the target changes, connections to the
// previous backend are closed before SetTarget returns: they would be talking
// to a server that no longer holds this identifier. Setting the same target
// again is a no-op and keeps connections.
//
// SetTarget(name, backend) is SetTargets(name, []string{backend}).
func (m *Manager) SetTarget(name, backend string) error {
	if err := m.setTargets(name, []string{backend}); err != nil {
		return fmt.Errorf("set target of endpoint %s: %w", name, err)
	}
	return nil
}

// SetTargets points the endpoint at the backends "host:port", in that order;
// new connections go to each in turn (round-robin), and each keeps its
// backend for its whole life. Every backend must be a valid address, or
// nothing changes; a backend given twice counts once, where it first
// appears, and "" is skipped. No backend (nil, empty, or only "") means no
// target, so new connections are refused.
//
// When the set of backends changes, the connections to each backend that
// left it are closed before SetTargets returns, and so are the sessions the
// kernel forwarded to it; the connections to the backends that stay are
// kept. A connection given a backend before that backend left the set is
// never forwarded to it afterwards, even if the backend has come back
// meanwhile. Setting the same backends again, in any order, closes nothing.
//
// With a single backend, the endpoint forwards in the kernel where the
// kernel path is enabled; with several, teal forwards every connection.
func (m *Manager) SetTargets(name string, backends []string) error {
	if err := m.setTargets(name, backends); err != nil {
		return fmt.Errorf("set targets of endpoint %s: %w", name, err)
	}
	return nil
}

func (m *Manager) setTargets(name string, backends []string) error {
	var set []string
	for _, b := range backends {
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			return err
		}
		if !slices.Contains(set, b) {
			set = append(set, b)
		}
	}
	e := m.lookup(name)
	if e == nil {
		return ErrNotOpen
	}
	return e.setTargets(set)
}

// Port returns the endpoint's port, or 0 and false if it is not open.
func (m *Manager) Port(name string) (int, bool) {
	e := m.lookup(name)
	if e == nil {
		return 0, false
	}
	return e.port, true
}

// Target returns the endpoint's current backend, or "" if it has none or is
// not open. For an endpoint with several backends it returns the first.
func (m *Manager) Target(name string) string {
	e := m.lookup(name)
	if e == nil {
		return ""
	}
	return e.currentTarget()
}

// Targets returns a copy of the endpoint's backends, in order, or nil if it
// has none or is not open.
func (m *Manager) Targets(name string) []string {
	e := m.lookup(name)
	if e == nil {
		return nil
	}
	return e.currentTargets()
}

// Pause makes the endpoint hold new connections instead of forwarding them,
// for at most maxHold; Resume forwards them to the targets of that moment,
// in turn.
// A switchover pauses both environments' endpoints, moves the targets, and
// resumes, so that clients connecting meanwhile see a slow connect instead of
// an error.
func (m *Manager) Pause(name string, maxHold time.Duration) error {
	e := m.lookup(name)
	if e == nil {
		return ErrNotOpen
	}
	return e.pause(maxHold)
}

// Resume releases the connections held since Pause to the current targets,
// in turn, and returns how many there were. Resuming an endpoint that is not
// paused, or not open, does nothing.
func (m *Manager) Resume(name string) int {
	e := m.lookup(name)
	if e == nil {
		return 0
	}
	return e.resume()
}

// SetProtocol makes the endpoint follow the sessions it forwards in that
// protocol (ProtocolPostgres), so that Drain can end them between
// transactions. It applies to connections accepted from then on.
func (m *Manager) SetProtocol(name, protocol string) error {
	e := m.lookup(name)
	if e == nil {
		return ErrNotOpen
	}
	e.mu.Lock()
	e.protocol = protocol
	e.mu.Unlock()
	return nil
}

// Drain ends the endpoint's current sessions: each at its next transaction
// boundary when the endpoint follows its protocol, and any left at the
// deadline at once. Pause the endpoint first so no new session starts. It
// returns how many sessions ended cleanly and how many were cut.
func (m *Manager) Drain(name string, deadline time.Time) (clean, cut int) {
	e := m.lookup(name)
	if e == nil {
		return 0, 0
	}
	return e.drain(deadline)
}

// Followed returns the local ports of the server connections of the
// sessions the endpoint follows, which Drain ends between transactions
// itself (not those under TLS, whose messages teal cannot read). A caller draining the same server from inside skips them.
func (m *Manager) Followed(name string) []int {
	e := m.lookup(name)
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var ports []int
	for c := range e.conns {
		if !c.postgres || c.backend == nil {
			continue
		}
		// A session under TLS is opaque: teal cannot see its transactions
		// end, so the server's own drain ends it instead.
		c.mu.Lock()
		opaque := c.tracker != nil && c.tracker.opaque
		c.mu.Unlock()
		if !opaque {
			ports = append(ports, c.backend.LocalAddr().(*net.TCPAddr).Port)
		}
	}
	return ports
}

// Held is the number of connections the endpoint holds.
func (m *Manager) Held(name string) int {
	e := m.lookup(name)
	if e == nil {
		return 0
	}
	return e.heldCount()
}

// Conns returns the number of client connections currently forwarded through
// the endpoint by teal, to any of its backends, counting those whose backend
// dial is still in progress. Sessions the kernel forwards are not counted.
func (m *Manager) Conns(name string) int {
	e := m.lookup(name)
	if e == nil {
		return 0
	}
	return e.connCount()
}

// Refused returns how many connections the endpoint has closed at once since
// it opened: over the limits (SetLimits) or with no target.
func (m *Manager) Refused(name string) uint64 {
	e := m.lookup(name)
	if e == nil {
		return 0
	}
	return e.refused.Load()
}

// CloseEndpoint stops the endpoint's listener, closes its connections and
// waits until all of its goroutines have ended, so the port is free when it
// returns. Closing an endpoint that is not open is a no-op, so that deleting
// an instance can be retried.
func (m *Manager) CloseEndpoint(name string) error {
	m.mu.Lock()
	e, ok := m.endpoints[name]
	if !ok {
		m.mu.Unlock()
		return nil
	}
	delete(m.endpoints, name)
	// The listener is closed under m.mu so that an Open of the same name right
	// after CloseEndpoint can bind the port again.
	err := e.shutdown()
	m.mu.Unlock()

	e.wait()
	if err != nil {
		return fmt.Errorf("close endpoint %s: %w", name, err)
	}
	return nil
}

// Close closes every endpoint and waits for their goroutines. It is safe to
// call more than once; later Opens fail with ErrClosed.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	eps := make([]*endpoint, 0, len(m.endpoints))
	var errs []error
	for name, e := range m.endpoints {
		if err := e.shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("close endpoint %s: %w", name, err))
		}
		eps = append(eps, e)
	}
	clear(m.endpoints)
	if err := m.router.close(); err != nil {
		errs = append(errs, err)
	}
	m.mu.Unlock()

	for _, e := range eps {
		e.wait()
	}
	return errors.Join(errs...)
}

func (m *Manager) lookup(name string) *endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endpoints[name]
}
