package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// switchoverRecord is the persisted progress of a switchover.
type switchoverRecord struct {
	Phase    string
	Started  time.Time
	Deadline time.Time
	Timeout  int                // seconds
	Marker   engine.Marker      `json:",omitempty"`
	Renames  []renameRecord     `json:",omitempty"` // decided at the commit point
	Timings  map[string]float64 `json:",omitempty"` // milliseconds per phase
	Error    string             `json:",omitempty"`
}

// renameRecord is one instance's move at the commit point.
type renameRecord struct {
	ResourceID string
	From, To   string
	FromPort   int
	ToPort     int
}

// errTimeout marks a switchover that ran out of time.
var errTimeout = errors.New("switchover timeout reached")

// SwitchoverBlueGreenDeployment starts a switchover and answers at once; the
// deployment says SWITCHOVER_IN_PROGRESS until it completes or rolls back.
func (s *Service) SwitchoverBlueGreenDeployment(ctx context.Context, id string, timeout *int) (*BlueGreenDeployment, error) {
	if id == "" {
		return nil, missing("BlueGreenDeploymentIdentifier")
	}
	id = strings.ToLower(id)
	seconds := 300
	if timeout != nil {
		seconds = *timeout
	}
	if err := bluegreen.ValidTimeout(seconds); err != nil {
		return nil, invalidValue("%s", err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if d == nil {
		return nil, deploymentNotFound(id)
	}
	if d.Status != bluegreen.StatusAvailable {
		return nil, invalidDeploymentState("Blue/green deployment %s is %s; a switchover needs it AVAILABLE.", id, d.Status)
	}
	if d.Degraded != "" {
		return nil, invalidDeploymentState("Blue/green deployment %s cannot switch over: replication is degraded: %s. "+
			"Delete the deployment and create a new one.", id, d.Degraded)
	}
	if why := s.missingMemberLocked(d); why != "" {
		return nil, invalidDeploymentState("Blue/green deployment %s cannot switch over: %s.", id, why)
	}
	for _, m := range d.Members {
		for _, rid := range []string{m.Blue, m.Green} {
			if r := s.instances[rid]; r.Status != StatusAvailable {
				return nil, invalidDeploymentState("Blue/green deployment %s cannot switch over: DB instance %s is %s.", id, r.Identifier, r.Status)
			}
		}
	}
	now := time.Now().UTC()
	if err := s.updateDeploymentLocked(d, func(d *deploymentRecord) note {
		d.Status = bluegreen.StatusSwitchoverInProgress
		d.StatusDetails = ""
		d.Switchover = &switchoverRecord{Phase: bluegreen.PhaseGuardrails, Started: now,
			Deadline: now.Add(time.Duration(seconds) * time.Second), Timeout: seconds, Timings: map[string]float64{}}
		for i := range d.Members {
			d.Members[i].Status = bluegreen.MemberInProgress
		}
		return notification(fmt.Sprintf("Switchover started (timeout %d s)", seconds))
	}); err != nil {
		return nil, err
	}
	s.goWork(func(ctx context.Context) { s.runSwitchover(ctx, id) })
	desc := s.describeDeploymentLocked(d)
	return &desc, nil
}

// switchover holds what one switchover works on.
type switchover struct {
	s        *Service
	d        *deploymentRecord
	rep      engine.Replicator
	eng      engine.Engine
	blue     engine.Layout // primaries
	green    engine.Layout
	names    []string // every member endpoint, blue and green
	deadline time.Time
}

func (s *Service) prepareSwitchover(id string) (*switchover, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if d == nil || d.Switchover == nil {
		return nil, fmt.Errorf("deployment %s has no switchover", id)
	}
	sw := &switchover{s: s, d: d, deadline: d.Switchover.Deadline}
	blue, green := s.instances[d.Members[0].Blue], s.instances[d.Members[0].Green]
	if blue == nil || green == nil {
		return sw, errors.New(s.missingMemberLocked(d))
	}
	var err error
	if sw.blue, err = s.layout(blue); err != nil {
		return sw, err
	}
	if sw.green, err = s.layout(green); err != nil {
		return sw, err
	}
	sw.eng = s.engines[blue.Engine]
	sw.rep = sw.eng.(engine.Replicator)
	for _, m := range d.Members {
		for _, rid := range []string{m.Blue, m.Green} {
			if r := s.instances[rid]; r != nil {
				sw.names = append(sw.names, r.Identifier)
			}
		}
	}
	return sw, nil
}

// runSwitchover carries out the switchover as a script of named phases.
// Each phase is persisted before it runs and timed; until the commit point a
// failure or the timeout rolls everything back.
func (s *Service) runSwitchover(ctx context.Context, id string) {
	sw, err := s.prepareSwitchover(id)
	if err == nil {
		if k, ok := sw.eng.(engine.ConnectionKeeper); ok {
			defer k.KeepConnections(ctx, sw.blue)()
			defer k.KeepConnections(ctx, sw.green)()
		}
		err = sw.beforeCommit(ctx)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, errTimeout) {
			return // teal is stopping: the next start rolls back
		}
		s.rollbackSwitchover(ctx, id, err)
		return
	}
	s.completeSwitchover(ctx, id)
}

func (sw *switchover) beforeCommit(ctx context.Context) error {
	ctx, cancel := context.WithDeadline(ctx, sw.deadline)
	defer cancel()
	steps := []struct {
		phase string
		run   func(context.Context) error
	}{
		{bluegreen.PhaseGuardrails, sw.checkGuardrails},
		{bluegreen.PhaseHold, sw.holdConnections},
		{bluegreen.PhaseStopWrites, sw.stopWrites},
		{bluegreen.PhaseCatchUp, sw.catchUp},
		{bluegreen.PhaseSequences, sw.syncSequences},
		{bluegreen.PhaseCommitted, sw.commit},
	}
	for _, st := range steps {
		// The commit point records its phase in its own transaction: a
		// phase persisted ahead of it would claim a commit not yet made.
		if st.phase != bluegreen.PhaseCommitted {
			if err := sw.s.setPhase(sw.d, st.phase); err != nil {
				return err
			}
		}
		if hook := sw.s.switchoverHook; hook != nil {
			hook(sw.d.ID, st.phase)
		}
		start := time.Now()
		err := st.run(ctx)
		sw.s.recordTiming(sw.d, st.phase, time.Since(start))
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w during %s after %d s: %v", errTimeout, st.phase, sw.d.Switchover.Timeout, err)
			}
			return fmt.Errorf("%s: %w", st.phase, err)
		}
	}
	return nil
}

