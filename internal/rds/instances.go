package rds

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// CreateDBInstance validates the request, records the instance as creating
// and provisions its server in the background. Nothing is created when the
// request is refused.
func (s *Service) CreateDBInstance(ctx context.Context, in CreateDBInstanceInput) (*DBInstance, error) {
	if err := checkFixedSettings(&in.InstanceSettings, in.Engine); err != nil {
		return nil, err
	}
	if zone := s.cfg.Region + "a"; in.AvailabilityZone != "" && in.AvailabilityZone != zone {
		return nil, invalidValue("Invalid Availability Zone %s: teal's region %s has one, %s.", in.AvailabilityZone, s.cfg.Region, zone)
	}
	if in.DBClusterIdentifier != "" {
		if in.InstanceGroups.given() {
			s.mu.Lock()
			err := s.checkClusterMemberGroupsLocked(in.InstanceGroups, in.Engine)
			s.mu.Unlock()
			if err != nil {
				return nil, err
			}
		}
		if err := clusterMemberSettings(&in.InstanceSettings, in.StorageType, in.AllocatedStorage); err != nil {
			return nil, err
		}
		settings, err := settleSettings(instanceSettings{}, &in.InstanceSettings, storagePlan{typ: "aurora", gib: 1})
		if err != nil {
			return nil, err
		}
		return s.createClusterInstance(ctx, in, settings)
	}
	if in.Engine == auroraPostgres || in.Engine == auroraMySQL {
		return nil, invalidCombination("An instance of engine %s is a member of a DB cluster: give DBClusterIdentifier (create the cluster with CreateDBCluster first).", in.Engine)
	}
	id := strings.ToLower(in.DBInstanceIdentifier)
	if err := validInstanceIdentifier("DBInstanceIdentifier", id); err != nil {
		return nil, err
	}
	if in.Engine == "" {
		return nil, missing("Engine")
	}
	e := s.engines[in.Engine]
	if e == nil {
		return nil, invalidValue("Invalid DB engine: %s", in.Engine)
	}
	b, err := engine.Resolve(e.Builds(), in.EngineVersion)
	if err != nil {
		return nil, invalidCombination("Cannot find version %s for %s", in.EngineVersion, in.Engine)
	}
	if err := validClass(in.DBInstanceClass, in.Engine); err != nil {
		return nil, err
	}
	if err := validMasterUsername(in.MasterUsername); err != nil {
		return nil, err
	}
	if err := validMasterPassword(in.MasterUserPassword); err != nil {
		return nil, err
	}
	verifier, err := e.PasswordVerifier(in.MasterUserPassword)
	if err != nil {
		return nil, err
	}
	if err := validDBName(in.DBName); err != nil {
		return nil, err
	}
	if in.AllocatedStorage == 0 {
		in.AllocatedStorage = 20
	}
	if err := validStorage(in.AllocatedStorage); err != nil {
		return nil, err
	}
	if in.StorageType == "" {
		in.StorageType = "gp3"
		if in.Iops != nil {
			in.StorageType = "io1"
		}
	}
	if err := validStorageType(in.StorageType); err != nil {
		return nil, err
	}
	settings, err := settleSettings(instanceSettings{}, &in.InstanceSettings,
		storagePlan{typ: in.StorageType, gib: in.AllocatedStorage, changed: true, typeChanged: true})
	if err != nil {
		return nil, err
	}
	retention := 1
	if in.BackupRetentionPeriod != nil {
		retention = *in.BackupRetentionPeriod
	}
	if err := validBackupRetention(retention); err != nil {
		return nil, err
	}
	if err := validPort(in.Port); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}

	s.lock()
	defer s.unlock()
	groupName, err := s.groupForLocked(in.DBParameterGroupName, b)
	if err != nil {
		return nil, err
	}
	if s.findLocked(id) != nil {
		return nil, instanceExists(id)
	}
	r := &instanceRecord{
		ResourceID:            newResourceID(),
		Identifier:            id,
		Engine:                in.Engine,
		EngineVersion:         b.Version,
		Class:                 in.DBInstanceClass,
		AllocatedStorage:      in.AllocatedStorage,
		StorageType:           in.StorageType,
		MasterUsername:        in.MasterUsername,
		MasterVerifier:        verifier,
		DBName:                in.DBName,
		ParameterGroup:        groupName,
		Status:                StatusCreating,
		DeletionProtection:    in.DeletionProtection,
		BackupRetentionPeriod: retention,
		Tags:                  in.Tags,
		CreateTime:            time.Now().UTC(),
		instanceSettings:      settings,
	}
	if err := s.setGroupsLocked(r, in.InstanceGroups); err != nil {
		return nil, err
	}
	if err := s.openEndpointLocked(r, in.Port); err != nil {
		return nil, err
	}
	if err := s.saveLocked(r, creation("DB instance created")); err != nil {
		s.proxy.CloseEndpoint(id)
		return nil, err
	}
	s.instances[r.ResourceID] = r
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.provision(ctx, rid) })
	return s.describeLocked(r), nil
}

