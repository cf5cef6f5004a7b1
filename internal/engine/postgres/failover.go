package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tealdb/teal/internal/engine"
)

// The start of pg_control (ControlFileData), the same in every major teal
// runs: system identifier (8 bytes), control and catalog versions (4 + 4),
// the cluster state (4, then 4 of padding), the time of the last change
// (8), and the position of the last checkpoint record (8). Numbers are in
// the machine's byte order, little-endian here.
const (
	controlStateOffset      = 16
	controlCheckpointOffset = 32
	controlMinLength        = 40

	stateShutdowned = 1 // DB_SHUTDOWNED: a primary stopped cleanly
)

// FinalPosition implements engine.FailoverTaker: the position of the
// shutdown checkpoint of a primary that stopped cleanly. A clean stop
// writes that checkpoint after every commit, and the walsenders send the
// WAL up to it to the replicas before they exit.
func (e *Engine) FinalPosition(l engine.Layout) (string, error) {
	b, err := os.ReadFile(filepath.Join(l.DataDir, "global", "pg_control"))
	if err != nil {
		return "", fmt.Errorf("read the stopped server's control file: %w", err)
	}
	if len(b) < controlMinLength {
		return "", fmt.Errorf("control file of %s: %d bytes, too short", l.DataDir, len(b))
	}
	if state := binary.LittleEndian.Uint32(b[controlStateOffset:]); state != stateShutdowned {
		return "", fmt.Errorf("the server of %s did not stop cleanly as a primary (state %d)", l.DataDir, state)
	}
	return formatLSN(binary.LittleEndian.Uint64(b[controlCheckpointOffset:])), nil
}

// Replayed implements engine.FailoverTaker: the replica's last replayed
// record ends past pos, so the record at pos (the source's shutdown
// checkpoint) and everything before it are applied.
func (e *Engine) Replayed(ctx context.Context, replica engine.Layout, pos string) (bool, error) {
	want, err := parseLSN(pos)
	if err != nil {
		return false, err
	}
	c, err := session(ctx, replica, "postgres")
	if err != nil {
		return false, err
	}
	defer done(c)
	var replayed *string
	if err := c.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn()::text").Scan(&replayed); err != nil {
		return false, fmt.Errorf("replayed position: %w", err)
	}
	if replayed == nil {
		return false, fmt.Errorf("%s is not a replica", replica.DataDir)
	}
	got, err := parseLSN(*replayed)
	if err != nil {
		return false, err
	}
	return got > want, nil
}

// Receiving implements engine.FailoverTaker: the replica's WAL receiver is
// connected and streaming.
func (e *Engine) Receiving(ctx context.Context, replica engine.Layout) (bool, error) {
	c, err := session(ctx, replica, "postgres")
	if err != nil {
		return false, err
	}
	defer done(c)
	var streaming bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')").Scan(&streaming); err != nil {
		return false, fmt.Errorf("WAL receiver: %w", err)
	}
	return streaming, nil
}
