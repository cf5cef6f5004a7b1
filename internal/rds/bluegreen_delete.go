package rds

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
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
	s.lock()
	defer s.unlock()
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
	if d == nil {
		s.mu.Unlock()
		return
	}
	st := deploymentState(d)
	del := deployment.Deletion{DeleteTarget: d.DeleteTarget}
	for _, rid := range []string{d.Members[0].Green, d.Members[0].Blue} {
		if r := s.instances[rid]; r != nil {
			if k, ok := s.engines[r.Engine].(engine.ReplicationKeeper); ok {
				del.KeepsReplication = k.KeepsReplicationOnDelete()
			}
			break
		}
	}
	s.mu.Unlock()
	if err := deployment.Delete(ctx, &removeEnv{s: s, id: id}, st, del, s.log.With("deployment", id)); err != nil {
		if ctx.Err() == nil {
			// The store still says DELETING: the next start deletes again.
			s.log.Error("delete blue/green deployment", "deployment", id, "err", err)
		}
	}
}

// removeEnv is a deletion's deployment.Remover.
type removeEnv struct {
	s  *Service
	id string
}

var _ deployment.Remover = (*removeEnv)(nil)

// StopReplication removes replication with whichever sides are left.
func (e *removeEnv) StopReplication(ctx context.Context) error {
	s := e.s
	s.mu.Lock()
	d := s.deployments[e.id]
	if d == nil {
		s.mu.Unlock()
		return nil
	}
	var bl, gl *engine.Layout
	var rep engine.Replicator
	for _, side := range []struct {
		rid string
		l   **engine.Layout
	}{{d.Members[0].Blue, &bl}, {d.Members[0].Green, &gl}} {
		if r := s.instances[side.rid]; r != nil {
			if l, err := s.layout(r); err == nil {
				*side.l = &l
			}
			rep, _ = s.engines[r.Engine].(engine.Replicator)
		}
	}
	s.mu.Unlock()
	if rep == nil {
		return nil
	}
	return rep.StopReplication(ctx, bl, gl, e.id)
}

func (e *removeEnv) greens() []string {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.greensLocked()
}

// DeleteGreen deletes the green members, replicas first, so the green
// primary has none to promote.
func (e *removeEnv) DeleteGreen(ctx context.Context) error {
	greens := e.greens()
	for i := len(greens) - 1; i >= 0; i-- {
		e.s.deleteGreen(ctx, greens[i])
		if err := ctx.Err(); err != nil {
			return err
		}
		e.s.mu.Lock()
		var left error
		if r := e.s.instances[greens[i]]; r != nil {
			// The deployment stays DELETING; the next start deletes again.
			left = fmt.Errorf("green instance %s was not deleted (%s)", r.Identifier, r.Status)
		}
		e.s.mu.Unlock()
		if left != nil {
			return left
		}
	}
	s := e.s
	s.lock()
	defer s.unlock()
	if d := s.deployments[e.id]; d != nil && d.Cluster != nil {
		if c := s.clusters[d.Cluster.Green]; c != nil && len(s.membersLocked(c.ResourceID)) == 0 {
			return s.dropClusterLocked(c, "DB cluster deleted with its blue/green deployment "+e.id)
		}
	}
	return nil
}

// KeepGreen leaves green standalone. A green whose build was stopped holds
// part of blue's data: it is kept, as asked, but says so.
func (e *removeEnv) KeepGreen(ctx context.Context) error {
	s := e.s
	s.lock()
	defer s.unlock()
	for _, rid := range e.greensLocked() {
		if g := s.instances[rid]; g != nil && g.Status == StatusCreating {
			if err := s.setStatusLocked(g, StatusFailed, failure("DB instance was not finished: its blue/green deployment "+e.id+" was deleted while it was being created")); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *removeEnv) greensLocked() []string {
	d := e.s.deployments[e.id]
	if d == nil {
		return nil
	}
	var out []string
	for _, m := range d.Members {
		out = append(out, m.Green)
	}
	return out
}

func (e *removeEnv) Forget(ctx context.Context) error {
	s := e.s
	s.lock()
	defer s.unlock()
	d := s.deployments[e.id]
	if d == nil {
		return nil
	}
	now := time.Now().UTC()
	if err := s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Delete(kindDeployment, e.id); err != nil {
			return err
		}
		return tx.AddEvent(s.deploymentEvent(d, deletion("Blue/green deployment deleted at "+now.Format(time.RFC3339))))
	}); err != nil {
		return err
	}
	delete(s.deployments, e.id)
	delete(s.live, e.id)
	delete(s.unsaved, e.id)
	return nil
}

// deleteGreen deletes one green instance and waits until it is gone.
func (s *Service) deleteGreen(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.DeletionProtection, next.Status = false, StatusDeleting
		return deletion("DB instance is being deleted with its blue/green deployment")
	}); err != nil {
		// Deleting goes on: the record goes with the server at the end.
		s.log.Error("save deleting green instance", "instance", r.Identifier, "err", err)
	}
	s.unlock()
	s.finishDelete(ctx, rid)
}
