package rds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// Blue/green deployments: the API and the persisted record. Creating the
// green environment is in bluegreen_create.go, watching it in
// bluegreen_monitor.go, the switchover in bluegreen_switchover.go.

const kindDeployment = "blue-green-deployment"

// BlueGreenDeployment is the description DescribeBlueGreenDeployments returns.
type BlueGreenDeployment struct {
	BlueGreenDeploymentIdentifier string
	BlueGreenDeploymentName       string
	Source                        string
	Target                        string
	SwitchoverDetails             []SwitchoverDetail
	Tasks                         []bluegreen.Task
	Status                        string
	StatusDetails                 string
	CreateTime                    time.Time
	DeleteTime                    *time.Time
	TagList                       []Tag
	// Beyond RDS: what the monitor measured and what the preflight found.
	ReplicaLagSeconds float64
	ReplicaLagBytes   int64
	Findings          []bluegreen.Finding
	SwitchoverPhase   string
	SwitchoverTimings map[string]float64 // milliseconds per phase of the last switchover
}

// SwitchoverDetail is one blue member and its green twin.
type SwitchoverDetail struct {
	SourceMember string
	TargetMember string
	Status       string
}

// CreateBlueGreenInput holds the members of CreateBlueGreenDeployment.
type CreateBlueGreenInput struct {
	BlueGreenDeploymentName    string
	Source                     string // ARN of the blue DB instance or DB cluster
	TargetEngineVersion        string
	TargetDBParameterGroupName string
	// TargetDBClusterParameterGroupName is the green cluster's group,
	// when Source is a DB cluster.
	TargetDBClusterParameterGroupName string
	TargetDBInstanceClass             string
	Tags                              []Tag
	TargetStorage
}

// deploymentRecord is the persisted state of a deployment.
type deploymentRecord struct {
	store.Version
	ID            string
	Name          string
	Status        string
	StatusDetails string
	Tasks         []bluegreen.Task
	Members       []memberRecord // the primary first
	Upgrade       bool
	Tags          []Tag
	CreateTime    time.Time
	Findings      []bluegreen.Finding
	// Baseline is blue's schema when replication started; a change means
	// DDL that replication does not carry.
	Baseline     *engine.SchemaState
	Degraded     string
	Switchover   *deployment.Switchover `json:",omitempty"`
	DeleteTarget bool                   `json:",omitempty"` // asked for when the deployment is being deleted
	// Cluster pairs the blue DB cluster with its green twin when the
	// Source is a cluster; Members are then its instances, the writer
	// first.
	Cluster *clusterPair `json:",omitempty"`
}

// clusterPair is a blue DB cluster and its green twin, by
// DbClusterResourceId.
type clusterPair struct {
	Blue, Green string
}

// memberRecord pairs a blue instance with its green twin, by DbiResourceId
// (names change at switchover).
type memberRecord struct {
	Blue    string
	Green   string
	Replica bool
	Status  string
}

// deploymentLive is what the monitor last measured; it is not persisted.
type deploymentLive struct {
	status engine.ReplicationStatus
	at     time.Time
	err    error
}

func deploymentNotFound(id string) *Fault {
	return fault("BlueGreenDeploymentNotFoundFault", http.StatusNotFound, "BlueGreenDeployment %s not found.", id)
}

func invalidDeploymentState(format string, args ...any) *Fault {
	return fault("InvalidBlueGreenDeploymentStateFault", http.StatusBadRequest, format, args...)
}

func sourceNotSupported(format string, args ...any) *Fault {
	return fault("SourceDatabaseNotSupportedFault", http.StatusBadRequest, format, args...)
}

func (s *Service) deploymentArn(id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:deployment:%s", s.cfg.Region, s.cfg.AccountID, id)
}

// updateDeploymentLocked changes a deployment the safe way: change is made
// to a copy, the copy is saved, and only then does memory take it. A failed
// save leaves the deployment as it was, in memory and in the store.
func (s *Service) updateDeploymentLocked(d *deploymentRecord, change func(next *deploymentRecord) note) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("copy deployment %s: %w", d.ID, err)
	}
	var next deploymentRecord
	if err := json.Unmarshal(raw, &next); err != nil {
		return fmt.Errorf("copy deployment %s: %w", d.ID, err)
	}
	ev := change(&next)
	if err := s.saveDeploymentLocked(&next, ev); err != nil {
		return err
	}
	*d = next
	return nil
}

// saveDeploymentLocked persists d, and ev when it has a message.
func (s *Service) saveDeploymentLocked(d *deploymentRecord, ev note) error {
	return s.commitLocked(s.ctx, func(tx *store.Tx) error {
		if err := tx.Put(kindDeployment, d.ID, d); err != nil {
			return err
		}
		if ev.message == "" {
			return nil
		}
		return tx.AddEvent(s.deploymentEvent(d, ev))
	})
}

func (s *Service) deploymentEvent(d *deploymentRecord, ev note) store.Event {
	return store.Event{SourceType: "blue-green-deployment", SourceID: d.ID, SourceArn: s.deploymentArn(d.ID),
		Message: ev.message, Categories: []string{ev.category}}
}

// memberOfLocked finds the deployment an instance belongs to, and whether
// it is on the green side.
func (s *Service) memberOfLocked(rid string) (*deploymentRecord, bool) {
	for _, d := range s.deployments {
		if d.Status == bluegreen.StatusSwitchoverCompleted {
			continue
		}
		for _, m := range d.Members {
			if m.Blue == rid {
				return d, false
			}
			if m.Green == rid {
				return d, true
			}
		}
	}
	return nil, false
}

