package rds

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mathrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/proxy"
	"github.com/tealdb/teal/internal/store"
	"github.com/tealdb/teal/internal/supervisor"
	"github.com/tealdb/teal/internal/tlsca"
)

// Config configures a Service.
type Config struct {
	DataDir   string
	Region    string
	AccountID string
	Engines   []engine.Engine
	// Credential is the OS user database servers run as; nil runs them as teal's own user.
	Credential *syscall.Credential
	Logger     *slog.Logger
	// SwitchoverHook, if set, is called as each switchover phase starts,
	// and as each step of a DB cluster's failover starts (with the
	// cluster's identifier and the Failover* phases).
	SwitchoverHook func(deployment, phase string)
	// Forwarding says how endpoints forward connections: ForwardKernel,
	// ForwardTeal, or ForwardAuto ("" too), which uses the kernel where
	// teal may (it needs CAP_NET_ADMIN) and teal otherwise.
	Forwarding string
	// EndpointAddress is the IPv4 address of this host every endpoint
	// listens on ("" is 127.0.0.1); EndpointHostname is what
	// Endpoint.Address says and the servers' certificate names ("" is the
	// address).
	EndpointAddress  string
	EndpointHostname string
	// BackupDir holds DB snapshots and automated backups ("" is the
	// backups directory of DataDir).
	BackupDir string
	// BackupInterval is how often an instance's changes are archived
	// (0: DefaultBackupInterval), and BackupDay how long a day of backup
	// retention lasts (0: 24 hours; shorter in tests).
	BackupInterval time.Duration
	BackupDay      time.Duration
}

// How endpoints forward connections (proxy/kernel.go).
const (
	ForwardAuto   = "auto"
	ForwardKernel = "kernel"
	ForwardTeal   = "teal"
)

