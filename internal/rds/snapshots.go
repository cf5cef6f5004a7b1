package rds

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// A DB snapshot is a consistent physical copy of an instance's data, in a
// directory of its own under the backup directory, that outlives the
// instance: the engine takes it from the running server
// (engine.Snapshotter) and restores a new instance from it. Its record
// keeps what a restore needs besides the data: the engine version, the
// master user and its verifier, the parameter group. Snapshots never
// change once available; a copy shares their files by hard links.

const kindSnapshot = "db-snapshot"

// Snapshot types and statuses, as RDS names them.
const (
	SnapshotManual    = "manual"
	SnapshotAutomated = "automated"

	SnapshotCreating  = "creating"
	SnapshotAvailable = "available"
	SnapshotFailed    = "failed"
	SnapshotDeleted   = "deleted"
)

// restoreAttribute is the one attribute of a DB snapshot: the accounts that
// may restore it. teal keeps it for tools that set it.
const restoreAttribute = "restore"

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// snapshotRecord is the persisted state of a DB snapshot.
type snapshotRecord struct {
	store.Version
	Identifier string
	Type       string // manual or automated
	Status     string
	Dir        string // the directory under the backup directory's snapshots/
	Size       int64  // bytes on disk, once available

	// What it was taken from, as it was then.
	InstanceIdentifier    string
	DbiResourceID         string
	Engine                string
	EngineVersion         string
	Class                 string
	AllocatedStorage      int
	StorageType           string
	Iops                  int `json:",omitempty"`
	StorageThroughput     int `json:",omitempty"`
	Port                  int
	MasterUsername        string
	MasterVerifier        string `json:",omitempty"`
	DBName                string
	ParameterGroup        string
	BackupRetentionPeriod int
	InstanceCreateTime    time.Time

	CreateTime         time.Time // when the copy began
	ConsistentTime     time.Time // when it was done: its data is of a point before
	OriginalCreateTime time.Time // of the snapshot first taken, through copies
	SourceSnapshot     string    `json:",omitempty"` // ARN of the snapshot this is a copy of
	Tags               []Tag     `json:",omitempty"`
	RestoreAccounts    []string  `json:",omitempty"` // the restore attribute
	Message            string    `json:",omitempty"` // why it failed
}

func (sn *snapshotRecord) clone() snapshotRecord {
	n := *sn
	n.Tags = slices.Clone(sn.Tags)
	n.RestoreAccounts = slices.Clone(sn.RestoreAccounts)
	return n
}

// snapshotWork is how far the copy of a snapshot being created, or of
// one being restored, has come: bytes copied of about total.
type snapshotWork struct {
	copied, total atomic.Int64
}

// percent is how far the copy has come, below 100 until it is done; -1
// while its size is not known.
func (w *snapshotWork) percent() int {
	total := w.total.Load()
	if total <= 0 {
		return -1
	}
	return min(99, int(w.copied.Load()*100/total))
}

// DBSnapshot is the description of a DB snapshot, as DescribeDBSnapshots
// returns it.
type DBSnapshot struct {
	DBSnapshotIdentifier       string
	DBSnapshotArn              string
	DBInstanceIdentifier       string
	DbiResourceId              string
	SnapshotCreateTime         time.Time
	OriginalSnapshotCreateTime time.Time
	Engine                     string
	EngineVersion              string
	AllocatedStorage           int
	StorageType                string
	Iops                       int // 0: the storage type's baseline
	StorageThroughput          int
	Status                     string
	Port                       int
	InstanceCreateTime         time.Time
	MasterUsername             string
	SnapshotType               string
	PercentProgress            int
	SourceDBSnapshotIdentifier string
	SourceRegion               string
	BackupRetentionPeriod      int
	Encrypted                  bool
	TagList                    []Tag
}

// DBSnapshotAttribute is one attribute of a DB snapshot and its values.
type DBSnapshotAttribute struct {
	AttributeName   string
	AttributeValues []string
}

func (s *Service) snapshotArn(id string) string { return s.scope().ARN(TypeSnapshot, id) }

// snapshotPath is the directory of a snapshot's data.
func (s *Service) snapshotPath(sn *snapshotRecord) string {
	return filepath.Join(s.backupDir, "snapshots", sn.Dir)
}

