package rds

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/engine"
)

// CreateDBInstanceReadReplica creates a read replica that follows its source
// by physical streaming replication.
func (s *Service) CreateDBInstanceReadReplica(ctx context.Context, in CreateReadReplicaInput) (*DBInstance, error) {
	id := strings.ToLower(in.DBInstanceIdentifier)
	if err := validInstanceIdentifier("DBInstanceIdentifier", id); err != nil {
		return nil, err
	}
	if in.SourceDBInstanceIdentifier == "" {
		return nil, missing("SourceDBInstanceIdentifier")
	}
	if in.DBInstanceClass != "" {
		if err := validClass(in.DBInstanceClass, "postgres"); err != nil {
			return nil, err
		}
	}
	if err := validPort(in.Port); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}

	s.lock()
	defer s.unlock()
	src := s.findLocked(in.SourceDBInstanceIdentifier)
	if src == nil {
		return nil, instanceNotFound(in.SourceDBInstanceIdentifier)
	}
	if src.Status != StatusAvailable {
		return nil, invalidInstanceState(src.Identifier, src.Status, StatusAvailable)
	}
	if src.SourceResourceID != "" {
		return nil, invalidInstanceState(src.Identifier, "a read replica", "a primary: teal does not create cascading read replicas")
	}
	if src.ClusterResourceID != "" {
		return nil, invalidInstanceState(src.Identifier, "a member of a DB cluster",
			"a standalone instance: a DB cluster's readers are added with CreateDBInstance and DBClusterIdentifier")
	}
	l, err := s.layout(src)
	if err != nil {
		return nil, err
	}
	group := src.ParameterGroup
	if in.DBParameterGroupName != "" {
		if group, err = s.groupForLocked(in.DBParameterGroupName, l.Build); err != nil {
			return nil, err
		}
	}
	if s.findLocked(id) != nil {
		return nil, instanceExists(id)
	}
	class := in.DBInstanceClass
	if class == "" {
		class = src.Class
	}
	r := &instanceRecord{
		ResourceID:            newResourceID(),
		Identifier:            id,
		Engine:                src.Engine,
		EngineVersion:         src.EngineVersion,
		Class:                 class,
		AllocatedStorage:      src.AllocatedStorage,
		StorageType:           src.StorageType,
		MasterUsername:        src.MasterUsername,
		DBName:                src.DBName,
		ParameterGroup:        group,
		Status:                StatusCreating,
		DeletionProtection:    in.DeletionProtection,
		BackupRetentionPeriod: 0,
		Tags:                  in.Tags,
		CreateTime:            time.Now().UTC(),
		SourceResourceID:      src.ResourceID,
	}
	if err := s.openEndpointLocked(r, in.Port); err != nil {
		return nil, err
	}
	if err := s.saveLocked(r, creation("Read replica of "+src.Identifier+" created")); err != nil {
		s.proxy.CloseEndpoint(id)
		return nil, err
	}
	s.instances[r.ResourceID] = r
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.provisionReplica(ctx, rid) })
	return s.describeLocked(r), nil
}

// provisionReplica copies the source's data and starts the replica
// following it. Idempotent: after a crash of teal it starts over.
func (s *Service) provisionReplica(ctx context.Context, rid string) {
	params, err := s.cloneFromSource(ctx, rid)
	s.lock()
	defer s.unlock()
	r := s.instances[rid]
	if r == nil || r.Status != StatusCreating {
		return
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.log.Error("create read replica", "instance", r.Identifier, "err", err)
		s.settleStatusLocked(r, StatusFailed, failure("Read replica creation failed: "+engine.Explain(err)))
		return
	}
	s.routeLocked(r, params, readReplica("Read replica is available and replicating"))
}

// cloneFromSource copies an instance's data from the source its record
// names, and starts it following that source. It returns the parameter
// values its server runs with.
func (s *Service) cloneFromSource(ctx context.Context, rid string) (map[string]string, error) {
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return nil, fmt.Errorf("DB instance %s is gone", rid)
	}
	l, err := s.layout(r)
	rep := s.replicationLocked(r)
	params := s.effectiveParamsLocked(r)
	config := serverConfig(r, params)
	e := s.engines[r.Engine]
	name := r.Identifier
	s.unlock()
	if err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, fmt.Errorf("the source of %s is gone", name)
	}
	return params, s.cloneReplica(ctx, rid, e, l, *rep, config)
}