// SetSwitchoverHook installs a function called as each switchover phase
// starts, for tests and operators that act between phases.
func (s *Service) SetSwitchoverHook(fn func(deployment, phase string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.switchoverHook = fn
}

func (s *Service) setPhase(d *deploymentRecord, phase string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateDeploymentLocked(d, func(d *deploymentRecord) note {
		d.Switchover.Phase = phase
		return note{}
	})
}

func (s *Service) recordTiming(d *deploymentRecord, phase string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Switchover.Timings == nil {
		d.Switchover.Timings = map[string]float64{}
	}
	d.Switchover.Timings[phase] = float64(took.Microseconds()) / 1000
}

func (sw *switchover) checkGuardrails(ctx context.Context) error {
	h := bluegreen.Health{}
	st, err := sw.rep.ReplicationStatus(ctx, sw.blue, sw.green, sw.d.ID)
	if err != nil {
		return err
	}
	h.ReplicationHealthy, h.ReplicationError = st.Healthy(), st.Problem
	h.LagSeconds, h.LagBytes = st.LagSeconds, st.LagBytes
	sw.s.mu.Lock()
	h.Degraded, h.MissingMember = sw.d.Degraded, sw.s.missingMemberLocked(sw.d)
	sw.s.mu.Unlock()
	ga, err := sw.rep.Activity(ctx, sw.green)
	if err != nil {
		return err
	}
	h.GreenActiveWrites = ga.ActiveWrites
	if h.BlueExternalSource, err = sw.rep.ExternalReplication(ctx, sw.blue); err != nil {
		return err
	}
	ba, err := sw.rep.Activity(ctx, sw.blue)
	if err != nil {
		return err
	}
	h.BlueLongestWrite, h.BlueLongestWriteWho, h.BlueLongestDDL = ba.LongestWrite, ba.LongestWriter, ba.LongestDDL
	if failed := bluegreen.Guardrails(h, bluegreen.DefaultLimits(time.Duration(sw.d.Switchover.Timeout)*time.Second)); len(failed) > 0 {
		return fmt.Errorf("guardrails: %s", strings.Join(failed, "; "))
	}
	return nil
}

// holdConnections makes every member endpoint hold new connections. Blue's
// primary comes last, so that writers connecting anew wait as briefly as
// possible.
func (sw *switchover) holdConnections(ctx context.Context) error {
	hold := time.Until(sw.deadline) + 10*time.Second
	for i := len(sw.names) - 1; i >= 0; i-- {
		n := sw.names[i]
		if err := sw.s.proxy.Pause(n, hold); err != nil {
			return fmt.Errorf("hold connections of %s: %w", n, err)
		}
	}
	return nil
}

// drainTimeout bounds how long a switchover lets open transactions finish.
const drainTimeout = 5 * time.Second

// stopWrites ends the client sessions of every member endpoint, each
// between two transactions where it can (a transaction still open at the
// drain deadline is cut and rolls back), then makes blue read-only and ends
// any session left. No client can write to either side until the endpoints
// are released.
//
// Sessions are drained in two places at once: the proxy ends those it
// follows, and blue ends the others, which the kernel forwarded or which
// came from elsewhere, as each goes idle.
func (sw *switchover) stopWrites(ctx context.Context) error {
	deadline := time.Now().Add(drainTimeout)
	if d, ok := ctx.Deadline(); ok && time.Until(d) < 2*drainTimeout {
		deadline = time.Now().Add(time.Until(d) / 2)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	clean, cut := 0, 0
	var followed []int
	for _, n := range sw.names {
		followed = append(followed, sw.s.proxy.Followed(n)...)
		wg.Add(1)
		go func(n string) {
			defer wg.Done()
			c, k := sw.s.proxy.Drain(n, deadline)
			mu.Lock()
			clean, cut = clean+c, cut+k
			mu.Unlock()
		}(n)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ended, left, err := sw.rep.DrainSessions(ctx, sw.blue, deadline, followed)
		if err != nil {
			// EndSessions below still ends every session.
			sw.s.log.Warn("switchover: draining blue's sessions failed", "deployment", sw.d.ID, "err", err)
		}
		mu.Lock()
		clean, cut = clean+ended, cut+left
		mu.Unlock()
	}()
	wg.Wait()
	sw.s.log.Info("switchover drained sessions", "deployment", sw.d.ID, "between_transactions", clean, "cut", cut)
	if err := sw.s.setReadOnly(ctx, sw.d.Members[0].Blue, true); err != nil {
		return err
	}
	errs := make(chan error, 2)
	for _, l := range []engine.Layout{sw.blue, sw.green} {
		go func(l engine.Layout) {
			_, err := sw.rep.EndSessions(ctx, l)
			errs <- err
		}(l)
	}
	return errors.Join(<-errs, <-errs)
}

// catchUp waits until green has applied everything blue committed: a marker
// committed on blue after writes stopped has reached green.
func (sw *switchover) catchUp(ctx context.Context) error {
	m, err := sw.rep.WriteMarker(ctx, sw.blue)
	if err != nil {
		return err
	}
	sw.s.mu.Lock()
	sw.d.Switchover.Marker = m
	err = sw.s.saveDeploymentLocked(sw.d, note{})
	sw.s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save the catch-up marker: %w", err)
	}
	return sw.rep.WaitMarker(ctx, sw.green, m)
}

func (sw *switchover) syncSequences(ctx context.Context) error {
	_, err := sw.rep.SyncSequences(ctx, sw.blue, sw.green)
	return err
}

// setReadOnly holds an instance read-only (or not) in its configuration and
// applies it at once.
func (s *Service) setReadOnly(ctx context.Context, rid string, on bool) error {
	s.mu.Lock()
	r := s.instances[rid]
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("instance %s is gone", rid)
	}
	r.ReadOnly = on
	if err := s.saveLocked(r, note{}); err != nil {
		s.mu.Unlock()
		return err
	}
	l, err := s.layout(r)
	e := s.engines[r.Engine]
	config := serverConfig(r, r.Applied)
	rep := s.replicationLocked(r)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := e.WriteConfig(l, config, rep); err != nil {
		return err
	}
	return e.Reload(ctx, l)
}