func (s *Service) snapshotEvent(sn *snapshotRecord, ev note) store.Event {
	return store.Event{SourceType: "db-snapshot", SourceID: sn.Identifier, SourceArn: s.snapshotArn(sn.Identifier),
		Message: ev.message, Categories: []string{ev.category}}
}

func newSnapshotDir() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// userSnapshotName checks the identifier of a snapshot a user names: a
// valid identifier, not one of the automated snapshots' names.
func userSnapshotName(param, name string) (string, error) {
	if name == "" {
		return "", missing(param)
	}
	if strings.HasPrefix(strings.ToLower(name), automatedPrefix) {
		return "", invalidValue("The parameter %s is not a valid identifier: names that begin with %q are for automated snapshots.", param, automatedPrefix)
	}
	return Name(TypeSnapshot, param, name)
}

// findSnapshotLocked resolves a snapshot given by identifier or ARN.
func (s *Service) findSnapshotLocked(param, ref string) (*snapshotRecord, error) {
	if ref == "" {
		return nil, missing(param)
	}
	id, err := s.scope().Identifier(TypeSnapshot, param, ref)
	if err != nil {
		return nil, err
	}
	sn := s.snapshots[id]
	if sn == nil {
		return nil, snapshotNotFound(ref)
	}
	return sn, nil
}

// updateSnapshotLocked changes a snapshot on a copy, saves it with its
// event, then publishes it.
func (s *Service) updateSnapshotLocked(sn *snapshotRecord, change func(next *snapshotRecord) note) error {
	next := sn.clone()
	ev := change(&next)
	if err := s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Put(kindSnapshot, next.Identifier, &next); err != nil {
			return err
		}
		if ev.message == "" {
			return nil
		}
		return tx.AddEvent(s.snapshotEvent(&next, ev))
	}); err != nil {
		return fmt.Errorf("save DB snapshot %s: %w", sn.Identifier, err)
	}
	*sn = next
	return nil
}

// snapshotOfLocked is a new snapshot record of r, being created, with
// tags. Given none, it has r's when r copies its tags to snapshots
// (CopyTagsToSnapshot): tags given to CreateDBSnapshot are the snapshot's
// own.
func (s *Service) snapshotOfLocked(r *instanceRecord, id, typ string, tags []Tag) *snapshotRecord {
	if len(tags) == 0 && r.CopyTagsToSnapshot {
		tags = slices.Clone(r.Tags)
	}
	now := time.Now().UTC()
	return &snapshotRecord{
		Identifier:            id,
		Type:                  typ,
		Status:                SnapshotCreating,
		Dir:                   newSnapshotDir(),
		InstanceIdentifier:    r.Identifier,
		DbiResourceID:         r.ResourceID,
		Engine:                r.Engine,
		EngineVersion:         r.EngineVersion,
		Class:                 r.Class,
		AllocatedStorage:      r.AllocatedStorage,
		StorageType:           r.StorageType,
		Iops:                  r.Iops,
		StorageThroughput:     r.StorageThroughput,
		Port:                  r.Port,
		MasterUsername:        r.MasterUsername,
		MasterVerifier:        r.MasterVerifier,
		DBName:                r.DBName,
		ParameterGroup:        r.ParameterGroup,
		BackupRetentionPeriod: r.BackupRetentionPeriod,
		InstanceCreateTime:    r.CreateTime,
		CreateTime:            now,
		OriginalCreateTime:    now,
		Tags:                  tags,
	}
}

// snapshotsInstanceLocked says whether teal can snapshot r now.
func (s *Service) snapshotsInstanceLocked(r *instanceRecord) error {
	if c := s.clusters[r.ClusterResourceID]; c != nil {
		return invalidInstanceState(r.Identifier, "a member of DB cluster "+c.Identifier,
			"a DB instance outside a DB cluster: the instances of a DB cluster are not snapshotted one by one")
	}
	if _, ok := s.engines[r.Engine].(engine.Snapshotter); !ok {
		return invalidValue("Engine %s does not take DB snapshots.", r.Engine)
	}
	return nil
}

