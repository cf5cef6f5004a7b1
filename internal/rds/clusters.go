package rds

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// A DB cluster (engine aurora-postgresql) is a writer instance and reader
// instances that follow it by physical replication, behind endpoints that
// belong to the cluster rather than to an instance: the cluster (writer)
// endpoint reaches the current writer, through failovers; the reader
// endpoint spreads new connections over the available readers, or reaches
// the writer when there are none; custom endpoints spread them over their
// own members. Members are ordinary instances (instanceRecord) that name
// their cluster; a reader is a read replica of the writer. Aurora's shared
// storage is not copied: a reader has its own copy of the data, cloned
// from the writer's files, not through SQL.

const kindCluster = "db-cluster"

// Cluster statuses, as RDS names them, beyond the instances' ones.
const StatusFailingOver = "failing-over"

// auroraPostgres is the engine of DB clusters; aurora-mysql needs a MySQL
// server, which teal cannot run.
const (
	auroraPostgres = "aurora-postgresql"
	auroraMySQL    = "aurora-mysql"
)

// clusterRecord is the persisted state of a DB cluster.
type clusterRecord struct {
	store.Version
	ResourceID            string // "cluster-" and 26 characters; never changes
	Identifier            string
	Engine                string
	EngineVersion         string
	MasterUsername        string
	MasterVerifier        string // the engine's verifier of the master password
	DatabaseName          string
	ParameterGroup        string // DB cluster parameter group
	Status                string
	Port                  int // the cluster (writer) endpoint
	ReaderPort            int // the reader endpoint
	DeletionProtection    bool
	BackupRetentionPeriod int
	Tags                  []Tag
	CreateTime            time.Time
	// Writer is the DbiResourceId of the writer instance; "" until the
	// first instance is added.
	Writer string `json:",omitempty"`
	// Custom are the custom endpoints.
	Custom []customEndpoint `json:",omitempty"`
	// Stored: the cluster has no instance, and keeps the data of its last
	// writer in its own directory (clusterStorage) until an instance is
	// added, which starts from it, as Aurora's storage outlives the
	// cluster's instances.
	Stored bool `json:",omitempty"`
}

// customEndpoint is a custom endpoint of a cluster: a port that spreads
// connections over a list of its instances.
type customEndpoint struct {
	Identifier string
	ResourceID string
	Type       string   // READER or ANY
	Static     []string `json:",omitempty"` // DbiResourceIds; when given, the members
	Excluded   []string `json:",omitempty"` // DbiResourceIds left out of every other instance
	Port       int
	Tags       []Tag `json:",omitempty"`
}

func (c *clusterRecord) clone() clusterRecord {
	n := *c
	n.Tags = slices.Clone(c.Tags)
	n.Custom = make([]customEndpoint, len(c.Custom))
	for i, e := range c.Custom {
		e.Static, e.Excluded, e.Tags = slices.Clone(e.Static), slices.Clone(e.Excluded), slices.Clone(e.Tags)
		n.Custom[i] = e
	}
	return n
}

// The names of a cluster's endpoints in the proxy, apart from the
// instances' own (which are instance identifiers, without a colon).
func writerEndpointName(cluster string) string { return "cluster:" + cluster }
func readerEndpointName(cluster string) string { return "cluster-ro:" + cluster }
func customEndpointName(id string) string      { return "cluster-custom:" + id }

// DBCluster is the description of a DB cluster, as DescribeDBClusters
// returns it.
type DBCluster struct {
	DBClusterIdentifier     string
	DbClusterResourceId     string
	DBClusterArn            string
	Engine                  string
	EngineVersion           string
	Status                  string
	MasterUsername          string
	DatabaseName            string
	DBClusterParameterGroup string
	// Endpoint is the cluster (writer) endpoint's host, reached on Port.
	// ReaderEndpoint and CustomEndpoints are "host:port": each endpoint
	// of a cluster has a port of its own on teal's endpoint address.
	Endpoint              string
	ReaderEndpoint        string
	CustomEndpoints       []string
	Port                  int
	DBClusterMembers      []ClusterMember
	DeletionProtection    bool
	BackupRetentionPeriod int
	ClusterCreateTime     time.Time
	TagList               []Tag
	StorageEncrypted      bool
	MultiAZ               bool
}

