package engine

import (
	"context"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
)

// ReplicationStatus is how green follows blue.
type ReplicationStatus struct {
	Tables, TablesCopied int     // initial copy progress
	Streaming            bool    // every database's changes are streaming
	Problem              string  // why replication is not healthy, or ""
	LagBytes             int64   // largest unconfirmed WAL distance (PostgreSQL)
	LagTransactions      int64   // GTID distance: transactions blue has that green has not (MariaDB)
	LagSeconds           float64 // heartbeat lag
}

// Healthy reports whether the initial copy is done and changes stream.
func (s ReplicationStatus) Healthy() bool {
	return s.Problem == "" && s.Streaming && s.TablesCopied == s.Tables
}

// SchemaState summarises what of blue logical replication cannot follow:
// its schema, per database, and writes to large objects.
type SchemaState struct {
	Fingerprints      map[string]string
	LargeObjectWrites map[string]int64
}

// Activity is what switchover guardrails need to know of a server's sessions.
type Activity struct {
	ActiveWrites  int           // client transactions that have written
	LongestWrite  time.Duration // age of the oldest such transaction
	LongestWriter string        // who holds it
	LongestDDL    time.Duration // age of the oldest running DDL statement
}

// Marker is a position in blue's history: once green has applied it, green
// has applied every transaction blue committed before it. Its keys and
// values are the engine's own (PostgreSQL: a heartbeat per database;
// MariaDB: the GTID position).
type Marker map[string]string

// Replicator is what blue/green deployments need of an engine: a green
// server kept in sync with a blue one by logical replication. Every method
// is idempotent, so an interrupted deployment can run a step again. id names
// the deployment; the engine names its own objects after it.
type Replicator interface {
	// SourceReady checks that blue's parameters allow replication to green.
	SourceReady(params map[string]string) error
	// Preflight inspects blue for what replication cannot carry.
	Preflight(ctx context.Context, blue Layout) ([]bluegreen.Finding, error)
	// StartReplication prepares blue, copies users, schema and the existing
	// data to the new green and starts replication of what blue commits
	// after the copy's consistent point. It reports how far the copy has
	// come to progress, which may be nil, as it goes.
	StartReplication(ctx context.Context, blue, green Layout, id string, progress func(CopyProgress)) error
	// ReplicationStatus measures the initial copy, health and lag.
	ReplicationStatus(ctx context.Context, blue, green Layout, id string) (ReplicationStatus, error)
	// Heartbeat records the time on blue, for lag in seconds.
	Heartbeat(ctx context.Context, blue Layout) error
	// SchemaState summarises blue's schema, to detect DDL.
	SchemaState(ctx context.Context, blue Layout) (SchemaState, error)
	// AfterInitialCopy prepares green once its data is copied: planner
	// statistics for every table, or with onlyMissing for those an upgrade
	// in place did not carry over.
	AfterInitialCopy(ctx context.Context, green Layout, onlyMissing bool, progress func(CopyProgress)) error
	// Activity reports client write activity on a server.
	Activity(ctx context.Context, l Layout) (Activity, error)
	// ExternalReplication reports whether blue replicates from elsewhere.
	ExternalReplication(ctx context.Context, blue Layout) (bool, error)
	// DrainSessions ends the client sessions on a server between
	// transactions: an idle session at once, one inside a transaction as soon
	// as it is idle again. It returns at deadline, or when no session is
	// left, with how many ended and how many are still open. Sessions whose
	// client port is in skip are left alone (teal's proxy ends them itself).
	DrainSessions(ctx context.Context, l Layout, deadline time.Time, skip []int) (ended, left int, err error)
	// EndSessions ends every client session on a server.
	EndSessions(ctx context.Context, l Layout) (int, error)
	// WriteMarker commits a marker on blue, even while blue is read-only.
	WriteMarker(ctx context.Context, blue Layout) (Marker, error)
	// WaitMarker returns once green has applied the marker, or ctx ends.
	WaitMarker(ctx context.Context, green Layout, m Marker) error
	// SyncSequences brings green's sequences at least to blue's values.
	SyncSequences(ctx context.Context, blue, green Layout) (int, error)
	// StopReplication removes replication and teal's objects from both
	// sides; a nil side is skipped (it is gone).
	StopReplication(ctx context.Context, blue, green *Layout, id string) error
}

// ConnectionKeeper is implemented by engines that can keep their admin
// sessions to a server open across a switchover's phases, which run while
// writes wait. release ends the keeping.
type ConnectionKeeper interface {
	KeepConnections(ctx context.Context, l Layout) (release func())
}

// ReplicationKeeper is implemented by engines whose green keeps replicating
// from blue when a deployment is deleted without DeleteTarget (MariaDB, as
// RDS does); the others stop replication then.
type ReplicationKeeper interface {
	KeepsReplicationOnDelete() bool
}

// GreenCloner is implemented by engines that build a green as a physical
// copy of blue's files, recovered up to the point where the deployment's
// logical replication starts, and upgraded in place when green is of a
// newer major: nothing is copied row by row and no index is built.
type GreenCloner interface {
	// Clones reports whether a green of build green is cloned from a
	// blue of build blue.
	Clones(blue, green Build) bool
	// CloneGreen prepares blue as StartReplication does and copies its
	// files. It returns how the copy must follow blue (up to the point,
	// where it stops and is promoted) and where it does: green itself, or
	// for a newer major a layout of blue's build that UpgradeClone turns
	// into green.
	CloneGreen(ctx context.Context, blue, green Layout, id string, progress func(CopyProgress)) (Replication, Layout, error)
	// AwaitPromotion waits until the copy, started with the settings of
	// follow, has been promoted, and releases blue's WAL.
	AwaitPromotion(ctx context.Context, blue, clone Layout, follow Replication) error
	// UpgradeClone makes green's data directory, of a newer major, from
	// the promoted and stopped copy, which it consumes.
	UpgradeClone(ctx context.Context, clone, green Layout, progress func(CopyProgress)) error
	// FinishClone removes what green inherited of blue's replication, and
	// what is left of an upgraded copy, and starts logical replication at
	// the point.
	FinishClone(ctx context.Context, blue, green Layout, id string, follow Replication) error
	// CloneSettings are those a cloned green starts with, over its own,
	// until it is next started or reloaded.
	CloneSettings(b Build) map[string]string
}

// Loader is implemented by engines whose green is loaded faster with
// settings it must not keep. Green starts with LoadSettings over its own
// for StartReplication and is restarted with its own before it is used.
type Loader interface {
	LoadSettings(b Build) map[string]string
}

// FailoverTaker is implemented by engines whose replicas can take over
// from a source that has stopped, losing nothing it acknowledged.
type FailoverTaker interface {
	// FinalPosition reads, from the files of a server that has stopped
	// cleanly, the position of the last thing it wrote: every commit it
	// acknowledged comes before it.
	FinalPosition(l Layout) (string, error)
	// Replayed reports whether a running replica has replayed its
	// source's history past pos.
	Replayed(ctx context.Context, replica Layout, pos string) (bool, error)
	// Receiving reports whether a running replica is connected to its
	// source and receiving its history now: only then does it get the
	// source's last records when the source stops.
	Receiving(ctx context.Context, replica Layout) (bool, error)
}
