package rds

import (
	"context"
	"slices"
)

// resourceLocked finds the tags of the resource an ARN names: a DB instance
// (…:db:NAME), a parameter group (…:pg:NAME), a DB cluster (…:cluster:NAME),
// a cluster parameter group (…:cluster-pg:NAME) or a custom endpoint
// (…:cluster-endpoint:NAME) or a DB snapshot (…:snapshot:NAME), a DB subnet group
// (…:subgrp:NAME), a DB security group (…:secgrp:NAME) or an option group
// (…:og:NAME). save saves the resource with the tags given, then publishes
// it; on error nothing changed.
func (s *Service) resourceLocked(ctx context.Context, ref string) (tags []Tag, save func(next []Tag) error, err error) {
	arn, err := s.scope().ResolveARN("ResourceName", ref, TypeInstance, TypeParameterGroup, TypeCluster,
		TypeClusterParameterGroup, TypeClusterEndpoint, TypeSnapshot, TypeSubnetGroup, TypeSecurityGroup, TypeOptionGroup)
	if err != nil {
		return nil, nil, err
	}
	switch arn.Type {
	case TypeInstance:
		r := s.findLocked(arn.Name)
		if r == nil {
			return nil, nil, instanceNotFound(arn.Name)
		}
		return slices.Clone(r.Tags), func(tags []Tag) error {
			return s.updateInstanceLocked(r, func(next *instanceRecord) note {
				next.Tags = tags
				return note{}
			})
		}, nil
	case TypeCluster:
		c := s.findClusterLocked(arn.Name)
		if c == nil {
			return nil, nil, clusterNotFound(arn.Name)
		}
		return slices.Clone(c.Tags), func(tags []Tag) error {
			return s.updateClusterLocked(c, func(next *clusterRecord) note {
				next.Tags = tags
				return note{}
			})
		}, nil
	case TypeSnapshot:
		sn := s.snapshots[arn.Name]
		if sn == nil {
			return nil, nil, snapshotNotFound(arn.Name)
		}
		return slices.Clone(sn.Tags), func(tags []Tag) error {
			return s.updateSnapshotLocked(sn, func(next *snapshotRecord) note {
				next.Tags = tags
				return note{}
			})
		}, nil
	case TypeSubnetGroup:
		g := s.subnetGroups[arn.Name]
		if g == nil {
			return nil, nil, subnetGroupNotFound(arn.Name)
		}
		return slices.Clone(g.Tags), func(tags []Tag) error {
			return updateRecordLocked(ctx, s, kindSubnetGroup, g.Name, g, g.clone, func(next *subnetGroupRecord) { next.Tags = tags })
		}, nil
	case TypeSecurityGroup:
		g := s.securityGroups[arn.Name]
		if g == nil {
			return nil, nil, securityGroupNotFound(arn.Name)
		}
		return slices.Clone(g.Tags), func(tags []Tag) error {
			return updateRecordLocked(ctx, s, kindSecurityGroup, g.Name, g, g.clone, func(next *securityGroupRecord) { next.Tags = tags })
		}, nil
	case TypeOptionGroup:
		g := s.optionGroups[arn.Name]
		if g == nil {
			return nil, nil, optionGroupNotFound(arn.Name)
		}
		return slices.Clone(g.Tags), func(tags []Tag) error {
			return updateRecordLocked(ctx, s, kindOptionGroup, g.Name, g, g.clone, func(next *optionGroupRecord) { next.Tags = tags })
		}, nil
	case TypeClusterEndpoint:
		c, i := s.findCustomEndpointLocked(arn.Name)
		if c == nil {
			return nil, nil, clusterEndpointNotFound(arn.Name)
		}
		return slices.Clone(c.Custom[i].Tags), func(tags []Tag) error {
			return s.updateClusterLocked(c, func(next *clusterRecord) note {
				next.Custom[i].Tags = tags
				return note{}
			})
		}, nil
	case TypeParameterGroup, TypeClusterParameterGroup:
		k := groupKind{cluster: arn.Type == TypeClusterParameterGroup}
		g := s.groupsOf(k)[arn.Name]
		if g == nil {
			return nil, nil, groupNotFound(arn.Name)
		}
		if g.Default {
			return nil, nil, invalidValue("Default parameter groups cannot be tagged: %s", arn.Name)
		}
		return slices.Clone(g.Tags), func(tags []Tag) error {
			next := *g
			next.Tags = tags
			if err := s.saveGroupLocked(ctx, k, &next, ""); err != nil {
				return err
			}
			*g = next
			return nil
		}, nil
	}
	return nil, nil, clusterNotFound(arn.Name)
}

// AddTagsToResource sets tags on a resource, replacing values of existing keys.
func (s *Service) AddTagsToResource(ctx context.Context, arn string, tags []Tag) error {
	if arn == "" {
		return missing("ResourceName")
	}
	if len(tags) == 0 {
		return missing("Tags")
	}
	if err := validTags(tags); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	have, save, err := s.resourceLocked(ctx, arn)
	if err != nil {
		return err
	}
	merged := mergeTags(have, tags)
	if err := validTags(merged); err != nil {
		return err
	}
	return save(merged)
}

// RemoveTagsFromResource removes tags by key; absent keys are ignored.
func (s *Service) RemoveTagsFromResource(ctx context.Context, arn string, keys []string) error {
	if arn == "" {
		return missing("ResourceName")
	}
	if len(keys) == 0 {
		return missing("TagKeys")
	}
	s.lock()
	defer s.unlock()
	have, save, err := s.resourceLocked(ctx, arn)
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var kept []Tag
	for _, t := range have {
		if !drop[t.Key] {
			kept = append(kept, t)
		}
	}
	return save(kept)
}

// ListTagsForResource lists a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, arn string) ([]Tag, error) {
	if arn == "" {
		return nil, missing("ResourceName")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	have, _, err := s.resourceLocked(ctx, arn)
	if err != nil {
		return nil, err
	}
	return append([]Tag{}, have...), nil
}