// ClusterMember is a DBClusterMember.
type ClusterMember struct {
	DBInstanceIdentifier          string
	IsClusterWriter               bool
	DBClusterParameterGroupStatus string
	PromotionTier                 int
}

// CreateDBClusterInput holds the members of CreateDBCluster teal uses.
type CreateDBClusterInput struct {
	DBClusterIdentifier         string
	Engine                      string
	EngineVersion               string
	MasterUsername              string
	MasterUserPassword          string
	DatabaseName                string
	DBClusterParameterGroupName string
	Port                        int
	BackupRetentionPeriod       *int
	DeletionProtection          bool
	Tags                        []Tag
}

// ModifyDBClusterInput holds the members of ModifyDBCluster teal uses.
type ModifyDBClusterInput struct {
	DBClusterIdentifier         string
	NewDBClusterIdentifier      string
	DBClusterParameterGroupName string
	MasterUserPassword          string
	DeletionProtection          *bool
	BackupRetentionPeriod       *int
}

func clusterExists() *Fault {
	return fault("DBClusterAlreadyExistsFault", http.StatusBadRequest, "DB Cluster already exists")
}

func invalidClusterState(format string, args ...any) *Fault {
	return fault("InvalidDBClusterStateFault", http.StatusBadRequest, format, args...)
}

// available refuses a change to a cluster that is not available.
func (c *clusterRecord) available() error {
	if c.Status != StatusAvailable {
		return invalidClusterState("DB cluster %s is in state %s; it must be available.", c.Identifier, c.Status)
	}
	return nil
}

// newClusterResourceID makes a DbClusterResourceId: "cluster-" and 26
// characters of [A-Z2-7].
func newClusterResourceID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return "cluster-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

func (s *Service) clusterArn(id string) string { return s.scope().ARN(TypeCluster, id) }

// findClusterLocked finds a cluster by identifier or ARN, read as
// findLocked reads an instance's.
func (s *Service) findClusterLocked(idOrArn string) *clusterRecord {
	id, err := s.scope().Identifier(TypeCluster, "DBClusterIdentifier", idOrArn)
	if err != nil {
		return nil
	}
	for _, c := range s.clusters {
		if c.Identifier == id {
			return c
		}
	}
	return nil
}

func (s *Service) sortedClustersLocked() []*clusterRecord {
	out := make([]*clusterRecord, 0, len(s.clusters))
	for _, c := range s.clusters {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *clusterRecord) int { return strings.Compare(a.Identifier, b.Identifier) })
	return out
}

// membersLocked are a cluster's instances, by identifier.
func (s *Service) membersLocked(clusterRID string) []*instanceRecord {
	var out []*instanceRecord
	for _, r := range s.sortedLocked() {
		if r.ClusterResourceID == clusterRID {
			out = append(out, r)
		}
	}
	return out
}

// saveClusterLocked persists c, and ev when it has a message.
func (s *Service) saveClusterLocked(c *clusterRecord, ev note) error {
	return s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Put(kindCluster, c.ResourceID, c); err != nil {
			return err
		}
		if ev.message == "" {
			return nil
		}
		return tx.AddEvent(s.clusterEvent(c, ev))
	})
}

func (s *Service) clusterEvent(c *clusterRecord, ev note) store.Event {
	return store.Event{SourceType: "db-cluster", SourceID: c.Identifier, SourceArn: s.clusterArn(c.Identifier),
		Message: ev.message, Categories: []string{ev.category}}
}

// updateClusterLocked changes a cluster as updateInstanceLocked changes an
// instance: on a copy, saved, then published.
func (s *Service) updateClusterLocked(c *clusterRecord, change func(next *clusterRecord) note) error {
	next := c.clone()
	ev := change(&next)
	if err := s.saveClusterLocked(&next, ev); err != nil {
		return fmt.Errorf("save DB cluster %s: %w", c.Identifier, err)
	}
	*c = next
	return nil
}

