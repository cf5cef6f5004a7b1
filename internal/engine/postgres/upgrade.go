package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tealdb/teal/internal/engine"
)

// A green of a newer major is blue's copy (greenclone.go), promoted at the
// point where logical replication starts, then upgraded in place by the
// target's pg_upgrade with --link: green's data directory gets a fresh
// catalog of the new major and hard links to the copy's data files, so no
// row is copied twice and no index is rebuilt. The copy is consumed.
// Statistics are not carried before PostgreSQL 18, so green is analyzed
// afterwards as after a logical copy.

// upgradeFrom and upgradeTo are the programs pg_upgrade runs from the old
// and the new build's bin directories.
var (
	upgradeFrom = []string{"postgres", "pg_ctl", "pg_controldata", "pg_resetwal"}
	upgradeTo   = []string{"pg_upgrade", "postgres", "initdb", "pg_ctl", "pg_controldata", "pg_resetwal",
		"pg_dump", "pg_dumpall", "pg_restore", "psql", "vacuumdb"}
)

// upgradable reports why a copy of a blue of build blue cannot be upgraded
// into green's build, or nil if it can: green must be of a newer major and
// both builds complete.
func upgradable(blue, green engine.Build) error {
	from, err := strconv.Atoi(blue.Major())
	if err != nil {
		return fmt.Errorf("version of %s: %w", blue.Version, err)
	}
	to, err := strconv.Atoi(green.Major())
	if err != nil {
		return fmt.Errorf("version of %s: %w", green.Version, err)
	}
	if to <= from {
		return fmt.Errorf("%w: pg_upgrade goes from an older major to a newer one, not %d to %d", engine.ErrUnsupported, from, to)
	}
	for _, b := range []struct {
		build    engine.Build
		programs []string
	}{{blue, upgradeFrom}, {green, upgradeTo}} {
		var missing []string
		for _, p := range b.programs {
			if fi, err := os.Stat(filepath.Join(b.build.BinDir, p)); err != nil || fi.Mode()&0o111 == 0 {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: upgrading PostgreSQL %d to %d needs %s in %s", engine.ErrUnsupported,
				from, to, strings.Join(missing, ", "), b.build.BinDir)
		}
	}
	return nil
}

// UpgradeClone implements engine.GreenCloner.
func (e *Engine) UpgradeClone(ctx context.Context, clone, green engine.Layout, progress func(engine.CopyProgress)) error {
	if progress == nil {
		progress = func(engine.CopyProgress) {}
	}
	if err := upgradable(clone.Build, green.Build); err != nil {
		return err
	}
	progress(engine.CopyProgress{Phase: "upgrading the copy to PostgreSQL " + green.Build.Major() + " (pg_upgrade)"})
	noSync := leavesSync(green.Build)
	if err := upgradeClone(ctx, clone, green, noSync); err != nil {
		return err
	}
	if noSync {
		return syncUpgraded(green)
	}
	return nil
}