// CreateDBSnapshot takes a manual snapshot of an available instance.
func (s *Service) CreateDBSnapshot(ctx context.Context, snapshotID, instanceID string, tags []Tag) (*DBSnapshot, error) {
	if instanceID == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	id, err := userSnapshotName("DBSnapshotIdentifier", snapshotID)
	if err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(instanceID)
	if r == nil {
		return nil, instanceNotFound(instanceID)
	}
	if err := s.snapshotsInstanceLocked(r); err != nil {
		return nil, err
	}
	if r.Status != StatusAvailable {
		return nil, invalidInstanceState(r.Identifier, r.Status, StatusAvailable)
	}
	if s.snapshots[id] != nil {
		return nil, snapshotExists(id)
	}
	sn := s.snapshotOfLocked(r, id, SnapshotManual, tags)
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		return s.putSnapshot(tx, sn, creation("Creating manual DB snapshot of "+r.Identifier))
	}); err != nil {
		return nil, err
	}
	s.snapshots[id] = sn
	s.goWork(func(ctx context.Context) { s.takeSnapshot(ctx, id) })
	return s.describeSnapshotLocked(sn), nil
}

func (s *Service) putSnapshot(tx *store.Tx, sn *snapshotRecord, ev note) error {
	if err := tx.Put(kindSnapshot, sn.Identifier, sn); err != nil {
		return err
	}
	return tx.AddEvent(s.snapshotEvent(sn, ev))
}

// takeSnapshot copies the instance of a snapshot being created into the
// snapshot's directory. It is idempotent: a copy interrupted by a restart
// of teal starts over. It returns whether the snapshot is available.
func (s *Service) takeSnapshot(ctx context.Context, id string) bool {
	s.lock()
	sn := s.snapshots[id]
	if sn == nil || sn.Status != SnapshotCreating {
		s.unlock()
		return sn != nil && sn.Status == SnapshotAvailable
	}
	var l engine.Layout
	var snapper engine.Snapshotter
	err := errors.New("its DB instance " + sn.InstanceIdentifier + " no longer exists")
	if r := s.instances[sn.DbiResourceID]; r != nil {
		if l, err = s.layout(r); err == nil {
			var ok bool
			if snapper, ok = s.engines[r.Engine].(engine.Snapshotter); !ok {
				err = fmt.Errorf("engine %s does not take DB snapshots", r.Engine)
			}
		}
	}
	dir := s.snapshotPath(sn)
	work := &snapshotWork{}
	s.snapshotWork[id] = work
	s.unlock()

	if err == nil {
		work.total.Store(engine.DirSize(l.DataDir))
		err = os.RemoveAll(dir)
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(dir), 0o700)
	}
	if err == nil {
		err = snapper.Snapshot(ctx, l, dir, &work.copied)
	}
	size := engine.DirSize(dir)

	s.lock()
	defer s.unlock()
	delete(s.snapshotWork, id)
	if s.snapshots[id] != sn || sn.Status != SnapshotCreating {
		return false
	}
	if err != nil {
		if ctx.Err() != nil {
			return false // teal is stopping; the next start takes it again
		}
		if rerr := os.RemoveAll(dir); rerr != nil {
			s.log.Error("remove failed DB snapshot", "snapshot", id, "err", rerr)
		}
		s.log.Error("create DB snapshot", "snapshot", id, "err", err)
		if serr := s.updateSnapshotLocked(sn, func(next *snapshotRecord) note {
			next.Status, next.Message = SnapshotFailed, engine.Explain(err)
			return failure("DB snapshot failed: " + next.Message)
		}); serr != nil {
			s.log.Error("save DB snapshot", "snapshot", id, "err", serr)
		}
		return false
	}
	if err := s.updateSnapshotLocked(sn, func(next *snapshotRecord) note {
		// Times are shown to the millisecond: the consistent point is
		// rounded up, so that the earliest restorable time as shown is
		// restorable.
		consistent := time.Now().UTC().Truncate(time.Millisecond).Add(time.Millisecond)
		next.Status, next.Size, next.ConsistentTime = SnapshotAvailable, size, consistent
		return creation(strings.ToUpper(sn.Type[:1]) + sn.Type[1:] + " DB snapshot created")
	}); err != nil {
		s.log.Error("save DB snapshot", "snapshot", id, "err", err)
		return false
	}
	return true
}

