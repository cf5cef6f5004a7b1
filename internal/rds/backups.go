package rds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// Automated backups. An instance whose BackupRetentionPeriod is above
// zero has, under the backup directory:
//
//   - automated DB snapshots (rds:<instance>-<date>), its base backups:
//     the first one BackupInterval after it is created, or as soon as
//     backups are turned on later, then one a day (in
//     PreferredBackupWindow);
//   - an archive of its changes (archive/<DbiResourceId>): PostgreSQL's
//     WAL, MariaDB's binary logs, collected every BackupInterval, each
//     collection a restorable point (engine.Archiver).
//
// A point-in-time restore takes the newest base from before the target
// and replays the archive up to it. Bases older than the retention period
// are deleted (the newest is always kept), and with them the archived
// changes that only they needed. An instance deleted with
// DeleteAutomatedBackups=false leaves its automated backups "retained":
// restorable until they are deleted.

const kindBackup = "automated-backup"

// Automated backup statuses, as RDS names them.
const (
	BackupActive   = "active"
	BackupRetained = "retained"
)

// Backup timing defaults: how often changes are archived, and how long a
// day of retention is (a test hook; 24 hours otherwise).
const (
	DefaultBackupInterval = 5 * time.Minute
	defaultBackupDay      = 24 * time.Hour
	backupScan            = 10 * time.Second
)

// backupRecord is the persisted state of one instance's automated backups,
// keyed by its DbiResourceId: what a restore needs once the instance is
// gone, and how far its archive restores.
type backupRecord struct {
	store.Version
	DbiResourceID      string
	InstanceIdentifier string
	Engine             string
	EngineVersion      string
	Class              string
	AllocatedStorage   int
	StorageType        string
	Iops               int `json:",omitempty"`
	StorageThroughput  int `json:",omitempty"`
	Port               int
	MasterUsername     string
	MasterVerifier     string `json:",omitempty"`
	DBName             string
	ParameterGroup     string
	InstanceCreateTime time.Time
	Retention          int
	Status             string
	// Marker: the archive restores every commit before it, and holds a
	// commit after it. Quiet: nothing was committed from Marker until
	// then, so a restore to a time up to Quiet is one to Marker.
	Marker   time.Time
	Quiet    time.Time
	Position string // the engine's log position at the last point
	Archived time.Time
}

// latestLocked is the latest time the backups restore to, zero when they
// have no base yet.
func (s *Service) latestLocked(b *backupRecord) time.Time {
	earliest := s.earliestLocked(b)
	latest := b.Marker
	if b.Quiet.After(latest) {
		latest = b.Quiet
	}
	if earliest.IsZero() || latest.Before(earliest) {
		return time.Time{}
	}
	return latest
}

// earliestLocked is the earliest time the backups restore to: the
// consistent point of their oldest base.
func (s *Service) earliestLocked(b *backupRecord) time.Time {
	var earliest time.Time
	for _, sn := range s.basesLocked(b.DbiResourceID) {
		if sn.Status == SnapshotAvailable && (earliest.IsZero() || sn.ConsistentTime.Before(earliest)) {
			earliest = sn.ConsistentTime
		}
	}
	return earliest
}

// basesLocked are the automated snapshots of an instance, oldest first.
func (s *Service) basesLocked(rid string) []*snapshotRecord {
	var out []*snapshotRecord
	for _, sn := range s.snapshots {
		if sn.Type == SnapshotAutomated && sn.DbiResourceID == rid {
			out = append(out, sn)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateTime.Before(out[j].CreateTime) })
	return out
}

// archivePath is where an instance's changes are archived.
func (s *Service) archivePath(rid string) string { return filepath.Join(s.backupDir, "archive", rid) }

// archivesLocked says whether r keeps automated backups: a primary
// outside a DB cluster, of an engine that archives, with a retention.
func (s *Service) archivesLocked(r *instanceRecord) bool {
	_, ok := s.engines[r.Engine].(engine.Archiver)
	return ok && r.BackupRetentionPeriod > 0 && r.SourceResourceID == "" && r.ClusterResourceID == ""
}

func (s *Service) saveBackupLocked(b *backupRecord) error {
	return s.commitLocked(s.ctx, func(tx *store.Tx) error { return tx.Put(kindBackup, b.DbiResourceID, b) })
}

