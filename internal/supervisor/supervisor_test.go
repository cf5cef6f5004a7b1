package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder collects the events a Supervisor emits.
type recorder struct {
	mu      sync.Mutex
	events  []Event
	times   []time.Time
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}, 1)}
}

func (r *recorder) record(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.times = append(r.times, time.Now())
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// restartDelays returns, for each Restarting event, the time since the
// Exited or Failed event before it.
func (r *recorder) restartDelays() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var delays []time.Duration
	var failedAt time.Time
	for i, ev := range r.events {
		switch ev.Kind {
		case Exited, Failed:
			failedAt = r.times[i]
		case Restarting:
			delays = append(delays, r.times[i].Sub(failedAt))
		}
	}
	return delays
}

// waitFor returns the first event of kind at or after index from, and the
// index after it, waiting up to d.
func (r *recorder) waitFor(t *testing.T, from int, kind EventKind, d time.Duration) (Event, int) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		events := r.snapshot()
		for i := from; i < len(events); i++ {
			if events[i].Kind == kind {
				return events[i], i + 1
			}
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("no %v event after %v; events: %v", kind, d, events)
		}
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type fixture struct {
	t   *testing.T
	sup *Supervisor
	rec *recorder
	dir string
	exe string

	mu   sync.Mutex
	pids []int // killed at the end if Close left them alive
}

// track makes sure pid is dead when the test ends, after Close had its go.
func (f *fixture) track(pid int) {
	f.mu.Lock()
	f.pids = append(f.pids, pid)
	f.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := &fixture{t: t, sup: New(logger, rec.record), rec: rec, dir: t.TempDir(), exe: exe}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.sup.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, pid := range f.pids {
			// A SIGKILL sent to a group takes a moment to land.
			if !waitDead(pid, 3*time.Second) {
				t.Errorf("process %d alive after Close; killing it", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return f
}

// spec describes a fake server called name; env adds fake server settings.
func (f *fixture) spec(name string, env ...string) Spec {
	ready := filepath.Join(f.dir, name+".ready")
	return Spec{
		Path:         f.exe,
		Env:          append(append(os.Environ(), envMode+"="+modeServer, envReadyFile+"="+ready), env...),
		LogPath:      filepath.Join(f.dir, name+".log"),
		StopSignal:   syscall.SIGINT,
		StopTimeout:  10 * time.Second,
		Ready:        readyProbe(f.sup, name, ready),
		ReadyTimeout: 20 * time.Second,
	}
}

func (f *fixture) start(name string, spec Spec) int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.sup.Start(ctx, name, spec); err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	pid := f.sup.Pid(name)
	if pid == 0 {
		f.t.Fatalf("%s has no pid after a successful start", name)
	}
	f.track(pid)
	return pid
}

func (f *fixture) stop(name string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.sup.Stop(ctx, name); err != nil {
		f.t.Fatalf("stop %s: %v", name, err)
	}
}

func (f *fixture) log(name string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name+".log"))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func TestStartWaitsUntilReady(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pid := f.start("db", f.spec("db"))

	ready, err := os.ReadFile(filepath.Join(f.dir, "db.ready"))
	if err != nil {
		t.Fatalf("Start returned before the server was ready: %v", err)
	}
	if string(ready) != strconv.Itoa(pid) {
		t.Errorf("ready file names pid %s, Pid() = %d", ready, pid)
	}
	if !f.sup.Running("db") {
		t.Error("Running = false after Start")
	}
	// Own process group, so terminal signals to teal do not reach it.
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("server pgid = %d (%v), want its own group %d", pgid, err, pid)
	}
	ev, next := f.rec.waitFor(t, 0, Started, time.Second)
	if ev.Pid != pid || ev.Name != "db" {
		t.Errorf("Started event = %+v, want db pid %d", ev, pid)
	}
	if ev, _ := f.rec.waitFor(t, next, Ready, time.Second); ev.Pid != pid {
		t.Errorf("Ready event = %+v, want pid %d", ev, pid)
	}
	if !strings.Contains(f.log("db"), fmt.Sprintf("fake server starting pid=%d", pid)) {
		t.Errorf("server output missing from log:\n%s", f.log("db"))
	}
}