// CreateDBCluster creates a cluster with no instance yet: its endpoints
// open at once, and route once CreateDBInstance adds a writer.
func (s *Service) CreateDBCluster(ctx context.Context, in CreateDBClusterInput) (*DBCluster, error) {
	id := strings.ToLower(in.DBClusterIdentifier)
	if err := validIdentifier("DBClusterIdentifier", id, 63); err != nil {
		return nil, err
	}
	switch in.Engine {
	case "":
		return nil, missing("Engine")
	case auroraPostgres:
	case auroraMySQL:
		return nil, invalidValue("Engine aurora-mysql is not available: teal runs DB clusters on PostgreSQL (aurora-postgresql); no MySQL server is installed.")
	default:
		return nil, invalidValue("Invalid DB engine for a DB cluster: %s. teal's DB clusters use aurora-postgresql.", in.Engine)
	}
	e := s.engines[in.Engine]
	if e == nil {
		return nil, invalidValue("Engine %s is not available: no PostgreSQL build is installed.", in.Engine)
	}
	b, err := engine.Resolve(e.Builds(), in.EngineVersion)
	if err != nil {
		return nil, invalidCombination("Cannot find version %s for %s", in.EngineVersion, in.Engine)
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
	if err := validDBName(in.DatabaseName); err != nil {
		return nil, err
	}
	retention := 1
	if in.BackupRetentionPeriod != nil {
		retention = *in.BackupRetentionPeriod
	}
	if retention < 1 || retention > 35 {
		return nil, invalidValue("The parameter BackupRetentionPeriod must be between 1 and 35: %d.", retention)
	}
	if err := validPort(in.Port); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}

	s.lock()
	defer s.unlock()
	group, err := s.clusterGroupForLocked(in.DBClusterParameterGroupName, b)
	if err != nil {
		return nil, err
	}
	if s.findClusterLocked(id) != nil {
		return nil, clusterExists()
	}
	c := &clusterRecord{
		ResourceID:            newClusterResourceID(),
		Identifier:            id,
		Engine:                in.Engine,
		EngineVersion:         b.Version,
		MasterUsername:        in.MasterUsername,
		MasterVerifier:        verifier,
		DatabaseName:          in.DatabaseName,
		ParameterGroup:        group,
		Status:                StatusAvailable,
		DeletionProtection:    in.DeletionProtection,
		BackupRetentionPeriod: retention,
		Tags:                  in.Tags,
		CreateTime:            time.Now().UTC(),
	}
	if err := s.openClusterEndpointsLocked(c, in.Port); err != nil {
		return nil, err
	}
	if err := s.saveClusterLocked(c, creation("DB cluster created")); err != nil {
		s.closeClusterEndpoints(c)
		return nil, err
	}
	s.clusters[c.ResourceID] = c
	return s.describeClusterLocked(c), nil
}

// openClusterEndpointsLocked opens the writer and reader endpoints of a
// new cluster name (the writer's on port, 0 for a free one) and records
// their ports in c.
func (s *Service) openClusterEndpointsLocked(c *clusterRecord, port int) error {
	p, err := s.openEndpoint(writerEndpointName(c.Identifier), port, c.Engine)
	if err != nil {
		return invalidValue("Cannot listen on port %d for the endpoint of %s: %v", port, c.Identifier, err)
	}
	rp, err := s.openEndpoint(readerEndpointName(c.Identifier), 0, c.Engine)
	if err != nil {
		s.proxy.CloseEndpoint(writerEndpointName(c.Identifier))
		return fmt.Errorf("open the reader endpoint of %s: %w", c.Identifier, err)
	}
	c.Port, c.ReaderPort = p, rp
	return nil
}

func (s *Service) closeClusterEndpoints(c *clusterRecord) {
	for _, name := range []string{writerEndpointName(c.Identifier), readerEndpointName(c.Identifier)} {
		if err := s.proxy.CloseEndpoint(name); err != nil {
			s.log.Warn("close cluster endpoint", "endpoint", name, "err", err)
		}
	}
}

// routeClusterLocked points a cluster's endpoints at its members as they
// now are: the writer endpoint at the writer when its own endpoint routes
// to it, the reader endpoint at the readers whose endpoints route, or the
// writer when none does, and each custom endpoint at its members.
func (s *Service) routeClusterLocked(c *clusterRecord) {
	var writer string
	var readers []string
	routed := map[string]string{} // DbiResourceId -> backend
	for _, m := range s.membersLocked(c.ResourceID) {
		t := s.proxy.Target(m.Identifier)
		if t == "" || (m.Status != StatusAvailable && m.Status != StatusModifying) {
			continue
		}
		routed[m.ResourceID] = t
		if m.ResourceID == c.Writer {
			writer = t
		} else {
			readers = append(readers, t)
		}
	}
	targets := map[string][]string{writerEndpointName(c.Identifier): nil, readerEndpointName(c.Identifier): readers}
	if writer != "" {
		targets[writerEndpointName(c.Identifier)] = []string{writer}
		if len(readers) == 0 {
			targets[readerEndpointName(c.Identifier)] = []string{writer}
		}
	}
	for _, ce := range c.Custom {
		var to []string
		for _, rid := range s.customMembersLocked(c, ce) {
			if t := routed[rid]; t != "" {
				to = append(to, t)
			}
		}
		targets[customEndpointName(ce.Identifier)] = to
	}
	s.outsideLocked(func() {
		for name, to := range targets {
			if err := s.proxy.SetTargets(name, to); err != nil {
				s.log.Warn("route cluster endpoint", "endpoint", name, "err", err)
			}
		}
	})
}

