package rds

import (
	"context"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// Stopped instances keep their data and their endpoint, whose port stays
// theirs; the server does not run, so the endpoint refuses connections
// until StartDBInstance. A stopped instance stays stopped through restarts
// of teal. RDS starts an instance stopped for seven days by itself; teal
// leaves it stopped until it is started.

// Instance statuses of a stop and a start.
const (
	StatusStopping = "stopping"
	StatusStopped  = "stopped"
)

// StopDBInstance stops an instance's server. As in RDS, a read replica, an
// instance with read replicas, a member of a DB cluster and an instance
// in a blue/green deployment cannot be stopped.
func (s *Service) StopDBInstance(ctx context.Context, id, snapshot string) (*DBInstance, error) {
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return nil, instanceNotFound(id)
	}
	if c := s.clusters[r.ClusterResourceID]; c != nil {
		return nil, invalidClusterState("DB instance %s is a member of DB cluster %s; the instances of a DB cluster cannot be stopped one by one.",
			r.Identifier, c.Identifier)
	}
	if r.Status != StatusAvailable {
		return nil, invalidInstanceState(r.Identifier, r.Status, StatusAvailable)
	}
	if r.SourceResourceID != "" {
		return nil, invalidInstanceState(r.Identifier, "a read replica", "a primary: a read replica cannot be stopped")
	}
	if reps := s.replicasLocked(r.ResourceID); len(reps) > 0 {
		return nil, invalidInstanceState(r.Identifier, "the source of read replica "+reps[0].Identifier, "without read replicas to be stopped")
	}
	if d, _ := s.memberOfLocked(r.ResourceID); d != nil {
		return nil, invalidInstanceState(r.Identifier, "part of blue/green deployment "+d.ID, "in no blue/green deployment to be stopped")
	}
	var sn *snapshotRecord
	if snapshot != "" {
		id, err := userSnapshotName("DBSnapshotIdentifier", snapshot)
		if err != nil {
			return nil, err
		}
		if s.snapshots[id] != nil {
			return nil, snapshotExists(id)
		}
		if err := s.snapshotsInstanceLocked(r); err != nil {
			return nil, err
		}
		sn = s.snapshotOfLocked(r, id, SnapshotManual, nil)
	}
	next := r.clone()
	next.Status = StatusStopping
	if sn != nil {
		next.StopSnapshot = sn.Identifier
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Put(store.KindInstance, next.ResourceID, &next); err != nil {
			return err
		}
		if sn != nil {
			if err := s.putSnapshot(tx, sn, creation("Creating a DB snapshot of "+r.Identifier+" before it stops")); err != nil {
				return err
			}
		}
		return tx.AddEvent(s.instanceEvent(&next, notification("DB instance is being stopped")))
	}); err != nil {
		return nil, err
	}
	*r = next
	if sn != nil {
		s.snapshots[sn.Identifier] = sn
	}
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.stop(ctx, rid) })
	return s.describeLocked(r), nil
}

// stop stops a stopping instance's server. Idempotent: after a restart of
// teal it finishes what it started.
func (s *Service) stop(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	if r == nil || r.Status != StatusStopping {
		s.unlock()
		return
	}
	snapshot := r.StopSnapshot
	s.unlock()
	// The snapshot comes first, while the server runs; whether or not it
	// succeeds (its own status and event say), the instance then stops.
	if snapshot != "" {
		if err := s.ensureServer(ctx, rid); err != nil {
			s.log.Error("start DB instance for its snapshot", "instance", rid, "err", err)
		}
		s.takeSnapshot(ctx, snapshot)
		if ctx.Err() != nil {
			return
		}
	}
	s.lock()
	if r.Status != StatusStopping {
		s.unlock()
		return
	}
	s.unrouteLocked(r)
	s.unlock()
	err := s.sup.Stop(ctx, rid)
	s.lock()
	defer s.unlock()
	if r.Status != StatusStopping {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.settleStatusLocked(r, StatusFailed, failure("DB instance could not be stopped: "+engine.Explain(err)))
		}
		return
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.Status, next.StopSnapshot = StatusStopped, ""
		return notification("DB instance stopped")
	}); err != nil {
		s.log.Error("save stopped DB instance", "instance", r.Identifier, "err", err)
	}
}

// StartDBInstance starts a stopped instance's server.
func (s *Service) StartDBInstance(ctx context.Context, id string) (*DBInstance, error) {
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return nil, instanceNotFound(id)
	}
	if r.Status != StatusStopped {
		return nil, invalidInstanceState(r.Identifier, r.Status, StatusStopped)
	}
	if err := s.setStatusLocked(r, StatusStarting, notification("DB instance is being started")); err != nil {
		return nil, err
	}
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.startServer(ctx, rid, notification("DB instance started")) })
	return s.describeLocked(r), nil
}