// Service owns teal's DB instances and parameter groups. Its state lives in
// memory, guarded by mu, and every change is written through to the store
// before it becomes visible. Work that takes time (creating, rebooting,
// deleting servers) runs in background goroutines tracked by wg; the
// instance status says what is under way.
type Service struct {
	cfg                       Config
	instancesDir              string // where each instance's files live, by DbiResourceId
	backupDir                 string // where snapshots and automated backups live
	backupInterval, backupDay time.Duration
	// backupKick wakes the backup loop before its next scan.
	backupKick chan struct{}
	log        *slog.Logger
	store      *store.Store
	sup        *supervisor.Supervisor
	proxy      *proxy.Manager
	engines    map[string]engine.Engine

	// wmu is the writer lock: every change to the records below holds it,
	// from the first read to the publication, so changes never interleave.
	// mu guards memory: readers hold it alone; a writer holds it too,
	// except while its change is being saved (commitLocked), so no reader
	// waits for the store's disk.
	wmu       sync.Mutex
	writing   bool // a writer holds wmu and mu
	mu        sync.Mutex
	instances map[string]*instanceRecord // by DbiResourceId
	groups    map[string]*groupRecord    // by name
	clusters  map[string]*clusterRecord  // by DbClusterResourceId
	// clusterGroups are the DB cluster parameter groups, by name.
	clusterGroups map[string]*groupRecord
	deployments   map[string]*deploymentRecord // by identifier
	snapshots     map[string]*snapshotRecord   // DB snapshots, by identifier
	snapshotWork  map[string]*snapshotWork     // the snapshots being taken, not persisted
	restoreWork   map[string]*snapshotWork     // the instances being restored, by DbiResourceId
	backups       map[string]*backupRecord     // automated backups, by DbiResourceId
	live          map[string]*deploymentLive   // what the monitor last measured
	unsaved       map[string]string            // what a deployment is doing or waits for, not persisted
	provisions    map[string]*provision        // the green builds under way
	configLocks   map[string]*sync.Mutex       // by DbiResourceId: one writer of a configuration file at a time

	// subnetGroups, securityGroups and optionGroups are the DB subnet
	// groups, DB security groups and option groups, by name.
	subnetGroups   map[string]*subnetGroupRecord
	securityGroups map[string]*securityGroupRecord
	optionGroups   map[string]*optionGroupRecord

	users osUsers // each instance's OS user

	switchoverHook func(deployment, phase string)
	metrics        *serviceMetrics

	// ca issues the servers' certificate; serverTLS is the current one
	// (guarded by mu), for the endpoints' hostnames.
	ca        *tlsca.CA
	serverTLS *engine.TLS
	tlsExpiry time.Time

	supEvents chan supervisor.Event
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// instanceRecord is the persisted state of a DB instance.
type instanceRecord struct {
	store.Version
	ResourceID            string
	Identifier            string
	Engine                string
	EngineVersion         string
	Class                 string
	AllocatedStorage      int
	StorageType           string
	MasterUsername        string
	MasterVerifier        string `json:",omitempty"` // the engine's verifier of the master password, never the password
	DBName                string
	ParameterGroup        string
	PendingReboot         bool
	Applied               map[string]string // parameter values in the server's configuration
	Status                string
	Port                  int // endpoint port
	ServerPort            int // the server's own port
	DeletionProtection    bool
	BackupRetentionPeriod int
	Tags                  []Tag
	CreateTime            time.Time
	SourceResourceID      string `json:",omitempty"` // set on read replicas
	// ClusterResourceID is the DbClusterResourceId of the DB cluster the
	// instance belongs to; a reader of a cluster is a read replica of its
	// writer.
	ClusterResourceID string `json:",omitempty"`
	// Reclone: the instance's data is copied again from its source before
	// it next starts (a cluster member after a failover).
	Reclone bool `json:",omitempty"`
	// ReadOnly makes the server refuse writes by default
	// (default_transaction_read_only): a green instance until switchover,
	// an old blue until its next reboot.
	ReadOnly bool `json:",omitempty"`
	// RestoreSnapshot is the DB snapshot an instance being created is
	// restored from.
	RestoreSnapshot string `json:",omitempty"`
	// FinalSnapshot is the DB snapshot a deletion takes before the server
	// goes, and StopSnapshot the one a stop takes.
	FinalSnapshot string `json:",omitempty"`
	StopSnapshot  string `json:",omitempty"`
	// RestoreArchive and RestoreTarget: an instance being created from
	// RestoreSnapshot replays the archive of that DbiResourceId up to the
	// target (a point-in-time restore).
	RestoreArchive string    `json:",omitempty"`
	RestoreTarget  time.Time `json:",omitzero"`
	// KeepBackups: an instance being deleted leaves its automated backups
	// retained.
	KeepBackups bool `json:",omitempty"`
	// instanceSettings are the windows, storage performance, monitoring
	// and other settings RDS keeps on an instance (settings.go).
	instanceSettings
	// SubnetGroup and OptionGroup are the instance's DB subnet group and
	// option group, "" for the defaults; VpcSecurityGroups (EC2 ids) and
	// SecurityGroups (DB security groups) are kept as given, and decide
	// nothing about access (netgroups.go).
	SubnetGroup       string   `json:",omitempty"`
	OptionGroup       string   `json:",omitempty"`
	VpcSecurityGroups []string `json:",omitempty"`
	SecurityGroups    []string `json:",omitempty"`

	// LegacyMasterPassword is how older versions of teal kept the password
	// of an instance being created; load replaces it with a verifier.
	LegacyMasterPassword string `json:"MasterPassword,omitempty"`
}

// serverConfig is what an instance's server configuration holds: the
// parameter values and teal's overrides.
func serverConfig(r *instanceRecord, params map[string]string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	if r.ReadOnly {
		out["default_transaction_read_only"] = "on"
	}
	return out
}

// setForwarding chooses how endpoints forward, before any is opened.
func (s *Service) setForwarding(mode string) error {
	switch mode {
	case ForwardTeal:
	case ForwardKernel:
		if err := s.proxy.EnableKernelPath(); err != nil {
			return err
		}
	case "", ForwardAuto:
		if err := s.proxy.EnableKernelPath(); err != nil {
			s.log.Info("endpoints forward through teal", "why", err)
			return nil
		}
	default:
		return fmt.Errorf("forwarding %q: want %s, %s or %s", mode, ForwardAuto, ForwardKernel, ForwardTeal)
	}
	if s.proxy.KernelPath() {
		s.log.Info("endpoints forward in the kernel")
	}
	return nil
}

// Open loads the state from cfg.DataDir, opens every endpoint and starts
// every database server. It returns once the servers are starting; each
// instance turns available when its server is ready.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	instancesDir, err := prepareDataDir(cfg.DataDir, cfg.Credential)
	if err != nil {
		return nil, err
	}
	ca, err := tlsca.Open(filepath.Join(cfg.DataDir, "ca"))
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "teal.db"))
	if err != nil {
		return nil, err
	}
	backupDir := cfg.BackupDir
	if backupDir == "" {
		backupDir = filepath.Join(cfg.DataDir, "backups")
	}
	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	s := &Service{
		cfg:            cfg,
		instancesDir:   instancesDir,
		backupDir:      backupDir,
		backupInterval: cmp.Or(cfg.BackupInterval, DefaultBackupInterval),
		backupDay:      cmp.Or(cfg.BackupDay, defaultBackupDay),
		backupKick:     make(chan struct{}, 1),
		log:            cfg.Logger,
		store:          st,
		proxy:          proxy.NewManager(cfg.Logger),
		engines:        map[string]engine.Engine{},
		instances:      map[string]*instanceRecord{},
		groups:         map[string]*groupRecord{},
		clusters:       map[string]*clusterRecord{},
		clusterGroups:  map[string]*groupRecord{},
		deployments:    map[string]*deploymentRecord{},
		snapshots:      map[string]*snapshotRecord{},
		snapshotWork:   map[string]*snapshotWork{},
		restoreWork:    map[string]*snapshotWork{},
		backups:        map[string]*backupRecord{},
		subnetGroups:   map[string]*subnetGroupRecord{},
		securityGroups: map[string]*securityGroupRecord{},
		optionGroups:   map[string]*optionGroupRecord{},
		live:           map[string]*deploymentLive{},
		unsaved:        map[string]string{},
		metrics:        newServiceMetrics(),
		provisions:     map[string]*provision{},
		configLocks:    map[string]*sync.Mutex{},
		supEvents:      make(chan supervisor.Event, 256),

		switchoverHook: cfg.SwitchoverHook,
		ca:             ca,
	}
	if err := s.issueServerCert(); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sup = supervisor.New(cfg.Logger, func(e supervisor.Event) {
		select {
		case s.supEvents <- e:
		case <-s.ctx.Done():
		}
	})
	for _, e := range cfg.Engines {
		s.engines[e.Name()] = e
	}
	if err := s.setEndpointAddress(); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	if err := s.setForwarding(cfg.Forwarding); err != nil {
		st.Close()
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		st.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.watchServers()
	s.resume()
	s.goWork(s.monitorDeployments)
	s.goWork(s.renewServerCerts)
	s.goWork(s.backupLoop)
	return s, nil
}

