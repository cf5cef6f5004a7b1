package rds

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// Restores: a new instance from a DB snapshot, or from an instance's
// automated backups to a point in time (backups.go), and the snapshots a
// deletion or a stop takes of a running server first.

// RestoreFromSnapshotInput holds the members of
// RestoreDBInstanceFromDBSnapshot that teal uses.
type RestoreFromSnapshotInput struct {
	DBInstanceIdentifier string
	DBSnapshotIdentifier string
	RestoreOptions
}

// RestoreOptions are the members of a restore that may differ from the
// source's: each one not given is the source's, or the default.
type RestoreOptions struct {
	DBInstanceClass       string
	Engine                string
	Port                  int
	DBParameterGroupName  string
	DeletionProtection    bool
	Tags                  []Tag
	StorageType           string
	AllocatedStorage      int
	BackupRetentionPeriod *int
	// InstanceGroups are the new instance's DB subnet group, VPC security
	// groups and option group (the defaults when not given).
	InstanceGroups
	// InstanceSettings are the new instance's settings, as
	// CreateDBInstance takes them; AvailabilityZone is teal's one zone.
	InstanceSettings
	AvailabilityZone string
}

// RestoreDBInstanceFromDBSnapshot creates a new instance with a snapshot's
// data, engine version and master user, its own endpoint, and the
// snapshot's parameter group unless another is given.
func (s *Service) RestoreDBInstanceFromDBSnapshot(ctx context.Context, in RestoreFromSnapshotInput) (*DBInstance, error) {
	id := strings.ToLower(in.DBInstanceIdentifier)
	if err := validInstanceIdentifier("DBInstanceIdentifier", id); err != nil {
		return nil, err
	}
	if in.DBSnapshotIdentifier == "" {
		return nil, missing("DBSnapshotIdentifier")
	}
	if err := validPort(in.Port); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	sn, err := s.findSnapshotLocked("DBSnapshotIdentifier", in.DBSnapshotIdentifier)
	if err != nil {
		return nil, err
	}
	if sn.Status != SnapshotAvailable {
		return nil, invalidSnapshotState("DB snapshot %s is %s; an instance is restored from an available snapshot.", sn.Identifier, sn.Status)
	}
	r, err := s.restoredInstanceLocked(id, restoreSource{engine: sn.Engine, version: sn.EngineVersion, class: sn.Class,
		storage: sn.AllocatedStorage, storageType: sn.StorageType, iops: sn.Iops, throughput: sn.StorageThroughput,
		retention: sn.BackupRetentionPeriod, group: sn.ParameterGroup},
		in.RestoreOptions)
	if err != nil {
		return nil, err
	}
	r.MasterUsername, r.MasterVerifier, r.DBName = sn.MasterUsername, sn.MasterVerifier, sn.DBName
	r.RestoreSnapshot = sn.Identifier
	if err := s.openEndpointLocked(r, in.Port); err != nil {
		return nil, err
	}
	if err := s.saveLocked(r, creation("Restoring DB instance from DB snapshot "+sn.Identifier)); err != nil {
		s.proxy.CloseEndpoint(id)
		return nil, err
	}
	s.instances[r.ResourceID] = r
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.provisionFromSnapshot(ctx, rid) })
	return s.describeLocked(r), nil
}

// restoreSource is what a restore's data came from: a snapshot, or an
// instance's automated backups.
type restoreSource struct {
	engine, version, class, storageType, group string
	storage, iops, throughput, retention       int
}