// openEndpointLocked opens the endpoint of a new identifier and picks the
// server's own port.
func (s *Service) openEndpointLocked(r *instanceRecord, port int) error {
	p, err := s.openEndpoint(r.Identifier, port, r.Engine)
	if err != nil {
		return invalidValue("Cannot listen on port %d for the endpoint of %s: %v", port, r.Identifier, err)
	}
	r.Port = p
	if r.ServerPort, err = s.freeServerPortLocked(); err != nil {
		s.proxy.CloseEndpoint(r.Identifier)
		return err
	}
	return nil
}

// groupForLocked resolves the parameter group of a new instance of build b.
func (s *Service) groupForLocked(name string, b engine.Build) (string, error) {
	return s.groupOfKindLocked(dbGroupKind, name, b)
}

// groupOfKindLocked resolves a group of kind k for a new instance or
// cluster of build b: the default group of b's family when name is "".
func (s *Service) groupOfKindLocked(k groupKind, name string, b engine.Build) (string, error) {
	if name == "" {
		return "default." + b.Family(), nil
	}
	name = strings.ToLower(name)
	g := s.groupsOf(k)[name]
	switch {
	case g == nil && k.cluster:
		return "", fault("DBClusterParameterGroupNotFound", http.StatusNotFound, "DBClusterParameterGroup not found: %s", name)
	case g == nil:
		return "", groupNotFound(name)
	case g.Family != b.Family() && k.cluster:
		return "", invalidCombination("The DB cluster parameter group %s with family %s can't be used for this DB cluster. "+
			"Use a DB cluster parameter group with family %s.", name, g.Family, b.Family())
	case g.Family != b.Family():
		return "", invalidCombination("The parameter group %s with DBParameterGroupFamily %s can't be used for this instance. "+
			"Use a parameter group with DBParameterGroupFamily %s.", name, g.Family, b.Family())
	}
	return name, nil
}

// provision creates a new server: initdb, configuration, first start, the
// master user. It is idempotent: after a crash of teal it starts over.
func (s *Service) provision(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return
	}
	l, err := s.layout(r)
	params := s.effectiveParamsLocked(r)
	config := serverConfig(r, params)
	master := engine.Master{Username: r.MasterUsername, Verifier: r.MasterVerifier, DBName: r.DBName}
	e := s.engines[r.Engine]
	s.unlock()

	if err == nil {
		err = s.initServer(ctx, rid, e, l, config, &master)
	}
	s.lock()
	defer s.unlock()
	if r.Status != StatusCreating {
		return // deleted meanwhile
	}
	if err != nil {
		if ctx.Err() != nil {
			return // teal is stopping; the next start provisions again
		}
		s.log.Error("create DB instance", "instance", r.Identifier, "err", err)
		s.settleStatusLocked(r, StatusFailed, failure("DB instance creation failed: "+engine.Explain(err)))
		return
	}
	s.routeLocked(r, params, creation("DB instance is available"))
}

// startOver stops whatever server an interrupted attempt left and empties
// the instance's directories, so that creating it can run again from the
// start.
func (s *Service) startOver(ctx context.Context, rid string, l engine.Layout) error {
	if err := s.sup.Stop(ctx, rid); err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(l.DataDir), l.SocketDir} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove partial instance: %w", err)
		}
		if err := mkdirFor(d, l); err != nil {
			return err
		}
	}
	return chmodInstanceDirs(filepath.Dir(l.DataDir), l.SocketDir)
}

func (s *Service) initServer(ctx context.Context, rid string, e engine.Engine, l engine.Layout, config map[string]string, m *engine.Master) error {
	if err := s.startOver(ctx, rid, l); err != nil {
		return err
	}
	if err := e.Init(ctx, l); err != nil {
		return err
	}
	if err := e.WriteConfig(l, config, nil); err != nil {
		return err
	}
	if err := s.sup.Start(ctx, rid, e.Spec(l)); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if m == nil {
		return nil
	}
	return e.Bootstrap(ctx, l, *m)
}

