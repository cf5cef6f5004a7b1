package deployment

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// fakeBuilder is a green build's world in memory: the deployment as
// stored and as published, and what the steps made.
type fakeBuilder struct {
	mu             sync.Mutex
	memory, stored State
	events         []Event
	unsaved        []string // every unsaved detail, in order

	calls     []string
	fail      map[string]error  // op → its error, every call
	onCall    map[string]func() // runs as op is called
	storeDown int               // how many of the next saves fail (-1: every save)
	refused   int

	copyPolls int  // how many measurements say the copy is still running
	cloned    bool // BuildGreen calls dataIn before it returns
	greenUp   bool
}

func newBuilder(st State) *fakeBuilder {
	return &fakeBuilder{memory: st.Clone(), stored: st.Clone(), fail: map[string]error{}, onCall: map[string]func(){}}
}

func (f *fakeBuilder) op(name string) error {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	fn := f.onCall[name]
	err := f.fail[name]
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
	return err
}

func (f *fakeBuilder) Save(ctx context.Context, st State, ev Event) error {
	if err := f.op("save"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeDown != 0 {
		if f.storeDown > 0 {
			f.storeDown--
		}
		f.refused++
		return errors.New("store: disk I/O error")
	}
	f.stored, f.memory = st.Clone(), st.Clone()
	if ev.Message != "" {
		f.events = append(f.events, ev)
	}
	return nil
}

func (f *fakeBuilder) Unsaved(detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unsaved = append(f.unsaved, detail)
}

func (f *fakeBuilder) BuildGreen(ctx context.Context, progress func(string), note func(Event) error, dataIn func()) error {
	if f.cloned {
		dataIn()
	}
	if err := f.op("build-green"); err != nil {
		return err
	}
	progress("copying the data: 3 of 7 files")
	return nil
}

func (f *fakeBuilder) PublishGreen(ctx context.Context) error { return f.op("publish-green") }

func (f *fakeBuilder) Baseline(ctx context.Context) (engine.SchemaState, error) {
	if err := f.op("baseline"); err != nil {
		return engine.SchemaState{}, err
	}
	return engine.SchemaState{Fingerprints: map[string]string{"app": "f00d"}}, nil
}

func (f *fakeBuilder) Replication(ctx context.Context) (engine.ReplicationStatus, error) {
	if err := f.op("replication"); err != nil {
		return engine.ReplicationStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.copyPolls > 0 {
		f.copyPolls--
		return engine.ReplicationStatus{Tables: 4, TablesCopied: 1, Streaming: true}, nil
	}
	return engine.ReplicationStatus{Tables: 4, TablesCopied: 4, Streaming: true, LagBytes: 100}, nil
}

func (f *fakeBuilder) AfterCopy(ctx context.Context, progress func(string)) error {
	return f.op("after-copy")
}

func (f *fakeBuilder) GreenAvailable(ctx context.Context) error {
	if err := f.op("green-available"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.greenUp = true
	return nil
}

func (f *fakeBuilder) BuildReplicas(ctx context.Context, progress func(string)) error {
	return f.op("build-replicas")
}

func (f *fakeBuilder) ConfigureBackups(ctx context.Context) error {
	return f.op("configure-backups")
}

func provisioning() State {
	return State{Status: bluegreen.StatusProvisioning, Tasks: bluegreen.Tasks(true, true)}
}

func quickBuild(f *fakeBuilder) *Build {
	b := NewBuild(f, "bgd-test", f.stored, nil)
	b.SetBackoff(Backoff{First: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 4})
	b.Poll = time.Millisecond
	return b
}

func taskStatuses(st State) map[string]string {
	out := map[string]string{}
	for _, t := range st.Tasks {
		out[t.Name] = t.Status
	}
	return out
}

// TestBuildCompletes: every task goes from in progress to completed, the
// replication baseline is saved, the copy's progress shows unsaved, and
// the deployment ends AVAILABLE.
func TestBuildCompletes(t *testing.T) {
	f := newBuilder(provisioning())
	f.copyPolls = 3
	b := quickBuild(f)
	b.Run(context.Background())

	if f.stored.Status != bluegreen.StatusAvailable || !reflect.DeepEqual(f.memory, f.stored) {
		t.Fatalf("stored %s (%s), memory %s", f.stored.Status, f.stored.Details, f.memory.Status)
	}
	for name, status := range taskStatuses(f.stored) {
		if status != bluegreen.TaskCompleted {
			t.Errorf("task %s is %s", name, status)
		}
	}
	if f.stored.Baseline == nil || f.stored.Baseline.Fingerprints["app"] != "f00d" {
		t.Errorf("baseline %+v", f.stored.Baseline)
	}
	if !f.greenUp {
		t.Error("green's primary was never made available")
	}
	// Blue's schema is read before green is built: a change during the
	// build degrades the deployment like any later one.
	want := []string{"save", "baseline", "build-green", "publish-green", "save", "replication", "replication", "replication", "replication",
		"after-copy", "green-available", "save", "build-replicas", "save", "save", "configure-backups", "save", "save"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n%v\nwant\n%v", f.calls, want)
	}
	if !slices.Contains(f.unsaved, "copying the data, 1 of 4 tables, 25%") || f.unsaved[len(f.unsaved)-1] != "" {
		t.Errorf("progress shown: %q", f.unsaved)
	}
	var msgs []string
	for _, e := range f.events {
		msgs = append(msgs, e.Message)
	}
	if !slices.Equal(msgs, []string{"Replication from blue to green started", "Blue/green deployment is available: green is in sync with blue"}) {
		t.Errorf("events %q", msgs)
	}
}

// TestBuildClonedAnalyzesWhileCatchingUp: a cloned green has its data
// once it runs, so AfterCopy starts when BuildGreen says so and runs while
// the build publishes green and waits for it to catch up. Here green is
// published only once AfterCopy has started, and AfterCopy returns only
// once the catch-up has been measured three times: a build doing one
// after the other never gets there. Green is not made available before
// both are done, and the catch-up's progress shows only once AfterCopy
// is done.
func TestBuildClonedAnalyzesWhileCatchingUp(t *testing.T) {
	f := newBuilder(provisioning())
	f.cloned = true
	f.copyPolls = 10
	afterStarted, measured := make(chan struct{}), make(chan struct{})
	var polls int
	f.onCall["replication"] = func() {
		switch polls++; polls {
		case 3:
			close(measured)
		case 9: // AfterCopy has surely returned
			time.Sleep(50 * time.Millisecond)
		}
	}
	early, concurrent := false, false
	f.onCall["publish-green"] = func() {
		select {
		case <-afterStarted:
			early = true
		case <-time.After(5 * time.Second):
		}
	}
	f.onCall["after-copy"] = func() {
		close(afterStarted)
		select {
		case <-measured:
			concurrent = true
		case <-time.After(5 * time.Second):
		}
	}
	b := quickBuild(f)
	b.Run(context.Background())

	if !early || !concurrent {
		t.Fatalf("AfterCopy started before green was published: %v; ran while it caught up: %v", early, concurrent)
	}
	if f.stored.Status != bluegreen.StatusAvailable {
		t.Fatalf("stored %s (%s)", f.stored.Status, f.stored.Details)
	}
	available := slices.Index(f.calls, "green-available")
	if available < 0 || slices.Index(f.calls[available:], "after-copy") >= 0 || slices.Index(f.calls[available:], "replication") >= 0 {
		t.Errorf("green made available before its statistics and catch-up were done: %v", f.calls)
	}
	// Of the ten measurements that find the copy still running, the first
	// two came while AfterCopy ran: they do not show, the last ones do.
	if shown := countOf(f.unsaved, "copying the data, 1 of 4 tables, 25%"); shown < 1 || shown > 8 {
		t.Errorf("the catch-up's progress showed %d times, want 1 to 8: %q", shown, f.unsaved)
	}
}

// TestBuildClonedAfterCopyFails: when AfterCopy fails while a cloned green
// catches up, the build fails at once with its error, without waiting for
// the catch-up.
func TestBuildClonedAfterCopyFails(t *testing.T) {
	f := newBuilder(provisioning())
	f.cloned = true
	f.copyPolls = 1 << 30
	f.fail["after-copy"] = fmt.Errorf("after-copy: %w", errInjected)
	b := quickBuild(f)
	b.CopyLimit = time.Minute
	start := time.Now()
	b.Run(context.Background())
	if f.stored.Status != bluegreen.StatusInvalidConfiguration || !strings.Contains(f.stored.Details, "after-copy") {
		t.Errorf("stored %s: %s", f.stored.Status, f.stored.Details)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the build failed after %s: it waited for the catch-up", took)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}

// TestBuildStepFails: whichever step fails, the deployment ends
// INVALID_CONFIGURATION, the task under way FAILED, the others as they
// were, and the details say what failed in teal's words; whether green
// was cloned or copied.
func TestBuildStepFails(t *testing.T) {
	for _, c := range []struct {
		op         string
		failedTask string
	}{
		{"build-green", bluegreen.TaskCreateReplica},
		{"publish-green", bluegreen.TaskCreateReplica},
		{"baseline", bluegreen.TaskCreateReplica},
		{"after-copy", bluegreen.TaskCreateReplica},
		{"green-available", bluegreen.TaskCreateReplica},
		{"build-replicas", bluegreen.TaskCreateTopology},
		{"configure-backups", bluegreen.TaskConfigureBackup},
	} {
		for _, cloned := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cloned=%v", c.op, cloned), func(t *testing.T) {
				f := newBuilder(provisioning())
				f.cloned = cloned
				f.fail[c.op] = fmt.Errorf("%s: %w", c.op, errInjected)
				quickBuild(f).Run(context.Background())
				if f.stored.Status != bluegreen.StatusInvalidConfiguration || !reflect.DeepEqual(f.memory, f.stored) {
					t.Fatalf("stored %s, memory %s", f.stored.Status, f.memory.Status)
				}
				if !strings.HasPrefix(f.stored.Details, "Creating the green environment failed: ") || !strings.Contains(f.stored.Details, c.op) {
					t.Errorf("details %q", f.stored.Details)
				}
				tasks := taskStatuses(f.stored)
				if tasks[c.failedTask] != bluegreen.TaskFailed {
					t.Errorf("task %s is %s, want FAILED: %v", c.failedTask, tasks[c.failedTask], tasks)
				}
				if c.failedTask != bluegreen.TaskConfigureBackup && tasks[bluegreen.TaskConfigureBackup] != bluegreen.TaskPending {
					t.Errorf("a task never started is %s", tasks[bluegreen.TaskConfigureBackup])
				}
				if last := f.events[len(f.events)-1]; last.Category != "failure" {
					t.Errorf("last event %+v", last)
				}
			})
		}
	}
}

// TestBuildCopyBounded: a copy that never finishes fails the deployment
// with what it reached.
func TestBuildCopyBounded(t *testing.T) {
	f := newBuilder(provisioning())
	f.copyPolls = 1 << 30
	b := quickBuild(f)
	b.CopyLimit = 20 * time.Millisecond
	b.Run(context.Background())
	if f.stored.Status != bluegreen.StatusInvalidConfiguration || !strings.Contains(f.stored.Details, "1 of 4 tables copied") {
		t.Errorf("stored %s: %s", f.stored.Status, f.stored.Details)
	}
}

// TestBuildStopped: when the build's context ends at any step (teal
// stopping, or the deployment being deleted), it saves nothing more: the
// store still says PROVISIONING, which the next start builds again, and
// no outcome is written over a deletion.
func TestBuildStopped(t *testing.T) {
	for _, op := range []string{"build-green", "publish-green", "baseline", "replication", "after-copy", "green-available", "build-replicas"} {
		t.Run(op, func(t *testing.T) {
			f := newBuilder(provisioning())
			ctx, cancel := context.WithCancel(context.Background())
			f.onCall[op] = cancel
			f.fail[op] = context.Canceled
			quickBuild(f).Run(ctx)
			if f.stored.Status != bluegreen.StatusProvisioning {
				t.Errorf("stored %s after the build was stopped", f.stored.Status)
			}
			i := slices.Index(f.calls, op)
			if slices.Contains(f.calls[i+1:], "save") {
				t.Errorf("saved after being stopped: %v", f.calls)
			}
		})
	}
}

// TestBuildStoreFails: the store refuses saves from a step on; the build
// fails (it cannot record its progress) and its outcome is saved once the
// store works again, memory never ahead of the store.
func TestBuildStoreFails(t *testing.T) {
	for _, op := range []string{"build-green", "after-copy", "build-replicas"} {
		t.Run(op, func(t *testing.T) {
			f := newBuilder(provisioning())
			f.onCall[op] = func() {
				f.mu.Lock()
				f.storeDown = 3
				f.mu.Unlock()
			}
			quickBuild(f).Run(context.Background())
			if f.refused != 3 || !reflect.DeepEqual(f.memory, f.stored) {
				t.Fatalf("refused %d saves; memory %s, stored %s", f.refused, f.memory.Status, f.stored.Status)
			}
			if f.stored.Status != bluegreen.StatusInvalidConfiguration || !strings.Contains(f.stored.Details, "disk I/O error") {
				t.Errorf("stored %s: %s", f.stored.Status, f.stored.Details)
			}
			if !slices.ContainsFunc(f.unsaved, func(u string) bool { return strings.Contains(u, "failed, retrying") }) {
				t.Errorf("the outcome's retries were not shown: %q", f.unsaved)
			}
		})
	}
}