// TestReadyProbedOftenWhileStarting: while a server starts, its ready
// probe runs every 10 ms, so a start is seen soon after it is done. The
// probe here says ready 300 ms after its first run: every 75 ms would
// be five probes, every 10 ms about thirty.
func TestReadyProbedOftenWhileStarting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec("db")
	var probes int
	var first time.Time
	spec.Ready = func(ctx context.Context) error {
		if probes++; probes == 1 {
			first = time.Now()
		}
		if time.Since(first) < 300*time.Millisecond {
			return errors.New("starting")
		}
		return nil
	}
	f.start("db", spec)
	if probes < 10 {
		t.Errorf("the ready probe ran %d times in 300 ms", probes)
	}
}

func TestStartTwiceFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pid := f.start("db", f.spec("db"))
	err := f.sup.Start(context.Background(), "db", f.spec("db"))
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Start: err = %v, want ErrAlreadyRunning", err)
	}
	if got := f.sup.Pid("db"); got != pid {
		t.Errorf("Pid after failed second Start = %d, want %d", got, pid)
	}
}

func TestStartReadyTimeoutStopsProcess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec("db")
	spec.Ready = func(context.Context) error { return errors.New("not accepting connections") }
	spec.ReadyTimeout = 500 * time.Millisecond

	begin := time.Now()
	err := f.sup.Start(context.Background(), "db", spec)
	if !errors.Is(err, ErrReadyTimeout) {
		t.Fatalf("Start: err = %v, want ErrReadyTimeout", err)
	}
	if !strings.Contains(err.Error(), "not accepting connections") {
		t.Errorf("error does not say what the probe last said: %v", err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Start took %v with a 500ms ready timeout", took)
	}
	ev, _ := f.rec.waitFor(t, 0, Started, time.Second)
	f.track(ev.Pid)
	if alive(ev.Pid) {
		t.Errorf("process %d still alive after the ready timeout", ev.Pid)
	}
	if f.sup.Running("db") {
		t.Error("Running = true after a failed Start")
	}
	f.rec.waitFor(t, 0, Failed, time.Second)
	if !strings.Contains(f.log("db"), "received interrupt") {
		t.Errorf("process was not stopped with its stop signal; log:\n%s", f.log("db"))
	}
}

func TestStartExitBeforeReady(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	err := f.sup.Start(context.Background(), "db", f.spec("db", envExitCode+"=3"))
	if err == nil {
		t.Fatal("Start of a server that exits succeeded")
	}
	if ee := asExitError(t, err); ee.State.ExitCode() != 3 {
		t.Errorf("exit code = %d, want 3", ee.State.ExitCode())
	}
	if !strings.Contains(err.Error(), "FATAL: fake failure before ready") {
		t.Errorf("error lacks the log tail: %v", err)
	}
	if f.sup.Running("db") {
		t.Error("Running = true after a failed Start")
	}
	// The name is free again.
	f.start("db", f.spec("db"))
}

func TestStartAbandonedWhenContextEnds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := f.spec("db")
	spec.Ready = func(context.Context) error { return errors.New("never") }
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := f.sup.Start(ctx, "db", spec)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: err = %v, want context.DeadlineExceeded", err)
	}
	ev, _ := f.rec.waitFor(t, 0, Started, time.Second)
	f.track(ev.Pid)
	if alive(ev.Pid) {
		t.Errorf("process %d still alive after Start gave up", ev.Pid)
	}
}

func TestRestartsAfterKill(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pid := f.start("db", f.spec("db"))
	_, from := f.rec.waitFor(t, 0, Ready, time.Second)

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev, next := f.rec.waitFor(t, from, Exited, 10*time.Second)
	if ev.Pid != pid {
		t.Errorf("Exited event pid = %d, want %d", ev.Pid, pid)
	}
	ee := asExitError(t, ev.Err)
	if ws, ok := ee.State.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("Exited status = %v, want killed by SIGKILL", ee.State)
	}
	_, next = f.rec.waitFor(t, next, Restarting, 10*time.Second)
	started, next := f.rec.waitFor(t, next, Started, 10*time.Second)
	f.track(started.Pid)
	ready, _ := f.rec.waitFor(t, next, Ready, 20*time.Second)
	if ready.Pid == pid || ready.Pid != started.Pid {
		t.Errorf("restarted pid: Started %d, Ready %d; old pid %d", started.Pid, ready.Pid, pid)
	}
	if got := f.sup.Pid("db"); got != ready.Pid {
		t.Errorf("Pid after restart = %d, want %d", got, ready.Pid)
	}
}