// upgradeClone runs pg_upgrade, which makes green of clone; with noSync,
// it leaves what it wrote in the page cache.
func upgradeClone(ctx context.Context, clone, green engine.Layout, noSync bool) error {
	if _, err := os.Stat(filepath.Join(green.DataDir, "PG_VERSION")); err != nil {
		return fmt.Errorf("upgrade: green's cluster was not made: %w", err)
	}
	// pg_upgrade starts each server on a socket in work, which only the
	// servers' own user reaches (and root), and connects as the install
	// user: peer authentication maps only teal's own user to it, so both
	// clusters trust local connections for the upgrade. WriteConfig puts
	// back green's own access rules before green is started.
	work := upgradeWorkDir(green)
	if err := os.RemoveAll(work); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	if err := engine.MkdirOwned(work, 0o700, green.Credential); err != nil {
		return err
	}
	// On failure, work is left for the build's next attempt, which starts
	// by removing green's whole instance directory (work included).
	for _, dir := range []string{clone.DataDir, green.DataDir} {
		if err := engine.WriteOwned(filepath.Join(dir, "pg_hba.conf"), []byte("local all "+AdminUser+" trust\n"), green.Credential); err != nil {
			return err
		}
	}
	oldBin, err := upgradeBinDir(filepath.Join(work, "bin-old"), clone.Build.BinDir, green.Credential)
	if err != nil {
		return err
	}
	newBin, err := upgradeBinDir(filepath.Join(work, "bin-new"), green.Build.BinDir, green.Credential)
	if err != nil {
		return err
	}
	args := []string{"--old-bindir", oldBin, "--new-bindir", newBin,
		"--old-datadir", clone.DataDir, "--new-datadir", green.DataDir,
		"--username", AdminUser, "--link", "--socketdir", work,
		"--old-port", "50432", "--new-port", "50433", "--jobs", strconv.Itoa(runtime.NumCPU())}
	if noSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(green.Build.BinDir, "pg_upgrade"), args...)
	cmd.Dir = work
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	if err := engine.RunAs(cmd, green.Credential); err != nil {
		// pg_upgrade starts the servers through pg_ctl, detached: when it
		// fails or is stopped, one may still run.
		stopUpgradeServer(clone)
		stopUpgradeServer(green)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: pg_upgrade %s to %s: %w", engine.ErrUpgradeRefused, clone.Build.Version, green.Build.Version, err)
	}
	// Green holds links to the copy's files; the copy's own names, and
	// pg_upgrade's sockets and scripts, go while green starts replicating
	// (FinishClone). pg_upgrade has renamed the copy's pg_control: no
	// server starts on what is left of it.
	return nil
}

// leavesSync reports whether pg_upgrade of build b can be told not to
// sync green's data directory (--no-sync, from PostgreSQL 15 on), which
// UpgradeClone then does with syncUpgraded.
func leavesSync(b engine.Build) bool {
	major, err := strconv.Atoi(b.Major())
	return err == nil && major >= 15
}

// syncUpgraded writes to the disk what pg_upgrade left in the page cache:
// green's new catalog, its control file and WAL, and the links to the
// copy's files. pg_upgrade would open and fsync each file of green, the
// copy's thousands of files too, which are on the disk already; one
// syncfs of green's file system writes only what is not (as the file
// copy does, and with the same cost: whatever else on that file system
// is waiting to be written goes too), and reports every failed write that
// no one has been told of.
func syncUpgraded(green engine.Layout) error {
	dir, err := os.Open(green.DataDir)
	if err != nil {
		return fmt.Errorf("sync green after its upgrade: %w", err)
	}
	defer dir.Close()
	if err := unix.Syncfs(int(dir.Fd())); err != nil {
		return fmt.Errorf("sync green after its upgrade: %w", err)
	}
	return nil
}

// removeUpgradeLeftovers removes what cloning and upgrading green left
// beside its data directory, if anything: the copy, whose files green
// links to, and pg_upgrade's working directory.
func removeUpgradeLeftovers(green engine.Layout) error {
	for _, dir := range []string{cloneDir(green), upgradeWorkDir(green)} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove what the upgrade left: %w", err)
		}
	}
	return nil
}

// cloneDir is where a copy of blue to be upgraded to green's build is
// made and recovered, and upgradeWorkDir where pg_upgrade runs.
func cloneDir(green engine.Layout) string {
	return filepath.Join(filepath.Dir(green.DataDir), "clone")
}

func upgradeWorkDir(green engine.Layout) string {
	return filepath.Join(filepath.Dir(green.DataDir), "upgrade")
}

