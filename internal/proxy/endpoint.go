package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds how long a client waits for its backend. The backends are
// local servers, so a slow dial means something is wrong and the client is
// better off seeing a closed connection and retrying.
const dialTimeout = 5 * time.Second

// Accept errors other than a closed listener (for example EMFILE) are retried
// with a capped backoff, so that running out of file descriptors for a moment
// does not take the endpoint down for good.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// endpoint is one listener and the connections it forwards. Its routing state
// (targets, gen, since, conns) lives under its own mutex so that a switchover
// can hold, drain and swap one endpoint without touching the others: admission
// of a new connection and a change of targets are each a single critical
// section.
type endpoint struct {
	name     string
	port     int
	protocol string // ProtocolPostgres: sessions are followed, so a drain can end them between transactions
	ln       *net.TCPListener
	logger   *slog.Logger
	// afterDial is the Manager's test hook; nil in production.
	afterDial func()
	// router carries new connections to the target whenever the endpoint
	// has exactly one and is not paused (router.go); with several, every
	// new connection reaches the listener, which spreads them. routeMu
	// orders the changes of that route; it is taken before mu, and never
	// held while forwarding, since a change of route may be a netlink
	// round trip.
	router  router
	routeMu sync.Mutex
	// routed is the backend the router last carried new connections to,
	// whose sessions it may still forward, or "" when it never did or
	// those sessions were ended. Every session the router forwards from
	// this endpoint goes to routed: the router only routes to a single
	// target, and before it routes to another one the previous one has
	// left the set of targets, which ends its sessions. Guarded by
	// routeMu.
	routed string

	// ctx is cancelled on shutdown to abort backend dials and accept backoff.
	ctx    context.Context
	cancel context.CancelFunc

	// acceptDone is closed when the accept loop has returned.
	acceptDone chan struct{}
	// wg counts the accept loop and every connection goroutine.
	wg sync.WaitGroup

	// refused counts the connections closed at once: over the limits
	// (limits.go) or with no target. refusals and acceptErrs keep the log
	// of them and of failed accepts to a line now and then.
	refused    atomic.Uint64
	refusals   RateLog
	acceptErrs RateLog
	// acceptFailures counts failed accepts, for tests.
	acceptFailures atomic.Uint64
	// toServer and toClient count the bytes teal forwarded (the kernel's
	// forwarding is not seen); a session's count is added as it ends,
	// or as it goes when teal follows its protocol.
	toServer, toClient atomic.Uint64

	mu sync.Mutex
	// targets are the backends new connections go to, each at most once,
	// in the order they were given; with none, new connections are
	// refused. next counts the connections given a backend, so that they
	// take the targets in turn (round-robin).
	targets []string
	next    uint64
	// gen increases with every change of the set of targets, and since
	// holds, for each target, the generation at which it last entered the
	// set. A connection records its backend and the generation it was
	// admitted under; it may be attached to that backend, and stay open,
	// only while the backend is in the set and entered it no later than
	// that generation (current). This closes the race between a dial in
	// flight and a change of targets: a backend removed while a dial to it
	// was in flight never gets that connection, even if it was added back
	// meanwhile, since it then re-entered the set at a later generation.
	gen    uint64
	since  map[string]uint64
	conns  map[*conn]struct{}
	closed bool

	// While paused, new connections are accepted and held, not forwarded:
	// a client sees a slow connect instead of a refusal. resume forwards
	// them to the targets of that moment, in turn. holdTimer resumes by
	// itself after the longest hold, so a hold can never outlive its
	// purpose.
	paused    bool
	held      []*net.TCPConn
	holdTimer *time.Timer
	holdGen   uint64 // which pause the timer belongs to
}

// conn is one client connection and, once dialed, its backend connection.
// Its mutable fields are guarded by the endpoint's mu.
type conn struct {
	client  *net.TCPConn
	backend *net.TCPConn
	target  string // the backend it was given
	gen     uint64 // the endpoint's generation when it was admitted

	// PostgreSQL sessions are followed message by message (pgwire.go) so a
	// drain can end them between transactions. busy: the client has sent
	// something the server has not answered with ReadyForQuery yet. These
	// fields have their own lock, so forwarding never contends on the
	// endpoint's; the endpoint's lock, when both are held, comes first.
	postgres bool // follow the session (the endpoint's protocol when it was accepted)
	mu       sync.Mutex
	tracker  *pgTracker
	busy     bool
	draining bool
	closing  bool // ended at a boundary: nothing more goes to the server
	// cancelDial aborts a dial in progress when the connection is closed.
	cancelDial context.CancelFunc
	closed     bool
}

