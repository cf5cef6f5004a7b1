package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
)

// DrainTimeout bounds how long a switchover lets open transactions finish.
const DrainTimeout = 5 * time.Second

// Backoff is a schedule of retries.
type Backoff struct {
	First, Max time.Duration // the first pause, and the longest
	Attempts   int           // how often a step that may give up runs
}

// DefaultBackoff retries from 100 ms up to every 5 s; routing gives up
// after 8 attempts (about 15 s).
var DefaultBackoff = Backoff{First: 100 * time.Millisecond, Max: 5 * time.Second, Attempts: 8}

// keeper holds a deployment's state as last saved, and saves the next.
type keeper struct {
	saver Saver
	id    string
	st    State // as last saved
	log   *slog.Logger
	// retry paces the retries of the steps that must succeed: an
	// outcome's save, making a side writable, routing the endpoints.
	retry Backoff
}

func newKeeper(saver Saver, id string, st State, log *slog.Logger) keeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return keeper{saver: saver, id: id, st: st.Clone(), log: log, retry: DefaultBackoff}
}

// SetBackoff changes the retry schedule (tests use a short one).
func (k *keeper) SetBackoff(b Backoff) { k.retry = b }

// State is the deployment's state as last saved.
func (k *keeper) State() State { return k.st.Clone() }

// save saves the state change makes to a copy of the saved one, and on
// success takes the copy as the saved state.
func (k *keeper) save(ctx context.Context, change func(*State), ev Event) error {
	next := k.st.Clone()
	change(&next)
	if err := k.saver.Save(ctx, next, ev); err != nil {
		return err
	}
	k.st = next
	return nil
}

// settle saves an outcome, again and again until the store takes it or
// ctx ends; until then the deployment says so, unsaved.
func (k *keeper) settle(ctx context.Context, change func(*State), ev Event) bool {
	pause := k.retry.First
	for {
		err := k.save(ctx, change, ev)
		if err == nil {
			k.saver.Unsaved("")
			return true
		}
		k.log.Error("save the deployment's outcome", "deployment", k.id, "err", err)
		k.saver.Unsaved(fmt.Sprintf("saving the outcome (%s) failed, retrying: %v", strings.ToLower(ev.Message), err))
		select {
		case <-ctx.Done():
			return false // the store holds the last saved state: the next start goes on from there
		case <-time.After(pause):
		}
		pause = min(2*pause, k.retry.Max)
	}
}

// retrying runs step until it succeeds or ctx ends, or, when attempts is
// more than 0, until it has run that many times. Each attempt has a
// minute; after a failure the deployment says, unsaved, what it retries.
func (k *keeper) retrying(ctx context.Context, what string, attempts int, step func(context.Context) error) error {
	pause := k.retry.First
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		err := step(actx)
		cancel()
		if err == nil {
			if n > 1 {
				k.saver.Unsaved("")
			}
			return nil
		}
		if ctx.Err() != nil || (attempts > 0 && n >= attempts) {
			return err
		}
		k.log.Warn("deployment: retrying", "deployment", k.id, "step", what, "attempt", n, "err", err)
		k.saver.Unsaved(fmt.Sprintf("%s failed, retrying: %v", what, err))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, k.retry.Max)
	}
}

// Runner carries one deployment's switchover from its saved state.
type Runner struct {
	keeper
	env  Env
	hook func(phase string)
}

// New makes the switchover runner of deployment id, whose state as saved
// is st. hook, when not nil, is called as each phase starts, after the
// phase is saved.
func New(env Env, id string, st State, hook func(phase string), log *slog.Logger) *Runner {
	return &Runner{keeper: newKeeper(env, id, st, log), env: env, hook: hook}
}

func (r *Runner) started(phase string) {
	if r.hook != nil {
		r.hook(phase)
	}
}

func (r *Runner) timing(phase string, took time.Duration) {
	if r.st.Switchover.Timings == nil {
		r.st.Switchover.Timings = map[string]float64{}
	}
	r.st.Switchover.Timings[phase] = float64(took.Microseconds()) / 1000
}

