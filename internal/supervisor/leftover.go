package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// goneInterval is how often a leftover process, which is not our child and
// so cannot be waited on, is checked for having gone.
const goneInterval = 50 * time.Millisecond

// stopLeftover stops a live process named in spec.PidFile, such as a server
// left running by a teal that was killed before it could stop it. A new
// server on the same data directory would otherwise refuse to start, or
// worse, run next to it.
//
// The pid is only acted on if the process runs the same program as
// spec.Path: after a reboot the pid in a stale file may belong to anything.
func stopLeftover(ctx context.Context, log *slog.Logger, spec Spec) error {
	if spec.PidFile == "" {
		return nil
	}
	pid, err := readPidFile(spec.PidFile)
	if err != nil {
		return err
	}
	if pid <= 0 || pid == os.Getpid() || !alive(pid) {
		return nil
	}
	if !sameProgram(pid, spec.Path) {
		log.Warn("pid file names a process that is not this server, leaving it alone", "pid_file", spec.PidFile, "pid", pid)
		return nil
	}
	// A leftover we started leads its own process group; kill the group so
	// its workers go too. Anything else gets only the process itself.
	target := pid
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		target = -pid
	}
	log.Warn("stopping leftover server process", "pid_file", spec.PidFile, "pid", pid, "signal", spec.StopSignal)
	if err := kill(target, spec.StopSignal); err != nil {
		return fmt.Errorf("stop leftover process %d: %w", pid, err)
	}
	if gone, err := waitGone(ctx, pid, spec.StopTimeout); gone || err != nil {
		return err
	}
	log.Warn("leftover server ignored stop signal, killing it", "pid", pid, "waited", spec.StopTimeout)
	if err := kill(target, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill leftover process %d: %w", pid, err)
	}
	gone, err := waitGone(ctx, pid, killWait)
	if err != nil {
		return err
	}
	if !gone {
		return fmt.Errorf("leftover process %d from %s still alive %v after SIGKILL", pid, spec.PidFile, killWait)
	}
	return nil
}

// readPidFile returns the pid on the first line of path, or 0 if the file
// does not exist or does not start with a pid.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	if err != nil {
		// A half-written or foreign file names no process we could stop.
		return 0, nil
	}
	return pid, nil
}

func kill(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// waitGone polls until pid is gone or d passes.
func waitGone(ctx context.Context, pid int, d time.Duration) (bool, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(goneInterval)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("waiting for leftover process %d to end: %w", pid, ctx.Err())
		case <-deadline.C:
			return false, nil
		case <-tick.C:
		}
	}
	return true, nil
}

// alive reports whether pid names a process that has not ended. A zombie
// has ended; whoever its parent now is will reap it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return true
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain ") ".
	i := strings.LastIndexByte(line, ')')
	if i < 0 || i+2 >= len(line) {
		return true
	}
	state := line[i+2]
	return state != 'Z' && state != 'X'
}

// sameProgram reports whether pid runs the executable at path. A binary
// replaced by a package upgrade since the process started no longer is the
// same file, so the names are compared as well.
func sameProgram(pid int, path string) bool {
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if a, err := os.Stat(exe); err == nil {
		if b, err := os.Stat(path); err == nil && os.SameFile(a, b) {
			return true
		}
	}
	link, err := os.Readlink(exe)
	if err != nil {
		return false
	}
	link = strings.TrimSuffix(link, " (deleted)")
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	return filepath.Base(link) == filepath.Base(path)
}