// startServer starts the server of an existing instance (at teal's start,
// or a stopped one), with ev as its event once it is available.
func (s *Service) startServer(ctx context.Context, rid string, ev note) {
	s.lock()
	r := s.instances[rid]
	if r == nil {
		s.unlock()
		return
	}
	l, err := s.layout(r)
	e := s.engines[r.Engine]
	rep := s.replicationLocked(r)
	applied := r.Applied
	s.unlock()
	if err == nil {
		err = adoptFiles(l, filepath.Join(s.instancesDir, rid))
	}
	if err == nil {
		if err = e.WriteConfig(l, serverConfig(r, applied), rep); err == nil {
			err = s.sup.Start(ctx, r.ResourceID, e.Spec(l))
		}
	}
	s.lock()
	defer s.unlock()
	if r.Status != StatusStarting {
		return
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.settleStatusLocked(r, StatusFailed, failure("DB instance failed to start: "+engine.Explain(err)))
		return
	}
	if !s.routeLocked(r, nil, ev) {
		return
	}
}

// replicationLocked says how a replica follows its source (nil for a primary).
func (s *Service) replicationLocked(r *instanceRecord) *engine.Replication {
	if r.SourceResourceID == "" {
		return nil
	}
	src := s.instances[r.SourceResourceID]
	if src == nil {
		return nil
	}
	sl, err := s.layout(src)
	if err != nil {
		return nil
	}
	return &engine.Replication{Source: sl, Slot: slotName(r.ResourceID)}
}

// mkdirFor creates dir for the server's user. Missing parents (such as the
// /tmp directory of socket directories) are made traversable, not listable,
// so that user can reach dir.
func mkdirFor(dir string, l engine.Layout) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if l.Credential != nil {
		if err := os.Chown(dir, int(l.Credential.Uid), int(l.Credential.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	return nil
}

// DescribeDBInstances lists instances: one by identifier or ARN, or those
// matching the filters, a page at a time. It returns the next marker.
func (s *Service) DescribeDBInstances(ctx context.Context, id string, filters []Filter, page Page) ([]DBInstance, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	match, err := instanceFilter(filters)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" {
		r := s.findLocked(id)
		if r == nil || !match(r, s.instanceArn(r.Identifier)) {
			return nil, "", instanceNotFound(id)
		}
		return []DBInstance{*s.describeLocked(r)}, "", nil
	}
	var out []DBInstance
	for _, r := range s.sortedLocked() {
		if r.Identifier <= after || !match(r, s.instanceArn(r.Identifier)) {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DBInstanceIdentifier), nil
		}
		out = append(out, *s.describeLocked(r))
	}
	return out, "", nil
}

func maxRecords(n int) (int, error) {
	if n == 0 {
		return 100, nil
	}
	if n < 20 || n > 100 {
		return 0, invalidValue("Invalid value for MaxRecords: %d. It must be from 20 to 100.", n)
	}
	return n, nil
}

func encodeMarker(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return "", invalidValue("Invalid Marker: %s", m)
	}
	return string(b), nil
}

// instanceFilter compiles DescribeDBInstances filters.
func instanceFilter(filters []Filter) (func(*instanceRecord, string) bool, error) {
	return recordFilter(filters, map[string]func(*instanceRecord, string) []string{
		"db-instance-id":  func(r *instanceRecord, arn string) []string { return []string{r.Identifier, arn} },
		"dbi-resource-id": func(r *instanceRecord, _ string) []string { return []string{r.ResourceID} },
		"engine":          func(r *instanceRecord, _ string) []string { return []string{r.Engine} },
	})
}

