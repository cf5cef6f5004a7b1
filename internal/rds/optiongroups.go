package rds

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/store"
)

// An option group on RDS adds engine features that need more than a
// parameter (Oracle's, SQL Server's, MySQL's memcached plugin). teal
// offers no options for any engine, so its option groups are empty: they
// exist so that tools which always name one work, and every instance is
// in one, "default:<engine>-<major version with dashes>" unless it names
// another. A default option group exists for every installed engine major
// version and cannot be changed or deleted.

const (
	kindOptionGroup = "option-group"

	defaultOptionGroupPrefix = "default:"
	maxOptionGroups          = 20
)

// optionGroupRecord is the persisted state of an option group. Default
// groups are stored only once changed (tagged).
type optionGroupRecord struct {
	store.Version
	Name          string
	Description   string
	Engine        string
	Major         string
	Default       bool      `json:",omitempty"`
	Source        string    `json:",omitempty"` // the group this is a copy of
	SourceAccount string    `json:",omitempty"`
	CopyTime      time.Time `json:",omitzero"`
	Tags          []Tag     `json:",omitempty"`
}

func (g *optionGroupRecord) clone() optionGroupRecord {
	n := *g
	n.Tags = slices.Clone(g.Tags)
	return n
}

// OptionGroup is the description of an option group.
type OptionGroup struct {
	OptionGroupName                       string
	OptionGroupDescription                string
	EngineName                            string
	MajorEngineVersion                    string
	AllowsVpcAndNonVpcInstanceMemberships bool
	OptionGroupArn                        string
	SourceOptionGroup                     string
	SourceAccountId                       string
	CopyTimestamp                         time.Time
}

// defaultOptionGroupName is the default option group of an engine's major
// version: default:postgres-17, default:mariadb-10-11.
func defaultOptionGroupName(engineName, major string) string {
	return defaultOptionGroupPrefix + engineName + "-" + strings.ReplaceAll(major, ".", "-")
}

func (s *Service) optionGroupArn(name string) string { return s.scope().ARN(TypeOptionGroup, name) }

// findOptionGroupLocked resolves an option group by name or ARN.
func (s *Service) findOptionGroupLocked(param, ref string) (*optionGroupRecord, error) {
	if ref == "" {
		return nil, missing(param)
	}
	name, err := s.scope().Identifier(TypeOptionGroup, param, ref)
	if err != nil {
		return nil, err
	}
	g := s.optionGroups[name]
	if g == nil {
		return nil, optionGroupNotFound(ref)
	}
	return g, nil
}

func (s *Service) describeOptionGroup(g *optionGroupRecord) *OptionGroup {
	return &OptionGroup{
		OptionGroupName:                       g.Name,
		OptionGroupDescription:                g.Description,
		EngineName:                            g.Engine,
		MajorEngineVersion:                    g.Major,
		AllowsVpcAndNonVpcInstanceMemberships: true,
		OptionGroupArn:                        s.optionGroupArn(g.Name),
		SourceOptionGroup:                     g.Source,
		SourceAccountId:                       g.SourceAccount,
		CopyTimestamp:                         g.CopyTime,
	}
}

// checkEngineMajor checks that an engine and a major version of it are
// installed.
func (s *Service) checkEngineMajor(engineName, major string) error {
	if engineName == "" {
		return missing("EngineName")
	}
	if major == "" {
		return missing("MajorEngineVersion")
	}
	e := s.engines[engineName]
	if e == nil {
		return invalidValue("Invalid DB engine: %s", engineName)
	}
	for _, b := range e.Builds() {
		if b.Major() == major {
			return nil
		}
	}
	return invalidCombination("Cannot find major version %s for %s", major, engineName)
}

// CreateOptionGroupInput holds the members of CreateOptionGroup.
type CreateOptionGroupInput struct {
	OptionGroupName        string
	EngineName             string
	MajorEngineVersion     string
	OptionGroupDescription string
	Tags                   []Tag
}

// CreateOptionGroup creates an (empty) option group for an installed
// engine major version.
func (s *Service) CreateOptionGroup(ctx context.Context, in CreateOptionGroupInput) (*OptionGroup, error) {
	name, err := newGroupName(TypeOptionGroup, "OptionGroupName", in.OptionGroupName)
	if err != nil {
		return nil, err
	}
	if err := s.checkEngineMajor(in.EngineName, in.MajorEngineVersion); err != nil {
		return nil, err
	}
	if err := validDescription("OptionGroupDescription", in.OptionGroupDescription); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	g := &optionGroupRecord{Name: name, Description: in.OptionGroupDescription, Engine: in.EngineName,
		Major: in.MajorEngineVersion, Tags: in.Tags}
	return s.addOptionGroupLocked(ctx, g)
}

func (s *Service) addOptionGroupLocked(ctx context.Context, g *optionGroupRecord) (*OptionGroup, error) {
	if s.optionGroups[g.Name] != nil {
		return nil, optionGroupExists(g.Name)
	}
	users := 0
	for _, og := range s.optionGroups {
		if !og.Default {
			users++
		}
	}
	if users >= maxOptionGroups {
		return nil, fault("OptionGroupQuotaExceededFault", http.StatusBadRequest,
			"You can have at most %d option groups.", maxOptionGroups)
	}
	if err := s.createRecordLocked(ctx, kindOptionGroup, g.Name, g); err != nil {
		return nil, err
	}
	s.optionGroups[g.Name] = g
	return s.describeOptionGroup(g), nil
}

