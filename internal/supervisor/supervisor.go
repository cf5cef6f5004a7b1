// Package supervisor starts database server processes, knows when they are
// ready, reaps them, restarts them after a crash and stops them.
//
// It owns the life of each child process: the exec, the readiness probe, the
// one goroutine that waits on it, the restart loop after an unexpected exit
// and the graceful-then-forceful stop. It knows nothing about PostgreSQL or
// MariaDB; the engines describe a server with a Spec.
//
// Each server runs in its own process group, so that signals meant for teal
// (Ctrl-C on its terminal) do not reach it and so that a stop can kill the
// server together with every worker it forked. Each server also gets a
// parent-death signal, so that if teal itself is killed with SIGKILL its
// servers shut down instead of living on as orphans. The package is
// Linux-only because of that.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// Defaults applied to a Spec field left at its zero value.
const (
	DefaultStopSignal   = syscall.SIGTERM
	DefaultStopTimeout  = 30 * time.Second
	DefaultReadyTimeout = 60 * time.Second
)

// Timings of the supervision loops.
const (
	// The ready probe runs every fastReadyPoll for the first fastReadyFor
	// of a start, then every readyPollInterval: a server that starts in
	// tenths of a second is seen ready within 10 ms of it, and a long
	// crash recovery is not probed a hundred times a second.
	fastReadyPoll     = 10 * time.Millisecond
	fastReadyFor      = 2 * time.Second
	readyPollInterval = 75 * time.Millisecond
	minBackoff        = 200 * time.Millisecond
	maxBackoff        = 5 * time.Second
	// A process that stayed up this long after becoming ready is considered
	// healthy, so its next crash restarts it after minBackoff again rather
	// than after the backoff reached by earlier crashes.
	stableAfter = 30 * time.Second
	// How long to wait for a process to be reaped after SIGKILL. The kernel
	// normally needs milliseconds; a process stuck in uninterruptible I/O can
	// take longer, and we report that rather than wait forever.
	killWait = 10 * time.Second
)

// Errors returned by the Supervisor.
var (
	ErrClosed         = errors.New("supervisor closed")
	ErrAlreadyRunning = errors.New("already running")
	ErrNotFound       = errors.New("not supervised")
	ErrReadyTimeout   = errors.New("ready timeout")
)

// Spec describes how to run one server process.
type Spec struct {
	Path string
	Args []string
	// Env is the child's whole environment; nil inherits teal's.
	Env []string
	Dir string
	// Credential runs the server as this OS user; nil runs it as teal itself.
	Credential *syscall.Credential
	// LogPath receives the server's stdout and stderr, appended. The file is
	// created with mode 0600, owned by Credential's user if set. Empty
	// discards the output.
	LogPath string
	// PidFile is the server's own pid file (first line = pid), optional.
	// Before each start, a live leftover process named there (for example
	// from a teal that was killed) is stopped with StopSignal, then SIGKILL
	// after StopTimeout.
	PidFile string
	// StopSignal asks for a graceful stop (PostgreSQL: SIGINT for a fast
	// shutdown; MariaDB: SIGTERM). It is also the parent-death signal.
	StopSignal syscall.Signal
	// StopTimeout is how long a stop waits after StopSignal before it sends
	// SIGKILL to the whole process group.
	StopTimeout time.Duration
	// Ready is polled until it returns nil; nil means ready once started.
	// Its context ends when the ready timeout passes or the start is
	// abandoned.
	Ready        func(ctx context.Context) error
	ReadyTimeout time.Duration
}

func (s Spec) withDefaults() (Spec, error) {
	if s.Path == "" {
		return s, errors.New("spec has no Path")
	}
	if s.StopSignal == 0 {
		s.StopSignal = DefaultStopSignal
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = DefaultStopTimeout
	}
	if s.ReadyTimeout <= 0 {
		s.ReadyTimeout = DefaultReadyTimeout
	}
	return s, nil
}

// EventKind says what happened to a supervised process.
type EventKind int

const (
	// Started: the process was exec'd; Pid is set.
	Started EventKind = iota + 1
	// Ready: the Ready probe succeeded; Pid is set.
	Ready
	// Exited: the process ended without being asked to; Err is an
	// *ExitError carrying its exit status.
	Exited
	// Restarting: a restart after Exited or Failed is about to begin.
	Restarting
	// Stopped: Stop (or Close, or Restart) stopped the process.
	Stopped
	// Failed: a start or restart attempt did not reach Ready; Err says why.
	// Restart attempts continue after it; a failed Start does not retry.
	Failed
)

