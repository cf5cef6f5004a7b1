package mariadb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/engine"
)

// Automated backups of a MariaDB server: its binary logs, closed by FLUSH
// BINARY LOGS and copied into teal's archive. A point-in-time restore
// copies a base snapshot (prepared by mariadb-backup, which records the
// binary log position it was taken at), starts it without networking or
// binary logging, and replays the archived logs from that position up to
// the target with mariadb-binlog. Binary log events carry whole seconds:
// a restore keeps every event of the target's second and before, none
// after.

// Archive implements engine.Archiver. Position is the server's GTID
// position: only transactions change it.
func (e *Engine) Archive(ctx context.Context, l engine.Layout, dir string, last string) (engine.ArchivePoint, error) {
	db, err := Connect(l)
	if err != nil {
		return engine.ArchivePoint{}, err
	}
	defer db.Close()
	var pos string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return engine.ArchivePoint{}, fmt.Errorf("binary log position: %w", err)
	}
	point := engine.ArchivePoint{Time: time.Now(), Position: pos, Idle: pos == last}
	if !point.Idle {
		// LOCAL: not written to the binary log, where a replica (a green)
		// would log it as a transaction of its own.
		if _, err := db.ExecContext(ctx, "FLUSH LOCAL BINARY LOGS"); err != nil {
			return engine.ArchivePoint{}, fmt.Errorf("close the binary log: %w", err)
		}
	}
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return engine.ArchivePoint{}, fmt.Errorf("list binary logs: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return engine.ArchivePoint{}, err
	}
	var names []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(cols); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return engine.ArchivePoint{}, err
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return engine.ArchivePoint{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return engine.ArchivePoint{}, err
	}
	// Every log but the last is closed and never changes again.
	for i := 0; i+1 < len(names); i++ {
		name := filepath.Base(names[i])
		to := filepath.Join(dir, name)
		if _, err := os.Stat(to); err == nil {
			continue
		}
		tmp := to + ".tmp"
		// A copy an interrupted run left; a removal that fails shows as the
		// copy's own error just below.
		if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
			return engine.ArchivePoint{}, fmt.Errorf("archive %s: %w", name, err)
		}
		if err := engine.CopyFile(filepath.Join(l.DataDir, name), tmp, nil); err != nil {
			return engine.ArchivePoint{}, fmt.Errorf("archive %s: %w", name, err)
		}
		if err := os.Rename(tmp, to); err != nil {
			return engine.ArchivePoint{}, err
		}
	}
	return point, nil
}

// binlogNumber is the sequence number of a binary log file name
// (mariadb-bin.000012), or -1.
func binlogNumber(name string) int {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return -1
	}
	return n
}

// backupBinlogPos reads the binary log file and position a mariadb-backup
// copy was taken at.
func backupBinlogPos(datadir string) (file string, pos int64, err error) {
	for _, name := range []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"} {
		data, err := os.ReadFile(filepath.Join(datadir, name))
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) < 2 {
			break
		}
		pos, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			break
		}
		return f[0], pos, nil
	}
	return "", 0, fmt.Errorf("no binary log position in the copy at %s", datadir)
}

// RestoreToTime implements engine.Archiver.
func (e *Engine) RestoreToTime(ctx context.Context, l engine.Layout, base, dir string, since, target time.Time, run engine.RunFunc) error {
	if err := engine.CopyTree(snapshotData(base), l.DataDir, l.Credential); err != nil {
		return fmt.Errorf("restore the base snapshot: %w", err)
	}
	first, pos, err := backupBinlogPos(l.DataDir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read the archive: %w", err)
	}
	var logs []string
	for _, ent := range entries {
		if n := binlogNumber(ent.Name()); n >= binlogNumber(first) && n >= 0 && ent.Type().IsRegular() && !strings.HasSuffix(ent.Name(), ".tmp") {
			logs = append(logs, ent.Name())
		}
	}
	sort.Slice(logs, func(i, j int) bool { return binlogNumber(logs[i]) < binlogNumber(logs[j]) })
	if len(logs) > 0 && logs[0] != first {
		return fmt.Errorf("the archive lacks %s, where the base snapshot's changes go on", first)
	}
	for i := 1; i < len(logs); i++ {
		if binlogNumber(logs[i]) != binlogNumber(logs[i-1])+1 {
			return fmt.Errorf("the archive lacks the binary log after %s", logs[i-1])
		}
	}
	// The server replays with nothing but teal's socket, and logs nothing.
	var b strings.Builder
	b.WriteString("# Written by teal for a point-in-time restore; rewritten when it is done.\n[mariadbd]\n")
	for _, kv := range [][2]string{
		{"datadir", l.DataDir},
		{"socket", filepath.Join(l.SocketDir, "mysqld.sock")},
		{"skip_networking", "ON"},
		{"skip_log_bin", "ON"},
		{"pid_file", filepath.Join(l.DataDir, "mariadbd.pid")},
		{"server_id", fmt.Sprint(serverID(l))},
		{"event_scheduler", "OFF"},
	} {
		line, err := optionLine(kv[0], kv[1])
		if err != nil {
			return err
		}
		b.WriteString(line)
	}
	if err := engine.MkdirOwned(l.SocketDir, 0o700, l.Credential); err != nil {
		return err
	}
	if err := engine.WriteOwned(configPath(l), []byte(b.String()), l.Credential); err != nil {
		return err
	}
	if len(logs) == 0 {
		return nil // nothing was logged after the base
	}
	admin, err := adminName()
	if err != nil {
		return err
	}
	// The binary log's times are whole seconds, in the zone mariadb-binlog
	// runs in: the first event of the second after the target stops it.
	stop := target.UTC().Truncate(time.Second).Add(time.Second).Format("2006-01-02 15:04:05")
	args := []string{"--start-position=" + strconv.FormatInt(pos, 10), "--stop-datetime=" + stop}
	for _, name := range logs {
		args = append(args, filepath.Join(dir, name))
	}
	replay := func(ctx context.Context) error {
		dump := exec.CommandContext(ctx, "/usr/bin/mariadb-binlog", args...)
		dump.Env = []string{"TZ=UTC", "PATH=/usr/bin:/bin"}
		apply := exec.CommandContext(ctx, "/usr/bin/mariadb", "--no-defaults", "--binary-mode",
			"--socket="+filepath.Join(l.SocketDir, "mysqld.sock"), "--user="+admin)
		pr, pw := io.Pipe()
		var dumpErr, applyErr bytes.Buffer
		dump.Stdout, dump.Stderr = pw, &dumpErr
		apply.Stdin, apply.Stdout, apply.Stderr = pr, &applyErr, &applyErr
		if err := apply.Start(); err != nil {
			return fmt.Errorf("replay the binary logs: %w", err)
		}
		derr := dump.Run()
		pw.CloseWithError(derr)
		aerr := apply.Wait()
		pr.Close()
		if derr != nil {
			return fmt.Errorf("mariadb-binlog: %w: %s", derr, engine.Tail(dumpErr.String(), 2000))
		}
		if aerr != nil {
			return fmt.Errorf("replay the binary logs: %w: %s", aerr, engine.Tail(applyErr.String(), 2000))
		}
		return nil
	}
	if err := run(ctx, e.Spec(l), replay); err != nil {
		return fmt.Errorf("replay to %s: %w", target.UTC().Format(time.RFC3339), err)
	}
	return nil
}