// restoredInstanceLocked is the record of a new instance id restored from
// src's data: the options given, src's class, storage, backup retention
// and parameter group otherwise (the default group when src's no longer
// fits).
func (s *Service) restoredInstanceLocked(id string, src restoreSource, o RestoreOptions) (*instanceRecord, error) {
	engineName, version, retention := src.engine, src.version, src.retention
	if err := checkFixedSettings(&o.InstanceSettings, engineName); err != nil {
		return nil, err
	}
	if zone := s.cfg.Region + "a"; o.AvailabilityZone != "" && o.AvailabilityZone != zone {
		return nil, invalidValue("Invalid Availability Zone %s: teal's region %s has one, %s.", o.AvailabilityZone, s.cfg.Region, zone)
	}
	if o.Engine != "" && o.Engine != engineName {
		return nil, invalidCombination("The engine of the restored DB instance (%s) must be the source's (%s).", o.Engine, engineName)
	}
	e := s.engines[engineName]
	if e == nil {
		return nil, invalidRestore("Engine %s is not available here.", engineName)
	}
	b, err := engine.Resolve(e.Builds(), version)
	if err != nil || b.Version != version {
		return nil, invalidRestore("%s %s, the version of the source's data, is not installed.", engineName, version)
	}
	if o.DBInstanceClass == "" {
		o.DBInstanceClass = src.class
	}
	if err := validClass(o.DBInstanceClass, engineName); err != nil {
		return nil, err
	}
	if o.AllocatedStorage == 0 {
		o.AllocatedStorage = src.storage
	}
	if err := validStorage(o.AllocatedStorage); err != nil {
		return nil, err
	}
	if o.AllocatedStorage < src.storage {
		return nil, invalidValue("AllocatedStorage %d is less than the source's %d GiB.", o.AllocatedStorage, src.storage)
	}
	if o.StorageType == "" {
		o.StorageType = src.storageType
	}
	if err := validStorageType(o.StorageType); err != nil {
		return nil, err
	}
	// The source's provisioned IOPS and throughput go on while its
	// storage type does.
	settings, err := settleSettings(instanceSettings{Iops: src.iops, StorageThroughput: src.throughput}, &o.InstanceSettings,
		storagePlan{typ: o.StorageType, gib: o.AllocatedStorage, changed: true, typeChanged: o.StorageType != src.storageType})
	if err != nil {
		return nil, err
	}
	if o.BackupRetentionPeriod != nil {
		retention = *o.BackupRetentionPeriod
	}
	if err := validBackupRetention(retention); err != nil {
		return nil, err
	}
	if o.DBParameterGroupName == "" && src.group != "" {
		if g := s.groups[src.group]; g != nil && g.Family == b.Family() {
			o.DBParameterGroupName = src.group
		}
	}
	groupName, err := s.groupForLocked(o.DBParameterGroupName, b)
	if err != nil {
		return nil, err
	}
	if s.findLocked(id) != nil {
		return nil, instanceExists(id)
	}
	r := &instanceRecord{
		ResourceID:            newResourceID(),
		Identifier:            id,
		Engine:                engineName,
		EngineVersion:         b.Version,
		Class:                 o.DBInstanceClass,
		AllocatedStorage:      o.AllocatedStorage,
		StorageType:           o.StorageType,
		ParameterGroup:        groupName,
		Status:                StatusCreating,
		DeletionProtection:    o.DeletionProtection,
		BackupRetentionPeriod: retention,
		Tags:                  o.Tags,
		CreateTime:            time.Now().UTC(),
		instanceSettings:      settings,
	}
	if err := s.setGroupsLocked(r, o.InstanceGroups); err != nil {
		return nil, err
	}
	return r, nil
}

