package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tealdb/teal/internal/engine"
)

// Automated backups of a PostgreSQL server: its archive_command copies each
// finished WAL segment into the spool directory it owns (Layout.ArchiveDir,
// in the instance's own directory), and Archive moves them into teal's
// archive, which the server's user cannot reach. A point-in-time restore
// copies a base snapshot, stages the archived segments for the new
// server's user, and recovers to the target time with restore_command.
//
// Recovery to a target time needs a commit after the target in the WAL it
// replays, or it refuses to end. Archive therefore commits a marker
// transaction before it switches segments: every time before the marker
// can be reached, and a later target is brought back to the marker by the
// caller when nothing was committed since (ArchivePoint.Idle).

// archiveCommand copies a segment into the spool: complete and synced
// before it takes its name, and an existing copy only counts when it is
// the same.
func archiveCommand(spool string) string {
	d := shellQuote(spool)
	return fmt.Sprintf(`if test -f %[1]s/%%f; then cmp -s %%p %[1]s/%%f; else cp %%p %[1]s/%%f.tmp && sync %[1]s/%%f.tmp && mv %[1]s/%%f.tmp %[1]s/%%f; fi`, d)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Archive implements engine.Archiver. Position is the next transaction
// ID: only transactions that write take one.
func (e *Engine) Archive(ctx context.Context, l engine.Layout, dir string, last string) (engine.ArchivePoint, error) {
	if l.ArchiveDir == "" {
		return engine.ArchivePoint{}, errors.New("the server does not archive its WAL")
	}
	c, err := Connect(ctx, l, "postgres")
	if err != nil {
		return engine.ArchivePoint{}, err
	}
	defer c.Close(context.Background())
	const nextXID = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"
	var next string
	if err := c.QueryRow(ctx, nextXID).Scan(&next); err != nil {
		return engine.ArchivePoint{}, fmt.Errorf("next transaction ID: %w", err)
	}
	if next == last {
		now := time.Now()
		return engine.ArchivePoint{Time: now, Position: next, Idle: true}, collect(l.ArchiveDir, dir)
	}
	var mark time.Time
	tx, err := c.Begin(ctx)
	if err != nil {
		return engine.ArchivePoint{}, err
	}
	// The ID is read, so that it is assigned: a transaction with an ID
	// commits with a commit record, at a time after mark.
	var xid string
	if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text, clock_timestamp()").Scan(&xid, &mark); err != nil {
		tx.Rollback(context.Background())
		return engine.ArchivePoint{}, fmt.Errorf("marker transaction: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return engine.ArchivePoint{}, fmt.Errorf("marker transaction: %w", err)
	}
	var segment string
	if err := c.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&segment); err != nil {
		return engine.ArchivePoint{}, fmt.Errorf("switch WAL segment: %w", err)
	}
	if err := c.QueryRow(ctx, nextXID).Scan(&next); err != nil {
		return engine.ArchivePoint{}, fmt.Errorf("next transaction ID: %w", err)
	}
	// The marker's segment is archived within moments; an archiver that
	// fails leaves the point where it was.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := collect(l.ArchiveDir, dir); err != nil {
			return engine.ArchivePoint{}, err
		}
		if _, err := os.Stat(filepath.Join(dir, segment)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return engine.ArchivePoint{}, fmt.Errorf("WAL segment %s was not archived in 2 minutes; see the server's log", segment)
		}
		select {
		case <-ctx.Done():
			return engine.ArchivePoint{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return engine.ArchivePoint{Time: mark.Add(-time.Millisecond), Position: next}, nil
}

// collect moves the finished files of a spool into the archive dir, which
// teal alone reaches, keeping their times: when a file was archived says
// which restores need it.
func collect(spool, dir string) error {
	entries, err := os.ReadDir(spool)
	if err != nil {
		return fmt.Errorf("archive spool: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	for _, ent := range entries {
		name := ent.Name()
		if !ent.Type().IsRegular() || strings.HasSuffix(name, ".tmp") || strings.HasPrefix(name, ".") {
			continue
		}
		from, to := filepath.Join(spool, name), filepath.Join(dir, name)
		if err := moveFile(from, to); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
	}
	return nil
}

// moveFile renames from to to, or copies it (synced, with its times) and
// removes it when they are on different file systems. to ends up teal's.
func moveFile(from, to string) error {
	fi, err := os.Lstat(from)
	if err != nil {
		return err
	}
	if err := os.Rename(from, to); err == nil {
		return os.Lchown(to, os.Getuid(), os.Getgid())
	} else if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	tmp := to + ".tmp"
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := engine.CopyFile(from, tmp, nil); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		return err
	}
	return os.Remove(from)
}

// RestoreToTime implements engine.Archiver.
func (e *Engine) RestoreToTime(ctx context.Context, l engine.Layout, base, dir string, since, target time.Time, run engine.RunFunc) error {
	if err := engine.CopyTree(snapshotData(base), l.DataDir, l.Credential); err != nil {
		return fmt.Errorf("restore the base snapshot: %w", err)
	}
	// The segments recovery asks for, staged where the new server's user
	// reads them.
	staging := filepath.Join(filepath.Dir(l.DataDir), "restore-wal")
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	if err := engine.MkdirOwned(staging, 0o700, l.Credential); err != nil {
		return err
	}
	// The staged copies only cost disk: a removal that fails is removed
	// again by the next restore of this instance (startOver empties its
	// directory), so it does not fail a restore that worked.
	defer func() {
		if err := os.RemoveAll(staging); err != nil {
			fmt.Fprintf(os.Stderr, "teal: remove %s: %v\n", staging, err)
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read the archive: %w", err)
	}
	for _, ent := range entries {
		fi, err := ent.Info()
		if err != nil || !fi.Mode().IsRegular() || strings.HasSuffix(ent.Name(), ".tmp") {
			continue
		}
		if fi.ModTime().Before(since) && !strings.HasSuffix(ent.Name(), ".history") {
			continue
		}
		if err := engine.CopyFile(filepath.Join(dir, ent.Name()), filepath.Join(staging, ent.Name()), l.Credential); err != nil {
			return fmt.Errorf("stage archived WAL: %w", err)
		}
	}
	if err := writeAccess(l, false); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Written by teal for a point-in-time restore; rewritten when it is done.\n")
	for _, kv := range [][2]string{
		{"listen_addresses", ""},
		{"port", fmt.Sprint(l.Port)},
		{"unix_socket_directories", l.SocketDir},
		{"unix_socket_permissions", "0700"},
		{"hot_standby", "off"},
		{"archive_mode", "off"},
		{"restore_command", fmt.Sprintf("cp %s/%%f %%p", shellQuote(staging))},
		{"recovery_target_time", target.UTC().Format("2006-01-02 15:04:05.999999+00")},
		{"recovery_target_inclusive", "on"},
		{"recovery_target_timeline", "latest"},
		{"recovery_target_action", "promote"},
	} {
		line, err := confLine(kv[0], kv[1])
		if err != nil {
			return err
		}
		b.WriteString(line)
	}
	if err := engine.WriteOwned(filepath.Join(l.DataDir, "teal.conf"), []byte(b.String()), l.Credential); err != nil {
		return err
	}
	if err := engine.WriteOwned(filepath.Join(l.DataDir, "recovery.signal"), nil, l.Credential); err != nil {
		return err
	}
	spec := e.Spec(l)
	// Connections are refused until recovery has promoted the server.
	spec.ReadyTimeout = 24 * time.Hour
	spec.Ready = func(ctx context.Context) error {
		c, err := Connect(ctx, l, "postgres")
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		var recovering bool
		if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovering); err != nil {
			return err
		}
		if recovering {
			return errors.New("still recovering")
		}
		return nil
	}
	if err := run(ctx, spec, func(context.Context) error { return nil }); err != nil {
		return fmt.Errorf("recover to %s: %w", target.UTC().Format(time.RFC3339Nano), err)
	}
	return nil
}
