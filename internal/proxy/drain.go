package proxy

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// Protocols an endpoint can follow.
const (
	ProtocolOpaque   = ""
	ProtocolPostgres = "postgres"
)

// startupTimeout bounds how long a new client may take to send its first
// message on a followed endpoint.
const startupTimeout = 10 * time.Second

// trackStartup reads a PostgreSQL client's first message before the backend
// is dialed, so the tracker knows what the server's first byte means.
// It returns the bytes to send to the backend first.
func (e *endpoint) trackStartup(c *conn) ([]byte, error) {
	c.client.SetReadDeadline(time.Now().Add(startupTimeout))
	first, expectByte, err := readStartup(c.client)
	c.client.SetReadDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tracker = &pgTracker{pendingByte: expectByte, opaque: len(first) == 4}
	c.mu.Unlock()
	return first, nil
}

// serveTracked forwards a followed connection in both directions. The
// server-to-client half feeds the tracker before writing, so that when a
// drain is under way the session ends right after the ReadyForQuery that
// closes its transaction, and nothing the client sends later reaches the
// server: its next statement fails to send, it is never half done.
func (e *endpoint) serveTracked(c *conn, backend *net.TCPConn, logger *slog.Logger) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := c.client.Read(buf)
			if n > 0 {
				c.mu.Lock()
				stop := c.closing
				c.busy = true
				c.mu.Unlock()
				if stop {
					return
				}
				if _, werr := backend.Write(buf[:n]); werr != nil {
					e.forget(c)
					return
				}
				e.toServer.Add(uint64(n))
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					backend.CloseWrite()
				} else {
					e.forget(c)
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := backend.Read(buf)
		if n > 0 {
			c.mu.Lock()
			if c.tracker.feed(buf[:n]) {
				c.busy = false
				c.closing = c.draining
			}
			closing := c.closing
			c.mu.Unlock()
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				break
			}
			e.toClient.Add(uint64(n))
			if closing {
				logger.Debug("session ended between transactions")
				break
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				c.client.CloseWrite()
				<-done
			}
			break
		}
	}
	e.forget(c)
	<-done
}

// stopAtBoundary marks c as draining and reports whether it can end now
// without cutting a transaction or a statement in flight; if so, nothing
// more from the client goes to the server.
func (c *conn) stopAtBoundary() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	switch {
	case !c.postgres:
		// A protocol the proxy does not follow: there is no boundary to
		// wait for, so the session ends now.
		c.closing = true
	case c.tracker != nil && !c.tracker.opaque && c.tracker.status == txIdle && !c.busy:
		c.closing = true
	}
	return c.closing
}

// drain ends every current session at its next transaction boundary, and
// whatever is left at the deadline. New connections are not affected: pause
// first to hold them. It reports how many sessions ended at a boundary and
// how many had to be cut.
func (e *endpoint) drain(deadline time.Time) (clean, cut int) {
	e.mu.Lock()
	total := len(e.conns)
	// Every session is marked before any is closed, so that none can pass
	// its next boundary unmarked while the others are being closed.
	var now []*conn
	for c := range e.conns {
		if c.stopAtBoundary() {
			now = append(now, c)
		}
	}
	for _, c := range now {
		e.closeConnLocked(c)
	}
	e.mu.Unlock()
	// Sessions that end before the deadline, at a boundary or because
	// their client left, are clean; the rest are cut.
	defer func() { clean = total - cut }()
	for {
		e.mu.Lock()
		left := len(e.conns)
		if left == 0 {
			e.mu.Unlock()
			break
		}
		if time.Now().After(deadline) {
			for c := range e.conns {
				e.closeConnLocked(c)
			}
			e.mu.Unlock()
			cut += left
			break
		}
		e.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	return clean, cut
}
