package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// How much of the log an error quotes when a server fails to start.
const (
	logTailBytes = 4096
	logTailLines = 20
)

// run is one execution of a server process.
type run struct {
	cmd       *exec.Cmd
	pid       int
	logPath   string
	logOffset int64 // size of the log before this run, so tails show only its output

	mu sync.Mutex
	// exited is set once the process has ended, while it is still an
	// unreaped zombie. From then on its pid, which is also its process
	// group id, may be reused, so no signal is sent any more.
	exited bool

	done    chan struct{} // closed once the process is reaped
	exitErr error         // how it ended; set before done is closed
}

// startRun execs the process described by spec and starts its reaper.
func startRun(ctx context.Context, fork *forker, spec Spec) (*run, error) {
	logFile, offset, err := openLog(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	if logFile != nil {
		cmd.Stdout = logFile
		cmd.Stderr = logFile
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  spec.StopSignal,
		Credential: spec.Credential,
	}
	err = fork.start(ctx, cmd)
	if logFile != nil {
		// The child has its own descriptor now.
		logFile.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", spec.Path, err)
	}
	r := &run{
		cmd:       cmd,
		pid:       cmd.Process.Pid,
		logPath:   spec.LogPath,
		logOffset: offset,
		done:      make(chan struct{}),
	}
	go r.reap()
	return r, nil
}

// openLog opens spec.LogPath for appending and returns its size before this
// run. It returns a nil file when there is no LogPath.
func openLog(spec Spec) (*os.File, int64, error) {
	if spec.LogPath == "" {
		return nil, 0, nil
	}
	f, err := os.OpenFile(spec.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open server log: %w", err)
	}
	if c := spec.Credential; c != nil {
		// The server may reopen its own log (log rotation), so the file
		// must belong to the user it runs as.
		if err := f.Chown(int(c.Uid), int(c.Gid)); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("chown server log: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat server log: %w", err)
	}
	return f, fi.Size(), nil
}

// reap is the only goroutine that waits on the process.
func (r *run) reap() {
	// Wait for the exit without reaping, so that the zombie keeps the pid
	// (and with it the process group id) reserved while we mark the run as
	// exited and kill what is left of its group. If this fails we only lose
	// that guard.
	if err := waitExited(r.pid); err == nil {
		r.mu.Lock()
		r.exited = true
		// Workers the server forked may outlive it (a PostgreSQL backend
		// after its postmaster was killed); they would keep the data
		// directory busy and block a restart.
		_ = syscall.Kill(-r.pid, syscall.SIGKILL)
		r.mu.Unlock()
	}
	err := r.cmd.Wait()
	r.mu.Lock()
	r.exited = true
	r.mu.Unlock()
	if r.cmd.ProcessState != nil {
		r.exitErr = &ExitError{Pid: r.pid, State: r.cmd.ProcessState}
	} else {
		r.exitErr = fmt.Errorf("wait for process %d: %w", r.pid, err)
	}
	close(r.done)
}

func (r *run) hasExited() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exited
}

// signal sends sig to the run's whole process group while it is alive.
func (r *run) signal(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exited {
		return nil
	}
	if err := syscall.Kill(-r.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, r.pid, err)
	}
	return nil
}

// stop sends spec.StopSignal, waits up to spec.StopTimeout (less if ctx ends
// first), then kills the process group and waits until the process is
// reaped. It is safe to call concurrently and after the process has ended.
func (r *run) stop(ctx context.Context, log *slog.Logger, spec Spec) error {
	if err := r.signal(spec.StopSignal); err != nil {
		return err
	}
	grace := time.NewTimer(spec.StopTimeout)
	defer grace.Stop()
	select {
	case <-r.done:
		return nil
	case <-grace.C:
		log.Warn("server ignored stop signal, killing it", "pid", r.pid, "signal", spec.StopSignal, "waited", spec.StopTimeout)
	case <-ctx.Done():
		log.Warn("stop abandoned, killing server", "pid", r.pid, "err", ctx.Err())
	}
	if err := r.signal(syscall.SIGKILL); err != nil {
		return err
	}
	// Deliberately not bounded by ctx: the caller is told the process is
	// gone only once it is reaped, and killWait bounds this wait.
	reaped := time.NewTimer(killWait)
	defer reaped.Stop()
	select {
	case <-r.done:
		return nil
	case <-reaped.C:
		return fmt.Errorf("process %d not reaped %v after SIGKILL", r.pid, killWait)
	}
}

// waitReady polls spec.Ready until it succeeds, the process ends, the ready
// timeout passes or ctx ends.
func (r *run) waitReady(ctx context.Context, spec Spec) error {
	ctx, cancel := context.WithTimeoutCause(ctx, spec.ReadyTimeout, ErrReadyTimeout)
	defer cancel()
	started := time.Now()
	wait := time.NewTimer(fastReadyPoll)
	defer wait.Stop()
	var probeErr error
	for {
		if spec.Ready == nil {
			return nil
		}
		if probeErr = spec.Ready(ctx); probeErr == nil {
			return nil
		}
		// An exit wins over a timeout that happened at the same moment: it
		// says more about what went wrong.
		select {
		case <-r.done:
			return fmt.Errorf("exited before ready: %w%s", r.exitErr, r.logTail())
		default:
		}
		select {
		case <-r.done:
			return fmt.Errorf("exited before ready: %w%s", r.exitErr, r.logTail())
		case <-ctx.Done():
			cause := context.Cause(ctx)
			if errors.Is(cause, ErrReadyTimeout) {
				return fmt.Errorf("not ready after %v (last probe: %v): %w%s", spec.ReadyTimeout, probeErr, cause, r.logTail())
			}
			return fmt.Errorf("waiting for ready: %w", cause)
		case <-wait.C:
			if time.Since(started) < fastReadyFor {
				wait.Reset(fastReadyPoll)
			} else {
				wait.Reset(readyPollInterval)
			}
		}
	}
}

// logTail returns the last lines this run wrote to its log, formatted to be
// appended to an error, or "" if there are none.
func (r *run) logTail() string {
	if r.logPath == "" {
		return ""
	}
	f, err := os.Open(r.logPath)
	if err != nil {
		return fmt.Sprintf("; log %s unreadable: %v", r.logPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("; log %s unreadable: %v", r.logPath, err)
	}
	from := max(r.logOffset, fi.Size()-logTailBytes)
	buf, err := io.ReadAll(io.NewSectionReader(f, from, fi.Size()-from))
	if err != nil {
		return fmt.Sprintf("; log %s unreadable: %v", r.logPath, err)
	}
	buf = bytes.TrimRight(buf, "\n")
	if len(buf) == 0 {
		return ""
	}
	lines := bytes.Split(buf, []byte("\n"))
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return fmt.Sprintf("; tail of %s:\n%s", r.logPath, bytes.Join(lines, []byte("\n")))
}
