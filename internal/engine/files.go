package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Files and programs of a server's own OS user. teal runs as root and
// writes into directories that user owns, where a file name may already be
// a link the user planted: nothing here follows one.

// MkdirOwned creates dir (and its parents) with mode perm, owned by cred's
// user (teal's own when cred is nil).
func MkdirOwned(dir string, perm os.FileMode, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return Chown(dir, cred)
}

// WriteOwned replaces path atomically with data, mode 0600, owned by
// cred's user. The data goes to a new file of a random name beside path
// (created exclusively, so never through a link, and never shared with
// another writer) that is renamed over path.
func WriteOwned(path string, data []byte, cred *syscall.Credential) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = Chown(tmp, cred)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		// A leftover temporary file harms nothing (no reader opens it),
		// but one that cannot be removed is said with the write's error.
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Chown gives path (not what it links to) to cred's user; nil leaves it.
func Chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := os.Lchown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// RunAs runs a program as cred's user (teal's own when nil), in the system's
// temporary directory unless cmd names one, and returns an error with the
// end of its output when it fails.
func RunAs(cmd *exec.Cmd, cred *syscall.Credential) error {
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if cmd.Dir == "" {
		cmd.Dir = os.TempDir()
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(Tail(out.String(), 2000)))
	}
	return nil
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// CopyTree copies the directories and regular files under src to dst,
// which must not exist, for cred's user: directories 0700, files 0600,
// each file synced. Links and other special files are left out, so a copy
// never reaches outside src.
func CopyTree(src, dst string, cred *syscall.Credential) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("copy %s: %s exists", src, dst)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return MkdirOwned(target, 0o700, cred)
		case d.Type().IsRegular():
			return CopyFile(path, target, cred)
		}
		return nil
	})
}

// CopyFile copies the regular file src (never through a link) to the new
// file dst, mode 0600, synced, owned by cred's user.
func CopyFile(src, dst string, cred *syscall.Credential) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return Chown(dst, cred)
}

// DirSize is the size of the regular files under dir (0 if unreadable).
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// CountBytes sets copied to the size of dir every half second until done:
// the progress of a copy whose tool says nothing of it that is worth
// parsing (mariadb-backup), or that runs inside an engine.
func CountBytes(dir string, copied *atomic.Int64, done <-chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			copied.Store(DirSize(dir))
		}
	}
}