func newEndpoint(name string, ln *net.TCPListener, logger *slog.Logger) *endpoint {
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	return &endpoint{
		name:       name,
		port:       port,
		ln:         ln,
		router:     listenerOnly{},
		logger:     logger.With("endpoint", name, "port", port),
		ctx:        ctx,
		cancel:     cancel,
		acceptDone: make(chan struct{}),
		since:      make(map[string]uint64),
		conns:      make(map[*conn]struct{}),
		refusals:   RateLog{Interval: refusalLogEvery},
		acceptErrs: RateLog{Interval: refusalLogEvery},
	}
}

func (e *endpoint) start() {
	e.wg.Add(1)
	go e.acceptLoop()
}

func (e *endpoint) acceptLoop() {
	defer e.wg.Done()
	defer close(e.acceptDone)

	backoff := acceptBackoffMin
	for {
		c, err := e.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || e.ctx.Err() != nil {
				return
			}
			e.acceptFailures.Add(1)
			if n := e.acceptErrs.Tick(time.Now()); n > 0 {
				e.logger.Warn("accept failed; retrying", "err", err, "failures", n, "backoff", backoff)
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-e.ctx.Done():
				t.Stop()
				return
			}
			backoff = min(2*backoff, acceptBackoffMax)
			continue
		}
		backoff = acceptBackoffMin
		e.admit(c)
	}
}

// admit decides what happens to a new client connection: closed at once
// when it is over the limits (limits.go), held while the endpoint is paused,
// else forwarded to the next target or, with no target, closed at once.
// Every connection the endpoint keeps holds a slot until it is closed.
func (e *endpoint) admit(client *net.TCPConn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		client.Close()
		return
	}
	if reason := e.overLimitLocked(); reason != "" {
		e.shed(client, reason)
		return
	}
	if e.paused {
		e.held = append(e.held, client)
		return
	}
	e.forwardLocked(client)
}

// forwardLocked starts forwarding client to the next target in turn, or
// closes it when there is none. client holds a slot, which closing it gives
// back.
func (e *endpoint) forwardLocked(client *net.TCPConn) {
	if len(e.targets) == 0 {
		// Counted before the client can see the close.
		e.noteRefused(refusedNoTarget)
		client.Close()
		giveSlot()
		return
	}
	target := e.targets[e.next%uint64(len(e.targets))]
	e.next++

	ctx, cancel := context.WithTimeout(e.ctx, dialTimeout)
	c := &conn{
		client:     client,
		target:     target,
		gen:        e.gen,
		cancelDial: cancel,
		postgres:   e.protocol == ProtocolPostgres,
	}
	e.conns[c] = struct{}{}
	// Added under mu while not closed, so shutdown's Wait never races an Add.
	e.wg.Add(1)
	go e.serve(ctx, c)
}

// serve dials c's backend and forwards bytes until both directions end or c
// is closed. A backend that cannot be reached fails the connection: it is
// not retried on another target.
func (e *endpoint) serve(ctx context.Context, c *conn) {
	defer e.wg.Done()
	defer e.forget(c)

	logger := e.logger.With("backend", c.target, "client", c.client.RemoteAddr().String())
	var first []byte
	if c.postgres {
		var err error
		if first, err = e.trackStartup(c); err != nil {
			c.cancelDial()
			logger.Debug("client sent no startup message", "err", err)
			return
		}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.target)
	c.cancelDial()
	if err != nil {
		// Fail closed: the client sees its connection closed and retries; it is
		// never sent anywhere but the server holding the identifier.
		logger.Warn("backend dial failed; closing client connection", "err", err)
		return
	}
	backend := nc.(*net.TCPConn)
	if e.afterDial != nil {
		e.afterDial()
	}
	if !e.attach(c, backend) {
		backend.Close()
		logger.Debug("connection closed while dialing backend")
		return
	}
	if first != nil {
		if _, err := backend.Write(first); err != nil {
			logger.Warn("backend write failed; closing client connection", "err", err)
			return
		}
	}
	logger.Debug("connection forwarded")

	// Go's default for TCP is TCP_NODELAY on both sides, which database
	// protocols need for small request/response messages; nothing to set.
	if c.tracker != nil {
		e.serveTracked(c, backend, logger)
		return
	}
	done := make(chan int64, 1)
	go func() { done <- pipe(c.client, backend) }()
	up := pipe(backend, c.client)
	down := <-done
	e.toServer.Add(uint64(up))
	e.toClient.Add(uint64(down))
	logger.Debug("connection ended", "bytes_to_backend", up, "bytes_to_client", down)
}