// CopyOptionGroup creates an option group of the same engine and major
// version as another (by name or ARN).
func (s *Service) CopyOptionGroup(ctx context.Context, source, target, description string, tags []Tag) (*OptionGroup, error) {
	name, err := newGroupName(TypeOptionGroup, "TargetOptionGroupIdentifier", target)
	if err != nil {
		return nil, err
	}
	if err := validDescription("TargetOptionGroupDescription", description); err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	src, err := s.findOptionGroupLocked("SourceOptionGroupIdentifier", source)
	if err != nil {
		return nil, err
	}
	g := &optionGroupRecord{Name: name, Description: description, Engine: src.Engine, Major: src.Major,
		Source: src.Name, SourceAccount: s.cfg.AccountID, CopyTime: time.Now().UTC(), Tags: tags}
	return s.addOptionGroupLocked(ctx, g)
}

// DescribeOptionGroupsInput holds the members of DescribeOptionGroups.
type DescribeOptionGroupsInput struct {
	OptionGroupName    string
	EngineName         string
	MajorEngineVersion string
	Page               Page
}

// DescribeOptionGroups lists option groups, or one by name or ARN, of an
// engine and major version when given.
func (s *Service) DescribeOptionGroups(ctx context.Context, in DescribeOptionGroupsInput) ([]OptionGroup, string, error) {
	max, err := maxRecords(in.Page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(in.Page.Marker)
	if err != nil {
		return nil, "", err
	}
	if in.MajorEngineVersion != "" && in.EngineName == "" {
		return nil, "", invalidCombination("MajorEngineVersion can be given only with EngineName.")
	}
	match := func(g *optionGroupRecord) bool {
		return (in.EngineName == "" || g.Engine == in.EngineName) && (in.MajorEngineVersion == "" || g.Major == in.MajorEngineVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.OptionGroupName != "" {
		g, err := s.findOptionGroupLocked("OptionGroupName", in.OptionGroupName)
		if err != nil {
			return nil, "", err
		}
		if !match(g) {
			return nil, "", optionGroupNotFound(in.OptionGroupName)
		}
		return []OptionGroup{*s.describeOptionGroup(g)}, "", nil
	}
	var out []OptionGroup
	for _, name := range sortedKeys(s.optionGroups) {
		g := s.optionGroups[name]
		if name <= after || !match(g) {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].OptionGroupName), nil
		}
		out = append(out, *s.describeOptionGroup(g))
	}
	return out, "", nil
}

// ModifyOptionGroup adds options to or removes them from an option group.
// teal has no options: adding one is refused, and so is removing one, as
// no group holds any; a request that changes nothing answers the group.
func (s *Service) ModifyOptionGroup(ctx context.Context, ref string, include, remove []string) (*OptionGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.findOptionGroupLocked("OptionGroupName", ref)
	if err != nil {
		return nil, err
	}
	if len(include) > 0 {
		return nil, invalidValue("Option %q is not available for %s %s: teal offers no options for any engine, so option groups stay empty.",
			include[0], g.Engine, g.Major)
	}
	if len(remove) > 0 {
		return nil, invalidValue("Option %q is not in option group %s: teal's option groups hold no options.", remove[0], g.Name)
	}
	return s.describeOptionGroup(g), nil
}

// DeleteOptionGroup deletes an option group no instance is in. Default
// option groups cannot be deleted.
func (s *Service) DeleteOptionGroup(ctx context.Context, ref string) error {
	s.lock()
	defer s.unlock()
	g, err := s.findOptionGroupLocked("OptionGroupName", ref)
	if err != nil {
		return err
	}
	if g.Default {
		return invalidOptionGroupState("Default option group %s cannot be deleted.", g.Name)
	}
	for _, r := range s.sortedLocked() {
		if r.OptionGroup == g.Name {
			return invalidOptionGroupState("The option group %s cannot be deleted because it is in use by DB instance %s.", g.Name, r.Identifier)
		}
	}
	if err := s.deleteRecordLocked(ctx, kindOptionGroup, g.Name); err != nil {
		return err
	}
	delete(s.optionGroups, g.Name)
	return nil
}

// DescribeOptionGroupOptions checks a request for the options an
// engine's option groups can hold, which are none for every engine teal
// runs: an accepted request lists nothing.
func (s *Service) DescribeOptionGroupOptions(ctx context.Context, engineName, major string, page Page) error {
	if _, err := maxRecords(page.MaxRecords); err != nil {
		return err
	}
	if _, err := decodeMarker(page.Marker); err != nil {
		return err
	}
	if engineName == "" {
		return missing("EngineName")
	}
	if s.engines[engineName] == nil {
		return invalidValue("Invalid DB engine: %s", engineName)
	}
	if major != "" {
		return s.checkEngineMajor(engineName, major)
	}
	return nil
}
