package rds

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
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
	if err := rep.Heartbeat(ctx, bl); err != nil {
		s.setLive(id, engine.ReplicationStatus{}, err)
		return
	}
	st, err := rep.ReplicationStatus(ctx, bl, gl, id)
	s.setLive(id, st, err)
	schema, err := rep.SchemaState(ctx, bl)
	if err != nil {
		return
	}
	if why := schemaChange(*baseline, schema); why != "" {
		s.lock()
		if d.Degraded == "" && d.Switchover == nil && s.deployments[id] == d {
			if err := s.updateDeploymentLocked(d, func(next *deploymentRecord) note {
				next.Degraded = why
				return failure("Replication degraded: " + why + ". Switchover is blocked; delete this deployment and create a new one after the change.")
			}); err != nil {
				// Nothing is published: the next measurement finds the
				// change again and saves it then.
				s.log.Error("save degraded deployment", "deployment", id, "err", err)
			}
		}
		s.unlock()
	}
}

func (s *Service) setLive(id string, st engine.ReplicationStatus, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[id] = &deploymentLive{status: st, at: time.Now(), err: err}
}

// schemaChange says what changed on blue since the baseline that logical
// replication does not carry, or "" if nothing did.
func schemaChange(base, now engine.SchemaState) string {
	var changes []string
	for db, fp := range now.Fingerprints {
		old, ok := base.Fingerprints[db]
		switch {
		case !ok:
			changes = append(changes, fmt.Sprintf("database %s was created on blue", db))
		case old != fp:
			changes = append(changes, fmt.Sprintf("DDL changed the schema of database %s on blue", db))
		}
	}
	for db, n := range now.LargeObjectWrites {
		if n > base.LargeObjectWrites[db] {
			changes = append(changes, fmt.Sprintf("large objects were written in database %s on blue", db))
		}
	}
	sort.Strings(changes)
	return strings.Join(changes, "; ")
}

// missingMemberLocked names a deleted member, or "".
func (s *Service) missingMemberLocked(d *deploymentRecord) string {
	for _, m := range d.Members {
		if s.instances[m.Blue] == nil {
			return "a blue member of the deployment was deleted (MISSING_SOURCE)"
		}
		if s.instances[m.Green] == nil {
			return "a green member of the deployment was deleted (MISSING_TARGET)"
		}
	}
	return ""
}
