package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// A switchover is carried out by internal/deployment's Runner; this file
// starts it from the API and gives it its Env over teal's instances,
// servers, endpoints and store.

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
	s.lock()
	defer s.unlock()
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
		if s.skippedLocked(d, m) {
			continue
		}
		for _, rid := range []string{m.Blue, m.Green} {
			if r := s.instances[rid]; r.Status != StatusAvailable {
				return nil, invalidDeploymentState("Blue/green deployment %s cannot switch over: DB instance %s is %s.", id, r.Identifier, r.Status)
			}
		}
	}
	st := deployment.Begin(deploymentState(d), time.Now().UTC(), seconds)
	if err := s.updateDeploymentLocked(d, func(next *deploymentRecord) note {
		applyState(next, st)
		return notification(fmt.Sprintf("Switchover started (timeout %d s)", seconds))
	}); err != nil {
		return nil, err
	}
	s.goWork(func(ctx context.Context) { s.runSwitchover(ctx, id) })
	desc := s.describeDeploymentLocked(d)
	return &desc, nil
}

// applyState gives a deployment record what a runner changed.
func applyState(d *deploymentRecord, st deployment.State) {
	st = st.Clone()
	d.Status, d.StatusDetails = st.Status, st.Details
	d.Tasks, d.Baseline, d.Switchover = st.Tasks, st.Baseline, st.Switchover
	if ms := deployment.MemberStatus(st.Status); ms != "" {
		for i := range d.Members {
			d.Members[i].Status = ms
		}
	}
}

// deploymentState is the state of d as the runners see it.
func deploymentState(d *deploymentRecord) deployment.State {
	return deployment.State{Status: d.Status, Details: d.StatusDetails, Tasks: d.Tasks,
		Baseline: d.Baseline, Switchover: d.Switchover}.Clone()
}

// runner makes the runner of deployment id's switchover.
func (s *Service) runner(id string) (*deployment.Runner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if d == nil || d.Switchover == nil {
		return nil, fmt.Errorf("deployment %s has no switchover", id)
	}
	hook := func(phase string) {
		if h := s.hook(); h != nil {
			h(id, phase)
		}
	}
	return deployment.New(&switchEnv{s: s, id: id}, id, deploymentState(d), hook, s.log), nil
}

// runSwitchover carries out a switchover the API started.
func (s *Service) runSwitchover(ctx context.Context, id string) {
	r, err := s.runner(id)
	if err != nil {
		s.log.Error("switchover", "deployment", id, "err", err)
		return
	}
	env := &switchEnv{s: s, id: id}
	if rep, blue, green, err := env.sides(); err == nil {
		if k, ok := rep.(engine.ConnectionKeeper); ok {
			defer k.KeepConnections(ctx, blue)()
			defer k.KeepConnections(ctx, green)()
		}
	}
	r.Run(ctx)
}

// SetSwitchoverHook installs a function called as each switchover phase
// starts, for tests and operators that act between phases.
func (s *Service) SetSwitchoverHook(fn func(deployment, phase string)) {
	s.lock()
	defer s.unlock()
	s.switchoverHook = fn
}

func (s *Service) hook() func(string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.switchoverHook
}

// switchEnv is a switchover's deployment.Env. It looks up the deployment,
// its instances and their servers afresh at every call, under the lock,
// and acts outside it.
type switchEnv struct {
	s  *Service
	id string
}

var _ deployment.Env = (*switchEnv)(nil)

func (e *switchEnv) deploymentLocked() (*deploymentRecord, error) {
	d := e.s.deployments[e.id]
	if d == nil {
		return nil, fmt.Errorf("deployment %s is gone", e.id)
	}
	return d, nil
}

// sides gives the replicator and the layouts of blue's and green's primaries.
func (e *switchEnv) sides() (engine.Replicator, engine.Layout, engine.Layout, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := e.deploymentLocked()
	if err != nil {
		return nil, engine.Layout{}, engine.Layout{}, err
	}
	blue, green := s.instances[d.Members[0].Blue], s.instances[d.Members[0].Green]
	if blue == nil || green == nil {
		return nil, engine.Layout{}, engine.Layout{}, errors.New(s.missingMemberLocked(d))
	}
	bl, err := s.layout(blue)
	if err != nil {
		return nil, engine.Layout{}, engine.Layout{}, err
	}
	gl, err := s.layout(green)
	if err != nil {
		return nil, engine.Layout{}, engine.Layout{}, err
	}
	rep, ok := s.engines[blue.Engine].(engine.Replicator)
	if !ok {
		return nil, engine.Layout{}, engine.Layout{}, fmt.Errorf("engine %s has no blue/green support", blue.Engine)
	}
	return rep, bl, gl, nil
}