func (k EventKind) String() string {
	switch k {
	case Started:
		return "started"
	case Ready:
		return "ready"
	case Exited:
		return "exited"
	case Restarting:
		return "restarting"
	case Stopped:
		return "stopped"
	case Failed:
		return "failed"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// Event reports a change in a supervised process's life.
type Event struct {
	Name string
	Kind EventKind
	Pid  int
	Err  error
}

// ExitError reports how a server process ended.
type ExitError struct {
	Pid   int
	State *os.ProcessState
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("process %d ended: %s", e.Pid, e.State)
}

// Supervisor runs named server processes. Its methods are safe for
// concurrent use.
type Supervisor struct {
	logger  *slog.Logger
	onEvent func(Event)
	fork    *forker

	mu     sync.Mutex
	procs  map[string]*proc
	closed bool
}

// proc is one supervised name. Exactly one driver at a time launches its
// runs: first Start's caller, then the watch goroutine.
type proc struct {
	name string
	spec Spec

	// life ends when Stop is called; no launch or restart follows.
	life       context.Context
	endLife    context.CancelFunc
	driverDone chan struct{} // closed when the driver will launch no more runs
	stopped    sync.Once

	mu  sync.Mutex
	cur *run
}

func (p *proc) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (p *proc) setCurrent(r *run) {
	p.mu.Lock()
	p.cur = r
	p.mu.Unlock()
}

// New returns a Supervisor. onEvent, if not nil, is called synchronously from
// the supervisor's goroutines for every Event; it must return quickly and
// must not call Stop, Restart or Close, which wait for those goroutines.
// Close must be called to release the Supervisor.
func New(logger *slog.Logger, onEvent func(Event)) *Supervisor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{
		logger:  logger,
		onEvent: onEvent,
		fork:    newForker(),
		procs:   make(map[string]*proc),
	}
}

func (s *Supervisor) emit(ev Event) {
	if s.onEvent != nil {
		s.onEvent(ev)
	}
}

// Start launches the process and blocks until Ready succeeds, the ready
// timeout passes (the process is then stopped and an error returned), the
// process exits (the error includes the tail of LogPath), or ctx ends.
//
// After a successful Start the supervisor watches the process: on an
// unexpected exit it emits Exited, then restarts it with a backoff that
// starts at 200ms and doubles up to 5s, emitting Restarting, Started and
// Ready, and keeps trying until Stop or Close. A name can be started only
// once while it is supervised.
func (s *Supervisor) Start(ctx context.Context, name string, spec Spec) error {
	spec, err := spec.withDefaults()
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p, err := s.register(name, spec)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if err := s.launch(ctx, p); err != nil {
		s.logger.Error("server failed to start", "server", name, "err", err)
		s.emit(Event{Name: name, Kind: Failed, Err: err})
		// A concurrent Stop owns the cleanup once it has begun; otherwise
		// launch has already stopped the process and the name is free again.
		if p.life.Err() == nil {
			s.forget(p)
		}
		close(p.driverDone)
		return fmt.Errorf("start %s: %w", name, err)
	}
	go s.watch(p)
	return nil
}

func (s *Supervisor) register(name string, spec Spec) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if _, ok := s.procs[name]; ok {
		return nil, ErrAlreadyRunning
	}
	life, end := context.WithCancel(context.Background())
	p := &proc{name: name, spec: spec, life: life, endLife: end, driverDone: make(chan struct{})}
	s.procs[name] = p
	return p, nil
}

// forget removes p, unless the name has meanwhile been given to another proc.
func (s *Supervisor) forget(p *proc) {
	s.mu.Lock()
	if s.procs[p.name] == p {
		delete(s.procs, p.name)
	}
	s.mu.Unlock()
	p.endLife()
}

// launch starts one run of p and waits until it is ready. On failure the run
// is stopped here, unless Stop has begun, which then stops it itself.
func (s *Supervisor) launch(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unwatch := context.AfterFunc(p.life, cancel)
	defer unwatch()

	if err := stopLeftover(ctx, s.logger.With("server", p.name), p.spec); err != nil {
		return err
	}
	r, err := startRun(ctx, s.fork, p.spec)
	if err != nil {
		return err
	}
	p.setCurrent(r)
	s.logger.Info("server process started", "server", p.name, "pid", r.pid)
	s.emit(Event{Name: p.name, Kind: Started, Pid: r.pid})

	if err := r.waitReady(ctx, p.spec); err != nil {
		if p.life.Err() == nil {
			if serr := r.stop(context.Background(), s.logger.With("server", p.name), p.spec); serr != nil {
				err = errors.Join(err, serr)
			}
		}
		return err
	}
	s.logger.Info("server ready", "server", p.name, "pid", r.pid)
	s.emit(Event{Name: p.name, Kind: Ready, Pid: r.pid})
	return nil
}

