package proxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound the connections teal's own endpoint listeners hold, so that a
// flood of connections cannot take every file descriptor of the process and
// starve the API, the supervisor, the store and the other endpoints. A
// connection teal forwards costs it two descriptors (the client's and the
// server's), one it holds during a pause costs one; connections the kernel
// forwards (kernel.go) never reach the listener and cost none, so they are not
// counted. Zero means no limit.
type Limits struct {
	// PerEndpoint caps the connections one endpoint holds, so that a flood
	// on one endpoint leaves room for the others.
	PerEndpoint int
	// Total caps the connections all endpoints hold together, so that
	// floods on several endpoints leave descriptors for the rest of teal.
	Total int
}

// The limits and the count belong to the process, like the descriptors they
// protect: every Manager of the process shares them.
var (
	limitPerEndpoint atomic.Int64
	limitTotal       atomic.Int64
	// admitted counts the connections every endpoint listener of the
	// process holds: forwarded (dialing included) and held.
	admitted atomic.Int64
)

// SetLimits sets the connection limits of every endpoint of the process. It
// applies to connections accepted from then on; the ones already held are
// kept.
func SetLimits(l Limits) {
	limitPerEndpoint.Store(int64(max(l.PerEndpoint, 0)))
	limitTotal.Store(int64(max(l.Total, 0)))
}

// CurrentLimits returns the limits SetLimits set.
func CurrentLimits() Limits {
	return Limits{PerEndpoint: int(limitPerEndpoint.Load()), Total: int(limitTotal.Load())}
}

// takeSlot counts one more connection against the total limit, or reports
// that the limit is reached.
func takeSlot() bool {
	n := admitted.Add(1)
	if total := limitTotal.Load(); total > 0 && n > total {
		admitted.Add(-1)
		return false
	}
	return true
}

func giveSlot() { admitted.Add(-1) }

// Reasons a connection is refused, as logged.
const (
	refusedEndpointLimit = "endpoint connection limit reached"
	refusedTotalLimit    = "teal's connection limit reached"
	refusedNoTarget      = "endpoint has no target"
)

// overLimitLocked says why the endpoint may not take one more connection,
// or takes a slot for it and returns "". The caller holds e.mu.
func (e *endpoint) overLimitLocked() string {
	if per := limitPerEndpoint.Load(); per > 0 && int64(len(e.conns)+len(e.held)) >= per {
		return refusedEndpointLimit
	}
	if !takeSlot() {
		return refusedTotalLimit
	}
	return ""
}

// shed closes a connection over the limits at once. The reset tells the
// client straight away and leaves no TIME_WAIT behind on teal's side, which
// matters when thousands are shed.
func (e *endpoint) shed(client *net.TCPConn, reason string) {
	e.noteRefused(reason) // before the client can see the close
	client.SetLinger(0)
	client.Close()
}

// noteRefused counts a refused connection and logs it, at most once per
// refusalLogEvery per endpoint: a flood must not turn into a flood of log
// lines.
func (e *endpoint) noteRefused(reason string) {
	e.refused.Add(1)
	if n := e.refusals.Tick(time.Now()); n > 0 {
		e.logger.Warn("connections refused", "reason", reason, "refused", n, "refused_total", e.refused.Load(),
			"limit_per_endpoint", limitPerEndpoint.Load(), "limit_total", limitTotal.Load())
	}
}

// refusalLogEvery is how often an endpoint logs the connections it refuses
// or fails to accept, at most.
const refusalLogEvery = 10 * time.Second

// RateLog lets an event that may repeat thousands of times a second be logged
// at most once per Interval, with how many times it happened since. The API's
// listener uses it too.
type RateLog struct {
	Interval time.Duration

	mu   sync.Mutex
	last time.Time
	n    uint64
}

// tick records one event. It returns how many events the log line about it
// should report, or 0 when no line is due.
func (r *RateLog) Tick(now time.Time) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if !r.last.IsZero() && now.Sub(r.last) < r.Interval {
		return 0
	}
	n := r.n
	r.n, r.last = 0, now
	return n
}
