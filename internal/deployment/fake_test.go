package deployment

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// fakeEnv is a deployment's world in memory: a store and the memory that
// publishes it, the two environments' servers and the endpoints.
type fakeEnv struct {
	mu sync.Mutex

	memory, stored State
	events         []Event
	unsaved        string

	// What the servers and endpoints are like now.
	blueRO, greenRO bool
	held            bool
	renamed         bool // the names moved at the commit point
	routed          bool // the endpoints follow the moved names
	replicating     bool
	marker          engine.Marker

	calls []string

	// Faults.
	fail      map[string]int    // op → how many of its next calls fail (-1: every call)
	block     string            // an op that waits until its context ends
	storeDown int               // how many of the next saves fail (-1: every save)
	onCall    map[string]func() // runs as op is called
	saves     int               // saves the store refused
}

var errInjected = errors.New("injected failure")

func newFake(st State) *fakeEnv {
	return &fakeEnv{memory: st.Clone(), stored: st.Clone(), greenRO: true, replicating: true,
		fail: map[string]int{}, onCall: map[string]func(){}}
}

// op records a call and says whether it fails.
func (f *fakeEnv) op(ctx context.Context, name string) error {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	fn := f.onCall[name]
	block := f.block == name
	var err error
	if n := f.fail[name]; n != 0 {
		if n > 0 {
			f.fail[name] = n - 1
		}
		err = fmt.Errorf("%s: %w", name, errInjected)
	}
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
	if block && ctx != nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeEnv) storeRefuses() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeDown == 0 {
		return false
	}
	if f.storeDown > 0 {
		f.storeDown--
	}
	f.saves++
	return true
}