// watch is p's driver after a successful Start: it waits for the current run
// to end and, unless Stop asked for that, starts a new one.
func (s *Supervisor) watch(p *proc) {
	defer close(p.driverDone)
	log := s.logger.With("server", p.name)
	backoff := minBackoff
	for {
		r := p.current()
		readyAt := time.Now()
		select {
		case <-p.life.Done():
			return
		case <-r.done:
		}
		// Stop ends life before it signals, so an exit it caused is seen
		// here with life already over.
		if p.life.Err() != nil {
			return
		}
		log.Error("server exited unexpectedly", "pid", r.pid, "err", r.exitErr)
		s.emit(Event{Name: p.name, Kind: Exited, Pid: r.pid, Err: r.exitErr})
		if time.Since(readyAt) >= stableAfter {
			backoff = minBackoff
		}
		for {
			if !sleep(p.life, backoff) {
				return
			}
			log.Info("restarting server", "after", backoff)
			backoff = min(backoff*2, maxBackoff)
			s.emit(Event{Name: p.name, Kind: Restarting})
			err := s.launch(p.life, p)
			if err == nil {
				break
			}
			if p.life.Err() != nil {
				return
			}
			log.Error("server restart failed", "err", err)
			s.emit(Event{Name: p.name, Kind: Failed, Err: err})
		}
	}
}

// sleep waits for d and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Stop stops the process gracefully (StopSignal, then SIGKILL to the process
// group after StopTimeout or when ctx ends), waits until it is reaped and
// forgets it. No restart follows. Stopping an unknown name is a no-op.
func (s *Supervisor) Stop(ctx context.Context, name string) error {
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := s.stop(ctx, p); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

func (s *Supervisor) stop(ctx context.Context, p *proc) error {
	p.endLife()
	// The driver may be between a launch and setting the current run; wait
	// until it is done so no run appears after we stop this one.
	select {
	case <-p.driverDone:
	case <-ctx.Done():
		return fmt.Errorf("waiting for supervision to end: %w", ctx.Err())
	}
	r := p.current()
	if r != nil {
		if err := r.stop(ctx, s.logger.With("server", p.name), p.spec); err != nil {
			return err
		}
	}
	s.forget(p)
	p.stopped.Do(func() {
		ev := Event{Name: p.name, Kind: Stopped}
		if r != nil {
			ev.Pid = r.pid
		}
		s.logger.Info("server stopped", "server", p.name, "pid", ev.Pid)
		s.emit(ev)
	})
	return nil
}

// Restart stops the process and starts it again with the same spec,
// blocking until it is ready.
func (s *Supervisor) Restart(ctx context.Context, name string) error {
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("restart %s: %w", name, ErrNotFound)
	}
	if err := s.stop(ctx, p); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	if err := s.Start(ctx, name, p.spec); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// Pid returns the pid of name's current process, or 0 if none is running.
func (s *Supervisor) Pid(name string) int {
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	if p == nil {
		return 0
	}
	r := p.current()
	if r == nil || r.hasExited() {
		return 0
	}
	return r.pid
}

// Running reports whether name has a live process.
func (s *Supervisor) Running(name string) bool {
	return s.Pid(name) != 0
}

// Close stops every process in parallel and waits for them. Start fails
// after Close. It is safe to call Close more than once.
func (s *Supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	procs := make([]*proc, 0, len(s.procs))
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()

	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.stop(ctx, p); err != nil {
				errs[i] = fmt.Errorf("stop %s: %w", p.name, err)
			}
		}()
	}
	wg.Wait()
	// Ending the fork thread also delivers the parent-death signal to any
	// child a failed stop left behind: a last resort against orphans.
	s.fork.close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close supervisor: %w", err)
	}
	return nil
}

// RunWhile runs spec's program once, outside supervision: it waits until
// the program is ready, runs while, and then stops the program as Stop
// does, whatever while returned. An exit of the program before while is
// done is an error with the end of its log. It is how a server is run for
// a task of its own (a recovery, a replay) before it is supervised.
func (s *Supervisor) RunWhile(ctx context.Context, name string, spec Spec, while func(ctx context.Context) error) error {
	log := s.logger.With("server", name)
	if err := stopLeftover(ctx, log, spec); err != nil {
		return err
	}
	r, err := startRun(ctx, s.fork, spec)
	if err != nil {
		return err
	}
	stop := func(err error) error {
		if serr := r.stop(context.Background(), log, spec); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	if err := r.waitReady(ctx, spec); err != nil {
		return stop(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited := make(chan struct{})
	go func() {
		select {
		case <-r.done:
			cancel()
		case <-wctx.Done():
		}
		close(exited)
	}()
	err = while(wctx)
	cancel()
	<-exited
	select {
	case <-r.done:
		if err == nil {
			return fmt.Errorf("exited: %w%s", r.exitErr, r.logTail())
		}
		return fmt.Errorf("%w (the server exited: %v%s)", err, r.exitErr, r.logTail())
	default:
	}
	return stop(err)
}
