package deployment

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
)

// TestSwitchoverCompletes: every phase runs in order, each saved before
// it starts (the first by the API, the commit point by its own
// transaction), timed, and the outcome is saved with its event.
func TestSwitchoverCompletes(t *testing.T) {
	st := started(time.Minute)
	f := newFake(st)
	var phases []string
	r := quick(f, st, func(p string) { phases = append(phases, p) })
	r.Run(context.Background())

	f.completed(t)
	f.agree(t, r)
	want := []string{bluegreen.PhaseGuardrails, bluegreen.PhaseHold, bluegreen.PhaseStopWrites, bluegreen.PhaseCatchUp,
		bluegreen.PhaseSequences, bluegreen.PhaseCommitted, bluegreen.PhaseRelease}
	if !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	wantCalls := []string{"health", "save hold-connections", "hold", "save stop-writes", "drain", "read-only blue", "end-sessions",
		"save catch-up", "write-marker", "save catch-up", "wait-marker", "save sync-sequences", "sync-sequences", "commit",
		"save release", "route", "writable green", "release", "stop-replication", "save done"}
	if !slices.Equal(f.calls, wantCalls) {
		t.Errorf("calls\n%v\nwant\n%v", f.calls, wantCalls)
	}
	for _, p := range want {
		if _, ok := f.stored.Switchover.Timings[p]; !ok {
			t.Errorf("no timing saved for %s: %v", p, f.stored.Switchover.Timings)
		}
	}
	if f.stored.Switchover.Marker["lsn"] == "" {
		t.Error("the catch-up marker was not saved")
	}
	if len(f.events) != 1 || !strings.HasPrefix(f.events[0].Message, "Switchover completed in ") {
		t.Errorf("events %v", f.events)
	}
}

// TestSwitchoverStepFails: a step failing at any phase before the commit
// point rolls everything back and says which phase failed and why.
func TestSwitchoverStepFails(t *testing.T) {
	for _, c := range []struct{ op, phase string }{
		{"health", bluegreen.PhaseGuardrails},
		{"hold", bluegreen.PhaseHold},
		{"read-only blue", bluegreen.PhaseStopWrites},
		{"end-sessions", bluegreen.PhaseStopWrites},
		{"write-marker", bluegreen.PhaseCatchUp},
		{"wait-marker", bluegreen.PhaseCatchUp},
		{"sync-sequences", bluegreen.PhaseSequences},
		{"commit", bluegreen.PhaseCommitted},
	} {
		t.Run(c.op, func(t *testing.T) {
			st := started(time.Minute)
			f := newFake(st)
			f.fail[c.op] = 1
			r := quick(f, st, nil)
			r.Run(context.Background())
			f.rolledBack(t)
			f.agree(t, r)
			if d := f.stored.Details; !strings.Contains(d, c.phase+": ") || !strings.Contains(d, c.op+": injected failure") {
				t.Errorf("details %q do not say %s failed in %s", d, c.op, c.phase)
			}
			if f.stored.Switchover.Error == "" {
				t.Error("the cause is not saved")
			}
		})
	}
}

// TestSwitchoverGuardrailRefuses: a guardrail that fails (here,
// replication not healthy) rolls back before anything is held.
func TestSwitchoverGuardrailRefuses(t *testing.T) {
	st := started(time.Minute)
	f := newFake(st)
	f.replicating = false
	r := quick(f, st, nil)
	r.Run(context.Background())
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stored.Status != bluegreen.StatusSwitchoverFailed || !strings.Contains(f.stored.Details, "guardrails: ") {
		t.Errorf("stored %s: %s", f.stored.Status, f.stored.Details)
	}
	if slices.Contains(f.calls, "hold") {
		t.Errorf("connections were held although a guardrail failed: %v", f.calls)
	}
}

// TestSwitchoverTimeout: a phase still running at the deadline is
// abandoned and the switchover rolls back, saying it timed out in it.
func TestSwitchoverTimeout(t *testing.T) {
	for _, c := range []struct{ op, phase string }{
		{"health", bluegreen.PhaseGuardrails},
		{"end-sessions", bluegreen.PhaseStopWrites},
		{"wait-marker", bluegreen.PhaseCatchUp},
		{"sync-sequences", bluegreen.PhaseSequences},
	} {
		t.Run(c.op, func(t *testing.T) {
			st := started(50 * time.Millisecond)
			f := newFake(st)
			f.block = c.op
			r := quick(f, st, nil)
			done := make(chan struct{})
			go func() { r.Run(context.Background()); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the switchover did not end at its deadline")
			}
			f.rolledBack(t)
			f.agree(t, r)
			if d := f.stored.Details; !strings.Contains(d, "timeout reached during "+c.phase) {
				t.Errorf("details %q do not say the timeout hit %s", d, c.phase)
			}
		})
	}
}