// recordFilter compiles the filters of a DescribeX over records of type
// R. fields reads, for each filter name it supports, a record's values
// (given the record's ARN too); a record matches when every filter has
// one of its values.
func recordFilter[R any](filters []Filter, fields map[string]func(R, string) []string) (func(R, string) bool, error) {
	var checks []func(R, string) bool
	for _, f := range filters {
		if len(f.Values) == 0 {
			return nil, invalidValue("The filter %s needs at least one value.", f.Name)
		}
		read, ok := fields[f.Name]
		if !ok {
			return nil, invalidValue("Unrecognized filter name: %s. Supported filters: %s.", f.Name,
				strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
		}
		values := map[string]bool{}
		for _, v := range f.Values {
			values[v] = true
		}
		checks = append(checks, func(r R, arn string) bool {
			return slices.ContainsFunc(read(r, arn), func(v string) bool { return values[v] })
		})
	}
	return func(r R, arn string) bool {
		for _, c := range checks {
			if !c(r, arn) {
				return false
			}
		}
		return true
	}, nil
}

func (s *Service) describeLocked(r *instanceRecord) *DBInstance {
	apply := "in-sync"
	if r.PendingReboot {
		apply = "pending-reboot"
	}
	d := &DBInstance{
		DBInstanceIdentifier:  r.Identifier,
		DbiResourceId:         r.ResourceID,
		DBInstanceArn:         s.instanceArn(r.Identifier),
		DBInstanceClass:       r.Class,
		Engine:                r.Engine,
		EngineVersion:         r.EngineVersion,
		DBInstanceStatus:      r.Status,
		MasterUsername:        r.MasterUsername,
		DBName:                r.DBName,
		Endpoint:              &Endpoint{Address: s.endpointHostname(), Port: r.Port},
		AllocatedStorage:      r.AllocatedStorage,
		StorageType:           r.StorageType,
		InstanceCreateTime:    r.CreateTime,
		BackupRetentionPeriod: r.BackupRetentionPeriod,
		DBParameterGroups:     []ParameterGroupStatus{{DBParameterGroupName: r.ParameterGroup, ParameterApplyStatus: apply}},
		DeletionProtection:    r.DeletionProtection,
		TagList:               append([]Tag{}, r.Tags...),
		DbInstancePort:        r.Port, // the endpoint's, as RDS reports the port the instance is reached on
	}
	if b := s.backups[r.ResourceID]; b != nil && s.archivesLocked(r) {
		d.LatestRestorableTime = s.latestLocked(b)
	}
	if w := s.restoreWork[r.ResourceID]; w != nil && r.Status == StatusCreating {
		if p := w.percent(); p >= 0 {
			d.PercentProgress = strconv.Itoa(p)
		}
	}
	if c := s.clusters[r.ClusterResourceID]; c != nil {
		// A cluster's readers follow its writer, as Aurora's replicas
		// share its storage: they are members, not read replicas.
		d.DBClusterIdentifier = c.Identifier
	} else if r.SourceResourceID != "" {
		if src := s.instances[r.SourceResourceID]; src != nil {
			d.ReadReplicaSourceDBInstanceIdentifier = src.Identifier
		}
		info := StatusInfo{StatusType: "read replication", Normal: true, Status: "replicating"}
		if r.Status != StatusAvailable {
			info.Normal, info.Status = false, "error"
			info.Message = "The replica's server is " + r.Status
		}
		d.StatusInfos = []StatusInfo{info}
	}
	for _, rep := range s.replicasLocked(r.ResourceID) {
		if rep.ClusterResourceID == "" {
			d.ReadReplicaDBInstanceIdentifiers = append(d.ReadReplicaDBInstanceIdentifiers, rep.Identifier)
		}
	}
	s.describeGroupsLocked(r, d)
	s.describeSettingsLocked(r, d)
	return d
}

// ModifyDBInstance renames an instance, changes its parameter group,
// deletion protection, backup retention, class, storage, master password,
// groups or settings.
func (s *Service) ModifyDBInstance(ctx context.Context, in ModifyDBInstanceInput) (*DBInstance, error) {
	if in.DBInstanceIdentifier == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	newID := strings.ToLower(in.NewDBInstanceIdentifier)
	if newID != "" {
		if err := validInstanceIdentifier("NewDBInstanceIdentifier", newID); err != nil {
			return nil, err
		}
	}
	if in.BackupRetentionPeriod != nil {
		if err := validBackupRetention(*in.BackupRetentionPeriod); err != nil {
			return nil, err
		}
	}
	if in.MasterUserPassword != "" {
		if err := validMasterPassword(in.MasterUserPassword); err != nil {
			return nil, err
		}
	}
	if in.AllocatedStorage != 0 {
		if err := validStorage(in.AllocatedStorage); err != nil {
			return nil, err
		}
	}
	if in.StorageType != "" {
		if err := validStorageType(in.StorageType); err != nil {
			return nil, err
		}
	}

	s.lock()
	defer s.unlock()
	r := s.findLocked(in.DBInstanceIdentifier)
	if r == nil {
		return nil, instanceNotFound(in.DBInstanceIdentifier)
	}
	if err := checkFixedSettings(&in.InstanceSettings, r.Engine); err != nil {
		return nil, err
	}
	if r.Status != StatusAvailable {
		return nil, invalidInstanceState(r.Identifier, r.Status, StatusAvailable)
	}
	if err := s.notSwitchingLocked(r); err != nil {
		return nil, err
	}
	if r.ClusterResourceID != "" && (in.MasterUserPassword != "" || in.BackupRetentionPeriod != nil) {
		return nil, invalidCombination("The requested DB Instance is a member of a DB Cluster. Set the master password and the backup retention period for the DB Cluster (ModifyDBCluster).")
	}
	if r.ClusterResourceID != "" && (in.DBSubnetGroupName != "" || in.VpcSecurityGroupIds != nil || in.DBSecurityGroups != nil) {
		return nil, invalidCombination("The requested DB Instance is a member of a DB Cluster. Its DB subnet group and security groups are the DB cluster's.")
	}
	if r.ClusterResourceID != "" {
		if err := clusterMemberSettings(&in.InstanceSettings, in.StorageType, 0); err != nil {
			return nil, err
		}
	}
	groups, err := s.checkGroupsLocked(in.InstanceGroups, r.Engine, majorOfInstance(r))
	if err != nil {
		return nil, err
	}
	if in.DBInstanceClass != "" {
		if err := validClass(in.DBInstanceClass, r.Engine); err != nil {
			return nil, err
		}
	}
	if in.AllocatedStorage != 0 && in.AllocatedStorage < r.AllocatedStorage {
		return nil, invalidValue("Invalid storage size: it cannot be reduced from %d to %d GiB.", r.AllocatedStorage, in.AllocatedStorage)
	}
	group := ""
	if in.DBParameterGroupName != "" {
		l, err := s.layout(r)
		if err != nil {
			return nil, err
		}
		if group, err = s.groupForLocked(in.DBParameterGroupName, l.Build); err != nil {
			return nil, err
		}
	}
	if newID != "" && newID != r.Identifier && s.findLocked(newID) != nil {
		return nil, instanceExists(newID)
	}
	if in.MasterUserPassword != "" && r.SourceResourceID != "" {
		return nil, invalidCombination("The master password of a read replica cannot be changed; change it on the source.")
	}
	storage := storagePlan{typ: cmp.Or(in.StorageType, r.StorageType), gib: cmp.Or(in.AllocatedStorage, r.AllocatedStorage)}
	storage.typeChanged = storage.typ != r.StorageType
	storage.changed = storage.typeChanged || storage.gib != r.AllocatedStorage
	settings, err := settleSettings(r.instanceSettings, &in.InstanceSettings, storage)
	if err != nil {
		return nil, err
	}

	// Everything is valid: apply to a copy, save it, then publish it.
	next := r.clone()
	if in.MasterUserPassword != "" {
		if err := s.setMasterPasswordLocked(ctx, &next, in.MasterUserPassword); err != nil {
			return nil, err
		}
	}
	var events []string
	if group != "" && group != r.ParameterGroup {
		next.ParameterGroup = group
		next.PendingReboot = true
		events = append(events, "Parameter group changed to "+group+"; it applies at the next reboot")
	}
	if in.DeletionProtection != nil {
		next.DeletionProtection = *in.DeletionProtection
	}
	if in.BackupRetentionPeriod != nil {
		next.BackupRetentionPeriod = *in.BackupRetentionPeriod
	}
	if in.DBInstanceClass != "" {
		next.Class = in.DBInstanceClass
	}
	next.AllocatedStorage, next.StorageType = storage.gib, storage.typ
	next.instanceSettings = settings
	groups.applyTo(&next)
	old := r.Identifier
	renamed := newID != "" && newID != r.Identifier
	if renamed {
		// The new name's endpoint routes to the same server from the
		// moment it opens; the old name's closes once the rename is saved.
		port, err := s.openEndpoint(newID, 0, r.Engine)
		if err != nil {
			return nil, fmt.Errorf("open endpoint of %s: %w", newID, err)
		}
		if err := s.proxy.SetTarget(newID, s.proxy.Target(old)); err != nil {
			s.proxy.CloseEndpoint(newID)
			return nil, err
		}
		next.Identifier, next.Port = newID, port
		events = append(events, fmt.Sprintf("Renamed instance from %s to %s", old, newID))
	}
	msg := strings.Join(events, "; ")
	if msg == "" {
		msg = "DB instance modified"
	}
	if err := s.saveLocked(&next, configuration(msg)); err != nil {
		if renamed {
			s.proxy.CloseEndpoint(newID)
		}
		return nil, err
	}
	archived := s.archivesLocked(r)
	*r = next
	if renamed {
		s.proxy.CloseEndpoint(old)
	}
	// Turning automated backups on or off changes what the server does
	// with its finished WAL; turning them off deletes them, as in RDS.
	if archives := s.archivesLocked(r); archives != archived {
		if !archives {
			if err := s.dropBackupsLocked(ctx, r.ResourceID, "Automated snapshot deleted: backups were turned off"); err != nil {
				s.log.Error("delete automated backups", "instance", r.Identifier, "err", err)
			}
		}
		rid, e := r.ResourceID, s.engines[r.Engine]
		s.goWork(func(ctx context.Context) { s.reloadConfig(ctx, e, rid) })
	}
	return s.describeLocked(r), nil
}

func (s *Service) portOf(id string) int {
	p, _ := s.proxy.Port(id)
	return p
}

// setMasterPasswordLocked sets the password on the server by its verifier
// and keeps the verifier, never the password. The caller saves r.
func (s *Service) setMasterPasswordLocked(ctx context.Context, r *instanceRecord, password string) error {
	l, err := s.layout(r)
	if err != nil {
		return err
	}
	e := s.engines[r.Engine]
	v, err := e.PasswordVerifier(password)
	if err != nil {
		return err
	}
	if err := e.SetPassword(ctx, l, r.MasterUsername, v); err != nil {
		return err
	}
	r.MasterVerifier = v
	return nil
}

// RebootDBInstance restarts an instance's server, applying parameters that
// wait for a reboot. A failed instance may be rebooted too: its
// configuration is rewritten from its group, so a value that kept the
// server from starting, once reset, no longer does.
func (s *Service) RebootDBInstance(ctx context.Context, id string) (*DBInstance, error) {
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return nil, instanceNotFound(id)
	}
	if r.Status != StatusAvailable && r.Status != StatusFailed {
		return nil, invalidInstanceState(r.Identifier, r.Status, StatusAvailable+" or "+StatusFailed)
	}
	if r.Applied == nil {
		// Its creation failed: there is no server to start; delete it.
		return nil, invalidInstanceState(r.Identifier, r.Status, "created (its creation failed; delete it)")
	}
	if err := s.notSwitchingLocked(r); err != nil {
		return nil, err
	}
	if err := s.setStatusLocked(r, StatusRebooting, note{}); err != nil {
		return nil, err
	}
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.reboot(ctx, rid) })
	return s.describeLocked(r), nil
}