// Run carries out a switchover saved at its first phase: every phase up to
// the commit point, then the roll-forward; a failure or the timeout before
// the commit point rolls it back. When ctx ends (teal stopping) before the
// commit point, Run returns and the next start rolls back.
func (r *Runner) Run(ctx context.Context) {
	err := r.beforeCommit(ctx)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrTimeout) {
			return
		}
		r.RollBack(ctx, err)
		return
	}
	r.RollForward(ctx)
}

func (r *Runner) beforeCommit(ctx context.Context) error {
	ctx, cancel := context.WithDeadline(ctx, r.st.Switchover.Deadline)
	defer cancel()
	steps := []struct {
		phase string
		run   func(context.Context) error
	}{
		{bluegreen.PhaseGuardrails, r.checkGuardrails},
		{bluegreen.PhaseHold, r.hold},
		{bluegreen.PhaseStopWrites, r.stopWrites},
		{bluegreen.PhaseCatchUp, r.catchUp},
		{bluegreen.PhaseSequences, r.env.SyncSequences},
		{bluegreen.PhaseCommitted, r.commit},
	}
	for _, st := range steps {
		// The commit point records its phase in its own transaction: a
		// phase saved ahead of it would claim a commit not yet made.
		if st.phase != bluegreen.PhaseCommitted && st.phase != r.st.Switchover.Phase {
			if err := r.save(ctx, func(s *State) { s.Switchover.Phase = st.phase }, Event{}); err != nil {
				return fmt.Errorf("save the phase %s: %w", st.phase, err)
			}
		}
		r.started(st.phase)
		start := time.Now()
		err := st.run(ctx)
		r.timing(st.phase, time.Since(start))
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w during %s after %d s: %v", ErrTimeout, st.phase, r.st.Switchover.Timeout, err)
			}
			return fmt.Errorf("%s: %w", st.phase, err)
		}
	}
	return nil
}

func (r *Runner) checkGuardrails(ctx context.Context) error {
	h, err := r.env.Health(ctx)
	if err != nil {
		return err
	}
	if failed := bluegreen.Guardrails(h, bluegreen.DefaultLimits(time.Duration(r.st.Switchover.Timeout)*time.Second)); len(failed) > 0 {
		return fmt.Errorf("guardrails: %s", strings.Join(failed, "; "))
	}
	return nil
}

// hold makes the endpoints hold new connections until a little past the
// deadline, so that a switchover that stops answering releases them anyway.
func (r *Runner) hold(ctx context.Context) error {
	return r.env.Hold(time.Until(r.st.Switchover.Deadline) + 10*time.Second)
}

// stopWrites ends the client sessions of every member, between two
// transactions where it can (a transaction still open at the drain
// deadline is cut and rolls back), then makes blue read-only and ends any
// session left. No client can write to either side until the endpoints
// let connections through again.
func (r *Runner) stopWrites(ctx context.Context) error {
	deadline := time.Now().Add(DrainTimeout)
	if d, ok := ctx.Deadline(); ok && time.Until(d) < 2*DrainTimeout {
		deadline = time.Now().Add(time.Until(d) / 2)
	}
	clean, cut := r.env.Drain(ctx, deadline)
	r.log.Info("switchover drained sessions", "deployment", r.id, "between_transactions", clean, "cut", cut)
	if err := r.env.SetReadOnly(ctx, Blue, true); err != nil {
		return err
	}
	return r.env.EndSessions(ctx)
}

// catchUp waits until green has applied everything blue committed: a
// marker committed on blue after writes stopped has reached green.
func (r *Runner) catchUp(ctx context.Context) error {
	m, err := r.env.WriteMarker(ctx)
	if err != nil {
		return err
	}
	if err := r.save(ctx, func(s *State) { s.Switchover.Marker = m }, Event{}); err != nil {
		return fmt.Errorf("save the catch-up marker: %w", err)
	}
	return r.env.WaitMarker(ctx, m)
}

func (r *Runner) commit(ctx context.Context) error {
	next := r.st.Clone()
	next.Switchover.Phase = bluegreen.PhaseCommitted
	saved, err := r.env.Commit(ctx, next)
	if err != nil {
		return err
	}
	r.st = saved.Clone()
	return nil
}

