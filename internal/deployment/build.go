package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// Builder is what building a deployment's green environment needs of the
// rest of teal. Every step is idempotent: after a restart of teal the
// whole build runs again from a fresh green primary.
type Builder interface {
	Saver
	// BuildGreen makes green's primary a copy of blue that replicates from
	// it: a clone of blue's files (upgraded in place for a newer major) or
	// a logical copy. progress tells how far it has come; note records an
	// event with the deployment's state as saved. A clone calls dataIn
	// once green runs with all of blue's data as of the point its
	// replication starts at: AfterCopy starts then, while the rest of the
	// build goes on.
	BuildGreen(ctx context.Context, progress func(string), note func(Event) error, dataIn func()) error
	// PublishGreen saves the parameters green's server runs with and
	// routes green's endpoint to it.
	PublishGreen(ctx context.Context) error
	// Baseline reads blue's schema as replication starts.
	Baseline(ctx context.Context) (engine.SchemaState, error)
	// Replication measures the replication from blue to green.
	Replication(ctx context.Context) (engine.ReplicationStatus, error)
	// AfterCopy does what green needs once its data is in (statistics).
	AfterCopy(ctx context.Context, progress func(string)) error
	// GreenAvailable saves green's primary as available.
	GreenAvailable(ctx context.Context) error
	// BuildReplicas creates green's read replicas, one for each of blue's.
	BuildReplicas(ctx context.Context, progress func(string)) error
	// ConfigureBackups turns on the automated backups of green's primary
	// when blue has them: its changes are archived, and its base backups
	// follow (the deployment does not wait for them).
	ConfigureBackups(ctx context.Context) error
}

// A Build builds one deployment's green environment, task by task, each
// saved as it starts and ends.
type Build struct {
	keeper
	b Builder

	// Poll is how often the initial copy is measured, and CopyLimit how
	// long it may take before the build fails with what it reached.
	Poll      time.Duration
	CopyLimit time.Duration
}

// NewBuild makes the build of deployment id, whose state as saved is st.
func NewBuild(b Builder, id string, st State, log *slog.Logger) *Build {
	return &Build{keeper: newKeeper(b, id, st, log), b: b, Poll: 200 * time.Millisecond, CopyLimit: 6 * time.Hour}
}

// copyCaughtUp is how close green must be to blue for the initial copy to
// count as done: the rest streams within moments.
const copyCaughtUp = 16 << 20

// Run builds green and saves the outcome: AVAILABLE, or
// INVALID_CONFIGURATION with the task that failed and why. When ctx ends
// (teal stopping, or the deployment being deleted) Run returns and saves
// nothing more.
func (b *Build) Run(ctx context.Context) {
	err := b.build(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		b.log.Error("blue/green deployment", "deployment", b.id, "err", err)
		b.settle(ctx, func(st *State) {
			for i := range st.Tasks {
				if st.Tasks[i].Status == bluegreen.TaskInProgress {
					st.Tasks[i].Status = bluegreen.TaskFailed
				}
			}
			st.Status = bluegreen.StatusInvalidConfiguration
			st.Details = "Creating the green environment failed: " + engine.Explain(err)
		}, Event{"failure", "Blue/green deployment failed: " + engine.Explain(err)})
		return
	}
	b.settle(ctx, func(st *State) {
		st.Status, st.Details = bluegreen.StatusAvailable, ""
	}, notification("Blue/green deployment is available: green is in sync with blue"))
}

func (b *Build) tasks(ctx context.Context, status string, names ...string) error {
	return b.save(ctx, func(st *State) {
		for _, n := range names {
			bluegreen.SetTask(st.Tasks, n, status)
		}
	}, Event{})
}