// routeClusterOfLocked routes the endpoints of r's cluster, if it has one.
func (s *Service) routeClusterOfLocked(r *instanceRecord) {
	if r.ClusterResourceID == "" {
		return
	}
	if c := s.clusters[r.ClusterResourceID]; c != nil {
		s.routeClusterLocked(c)
	}
}

// customMembersLocked are the DbiResourceIds a custom endpoint spreads
// connections over: its static members, or else every instance of the
// cluster of its type that it does not exclude.
func (s *Service) customMembersLocked(c *clusterRecord, ce customEndpoint) []string {
	if len(ce.Static) > 0 {
		return ce.Static
	}
	var out []string
	for _, m := range s.membersLocked(c.ResourceID) {
		if slices.Contains(ce.Excluded, m.ResourceID) || ce.Type == "READER" && m.ResourceID == c.Writer {
			continue
		}
		out = append(out, m.ResourceID)
	}
	return out
}

func (s *Service) describeClusterLocked(c *clusterRecord) *DBCluster {
	host := s.endpointHostname()
	d := &DBCluster{
		DBClusterIdentifier:     c.Identifier,
		DbClusterResourceId:     c.ResourceID,
		DBClusterArn:            s.clusterArn(c.Identifier),
		Engine:                  c.Engine,
		EngineVersion:           c.EngineVersion,
		Status:                  c.Status,
		MasterUsername:          c.MasterUsername,
		DatabaseName:            c.DatabaseName,
		DBClusterParameterGroup: c.ParameterGroup,
		Endpoint:                host,
		ReaderEndpoint:          net.JoinHostPort(host, strconv.Itoa(c.ReaderPort)),
		Port:                    c.Port,
		DeletionProtection:      c.DeletionProtection,
		BackupRetentionPeriod:   c.BackupRetentionPeriod,
		ClusterCreateTime:       c.CreateTime,
		TagList:                 append([]Tag{}, c.Tags...),
	}
	for _, ce := range c.Custom {
		d.CustomEndpoints = append(d.CustomEndpoints, net.JoinHostPort(host, strconv.Itoa(ce.Port)))
	}
	for _, m := range s.membersLocked(c.ResourceID) {
		status := "in-sync"
		if m.PendingReboot {
			status = "pending-reboot"
		}
		d.DBClusterMembers = append(d.DBClusterMembers, ClusterMember{DBInstanceIdentifier: m.Identifier,
			IsClusterWriter: m.ResourceID == c.Writer, DBClusterParameterGroupStatus: status, PromotionTier: m.promotionTier()})
	}
	d.MultiAZ = len(d.DBClusterMembers) > 1
	return d
}

// DescribeDBClusters lists clusters: one by identifier or ARN, or those
// matching the filters, a page at a time.
func (s *Service) DescribeDBClusters(ctx context.Context, id string, filters []Filter, page Page) ([]DBCluster, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	match, err := clusterFilter(filters)
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
		c := s.findClusterLocked(id)
		if c == nil || !match(c, s.clusterArn(c.Identifier)) {
			return nil, "", clusterNotFound(id)
		}
		return []DBCluster{*s.describeClusterLocked(c)}, "", nil
	}
	var out []DBCluster
	for _, c := range s.sortedClustersLocked() {
		if c.Identifier <= after || !match(c, s.clusterArn(c.Identifier)) {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DBClusterIdentifier), nil
		}
		out = append(out, *s.describeClusterLocked(c))
	}
	return out, "", nil
}

