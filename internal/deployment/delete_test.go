package deployment

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tealdb/teal/internal/bluegreen"
)

type fakeRemover struct {
	calls []string
	fail  map[string]bool
}

func (f *fakeRemover) op(name string) error {
	f.calls = append(f.calls, name)
	if f.fail[name] {
		return errInjected
	}
	return nil
}

func (f *fakeRemover) StopReplication(context.Context) error { return f.op("stop-replication") }
func (f *fakeRemover) DeleteGreen(context.Context) error     { return f.op("delete-green") }
func (f *fakeRemover) KeepGreen(context.Context) error       { return f.op("keep-green") }
func (f *fakeRemover) Forget(context.Context) error          { return f.op("forget") }

// TestDelete: what deleting a deployment does, for every state it can be
// deleted in and every choice; the record goes last, and only when
// everything before it worked, so a failed deletion runs again at start.
func TestDelete(t *testing.T) {
	available := State{Status: bluegreen.StatusDeleting}
	failedSwitchover := State{Status: bluegreen.StatusDeleting, Switchover: &Switchover{Phase: bluegreen.PhaseRolledBack}}
	completed := State{Status: bluegreen.StatusDeleting, Switchover: &Switchover{Phase: bluegreen.PhaseDone}}
	for _, c := range []struct {
		name  string
		st    State
		del   Deletion
		fail  string
		calls []string
		err   bool
	}{
		{"keep green", available, Deletion{}, "", []string{"stop-replication", "keep-green", "forget"}, false},
		{"delete green", available, Deletion{DeleteTarget: true}, "", []string{"stop-replication", "delete-green", "forget"}, false},
		{"engine keeps replication", available, Deletion{KeepsReplication: true}, "", []string{"keep-green", "forget"}, false},
		{"engine keeps, green deleted", available, Deletion{KeepsReplication: true, DeleteTarget: true}, "", []string{"stop-replication", "delete-green", "forget"}, false},
		{"after a rollback", failedSwitchover, Deletion{}, "", []string{"stop-replication", "keep-green", "forget"}, false},
		{"after a switchover", completed, Deletion{}, "", []string{"keep-green", "forget"}, false},
		{"replication not removed", available, Deletion{}, "stop-replication", []string{"stop-replication", "keep-green", "forget"}, false},
		{"green not deleted", available, Deletion{DeleteTarget: true}, "delete-green", []string{"stop-replication", "delete-green"}, true},
		{"green not kept", available, Deletion{}, "keep-green", []string{"stop-replication", "keep-green"}, true},
		{"record not removed", available, Deletion{}, "forget", []string{"stop-replication", "keep-green", "forget"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeRemover{fail: map[string]bool{c.fail: true}}
			err := Delete(context.Background(), f, c.st, c.del, nil)
			if !slices.Equal(f.calls, c.calls) {
				t.Errorf("calls %v, want %v", f.calls, c.calls)
			}
			if (err != nil) != c.err || (err != nil && !errors.Is(err, errInjected)) {
				t.Errorf("err %v, want an error: %v", err, c.err)
			}
		})
	}
}