func (s *Service) reboot(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	l, err := s.layout(r)
	e := s.engines[r.Engine]
	params := s.effectiveParamsLocked(r)
	rep := s.replicationLocked(r)
	s.unrouteLocked(r)
	s.unlock()

	if err == nil {
		// Stop and Start rather than Restart: the supervisor has forgotten
		// a server whose last start failed.
		if err = e.WriteConfig(l, serverConfig(r, params), rep); err == nil {
			if err = s.sup.Stop(ctx, rid); err == nil {
				err = s.sup.Start(ctx, rid, e.Spec(l))
			}
		}
	}
	s.lock()
	defer s.unlock()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.settleStatusLocked(r, StatusFailed, failure("DB instance reboot failed: "+engine.Explain(err)))
		return
	}
	if !s.routeLocked(r, params, availability("DB instance restarted")) {
		return
	}
	if r.ReadOnly {
		if _, green := s.memberOfLocked(r.ResourceID); !green {
			// An old blue is read-only until it is rebooted, as in RDS.
			rid := r.ResourceID
			s.goWork(func(ctx context.Context) {
				if err := s.setReadOnly(ctx, rid, false); err != nil {
					s.log.Error("make instance writable after reboot", "instance", rid, "err", err)
				}
			})
		}
	}
}

// DeleteDBInstance deletes an instance: its server, its data and its
// endpoint. Read replicas of it are promoted to standalone instances first,
// as RDS does. Deletion protection refuses it.
//
// As in RDS, a missing instance is answered first, then deletion
// protection, then the final snapshot's members.
func (s *Service) DeleteDBInstance(ctx context.Context, id string, skipFinalSnapshot bool, finalSnapshot string) (*DBInstance, error) {
	return s.DeleteDBInstanceWith(ctx, DeleteInstanceInput{DBInstanceIdentifier: id, SkipFinalSnapshot: skipFinalSnapshot,
		FinalDBSnapshotIdentifier: finalSnapshot})
}