// clusterFilter compiles DescribeDBClusters filters.
func clusterFilter(filters []Filter) (func(*clusterRecord, string) bool, error) {
	return recordFilter(filters, map[string]func(*clusterRecord, string) []string{
		"db-cluster-id":          func(c *clusterRecord, arn string) []string { return []string{c.Identifier, arn} },
		"db-cluster-resource-id": func(c *clusterRecord, _ string) []string { return []string{c.ResourceID} },
		"engine":                 func(c *clusterRecord, _ string) []string { return []string{c.Engine} },
	})
}

// ModifyDBCluster renames a cluster, changes its cluster parameter group,
// master password, deletion protection or backup retention.
func (s *Service) ModifyDBCluster(ctx context.Context, in ModifyDBClusterInput) (*DBCluster, error) {
	if in.DBClusterIdentifier == "" {
		return nil, missing("DBClusterIdentifier")
	}
	newID := strings.ToLower(in.NewDBClusterIdentifier)
	if newID != "" {
		if err := validIdentifier("NewDBClusterIdentifier", newID, 63); err != nil {
			return nil, err
		}
	}
	if in.MasterUserPassword != "" {
		if err := validMasterPassword(in.MasterUserPassword); err != nil {
			return nil, err
		}
	}
	if in.BackupRetentionPeriod != nil && (*in.BackupRetentionPeriod < 1 || *in.BackupRetentionPeriod > 35) {
		return nil, invalidValue("The parameter BackupRetentionPeriod must be between 1 and 35: %d.", *in.BackupRetentionPeriod)
	}

	s.lock()
	defer s.unlock()
	c := s.findClusterLocked(in.DBClusterIdentifier)
	if c == nil {
		return nil, clusterNotFound(in.DBClusterIdentifier)
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	next := c.clone()
	var events []string
	var group string
	if in.DBClusterParameterGroupName != "" {
		e := s.engines[c.Engine]
		b, err := engine.Resolve(e.Builds(), c.EngineVersion)
		if err != nil {
			return nil, err
		}
		if group, err = s.clusterGroupForLocked(in.DBClusterParameterGroupName, b); err != nil {
			return nil, err
		}
		if group != c.ParameterGroup {
			next.ParameterGroup = group
			events = append(events, "DB cluster parameter group changed to "+group)
		}
	}
	if newID != "" && newID != c.Identifier && s.findClusterLocked(newID) != nil {
		return nil, clusterExists()
	}
	// The password is set on the writer (its readers replicate it); the
	// writer's record and the cluster's keep its verifier.
	var writer *instanceRecord
	var nextWriter instanceRecord
	if in.MasterUserPassword != "" {
		writer = s.instances[c.Writer]
		if writer == nil || writer.Status != StatusAvailable {
			return nil, invalidClusterState("DB cluster %s has no available writer to set the master password on.", c.Identifier)
		}
		nextWriter = writer.clone()
		if err := s.setMasterPasswordLocked(ctx, &nextWriter, in.MasterUserPassword); err != nil {
			return nil, err
		}
		next.MasterVerifier = nextWriter.MasterVerifier
		events = append(events, "Master password changed")
	}
	if in.DeletionProtection != nil {
		next.DeletionProtection = *in.DeletionProtection
	}
	if in.BackupRetentionPeriod != nil {
		next.BackupRetentionPeriod = *in.BackupRetentionPeriod
	}
	old := *c
	renamed := newID != "" && newID != c.Identifier
	if renamed {
		next.Identifier = newID
		if err := s.openClusterEndpointsLocked(&next, 0); err != nil {
			return nil, err
		}
		events = append(events, fmt.Sprintf("Renamed cluster from %s to %s", c.Identifier, newID))
	}
	msg := strings.Join(events, "; ")
	if msg == "" {
		msg = "DB cluster modified"
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if writer != nil {
			if err := tx.Put(store.KindInstance, nextWriter.ResourceID, &nextWriter); err != nil {
				return err
			}
		}
		if err := tx.Put(kindCluster, next.ResourceID, &next); err != nil {
			return err
		}
		return tx.AddEvent(s.clusterEvent(&next, configuration(msg)))
	}); err != nil {
		if renamed {
			s.closeClusterEndpoints(&next)
		}
		return nil, err
	}
	if writer != nil {
		*writer = nextWriter
	}
	*c = next
	if renamed {
		s.closeClusterEndpoints(&old)
	}
	s.routeClusterLocked(c)
	if group != "" && group != old.ParameterGroup {
		s.applyClusterGroupLocked(c)
	}
	return s.describeClusterLocked(c), nil
}

