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
// A stale file (its server died without removing it) may name a pid since
// reused by anything, including another server of the same engine run by
// this teal: a blue/green pair shares the binary. So the process is only
// acted on if it runs the same program as spec.Path and started before the
// file was last written, as a server does before it writes its pid file.
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
	older, err := olderThanFile(pid, spec.PidFile)
	if err != nil {
		log.Warn("cannot tell whether the pid file is the process's own, leaving the process alone", "pid_file", spec.PidFile, "pid", pid, "err", err)
		return nil
	}
	if !older {
		log.Warn("pid file is older than the process it names, leaving the process alone", "pid_file", spec.PidFile, "pid", pid)
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

// Clock ticks per second in /proc/<pid>/stat: USER_HZ, which Linux fixes at
// 100 in its ABI.
const userHZ = 100

// startSlack absorbs the one-second resolution of the boot time.
const startSlack = 2 * time.Second

// olderThanFile reports whether pid started before path was last modified.
func olderThanFile(pid int, path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("stat pid file: %w", err)
	}
	started, err := startTime(pid)
	if err != nil {
		return false, err
	}
	return !started.After(fi.ModTime().Add(startSlack)), nil
}

// startTime returns when pid started, to about a second.
func startTime(pid int) (time.Time, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, fmt.Errorf("read process stat: %w", err)
	}
	// Fields after the parenthesised command name start at field 3;
	// starttime is field 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, fmt.Errorf("process %d stat malformed", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return time.Time{}, fmt.Errorf("process %d stat has %d fields", pid, len(fields)+2)
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("process %d start time: %w", pid, err)
	}
	boot, err := bootTime()
	if err != nil {
		return time.Time{}, err
	}
	return boot.Add(time.Duration(ticks) * (time.Second / userHZ)), nil
}

func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parse boot time: %w", err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
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