func (f *fakeEnv) Save(ctx context.Context, st State, ev Event) error {
	if err := f.op(ctx, "save "+st.Switchover.Phase); err != nil {
		return err
	}
	if f.storeRefuses() {
		return errors.New("store: disk I/O error")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored, f.memory = st.Clone(), st.Clone()
	if ev.Message != "" {
		f.events = append(f.events, ev)
	}
	return nil
}

func (f *fakeEnv) Commit(ctx context.Context, st State) (State, error) {
	if err := f.op(ctx, "commit"); err != nil {
		return State{}, err
	}
	if f.storeRefuses() {
		return State{}, errors.New("store: disk I/O error")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st.Switchover.Phase = bluegreen.PhaseCommitted
	st.Switchover.Renames = []Rename{
		{ResourceID: "db-green", From: "prod-green-abc123", To: "prod", FromPort: 5002, ToPort: 5001},
		{ResourceID: "db-blue", From: "prod", To: "prod-old1", FromPort: 5001, ToPort: 5003}}
	f.stored, f.memory = st.Clone(), st.Clone()
	f.renamed = true
	return st, nil
}

func (f *fakeEnv) Unsaved(detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unsaved = detail
}

func (f *fakeEnv) Health(ctx context.Context) (bluegreen.Health, error) {
	if err := f.op(ctx, "health"); err != nil {
		return bluegreen.Health{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return bluegreen.Health{ReplicationHealthy: f.replicating}, nil
}

func (f *fakeEnv) Hold(hold time.Duration) error {
	if err := f.op(nil, "hold"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = true
	return nil
}

func (f *fakeEnv) Drain(ctx context.Context, deadline time.Time) (int, int) {
	f.op(ctx, "drain")
	return 3, 0
}

func (f *fakeEnv) SetReadOnly(ctx context.Context, side Side, on bool) error {
	verb := "writable "
	if on {
		verb = "read-only "
	}
	if err := f.op(ctx, verb+side.String()); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if side == Blue {
		f.blueRO = on
	} else {
		f.greenRO = on
	}
	return nil
}

func (f *fakeEnv) EndSessions(ctx context.Context) error { return f.op(ctx, "end-sessions") }

func (f *fakeEnv) WriteMarker(ctx context.Context) (engine.Marker, error) {
	if err := f.op(ctx, "write-marker"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marker = engine.Marker{"lsn": "0/3000060"}
	return f.marker, nil
}

func (f *fakeEnv) WaitMarker(ctx context.Context, m engine.Marker) error {
	if err := f.op(ctx, "wait-marker"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !reflect.DeepEqual(m, f.marker) {
		return fmt.Errorf("waited for marker %v, blue wrote %v", m, f.marker)
	}
	return nil
}

func (f *fakeEnv) SyncSequences(ctx context.Context) error { return f.op(ctx, "sync-sequences") }

func (f *fakeEnv) Route(ctx context.Context, renames []Rename) error {
	if err := f.op(ctx, "route"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.renamed || len(renames) != 2 {
		return fmt.Errorf("route %v before the commit point", renames)
	}
	f.routed = true
	return nil
}

func (f *fakeEnv) Release() {
	f.op(nil, "release")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = false
}

func (f *fakeEnv) StopReplication(ctx context.Context) error {
	if err := f.op(ctx, "stop-replication"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicating = false
	return nil
}

// started is a switchover as the API saves it: at its first phase.
func started(timeout time.Duration) State {
	st := Begin(State{Status: bluegreen.StatusAvailable}, time.Now(), 30)
	st.Switchover.Deadline = time.Now().Add(timeout)
	return st
}

func quick(f *fakeEnv, st State, hook func(string)) *Runner {
	r := New(f, "bgd-test", st, hook, nil)
	r.SetBackoff(Backoff{First: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 4})
	return r
}

// agree checks that memory and store say the same, and that the runner's
// own state is what was saved.
func (f *fakeEnv) agree(t *testing.T, r *Runner) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !reflect.DeepEqual(f.memory, f.stored) {
		t.Errorf("memory and store differ:\nmemory %+v\nstored %+v", f.memory, f.stored)
	}
	if got := r.State(); !reflect.DeepEqual(got.Status, f.stored.Status) || got.Switchover.Phase != f.stored.Switchover.Phase {
		t.Errorf("runner holds %s/%s, the store %s/%s", got.Status, got.Switchover.Phase, f.stored.Status, f.stored.Switchover.Phase)
	}
	if f.unsaved != "" {
		t.Errorf("an unsaved detail is left: %s", f.unsaved)
	}
}

// rolledBack checks that nothing of a switchover is left: blue writable,
// names unchanged, connections let through, replication still running.
func (f *fakeEnv) rolledBack(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stored.Status != bluegreen.StatusSwitchoverFailed || f.stored.Switchover.Phase != bluegreen.PhaseRolledBack {
		t.Errorf("stored %s at %s, want %s at %s", f.stored.Status, f.stored.Switchover.Phase, bluegreen.StatusSwitchoverFailed, bluegreen.PhaseRolledBack)
	}
	if f.blueRO || f.held || f.renamed || f.routed || !f.replicating {
		t.Errorf("after a rollback: blue read-only %v, held %v, renamed %v, routed %v, replicating %v",
			f.blueRO, f.held, f.renamed, f.routed, f.replicating)
	}
}

// completed checks that production is green: names moved and routed,
// green writable, connections let through, replication gone.
func (f *fakeEnv) completed(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stored.Status != bluegreen.StatusSwitchoverCompleted || f.stored.Switchover.Phase != bluegreen.PhaseDone {
		t.Errorf("stored %s at %s, want %s at %s", f.stored.Status, f.stored.Switchover.Phase, bluegreen.StatusSwitchoverCompleted, bluegreen.PhaseDone)
	}
	if !f.renamed || !f.routed || f.greenRO || f.held || f.replicating || !f.blueRO {
		t.Errorf("after completion: renamed %v, routed %v, green read-only %v, held %v, replicating %v, blue read-only %v",
			f.renamed, f.routed, f.greenRO, f.held, f.replicating, f.blueRO)
	}
}