// names lists every member's current endpoint name, blue and green.
func (e *switchEnv) names() []string {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := e.deploymentLocked()
	if err != nil {
		return nil
	}
	var out []string
	if d.Cluster != nil {
		// A cluster's endpoints are held and drained with its instances'.
		for _, rid := range []string{d.Cluster.Blue, d.Cluster.Green} {
			if c := s.clusters[rid]; c != nil {
				out = append(out, clusterEndpointNames(c)...)
			}
		}
	}
	for _, m := range d.Members {
		for _, rid := range []string{m.Blue, m.Green} {
			if r := s.instances[rid]; r != nil {
				out = append(out, r.Identifier)
			}
		}
	}
	return out
}

func (e *switchEnv) Save(ctx context.Context, st deployment.State, ev deployment.Event) error {
	s := e.s
	s.lock()
	defer s.unlock()
	d, err := e.deploymentLocked()
	if err != nil {
		return err
	}
	ended := d.Status == bluegreen.StatusSwitchoverInProgress &&
		(st.Status == bluegreen.StatusSwitchoverCompleted || st.Status == bluegreen.StatusSwitchoverFailed)
	if err := s.updateDeploymentLocked(d, func(next *deploymentRecord) note {
		applyState(next, st)
		return note{ev.Category, ev.Message}
	}); err != nil {
		return err
	}
	delete(s.unsaved, e.id)
	if ended {
		s.metrics.switchoverEnded(st)
	}
	return nil
}

func (e *switchEnv) Unsaved(detail string) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if detail == "" {
		delete(s.unsaved, e.id)
		return
	}
	s.unsaved[e.id] = detail
}

func (e *switchEnv) Health(ctx context.Context) (bluegreen.Health, error) {
	h := bluegreen.Health{}
	rep, blue, green, err := e.sides()
	if err != nil {
		return h, err
	}
	st, err := rep.ReplicationStatus(ctx, blue, green, e.id)
	if err != nil {
		return h, err
	}
	h.ReplicationHealthy, h.ReplicationError = st.Healthy(), st.Problem
	h.LagSeconds, h.LagBytes = st.LagSeconds, st.LagBytes
	e.s.mu.Lock()
	if d, err := e.deploymentLocked(); err == nil {
		h.Degraded, h.MissingMember = d.Degraded, e.s.missingMemberLocked(d)
	}
	e.s.mu.Unlock()
	ga, err := rep.Activity(ctx, green)
	if err != nil {
		return h, err
	}
	h.GreenActiveWrites = ga.ActiveWrites
	if h.BlueExternalSource, err = rep.ExternalReplication(ctx, blue); err != nil {
		return h, err
	}
	ba, err := rep.Activity(ctx, blue)
	if err != nil {
		return h, err
	}
	h.BlueLongestWrite, h.BlueLongestWriteWho, h.BlueLongestDDL = ba.LongestWrite, ba.LongestWriter, ba.LongestDDL
	return h, nil
}

// Hold pauses every member endpoint. Blue's primary comes last, so that
// writers connecting anew wait as briefly as possible.
func (e *switchEnv) Hold(hold time.Duration) error {
	names := e.names()
	for i := len(names) - 1; i >= 0; i-- {
		if err := e.s.proxy.Pause(names[i], hold); err != nil {
			return fmt.Errorf("hold connections of %s: %w", names[i], err)
		}
	}
	return nil
}

// Drain drains sessions in two places at once: the proxy ends those it
// follows, and blue ends the others, which the kernel forwarded or which
// came from elsewhere, as each goes idle.
func (e *switchEnv) Drain(ctx context.Context, deadline time.Time) (int, int) {
	s := e.s
	var wg sync.WaitGroup
	var mu sync.Mutex
	clean, cut := 0, 0
	var followed []int
	for _, n := range e.names() {
		followed = append(followed, s.proxy.Followed(n)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, k := s.proxy.Drain(n, deadline)
			mu.Lock()
			clean, cut = clean+c, cut+k
			mu.Unlock()
		}()
	}
	if rep, blue, _, err := e.sides(); err == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ended, left, err := rep.DrainSessions(ctx, blue, deadline, followed)
			if err != nil {
				// EndSessions after the drain still ends every session.
				s.log.Warn("switchover: draining blue's sessions failed", "deployment", e.id, "err", err)
			}
			mu.Lock()
			clean, cut = clean+ended, cut+left
			mu.Unlock()
		}()
	}
	wg.Wait()
	return clean, cut
}