func (s *Service) load(ctx context.Context) error {
	for _, e := range s.engines {
		for _, b := range e.Builds() {
			name := "default." + b.Family()
			if _, ok := s.groups[name]; !ok {
				s.groups[name] = &groupRecord{Name: name, Family: b.Family(), Engine: e.Name(),
					Description: "Default parameter group for " + b.Family(), Default: true}
			}
		}
	}
	if e := s.engines[auroraPostgres]; e != nil {
		for _, b := range e.Builds() {
			name := "default." + b.Family()
			s.clusterGroups[name] = &groupRecord{Name: name, Family: b.Family(), Engine: e.Name(),
				Description: "Default cluster parameter group for " + b.Family(), Default: true}
		}
	}
	if err := s.loadNetGroups(ctx); err != nil {
		return err
	}
	for _, k := range []groupKind{dbGroupKind, clusterGroupKind} {
		groups, err := store.List[groupRecord](ctx, s.store, k.storeKind())
		if err != nil {
			return err
		}
		for i := range groups {
			s.groupsOf(k)[groups[i].Name] = &groups[i]
		}
	}
	clusters, err := store.List[clusterRecord](ctx, s.store, kindCluster)
	if err != nil {
		return err
	}
	for i := range clusters {
		s.clusters[clusters[i].ResourceID] = &clusters[i]
	}
	insts, err := store.List[instanceRecord](ctx, s.store, store.KindInstance)
	if err != nil {
		return err
	}
	for i := range insts {
		r := &insts[i]
		if err := s.dropPlaintextPassword(ctx, r); err != nil {
			return err
		}
		s.instances[r.ResourceID] = r
	}
	snaps, err := store.List[snapshotRecord](ctx, s.store, kindSnapshot)
	if err != nil {
		return err
	}
	for i := range snaps {
		s.snapshots[snaps[i].Identifier] = &snaps[i]
	}
	s.sweepSnapshotDirs()
	backups, err := store.List[backupRecord](ctx, s.store, kindBackup)
	if err != nil {
		return err
	}
	for i := range backups {
		s.backups[backups[i].DbiResourceID] = &backups[i]
	}
	deps, err := store.List[deploymentRecord](ctx, s.store, kindDeployment)
	if err != nil {
		return err
	}
	for i := range deps {
		s.deployments[deps[i].ID] = &deps[i]
	}
	return nil
}