// resumeSnapshotsLocked finishes, after a start, the snapshots a restart
// of teal interrupted: each is taken again once its instance is available.
// A final snapshot is its deletion's to take (finishDelete).
func (s *Service) resumeSnapshotsLocked() {
	finals := map[string]bool{}
	for _, r := range s.instances {
		if r.FinalSnapshot != "" {
			finals[r.FinalSnapshot] = true
		}
	}
	for id, sn := range s.snapshots {
		if sn.Status != SnapshotCreating || finals[id] {
			continue
		}
		if sn.SourceSnapshot != "" {
			s.goWork(func(ctx context.Context) { s.copySnapshotFiles(ctx, id) })
			continue
		}
		s.goWork(func(ctx context.Context) {
			if s.awaitAvailable(ctx, sn.DbiResourceID, 10*time.Minute) {
				s.takeSnapshot(ctx, id)
				return
			}
			s.lock()
			defer s.unlock()
			if sn.Status == SnapshotCreating && ctx.Err() == nil {
				if err := s.updateSnapshotLocked(sn, func(next *snapshotRecord) note {
					next.Status, next.Message = SnapshotFailed, "its DB instance did not become available after a restart of teal"
					return failure("DB snapshot failed: " + next.Message)
				}); err != nil {
					s.log.Error("save DB snapshot", "snapshot", id, "err", err)
				}
			}
		})
	}
}

