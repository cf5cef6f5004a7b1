package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/engine"
)

// CloneReplica implements engine.Engine with the low-level backup API and a
// file copy. Both servers live on this machine, so copying files works for
// every major version without a pg_basebackup of the same version (the
// packaged builds have none). The slot, reserved before the backup starts,
// keeps the WAL the replica needs until it streams it.
func (e *Engine) CloneReplica(ctx context.Context, replica engine.Layout, rep engine.Replication) error {
	return cloneFiles(ctx, replica, rep, nil)
}

var _ engine.CopyStarter = (*Engine)(nil)

// CopyStartSettings implements engine.CopyStarter. A copy's first start
// recovers from a base backup and, as after a crash, first syncs its whole
// data directory, by default file by file (115 ms for 100 tables' files
// here): the copy has just been synced as a whole (copyDataDir), and one
// syncfs finds nothing left to write (25 ms).
func (e *Engine) CopyStartSettings(b engine.Build) map[string]string {
	return map[string]string{"recovery_init_sync_method": "syncfs"}
}

// cloneFiles takes a base backup of rep.Source into target's data
// directory, counting the bytes copied in copied (if not nil).
func cloneFiles(ctx context.Context, replica engine.Layout, rep engine.Replication, copied *atomic.Int64) error {
	c, err := Connect(ctx, rep.Source, "postgres")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())

	if _, err := c.Exec(ctx, `SELECT pg_create_physical_replication_slot($1, true)
		WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, rep.Slot); err != nil {
		return fmt.Errorf("create replication slot %s: %w", rep.Slot, err)
	}
	b, err := backup(ctx, c, "teal replica "+rep.Slot, func() error {
		return copyDataDir(ctx, rep.Source.DataDir, replica.DataDir, replica.Credential, copied)
	})
	if err != nil {
		return err
	}
	return b.writeLabels(replica.DataDir, replica.Credential)
}

// backupFiles is what the low-level backup API returns at its end: where
// the backup ends in WAL, and the files that tell recovery where it
// starts.
type backupFiles struct {
	stopLSN       uint64
	label, spcmap string
}

// backup runs copy inside a backup of the server c is connected to, as
// superuser.
func backup(ctx context.Context, c *pgx.Conn, name string, copy func() error) (backupFiles, error) {
	var num int
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return backupFiles{}, fmt.Errorf("server version: %w", err)
	}
	start, stop := "SELECT pg_backup_start($1, true)", "SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)"
	if num < 150000 {
		start, stop = "SELECT pg_start_backup($1, true, false)", "SELECT lsn::text, labelfile, spcmapfile FROM pg_stop_backup(false, false)"
	}
	if _, err := c.Exec(ctx, start, name); err != nil {
		return backupFiles{}, fmt.Errorf("start backup: %w", err)
	}
	copyErr := copy()
	// The backup must be stopped even when the copy failed: the session holds it.
	var b backupFiles
	var lsn string
	stopErr := c.QueryRow(ctx, stop).Scan(&lsn, &b.label, &b.spcmap)
	if copyErr != nil {
		return backupFiles{}, fmt.Errorf("copy data directory: %w", copyErr)
	}
	if stopErr != nil {
		return backupFiles{}, fmt.Errorf("stop backup: %w", stopErr)
	}
	var err error
	if b.stopLSN, err = parseLSN(lsn); err != nil {
		return backupFiles{}, fmt.Errorf("stop backup: %w", err)
	}
	return b, nil
}

// writeLabels writes the backup's files into the copy of the data
// directory in dir.
func (b backupFiles) writeLabels(dir string, cred *syscall.Credential) error {
	if err := engine.WriteOwned(filepath.Join(dir, "backup_label"), []byte(b.label), cred); err != nil {
		return err
	}
	if b.spcmap != "" {
		if err := engine.WriteOwned(filepath.Join(dir, "tablespace_map"), []byte(b.spcmap), cred); err != nil {
			return err
		}
	}
	return nil
}

// skipped are paths, relative to the data directory, whose contents a base
// backup leaves out (as pg_basebackup does): they belong to the running server.
var skipped = map[string]bool{
	"postmaster.pid": true, "postmaster.opts": true, "backup_label": true,
	"backup_label.old": true, "tablespace_map": true, "standby.signal": true,
	"recovery.signal": true, "current_logfiles": true, "teal.conf": true,
}

// emptied directories are created empty in the copy.
var emptied = map[string]bool{
	"pg_wal": true, "pg_replslot": true, "pg_stat_tmp": true, "pg_dynshmem": true,
	"pg_notify": true, "pg_serial": true, "pg_snapshots": true, "pg_subtrans": true,
	"log": true,
}

// copyDataDir copies a data directory: directories as it walks them, then
// the files, several at once. The copy is on disk when it returns: large
// files are written straight to the disk (copyDirect), the writeback of
// each other one starts as soon as it is copied, and one syncfs at the end
// waits for all of them and for the directories and the files' metadata,
// with one journal commit rather than one a file.
func copyDataDir(ctx context.Context, src, dst string, cred *syscall.Credential, copied *atomic.Int64) error {
	// syncfs reports the failed writes of the file system since its file
	// descriptor was opened, so that is before the first file is copied.
	onFS, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer onFS.Close()
	root, err := os.Open(src)
	if err != nil {
		return err
	}
	defer root.Close()
	type job struct{ from, to string } // from: relative to src
	var files []job
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // dropped while we copied; WAL replay recreates what matters
			}
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if err := engine.MkdirOwned(target, 0o700, cred); err != nil {
				return err
			}
			if emptied[rel] {
				if rel == "pg_wal" {
					if err := engine.MkdirOwned(filepath.Join(target, "archive_status"), 0o700, cred); err != nil {
						return err
					}
				}
				return filepath.SkipDir
			}
			return nil
		}
		if skipped[rel] || !d.Type().IsRegular() {
			return nil
		}
		files = append(files, job{rel, target})
		return nil
	})
	if err != nil {
		return err
	}
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range 4 {
		g.Go(func() error {
			for i := int(next.Add(1)) - 1; i < len(files); i = int(next.Add(1)) - 1 {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				err := copyFile(root, files[i].from, files[i].to, cred, copied)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := unix.Syncfs(int(onFS.Fd())); err != nil {
		return fmt.Errorf("sync the copy in %s: %w", dst, err)
	}
	return nil
}

// copyFile copies the file rel of the directory root to dst.
func copyFile(root *os.File, rel, dst string, cred *syscall.Credential, copied *atomic.Int64) error {
	src := filepath.Join(root.Name(), rel)
	in, err := openBeneath(root, rel)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if st, serr := in.Stat(); serr == nil && st.Size() >= directMin {
		err = copyDirect(out, in, copied)
	} else {
		err = copyBuffered(out, in, copied)
	}
	if err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return engine.Chown(dst, cred)
}

// Files of directMin bytes or more (segments of large tables and indexes)
// are written past the page cache, with O_DIRECT, through an aligned
// buffer of directChunk bytes: the copy leaves in memory what was there,
// blue's own pages, rather than a second copy of them that pushes those
// out, and the kernel has no pages to find for it (allocating them was
// most of a copy's time on a virtual machine whose free memory goes back
// to its host). What is read of them later comes from the disk. Green's
// ANALYZE reads a table whole up to 30,000 blocks (234 MiB, at the default
// statistics target), and only a sample beyond: the files of smaller
// tables, read whole right after the copy, stay in the page cache for it.
const (
	directMin   = 256 << 20
	directChunk = 1 << 20
	directAlign = 4096 // every logical block size a disk has
)

// directBuffers are aligned buffers of directChunk bytes, one a copying
// goroutine at a time.
var directBuffers = sync.Pool{New: func() any {
	b := make([]byte, directChunk+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	b = b[off : off+directChunk : off+directChunk]
	return &b
}}

// writeDirect writes b to out, which has O_DIRECT set if direct is true.
// A file system that refuses the write as it is (EINVAL) gets it, and every
// later one, without O_DIRECT (flags, out's flags before it was set).
func writeDirect(out *os.File, b []byte, flags int, direct *bool) error {
	n, err := out.Write(b)
	if err != nil && *direct && errors.Is(err, unix.EINVAL) {
		if _, err := unix.FcntlInt(out.Fd(), unix.F_SETFL, flags); err != nil {
			return err
		}
		*direct = false
		_, err = out.Write(b[n:])
		return err
	}
	return err
}

// copyBuffered copies in to out through the page cache. The copy is a
// server's data from now on, and no WAL it replays covers what it holds:
// its writeback starts now, while other files are copied, and copyDataDir
// waits for it. That only starts writes, so its own error says nothing the
// final sync would not.
func copyBuffered(out, in *os.File, copied *atomic.Int64) error {
	n, err := io.Copy(out, in)
	if copied != nil {
		copied.Add(n)
	}
	if err == nil {
		_ = unix.SyncFileRange(int(out.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
	return err
}

// copyDirect copies in to out, writing with O_DIRECT each whole number of
// blocks, and without it the end of the file where that is shorter than a
// block. Where the file system refuses O_DIRECT, when it is asked for or at
// a write, the copy is buffered from there on.
func copyDirect(out, in *os.File, copied *atomic.Int64) error {
	fd := uintptr(out.Fd())
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(fd, unix.F_SETFL, flags|unix.O_DIRECT); err != nil {
		return copyBuffered(out, in, copied)
	}
	direct := true
	p := directBuffers.Get().(*[]byte)
	defer directBuffers.Put(p)
	buf := *p
	for {
		// A read fills the buffer unless it reaches the end of the file.
		n, rerr := io.ReadFull(in, buf)
		whole := n - n%directAlign
		if whole > 0 {
			if err := writeDirect(out, buf[:whole], flags, &direct); err != nil {
				return err
			}
		}
		if whole < n {
			// Through the page cache, which the final sync writes back.
			if _, err := unix.FcntlInt(fd, unix.F_SETFL, flags); err != nil {
				return err
			}
			if _, err := out.Write(buf[whole:n]); err != nil {
				return err
			}
		}
		if copied != nil {
			copied.Add(int64(n))
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// openBeneath opens the file rel of the directory root for reading,
// through no symbolic link at any depth: the server's OS user owns the
// directory copied, and could swap a directory for a link to another one
// between the walk that listed the file and its copy. Where the kernel
// lacks openat2 (or a sandbox refuses it), only a link as the last
// component is refused.
func openBeneath(root *os.File, rel string) (*os.File, error) {
	name := filepath.Join(root.Name(), rel)
	fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), name), nil
	case errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM):
		return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	default:
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
