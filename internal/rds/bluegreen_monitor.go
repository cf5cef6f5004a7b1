package rds

import (
	"context"
	"sort"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
	"github.com/tealdb/teal/internal/engine"
)

// monitorInterval is how often the monitor beats and measures. It is also
// the resolution of lag in seconds.
const monitorInterval = time.Second

// monitorDeployments watches every deployment that replicates: it writes
// the heartbeat on blue, measures lag, and marks the deployment degraded
// when blue's schema or large objects change, which replication does not
// carry.
func (s *Service) monitorDeployments(ctx context.Context) {
	t := time.NewTicker(monitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var ids []string
		for id, d := range s.deployments {
			if (d.Status == bluegreen.StatusAvailable || d.Status == bluegreen.StatusProvisioning) && d.Baseline != nil {
				ids = append(ids, id)
			}
		}
		s.mu.Unlock()
		sort.Strings(ids)
		for _, id := range ids {
			s.monitorOnce(ctx, id)
		}
	}
}

// monitorOnce measures one deployment.
func (s *Service) monitorOnce(ctx context.Context, id string) {
	s.mu.Lock()
	d := s.deployments[id]
	if d == nil || d.Switchover != nil || d.Baseline == nil {
		s.mu.Unlock()
		return
	}
	if missing := s.missingMemberLocked(d); missing != "" {
		s.mu.Unlock()
		return
	}
	blue, green := s.instances[d.Members[0].Blue], s.instances[d.Members[0].Green]
	bl, berr := s.layout(blue)
	gl, gerr := s.layout(green)
	rep, _ := s.engines[blue.Engine].(engine.Replicator)
	baseline := d.Baseline
	blueUp := blue.Status == StatusAvailable
	s.mu.Unlock()
	if berr != nil || gerr != nil || rep == nil || !blueUp {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w := &watchEnv{s: s, id: id, d: d, rep: rep, blue: bl, green: gl}
	if err := deployment.Watch(ctx, w, *baseline); err != nil {
		// Nothing is published: the next measurement finds the change
		// again and saves it then.
		s.log.Error("watch blue/green deployment", "deployment", id, "err", err)
	}
}

// watchEnv is one measurement's deployment.Watcher.
type watchEnv struct {
	s           *Service
	id          string
	d           *deploymentRecord
	rep         engine.Replicator
	blue, green engine.Layout
}

func (w *watchEnv) Heartbeat(ctx context.Context) error { return w.rep.Heartbeat(ctx, w.blue) }

func (w *watchEnv) Replication(ctx context.Context) (engine.ReplicationStatus, error) {
	return w.rep.ReplicationStatus(ctx, w.blue, w.green, w.id)
}

func (w *watchEnv) Schema(ctx context.Context) (engine.SchemaState, error) {
	return w.rep.SchemaState(ctx, w.blue)
}

func (w *watchEnv) Live(st engine.ReplicationStatus, err error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.live[w.id] = &deploymentLive{status: st, at: time.Now(), err: err}
}

func (w *watchEnv) Degrade(why string) error {
	s := w.s
	s.lock()
	defer s.unlock()
	d := w.d
	if d.Degraded != "" || d.Switchover != nil || s.deployments[w.id] != d {
		return nil
	}
	return s.updateDeploymentLocked(d, func(next *deploymentRecord) note {
		next.Degraded = why
		return failure("Replication degraded: " + why + ". Switchover is blocked; delete this deployment and create a new one after the change.")
	})
}

// missingMemberLocked names a deleted member, or "".
func (s *Service) missingMemberLocked(d *deploymentRecord) string {
	for _, m := range d.Members {
		if s.skippedLocked(d, m) {
			continue
		}
		if s.instances[m.Blue] == nil {
			return "a blue member of the deployment was deleted (MISSING_SOURCE)"
		}
		if s.instances[m.Green] == nil {
			return "a green member of the deployment was deleted (MISSING_TARGET)"
		}
	}
	return ""
}