// TestSwitchoverAfterCommitFails: past the commit point production is
// green whatever fails; routing and making green writable are retried,
// connections are always let through, and what failed is reported.
// (Making green writable never gives up: TestWritableUntilSaved.)
func TestSwitchoverAfterCommitFails(t *testing.T) {
	for _, c := range []struct {
		op    string
		times int // -1: every attempt
		say   string
	}{
		{"route", 2, ""},
		{"writable green", 3, ""},
		{"route", -1, "routing the endpoints failed"},
		{"stop-replication", 1, "removing replication failed"},
	} {
		t.Run(c.op+"/"+c.say, func(t *testing.T) {
			st := started(time.Minute)
			f := newFake(st)
			f.fail[c.op] = c.times
			r := quick(f, st, nil)
			r.Run(context.Background())
			f.agree(t, r)
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.stored.Status != bluegreen.StatusSwitchoverCompleted || !f.renamed || f.held {
				t.Fatalf("stored %s, renamed %v, held %v", f.stored.Status, f.renamed, f.held)
			}
			if c.say == "" {
				if f.stored.Details != "" || !f.routed || f.greenRO {
					t.Errorf("a retried step left details %q, routed %v, green read-only %v", f.stored.Details, f.routed, f.greenRO)
				}
				return
			}
			if !strings.HasPrefix(f.stored.Details, "Switchover completed, but ") || !strings.Contains(f.stored.Details, c.say) {
				t.Errorf("details %q do not say %q", f.stored.Details, c.say)
			}
		})
	}
}

// TestSwitchoverStoreFails: the store refuses every save from the moment
// a phase starts, for a while. Before the commit point the switchover
// rolls back; from the commit point's own transaction on... it cannot
// commit, and rolls back too; once committed, it completes. The outcome is
// saved once the store works again, and memory never says what the store
// does not.
func TestSwitchoverStoreFails(t *testing.T) {
	for _, phase := range bluegreen.Phases {
		if phase == bluegreen.PhaseDone {
			continue
		}
		t.Run(phase, func(t *testing.T) {
			st := started(time.Minute)
			f := newFake(st)
			r := quick(f, st, func(p string) {
				if p == phase {
					f.mu.Lock()
					f.storeDown = 3
					f.mu.Unlock()
				}
			})
			r.Run(context.Background())
			f.agree(t, r)
			if f.saves != 3 {
				t.Errorf("the store refused %d saves, want 3", f.saves)
			}
			if phase == bluegreen.PhaseRelease {
				f.completed(t)
			} else {
				f.rolledBack(t)
				if !strings.Contains(f.stored.Details, "disk I/O error") {
					t.Errorf("details %q do not say the store failed", f.stored.Details)
				}
			}
		})
	}
}

// TestSwitchoverOutcomeUnsaved: while the store refuses the outcome, the
// deployment says so without saving it; memory keeps the last saved phase.
func TestSwitchoverOutcomeUnsaved(t *testing.T) {
	st := started(time.Minute)
	f := newFake(st)
	ctx, cancel := context.WithCancel(context.Background())
	r := quick(f, st, func(p string) {
		if p == bluegreen.PhaseRelease {
			f.mu.Lock()
			f.storeDown = -1
			f.mu.Unlock()
		}
	})
	f.onCall["save done"] = func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.saves >= 3 {
			cancel()
		}
	}
	r.Run(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.memory.Status != bluegreen.StatusSwitchoverInProgress || f.stored.Status != bluegreen.StatusSwitchoverInProgress {
		t.Errorf("memory %s, store %s, want both still in progress", f.memory.Status, f.stored.Status)
	}
	if !strings.Contains(f.unsaved, "failed, retrying") {
		t.Errorf("unsaved detail %q", f.unsaved)
	}
	// Everything else rolled forward: connections go to green.
	if f.held || !f.routed || f.greenRO {
		t.Errorf("held %v, routed %v, green read-only %v", f.held, f.routed, f.greenRO)
	}
}

