package rds

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Custom endpoints of DB clusters: each is a port of its own that spreads
// new connections over a list of the cluster's instances, given as static
// members, or as every instance of its type (READER or ANY) but the
// excluded ones, which then includes instances added later.

// maxCustomEndpoints is how many custom endpoints a cluster may have, as
// in Aurora.
const maxCustomEndpoints = 5

// DBClusterEndpoint is the description of a cluster endpoint.
type DBClusterEndpoint struct {
	DBClusterEndpointIdentifier         string
	DBClusterIdentifier                 string
	DBClusterEndpointResourceIdentifier string
	Endpoint                            string // "host:port"
	Status                              string
	EndpointType                        string // WRITER, READER or CUSTOM
	CustomEndpointType                  string // READER or ANY, for CUSTOM
	StaticMembers                       []string
	ExcludedMembers                     []string
	DBClusterEndpointArn                string
}

// ClusterEndpointInput holds the members of CreateDBClusterEndpoint and
// ModifyDBClusterEndpoint.
type ClusterEndpointInput struct {
	DBClusterIdentifier         string // create only
	DBClusterEndpointIdentifier string
	EndpointType                string
	StaticMembers               []string
	ExcludedMembers             []string
	Tags                        []Tag
}

func clusterEndpointExists(id string) *Fault {
	return fault("DBClusterEndpointAlreadyExistsFault", http.StatusBadRequest, "DB cluster endpoint %s already exists.", id)
}

// findCustomEndpointLocked finds a custom endpoint by identifier or ARN:
// its cluster and its index there.
func (s *Service) findCustomEndpointLocked(idOrArn string) (*clusterRecord, int) {
	id, err := s.scope().Identifier(TypeClusterEndpoint, "DBClusterEndpointIdentifier", idOrArn)
	if err != nil {
		return nil, -1
	}
	for _, c := range s.clusters {
		for i, ce := range c.Custom {
			if ce.Identifier == id {
				return c, i
			}
		}
	}
	return nil, -1
}

// membersOfLocked reads a list of instance identifiers of cluster c as
// DbiResourceIds.
func (s *Service) membersOfLocked(c *clusterRecord, param string, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		r := s.findLocked(id)
		if r == nil {
			return nil, instanceNotFound(id)
		}
		if r.ClusterResourceID != c.ResourceID {
			return nil, invalidValue("%s: DB instance %s is not a member of DB cluster %s.", param, r.Identifier, c.Identifier)
		}
		if !slices.Contains(out, r.ResourceID) {
			out = append(out, r.ResourceID)
		}
	}
	return out, nil
}

func validCustomType(t string) error {
	if t != "READER" && t != "ANY" {
		return invalidValue("Invalid EndpointType %s: a custom endpoint is READER or ANY.", t)
	}
	return nil
}

// CreateDBClusterEndpoint creates a custom endpoint of a cluster.
func (s *Service) CreateDBClusterEndpoint(ctx context.Context, in ClusterEndpointInput) (*DBClusterEndpoint, error) {
	id := strings.ToLower(in.DBClusterEndpointIdentifier)
	if in.DBClusterIdentifier == "" {
		return nil, missing("DBClusterIdentifier")
	}
	if err := validIdentifier("DBClusterEndpointIdentifier", id, 63); err != nil {
		return nil, err
	}
	if in.EndpointType == "" {
		return nil, missing("EndpointType")
	}
	if err := validCustomType(in.EndpointType); err != nil {
		return nil, err
	}
	if len(in.StaticMembers) > 0 && len(in.ExcludedMembers) > 0 {
		return nil, invalidCombination("StaticMembers and ExcludedMembers cannot be given together.")
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
	if err := c.available(); err != nil {
		return nil, err
	}
	if other, _ := s.findCustomEndpointLocked(id); other != nil {
		return nil, clusterEndpointExists(id)
	}
	if len(c.Custom) >= maxCustomEndpoints {
		return nil, fault("DBClusterEndpointQuotaExceededFault", http.StatusForbidden,
			"DB cluster %s has %d custom endpoints, the most it may have.", c.Identifier, maxCustomEndpoints)
	}
	static, err := s.membersOfLocked(c, "StaticMembers", in.StaticMembers)
	if err != nil {
		return nil, err
	}
	excluded, err := s.membersOfLocked(c, "ExcludedMembers", in.ExcludedMembers)
	if err != nil {
		return nil, err
	}
	port, err := s.openEndpoint(customEndpointName(id), 0, c.Engine)
	if err != nil {
		return nil, err
	}
	ce := customEndpoint{Identifier: id, ResourceID: strings.Replace(newClusterResourceID(), "cluster-", "cluster-endpoint-", 1),
		Type: in.EndpointType, Static: static, Excluded: excluded, Port: port, Tags: in.Tags}
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		next.Custom = append(next.Custom, ce)
		return creation("Created custom endpoint " + id)
	}); err != nil {
		s.proxy.CloseEndpoint(customEndpointName(id))
		return nil, err
	}
	s.routeClusterLocked(c)
	return s.describeCustomLocked(c, c.Custom[len(c.Custom)-1]), nil
}