// awaitAvailable waits up to limit for an instance to be available.
func (s *Service) awaitAvailable(ctx context.Context, rid string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		r := s.instances[rid]
		status := ""
		if r != nil {
			status = r.Status
		}
		s.mu.Unlock()
		switch status {
		case "", StatusDeleting, StatusFailed, StatusStopped:
			return false
		case StatusAvailable:
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
	return false
}

// DescribeSnapshotsInput holds the members of DescribeDBSnapshots.
type DescribeSnapshotsInput struct {
	DBInstanceIdentifier string
	DBSnapshotIdentifier string
	DbiResourceId        string
	SnapshotType         string
	Filters              []Filter
	IncludeShared        bool
	IncludePublic        bool
	Page                 Page
}

var snapshotTypes = map[string]bool{SnapshotManual: true, SnapshotAutomated: true, "shared": true, "public": true, "awsbackup": true}

// DescribeDBSnapshots lists snapshots by identifier. teal has no shared
// or public snapshots: every snapshot is this account's own.
func (s *Service) DescribeDBSnapshots(ctx context.Context, in DescribeSnapshotsInput) ([]DBSnapshot, string, error) {
	max, err := maxRecords(in.Page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	if in.SnapshotType != "" && !snapshotTypes[in.SnapshotType] {
		return nil, "", invalidValue("Invalid snapshot type: %s. Valid types: automated, manual, shared, public, awsbackup.", in.SnapshotType)
	}
	if in.DBSnapshotIdentifier != "" && in.DBInstanceIdentifier != "" {
		return nil, "", invalidCombination("DBSnapshotIdentifier and DBInstanceIdentifier cannot both be given.")
	}
	match, err := recordFilter(in.Filters, map[string]func(*snapshotRecord, string) []string{
		"db-instance-id": func(sn *snapshotRecord, _ string) []string {
			return []string{sn.InstanceIdentifier, s.instanceArn(sn.InstanceIdentifier)}
		},
		"db-snapshot-id":  func(sn *snapshotRecord, arn string) []string { return []string{sn.Identifier, arn} },
		"dbi-resource-id": func(sn *snapshotRecord, _ string) []string { return []string{sn.DbiResourceID} },
		"snapshot-type":   func(sn *snapshotRecord, _ string) []string { return []string{sn.Type} },
		"engine":          func(sn *snapshotRecord, _ string) []string { return []string{sn.Engine} },
	})
	if err != nil {
		return nil, "", err
	}
	instance := ""
	if in.DBInstanceIdentifier != "" {
		if instance, err = s.scope().Identifier(TypeInstance, "DBInstanceIdentifier", in.DBInstanceIdentifier); err != nil {
			return nil, "", err
		}
	}
	after, err := decodeMarker(in.Page.Marker)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.DBSnapshotIdentifier != "" {
		sn, err := s.findSnapshotLocked("DBSnapshotIdentifier", in.DBSnapshotIdentifier)
		if err != nil {
			return nil, "", err
		}
		if !match(sn, s.snapshotArn(sn.Identifier)) {
			return nil, "", snapshotNotFound(in.DBSnapshotIdentifier)
		}
		return []DBSnapshot{*s.describeSnapshotLocked(sn)}, "", nil
	}
	ids := make([]string, 0, len(s.snapshots))
	for id := range s.snapshots {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []DBSnapshot
	for _, id := range ids {
		sn := s.snapshots[id]
		switch {
		case id <= after,
			instance != "" && sn.InstanceIdentifier != instance,
			in.DbiResourceId != "" && sn.DbiResourceID != in.DbiResourceId,
			in.SnapshotType != "" && sn.Type != in.SnapshotType,
			!match(sn, s.snapshotArn(id)):
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DBSnapshotIdentifier), nil
		}
		out = append(out, *s.describeSnapshotLocked(sn))
	}
	return out, "", nil
}

func (s *Service) describeSnapshotLocked(sn *snapshotRecord) *DBSnapshot {
	d := &DBSnapshot{
		DBSnapshotIdentifier:       sn.Identifier,
		DBSnapshotArn:              s.snapshotArn(sn.Identifier),
		DBInstanceIdentifier:       sn.InstanceIdentifier,
		DbiResourceId:              sn.DbiResourceID,
		SnapshotCreateTime:         sn.CreateTime,
		OriginalSnapshotCreateTime: sn.OriginalCreateTime,
		Engine:                     sn.Engine,
		EngineVersion:              sn.EngineVersion,
		AllocatedStorage:           sn.AllocatedStorage,
		StorageType:                sn.StorageType,
		Iops:                       sn.Iops,
		StorageThroughput:          sn.StorageThroughput,
		Status:                     sn.Status,
		Port:                       sn.Port,
		InstanceCreateTime:         sn.InstanceCreateTime,
		MasterUsername:             sn.MasterUsername,
		SnapshotType:               sn.Type,
		SourceDBSnapshotIdentifier: sn.SourceSnapshot,
		BackupRetentionPeriod:      sn.BackupRetentionPeriod,
		TagList:                    append([]Tag{}, sn.Tags...),
	}
	if sn.SourceSnapshot != "" {
		d.SourceRegion = s.cfg.Region
	}
	switch {
	case sn.Status == SnapshotAvailable:
		d.PercentProgress = 100
	case s.snapshotWork[sn.Identifier] != nil:
		d.PercentProgress = max(0, s.snapshotWork[sn.Identifier].percent())
	}
	return d
}

// DeleteDBSnapshot deletes a manual snapshot and its files.
func (s *Service) DeleteDBSnapshot(ctx context.Context, ref string) (*DBSnapshot, error) {
	s.lock()
	defer s.unlock()
	sn, err := s.findSnapshotLocked("DBSnapshotIdentifier", ref)
	if err != nil {
		return nil, err
	}
	if sn.Type != SnapshotManual {
		return nil, invalidSnapshotState("Only manual snapshots may be deleted. %s is an automated snapshot; it goes with its automated backups.", sn.Identifier)
	}
	if sn.Status == SnapshotCreating {
		return nil, invalidSnapshotState("DB snapshot %s is being created; it can be deleted once it is available.", sn.Identifier)
	}
	if err := s.snapshotInUseLocked(sn); err != nil {
		return nil, err
	}
	d := s.describeSnapshotLocked(sn)
	d.Status = SnapshotDeleted
	if err := s.dropSnapshotLocked(ctx, sn, "Manual DB snapshot deleted"); err != nil {
		return nil, err
	}
	return d, nil
}

// snapshotInUseLocked refuses to remove a snapshot an instance is being
// restored from, or a copy is being made of.
func (s *Service) snapshotInUseLocked(sn *snapshotRecord) error {
	for _, r := range s.instances {
		if r.RestoreSnapshot == sn.Identifier {
			return invalidSnapshotState("DB instance %s is being restored from DB snapshot %s.", r.Identifier, sn.Identifier)
		}
	}
	arn := s.snapshotArn(sn.Identifier)
	for _, other := range s.snapshots {
		if other.SourceSnapshot == arn && other.Status == SnapshotCreating {
			return invalidSnapshotState("DB snapshot %s is being copied to %s.", sn.Identifier, other.Identifier)
		}
	}
	return nil
}

// dropSnapshotLocked deletes a snapshot's record, then its files. Files
// left behind by a removal that failed are found and removed at the next
// start (sweepSnapshotDirs).
func (s *Service) dropSnapshotLocked(ctx context.Context, sn *snapshotRecord, message string) error {
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Delete(kindSnapshot, sn.Identifier); err != nil {
			return err
		}
		return tx.AddEvent(s.snapshotEvent(sn, deletion(message)))
	}); err != nil {
		return err
	}
	delete(s.snapshots, sn.Identifier)
	dir := s.snapshotPath(sn)
	s.outsideLocked(func() {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Error("remove deleted DB snapshot's files", "snapshot", sn.Identifier, "dir", dir, "err", err)
		}
	})
	return nil
}