// commit is the commit point: one transaction renames green to the blue
// names and blue to NAME-oldN, moves the endpoint ports with the names,
// copies blue's tags to green, and records the phase. Before it nothing is
// visible; after it the switchover rolls forward.
func (sw *switchover) commit(ctx context.Context) error {
	s := sw.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d := sw.d
	taken := map[string]bool{}
	var renames []renameRecord
	var opened []string
	for _, m := range d.Members {
		b, g := s.instances[m.Blue], s.instances[m.Green]
		old := bluegreen.OldName(b.Identifier, func(n string) bool { return taken[n] || s.findLocked(n) != nil })
		taken[old] = true
		port, err := s.openEndpoint(old, 0, b.Engine)
		if err != nil {
			for _, n := range opened {
				s.proxy.CloseEndpoint(n)
			}
			return fmt.Errorf("open endpoint of %s: %w", old, err)
		}
		opened = append(opened, old)
		renames = append(renames,
			renameRecord{ResourceID: g.ResourceID, From: g.Identifier, To: b.Identifier, FromPort: g.Port, ToPort: b.Port},
			renameRecord{ResourceID: b.ResourceID, From: b.Identifier, To: old, FromPort: b.Port, ToPort: port})
	}
	// Apply to copies first, so a failed transaction changes nothing in memory.
	changed := map[string]instanceRecord{}
	for _, rn := range renames {
		c := *s.instances[rn.ResourceID]
		c.Identifier, c.Port = rn.To, rn.ToPort
		changed[rn.ResourceID] = c
	}
	for _, m := range d.Members {
		g := changed[m.Green]
		g.Tags = append([]Tag(nil), s.instances[m.Blue].Tags...)
		changed[m.Green] = g
	}
	next := *d.Switchover
	next.Phase, next.Renames = bluegreen.PhaseCommitted, renames
	nd := *d
	nd.Switchover = &next
	err := s.store.Update(s.ctx, func(tx *store.Tx) error {
		for rid := range changed {
			// Put gives the saved copy its new version: the map keeps it.
			c := changed[rid]
			if err := tx.Put(store.KindInstance, rid, &c); err != nil {
				return err
			}
			changed[rid] = c
		}
		if err := tx.Put(kindDeployment, d.ID, &nd); err != nil {
			return err
		}
		for _, rn := range renames {
			c := changed[rn.ResourceID]
			if err := tx.AddEvent(s.instanceEvent(&c, configuration(fmt.Sprintf("Renamed from %s to %s by the switchover of %s", rn.From, rn.To, d.ID)))); err != nil {
				return err
			}
		}
		return tx.AddEvent(s.deploymentEvent(d, notification("Switchover committed: green is the new production")))
	})
	if err != nil {
		for _, n := range opened {
			s.proxy.CloseEndpoint(n)
		}
		return err
	}
	for rid, c := range changed {
		*s.instances[rid] = c
	}
	*d.Switchover = next
	d.StoreVersion = nd.StoreVersion
	return nil
}

