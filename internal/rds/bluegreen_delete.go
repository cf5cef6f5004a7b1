package rds

import (
	"context"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// DeleteBlueGreenDeployment deletes a deployment. Before switchover,
// DeleteTarget also deletes the green instances; without it, replication
// stops and green is left standalone (read-only until it is rebooted). After
// switchover the green instances are production, so DeleteTarget is refused.
func (s *Service) DeleteBlueGreenDeployment(ctx context.Context, id string, deleteTarget bool) (*BlueGreenDeployment, error) {
	if id == "" {
		return nil, missing("BlueGreenDeploymentIdentifier")
	}
	id = strings.ToLower(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if d == nil {
		return nil, deploymentNotFound(id)
	}
	switch d.Status {
	case bluegreen.StatusSwitchoverInProgress, bluegreen.StatusDeleting:
		return nil, invalidDeploymentState("Blue/green deployment %s is %s and cannot be deleted now.", id, d.Status)
	case bluegreen.StatusSwitchoverCompleted:
		if deleteTarget {
			return nil, invalidDeploymentState("Blue/green deployment %s has switched over: its green instances are the production "+
				"environment now, so DeleteTarget cannot be used. Delete the deployment without it, then the old instances if you wish.", id)
		}
	}
	if err := s.updateDeploymentLocked(d, func(d *deploymentRecord) note {
		d.Status = bluegreen.StatusDeleting
		d.DeleteTarget = deleteTarget
		return deletion("Blue/green deployment is being deleted")
	}); err != nil {
		return nil, err
	}
	desc := s.describeDeploymentLocked(d)
	// A green still being built stops first, so nothing it does comes
	// after the clean-up.
	built := s.stopProvisionLocked(id)
	s.goWork(func(ctx context.Context) {
		select {
		case <-built:
		case <-ctx.Done():
			return // teal is stopping; the next start deletes again
		}
		s.finishDeleteDeployment(ctx, id)
	})
	return &desc, nil
}

func (s *Service) finishDeleteDeployment(ctx context.Context, id string) {
	s.mu.Lock()
	d := s.deployments[id]
	deleteTarget := d.DeleteTarget
	completed := d.Switchover != nil && bluegreen.Committed(d.Switchover.Phase)
	var bl, gl *engine.Layout
	var rep engine.Replicator
	if blue := s.instances[d.Members[0].Blue]; blue != nil {
		if l, err := s.layout(blue); err == nil {
			bl = &l
		}
		rep, _ = s.engines[blue.Engine].(engine.Replicator)
	}
	if green := s.instances[d.Members[0].Green]; green != nil {
		if l, err := s.layout(green); err == nil {
			gl = &l
		}
		rep, _ = s.engines[green.Engine].(engine.Replicator)
	}
	s.mu.Unlock()

	keep := false
	if k, ok := rep.(engine.ReplicationKeeper); ok && !deleteTarget {
		keep = k.KeepsReplicationOnDelete()
	}
	if !completed && rep != nil && !keep {
		if err := rep.StopReplication(ctx, bl, gl, id); err != nil {
			s.log.Warn("remove blue/green replication", "deployment", id, "err", err)
		}
	}
	if deleteTarget {
		// Replicas first, so the green primary has none to promote.
		for i := len(d.Members) - 1; i >= 0; i-- {
			s.deleteGreen(ctx, d.Members[i].Green)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !deleteTarget {
		// A green whose build was stopped holds part of blue's data: it is
		// kept, as asked, but says so.
		for _, m := range d.Members {
			if g := s.instances[m.Green]; g != nil && g.Status == StatusCreating {
				s.settleStatusLocked(g, StatusFailed, failure("DB instance was not finished: its blue/green deployment "+id+" was deleted while it was being created"))
			}
		}
	}
	now := time.Now().UTC()
	if err := s.store.Update(s.ctx, func(tx *store.Tx) error {
		if err := tx.Delete(kindDeployment, id); err != nil {
			return err
		}
		return tx.AddEvent(s.deploymentEvent(d, deletion("Blue/green deployment deleted at "+now.Format(time.RFC3339))))
	}); err != nil {
		s.log.Error("delete blue/green deployment", "deployment", id, "err", err)
		return
	}
	delete(s.deployments, id)
	delete(s.live, id)
	delete(s.unsaved, id)
}

// deleteGreen deletes one green instance and waits until it is gone.
func (s *Service) deleteGreen(ctx context.Context, rid string) {
	s.mu.Lock()
	r := s.instances[rid]
	if r == nil {
		s.mu.Unlock()
		return
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.DeletionProtection, next.Status = false, StatusDeleting
		return deletion("DB instance is being deleted with its blue/green deployment")
	}); err != nil {
		// Deleting goes on: the record goes with the server at the end.
		s.log.Error("save deleting green instance", "instance", r.Identifier, "err", err)
	}
	s.mu.Unlock()
	s.finishDelete(ctx, rid)
}