// dropPlaintextPassword upgrades a record an older teal saved with the
// master password itself: the password becomes the engine's verifier, and
// the record is saved again without it.
func (s *Service) dropPlaintextPassword(ctx context.Context, r *instanceRecord) error {
	if r.LegacyMasterPassword == "" {
		return nil
	}
	e := s.engines[r.Engine]
	if e == nil {
		return fmt.Errorf("instance %s: engine %s is not available to protect its stored password", r.Identifier, r.Engine)
	}
	v, err := e.PasswordVerifier(r.LegacyMasterPassword)
	if err != nil {
		return fmt.Errorf("instance %s: %w", r.Identifier, err)
	}
	upgraded := *r
	upgraded.MasterVerifier, upgraded.LegacyMasterPassword = v, ""
	if err := s.store.Update(ctx, func(tx *store.Tx) error {
		return tx.Put(store.KindInstance, r.ResourceID, &upgraded)
	}); err != nil {
		return fmt.Errorf("instance %s: save without its password: %w", r.Identifier, err)
	}
	*r = upgraded
	return nil
}

// resume brings every instance back after a start: servers are started,
// interrupted creations redone, interrupted deletions finished.
func (s *Service) resume() {
	s.lock()
	defer s.unlock()
	// Green instances of a deployment still being created are rebuilt by
	// the deployment, not on their own.
	rebuilt := map[string]bool{}
	for _, d := range s.deployments {
		if d.Status == bluegreen.StatusProvisioning {
			for _, m := range d.Members {
				rebuilt[m.Green] = true
			}
		}
	}
	s.resumeClustersLocked()
	for _, r := range s.sortedLocked() {
		if _, err := s.openEndpoint(r.Identifier, r.Port, r.Engine); err != nil {
			s.log.Error("open endpoint", "instance", r.Identifier, "port", r.Port, "err", err)
		}
		id := r.ResourceID
		switch {
		case rebuilt[id]:
		case r.Reclone:
			r.Status = StatusRebooting
			s.goWork(func(ctx context.Context) { s.reclone(ctx, id) })
		case r.Status == StatusCreating && r.RestoreSnapshot != "":
			s.goWork(func(ctx context.Context) { s.provisionFromSnapshot(ctx, id) })
		case r.Status == StatusCreating:
			if c := s.clusters[r.ClusterResourceID]; c != nil && c.Stored && r.SourceResourceID == "" {
				s.goWork(func(ctx context.Context) { s.provisionFromStorage(ctx, id) })
			} else if r.SourceResourceID != "" {
				s.goWork(func(ctx context.Context) { s.provisionReplica(ctx, id) })
			} else {
				s.goWork(func(ctx context.Context) { s.provision(ctx, id) })
			}
		case r.Status == StatusDeleting:
			s.goWork(func(ctx context.Context) { s.finishDelete(ctx, id) })
		case r.Status == StatusStopped:
			// It stays stopped until StartDBInstance.
		case r.Status == StatusStopping:
			s.goWork(func(ctx context.Context) { s.stop(ctx, id) })
		default:
			r.Status = StatusStarting
			s.goWork(func(ctx context.Context) { s.startServer(ctx, id, note{}) })
		}
	}
	for id, d := range s.deployments {
		s.resumeDeploymentLocked(id, d)
	}
	s.resumeSnapshotsLocked()
}