// DeleteInstanceInput holds the members of DeleteDBInstance.
type DeleteInstanceInput struct {
	DBInstanceIdentifier      string
	SkipFinalSnapshot         bool
	FinalDBSnapshotIdentifier string
	// DeleteAutomatedBackups: nil or true deletes them with the instance,
	// false keeps them, retained.
	DeleteAutomatedBackups *bool
}

// DeleteDBInstanceWith is DeleteDBInstance with all its members.
func (s *Service) DeleteDBInstanceWith(ctx context.Context, in DeleteInstanceInput) (*DBInstance, error) {
	id, skipFinalSnapshot, finalSnapshot := in.DBInstanceIdentifier, in.SkipFinalSnapshot, in.FinalDBSnapshotIdentifier
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return nil, instanceNotFound(id)
	}
	if r.DeletionProtection {
		return nil, invalidCombination("Cannot delete protected DB Instance, please disable deletion protection and try again.")
	}
	// A read replica and a member of a DB cluster have no final snapshot
	// of their own.
	member := r.SourceResourceID != "" || r.ClusterResourceID != ""
	if member && finalSnapshot != "" {
		return nil, invalidCombination("FinalDBSnapshotIdentifier can't be specified when deleting a read replica or a member of a DB cluster.")
	}
	if !member {
		if err := checkFinalSnapshot(skipFinalSnapshot, finalSnapshot); err != nil {
			return nil, err
		}
	}
	var final *snapshotRecord
	if finalSnapshot != "" {
		id, err := userSnapshotName("FinalDBSnapshotIdentifier", finalSnapshot)
		if err != nil {
			return nil, err
		}
		if s.snapshots[id] != nil {
			return nil, snapshotExists(id)
		}
		if err := s.snapshotsInstanceLocked(r); err != nil {
			return nil, err
		}
		if r.Status != StatusAvailable {
			return nil, invalidInstanceState(r.Identifier, r.Status, "available to take its final snapshot")
		}
		final = s.snapshotOfLocked(r, id, SnapshotManual, slices.Clone(r.Tags))
	}
	if r.Status == StatusDeleting {
		return nil, invalidInstanceState(r.Identifier, r.Status, "not already deleting")
	}
	if err := s.notSwitchingLocked(r); err != nil {
		return nil, err
	}
	if err := s.notClusterWriterLocked(r); err != nil {
		return nil, err
	}
	if c := s.clusters[r.ClusterResourceID]; c != nil && c.Status != StatusAvailable {
		return nil, invalidClusterState("DB cluster %s is in state %s; its instances are deleted while it is available.", c.Identifier, c.Status)
	}
	// Replicas are promoted when their source goes; one being deleted
	// goes its own way.
	for _, rep := range s.replicasLocked(r.ResourceID) {
		if rep.Status != StatusAvailable && rep.Status != StatusDeleting {
			return nil, invalidInstanceState(rep.Identifier, rep.Status,
				"available before its source "+r.Identifier+" can be deleted (its replicas are promoted)")
		}
	}
	next := r.clone()
	next.Status = StatusDeleting
	next.KeepBackups = in.DeleteAutomatedBackups != nil && !*in.DeleteAutomatedBackups && s.backups[r.ResourceID] != nil
	if final != nil {
		next.FinalSnapshot = final.Identifier
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Put(store.KindInstance, next.ResourceID, &next); err != nil {
			return err
		}
		if final != nil {
			if err := s.putSnapshot(tx, final, creation("Creating the final DB snapshot of "+r.Identifier)); err != nil {
				return err
			}
		}
		return tx.AddEvent(s.instanceEvent(&next, deletion("DB instance is being deleted")))
	}); err != nil {
		return nil, err
	}
	*r = next
	if final != nil {
		s.snapshots[final.Identifier] = final
	}
	rid := r.ResourceID
	s.goWork(func(ctx context.Context) { s.finishDelete(ctx, rid) })
	return s.describeLocked(r), nil
}