// backupOfLocked is r's backup record, made (not yet saved) if it has none.
func (s *Service) backupOfLocked(r *instanceRecord) backupRecord {
	var b backupRecord
	if old := s.backups[r.ResourceID]; old != nil {
		b = *old
	}
	b.DbiResourceID, b.InstanceIdentifier = r.ResourceID, r.Identifier
	b.Engine, b.EngineVersion, b.Class = r.Engine, r.EngineVersion, r.Class
	b.AllocatedStorage, b.StorageType, b.Port = r.AllocatedStorage, r.StorageType, r.Port
	b.Iops, b.StorageThroughput = r.Iops, r.StorageThroughput
	b.MasterUsername, b.MasterVerifier, b.DBName = r.MasterUsername, r.MasterVerifier, r.DBName
	b.ParameterGroup, b.InstanceCreateTime = r.ParameterGroup, r.CreateTime
	b.Retention, b.Status = r.BackupRetentionPeriod, BackupActive
	return b
}

// backupLoop does the automated backups that are due, every backupScan
// (or BackupInterval, when that is shorter), and at once when an instance
// that keeps backups becomes available.
func (s *Service) backupLoop(ctx context.Context) {
	t := time.NewTicker(min(backupScan, s.backupInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.backupKick:
		}
		s.mu.Lock()
		var due []string
		for _, r := range s.sortedLocked() {
			if s.archivesLocked(r) && r.Status == StatusAvailable && !s.switchingLocked(r.ResourceID) {
				due = append(due, r.ResourceID)
			}
		}
		s.mu.Unlock()
		for _, rid := range due {
			if ctx.Err() != nil {
				return
			}
			s.backupInstance(ctx, rid, false)
		}
		s.pruneRetained(ctx)
	}
}

// switchingLocked says whether an instance is in a blue/green deployment
// that is switching over: backups wait until it is done.
func (s *Service) switchingLocked(rid string) bool {
	d, _ := s.memberOfLocked(rid)
	return d != nil && d.Status == bluegreen.StatusSwitchoverInProgress
}

// backupInstance takes the base an instance needs, archives its changes
// when they are due (or now, when force is set), and prunes what is past
// its retention. It returns the error of the archiving.
func (s *Service) backupInstance(ctx context.Context, rid string, force bool) error {
	// One backup of an instance at a time: the loop's, a restore's or a
	// deletion's.
	unlock := s.lockConfig("backup:" + rid)
	defer unlock()
	s.lock()
	r := s.instances[rid]
	if r == nil || !s.archivesLocked(r) {
		s.unlock()
		return errors.New("the DB instance keeps no automated backups")
	}
	b := s.backupOfLocked(r)
	if old := s.backups[rid]; old == nil || old.InstanceIdentifier != b.InstanceIdentifier || old.Retention != b.Retention ||
		old.Status != b.Status || old.ParameterGroup != b.ParameterGroup || old.MasterVerifier != b.MasterVerifier {
		if err := s.saveBackupLocked(&b); err != nil {
			s.unlock()
			return err
		}
		s.backups[rid] = &b
	}
	base := s.baseDueLocked(r)
	s.unlock()
	if base != "" {
		s.takeSnapshot(ctx, base)
	}

	s.lock()
	bp := s.backups[rid]
	// Changes are archived once there is a base to replay them on.
	hasBase := false
	for _, sn := range s.basesLocked(rid) {
		hasBase = hasBase || sn.Status == SnapshotAvailable
	}
	due := hasBase && (force || time.Since(bp.Archived) >= s.backupInterval)
	l, err := s.layout(r)
	last := bp.Position
	archiver, _ := s.engines[r.Engine].(engine.Archiver)
	s.unlock()
	if !due {
		s.prune(ctx, rid)
		return nil
	}
	var p engine.ArchivePoint
	if err == nil {
		p, err = archiver.Archive(ctx, l, s.archivePath(rid), last)
	}
	s.lock()
	if err != nil {
		s.unlock()
		if ctx.Err() == nil {
			s.log.Warn("archive changes", "instance", rid, "err", err)
		}
		return err
	}
	next := *bp
	if p.Idle {
		next.Quiet = p.Time
	} else {
		next.Marker, next.Quiet = p.Time, time.Time{}
	}
	next.Position, next.Archived = p.Position, time.Now()
	if err := s.saveBackupLocked(&next); err != nil {
		s.unlock()
		return err
	}
	*bp = next
	s.unlock()
	s.prune(ctx, rid)
	return nil
}

