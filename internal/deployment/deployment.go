// Package deployment carries out a blue/green switchover as a persisted
// state machine: the phases up to the commit point, the rollback before
// it, the roll-forward after it, and what teal does at start with a
// switchover it finds in the store (bluegreen.ResumeOf). Whatever a phase
// acts on (servers, endpoints, the store) it reaches through Env, which
// internal/rds implements over real servers; the unit tests drive every
// path against a fake.
//
// State follows one rule: the next state is a copy, the copy is saved, and
// only a saved copy becomes the runner's state. A save that fails before
// the commit point rolls the switchover back. After it the switchover rolls
// forward, because the commit is saved and is what counts. The outcome is
// saved again and again until the store takes it or teal stops; until
// then the deployment says, unsaved, why it is still in progress.
package deployment

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// Switchover is the persisted progress of one switchover.
type Switchover struct {
	Phase    string
	Started  time.Time
	Deadline time.Time
	Timeout  int                // seconds
	Marker   engine.Marker      `json:",omitempty"`
	Renames  []Rename           `json:",omitempty"` // decided at the commit point
	Timings  map[string]float64 `json:",omitempty"` // milliseconds per phase
	Error    string             `json:",omitempty"`
}

// Rename is one instance's move at the commit point.
type Rename struct {
	ResourceID string
	From, To   string
	FromPort   int
	ToPort     int
}

// State is what the runners change of a deployment: its status
// (bluegreen.Status*) and StatusDetails, the tasks of building green, the
// schema replication started from, and the switchover's progress (nil
// before the first switchover). The members' statuses follow the
// deployment's. Baseline is never changed in place.
type State struct {
	Status     string
	Details    string
	Tasks      []bluegreen.Task
	Baseline   *engine.SchemaState
	Switchover *Switchover
}

// Clone copies st so that no map or slice is shared with it.
func (st State) Clone() State {
	st.Tasks = slices.Clone(st.Tasks)
	if st.Switchover != nil {
		sw := *st.Switchover
		sw.Marker = maps.Clone(sw.Marker)
		sw.Timings = maps.Clone(sw.Timings)
		sw.Renames = slices.Clone(sw.Renames)
		st.Switchover = &sw
	}
	return st
}

// Begin is st with a switchover that starts at now and may take timeout
// seconds before its commit point.
func Begin(st State, now time.Time, timeout int) State {
	st = st.Clone()
	st.Status, st.Details = bluegreen.StatusSwitchoverInProgress, ""
	st.Switchover = &Switchover{Phase: bluegreen.PhaseGuardrails, Started: now,
		Deadline: now.Add(time.Duration(timeout) * time.Second), Timeout: timeout, Timings: map[string]float64{}}
	return st
}

// MemberStatus is the SwitchoverDetails status of every member of a
// deployment in status, or "" where the members keep their own.
func MemberStatus(status string) string {
	switch status {
	case bluegreen.StatusAvailable:
		return bluegreen.MemberAvailable
	case bluegreen.StatusSwitchoverInProgress:
		return bluegreen.MemberInProgress
	case bluegreen.StatusSwitchoverCompleted:
		return bluegreen.MemberCompleted
	case bluegreen.StatusSwitchoverFailed:
		return bluegreen.MemberFailed
	}
	return ""
}

// Event is the message recorded with a saved state; an empty message
// records none.
type Event struct {
	Category string // an RDS event category: "notification", "failure", ...
	Message  string
}

func notification(message string) Event { return Event{"notification", message} }

// Side names one environment of a deployment.
type Side int

const (
	Blue Side = iota
	Green
)

func (s Side) String() string {
	if s == Green {
		return "green"
	}
	return "blue"
}

// Saver keeps a deployment's state.
type Saver interface {
	// Save stores st, with ev, as the deployment's state, and publishes it
	// once it is saved. On error nothing changed.
	Save(ctx context.Context, st State, ev Event) error
	// Unsaved tells what the deployment is doing or waits for, without
	// saving it: it shows with the status until the next save. "" clears it.
	Unsaved(detail string)
}

// Env is what a switchover needs of the rest of teal. Every method acts on
// the one deployment the Env was made for, and every one that changes a
// server or an endpoint is idempotent, so a step can run again after a
// restart.
type Env interface {
	Saver
	// Commit is the commit point. In one transaction it renames green to
	// blue's names and blue to NAME-oldN, moves the endpoint ports with the
	// names, and saves st at bluegreen.PhaseCommitted with the renames it
	// decided; it returns what it saved. On error nothing changed.
	Commit(ctx context.Context, st State) (State, error)
	// Health measures what the guardrails judge.
	Health(ctx context.Context) (bluegreen.Health, error)
	// Hold makes every member endpoint hold new connections, for at most
	// hold.
	Hold(hold time.Duration) error
	// Drain ends the client sessions of every member, each between two
	// transactions where it can by deadline; it says how many ended cleanly
	// and how many were cut.
	Drain(ctx context.Context, deadline time.Time) (clean, cut int)
	// SetReadOnly makes one side's primary (blue) or every member (green)
	// read-only or writable.
	SetReadOnly(ctx context.Context, side Side, on bool) error
	// EndSessions ends every session left on blue and green.
	EndSessions(ctx context.Context) error
	// WriteMarker commits a marker on blue; WaitMarker waits until green
	// has applied it.
	WriteMarker(ctx context.Context) (engine.Marker, error)
	WaitMarker(ctx context.Context, m engine.Marker) error
	// SyncSequences moves green's sequences to at least blue's.
	SyncSequences(ctx context.Context) error
	// Route points every renamed name's endpoint at the server that now
	// holds it and closes endpoints of names no longer held.
	Route(ctx context.Context, renames []Rename) error
	// Release lets every member endpoint's held connections through.
	Release()
	// StopReplication removes the replication from blue to green.
	StopReplication(ctx context.Context) error
}

// ErrTimeout marks a switchover that ran out of time before its commit
// point.
var ErrTimeout = errors.New("switchover timeout reached")