func (s *Service) cloneReplica(ctx context.Context, rid string, e engine.Engine, l engine.Layout, rep engine.Replication, config map[string]string) error {
	if err := s.startOver(ctx, rid, l); err != nil {
		return err
	}
	if err := e.CloneReplica(ctx, l, rep); err != nil {
		return err
	}
	first := config
	cs, copyStarts := e.(engine.CopyStarter)
	if copyStarts {
		first = maps.Clone(config)
		maps.Copy(first, cs.CopyStartSettings(l.Build))
	}
	if err := e.WriteConfig(l, first, &rep); err != nil {
		return err
	}
	if err := s.sup.Start(ctx, rid, e.Spec(l)); err != nil {
		return fmt.Errorf("start replica: %w", err)
	}
	if copyStarts {
		// Every later start is with the replica's own settings.
		if err := e.WriteConfig(l, config, &rep); err != nil {
			return err
		}
	}
	if rs, ok := e.(engine.ReplicaStarter); ok {
		if err := rs.StartReplica(ctx, l, rep); err != nil {
			return fmt.Errorf("start replication: %w", err)
		}
	}
	return nil
}

// PromoteReadReplica makes a read replica a standalone instance.
func (s *Service) PromoteReadReplica(ctx context.Context, id string) (*DBInstance, error) {
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return nil, instanceNotFound(id)
	}
	if r.ClusterResourceID != "" {
		return nil, invalidInstanceState(r.Identifier, "a reader of a DB cluster",
			"a read replica: a cluster's reader becomes its writer by FailoverDBCluster")
	}
	if r.SourceResourceID == "" {
		return nil, invalidInstanceState(r.Identifier, "not a read replica", "a read replica")
	}
	if r.Status != StatusAvailable {
		return nil, invalidInstanceState(r.Identifier, r.Status, StatusAvailable)
	}
	if err := s.notSwitchingLocked(r); err != nil {
		return nil, err
	}
	if err := s.setStatusLocked(r, StatusModifying, readReplica("Promoting read replica")); err != nil {
		return nil, err
	}
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.promote(ctx, rid) })
	return s.describeLocked(r), nil
}

// promote ends replication on a replica: the server leaves recovery, its
// configuration no longer names a source, and the source's slot is dropped.
func (s *Service) promote(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return
	}
	l, err := s.layout(r)
	rep := s.replicationLocked(r)
	e := s.engines[r.Engine]
	config := serverConfig(r, r.Applied)
	name := r.Identifier
	s.unlock()

	if err == nil {
		// Promote before the configuration drops standby.signal: the server
		// removes that file itself when it leaves recovery.
		if err = e.Promote(ctx, l); err == nil {
			if err = e.WriteConfig(l, config, nil); err == nil {
				err = e.Reload(ctx, l)
			}
		}
	}
	if err == nil && rep != nil {
		if derr := e.DropReplicationSlot(ctx, rep.Source, rep.Slot); derr != nil {
			s.log.Warn("drop replication slot", "instance", name, "err", derr)
		}
	}
	s.lock()
	defer s.unlock()
	if err != nil {
		if ctx.Err() == nil {
			s.settleStatusLocked(r, StatusFailed, failure("Read replica promotion failed: "+engine.Explain(err)))
		}
		return
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.SourceResourceID = ""
		next.BackupRetentionPeriod = max(next.BackupRetentionPeriod, 1)
		next.Status = StatusAvailable
		return readReplica("Read replica promoted to a standalone DB instance")
	}); err != nil {
		// The store still says the replica is being promoted: the next
		// start follows its source again, which it can no longer do, and
		// fails it; a reboot of the replica does not help, deleting it does.
		s.log.Error("save promoted read replica", "instance", r.Identifier, "err", err)
	}
}

// ReplicaLag measures how far a read replica is behind its source.
func (s *Service) ReplicaLag(ctx context.Context, id string) (engine.Lag, error) {
	s.mu.Lock()
	r := s.findLocked(id)
	if r == nil {
		s.mu.Unlock()
		return engine.Lag{}, instanceNotFound(id)
	}
	rep := s.replicationLocked(r)
	l, err := s.layout(r)
	e := s.engines[r.Engine]
	s.mu.Unlock()
	if rep == nil {
		return engine.Lag{}, invalidInstanceState(r.Identifier, "not a read replica", "a read replica")
	}
	if err != nil {
		return engine.Lag{}, err
	}
	return e.ReplicaLag(ctx, l, *rep)
}