// pipe copies src to dst until EOF and then half-closes dst, so a client that
// shuts down its writing side is seen as such by the server and vice versa.
// On any other error it closes both connections, which ends the opposite pipe
// too. Both ends are *net.TCPConn so that io.Copy can splice on Linux.
func pipe(dst, src *net.TCPConn) int64 {
	n, err := io.Copy(dst, src)
	if err != nil {
		dst.Close()
		src.Close()
		return n
	}
	if err := dst.CloseWrite(); err != nil {
		dst.Close()
		src.Close()
	}
	return n
}

// attach records the backend of c if c is still wanted: not closed, and
// current (see currentLocked).
func (e *endpoint) attach(c *conn, backend *net.TCPConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.closed || !e.currentLocked(c) {
		return false
	}
	c.backend = backend
	return true
}

// currentLocked reports whether c's backend has been in the set of targets
// without a break since c was admitted: it is in the set, and entered it at
// or before c's generation. The caller holds e.mu.
func (e *endpoint) currentLocked(c *conn) bool {
	since, ok := e.since[c.target]
	return ok && since <= c.gen
}

// forget closes c if it is still open and drops it from the set.
func (e *endpoint) forget(c *conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closeConnLocked(c)
}

// closeConnLocked closes both sides of c and removes it from the set, so it no
// longer counts as forwarded even before its goroutines have wound down.
func (e *endpoint) closeConnLocked(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	c.cancelDial()
	c.client.Close()
	if c.backend != nil {
		c.backend.Close()
	}
	delete(e.conns, c)
	giveSlot()
}

// setTargets makes backends (valid, distinct addresses) the endpoint's
// targets. Connections to a backend that leaves the set are closed, and the
// sessions the router carried to it ended, before it returns; connections to
// the backends that stay are kept. Giving the same backends again, in any
// order, closes nothing (the order is taken for the turns to come).
func (e *endpoint) setTargets(backends []string) error {
	e.routeMu.Lock()
	defer e.routeMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrNotOpen
	}
	// The slice is replaced on change, never written to, and only changed
	// under routeMu, which is held: previous stays valid unlocked.
	previous := e.targets
	e.mu.Unlock()
	removed := without(previous, backends)
	added := without(backends, previous)
	if len(removed) == 0 && len(added) == 0 {
		if !slices.Equal(previous, backends) {
			e.mu.Lock()
			e.targets = backends
			e.mu.Unlock()
		}
		return nil
	}
	if len(removed) > 0 {
		// New connections reach the listener from now on, which still
		// sends them to the previous targets until the set changes below;
		// those to a removed backend are closed there.
		if err := e.router.route(e.port, ""); err != nil {
			return err
		}
		// Sessions the router carried to a removed backend end too. Only
		// routed's: the router carries sessions to no other backend.
		if e.routed != "" && slices.Contains(removed, e.routed) {
			if n, err := e.router.endSessions(e.port, e.routed); err != nil {
				e.logger.Warn("ending kernel-forwarded sessions failed", "err", err, "ended", n)
			} else {
				if n > 0 {
					e.logger.Info("ended kernel-forwarded sessions", "sessions", n, "backend", e.routed)
				}
				e.routed = ""
			}
		}
	}
	e.mu.Lock()
	e.gen++
	since := make(map[string]uint64, len(backends))
	for _, b := range backends {
		if g, ok := e.since[b]; ok {
			since[b] = g
		} else {
			since[b] = e.gen
		}
	}
	e.targets, e.since = backends, since
	// Connections to a removed backend are no longer current: they would
	// be talking to a server that is no longer one of this endpoint's.
	n := 0
	for c := range e.conns {
		if !e.currentLocked(c) {
			e.closeConnLocked(c)
			n++
		}
	}
	e.mu.Unlock()
	e.logger.Info("endpoint targets changed", "backends", backends, "added", added, "removed", removed, "closed_conns", n)
	return e.route()
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// route brings the router in line with the endpoint: connections go
// straight to the target when the endpoint has exactly one and is neither
// paused nor closed; otherwise they reach the listener, which holds them,
// spreads them over several targets, or refuses them. The caller holds
// routeMu.
func (e *endpoint) route() error {
	e.mu.Lock()
	to := ""
	if len(e.targets) == 1 && !e.paused && !e.closed {
		to = e.targets[0]
	}
	e.mu.Unlock()
	if err := e.router.route(e.port, to); err != nil {
		return err
	}
	if to != "" {
		e.routed = to
	}
	return nil
}