// provisionFromSnapshot creates a restored instance's server from its
// snapshot. Idempotent: after a restart of teal it starts over.
func (s *Service) provisionFromSnapshot(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return
	}
	sn := s.snapshots[r.RestoreSnapshot]
	l, err := s.layout(r)
	params := s.effectiveParamsLocked(r)
	config := serverConfig(r, params)
	e := s.engines[r.Engine]
	snapper, _ := e.(engine.Snapshotter)
	var dir string
	switch {
	case sn == nil:
		err = fmt.Errorf("DB snapshot %s no longer exists", r.RestoreSnapshot)
	case snapper == nil:
		err = fmt.Errorf("engine %s does not restore DB snapshots", r.Engine)
	default:
		dir = s.snapshotPath(sn)
	}
	// A point-in-time restore replays archived changes over the snapshot.
	var archiver engine.Archiver
	var archive string
	var since, target time.Time
	if !r.RestoreTarget.IsZero() {
		archiver, _ = e.(engine.Archiver)
		archive, target = s.archivePath(r.RestoreArchive), r.RestoreTarget
		if sn != nil {
			since = sn.CreateTime
		}
		if archiver == nil && err == nil {
			err = fmt.Errorf("engine %s does not restore to a point in time", r.Engine)
		}
	}
	// Progress is the share of the snapshot's bytes in the new data
	// directory; a point-in-time restore then replays its changes.
	work := &snapshotWork{}
	s.restoreWork[rid] = work
	s.unlock()
	defer func() {
		s.mu.Lock()
		delete(s.restoreWork, rid)
		s.mu.Unlock()
	}()

	if err == nil {
		err = s.startOver(ctx, rid, l)
	}
	if err == nil {
		work.total.Store(engine.DirSize(dir))
		stop := make(chan struct{})
		defer close(stop)
		go engine.CountBytes(l.DataDir, &work.copied, stop)
	}
	if err == nil && archiver != nil {
		run := func(ctx context.Context, spec supervisor.Spec, while func(context.Context) error) error {
			return s.sup.RunWhile(ctx, rid, spec, while)
		}
		err = archiver.RestoreToTime(ctx, l, dir, archive, since, target, run)
	} else if err == nil {
		err = snapper.Restore(ctx, l, dir)
	}
	if err == nil {
		err = e.WriteConfig(l, config, nil)
	}
	if err == nil {
		if err = s.sup.Start(ctx, rid, e.Spec(l)); err != nil {
			err = fmt.Errorf("start server: %w", err)
		}
	}
	s.lock()
	defer s.unlock()
	if r.Status != StatusCreating {
		return
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.log.Error("restore DB instance", "instance", r.Identifier, "err", err)
		s.settleStatusLocked(r, StatusFailed, failure("DB instance restore failed: "+engine.Explain(err)))
		return
	}
	ev := creation("DB instance restored from DB snapshot " + r.RestoreSnapshot)
	if !r.RestoreTarget.IsZero() {
		ev = creation("DB instance restored to " + r.RestoreTarget.UTC().Format(time.RFC3339Nano))
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.RestoreSnapshot, next.RestoreArchive, next.RestoreTarget = "", "", time.Time{}
		return note{}
	}); err != nil {
		s.log.Error("save restored DB instance", "instance", r.Identifier, "err", err)
		return
	}
	s.routeLocked(r, params, ev)
}

// ensureServer starts an instance's server if it is not running, without
// routing its endpoint: what a deletion that takes a final snapshot needs
// after a restart of teal.
func (s *Service) ensureServer(ctx context.Context, rid string) error {
	if s.sup.Running(rid) {
		return nil
	}
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return fmt.Errorf("DB instance %s no longer exists", rid)
	}
	l, err := s.layout(r)
	e := s.engines[r.Engine]
	rep := s.replicationLocked(r)
	config := serverConfig(r, r.Applied)
	s.unlock()
	if err != nil {
		return err
	}
	if err := adoptFiles(l, filepath.Join(s.instancesDir, rid)); err != nil {
		return err
	}
	if err := e.WriteConfig(l, config, rep); err != nil {
		return err
	}
	return s.sup.Start(ctx, rid, e.Spec(l))
}

// takeFinalSnapshot takes the final snapshot of an instance being
// deleted, if it asked for one, and says whether the deletion goes on.
// When the snapshot fails, the instance is not deleted: it is available
// again, and the event says why.
func (s *Service) takeFinalSnapshot(ctx context.Context, rid string) bool {
	s.lock()
	r := s.instances[rid]
	if r == nil || r.FinalSnapshot == "" {
		s.unlock()
		return r != nil
	}
	id := r.FinalSnapshot
	s.unlock()
	err := s.ensureServer(ctx, rid)
	if err == nil && !s.takeSnapshot(ctx, id) {
		err = errors.New("the final DB snapshot " + id + " failed")
	}
	if ctx.Err() != nil {
		return false // teal is stopping; the next start deletes it again
	}
	if err == nil {
		return true
	}
	s.lock()
	defer s.unlock()
	if r.Status != StatusDeleting {
		return false
	}
	if uerr := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.FinalSnapshot = ""
		return note{}
	}); uerr != nil {
		s.log.Error("save DB instance", "instance", r.Identifier, "err", uerr)
		return false
	}
	s.routeLocked(r, nil, failure("DB instance was not deleted: "+engine.Explain(err)))
	return false
}
