package rds

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
)

// The blue/green deployment of a DB cluster is that of its writer and
// readers (the readers are the writer's replicas, as an instance's read
// replicas are), plus the cluster itself: a green cluster
// NAME-green-xxxxxx holds the green instances, and at the commit point it
// takes the blue cluster's name with its endpoints, while the blue cluster
// becomes NAME-oldN with endpoints of its own. Custom endpoints move to
// the green cluster, their members mapped to the green instances, so every
// endpoint an application uses reaches the new production.

// skippedLocked reports whether a switchover leaves member m alone: in a
// cluster's deployment, a reader whose blue or green twin was deleted. Its
// blue keeps its name in the old cluster; a green reader without a blue
// twin stays in the new production cluster under its own name.
func (s *Service) skippedLocked(d *deploymentRecord, m memberRecord) bool {
	return d.Cluster != nil && m.Replica && (s.instances[m.Blue] == nil || s.instances[m.Green] == nil)
}

// clusterEndpointNames are the proxy names of a cluster's endpoints.
func clusterEndpointNames(c *clusterRecord) []string {
	out := []string{writerEndpointName(c.Identifier), readerEndpointName(c.Identifier)}
	for _, ce := range c.Custom {
		out = append(out, customEndpointName(ce.Identifier))
	}
	return out
}

// switchClustersLocked prepares the clusters' part of a switchover's
// commit. It returns the records to save (green, then blue), their
// renames, and the endpoints it opened for blue's new name, which the
// caller closes if the commit fails.
func (s *Service) switchClustersLocked(d *deploymentRecord) ([]clusterRecord, []deployment.Rename, []string, error) {
	bc, gc := s.clusters[d.Cluster.Blue], s.clusters[d.Cluster.Green]
	if bc == nil || gc == nil {
		return nil, nil, nil, errors.New("a DB cluster of the deployment is gone")
	}
	old := bluegreen.OldName(bc.Identifier, func(n string) bool { return s.findClusterLocked(n) != nil })
	nb, ng := bc.clone(), gc.clone()
	nb.Identifier, nb.Custom = old, nil
	if err := s.openClusterEndpointsLocked(&nb, 0); err != nil {
		return nil, nil, nil, fmt.Errorf("open the endpoints of %s: %w", old, err)
	}
	opened := []string{writerEndpointName(old), readerEndpointName(old)}
	greenOf := map[string]string{}
	for _, m := range d.Members {
		greenOf[m.Blue] = m.Green
	}
	ng.Identifier, ng.Port, ng.ReaderPort = bc.Identifier, bc.Port, bc.ReaderPort
	ng.Tags = slices.Clone(bc.Tags)
	ng.Custom = nil
	for _, ce := range bc.clone().Custom {
		ce.Static, ce.Excluded = mapMembers(ce.Static, greenOf), mapMembers(ce.Excluded, greenOf)
		ng.Custom = append(ng.Custom, ce)
	}
	renames := []deployment.Rename{
		{ResourceID: gc.ResourceID, From: gc.Identifier, To: bc.Identifier, FromPort: gc.Port, ToPort: bc.Port},
		{ResourceID: bc.ResourceID, From: bc.Identifier, To: old, FromPort: bc.Port, ToPort: nb.Port},
	}
	return []clusterRecord{ng, nb}, renames, opened, nil
}

// mapMembers maps DbiResourceIds of blue instances to their green twins;
// one without a twin is left out.
func mapMembers(rids []string, greenOf map[string]string) []string {
	var out []string
	for _, rid := range rids {
		if g := greenOf[rid]; g != "" {
			out = append(out, g)
		}
	}
	return out
}

// openClusterEndpointsAtLocked opens (or keeps) a cluster's endpoints on
// the ports its record gives them.
func (s *Service) openClusterEndpointsAtLocked(c *clusterRecord) error {
	ports := map[string]int{writerEndpointName(c.Identifier): c.Port, readerEndpointName(c.Identifier): c.ReaderPort}
	for _, ce := range c.Custom {
		ports[customEndpointName(ce.Identifier)] = ce.Port
	}
	for name, port := range ports {
		if _, err := s.openEndpoint(name, port, c.Engine); err != nil {
			return fmt.Errorf("open endpoint %s: %w", name, err)
		}
	}
	return nil
}

// clusterInDeploymentLocked refuses what a cluster in a blue/green
// deployment cannot do: its writer must stay where replication starts.
func (s *Service) clusterInDeploymentLocked(c *clusterRecord, what string) error {
	for _, d := range s.deployments {
		if d.Cluster == nil || d.Status == bluegreen.StatusSwitchoverCompleted {
			continue
		}
		if d.Cluster.Blue == c.ResourceID || d.Cluster.Green == c.ResourceID {
			return invalidClusterState("DB cluster %s is part of blue/green deployment %s: %s is not possible until the deployment is deleted.",
				c.Identifier, d.ID, what)
		}
	}
	return nil
}