// baseDueLocked records the automated snapshot r needs now, if any, and
// returns its identifier: the first one, and then one a day, in the
// backup window when days are real.
func (s *Service) baseDueLocked(r *instanceRecord) string {
	now := time.Now().UTC()
	var newest *snapshotRecord
	for _, sn := range s.basesLocked(r.ResourceID) {
		if sn.Status == SnapshotCreating {
			return sn.Identifier // taken again after a restart of teal
		}
		if sn.Status == SnapshotAvailable {
			newest = sn
		}
	}
	if newest == nil && now.Sub(r.CreateTime) < s.backupInterval {
		// The first base waits one interval: an instance that lives
		// only minutes (a test, a scratch copy) costs no copy of its data.
		return ""
	}
	if newest != nil {
		age := now.Sub(newest.CreateTime)
		if age < s.backupDay || (s.backupDay == defaultBackupDay && age < 2*s.backupDay && !inWindow(r.backupWindow(), now)) {
			return ""
		}
	}
	id := automatedPrefix + r.Identifier + now.Format("-2006-01-02-15-04")
	for i := 2; s.snapshots[id] != nil; i++ {
		id = fmt.Sprintf("%s%s%s-%d", automatedPrefix, r.Identifier, now.Format("-2006-01-02-15-04"), i)
	}
	sn := s.snapshotOfLocked(r, id, SnapshotAutomated, nil)
	if err := s.commitLocked(s.ctx, func(tx *store.Tx) error {
		return s.putSnapshot(tx, sn, creation("Automated backup of "+r.Identifier+" started"))
	}); err != nil {
		s.log.Error("save automated snapshot", "instance", r.Identifier, "err", err)
		return ""
	}
	s.snapshots[id] = sn
	return id
}