// RollForward finishes a committed switchover: the endpoints route the
// names to their new servers, green becomes writable, the held connections
// go to it, and replication is removed. Every step is idempotent, so it
// also finishes a switchover that teal stopped in. Production is green
// whatever fails here; what failed is reported with the completed status.
func (r *Runner) RollForward(ctx context.Context) {
	if r.st.Switchover.Phase != bluegreen.PhaseRelease {
		if err := r.save(ctx, func(s *State) { s.Switchover.Phase = bluegreen.PhaseRelease }, Event{}); err != nil {
			// The commit is saved and is what counts: rolling forward goes
			// on, and runs again at the next start if the outcome is not saved.
			r.log.Error("save the switchover phase", "deployment", r.id, "phase", bluegreen.PhaseRelease, "err", err)
		}
	}
	start := time.Now()
	var problems []string
	if err := r.retrying(ctx, "routing the endpoints", r.retry.Attempts, func(ctx context.Context) error {
		return r.env.Route(ctx, r.st.Switchover.Renames)
	}); err != nil {
		problems = append(problems, "routing the endpoints failed: "+engine.Explain(err))
	}
	r.started(bluegreen.PhaseRelease)
	// Green writable is part of the outcome: it is retried until it is
	// saved, or until teal stops and the next start rolls forward again.
	if err := r.retrying(ctx, "making green writable", 0, func(ctx context.Context) error {
		return r.env.SetReadOnly(ctx, Green, false)
	}); err != nil {
		r.env.Release()
		return
	}
	r.env.Release()
	if err := r.env.StopReplication(ctx); err != nil {
		problems = append(problems, "removing replication failed: "+engine.Explain(err))
	}
	if ctx.Err() != nil {
		return // teal is stopping: the next start rolls forward again
	}
	r.timing(bluegreen.PhaseRelease, time.Since(start))
	details := ""
	if len(problems) > 0 {
		details = "Switchover completed, but " + strings.Join(problems, "; ")
		r.log.Error("finish switchover", "deployment", r.id, "problems", details)
	}
	total := time.Since(r.st.Switchover.Started).Round(time.Millisecond)
	r.settle(ctx, func(s *State) {
		s.Status, s.Details = bluegreen.StatusSwitchoverCompleted, details
		s.Switchover.Phase = bluegreen.PhaseDone
	}, notification(fmt.Sprintf("Switchover completed in %s", total)))
}

// RollBack leaves both environments as they were before the switchover:
// blue writable, names and endpoints unchanged, held connections let
// through to blue.
func (r *Runner) RollBack(ctx context.Context, cause error) {
	// Blue writable is part of the outcome: it is retried until it is
	// saved, or until teal stops and the next start rolls back again.
	err := r.retrying(ctx, "making blue writable again", 0, func(ctx context.Context) error {
		return r.env.SetReadOnly(ctx, Blue, false)
	})
	r.env.Release()
	if err != nil {
		return
	}
	details := "Switchover canceled and rolled back: " + engine.Explain(cause)
	r.log.Warn("switchover rolled back", "deployment", r.id, "cause", cause)
	r.settle(ctx, func(s *State) {
		s.Status, s.Details = bluegreen.StatusSwitchoverFailed, details
		s.Switchover.Phase = bluegreen.PhaseRolledBack
		s.Switchover.Error = cause.Error()
	}, notification(details))
}

// Resume finishes, at start, a switchover that teal stopped in: before
// its commit point it rolls back, after it it rolls forward. A deployment
// at rest is left alone.
func (r *Runner) Resume(ctx context.Context) bluegreen.Resume {
	if r.st.Switchover == nil {
		return bluegreen.ResumeNothing
	}
	decision := bluegreen.ResumeOf(r.st.Status, r.st.Switchover.Phase)
	switch decision {
	case bluegreen.ResumeRollBack:
		r.RollBack(ctx, errors.New("teal restarted during the switchover, before its commit point"))
	case bluegreen.ResumeRollForward:
		r.RollForward(ctx)
	default:
		decision = bluegreen.ResumeNothing
	}
	return decision
}
