package server

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tealdb/teal/internal/proxy"
)

// apiListener caps the connections the API serves at once, so that a flood
// on the API cannot take the descriptors the endpoints and the rest of teal
// need. At the cap it stops accepting: new connections wait in the kernel's
// backlog, costing teal nothing, until one ends. And so that idle clients
// cannot keep the cap filled, it then closes the connections that wait for
// nothing: idle between requests, or silent for newConnGrace since they were
// accepted. A client that sends its request gets it served; one that sends
// nothing is closed as soon as someone else needs its place.
//
// Accept errors other than a closed listener (EMFILE, ENOBUFS, …) are
// retried with a capped backoff and never reach http.Server, which would stop
// serving on the ones it does not consider temporary.
type apiListener struct {
	net.Listener
	logger *slog.Logger
	// slots holds one token per connection open.
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*apiConn]struct{}

	acceptErrs, shedLog proxy.RateLog
}

// newConnGrace is how long a new connection may stay silent before it can be
// closed to make room. Clients send their request as soon as they connect,
// and one that waited in the backlog has it there already.
const newConnGrace = 500 * time.Millisecond

// shedCheckEvery is how often a listener at its cap looks again for
// connections to close.
const shedCheckEvery = 100 * time.Millisecond

// Backoff of the accept retries, as in the endpoints (internal/proxy).
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// logEvery is how often a repeated event (failed accepts, connections shed)
// is logged, at most.
const logEvery = 10 * time.Second

func newAPIListener(ln net.Listener, limit int, logger *slog.Logger) *apiListener {
	return &apiListener{
		Listener:   ln,
		logger:     logger,
		slots:      make(chan struct{}, max(limit, 1)),
		done:       make(chan struct{}),
		conns:      make(map[*apiConn]struct{}),
		acceptErrs: proxy.RateLog{Interval: logEvery},
		shedLog:    proxy.RateLog{Interval: logEvery},
	}
}

// apiConn is one API connection; closing it frees its slot. Its state is
// guarded by the listener's mu.
type apiConn struct {
	net.Conn
	l     *apiListener
	once  sync.Once
	state http.ConnState
	since time.Time
}

func (c *apiConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}

func (l *apiListener) Accept() (net.Conn, error) {
	if err := l.acquire(); err != nil {
		return nil, err
	}
	backoff := acceptBackoffMin
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			ac := &apiConn{Conn: c, l: l, state: http.StateNew, since: time.Now()}
			l.mu.Lock()
			l.conns[ac] = struct{}{}
			l.mu.Unlock()
			return ac, nil
		}
		if errors.Is(err, net.ErrClosed) {
			<-l.slots
			return nil, err
		}
		if n := l.acceptErrs.Tick(time.Now()); n > 0 {
			l.logger.Warn("API accept failed; retrying", "err", err, "failures", n, "backoff", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			<-l.slots
			return nil, net.ErrClosed
		}
		backoff = min(2*backoff, acceptBackoffMax)
	}
}

// acquire takes a slot for the next connection, closing connections that
// wait for nothing while there is none.
func (l *apiListener) acquire() error {
	for {
		select {
		case l.slots <- struct{}{}:
			return nil
		default:
		}
		l.shed(time.Now())
		t := time.NewTimer(shedCheckEvery)
		select {
		case l.slots <- struct{}{}:
			t.Stop()
			return nil
		case <-t.C:
		case <-l.done:
			t.Stop()
			return net.ErrClosed
		}
	}
}

// shed closes the connections that wait for nothing.
func (l *apiListener) shed(now time.Time) {
	var idle []*apiConn
	l.mu.Lock()
	for c := range l.conns {
		if c.state == http.StateIdle || (c.state == http.StateNew && now.Sub(c.since) >= newConnGrace) {
			idle = append(idle, c)
		}
	}
	l.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	if len(idle) > 0 {
		if n := l.shedLog.Tick(now); n > 0 {
			l.logger.Warn("API at its connection limit; closed idle connections", "closed", len(idle), "limit", cap(l.slots))
		}
	}
}

// connState is the http.Server's ConnState hook: it tells the listener which
// connections are idle.
func (l *apiListener) connState(c net.Conn, s http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn() // the API served over TLS
	}
	ac, ok := c.(*apiConn)
	if !ok {
		return
	}
	l.mu.Lock()
	ac.state, ac.since = s, time.Now()
	l.mu.Unlock()
}

func (l *apiListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// open returns how many connections are open.
func (l *apiListener) open() int {
	return len(l.slots)
}