// ModifyDBClusterEndpoint changes a custom endpoint's type or members.
func (s *Service) ModifyDBClusterEndpoint(ctx context.Context, in ClusterEndpointInput) (*DBClusterEndpoint, error) {
	if in.DBClusterEndpointIdentifier == "" {
		return nil, missing("DBClusterEndpointIdentifier")
	}
	if in.EndpointType != "" {
		if err := validCustomType(in.EndpointType); err != nil {
			return nil, err
		}
	}
	if len(in.StaticMembers) > 0 && len(in.ExcludedMembers) > 0 {
		return nil, invalidCombination("StaticMembers and ExcludedMembers cannot be given together.")
	}
	s.lock()
	defer s.unlock()
	c, i := s.findCustomEndpointLocked(in.DBClusterEndpointIdentifier)
	if c == nil {
		return nil, clusterEndpointNotFound(in.DBClusterEndpointIdentifier)
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	static, err := s.membersOfLocked(c, "StaticMembers", in.StaticMembers)
	if err != nil {
		return nil, err
	}
	excluded, err := s.membersOfLocked(c, "ExcludedMembers", in.ExcludedMembers)
	if err != nil {
		return nil, err
	}
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		ce := &next.Custom[i]
		if in.EndpointType != "" {
			ce.Type = in.EndpointType
		}
		// Static members and exclusions are two ways of saying the list:
		// giving one replaces the other.
		if in.StaticMembers != nil {
			ce.Static, ce.Excluded = static, nil
		}
		if in.ExcludedMembers != nil {
			ce.Excluded, ce.Static = excluded, nil
		}
		return configuration("Modified custom endpoint " + ce.Identifier)
	}); err != nil {
		return nil, err
	}
	s.routeClusterLocked(c)
	return s.describeCustomLocked(c, c.Custom[i]), nil
}