func (b *Build) build(ctx context.Context) error {
	progress := func(p string) { b.b.Unsaved(p) }
	defer b.b.Unsaved("")
	if err := b.tasks(ctx, bluegreen.TaskInProgress, bluegreen.TaskCreateReplica); err != nil {
		return fmt.Errorf("save the tasks: %w", err)
	}
	note := func(ev Event) error { return b.save(ctx, func(*State) {}, ev) }
	// Blue's schema is read before green is built from it: a change made
	// while green is built, after the point it is copied at, is then a
	// change like any later one, and degrades the deployment.
	baseline, err := b.b.Baseline(ctx)
	if err != nil {
		return err
	}
	after := b.afterCopy(ctx, progress)
	defer after.stop()
	if err := b.b.BuildGreen(ctx, progress, note, after.start); err != nil {
		return err
	}
	if err := b.b.PublishGreen(ctx); err != nil {
		return fmt.Errorf("green primary: %w", err)
	}
	if err := b.save(ctx, func(st *State) { st.Baseline = &baseline }, notification("Replication from blue to green started")); err != nil {
		return fmt.Errorf("save the replication baseline: %w", err)
	}
	if err := b.awaitCopy(after.ctx, after.quiet(progress)); err != nil {
		if aerr := after.stop(); aerr != nil {
			return aerr
		}
		return err
	}
	// A logical copy's data is in now; a clone's AfterCopy is under way.
	after.start()
	if err := after.wait(); err != nil {
		return err
	}
	if err := b.b.GreenAvailable(ctx); err != nil {
		return fmt.Errorf("save green primary: %w", err)
	}
	if err := b.save(ctx, func(st *State) {
		bluegreen.SetTask(st.Tasks, bluegreen.TaskCreateReplica, bluegreen.TaskCompleted)
		bluegreen.SetTask(st.Tasks, bluegreen.TaskUpgrade, bluegreen.TaskCompleted)
		bluegreen.SetTask(st.Tasks, bluegreen.TaskCreateTopology, bluegreen.TaskInProgress)
	}, Event{}); err != nil {
		return fmt.Errorf("save the tasks: %w", err)
	}
	if err := b.b.BuildReplicas(ctx, progress); err != nil {
		return err
	}
	if err := b.tasks(ctx, bluegreen.TaskCompleted, bluegreen.TaskCreateTopology); err != nil {
		return fmt.Errorf("save the tasks: %w", err)
	}
	if err := b.tasks(ctx, bluegreen.TaskInProgress, bluegreen.TaskConfigureBackup); err != nil {
		return fmt.Errorf("save the tasks: %w", err)
	}
	if err := b.b.ConfigureBackups(ctx); err != nil {
		return fmt.Errorf("configure green's backups: %w", err)
	}
	if err := b.tasks(ctx, bluegreen.TaskCompleted, bluegreen.TaskConfigureBackup); err != nil {
		return fmt.Errorf("save the tasks: %w", err)
	}
	return nil
}

// awaitCopy waits until green has every table and streams close behind
// blue, bounded: a stuck copy fails the deployment with what it reached
// rather than hang.
func (b *Build) awaitCopy(ctx context.Context, progress func(string)) error {
	deadline := time.Now().Add(b.CopyLimit)
	for {
		st, err := b.b.Replication(ctx)
		if err == nil && st.Tables == st.TablesCopied && st.Streaming && st.LagBytes < copyCaughtUp {
			return nil
		}
		if err == nil {
			progress(CatchUpProgress(st))
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("initial copy not finished after %s: %w", b.CopyLimit, err)
			}
			return fmt.Errorf("initial copy not finished after %s: %d of %d tables copied", b.CopyLimit, st.TablesCopied, st.Tables)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(b.Poll):
		}
	}
}

// afterCopyRun is a build's AfterCopy, run in the background from when
// green's data is in. Its context, which the build waits for the copy
// under, ends when AfterCopy fails: the build fails then, with its error.
type afterCopyRun struct {
	ctx      context.Context
	cancel   context.CancelFunc
	run      func(context.Context) error
	once     sync.Once
	started  atomic.Bool
	running  atomic.Bool
	done     chan struct{}
	err      error // AfterCopy's own error, once done is closed
	canceled bool  // AfterCopy ended because the build stopped it
}

func (b *Build) afterCopy(ctx context.Context, progress func(string)) *afterCopyRun {
	ctx, cancel := context.WithCancel(ctx)
	return &afterCopyRun{ctx: ctx, cancel: cancel, done: make(chan struct{}),
		run: func(ctx context.Context) error { return b.b.AfterCopy(ctx, progress) }}
}

// start starts AfterCopy, once.
func (a *afterCopyRun) start() {
	a.once.Do(func() {
		a.started.Store(true)
		a.running.Store(true)
		go func() {
			defer close(a.done)
			defer a.running.Store(false)
			err := a.run(a.ctx)
			if err != nil && a.ctx.Err() != nil {
				a.canceled = true
			} else if err != nil {
				a.err = err
				a.cancel()
			}
		}()
	})
}

// wait waits for AfterCopy to end and returns its error.
func (a *afterCopyRun) wait() error {
	if !a.started.Load() {
		return nil
	}
	<-a.done
	if a.canceled {
		return a.ctx.Err()
	}
	return a.err
}

// stop ends AfterCopy, if it runs, and returns the error it failed with
// on its own before that, if any.
func (a *afterCopyRun) stop() error {
	a.cancel()
	if !a.started.Load() {
		return nil
	}
	<-a.done
	return a.err
}

// quiet is progress, shown only while AfterCopy does not run: its own
// progress shows meanwhile.
func (a *afterCopyRun) quiet(progress func(string)) func(string) {
	return func(p string) {
		if !a.running.Load() {
			progress(p)
		}
	}
}

// CatchUpProgress says how far green is from following blue once its data
// is copied (or, when the subscription copies, while it does).
func CatchUpProgress(st engine.ReplicationStatus) string {
	if st.TablesCopied < st.Tables {
		return engine.CopyProgress{Phase: "copying the data", Item: "tables", Done: st.TablesCopied, Total: st.Tables}.String()
	}
	return fmt.Sprintf("catching up with what blue committed during the copy: %s behind", engine.FormatBytes(st.LagBytes))
}