// DeleteDBCluster deletes a cluster that has no instance left, as Aurora
// does: its instances are deleted first, one by one.
func (s *Service) DeleteDBCluster(ctx context.Context, id string, skipFinalSnapshot bool, finalSnapshot string) (*DBCluster, error) {
	if id == "" {
		return nil, missing("DBClusterIdentifier")
	}
	s.lock()
	defer s.unlock()
	c := s.findClusterLocked(id)
	if c == nil {
		return nil, clusterNotFound(id)
	}
	if c.DeletionProtection {
		return nil, invalidClusterState("Cannot delete protected Cluster, please disable deletion protection and try again.")
	}
	if err := checkFinalSnapshot(skipFinalSnapshot, finalSnapshot); err != nil {
		return nil, err
	}
	if n := len(s.membersLocked(c.ResourceID)); n > 0 {
		return nil, invalidClusterState("Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	if err := s.clusterInDeploymentLocked(c, "deleting it"); err != nil {
		return nil, err
	}
	d := s.describeClusterLocked(c)
	d.Status = StatusDeleting
	if err := s.dropClusterLocked(c, "DB cluster deleted"); err != nil {
		return nil, err
	}
	return d, nil
}

// clusterStorage is where a cluster without instances keeps its data.
func (s *Service) clusterStorage(c *clusterRecord) string {
	return filepath.Join(s.instancesDir, c.ResourceID, "data")
}

// keepsClusterDataLocked says where the data of an instance being deleted
// is kept: the cluster's storage when it is the last instance of its
// cluster, "" otherwise.
func (s *Service) keepsClusterDataLocked(r *instanceRecord) string {
	c := s.clusters[r.ClusterResourceID]
	if c == nil || c.Writer != r.ResourceID || len(s.membersLocked(c.ResourceID)) != 1 {
		return ""
	}
	return s.clusterStorage(c)
}

// keepData moves a stopped server's data directory to storage. It is
// idempotent: once moved, there is nothing left to move.
func keepData(dataDir, storage string) error {
	if _, err := os.Stat(dataDir); os.IsNotExist(err) {
		if _, err := os.Stat(storage); err == nil {
			return nil
		}
		return fmt.Errorf("keep the cluster's data: neither %s nor %s exists", dataDir, storage)
	}
	if err := os.MkdirAll(filepath.Dir(storage), 0o700); err != nil {
		return fmt.Errorf("keep the cluster's data: %w", err)
	}
	if err := os.RemoveAll(storage); err != nil {
		return fmt.Errorf("keep the cluster's data: %w", err)
	}
	if err := os.Rename(dataDir, storage); err != nil {
		return fmt.Errorf("keep the cluster's data: %w", err)
	}
	return nil
}

// dropClusterLocked deletes a cluster that has no instance left, and
// closes its endpoints.
func (s *Service) dropClusterLocked(c *clusterRecord, message string) error {
	if err := s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Delete(kindCluster, c.ResourceID); err != nil {
			return err
		}
		return tx.AddEvent(s.clusterEvent(c, deletion(message)))
	}); err != nil {
		return err
	}
	delete(s.clusters, c.ResourceID)
	if c.Stored {
		if err := os.RemoveAll(filepath.Dir(s.clusterStorage(c))); err != nil {
			s.log.Error("remove the data of a deleted DB cluster", "cluster", c.Identifier, "err", err)
		}
	}
	s.outsideLocked(func() {
		for _, name := range clusterEndpointNames(c) {
			if err := s.proxy.CloseEndpoint(name); err != nil {
				s.log.Warn("close cluster endpoint", "endpoint", name, "err", err)
			}
		}
	})
	return nil
}