func TestRestartBacksOffWhileFailing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fail := filepath.Join(f.dir, "fail")
	spec := f.spec("db")
	probe := spec.Ready
	spec.Ready = func(ctx context.Context) error {
		if _, err := os.Stat(fail); err == nil {
			return errors.New("told to fail")
		}
		return probe(ctx)
	}
	spec.ReadyTimeout = 300 * time.Millisecond
	pid := f.start("db", spec)

	if err := os.WriteFile(fail, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Two failed attempts, then let the third succeed.
	_, next := f.rec.waitFor(t, 0, Exited, 10*time.Second)
	_, next = f.rec.waitFor(t, next, Failed, 10*time.Second)
	_, next = f.rec.waitFor(t, next, Failed, 10*time.Second)
	if err := os.Remove(fail); err != nil {
		t.Fatal(err)
	}
	ready, _ := f.rec.waitFor(t, next, Ready, 20*time.Second)
	f.track(ready.Pid)

	// Each attempt waits longer than the one before.
	wantDelay := minBackoff
	for i, gap := range f.rec.restartDelays() {
		if gap < wantDelay {
			t.Errorf("restart %d began %v after the previous failure, want at least %v", i+1, gap, wantDelay)
		}
		wantDelay *= 2
	}
	// Every failed attempt's process was stopped, only the last one lives.
	for _, ev := range f.rec.snapshot() {
		if ev.Kind == Started && ev.Pid != ready.Pid && alive(ev.Pid) {
			t.Errorf("process %d of a failed attempt is still alive", ev.Pid)
		}
	}
}

func TestStopDoesNotRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pid := f.start("db", f.spec("db"))
	f.stop("db")

	if alive(pid) {
		t.Fatalf("process %d alive after Stop", pid)
	}
	if !strings.Contains(f.log("db"), "received interrupt") {
		t.Errorf("server did not get its stop signal (SIGINT); log:\n%s", f.log("db"))
	}
	if f.sup.Running("db") || f.sup.Pid("db") != 0 {
		t.Error("still reported running after Stop")
	}
	ev, next := f.rec.waitFor(t, 0, Stopped, time.Second)
	if ev.Pid != pid {
		t.Errorf("Stopped event pid = %d, want %d", ev.Pid, pid)
	}
	// Longer than the first restart backoff: nothing may follow.
	time.Sleep(3 * minBackoff)
	if events := f.rec.snapshot(); len(events) > next {
		t.Errorf("events after Stop: %v", events[next:])
	}
	// Stopping again, or an unknown name, is a no-op.
	f.stop("db")
	f.stop("unknown")
}

func TestStopKillsGroupThatIgnoresStopSignal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	workerFile := filepath.Join(f.dir, "worker.pid")
	spec := f.spec("db", envIgnore+"=1", envWorkerFile+"="+workerFile)
	spec.StopTimeout = 300 * time.Millisecond
	pid := f.start("db", spec)
	worker := readPid(t, workerFile, 5*time.Second)
	f.track(worker)

	begin := time.Now()
	f.stop("db")
	if took := time.Since(begin); took < spec.StopTimeout {
		t.Errorf("Stop took %v, less than StopTimeout %v, for a server that ignores its stop signal", took, spec.StopTimeout)
	}
	if alive(pid) {
		t.Errorf("server %d alive after Stop", pid)
	}
	// The worker is not our child; give the kernel a moment to deliver.
	if !waitDead(worker, 5*time.Second) {
		t.Errorf("worker %d in the server's process group survived Stop", worker)
	}
}

func TestWorkersKilledWhenServerDies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	workerFile := filepath.Join(f.dir, "worker.pid")
	pid := f.start("db", f.spec("db", envWorkerFile+"="+workerFile))
	worker := readPid(t, workerFile, 5*time.Second)
	f.track(worker)

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, next := f.rec.waitFor(t, 0, Exited, 10*time.Second)
	if !waitDead(worker, 5*time.Second) {
		t.Errorf("worker %d outlived its crashed server", worker)
	}
	// The restarted server forks a worker of its own, written before it is
	// ready.
	restarted, _ := f.rec.waitFor(t, next, Ready, 20*time.Second)
	f.track(restarted.Pid)
	f.track(readPid(t, workerFile, time.Second))
}

func TestRestartMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pid := f.start("db", f.spec("db"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.sup.Restart(ctx, "db"); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	newPid := f.sup.Pid("db")
	f.track(newPid)
	if newPid == 0 || newPid == pid {
		t.Errorf("pid after Restart = %d, old pid %d", newPid, pid)
	}
	if alive(pid) {
		t.Errorf("old process %d alive after Restart", pid)
	}
	if err := f.sup.Restart(ctx, "unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Restart of unknown name: err = %v, want ErrNotFound", err)
	}
}

func TestCloseStopsAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.start("a", f.spec("a"))
	b := f.start("b", f.spec("b"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.sup.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, pid := range []int{a, b} {
		if alive(pid) {
			t.Errorf("process %d alive after Close", pid)
		}
	}
	if err := f.sup.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := f.sup.Start(ctx, "c", f.spec("c")); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}
}

func TestLeftoverFromPidFileIsStopped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		ignore bool
	}{{"graceful", false}, {"ignores stop signal", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			pidFile := filepath.Join(f.dir, "server.pid")
			env := []string{envMode + "=" + modeServer, envPidFile + "=" + pidFile,
				envReadyFile + "=" + filepath.Join(f.dir, "leftover.ready")}
			if tc.ignore {
				env = append(env, envIgnore+"=1")
			}
			leftover, reaped := startDirect(t, f.exe, env)
			readPid(t, filepath.Join(f.dir, "leftover.ready"), 10*time.Second)

			spec := f.spec("db", envPidFile+"="+pidFile)
			spec.PidFile = pidFile
			spec.StopTimeout = 300 * time.Millisecond
			pid := f.start("db", spec)

			select {
			case <-reaped:
			case <-time.After(5 * time.Second):
				t.Fatalf("leftover %d still running after Start", leftover.Process.Pid)
			}
			if pid == leftover.Process.Pid {
				t.Errorf("supervised pid %d is the leftover's", pid)
			}
			ws := leftover.ProcessState.Sys().(syscall.WaitStatus)
			if tc.ignore && ws.Signal() != syscall.SIGKILL {
				t.Errorf("leftover ignoring signals ended with %v, want SIGKILL", leftover.ProcessState)
			}
			if !tc.ignore && !ws.Exited() {
				t.Errorf("leftover ended with %v, want a graceful exit", leftover.ProcessState)
			}
		})
	}
}

func TestPidFileNamingAnotherProgramIsLeftAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A process running some other program, standing in for a pid reused
	// after a reboot: the worker mode re-execs the test binary, so use a
	// copy under another name.
	other := filepath.Join(f.dir, "not-the-server")
	copyFile(t, f.exe, other, 0o755)
	cmd, reaped := startDirect(t, other, []string{envMode + "=" + modeWorker})
	pidFile := filepath.Join(f.dir, "server.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := f.spec("db")
	spec.PidFile = pidFile
	f.start("db", spec)
	select {
	case <-reaped:
		t.Fatalf("unrelated process %d named in the pid file was stopped", cmd.Process.Pid)
	default:
	}
}

func TestStalePidFileIsIgnored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The same program, but started after the pid file was written: the
	// file is stale and its pid reused, say by the other server of a
	// blue/green pair after a reboot.
	cmd, reaped := startDirect(t, f.exe, []string{envMode + "=" + modeWorker})
	pidFile := filepath.Join(f.dir, "server.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(pidFile, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	spec := f.spec("db")
	spec.PidFile = pidFile
	f.start("db", spec)
	select {
	case <-reaped:
		t.Fatalf("process %d named in a stale pid file was stopped", cmd.Process.Pid)
	default:
	}
}

func TestThreadExitDoesNotStopServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pid := f.start("db", f.spec("db"))
	// A goroutine that exits while locked to its thread makes the runtime
	// end that thread. If it were the thread that forked the server, the
	// server would get its parent-death signal.
	// Idle threads are put back to work as others end, so end many, in
	// rounds, to reach whichever one forked.
	for range 100 {
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
			}()
		}
		wg.Wait()
	}
	time.Sleep(500 * time.Millisecond)
	if got := f.sup.Pid("db"); got != pid {
		t.Errorf("pid = %d after threads ended, want %d", got, pid)
	}
	for _, ev := range f.rec.snapshot() {
		if ev.Kind == Exited {
			t.Errorf("server exited when unrelated threads ended: %+v", ev)
		}
	}
}

