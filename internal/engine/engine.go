// Package engine defines what teal needs from a database engine and finds the
// engine builds installed on the machine. Each engine lives in a child package
// (postgres/, later mariadb/) and implements Engine.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tealdb/teal/internal/supervisor"
)

// Build is one installed engine build.
type Build struct {
	Engine  string // "postgres", "mariadb"
	Version string // full version as RDS shows it, e.g. "17.10"
	BinDir  string // holds the server binary
}

// Major is the version's major part: "17" for 17.10, "10.11" for MariaDB 10.11.4.
func (b Build) Major() string { return majorOf(b.Engine, b.Version) }

// Family is the parameter group family, e.g. "postgres17".
func (b Build) Family() string { return b.Engine + b.Major() }

// IsPostgres reports whether an engine name is one of PostgreSQL's:
// postgres, or aurora-postgresql for the members of DB clusters.
func IsPostgres(name string) bool { return name == "postgres" || name == "aurora-postgresql" }

func majorOf(engine, version string) string {
	parts := strings.Split(version, ".")
	if IsPostgres(engine) || len(parts) < 2 {
		return parts[0]
	}
	return parts[0] + "." + parts[1]
}

// Layout is where one DB instance's server lives and how it is reached.
type Layout struct {
	Build      Build
	DataDir    string              // the server's data directory
	SocketDir  string              // private (0700) directory of the admin socket
	Port       int                 // the server's own TCP port on 127.0.0.1 (the proxy forwards to it)
	LogPath    string              // server log
	Credential *syscall.Credential // OS user the server runs as; nil = teal's own
	TLS        *TLS                // the server's certificate; nil: no TLS
	// ArchiveDir is where the server hands over its change log for
	// automated backups (PostgreSQL's archive_command copies each WAL
	// segment there, for Archiver.Archive to collect); "" archives nothing.
	ArchiveDir string
}

// TLS is a server certificate (with its chain) and key, in PEM, which
// WriteConfig installs in the data directory, readable by the server's
// user alone.
type TLS struct {
	CertPEM, KeyPEM []byte
}

// Master is the instance's master user, created at initialisation.
type Master struct {
	Username string
	Verifier string // what the server stores for the password (Engine.PasswordVerifier)
	DBName   string // optional database to create, owned by the master user
}

// Replication says how a replica follows its source.
type Replication struct {
	Source Layout
	Slot   string // the replication slot on the source
	// StopAt, if set, is a position in the source's history: the follower
	// stops there and becomes a primary (a green cloned from blue).
	StopAt string
}

// ParamType classifies a parameter's values.
type ParamType string

// Parameter types, named as RDS names them (DataType).
const (
	TypeBoolean ParamType = "boolean"
	TypeInteger ParamType = "integer"
	TypeFloat   ParamType = "float"
	TypeString  ParamType = "string"
	TypeEnum    ParamType = "list"
)

// ParamInfo describes one engine parameter.
type ParamInfo struct {
	Name          string
	Description   string
	Type          ParamType
	Static        bool     // needs a restart (RDS ApplyType "static")
	Modifiable    bool     // users may set it in a parameter group
	Min, Max      string   // bounds for numbers, in the engine's base unit
	AllowedValues []string // enum values, when known
	Default       string
}

// Settable lists the names of the parameters of a catalog that a group may
// set.
func Settable(catalog []ParamInfo) map[string]bool {
	out := make(map[string]bool, len(catalog))
	for _, p := range catalog {
		if p.Modifiable {
			out[p.Name] = true
		}
	}
	return out
}

// Lag is a replica's distance behind its source.
type Lag struct {
	Bytes   int64
	Seconds float64
}

// Engine is what teal needs from a database engine.
type Engine interface {
	Name() string
	// Builds lists the installed builds, newest first.
	Builds() []Build
	// Parameters is the parameter catalog of a build.
	Parameters(b Build) ([]ParamInfo, error)
	// Defaults are the values of the default parameter group: what makes an
	// instance of this build ready for blue/green.
	Defaults(b Build) map[string]string
	// Init creates a new server's data directory.
	Init(ctx context.Context, l Layout) error
	// WriteConfig writes the server configuration: teal's own settings, the
	// parameter values, and how to follow the source when rep is not nil.
	WriteConfig(l Layout, params map[string]string, rep *Replication) error
	// Spec says how the supervisor runs the server.
	Spec(l Layout) supervisor.Spec
	// Bootstrap creates the master user and database on a new, running server.
	Bootstrap(ctx context.Context, l Layout, m Master) error
	// PasswordVerifier computes what the server stores for a password (a
	// salted verifier or a hash). teal keeps and sends only this: the
	// password itself is never stored and never travels as SQL.
	PasswordVerifier(password string) (string, error)
	// SetPassword gives a user the password a verifier stands for, on a
	// running server.
	SetPassword(ctx context.Context, l Layout, user, verifier string) error
	// Reload makes a running server re-read its configuration.
	Reload(ctx context.Context, l Layout) error
	// CloneReplica fills the empty replica data directory rep.Layout from the running
	// source, so that the replica can start and follow it.
	CloneReplica(ctx context.Context, replica Layout, rep Replication) error
	// Promote turns a running replica into a standalone server.
	Promote(ctx context.Context, l Layout) error
	// DropReplicationSlot removes a replica's slot from its (running) source.
	DropReplicationSlot(ctx context.Context, source Layout, slot string) error
	// ReplicaLag measures how far a running replica is behind its source.
	ReplicaLag(ctx context.Context, replica Layout, rep Replication) (Lag, error)
}

