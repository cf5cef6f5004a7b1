package mariadb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"

	"github.com/tealdb/teal/internal/engine"
)

// A snapshot is a mariadb-backup copy of the running server, prepared at
// once: its InnoDB redo is applied, so the directory is a data directory
// at the copy's consistent point, and a restore is a plain copy of it.

// snapshotData is the data directory inside a snapshot's directory.
func snapshotData(dir string) string { return filepath.Join(dir, "data") }

// Snapshot implements engine.Snapshotter.
func (e *Engine) Snapshot(ctx context.Context, l engine.Layout, dir string, copied *atomic.Int64) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("snapshot %s: %s exists", l.DataDir, dir)
	}
	if err := engine.MkdirOwned(dir, 0o700, nil); err != nil {
		return err
	}
	admin, err := adminName()
	if err != nil {
		return err
	}
	data := snapshotData(dir)
	done := make(chan struct{})
	defer close(done)
	if copied != nil {
		go engine.CountBytes(data, copied, done)
	}
	backup := exec.CommandContext(ctx, "/usr/bin/mariadb-backup", "--backup", "--target-dir="+data,
		"--socket="+filepath.Join(l.SocketDir, "mysqld.sock"), "--user="+admin, "--datadir="+l.DataDir)
	if err := engine.RunAs(backup, nil); err != nil {
		return fmt.Errorf("mariadb-backup --backup: %w", err)
	}
	prepare := exec.CommandContext(ctx, "/usr/bin/mariadb-backup", "--prepare", "--target-dir="+data)
	if err := engine.RunAs(prepare, nil); err != nil {
		return fmt.Errorf("mariadb-backup --prepare: %w", err)
	}
	return nil
}

// Restore implements engine.Snapshotter.
func (e *Engine) Restore(ctx context.Context, l engine.Layout, dir string) error {
	if err := engine.CopyTree(snapshotData(dir), l.DataDir, l.Credential); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}