// Close stops every database server and endpoint and closes the store. The
// instances keep their recorded status, so the next Open brings them back.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = s.sup.Close(ctx)
		s.wg.Wait()
		s.proxy.Close()
		if cerr := s.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// goWork runs background work that Close waits for.
func (s *Service) goWork(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// watchServers turns supervisor events into instance status: a crashed
// server makes its instance failed and its endpoint refuse connections;
// once the supervisor has restarted it, the instance is available again.
func (s *Service) watchServers() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e := <-s.supEvents:
			s.onServerEvent(e)
		}
	}
}

func (s *Service) onServerEvent(e supervisor.Event) {
	s.lock()
	defer s.unlock()
	r := s.instances[e.Name]
	if r == nil {
		return
	}
	switch e.Kind {
	case supervisor.Exited:
		if r.Status != StatusAvailable {
			return
		}
		s.unrouteLocked(r)
		s.metrics.restarts.WithLabelValues(r.ResourceID).Inc()
		msg := "The database server stopped unexpectedly and is being restarted"
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
		s.settleStatusLocked(r, StatusFailed, failure(msg))
	case supervisor.Ready:
		if r.Status != StatusFailed {
			return
		}
		s.routeLocked(r, nil, availability("The database server was restarted after a crash and is available"))
	}
}

// routeLocked points r's endpoint at its server and makes r available with
// message, reporting whether it could; applied, when not nil, is what the
// server's configuration now holds. A server that runs but that its
// endpoint cannot reach is not available: r is failed, and a reboot tries
// again.
func (s *Service) routeLocked(r *instanceRecord, applied map[string]string, ev note) bool {
	var err error
	name, backend := r.Identifier, r.backend()
	s.outsideLocked(func() { err = s.proxy.SetTarget(name, backend) })
	if err != nil {
		s.settleStatusLocked(r, StatusFailed, failure("DB instance's endpoint cannot route to its server: "+engine.Explain(err)))
		return false
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		if applied != nil {
			next.Applied, next.PendingReboot = applied, false
		}
		next.Status = StatusAvailable
		return ev
	}); err != nil {
		// Its server runs and its endpoint routes to it; the store says
		// otherwise, and the next start makes it so again.
		s.log.Error("save available DB instance", "instance", r.Identifier, "err", err)
		return false
	}
	s.routeClusterOfLocked(r)
	return true
}