// TestParentDeath kills a process that supervises a server, as the OOM
// killer or an operator's kill -9 would kill teal, and expects the server to
// go with it.
func TestParentDeath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		asUser    bool
		needsRoot bool
	}{{"same user", false, false}, {"server user", true, true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.needsRoot && os.Geteuid() != 0 {
				t.Skip("needs root to run the server as another user")
			}
			exe, _ := os.Executable()
			dir := t.TempDir()
			if tc.asUser {
				exe, dir = serverUserDir(t)
			}
			out := filepath.Join(dir, "grandchild.pid")
			env := []string{envMode + "=" + modeHelper, envHelperOut + "=" + out,
				envReadyFile + "=" + filepath.Join(dir, "grandchild.ready")}
			if tc.asUser {
				env = append(env, envHelperUser+"=1")
			}
			helperCmd, reaped := startDirect(t, exe, env)
			grandchild := readPid(t, out, 20*time.Second)
			killLater(t, grandchild)
			if !alive(grandchild) {
				t.Fatalf("server %d not running under the helper", grandchild)
			}

			if err := helperCmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-reaped
			if !waitDead(grandchild, 5*time.Second) {
				t.Errorf("server %d outlived its supervisor by 5s", grandchild)
			}
		})
	}
}

func TestServerUser(t *testing.T) {
	t.Parallel()
	cred, err := ServerUser()
	if err != nil {
		t.Fatalf("ServerUser: %v", err)
	}
	if os.Geteuid() != 0 {
		if cred != nil {
			t.Errorf("ServerUser as non-root = %+v, want nil", cred)
		}
		return
	}
	if cred == nil || cred.Uid == 0 || cred.Gid == 0 {
		t.Fatalf("ServerUser as root = %+v, want an unprivileged user", cred)
	}

	exe, dir := serverUserDir(t)
	f := newFixture(t)
	f.exe, f.dir = exe, dir
	spec := f.spec("db")
	spec.Credential = cred
	pid := f.start("db", spec)

	uids := statusField(t, pid, "Uid")
	gids := statusField(t, pid, "Gid")
	want := strconv.FormatUint(uint64(cred.Uid), 10)
	for _, id := range uids {
		if id != want {
			t.Errorf("server Uid line = %v, want all %s", uids, want)
			break
		}
	}
	wantGid := strconv.FormatUint(uint64(cred.Gid), 10)
	for _, id := range gids {
		if id != wantGid {
			t.Errorf("server Gid line = %v, want all %s", gids, wantGid)
			break
		}
	}
	fi, err := os.Stat(spec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != cred.Uid || fi.Mode().Perm() != 0o600 {
		t.Errorf("log owned by %d with mode %v, want %d and 0600", st.Uid, fi.Mode().Perm(), cred.Uid)
	}
}

// statusField returns the values on the named line of /proc/<pid>/status.
func statusField(t *testing.T, pid int, name string) []string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no %s line in /proc/%d/status", name, pid)
	return nil
}

// serverUserDir prepares a directory the server user can use: a copy of the
// test binary it may execute (the build directory is private to root) and a
// working directory it owns.
func serverUserDir(t *testing.T) (exe, dir string) {
	t.Helper()
	cred, err := ServerUser()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "teal-supervisor-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(base, "fake-server")
	copyFile(t, self, exe, 0o755)
	dir = filepath.Join(base, "work")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
	return exe, dir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNoGoroutinesAfterClose runs alone (not parallel) so the goroutine
// count is its own.
func TestNoGoroutinesAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		sup := New(nil, nil)
		dir := t.TempDir()
		exe, _ := os.Executable()
		ready := filepath.Join(dir, "ready")
		spec := Spec{
			Path: exe, Env: append(os.Environ(), envMode+"="+modeServer, envReadyFile+"="+ready),
			StopSignal: syscall.SIGINT, StopTimeout: 10 * time.Second,
			Ready: readyProbe(sup, "db", ready), ReadyTimeout: 20 * time.Second,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sup.Start(ctx, "db", spec); err != nil {
			t.Fatal(err)
		}
		pid := sup.Pid("db")
		killLater(t, pid)
		// Exercise the restart path too.
		_ = syscall.Kill(pid, syscall.SIGKILL)
		deadline := time.Now().Add(20 * time.Second)
		for sup.Pid("db") == 0 || sup.Pid("db") == pid {
			if time.Now().After(deadline) {
				t.Fatal("no restart after kill")
			}
			time.Sleep(20 * time.Millisecond)
		}
		killLater(t, sup.Pid("db"))
		if err := sup.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
