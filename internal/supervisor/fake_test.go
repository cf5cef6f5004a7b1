package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the processes the tests supervise. When
// envMode is set, TestMain runs one of these modes instead of the tests.
const (
	envMode = "TEAL_SUPERVISOR_TEST_MODE"

	modeServer = "server" // a fake database server
	modeWorker = "worker" // a process a fake server forks, sharing its group
	modeHelper = "helper" // a process that supervises a fake server itself

	// Fake server settings.
	envReadyFile  = "FAKE_READY_FILE"       // write own pid here once ready
	envPidFile    = "FAKE_PID_FILE"         // write own pid here at start
	envIgnore     = "FAKE_IGNORE_SIGNALS"   // ignore SIGINT and SIGTERM
	envExitCode   = "FAKE_EXIT_CODE"        // fail at start with this code
	envWorkerFile = "FAKE_WORKER_PID_FILE"  // fork a worker, write its pid here
	envHelperOut  = "HELPER_SERVER_PID_OUT" // helper writes its server's pid here
	envHelperUser = "HELPER_AS_SERVER_USER" // helper runs its server as ServerUser

	// No fake process outlives this, whatever happens to the test.
	fakeLifetime = 2 * time.Minute
)

// Keep the main goroutine, which only waits for the tests, on the main
// thread. The runtime never ends the main thread, so a server forked there
// could never see its parent thread die, and TestThreadExitDoesNotStopServer
// would pass whatever thread the supervisor forks from.
func init() {
	runtime.LockOSThread()
}

func TestMain(m *testing.M) {
	switch os.Getenv(envMode) {
	case modeServer:
		os.Exit(fakeServer())
	case modeWorker:
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		time.Sleep(fakeLifetime)
		os.Exit(1)
	case modeHelper:
		os.Exit(helper())
	}
	// A race-enabled binary sleeps a second on exit by default; the fake
	// servers must stop as fast as real ones.
	race := "atexit_sleep_ms=0"
	if v := os.Getenv("GORACE"); v != "" {
		race = v + " " + race
	}
	os.Setenv("GORACE", race)
	os.Exit(m.Run())
}

func fakeServer() int {
	pid := os.Getpid()
	fmt.Printf("fake server starting pid=%d\n", pid)
	sigs := make(chan os.Signal, 1)
	if os.Getenv(envIgnore) != "" {
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	}
	if f := os.Getenv(envPidFile); f != "" {
		if err := writeAtomic(f, strconv.Itoa(pid)+"\n"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if code := os.Getenv(envExitCode); code != "" {
		fmt.Fprintln(os.Stderr, "FATAL: fake failure before ready")
		n, _ := strconv.Atoi(code)
		return n
	}
	if f := os.Getenv(envWorkerFile); f != "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		w := exec.Command(self)
		w.Env = append(os.Environ(), envMode+"="+modeWorker)
		if err := w.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := writeAtomic(f, strconv.Itoa(w.Process.Pid)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if f := os.Getenv(envReadyFile); f != "" {
		if err := writeAtomic(f, strconv.Itoa(pid)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if os.Getenv(envIgnore) != "" {
		fmt.Println("ignoring stop signals")
	}
	select {
	case s := <-sigs:
		fmt.Printf("received %v\n", s)
		return 0
	case <-time.After(fakeLifetime):
		return 1
	}
}

// helper supervises one fake server, reports its pid and waits to be
// killed.
func helper() int {
	sup := New(nil, nil)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ready := os.Getenv(envReadyFile)
	spec := Spec{
		Path:         self,
		Env:          append(os.Environ(), envMode+"="+modeServer),
		StopSignal:   syscall.SIGTERM,
		StopTimeout:  5 * time.Second,
		Ready:        readyProbe(sup, "grandchild", ready),
		ReadyTimeout: 20 * time.Second,
	}
	if os.Getenv(envHelperUser) != "" {
		if spec.Credential, err = ServerUser(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Start(ctx, "grandchild", spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := writeAtomic(os.Getenv(envHelperOut), strconv.Itoa(sup.Pid("grandchild"))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = sup.Close(ctx)
		return 2
	}
	time.Sleep(fakeLifetime)
	_ = sup.Close(ctx)
	return 1
}

// readyProbe reports ready once the ready file holds the pid of name's
// current process, so a file left by an earlier run does not count.
func readyProbe(sup *Supervisor, name, file string) func(context.Context) error {
	return func(context.Context) error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if got, want := strings.TrimSpace(string(b)), strconv.Itoa(sup.Pid(name)); got != want {
			return fmt.Errorf("ready file names pid %s, current pid is %s", got, want)
		}
		return nil
	}
}

func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readPid waits up to d for path to hold a pid.
func readPid(t *testing.T, path string, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s after %v (last error: %v)", path, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDead waits up to d for pid to end and reports whether it did.
func waitDead(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// killLater makes sure pid is dead when the test ends, whatever happened.
func killLater(t *testing.T, pid int) {
	t.Cleanup(func() {
		if pid > 0 && alive(pid) {
			t.Logf("killing leftover test process %d", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// startDirect starts path (a copy of the test binary) outside any
// supervisor, in its own process group as a supervised server would be, and
// reaps it in the background; done is closed once it has been reaped.
func startDirect(t *testing.T, path string, env []string) (cmd *exec.Cmd, done chan struct{}) {
	t.Helper()
	cmd = exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(t.TempDir(), "direct.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("process %d not reaped", cmd.Process.Pid)
		}
	})
	return cmd, done
}

// asExitError returns the *ExitError in err, failing the test if there is none.
func asExitError(t *testing.T, err error) *ExitError {
	t.Helper()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v carries no *ExitError", err)
	}
	return ee
}