// unrouteLocked stops r's endpoint from routing to its server. If that
// fails, connections still reach the server until it stops: worth a
// warning, not a failure.
func (s *Service) unrouteLocked(r *instanceRecord) {
	var err error
	name := r.Identifier
	s.outsideLocked(func() { err = s.proxy.SetTarget(name, "") })
	if err != nil {
		s.log.Warn("stop routing to a server", "instance", r.Identifier, "err", err)
	}
	s.routeClusterOfLocked(r)
}

// clone copies r so that no map or slice is shared with it.
func (r *instanceRecord) clone() instanceRecord {
	c := *r
	c.Applied = maps.Clone(r.Applied)
	c.Tags = slices.Clone(r.Tags)
	c.VpcSecurityGroups = slices.Clone(r.VpcSecurityGroups)
	c.SecurityGroups = slices.Clone(r.SecurityGroups)
	return c
}

// updateInstanceLocked changes an instance the safe way: change is made to
// a copy, the copy is saved with the note change returns, and only then
// does memory take it. A failed save leaves the instance as it was.
func (s *Service) updateInstanceLocked(r *instanceRecord, change func(next *instanceRecord) note) error {
	next := r.clone()
	ev := change(&next)
	if err := s.saveLocked(&next, ev); err != nil {
		return fmt.Errorf("save DB instance %s: %w", r.Identifier, err)
	}
	*r = next
	if next.Status == StatusAvailable && s.backups[next.ResourceID] == nil && s.archivesLocked(r) {
		// An instance's automated backups show from when it is available.
		select {
		case s.backupKick <- struct{}{}:
		default:
		}
	}
	return nil
}

// setStatusLocked saves a status change together with its event, then
// publishes it.
func (s *Service) setStatusLocked(r *instanceRecord, status string, ev note) error {
	return s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.Status = status
		return ev
	})
}

// settleStatusLocked is setStatusLocked for the outcome of work in the
// background, which has no caller to tell: a failed save is logged, and
// memory keeps saying what the store says, which the next start takes up.
func (s *Service) settleStatusLocked(r *instanceRecord, status string, ev note) {
	if err := s.setStatusLocked(r, status, ev); err != nil {
		s.log.Error("save DB instance status", "instance", r.Identifier, "status", status, "err", err)
	}
}

// lock takes the writer lock, then memory's; unlock releases both.
func (s *Service) lock() {
	s.wmu.Lock()
	s.mu.Lock()
	s.writing = true
}

func (s *Service) unlock() {
	s.writing = false
	s.mu.Unlock()
	s.wmu.Unlock()
}

// commitLocked runs fn in one store transaction. A writer lets readers
// in while the transaction commits, which waits for the disk: it still
// holds the writer lock, and publishes what it saved only afterwards, so
// readers see memory as it was before the change until then. Memory's
// lock is held again when commitLocked returns.
func (s *Service) commitLocked(ctx context.Context, fn func(*store.Tx) error) error {
	if !s.writing {
		return s.store.Update(ctx, fn)
	}
	s.mu.Unlock()
	defer s.mu.Lock()
	return s.store.Update(ctx, fn)
}

// outsideLocked runs fn, which changes no record (a call to the proxy that
// reaches the kernel), with memory's lock released if a writer holds it, as
// commitLocked does.
func (s *Service) outsideLocked(fn func()) {
	if !s.writing {
		fn()
		return
	}
	s.mu.Unlock()
	defer s.mu.Lock()
	fn()
}

// saveLocked persists r, and ev when it has a message.
func (s *Service) saveLocked(r *instanceRecord, ev note) error {
	return s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Put(store.KindInstance, r.ResourceID, r); err != nil {
			return err
		}
		if ev.message == "" {
			return nil
		}
		return tx.AddEvent(s.instanceEvent(r, ev))
	})
}

func (s *Service) instanceEvent(r *instanceRecord, ev note) store.Event {
	return store.Event{SourceType: "db-instance", SourceID: r.Identifier, SourceArn: s.instanceArn(r.Identifier),
		Message: ev.message, Categories: []string{ev.category}}
}