// ReplicaStarter is implemented by engines whose replicas are told to
// follow their source once started (MariaDB's CHANGE MASTER), rather than
// by their configuration (PostgreSQL's primary_conninfo).
type ReplicaStarter interface {
	StartReplica(ctx context.Context, replica Layout, rep Replication) error
}

// ErrUnsupported means the engine or the machine cannot do what was asked.
var ErrUnsupported = errors.New("not supported")

// ErrUpgradeRefused is wrapped by the error of an in-place upgrade that
// refused the data it was given (pg_upgrade's checks): the data is fine,
// and a logical copy can still build the newer version.
var ErrUpgradeRefused = errors.New("the in-place upgrade refused the data")

// ErrVersionNotFound means no installed build matches a requested version.
var ErrVersionNotFound = errors.New("engine version not installed")

// Resolve finds the build for a requested version: a full version ("17.10")
// or a major version ("17"), which means the newest installed minor. An empty
// version means the newest build.
func Resolve(builds []Build, version string) (Build, error) {
	sorted := append([]Build(nil), builds...)
	SortNewestFirst(sorted)
	for _, b := range sorted {
		if version == "" || b.Version == version || b.Major() == version {
			return b, nil
		}
	}
	return Build{}, fmt.Errorf("%w: %s", ErrVersionNotFound, version)
}

// SortNewestFirst orders builds by version, newest first.
func SortNewestFirst(builds []Build) {
	sort.SliceStable(builds, func(i, j int) bool {
		return CompareVersions(builds[i].Version, builds[j].Version) > 0
	})
}

// CompareVersions compares dotted numeric versions.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Snapshotter is implemented by engines whose servers can be copied into a
// DB snapshot and restored from one. A snapshot is a directory of teal's
// own that holds a consistent physical image of the server, with whatever
// its restore needs (PostgreSQL's WAL from the backup's start to its end,
// MariaDB's prepared redo), so that it outlives the instance it was taken
// from.
type Snapshotter interface {
	// Snapshot copies the running server l into dir, which must not exist.
	// copied, if not nil, counts the bytes copied so far.
	Snapshot(ctx context.Context, l Layout, dir string, copied *atomic.Int64) error
	// Restore fills l's data directory, which must not exist, from the
	// snapshot in dir, for l's OS user. The server then starts from it as
	// a primary of its own, after recovering to the snapshot's
	// consistent point.
	Restore(ctx context.Context, l Layout, dir string) error
}

// Archiver is implemented by engines that keep a continuous archive of a
// server's changes, for restores to a point in time: PostgreSQL's WAL,
// MariaDB's binary logs. The archive is a directory of teal's own; a base
// is a snapshot (Snapshotter) of the same server.
type Archiver interface {
	// Archive moves into dir what the running server l has logged so far,
	// and says up to when the archive now restores. last is the Position
	// of the previous call's point: a server that logged nothing since
	// is only checked, and its point is now.
	Archive(ctx context.Context, l Layout, dir string, last string) (ArchivePoint, error)
	// RestoreToTime fills l's data directory, which must not exist, from
	// the base snapshot in base and the archive in dir, replaying the
	// changes committed up to target, none after, for l's OS user. since
	// is when base was taken: files archived before it are not needed.
	// run runs the server for the replay, before it is supervised.
	RestoreToTime(ctx context.Context, l Layout, base, dir string, since, target time.Time, run RunFunc) error
}

// ArchivePoint is how far an archive restores.
type ArchivePoint struct {
	// Time: every change committed before it is in the archive.
	Time time.Time
	// Position is where the server's log was; it tells the next call
	// whether anything was logged since.
	Position string
	// Idle: nothing was logged since the last point, so the archive
	// restores up to Time the state it had at the last point.
	Idle bool
}

// RunFunc runs a server's spec until it is ready, then while, then stops
// it (supervisor.Supervisor.RunWhile).
type RunFunc func(ctx context.Context, spec supervisor.Spec, while func(ctx context.Context) error) error

// CopyStarter is implemented by engines whose server, copied from
// another's files by CloneReplica, starts faster the first time with
// settings it need not keep: a replica starts with CopyStartSettings over
// its own, which are written back once it runs.
type CopyStarter interface {
	CopyStartSettings(b Build) map[string]string
}
