package proxy

// A router carries an endpoint's new connections to its target beside
// teal's listener, which takes whatever the router leaves it. There are two:
// the kernel path (kernel.go), where teal is not in a session's data path,
// and listenerOnly, where teal forwards every connection itself.
type router interface {
	// route sends new connections to 127.0.0.1:port straight to
	// backend, or with backend "" to the listener.
	route(port int, backend string) error
	// holdAttempts holds, outside the listener, the connection attempts
	// made to port from now on; with an error (or where the router cannot
	// hold them) they reach the listener, which holds them.
	holdAttempts(port int) error
	// releaseAttempts lets the held attempts go where route now points.
	releaseAttempts(port int) error
	// heldAttempts is how many attempts are held outside the listener.
	heldAttempts(port int) int
	// endSessions ends the sessions to port the router carried to
	// backend, which teal does not see, and says how many it ended.
	endSessions(port int, backend string) (int, error)
	// sessions counts, by endpoint port, the open sessions the router
	// carried, which teal does not see.
	sessions() (map[int]int, error)
	close() error
}

// listenerOnly is the router of teal's own forwarding: every connection
// reaches the listener, so there is nothing to route, hold or end.
type listenerOnly struct{}

func (listenerOnly) route(int, string) error              { return nil }
func (listenerOnly) holdAttempts(int) error               { return nil }
func (listenerOnly) releaseAttempts(int) error            { return nil }
func (listenerOnly) heldAttempts(int) int                 { return 0 }
func (listenerOnly) endSessions(int, string) (int, error) { return 0, nil }
func (listenerOnly) sessions() (map[int]int, error)       { return nil, nil }
func (listenerOnly) close() error                         { return nil }

var (
	_ router = listenerOnly{}
	_ router = (*kernelPath)(nil)
)

// route implements router.
func (k *kernelPath) route(port int, backend string) error { return k.set(port, backend) }

// holdAttempts implements router: SYNs are queued where the kernel allows.
func (k *kernelPath) holdAttempts(port int) error {
	if k.syn == nil {
		return nil
	}
	return k.syn.hold(port)
}

// releaseAttempts implements router.
func (k *kernelPath) releaseAttempts(port int) error {
	if k.syn == nil {
		return nil
	}
	return k.syn.release(port)
}

// heldAttempts implements router.
func (k *kernelPath) heldAttempts(port int) int {
	if k.syn == nil {
		return 0
	}
	return k.syn.count(port)
}