func (e *switchEnv) SetReadOnly(ctx context.Context, side deployment.Side, on bool) error {
	s := e.s
	s.mu.Lock()
	d, err := e.deploymentLocked()
	var rids []string
	if err == nil {
		if side == deployment.Blue {
			rids = []string{d.Members[0].Blue}
		} else {
			for _, m := range d.Members {
				if !s.skippedLocked(d, m) {
					rids = append(rids, m.Green)
				}
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	var errs []error
	for _, rid := range rids {
		errs = append(errs, s.setReadOnly(ctx, rid, on))
	}
	return errors.Join(errs...)
}

func (e *switchEnv) EndSessions(ctx context.Context) error {
	rep, blue, green, err := e.sides()
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	for _, l := range []engine.Layout{blue, green} {
		go func() {
			_, err := rep.EndSessions(ctx, l)
			errs <- err
		}()
	}
	return errors.Join(<-errs, <-errs)
}

func (e *switchEnv) WriteMarker(ctx context.Context) (engine.Marker, error) {
	rep, blue, _, err := e.sides()
	if err != nil {
		return nil, err
	}
	return rep.WriteMarker(ctx, blue)
}

func (e *switchEnv) WaitMarker(ctx context.Context, m engine.Marker) error {
	rep, _, green, err := e.sides()
	if err != nil {
		return err
	}
	return rep.WaitMarker(ctx, green, m)
}

func (e *switchEnv) SyncSequences(ctx context.Context) error {
	rep, blue, green, err := e.sides()
	if err != nil {
		return err
	}
	_, err = rep.SyncSequences(ctx, blue, green)
	return err
}

// setReadOnly holds an instance read-only (or not) in its configuration and
// applies it at once. Read-only is saved before the server takes it, and
// writable after: whatever fails between, the store never says writable of
// a server that is read-only, and a switchover that stopped before saving
// writable is rolled back again at the next start.
func (s *Service) setReadOnly(ctx context.Context, rid string, on bool) error {
	defer s.lockConfig(rid)()
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return fmt.Errorf("instance %s is gone", rid)
	}
	next := *r
	next.ReadOnly = on
	if on && !r.ReadOnly {
		if err := s.saveLocked(&next, note{}); err != nil {
			s.unlock()
			return err
		}
		*r = next
	}
	l, err := s.layout(r)
	e := s.engines[r.Engine]
	config := serverConfig(&next, next.Applied)
	rep := s.replicationLocked(&next)
	s.unlock()
	if err != nil {
		return err
	}
	if err := e.WriteConfig(l, config, rep); err != nil {
		return err
	}
	if err := e.Reload(ctx, l); err != nil {
		return err
	}
	if on {
		return nil
	}
	s.lock()
	defer s.unlock()
	if r = s.instances[rid]; r == nil || !r.ReadOnly {
		return nil
	}
	next = *r
	next.ReadOnly = false
	if err := s.saveLocked(&next, note{}); err != nil {
		return fmt.Errorf("save that %s is writable: %w", r.Identifier, err)
	}
	*r = next
	return nil
}

// Commit is the commit point: one transaction renames green to the blue
// names and blue to NAME-oldN, moves the endpoint ports with the names,
// copies blue's tags to green, and records the phase. Before it nothing is
// visible; after it the switchover rolls forward.
func (e *switchEnv) Commit(ctx context.Context, st deployment.State) (deployment.State, error) {
	s := e.s
	s.lock()
	defer s.unlock()
	d, err := e.deploymentLocked()
	if err != nil {
		return st, err
	}
	taken := map[string]bool{}
	var renames []deployment.Rename
	var opened []string
	closeOpened := func() {
		for _, n := range opened {
			s.proxy.CloseEndpoint(n)
		}
	}
	for _, m := range d.Members {
		if s.skippedLocked(d, m) {
			continue
		}
		b, g := s.instances[m.Blue], s.instances[m.Green]
		if b == nil || g == nil {
			closeOpened()
			return st, errors.New(s.missingMemberLocked(d))
		}
		old := bluegreen.OldName(b.Identifier, func(n string) bool { return taken[n] || s.findLocked(n) != nil })
		taken[old] = true
		port, err := s.openEndpoint(old, 0, b.Engine)
		if err != nil {
			closeOpened()
			return st, fmt.Errorf("open endpoint of %s: %w", old, err)
		}
		opened = append(opened, old)
		renames = append(renames,
			deployment.Rename{ResourceID: g.ResourceID, From: g.Identifier, To: b.Identifier, FromPort: g.Port, ToPort: b.Port},
			deployment.Rename{ResourceID: b.ResourceID, From: b.Identifier, To: old, FromPort: b.Port, ToPort: port})
	}
	// Apply to copies first, so a failed transaction changes nothing in memory.
	changed := map[string]instanceRecord{}
	for _, rn := range renames {
		c := *s.instances[rn.ResourceID]
		c.Identifier, c.Port = rn.To, rn.ToPort
		changed[rn.ResourceID] = c
	}
	for _, m := range d.Members {
		g, ok := changed[m.Green]
		if !ok {
			continue
		}
		g.Tags = append([]Tag(nil), s.instances[m.Blue].Tags...)
		changed[m.Green] = g
	}
	var clusters []clusterRecord // green, then blue, as saved
	if d.Cluster != nil {
		next, rns, names, err := s.switchClustersLocked(d)
		opened = append(opened, names...)
		if err != nil {
			closeOpened()
			return st, err
		}
		clusters = next
		renames = append(renames, rns...)
	}
	st = st.Clone()
	st.Switchover.Phase, st.Switchover.Renames = bluegreen.PhaseCommitted, renames
	nd := *d
	nd.Members = append([]memberRecord(nil), d.Members...)
	applyState(&nd, st)
	err = s.commitLocked(s.ctx, func(tx *store.Tx) error {
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
		for i := range clusters {
			if err := tx.Put(kindCluster, clusters[i].ResourceID, &clusters[i]); err != nil {
				return err
			}
		}
		for i := range clusters {
			rn := renames[len(renames)-len(clusters)+i]
			if err := tx.AddEvent(s.clusterEvent(&clusters[i], configuration(fmt.Sprintf("Renamed from %s to %s by the switchover of %s", rn.From, rn.To, d.ID)))); err != nil {
				return err
			}
		}
		for _, rn := range renames {
			if _, ok := changed[rn.ResourceID]; !ok {
				continue
			}
			c := changed[rn.ResourceID]
			if err := tx.AddEvent(s.instanceEvent(&c, configuration(fmt.Sprintf("Renamed from %s to %s by the switchover of %s", rn.From, rn.To, d.ID)))); err != nil {
				return err
			}
		}
		return tx.AddEvent(s.deploymentEvent(d, notification("Switchover committed: green is the new production")))
	})
	if err != nil {
		closeOpened()
		return st, err
	}
	for rid, c := range changed {
		*s.instances[rid] = c
	}
	for _, c := range clusters {
		*s.clusters[c.ResourceID] = c
	}
	*d = nd
	return st, nil
}

// Route points each name at the server that now holds it, which also
// closes connections still open to the previous holder, and closes the
// endpoints of names no instance holds any more.
func (e *switchEnv) Route(ctx context.Context, renames []deployment.Rename) error {
	s := e.s
	s.lock()
	defer s.unlock()
	var clusters []*clusterRecord
	for _, rn := range renames {
		if c := s.clusters[rn.ResourceID]; c != nil {
			clusters = append(clusters, c)
			continue
		}
		r := s.instances[rn.ResourceID]
		if r == nil {
			return fmt.Errorf("instance %s is gone", rn.ResourceID)
		}
		if _, err := s.openEndpoint(rn.To, rn.ToPort, r.Engine); err != nil {
			return fmt.Errorf("open endpoint %s: %w", rn.To, err)
		}
		var err error
		backend := r.backend()
		s.outsideLocked(func() { err = s.proxy.SetTarget(rn.To, backend) })
		if err != nil {
			return err
		}
	}
	// The clusters' endpoints follow their names, now held by the
	// instances routed above.
	for _, c := range clusters {
		if err := s.openClusterEndpointsAtLocked(c); err != nil {
			return err
		}
		s.routeClusterLocked(c)
	}
	for _, rn := range renames {
		if s.clusters[rn.ResourceID] != nil {
			if s.findClusterLocked(rn.From) == nil {
				s.closeClusterEndpoints(&clusterRecord{Identifier: rn.From})
			}
			continue
		}
		if s.findLocked(rn.From) == nil {
			s.proxy.CloseEndpoint(rn.From)
		}
	}
	return nil
}

func (e *switchEnv) Release() {
	for _, n := range e.names() {
		e.s.proxy.Resume(n)
	}
}

func (e *switchEnv) StopReplication(ctx context.Context) error {
	rep, blue, green, err := e.sides()
	if err != nil {
		return err
	}
	return rep.StopReplication(ctx, &blue, &green, e.id)
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
	case bluegreen.ResumeRollForward, bluegreen.ResumeRollBack:
		s.goWork(func(ctx context.Context) {
			s.waitMembersUp(ctx, id)
			r, err := s.runner(id)
			if err != nil {
				s.log.Error("resume switchover", "deployment", id, "err", err)
				return
			}
			s.log.Info("resuming switchover", "deployment", id, "decision", r.Resume(ctx).String())
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