// TestSwitchoverRestart: teal stops while a phase runs (the context ends).
// The runner leaves things as they are; the next start, from what the
// store holds, rolls back a switchover stopped before its commit point
// and forward one stopped after it, losing nothing.
func TestSwitchoverRestart(t *testing.T) {
	for _, c := range []struct {
		op   string
		want bluegreen.Resume
	}{
		{"health", bluegreen.ResumeRollBack},
		{"hold", bluegreen.ResumeRollBack},
		{"end-sessions", bluegreen.ResumeRollBack},
		{"wait-marker", bluegreen.ResumeRollBack},
		{"sync-sequences", bluegreen.ResumeRollBack},
		{"commit", bluegreen.ResumeRollBack},
		{"route", bluegreen.ResumeRollForward},
		{"writable green", bluegreen.ResumeRollForward},
		{"stop-replication", bluegreen.ResumeRollForward},
	} {
		t.Run(c.op, func(t *testing.T) {
			st := started(time.Minute)
			f := newFake(st)
			ctx, cancel := context.WithCancel(context.Background())
			f.onCall[c.op] = cancel
			f.fail[c.op] = 1
			r := quick(f, st, nil)
			r.Run(ctx)
			if f.stored.Status != bluegreen.StatusSwitchoverInProgress {
				t.Fatalf("stopping teal ended the switchover: %s at %s", f.stored.Status, f.stored.Switchover.Phase)
			}
			f.calls = nil
			f.restart(t, c.want)
		})
	}
}

// restart starts teal again on what the store holds, and checks that it
// decides want and ends there.
func (f *fakeEnv) restart(t *testing.T, want bluegreen.Resume) {
	t.Helper()
	f.memory = f.stored.Clone()
	again := quick(f, f.stored, nil)
	if got := again.Resume(context.Background()); got != want {
		t.Fatalf("resume: %v, want %v", got, want)
	}
	f.agree(t, again)
	if want == bluegreen.ResumeRollBack {
		f.rolledBack(t)
	} else {
		f.completed(t)
	}
}

// TestResumeAtRest: a deployment at rest is left alone at start.
func TestResumeAtRest(t *testing.T) {
	for _, status := range []string{bluegreen.StatusAvailable, bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed} {
		st := started(time.Minute)
		st.Status = status
		f := newFake(st)
		if got := quick(f, st, nil).Resume(context.Background()); got != bluegreen.ResumeNothing {
			t.Errorf("%s: %v", status, got)
		}
		if len(f.calls) != 0 {
			t.Errorf("%s: calls %v", status, f.calls)
		}
	}
}

// TestWritableUntilSaved: making a side writable again (blue after a
// rollback, green after the commit point) is retried until it succeeds,
// saying so unsaved while it fails; if teal stops first, the store still
// says the switchover is in progress, and the next start finishes it.
func TestWritableUntilSaved(t *testing.T) {
	for _, c := range []struct {
		side string
		want bluegreen.Resume
	}{
		{"blue", bluegreen.ResumeRollBack},
		{"green", bluegreen.ResumeRollForward},
	} {
		t.Run(c.side, func(t *testing.T) {
			st := started(time.Minute)
			f := newFake(st)
			if c.side == "blue" {
				f.fail["sync-sequences"] = 1
			}
			op := "writable " + c.side
			f.fail[op] = -1
			ctx, cancel := context.WithCancel(context.Background())
			attempts := 0
			var unsaved string
			f.onCall[op] = func() {
				attempts++
				if attempts == 5 {
					f.mu.Lock()
					unsaved = f.unsaved
					f.mu.Unlock()
					cancel()
				}
			}
			r := quick(f, st, nil)
			r.Run(ctx)
			if !strings.Contains(unsaved, "making "+c.side+" writable") || !strings.Contains(unsaved, "failed, retrying") {
				t.Errorf("while retrying, the deployment said %q", unsaved)
			}
			if f.stored.Status != bluegreen.StatusSwitchoverInProgress || f.memory.Status != bluegreen.StatusSwitchoverInProgress {
				t.Fatalf("with %s never writable: stored %s, memory %s", c.side, f.stored.Status, f.memory.Status)
			}
			// The fault passes; teal starts again.
			delete(f.fail, op)
			f.unsaved = ""
			f.restart(t, c.want)
		})
	}
}

// TestRollBackRetriesWritable: making blue writable again is retried, and
// the rollback then ends as any other.
func TestRollBackRetriesWritable(t *testing.T) {
	st := started(time.Minute)
	f := newFake(st)
	f.fail["sync-sequences"] = 1
	f.fail["writable blue"] = 2
	r := quick(f, st, nil)
	r.Run(context.Background())
	f.agree(t, r)
	f.rolledBack(t)
	if n := strings.Count(strings.Join(f.calls, ","), "writable blue"); n != 3 {
		t.Errorf("blue made writable %d times, want 3", n)
	}
}