func (s *Service) finishDelete(ctx context.Context, rid string) {
	if !s.takeFinalSnapshot(ctx, rid) {
		return
	}
	s.lock()
	r := s.instances[rid]
	var replicas []string
	for _, rep := range s.replicasLocked(rid) {
		if rep.Status == StatusDeleting {
			continue
		}
		replicas = append(replicas, rep.ResourceID)
		rep.Status = StatusModifying
	}
	s.unlock()
	for _, rep := range replicas {
		s.promote(ctx, rep)
	}

	s.lock()
	keep := r.KeepBackups && s.archivesLocked(r)
	s.unlock()
	if keep {
		// Retained backups restore up to the deletion.
		if err := s.backupInstance(ctx, rid, true); err != nil && ctx.Err() == nil {
			s.log.Warn("archive the last changes of a deleted DB instance", "instance", r.Identifier, "err", err)
		}
	}
	s.lock()
	l, layoutErr := s.layout(r)
	rep := s.replicationLocked(r)
	e := s.engines[r.Engine]
	s.unrouteLocked(r)
	storage := s.keepsClusterDataLocked(r)
	s.unlock()

	err := s.sup.Stop(ctx, rid)
	if err == nil && rep != nil {
		// A missing slot only means the source no longer holds WAL for us.
		if derr := e.DropReplicationSlot(ctx, rep.Source, rep.Slot); derr != nil {
			s.log.Warn("drop replication slot", "instance", r.Identifier, "err", derr)
		}
	}
	if err == nil && storage != "" {
		err = keepData(filepath.Join(s.instancesDir, rid, "data"), storage)
	}
	if err == nil {
		err = errors.Join(os.RemoveAll(filepath.Join(s.instancesDir, rid)), os.RemoveAll(s.socketDir(rid)))
		if layoutErr == nil {
			err = errors.Join(err, os.RemoveAll(l.SocketDir))
		}
	}
	if err == nil {
		err = s.removeOSUser(rid)
	}
	s.lock()
	defer s.unlock()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("delete DB instance", "instance", r.Identifier, "err", err)
			s.settleStatusLocked(r, StatusFailed, failure("DB instance deletion failed: "+engine.Explain(err)))
		}
		return
	}
	if err := s.keepBackupsLocked(ctx, r, r.KeepBackups); err != nil {
		s.log.Error("delete DB instance's automated backups", "instance", r.Identifier, "err", err)
		s.settleStatusLocked(r, StatusFailed, failure("DB instance deletion failed: "+engine.Explain(err)))
		return
	}
	c := s.clusters[r.ClusterResourceID]
	var nextCluster clusterRecord
	if c != nil {
		nextCluster = c.clone()
		forgetMember(&nextCluster, rid)
		nextCluster.Stored = nextCluster.Stored || storage != ""
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Delete(store.KindInstance, rid); err != nil {
			return err
		}
		if c != nil {
			if err := tx.Put(kindCluster, c.ResourceID, &nextCluster); err != nil {
				return err
			}
		}
		return tx.AddEvent(s.instanceEvent(r, deletion("DB instance deleted")))
	}); err != nil {
		s.log.Error("delete DB instance", "instance", r.Identifier, "err", err)
		return
	}
	delete(s.instances, rid)
	s.proxy.CloseEndpoint(r.Identifier)
	if c != nil {
		*c = nextCluster
		s.routeClusterLocked(c)
	}
}

// WaitForStatus polls until the instance has the status, or ctx ends. It is
// how tests and the CLI's waiters wait for background work.
func (s *Service) WaitForStatus(ctx context.Context, id, status string) (*DBInstance, error) {
	for {
		got, _, err := s.DescribeDBInstances(ctx, id, nil, Page{})
		if status == "deleted" && errors.Is(err, ErrDBInstanceNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if got[0].DBInstanceStatus == status {
			return &got[0], nil
		}
		select {
		case <-ctx.Done():
			return &got[0], fmt.Errorf("instance %s is %s, not %s: %w", id, got[0].DBInstanceStatus, status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// notSwitchingLocked refuses changes to an instance while its blue/green
// deployment switches over.
func (s *Service) notSwitchingLocked(r *instanceRecord) error {
	if d, _ := s.memberOfLocked(r.ResourceID); d != nil && d.Status == bluegreen.StatusSwitchoverInProgress {
		return invalidInstanceState(r.Identifier, "switching over in blue/green deployment "+d.ID, "not switching over")
	}
	return nil
}
