package rds

import (
	"context"
)

// resourceLocked finds the tags of the resource an ARN names: a DB instance
// (…:db:NAME) or a parameter group (…:pg:NAME). save persists a change.
func (s *Service) resourceLocked(ctx context.Context, ref string) (tags *[]Tag, save func(msg string) error, err error) {
	arn, err := s.scope().ResolveARN("ResourceName", ref, TypeInstance, TypeParameterGroup, TypeCluster)
	if err != nil {
		return nil, nil, err
	}
	switch arn.Type {
	case TypeInstance:
		r := s.findLocked(arn.Name)
		if r == nil {
			return nil, nil, instanceNotFound(arn.Name)
		}
		return &r.Tags, func(msg string) error { return s.saveLocked(r, configuration(msg)) }, nil
	case TypeParameterGroup:
		g := s.groups[arn.Name]
		if g == nil {
			return nil, nil, groupNotFound(arn.Name)
		}
		if g.Default {
			return nil, nil, invalidValue("Default parameter groups cannot be tagged: %s", arn.Name)
		}
		return &g.Tags, func(msg string) error { return s.saveGroupLocked(ctx, g, msg) }, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	have, save, err := s.resourceLocked(ctx, arn)
	if err != nil {
		return err
	}
	merged := mergeTags(*have, tags)
	if err := validTags(merged); err != nil {
		return err
	}
	old := *have
	*have = merged
	if err := save(""); err != nil {
		*have = old
		return err
	}
	return nil
}

// RemoveTagsFromResource removes tags by key; absent keys are ignored.
func (s *Service) RemoveTagsFromResource(ctx context.Context, arn string, keys []string) error {
	if arn == "" {
		return missing("ResourceName")
	}
	if len(keys) == 0 {
		return missing("TagKeys")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	have, save, err := s.resourceLocked(ctx, arn)
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	old := *have
	var kept []Tag
	for _, t := range old {
		if !drop[t.Key] {
			kept = append(kept, t)
		}
	}
	*have = kept
	if err := save(""); err != nil {
		*have = old
		return err
	}
	return nil
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
	return append([]Tag{}, *have...), nil
}
