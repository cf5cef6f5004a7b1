package supervisor

import (
	"context"
	"os/exec"
	"runtime"
	"sync"
)

// forker execs every child of one Supervisor from a single OS thread that
// stays locked for the Supervisor's lifetime.
//
// Linux sends the parent-death signal (SysProcAttr.Pdeathsig) when the
// *thread* that forked the child exits, not when the process does. Go may end
// a thread while teal keeps running: the runtime terminates a thread whose
// goroutine exits while locked to it with runtime.LockOSThread, which some
// libraries do. Forking from an arbitrary goroutine would then stop a healthy
// server at a random moment (the supervisor would restart it, but a database
// restart is not free). Pinning one thread per server would avoid that at the
// cost of a thread each; pinning one thread per Supervisor costs a single
// thread and gives the same guarantee. The thread ends only when Close has
// stopped every server, and if some server survived a failed stop, the end
// of the thread sends it the parent-death signal: the last defence against an
// orphan.
type forker struct {
	reqs chan forkRequest
	quit chan struct{}
	done chan struct{}

	mu      sync.Mutex
	started bool
	closed  bool
}

type forkRequest struct {
	cmd  *exec.Cmd
	errc chan error
}

func newForker() *forker {
	return &forker{
		reqs: make(chan forkRequest),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// start runs cmd.Start on the fork thread, which it starts on first use.
func (f *forker) start(ctx context.Context, cmd *exec.Cmd) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	if !f.started {
		f.started = true
		go f.loop()
	}
	f.mu.Unlock()

	req := forkRequest{cmd: cmd, errc: make(chan error, 1)}
	select {
	case f.reqs <- req:
	case <-f.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// The loop answers every request it takes, after one fork and exec.
	return <-req.errc
}

func (f *forker) loop() {
	defer close(f.done)
	// Never unlocked: when loop returns, the runtime ends the thread, as
	// intended (see forker).
	runtime.LockOSThread()
	for {
		select {
		case req := <-f.reqs:
			req.errc <- req.cmd.Start()
		case <-f.quit:
			return
		}
	}
}

// close ends the fork thread and waits for it. Later starts fail.
func (f *forker) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	started := f.started
	close(f.quit)
	f.mu.Unlock()
	if started {
		<-f.done
	}
}