// completeSwitchover rolls a committed switchover forward: the endpoints
// route the names to their new servers, green becomes writable, held
// connections go to it, and replication is removed. Every step is
// idempotent, so it also finishes a switchover that teal crashed in.
func (s *Service) completeSwitchover(ctx context.Context, id string) {
	err := s.rollForward(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if err != nil {
		if ctx.Err() != nil {
			return // the next start finishes it
		}
		// Committed: production is green either way. Report what is left.
		s.log.Error("finish switchover", "deployment", id, "err", err)
		d.StatusDetails = "Switchover completed, but cleaning up replication failed: " + engine.Explain(err)
	}
	d.Status = bluegreen.StatusSwitchoverCompleted
	d.Switchover.Phase = bluegreen.PhaseDone
	for i := range d.Members {
		d.Members[i].Status = bluegreen.MemberCompleted
	}
	total := time.Since(d.Switchover.Started).Round(time.Millisecond)
	if err := s.saveDeploymentLocked(d, notification(fmt.Sprintf("Switchover completed in %s", total))); err != nil {
		// The store still says the switchover is committed: the next start
		// rolls it forward again, which changes nothing more.
		s.log.Error("save completed switchover", "deployment", id, "err", err)
	}
}

func (s *Service) rollForward(ctx context.Context, id string) error {
	s.mu.Lock()
	d := s.deployments[id]
	d.Switchover.Phase = bluegreen.PhaseRelease
	if err := s.saveDeploymentLocked(d, note{}); err != nil {
		// Committed is what counts, and that is saved: rolling forward
		// goes on, and runs again at the next start.
		s.log.Error("save switchover phase", "deployment", id, "phase", bluegreen.PhaseRelease, "err", err)
	}
	sw := d.Switchover
	// Route every name to the server that now holds it; this also closes
	// connections that were still open to the previous holder.
	for _, rn := range sw.Renames {
		r := s.instances[rn.ResourceID]
		if _, err := s.openEndpoint(rn.To, rn.ToPort, r.Engine); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("open endpoint %s: %w", rn.To, err)
		}
		if err := s.proxy.SetTarget(rn.To, r.backend()); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	for _, rn := range sw.Renames {
		if s.findLocked(rn.From) == nil {
			s.proxy.CloseEndpoint(rn.From)
		}
	}
	greenID, blueID := d.Members[0].Green, d.Members[0].Blue
	var names []string
	for _, rn := range sw.Renames {
		names = append(names, rn.To)
	}
	s.mu.Unlock()

	if hook := s.hook(); hook != nil {
		hook(id, bluegreen.PhaseRelease)
	}
	// Green writable, then release the held connections to it.
	var errs []error
	for _, m := range d.Members {
		if err := s.setReadOnly(ctx, m.Green, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range names {
		s.proxy.Resume(n)
	}
	s.mu.Lock()
	blue, green := s.instances[blueID], s.instances[greenID]
	bl, berr := s.layout(blue)
	gl, gerr := s.layout(green)
	rep := s.engines[green.Engine].(engine.Replicator)
	s.mu.Unlock()
	if berr == nil && gerr == nil {
		if err := rep.StopReplication(ctx, &bl, &gl, id); err != nil {
			errs = append(errs, fmt.Errorf("remove replication: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) hook() func(string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.switchoverHook
}

// rollbackSwitchover leaves both environments as they were: blue writable,
// names and endpoints unchanged, held connections released to blue.
func (s *Service) rollbackSwitchover(ctx context.Context, id string, cause error) {
	s.mu.Lock()
	d := s.deployments[id]
	var names []string
	for _, m := range d.Members {
		for _, rid := range []string{m.Blue, m.Green} {
			if r := s.instances[rid]; r != nil {
				names = append(names, r.Identifier)
			}
		}
	}
	blueID := d.Members[0].Blue
	s.mu.Unlock()

	// Rolling back must not depend on the switchover's expired deadline.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := s.setReadOnly(rctx, blueID, false)
	for _, n := range names {
		s.proxy.Resume(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Status = bluegreen.StatusSwitchoverFailed
	d.StatusDetails = "Switchover canceled and rolled back: " + engine.Explain(cause)
	if err != nil {
		d.StatusDetails += "; making blue writable again failed: " + engine.Explain(err)
	}
	d.Switchover.Phase = bluegreen.PhaseRolledBack
	d.Switchover.Error = cause.Error()
	for i := range d.Members {
		d.Members[i].Status = bluegreen.MemberFailed
	}
	s.log.Warn("switchover rolled back", "deployment", id, "cause", cause)
	if err := s.saveDeploymentLocked(d, notification(d.StatusDetails)); err != nil {
		// The store says the switchover had not reached its commit point:
		// the next start rolls it back again.
		s.log.Error("save rolled-back switchover", "deployment", id, "err", err)
	}
}

// resumeDeploymentLocked continues what a deployment was doing when teal
// stopped: provisioning starts over, a switchover before its commit point
// rolls back and after it rolls forward, a deletion finishes. Each waits for
// the servers it needs.
func (s *Service) resumeDeploymentLocked(id string, d *deploymentRecord) {
	phase := ""
	if d.Switchover != nil {
		phase = d.Switchover.Phase
	}
	switch bluegreen.ResumeOf(d.Status, phase) {
	case bluegreen.ResumeProvision:
		s.startProvisionLocked(id)
	case bluegreen.ResumeRollForward:
		s.goWork(func(ctx context.Context) {
			s.waitMembersUp(ctx, id)
			s.completeSwitchover(ctx, id)
		})
	case bluegreen.ResumeRollBack:
		s.goWork(func(ctx context.Context) {
			s.waitMembersUp(ctx, id)
			s.rollbackSwitchover(ctx, id, errors.New("teal restarted during the switchover, before its commit point"))
		})
	case bluegreen.ResumeFinishDelete:
		s.goWork(func(ctx context.Context) {
			s.waitMembersUp(ctx, id)
			s.finishDeleteDeployment(ctx, id)
		})
	}
}

// waitMembersUp waits (bounded) until the deployment's primaries have left
// the starting state.
func (s *Service) waitMembersUp(ctx context.Context, id string) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		d := s.deployments[id]
		up := true
		for _, m := range d.Members[:1] {
			for _, rid := range []string{m.Blue, m.Green} {
				if r := s.instances[rid]; r != nil && (r.Status == StatusStarting || r.Status == StatusCreating) {
					up = false
				}
			}
		}
		s.mu.Unlock()
		if up {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