// DeleteDBClusterEndpoint deletes a custom endpoint; its sessions end.
func (s *Service) DeleteDBClusterEndpoint(ctx context.Context, id string) (*DBClusterEndpoint, error) {
	if id == "" {
		return nil, missing("DBClusterEndpointIdentifier")
	}
	s.lock()
	defer s.unlock()
	c, i := s.findCustomEndpointLocked(id)
	if c == nil {
		return nil, clusterEndpointNotFound(id)
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	ce := c.Custom[i]
	d := s.describeCustomLocked(c, ce)
	d.Status = StatusDeleting
	if err := s.updateClusterLocked(c, func(next *clusterRecord) note {
		next.Custom = slices.Delete(next.Custom, i, i+1)
		return deletion("Deleted custom endpoint " + ce.Identifier)
	}); err != nil {
		return nil, err
	}
	s.outsideLocked(func() {
		if err := s.proxy.CloseEndpoint(customEndpointName(ce.Identifier)); err != nil {
			s.log.Warn("close custom endpoint", "endpoint", ce.Identifier, "err", err)
		}
	})
	return d, nil
}

func (s *Service) identifiersLocked(rids []string) []string {
	var out []string
	for _, rid := range rids {
		if r := s.instances[rid]; r != nil {
			out = append(out, r.Identifier)
		}
	}
	return out
}

func (s *Service) describeCustomLocked(c *clusterRecord, ce customEndpoint) *DBClusterEndpoint {
	return &DBClusterEndpoint{
		DBClusterEndpointIdentifier:         ce.Identifier,
		DBClusterIdentifier:                 c.Identifier,
		DBClusterEndpointResourceIdentifier: ce.ResourceID,
		Endpoint:                            net.JoinHostPort(s.endpointHostname(), strconv.Itoa(ce.Port)),
		Status:                              StatusAvailable,
		EndpointType:                        "CUSTOM",
		CustomEndpointType:                  ce.Type,
		StaticMembers:                       s.identifiersLocked(ce.Static),
		ExcludedMembers:                     s.identifiersLocked(ce.Excluded),
		DBClusterEndpointArn:                s.scope().ARN(TypeClusterEndpoint, ce.Identifier),
	}
}

// DescribeDBClusterEndpoints lists the endpoints of the clusters (or of
// one): the writer and reader endpoints, then the custom ones.
func (s *Service) DescribeDBClusterEndpoints(ctx context.Context, cluster, id string, filters []Filter, page Page) ([]DBClusterEndpoint, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	offset := 0
	if page.Marker != "" {
		m, err := decodeMarker(page.Marker)
		if err != nil {
			return nil, "", err
		}
		if offset, err = strconv.Atoi(m); err != nil || offset < 0 {
			return nil, "", invalidValue("Invalid Marker: %s", page.Marker)
		}
	}
	want := map[string]map[string]bool{}
	for _, f := range filters {
		switch f.Name {
		case "db-cluster-endpoint-type", "db-cluster-endpoint-custom-type", "db-cluster-endpoint-status":
		default:
			return nil, "", invalidValue("Unrecognized filter name: %s. Supported filters: db-cluster-endpoint-type, db-cluster-endpoint-custom-type, db-cluster-endpoint-status.", f.Name)
		}
		if len(f.Values) == 0 {
			return nil, "", invalidValue("The filter %s needs at least one value.", f.Name)
		}
		want[f.Name] = map[string]bool{}
		for _, v := range f.Values {
			want[f.Name][strings.ToUpper(v)] = true
			want[f.Name][strings.ToLower(v)] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clusters := s.sortedClustersLocked()
	if cluster != "" {
		c := s.findClusterLocked(cluster)
		if c == nil {
			return nil, "", clusterNotFound(cluster)
		}
		clusters = []*clusterRecord{c}
	}
	var all []DBClusterEndpoint
	host := s.endpointHostname()
	for _, c := range clusters {
		if id == "" {
			for _, b := range []struct {
				typ  string
				port int
			}{{"WRITER", c.Port}, {"READER", c.ReaderPort}} {
				all = append(all, DBClusterEndpoint{DBClusterIdentifier: c.Identifier,
					Endpoint: net.JoinHostPort(host, strconv.Itoa(b.port)), Status: StatusAvailable, EndpointType: b.typ})
			}
		}
		for _, ce := range c.Custom {
			if id == "" || ce.Identifier == strings.ToLower(id) {
				all = append(all, *s.describeCustomLocked(c, ce))
			}
		}
	}
	if id != "" && len(all) == 0 {
		return nil, "", clusterEndpointNotFound(id)
	}
	var out []DBClusterEndpoint
	for _, e := range all {
		if w := want["db-cluster-endpoint-type"]; w != nil && !w[e.EndpointType] {
			continue
		}
		if w := want["db-cluster-endpoint-custom-type"]; w != nil && !w[e.CustomEndpointType] {
			continue
		}
		if w := want["db-cluster-endpoint-status"]; w != nil && !w[e.Status] {
			continue
		}
		out = append(out, e)
	}
	if offset > len(out) {
		offset = len(out)
	}
	out = out[offset:]
	if len(out) > max {
		return out[:max], encodeMarker(strconv.Itoa(offset + max)), nil
	}
	return out, "", nil
}