// DescribeBlueGreenDeployments lists deployments, or one by identifier.
// Filters: blue-green-deployment-identifier, blue-green-deployment-name,
// source, target.
func (s *Service) DescribeBlueGreenDeployments(ctx context.Context, id string, filters []Filter, page Page) ([]BlueGreenDeployment, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	for _, f := range filters {
		switch f.Name {
		case "blue-green-deployment-identifier", "blue-green-deployment-name", "source", "target":
		default:
			return nil, "", invalidValue("Unrecognized filter name: %s. Supported filters: blue-green-deployment-identifier, blue-green-deployment-name, source, target.", f.Name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" {
		d := s.deployments[strings.ToLower(id)]
		if d == nil {
			return nil, "", deploymentNotFound(id)
		}
		return []BlueGreenDeployment{s.describeDeploymentLocked(d)}, "", nil
	}
	ids := make([]string, 0, len(s.deployments))
	for k := range s.deployments {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	var out []BlueGreenDeployment
	for _, k := range ids {
		if k <= after {
			continue
		}
		desc := s.describeDeploymentLocked(s.deployments[k])
		if !filtersMatch(filters, map[string]string{"blue-green-deployment-identifier": desc.BlueGreenDeploymentIdentifier,
			"blue-green-deployment-name": desc.BlueGreenDeploymentName, "source": desc.Source, "target": desc.Target}) {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].BlueGreenDeploymentIdentifier), nil
		}
		out = append(out, desc)
	}
	return out, "", nil
}

func (s *Service) clusterArnOfLocked(rid string) string {
	if c := s.clusters[rid]; c != nil {
		return s.clusterArn(c.Identifier)
	}
	return ""
}

func (s *Service) arnOfLocked(rid string) string {
	if r := s.instances[rid]; r != nil {
		return s.instanceArn(r.Identifier)
	}
	return ""
}

func (s *Service) describeDeploymentLocked(d *deploymentRecord) BlueGreenDeployment {
	out := BlueGreenDeployment{
		BlueGreenDeploymentIdentifier: d.ID,
		BlueGreenDeploymentName:       d.Name,
		Tasks:                         append([]bluegreen.Task(nil), d.Tasks...),
		Status:                        d.Status,
		StatusDetails:                 d.StatusDetails,
		CreateTime:                    d.CreateTime,
		TagList:                       append([]Tag{}, d.Tags...),
		Findings:                      d.Findings,
	}
	if d.Switchover != nil {
		out.SwitchoverPhase = d.Switchover.Phase
		out.SwitchoverTimings = d.Switchover.Timings
		if d.Status == bluegreen.StatusSwitchoverInProgress {
			out.StatusDetails = "Switchover phase: " + d.Switchover.Phase
			if u := s.unsaved[d.ID]; u != "" {
				out.StatusDetails += "; " + u
			}
		}
	}
	if len(d.Members) > 0 {
		out.Source, out.Target = s.arnOfLocked(d.Members[0].Blue), s.arnOfLocked(d.Members[0].Green)
	}
	if d.Cluster != nil {
		out.Source, out.Target = s.clusterArnOfLocked(d.Cluster.Blue), s.clusterArnOfLocked(d.Cluster.Green)
		det := SwitchoverDetail{SourceMember: out.Source, TargetMember: out.Target, Status: bluegreen.MemberProvisioning}
		if len(d.Members) > 0 {
			det.Status = d.Members[0].Status
		}
		switch {
		case d.Status == bluegreen.StatusSwitchoverCompleted:
		case s.clusters[d.Cluster.Green] == nil:
			det.Status = bluegreen.MemberMissingTgt
		case s.clusters[d.Cluster.Blue] == nil:
			det.Status = bluegreen.MemberMissingSrc
		}
		out.SwitchoverDetails = append(out.SwitchoverDetails, det)
	}
	for _, m := range d.Members {
		det := SwitchoverDetail{SourceMember: s.arnOfLocked(m.Blue), TargetMember: s.arnOfLocked(m.Green), Status: m.Status}
		switch {
		case d.Status == bluegreen.StatusSwitchoverCompleted:
		case s.instances[m.Green] == nil && m.Green != "":
			det.Status = bluegreen.MemberMissingTgt
		case s.instances[m.Blue] == nil:
			det.Status = bluegreen.MemberMissingSrc
		}
		out.SwitchoverDetails = append(out.SwitchoverDetails, det)
	}
	if live := s.live[d.ID]; live != nil && live.err == nil {
		out.ReplicaLagSeconds, out.ReplicaLagBytes = live.status.LagSeconds, live.status.LagBytes
		if d.Status == bluegreen.StatusAvailable && d.Degraded == "" && out.StatusDetails == "" {
			distance := fmt.Sprintf("%d bytes", live.status.LagBytes)
			if r := s.instances[d.Members[0].Blue]; r != nil && r.Engine == "mariadb" {
				distance = fmt.Sprintf("%d transactions (GTID)", live.status.LagTransactions)
			}
			out.StatusDetails = fmt.Sprintf("Replicating: lag %.3f s, %s", live.status.LagSeconds, distance)
		}
	}
	if p := s.unsaved[d.ID]; p != "" && d.Status == bluegreen.StatusProvisioning && out.StatusDetails == "" {
		out.StatusDetails = "Creating the green environment: " + p
	}
	if d.Degraded != "" && (d.Status == bluegreen.StatusAvailable || d.Status == bluegreen.StatusProvisioning) {
		out.StatusDetails = "Replication degraded: " + d.Degraded
	}
	return out
}