// sweepSnapshotDirs removes the directories under snapshots/ that no
// snapshot owns: what a deletion could not remove, or a snapshot whose
// record was never saved.
func (s *Service) sweepSnapshotDirs() {
	root := filepath.Join(s.backupDir, "snapshots")
	entries, err := os.ReadDir(root)
	if err != nil {
		if !os.IsNotExist(err) {
			s.log.Warn("list DB snapshot directories", "dir", root, "err", err)
		}
		return
	}
	owned := map[string]bool{}
	for _, sn := range s.snapshots {
		owned[sn.Dir] = true
	}
	for _, e := range entries {
		if !owned[e.Name()] {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				s.log.Warn("remove orphaned DB snapshot directory", "dir", e.Name(), "err", err)
			}
		}
	}
}

// CopySnapshotInput holds the members of CopyDBSnapshot.
type CopySnapshotInput struct {
	SourceDBSnapshotIdentifier string
	TargetDBSnapshotIdentifier string
	Tags                       []Tag
	CopyTags                   bool
}

// CopyDBSnapshot copies a snapshot, manual or automated, to a new manual
// snapshot. The copy shares the source's files (they never change) and
// outlives it.
func (s *Service) CopyDBSnapshot(ctx context.Context, in CopySnapshotInput) (*DBSnapshot, error) {
	target, err := userSnapshotName("TargetDBSnapshotIdentifier", in.TargetDBSnapshotIdentifier)
	if err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	src, err := s.findSnapshotLocked("SourceDBSnapshotIdentifier", in.SourceDBSnapshotIdentifier)
	if err != nil {
		return nil, err
	}
	if src.Status != SnapshotAvailable {
		return nil, invalidSnapshotState("DB snapshot %s is %s; only an available snapshot can be copied.", src.Identifier, src.Status)
	}
	if s.snapshots[target] != nil {
		return nil, snapshotExists(target)
	}
	next := src.clone()
	sn := &next
	sn.Version = store.Version{}
	sn.Identifier, sn.Type, sn.Status, sn.Dir, sn.Size, sn.Message = target, SnapshotManual, SnapshotCreating, newSnapshotDir(), 0, ""
	sn.CreateTime = time.Now().UTC()
	sn.SourceSnapshot = s.snapshotArn(src.Identifier)
	sn.RestoreAccounts = nil
	sn.Tags = in.Tags
	if in.CopyTags && len(in.Tags) == 0 {
		sn.Tags = slices.Clone(src.Tags)
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		return s.putSnapshot(tx, sn, creation("Copying DB snapshot "+src.Identifier))
	}); err != nil {
		return nil, err
	}
	s.snapshots[target] = sn
	s.goWork(func(ctx context.Context) { s.copySnapshotFiles(ctx, target) })
	return s.describeSnapshotLocked(sn), nil
}