// pg_upgrade starts and stops each cluster through its build's pg_ctl -w,
// four times each. pg_ctl looks whether the server is up (or down) ten
// times a second, while a server here starts in about 50 ms and stops in
// 20: pg_upgrade would spend half a second just waiting. So it is given
// bin directories of links to each build's programs in which pg_ctl is
// pgCtlScript, which runs the build's pg_ctl as asked and, beside it,
// reads postmaster.pid every 10 ms, answering as soon as that shows the
// server ready (a start) or gone (a stop). pg_ctl's own answer ends it
// too, so a server that fails to start fails as before. A start where a
// postmaster.pid is already there, a stop where none is, and every other
// use are the build's pg_ctl alone.
const pgCtlScript = `#!/bin/sh
real=%s
data= prev= cmd=
for a; do
	[ "$prev" = -D ] && data=$a
	prev=$a cmd=$a
done
pidfile=$data/postmaster.pid
case $cmd in
start) [ -n "$data" ] && [ ! -e "$pidfile" ] || exec "$real" "$@" ;;
stop) [ -n "$data" ] && [ -e "$pidfile" ] || exec "$real" "$@" ;;
*) exec "$real" "$@" ;;
esac
since=$(($(date +%%s) - 2))
"$real" "$@" &
ctl=$!
i=0
while [ $i -lt 12000 ] && kill -0 $ctl 2>/dev/null; do
	if [ $cmd = start ]; then
		started= status=
		{ read -r _; read -r _; read -r started; read -r _; read -r _; read -r _; read -r _; read -r status; } 2>/dev/null <"$pidfile"
		if [ "$status" = ready ] && [ "${started:-0}" -ge $since ] 2>/dev/null; then
			kill $ctl 2>/dev/null
			exit 0
		fi
	elif [ ! -e "$pidfile" ]; then
		kill $ctl 2>/dev/null
		exit 0
	fi
	sleep 0.01
	i=$((i + 1))
done
wait $ctl
`

// upgradeBinDir makes dir, owned by cred's user, a bin directory for
// pg_upgrade: links to every program in bin but pg_ctl, which is
// pgCtlScript running bin's pg_ctl.
func upgradeBinDir(dir, bin string, cred *syscall.Credential) (string, error) {
	entries, err := os.ReadDir(bin)
	if err != nil {
		return "", fmt.Errorf("upgrade: %w", err)
	}
	if err := engine.MkdirOwned(dir, 0o700, cred); err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == "pg_ctl" {
			continue
		}
		if err := os.Symlink(filepath.Join(bin, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return "", fmt.Errorf("upgrade: %w", err)
		}
	}
	ctl := filepath.Join(dir, "pg_ctl")
	if err := engine.WriteOwned(ctl, []byte(fmt.Sprintf(pgCtlScript, shellQuote(filepath.Join(bin, "pg_ctl")))), cred); err != nil {
		return "", err
	}
	if err := os.Chmod(ctl, 0o700); err != nil {
		return "", fmt.Errorf("upgrade: %w", err)
	}
	return dir, nil
}

// upgradeInitArgs are the initdb arguments of green's cluster for
// pg_upgrade. pg_upgrade refuses a new cluster whose data checksums differ
// from the old one's, and initdb turns them on by default from 18. It
// syncs the whole new cluster when it is done, so initdb need not.
func upgradeInitArgs(ctx context.Context, blue engine.Layout, green engine.Build) ([]string, error) {
	c, err := session(ctx, blue, "postgres")
	if err != nil {
		return nil, err
	}
	defer done(c)
	var checksums string
	if err := c.QueryRow(ctx, "SHOW data_checksums").Scan(&checksums); err != nil {
		return nil, fmt.Errorf("blue's data checksums: %w", err)
	}
	args := []string{"--no-sync"}
	if checksums == "on" {
		args = append(args, "--data-checksums")
	} else if major, _ := strconv.Atoi(green.Major()); major >= 18 {
		args = append(args, "--no-data-checksums")
	}
	return args, nil
}

// stopUpgradeServer stops, at once, a server pg_upgrade left running in
// l's data directory. pg_upgrade may have been stopped while its pg_ctl
// (which outlives it) was still starting one, so a server that is not
// there yet is waited for a few seconds.
func stopUpgradeServer(l engine.Layout) {
	pidFile := filepath.Join(l.DataDir, "postmaster.pid")
	for wait := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(wait) {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(l.Build.BinDir, "pg_ctl"), "stop", "-D", l.DataDir, "-m", "immediate", "-w")
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	engine.RunAs(cmd, l.Credential) // nothing running is not an error here
}