// pause starts holding new connections, for at most maxHold.
func (e *endpoint) pause(maxHold time.Duration) error {
	e.routeMu.Lock()
	defer e.routeMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrNotOpen
	}
	wasPaused := e.paused
	e.paused = true
	e.mu.Unlock()
	if err := e.route(); err != nil {
		// Connections would still go straight to the server: not holding.
		e.mu.Lock()
		e.paused = wasPaused
		e.mu.Unlock()
		return err
	}
	if err := e.router.holdAttempts(e.port); err != nil {
		e.logger.Warn("holding connection attempts in the kernel failed; the listener holds them", "err", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.holdTimer != nil {
		e.holdTimer.Stop()
	}
	e.holdGen++
	gen := e.holdGen
	e.holdTimer = time.AfterFunc(maxHold, func() {
		e.mu.Lock()
		current := e.paused && e.holdGen == gen
		e.mu.Unlock()
		if current {
			e.logger.Warn("endpoint hold expired; releasing held connections")
			e.resume()
		}
	})
	e.logger.Info("endpoint holding new connections", "max_hold", maxHold)
	return nil
}

// resume forwards the held connections to the current targets, in turn, and
// stops holding. It returns how many connections were held. The kernel path
// returns only after the held connections are on their way.
func (e *endpoint) resume() int {
	n, was := e.release()
	if was {
		e.routeMu.Lock()
		if err := e.route(); err != nil {
			// Connections keep reaching the listener, which forwards them.
			e.logger.Warn("kernel path not restored; the endpoint forwards every connection itself", "err", err)
		}
		// After the route: the held attempts go where it now points.
		if err := e.router.releaseAttempts(e.port); err != nil {
			e.logger.Warn("releasing held connection attempts", "err", err)
		}
		e.routeMu.Unlock()
	}
	return n
}

func (e *endpoint) release() (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.holdTimer != nil {
		e.holdTimer.Stop()
		e.holdTimer = nil
	}
	if !e.paused {
		return 0, false
	}
	e.paused = false
	held := e.held
	e.held = nil
	for _, c := range held {
		if e.closed {
			c.Close()
			giveSlot()
			continue
		}
		e.forwardLocked(c)
	}
	e.logger.Info("endpoint released held connections", "held", len(held), "backends", e.targets)
	return len(held), true
}

func (e *endpoint) heldCount() int {
	e.mu.Lock()
	n := len(e.held)
	e.mu.Unlock()
	return n + e.router.heldAttempts(e.port)
}

// currentTarget is the first target, or "" when there is none.
func (e *endpoint) currentTarget() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.targets) == 0 {
		return ""
	}
	return e.targets[0]
}

// currentTargets is a copy of the targets, nil when there are none.
func (e *endpoint) currentTargets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.targets)
}

func (e *endpoint) connCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// shutdown stops the listener and closes every connection without waiting;
// wait then waits for the goroutines. The split lets the Manager free the port
// while holding its lock and wait outside it.
func (e *endpoint) shutdown() error {
	err := e.close()
	e.routeMu.Lock()
	defer e.routeMu.Unlock()
	if rerr := e.route(); rerr != nil {
		e.logger.Warn("kernel path not removed", "err", rerr)
		return err
	}
	if rerr := e.router.releaseAttempts(e.port); rerr != nil {
		e.logger.Warn("releasing held connection attempts", "err", rerr)
	}
	// Like the connections teal forwarded, those the router carried end too.
	if n, derr := e.router.endSessions(e.port, e.routed); derr != nil {
		e.logger.Warn("ending kernel-forwarded sessions failed", "err", derr, "ended", n)
	}
	return err
}

func (e *endpoint) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.cancel()
	if e.holdTimer != nil {
		e.holdTimer.Stop()
	}
	for _, c := range e.held {
		c.Close()
		giveSlot()
	}
	e.held = nil
	err := e.ln.Close()
	n := len(e.conns)
	for c := range e.conns {
		e.closeConnLocked(c)
	}
	e.logger.Info("endpoint closed", "backends", e.targets, "closed_conns", n)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func (e *endpoint) wait() {
	e.wg.Wait()
}