// copySnapshotFiles makes the files of a copy being created: hard links to
// the source's, or copies where links cannot be made. Idempotent.
func (s *Service) copySnapshotFiles(ctx context.Context, id string) {
	s.lock()
	sn := s.snapshots[id]
	if sn == nil || sn.Status != SnapshotCreating {
		s.unlock()
		return
	}
	srcID, _ := s.scope().Identifier(TypeSnapshot, "SourceDBSnapshotIdentifier", sn.SourceSnapshot)
	src := s.snapshots[srcID]
	err := errors.New("its source DB snapshot " + srcID + " no longer exists")
	var from string
	if src != nil && src.Status == SnapshotAvailable {
		from, err = s.snapshotPath(src), nil
	}
	to := s.snapshotPath(sn)
	s.unlock()
	if err == nil {
		err = os.RemoveAll(to)
	}
	if err == nil {
		err = linkTree(from, to)
	}
	s.lock()
	defer s.unlock()
	if s.snapshots[id] != sn || sn.Status != SnapshotCreating {
		return
	}
	status, ev := SnapshotAvailable, creation("DB snapshot copied")
	if err != nil {
		if rerr := os.RemoveAll(to); rerr != nil {
			s.log.Error("remove failed DB snapshot copy", "snapshot", id, "err", rerr)
		}
		status, ev = SnapshotFailed, failure("DB snapshot copy failed: "+engine.Explain(err))
	}
	if serr := s.updateSnapshotLocked(sn, func(next *snapshotRecord) note {
		next.Status = status
		if err != nil {
			next.Message = engine.Explain(err)
		} else if src != nil {
			next.Size = src.Size
		}
		return ev
	}); serr != nil {
		s.log.Error("save DB snapshot", "snapshot", id, "err", serr)
	}
}

// linkTree makes dst a tree of hard links to the regular files under src,
// copying a file where a link cannot be made.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			if err := os.Link(path, target); err == nil || !errors.Is(err, syscall.EXDEV) {
				return err
			}
			return engine.CopyFile(path, target, nil)
		}
		return nil
	})
}

// ModifyDBSnapshotAttribute adds accounts to, or removes them from, the
// restore attribute of a manual snapshot. teal keeps the list and shows it;
// restores are this account's own.
func (s *Service) ModifyDBSnapshotAttribute(ctx context.Context, ref, name string, add, remove []string) (string, []DBSnapshotAttribute, error) {
	if name == "" {
		return "", nil, missing("AttributeName")
	}
	if name != restoreAttribute {
		return "", nil, invalidValue("Invalid snapshot attribute name: %s. The only attribute is %s.", name, restoreAttribute)
	}
	for _, v := range append(slices.Clone(add), remove...) {
		if v != "all" && !accountIDRE.MatchString(v) {
			return "", nil, invalidValue("Invalid value %q for the restore attribute: give AWS account IDs (12 digits) or all.", v)
		}
	}
	s.lock()
	defer s.unlock()
	sn, err := s.findSnapshotLocked("DBSnapshotIdentifier", ref)
	if err != nil {
		return "", nil, err
	}
	if sn.Type != SnapshotManual {
		return "", nil, invalidSnapshotState("Automated snapshot %s cannot be shared; copy it to a manual snapshot first.", sn.Identifier)
	}
	accounts := slices.DeleteFunc(slices.Clone(sn.RestoreAccounts), func(a string) bool { return slices.Contains(remove, a) })
	for _, a := range add {
		if !slices.Contains(accounts, a) {
			accounts = append(accounts, a)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(accounts), func(a string) bool { return a == "all" })); n > 20 {
		return "", nil, fault("SharedSnapshotQuotaExceeded", http.StatusBadRequest,
			"A DB snapshot can be shared with at most 20 accounts; %s would be shared with %d.", sn.Identifier, n)
	}
	if err := s.updateSnapshotLocked(sn, func(next *snapshotRecord) note {
		next.RestoreAccounts = accounts
		return note{}
	}); err != nil {
		return "", nil, err
	}
	return sn.Identifier, snapshotAttributes(sn), nil
}

// DescribeDBSnapshotAttributes returns a snapshot's restore attribute.
func (s *Service) DescribeDBSnapshotAttributes(ctx context.Context, ref string) (string, []DBSnapshotAttribute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, err := s.findSnapshotLocked("DBSnapshotIdentifier", ref)
	if err != nil {
		return "", nil, err
	}
	return sn.Identifier, snapshotAttributes(sn), nil
}

func snapshotAttributes(sn *snapshotRecord) []DBSnapshotAttribute {
	return []DBSnapshotAttribute{{AttributeName: restoreAttribute, AttributeValues: slices.Clone(sn.RestoreAccounts)}}
}