// createClusterInstance adds an instance to a cluster: the first becomes
// its writer, created with the cluster's master user and database; the
// others are readers, cloned from the writer's files and following it.
func (s *Service) createClusterInstance(ctx context.Context, in CreateDBInstanceInput, settings instanceSettings) (*DBInstance, error) {
	id := strings.ToLower(in.DBInstanceIdentifier)
	if err := validInstanceIdentifier("DBInstanceIdentifier", id); err != nil {
		return nil, err
	}
	if in.Engine == "" {
		return nil, missing("Engine")
	}
	if err := validClass(in.DBInstanceClass, in.Engine); err != nil {
		return nil, err
	}
	if in.MasterUsername != "" || in.MasterUserPassword != "" {
		return nil, invalidCombination("The requested DB Instance will be a member of a DB Cluster. Set master user name and password for the DB Cluster.")
	}
	if in.DBName != "" {
		return nil, invalidCombination("The requested DB Instance will be a member of a DB Cluster. Set database name for the DB Cluster.")
	}
	if in.BackupRetentionPeriod != nil {
		return nil, invalidCombination("The requested DB Instance will be a member of a DB Cluster. Set backup retention period for the DB Cluster.")
	}
	if err := validPort(in.Port); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}

	s.lock()
	defer s.unlock()
	c := s.findClusterLocked(in.DBClusterIdentifier)
	if c == nil {
		return nil, clusterNotFound(in.DBClusterIdentifier)
	}
	if in.Engine != c.Engine {
		return nil, invalidCombination("The engine of the DB instance (%s) must be the engine of its DB cluster (%s).", in.Engine, c.Engine)
	}
	major := (engine.Build{Engine: c.Engine, Version: c.EngineVersion}).Major()
	if in.EngineVersion != "" && in.EngineVersion != c.EngineVersion && in.EngineVersion != major {
		return nil, invalidCombination("The engine version of the DB instance (%s) must be the DB cluster's (%s).", in.EngineVersion, c.EngineVersion)
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	e := s.engines[c.Engine]
	b, err := engine.Resolve(e.Builds(), c.EngineVersion)
	if err != nil || b.Version != c.EngineVersion {
		return nil, invalidClusterState("%s %s, the version of DB cluster %s, is no longer installed.", c.Engine, c.EngineVersion, c.Identifier)
	}
	group, err := s.groupForLocked(in.DBParameterGroupName, b)
	if err != nil {
		return nil, err
	}
	if s.findLocked(id) != nil {
		return nil, instanceExists(id)
	}
	writer := s.instances[c.Writer]
	if writer != nil && writer.Status != StatusAvailable {
		return nil, invalidClusterState("The writer of DB cluster %s is %s; a reader is added while it is available.", c.Identifier, writer.Status)
	}
	r := &instanceRecord{
		ResourceID:            newResourceID(),
		Identifier:            id,
		Engine:                c.Engine,
		EngineVersion:         c.EngineVersion,
		Class:                 in.DBInstanceClass,
		AllocatedStorage:      1, // Aurora storage grows by itself; RDS shows 1
		StorageType:           "aurora",
		MasterUsername:        c.MasterUsername,
		MasterVerifier:        c.MasterVerifier,
		DBName:                c.DatabaseName,
		ParameterGroup:        group,
		Status:                StatusCreating,
		DeletionProtection:    in.DeletionProtection,
		BackupRetentionPeriod: c.BackupRetentionPeriod,
		Tags:                  in.Tags,
		CreateTime:            time.Now().UTC(),
		ClusterResourceID:     c.ResourceID,
		instanceSettings:      settings,
	}
	next := c.clone()
	msg := "Added DB instance " + id + " to the DB cluster as its writer"
	if writer != nil {
		r.SourceResourceID = writer.ResourceID
		msg = "Added DB instance " + id + " to the DB cluster as a reader"
	} else {
		next.Writer = r.ResourceID
	}
	if err := s.openEndpointLocked(r, in.Port); err != nil {
		return nil, err
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Put(store.KindInstance, r.ResourceID, r); err != nil {
			return err
		}
		if err := tx.AddEvent(s.instanceEvent(r, creation("DB instance created in DB cluster "+c.Identifier))); err != nil {
			return err
		}
		if err := tx.Put(kindCluster, next.ResourceID, &next); err != nil {
			return err
		}
		return tx.AddEvent(s.clusterEvent(&next, configuration(msg)))
	}); err != nil {
		s.proxy.CloseEndpoint(id)
		return nil, err
	}
	*c = next
	s.instances[r.ResourceID] = r
	rid := r.ResourceID
	switch {
	case r.SourceResourceID != "":
		s.goWork(func(ctx context.Context) { s.provisionReplica(ctx, rid) })
	case c.Stored:
		s.goWork(func(ctx context.Context) { s.provisionFromStorage(ctx, rid) })
	default:
		s.goWork(func(ctx context.Context) { s.provision(ctx, rid) })
	}
	return s.describeLocked(r), nil
}