func (s *Service) instanceArn(id string) string { return s.scope().ARN(TypeInstance, id) }

func (s *Service) groupArn(name string) string { return s.scope().ARN(TypeParameterGroup, name) }

func (r *instanceRecord) backend() string { return fmt.Sprintf("127.0.0.1:%d", r.ServerPort) }

// layout says where an instance's server lives.
func (s *Service) layout(r *instanceRecord) (engine.Layout, error) {
	e := s.engines[r.Engine]
	if e == nil {
		return engine.Layout{}, fmt.Errorf("engine %s is not available", r.Engine)
	}
	b, err := engine.Resolve(e.Builds(), r.EngineVersion)
	if err != nil || b.Version != r.EngineVersion {
		return engine.Layout{}, fmt.Errorf("%s %s is no longer installed", r.Engine, r.EngineVersion)
	}
	cred, err := s.serverCredentialLocked(r)
	if err != nil {
		return engine.Layout{}, err
	}
	dir := filepath.Join(s.instancesDir, r.ResourceID)
	archive := ""
	if s.archivesLocked(r) {
		archive = filepath.Join(dir, "archive-spool")
	}
	return engine.Layout{
		ArchiveDir: archive,
		Build:      b,
		DataDir:    filepath.Join(dir, "data"),
		SocketDir:  s.socketDir(r.ResourceID),
		Port:       r.ServerPort,
		LogPath:    filepath.Join(dir, "server.log"),
		Credential: cred,
		TLS:        s.serverTLS,
	}, nil
}

// socketDir is the private directory of an instance's Unix socket. Socket
// paths are limited to 107 bytes, so a deep data directory falls back to a
// short directory under /tmp named after it.
func (s *Service) socketDir(resourceID string) string {
	dir := filepath.Join(s.instancesDir, resourceID, "run")
	if len(dir)+len("/.s.PGSQL.65535") < 100 {
		return dir
	}
	sum := sha256.Sum256([]byte(s.cfg.DataDir))
	return filepath.Join(os.TempDir(), "teal-"+hex.EncodeToString(sum[:6]), resourceID)
}

// serverRoot holds the instances of a data directory that the servers' OS
// user cannot reach (for example one under /root).
const serverRoot = "/var/lib/teal"

