package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tealdb/teal/internal/engine"
)

// A snapshot is a base backup with its WAL: the data directory copied
// inside the backup API, the backup_label it returned, and the WAL
// segments from the backup's start to its end. A server started on it
// replays that WAL from pg_wal and is consistent when it reaches the end
// of the backup: exactly the data as it was when the backup stopped.

// snapshotData is the data directory inside a snapshot's directory.
func snapshotData(dir string) string { return filepath.Join(dir, "data") }

// Snapshot implements engine.Snapshotter.
func (e *Engine) Snapshot(ctx context.Context, l engine.Layout, dir string, copied *atomic.Int64) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("snapshot %s: %s exists", l.DataDir, dir)
	}
	data := snapshotData(dir)
	if err := engine.MkdirOwned(data, 0o700, nil); err != nil {
		return err
	}
	c, err := Connect(ctx, l, "postgres")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	// A temporary slot keeps the server from recycling the WAL the
	// snapshot needs until it is copied; it goes with the session.
	slot := "teal_snapshot_" + strconv.FormatInt(int64(os.Getpid()), 10) + "_" + sanitize(filepath.Base(dir))
	if _, err := c.Exec(ctx, "SELECT pg_create_physical_replication_slot($1, true, true)", slot); err != nil {
		return fmt.Errorf("reserve WAL for the snapshot: %w", err)
	}
	var segSize uint64
	if err := c.QueryRow(ctx, "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'").Scan(&segSize); err != nil {
		return fmt.Errorf("WAL segment size: %w", err)
	}
	b, err := backup(ctx, c, "teal snapshot", func() error {
		return copyDataDir(ctx, l.DataDir, data, nil, copied)
	})
	if err != nil {
		return err
	}
	if err := b.writeLabels(data, nil); err != nil {
		return err
	}
	segments, err := backupSegments(b, segSize)
	if err != nil {
		return err
	}
	wal := filepath.Join(l.DataDir, "pg_wal")
	entries, err := os.ReadDir(wal)
	if err != nil {
		return fmt.Errorf("snapshot WAL: %w", err)
	}
	for _, ent := range entries {
		if strings.HasSuffix(ent.Name(), ".history") {
			segments = append(segments, ent.Name())
		}
	}
	for _, name := range segments {
		from, to := filepath.Join(wal, name), filepath.Join(data, "pg_wal", name)
		if err := engine.CopyFile(from, to, nil); err != nil {
			return fmt.Errorf("snapshot WAL: %w", err)
		}
		if fi, err := os.Stat(to); err == nil && copied != nil {
			copied.Add(fi.Size())
		}
	}
	return syncDir(filepath.Join(data, "pg_wal"))
}

// Restore implements engine.Snapshotter.
func (e *Engine) Restore(ctx context.Context, l engine.Layout, dir string) error {
	if err := engine.CopyTree(snapshotData(dir), l.DataDir, l.Credential); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}

var startWAL = regexp.MustCompile(`(?m)^START WAL LOCATION: [0-9A-F]+/[0-9A-F]+ \(file ([0-9A-F]{24})\)$`)

// backupSegments names the WAL segments from a backup's start to its end.
func backupSegments(b backupFiles, segSize uint64) ([]string, error) {
	m := startWAL.FindStringSubmatch(b.label)
	if m == nil || segSize == 0 {
		return nil, fmt.Errorf("backup label without its start: %q", b.label)
	}
	tli, err := strconv.ParseUint(m[1][:8], 16, 32)
	if err != nil {
		return nil, err
	}
	hi, _ := strconv.ParseUint(m[1][8:16], 16, 32)
	lo, _ := strconv.ParseUint(m[1][16:], 16, 32)
	perID := 0x100000000 / segSize
	first := hi*perID + lo
	// The end record's position is where it ends; it lies in the segment
	// of the byte before it.
	last := (b.stopLSN - 1) / segSize
	if last < first || last-first > 1<<20 {
		return nil, fmt.Errorf("backup ends at %s, before its start %s", formatLSN(b.stopLSN), m[1])
	}
	var out []string
	for seg := first; seg <= last; seg++ {
		out = append(out, fmt.Sprintf("%08X%08X%08X", tli, seg/perID, seg%perID))
	}
	return out, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