// provisionFromStorage makes a cluster's new writer from the data its
// last writer left: the data moves into the instance, becomes its OS
// user's, and its server starts. Idempotent: after a restart of teal the
// data is found where the last attempt left it.
func (s *Service) provisionFromStorage(ctx context.Context, rid string) {
	s.lock()
	r := s.instances[rid]
	if r == nil || s.clusters[r.ClusterResourceID] == nil {
		s.unlock()
		return
	}
	c := s.clusters[r.ClusterResourceID]
	l, err := s.layout(r)
	params := s.effectiveParamsLocked(r)
	config := serverConfig(r, params)
	e := s.engines[r.Engine]
	storage := s.clusterStorage(c)
	s.unlock()
	if err == nil {
		err = s.sup.Stop(ctx, rid)
	}
	if err == nil {
		for _, d := range []string{filepath.Dir(l.DataDir), l.SocketDir} {
			if err = mkdirFor(d, l); err != nil {
				break
			}
		}
	}
	if err == nil {
		if _, serr := os.Stat(storage); serr == nil {
			if err = os.RemoveAll(l.DataDir); err == nil {
				err = os.Rename(storage, l.DataDir)
			}
		}
	}
	if err == nil {
		if err = adoptFiles(l, l.DataDir); err == nil {
			if err = e.WriteConfig(l, config, nil); err == nil {
				err = s.sup.Start(ctx, rid, e.Spec(l))
			}
		}
	}
	s.lock()
	defer s.unlock()
	if r.Status != StatusCreating {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.settleStatusLocked(r, StatusFailed, failure("DB instance creation from the DB cluster's data failed: "+engine.Explain(err)))
		}
		return
	}
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		next.Stored = false
		return note{}
	}); err != nil {
		s.log.Error("save DB cluster", "cluster", c.Identifier, "err", err)
		return
	}
	s.routeLocked(r, params, creation("DB instance is available, with the DB cluster's data"))
}

// notClusterWriterLocked refuses to delete a cluster's writer while it has
// readers: a failover to one of them comes first.
func (s *Service) notClusterWriterLocked(r *instanceRecord) error {
	c := s.clusters[r.ClusterResourceID]
	if c == nil || c.Writer != r.ResourceID {
		return nil
	}
	if len(s.membersLocked(c.ResourceID)) > 1 {
		return invalidClusterState("DB instance %s is the writer of DB cluster %s, which has readers: fail over to one of them (FailoverDBCluster) before deleting it.",
			r.Identifier, c.Identifier)
	}
	return nil
}

// forgetMemberLocked takes a deleted instance out of its cluster: the
// cluster has no writer once its writer is gone. The caller saves c with
// the deletion.
func forgetMember(c *clusterRecord, rid string) {
	if c.Writer == rid {
		c.Writer = ""
	}
	for i := range c.Custom {
		c.Custom[i].Static = slices.DeleteFunc(c.Custom[i].Static, func(m string) bool { return m == rid })
		c.Custom[i].Excluded = slices.DeleteFunc(c.Custom[i].Excluded, func(m string) bool { return m == rid })
	}
}

// resumeClustersLocked opens every cluster's endpoints after a start, and
// finishes a failover teal stopped in the middle of: the records say
// which side it was on (failover.go).
func (s *Service) resumeClustersLocked() {
	for _, c := range s.sortedClustersLocked() {
		for name, port := range map[string]int{writerEndpointName(c.Identifier): c.Port, readerEndpointName(c.Identifier): c.ReaderPort} {
			if _, err := s.openEndpoint(name, port, c.Engine); err != nil {
				s.log.Error("open cluster endpoint", "endpoint", name, "port", port, "err", err)
			}
		}
		for _, ce := range c.Custom {
			if _, err := s.openEndpoint(customEndpointName(ce.Identifier), ce.Port, c.Engine); err != nil {
				s.log.Error("open cluster endpoint", "endpoint", ce.Identifier, "port", ce.Port, "err", err)
			}
		}
		if c.Status == StatusFailingOver {
			if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
				next.Status = StatusAvailable
				return failure("The failover was interrupted by a restart of teal; the DB cluster's writer is " + s.identifierOf(next.Writer))
			}); err != nil {
				s.log.Error("save DB cluster", "cluster", c.Identifier, "err", err)
			}
		}
	}
}

func (s *Service) identifierOf(rid string) string {
	if r := s.instances[rid]; r != nil {
		return r.Identifier
	}
	return "none"
}