// prepareDataDir creates the data directory and returns where the
// instances' files live. When database servers run as another OS user, that
// user must reach those files: the directories teal owns are traversable
// (0711) but not listable, and if an ancestor of the data directory is
// closed to that user, the instances live under /var/lib/teal instead, with
// <data-dir>/instances a link to them.
func prepareDataDir(dir string, cred *syscall.Credential) (string, error) {
	if dir == "" {
		return "", errors.New("no data directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	perm := os.FileMode(0o700)
	if cred != nil {
		perm = 0o711
	}
	if err := mkdirPerm(abs, perm); err != nil {
		return "", err
	}
	instances := filepath.Join(abs, "instances")
	if cred != nil {
		if closed := closedAncestor(abs, cred); closed != "" {
			fi, err := os.Lstat(instances)
			if err == nil && fi.Mode()&os.ModeSymlink == 0 {
				return "", fmt.Errorf("database servers run as uid %d, which cannot reach %s: %s is not traversable (chmod o+x %s)",
					cred.Uid, instances, closed, closed)
			}
			sum := sha256.Sum256([]byte(abs))
			target := filepath.Join(serverRoot, "instances-"+hex.EncodeToString(sum[:6]))
			if err := mkdirPerm(serverRoot, 0o711); err != nil {
				return "", err
			}
			if err := mkdirPerm(target, perm); err != nil {
				return "", err
			}
			if os.IsNotExist(err) {
				if err := os.Symlink(target, instances); err != nil {
					return "", fmt.Errorf("data directory: %w", err)
				}
			}
			return target, nil
		}
	}
	if err := mkdirPerm(instances, perm); err != nil {
		return "", err
	}
	return instances, nil
}

func mkdirPerm(d string, perm os.FileMode) error {
	if err := os.MkdirAll(d, perm); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(d, perm); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

// closedAncestor is the first ancestor of dir the user cannot traverse, or "".
func closedAncestor(dir string, cred *syscall.Credential) string {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return p
		}
		st := fi.Sys().(*syscall.Stat_t)
		traversable := fi.Mode().Perm()&0o001 != 0 ||
			(st.Uid == cred.Uid && fi.Mode().Perm()&0o100 != 0) ||
			(st.Gid == cred.Gid && fi.Mode().Perm()&0o010 != 0)
		if !traversable {
			return p
		}
		if p == "/" {
			return ""
		}
	}
}

// newResourceID makes a DbiResourceId: "db-" and 26 characters of [A-Z2-7].
func newResourceID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return "db-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// freeServerPortLocked finds a free port on 127.0.0.1 for a new server.
// A port another instance's server owns is never given, even while that
// server is stopped: its endpoint still routes there. The server binds the
// port only after initdb, a second or more later, so it comes from below
// the kernel's ephemeral range: one from that range can be taken meanwhile
// as the source port of any outgoing connection.
func (s *Service) freeServerPortLocked() (int, error) {
	owned := map[int]bool{}
	for _, r := range s.instances {
		owned[r.ServerPort] = true
	}
	low := ephemeralLow()
	for range 64 {
		p := 0
		if low > 11024 {
			p = 10000 + mathrand.IntN(low-10000)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		p = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !owned[p] {
			return p, nil
		}
	}
	return 0, errors.New("find a free port for the server: none found in 64 tries")
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low < 1024 {
		return 32768
	}
	return low
}

// findLocked finds an instance by identifier or ARN. The reference is read
// as the API reads it before authorizing (Scope.Identifier), so an ARN of
// another region, account or resource type, or one that is not well formed,
// finds nothing.
func (s *Service) findLocked(idOrArn string) *instanceRecord {
	id, err := s.scope().Identifier(TypeInstance, "DBInstanceIdentifier", idOrArn)
	if err != nil {
		return nil
	}
	for _, r := range s.instances {
		if r.Identifier == id {
			return r
		}
	}
	return nil
}

func (s *Service) sortedLocked() []*instanceRecord {
	out := make([]*instanceRecord, 0, len(s.instances))
	for _, r := range s.instances {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Identifier < out[j].Identifier })
	return out
}

func (s *Service) replicasLocked(resourceID string) []*instanceRecord {
	var out []*instanceRecord
	for _, r := range s.sortedLocked() {
		if r.SourceResourceID == resourceID {
			out = append(out, r)
		}
	}
	return out
}

// slotName is the replication slot of a read replica on its source.
func slotName(replicaResourceID string) string {
	return "teal_" + strings.ToLower(strings.ReplaceAll(replicaResourceID, "-", "_"))
}

// Engines lists the engines the service runs.
func (s *Service) Engines() []engine.Engine {
	out := make([]engine.Engine, 0, len(s.engines))
	for _, e := range s.engines {
		out = append(out, e)
	}
	return out
}

// Store is the service's metadata store. internal/auth keeps the access keys
// in it too, so that one crash-safe file holds all of teal's state.
func (s *Service) Store() *store.Store { return s.store }

// openEndpoint opens (or keeps) an identifier's endpoint and tells the proxy
// the engine's protocol, so that a switchover can drain its sessions between
// transactions.
func (s *Service) openEndpoint(name string, port int, engineName string) (int, error) {
	p, err := s.proxy.Open(name, port)
	if err != nil {
		return 0, err
	}
	if engine.IsPostgres(engineName) {
		if err := s.proxy.SetProtocol(name, proxy.ProtocolPostgres); err != nil {
			return 0, err
		}
	}
	return p, nil
}