// inWindow says whether now (UTC) is in a backup window "hh24:mi-hh24:mi";
// an empty window is any time.
func inWindow(window string, now time.Time) bool {
	from, to, ok := parseWindow(window)
	if !ok {
		return true
	}
	m := now.Hour()*60 + now.Minute()
	if from <= to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// parseWindow reads "hh24:mi-hh24:mi" into minutes of the day.
func parseWindow(w string) (from, to int, ok bool) {
	a, b, found := strings.Cut(w, "-")
	if !found {
		return 0, 0, false
	}
	var h1, m1, h2, m2 int
	if n, err := fmt.Sscanf(a+" "+b, "%d:%d %d:%d", &h1, &m1, &h2, &m2); n != 4 || err != nil {
		return 0, 0, false
	}
	if len(a) != 5 || len(b) != 5 || h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59 || h1 < 0 || m1 < 0 || h2 < 0 || m2 < 0 {
		return 0, 0, false
	}
	return h1*60 + m1, h2*60 + m2, true
}

// prune deletes an instance's bases past its retention, except the newest
// and any a restore uses, then the archived changes older than the oldest
// base left.
func (s *Service) prune(ctx context.Context, rid string) {
	s.lock()
	b := s.backups[rid]
	if b == nil {
		s.unlock()
		return
	}
	cutoff := time.Now().Add(-time.Duration(b.Retention) * s.backupDay)
	bases := s.basesLocked(rid)
	var available []*snapshotRecord
	for _, sn := range bases {
		if sn.Status == SnapshotAvailable {
			available = append(available, sn)
		}
	}
	for i, sn := range available {
		if i == len(available)-1 || !sn.CreateTime.Before(cutoff) || s.snapshotInUseLocked(sn) != nil {
			continue
		}
		if err := s.dropSnapshotLocked(ctx, sn, "Automated snapshot deleted: past the backup retention period"); err != nil {
			s.log.Error("delete automated snapshot", "snapshot", sn.Identifier, "err", err)
		}
	}
	var oldest time.Time
	for _, sn := range s.basesLocked(rid) {
		if oldest.IsZero() || sn.CreateTime.Before(oldest) {
			oldest = sn.CreateTime
		}
	}
	dir := s.archivePath(rid)
	s.unlock()
	if oldest.IsZero() {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range entries {
		fi, err := ent.Info()
		if err != nil || strings.HasSuffix(ent.Name(), ".history") || !fi.ModTime().Before(oldest) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil {
			s.log.Warn("remove archived changes past the retention", "file", ent.Name(), "err", err)
		}
	}
}

// pruneRetained prunes the automated backups instances left when they
// were deleted: past the retention, only the newest base is left, until
// DeleteDBInstanceAutomatedBackup.
func (s *Service) pruneRetained(ctx context.Context) {
	s.mu.Lock()
	var retained []string
	for rid, b := range s.backups {
		if b.Status == BackupRetained {
			retained = append(retained, rid)
		}
	}
	s.mu.Unlock()
	for _, rid := range retained {
		s.prune(ctx, rid)
	}
}

// dropBackupsLocked deletes an instance's automated backups: its bases,
// its archive and its record.
func (s *Service) dropBackupsLocked(ctx context.Context, rid string, message string) error {
	for _, sn := range s.basesLocked(rid) {
		if err := s.snapshotInUseLocked(sn); err != nil {
			return err
		}
	}
	for _, sn := range s.basesLocked(rid) {
		if err := s.dropSnapshotLocked(ctx, sn, message); err != nil {
			return err
		}
	}
	if s.backups[rid] != nil {
		if err := s.commitLocked(ctx, func(tx *store.Tx) error { return tx.Delete(kindBackup, rid) }); err != nil {
			return err
		}
		delete(s.backups, rid)
	}
	dir := s.archivePath(rid)
	s.outsideLocked(func() {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Error("remove archived changes", "dir", dir, "err", err)
		}
	})
	return nil
}

// DBInstanceAutomatedBackup is the description of an instance's automated
// backups, as DescribeDBInstanceAutomatedBackups returns it.
type DBInstanceAutomatedBackup struct {
	DBInstanceAutomatedBackupsArn string
	DBInstanceArn                 string
	DbiResourceId                 string
	DBInstanceIdentifier          string
	Region                        string
	Status                        string
	Engine                        string
	EngineVersion                 string
	AllocatedStorage              int
	StorageType                   string
	Port                          int
	MasterUsername                string
	InstanceCreateTime            time.Time
	BackupRetentionPeriod         int
	EarliestTime, LatestTime      time.Time
}

// autoBackupName is the name in an automated backup's ARN: "ab-" and the
// DbiResourceId's own characters.
func autoBackupName(rid string) string {
	return "ab-" + strings.ToLower(strings.TrimPrefix(rid, "db-"))
}

func (s *Service) describeBackupLocked(b *backupRecord) DBInstanceAutomatedBackup {
	return DBInstanceAutomatedBackup{
		DBInstanceAutomatedBackupsArn: s.scope().ARN(TypeAutoBackup, autoBackupName(b.DbiResourceID)),
		DBInstanceArn:                 s.instanceArn(b.InstanceIdentifier),
		DbiResourceId:                 b.DbiResourceID,
		DBInstanceIdentifier:          b.InstanceIdentifier,
		Region:                        s.cfg.Region,
		Status:                        b.Status,
		Engine:                        b.Engine,
		EngineVersion:                 b.EngineVersion,
		AllocatedStorage:              b.AllocatedStorage,
		StorageType:                   b.StorageType,
		Port:                          b.Port,
		MasterUsername:                b.MasterUsername,
		InstanceCreateTime:            b.InstanceCreateTime,
		BackupRetentionPeriod:         b.Retention,
		EarliestTime:                  s.earliestLocked(b),
		LatestTime:                    s.latestLocked(b),
	}
}

// findBackupLocked resolves an automated backup by DbiResourceId or by
// its ARN.
func (s *Service) findBackupLocked(rid, arn string) (*backupRecord, error) {
	if arn != "" {
		a, err := s.scope().ResolveARN("DBInstanceAutomatedBackupsArn", arn, TypeAutoBackup)
		if err != nil {
			return nil, err
		}
		for _, b := range s.backups {
			if autoBackupName(b.DbiResourceID) == a.Name && (rid == "" || rid == b.DbiResourceID) {
				return b, nil
			}
		}
		return nil, backupNotFound(arn)
	}
	if b := s.backups[rid]; b != nil {
		return b, nil
	}
	return nil, backupNotFound(rid)
}

// DescribeDBInstanceAutomatedBackups lists automated backups: of live
// instances (active) and of deleted ones (retained).
func (s *Service) DescribeDBInstanceAutomatedBackups(ctx context.Context, rid, instanceID, arn string, filters []Filter, page Page) ([]DBInstanceAutomatedBackup, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	match, err := recordFilter(filters, map[string]func(*backupRecord, string) []string{
		"db-instance-id": func(b *backupRecord, _ string) []string {
			return []string{b.InstanceIdentifier, s.instanceArn(b.InstanceIdentifier)}
		},
		"dbi-resource-id": func(b *backupRecord, _ string) []string { return []string{b.DbiResourceID} },
		"status":          func(b *backupRecord, _ string) []string { return []string{b.Status} },
	})
	if err != nil {
		return nil, "", err
	}
	if instanceID != "" {
		if instanceID, err = s.scope().Identifier(TypeInstance, "DBInstanceIdentifier", instanceID); err != nil {
			return nil, "", err
		}
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rid != "" || arn != "" {
		b, err := s.findBackupLocked(rid, arn)
		if err != nil {
			return nil, "", err
		}
		return []DBInstanceAutomatedBackup{s.describeBackupLocked(b)}, "", nil
	}
	keys := make([]string, 0, len(s.backups))
	for k := range s.backups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []DBInstanceAutomatedBackup
	for _, k := range keys {
		b := s.backups[k]
		if k <= after || (instanceID != "" && b.InstanceIdentifier != instanceID) || !match(b, "") {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DbiResourceId), nil
		}
		out = append(out, s.describeBackupLocked(b))
	}
	return out, "", nil
}

// DeleteDBInstanceAutomatedBackup deletes the retained automated backups
// of a deleted instance.
func (s *Service) DeleteDBInstanceAutomatedBackup(ctx context.Context, rid, arn string) (*DBInstanceAutomatedBackup, error) {
	if rid == "" && arn == "" {
		return nil, missing("DbiResourceId")
	}
	s.lock()
	defer s.unlock()
	b, err := s.findBackupLocked(rid, arn)
	if err != nil {
		return nil, err
	}
	if b.Status != BackupRetained {
		return nil, fault("InvalidDBInstanceAutomatedBackupState", http.StatusBadRequest,
			"The automated backups of %s belong to a live DB instance; set its BackupRetentionPeriod to 0 to delete them.", b.InstanceIdentifier)
	}
	d := s.describeBackupLocked(b)
	d.Status = "deleting"
	if err := s.dropBackupsLocked(ctx, b.DbiResourceID, "Retained automated backup deleted"); err != nil {
		return nil, err
	}
	return &d, nil
}

// RestorePointInTimeInput holds the members of
// RestoreDBInstanceToPointInTime that teal uses.
type RestorePointInTimeInput struct {
	SourceDBInstanceIdentifier          string
	SourceDbiResourceId                 string
	SourceDBInstanceAutomatedBackupsArn string
	TargetDBInstanceIdentifier          string
	RestoreTime                         time.Time
	UseLatestRestorableTime             bool
	RestoreOptions
}

// RestoreDBInstanceToPointInTime creates a new instance with the data the
// source had at a time within its restorable window: every transaction
// committed until then, none after.
func (s *Service) RestoreDBInstanceToPointInTime(ctx context.Context, in RestorePointInTimeInput) (*DBInstance, error) {
	id := strings.ToLower(in.TargetDBInstanceIdentifier)
	if err := validInstanceIdentifier("TargetDBInstanceIdentifier", id); err != nil {
		return nil, err
	}
	sources := 0
	for _, v := range []string{in.SourceDBInstanceIdentifier, in.SourceDbiResourceId, in.SourceDBInstanceAutomatedBackupsArn} {
		if v != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, invalidCombination("Specify exactly one of SourceDBInstanceIdentifier, SourceDbiResourceId and SourceDBInstanceAutomatedBackupsArn.")
	}
	if in.UseLatestRestorableTime == !in.RestoreTime.IsZero() {
		return nil, invalidCombination("Specify either RestoreTime or UseLatestRestorableTime, not both and not neither.")
	}
	if err := validPort(in.Port); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}

	// The source's backups, and its latest changes when the restore asks
	// for more than the archive holds yet.
	s.mu.Lock()
	var rid string
	var b *backupRecord
	var err error
	if in.SourceDBInstanceIdentifier != "" {
		r := s.findLocked(in.SourceDBInstanceIdentifier)
		if r == nil {
			s.mu.Unlock()
			return nil, instanceNotFound(in.SourceDBInstanceIdentifier)
		}
		rid, b = r.ResourceID, s.backups[r.ResourceID]
		if b == nil || !s.archivesLocked(r) {
			s.mu.Unlock()
			return nil, fault("PointInTimeRestoreNotEnabled", http.StatusBadRequest,
				"DB instance %s has no automated backups: its BackupRetentionPeriod must be above 0, and its first backup done.", r.Identifier)
		}
	} else {
		if b, err = s.findBackupLocked(in.SourceDbiResourceId, in.SourceDBInstanceAutomatedBackupsArn); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		rid = b.DbiResourceID
	}
	latest := s.latestLocked(b)
	live := s.instances[rid] != nil && s.instances[rid].Status == StatusAvailable && b.Status == BackupActive
	s.mu.Unlock()
	if live && (in.UseLatestRestorableTime || in.RestoreTime.After(latest)) {
		if err := s.backupInstance(ctx, rid, true); err != nil {
			s.log.Warn("archive the latest changes for a restore", "instance", rid, "err", err)
		}
	}

	s.lock()
	defer s.unlock()
	b = s.backups[rid]
	if b == nil {
		return nil, backupNotFound(rid)
	}
	earliest, latest := s.earliestLocked(b), s.latestLocked(b)
	if latest.IsZero() {
		return nil, fault("PointInTimeRestoreNotEnabled", http.StatusBadRequest,
			"The automated backups of %s have no base backup yet.", b.InstanceIdentifier)
	}
	target := in.RestoreTime
	if in.UseLatestRestorableTime {
		target = latest
	}
	if target.Before(earliest) || target.After(latest) {
		return nil, invalidRestore("The restore time %s is outside the restorable window of %s: %s to %s.",
			target.UTC().Format(time.RFC3339), b.InstanceIdentifier, earliest.UTC().Format(time.RFC3339), latest.UTC().Format(time.RFC3339))
	}
	asked := target
	var base *snapshotRecord
	for _, sn := range s.basesLocked(rid) {
		if sn.Status == SnapshotAvailable && !sn.ConsistentTime.After(target) {
			base = sn
		}
	}
	if base == nil {
		return nil, invalidRestore("No base backup of %s is older than %s.", b.InstanceIdentifier, target.UTC().Format(time.RFC3339))
	}
	// After the last marker nothing was committed: the state there is the
	// state at the target. A base taken since holds that state already,
	// and is restored alone.
	if target.After(b.Marker) {
		target = b.Marker
	}
	if target.Before(base.ConsistentTime) {
		target = time.Time{}
	}
	r, err := s.restoredInstanceLocked(id, restoreSource{engine: b.Engine, version: b.EngineVersion, class: b.Class,
		storage: b.AllocatedStorage, storageType: b.StorageType, iops: b.Iops, throughput: b.StorageThroughput,
		retention: b.Retention, group: b.ParameterGroup},
		in.RestoreOptions)
	if err != nil {
		return nil, err
	}
	r.MasterUsername, r.MasterVerifier, r.DBName = b.MasterUsername, b.MasterVerifier, b.DBName
	r.RestoreSnapshot = base.Identifier
	if !target.IsZero() {
		r.RestoreArchive, r.RestoreTarget = rid, target
	}
	if err := s.openEndpointLocked(r, in.Port); err != nil {
		return nil, err
	}
	if err := s.saveLocked(r, creation(fmt.Sprintf("Restoring DB instance from %s to %s", b.InstanceIdentifier, asked.UTC().Format(time.RFC3339Nano)))); err != nil {
		s.proxy.CloseEndpoint(id)
		return nil, err
	}
	s.instances[r.ResourceID] = r
	newID := r.ResourceID
	s.goWork(func(ctx context.Context) { s.provisionFromSnapshot(ctx, newID) })
	return s.describeLocked(r), nil
}

// keepBackupsLocked marks the automated backups of an instance being
// deleted as retained, or deletes them; the caller holds the lock.
func (s *Service) keepBackupsLocked(ctx context.Context, r *instanceRecord, keep bool) error {
	b := s.backups[r.ResourceID]
	if b == nil {
		return nil
	}
	if !keep {
		return s.dropBackupsLocked(ctx, r.ResourceID, "Automated snapshot deleted with its DB instance")
	}
	next := *b
	next.Status = BackupRetained
	if err := s.saveBackupLocked(&next); err != nil {
		return err
	}
	*b = next
	return nil
}
