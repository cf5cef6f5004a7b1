package rds

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// groupRecord is the persisted state of a DB parameter group. Default groups
// are not stored: one exists for every installed family and holds no user
// values.
type groupRecord struct {
	Name        string
	Family      string
	Engine      string
	Description string
	Default     bool
	Params      map[string]userParam
	Tags        []Tag
}

// groupKind tells DB parameter groups from DB cluster parameter groups:
// two namespaces (default.aurora-postgresql17 is one of each) with the same
// rules. A cluster group's values apply to every instance of the clusters
// that use it, under the instance's own DB parameter group's.
type groupKind struct{ cluster bool }

var (
	dbGroupKind      = groupKind{}
	clusterGroupKind = groupKind{cluster: true}
)

const kindClusterParameterGroup = "cluster-parameter-group"

func (k groupKind) storeKind() string {
	if k.cluster {
		return kindClusterParameterGroup
	}
	return store.KindParameterGroup
}

// noun names a group of kind k in events.
func (k groupKind) noun() string {
	if k.cluster {
		return "cluster parameter group"
	}
	return "parameter group"
}

func (s *Service) groupsOf(k groupKind) map[string]*groupRecord {
	if k.cluster {
		return s.clusterGroups
	}
	return s.groups
}

func (s *Service) groupArnOf(k groupKind, name string) string {
	if k.cluster {
		return s.scope().ARN(TypeClusterParameterGroup, name)
	}
	return s.groupArn(name)
}

// usesGroupLocked reports whether r runs with the values of group name of
// kind k: its own DB parameter group, or its cluster's.
func (s *Service) usesGroupLocked(k groupKind, r *instanceRecord, name string) bool {
	if !k.cluster {
		return r.ParameterGroup == name
	}
	c := s.clusters[r.ClusterResourceID]
	return c != nil && c.ParameterGroup == name
}

type userParam struct {
	Value       string
	ApplyMethod string
}

const (
	applyImmediate     = "immediate"
	applyPendingReboot = "pending-reboot"
)

// buildOfFamilyLocked is the newest installed build of a family, whose
// parameter catalog describes the family.
func (s *Service) buildOfFamily(family string) (engine.Engine, engine.Build, bool) {
	for _, e := range s.engines {
		for _, b := range e.Builds() {
			if b.Family() == family {
				return e, b, true
			}
		}
	}
	return nil, engine.Build{}, false
}

// effectiveParamsLocked are the values an instance's server runs with when
// everything in its group is applied: teal's defaults, then the user's values.
func (s *Service) effectiveParamsLocked(r *instanceRecord) map[string]string {
	return s.effectiveWithLocked(r, groupKind{}, "", nil)
}

// effectiveWithLocked is effectiveParamsLocked with the values of group
// name of kind k replaced by params, when name is not "": teal's defaults,
// then the values of r's cluster's group, then those of r's own group.
func (s *Service) effectiveWithLocked(r *instanceRecord, k groupKind, name string, params map[string]userParam) map[string]string {
	out := map[string]string{}
	if l, err := s.layout(r); err == nil {
		for n, v := range s.engines[r.Engine].Defaults(l.Build) {
			out[n] = v
		}
	}
	var layers []map[string]userParam
	if c := s.clusters[r.ClusterResourceID]; c != nil {
		layers = append(layers, s.layerLocked(clusterGroupKind, c.ParameterGroup, k, name, params))
	}
	layers = append(layers, s.layerLocked(dbGroupKind, r.ParameterGroup, k, name, params))
	for _, l := range layers {
		for n, p := range l {
			out[n] = p.Value
		}
	}
	return out
}

// layerLocked are the values of group name of kind k, or params when that
// group is the one being changed (changed of kind ck).
func (s *Service) layerLocked(k groupKind, name string, ck groupKind, changed string, params map[string]userParam) map[string]userParam {
	if changed != "" && k == ck && name == changed {
		return params
	}
	if g := s.groupsOf(k)[name]; g != nil {
		return g.Params
	}
	return nil
}

// CreateDBParameterGroup creates an empty parameter group of a family.
func (s *Service) CreateDBParameterGroup(ctx context.Context, name, family, description string, tags []Tag) (*ParameterGroup, error) {
	return s.createGroup(ctx, dbGroupKind, name, family, description, tags)
}

// CreateDBClusterParameterGroup creates an empty cluster parameter group
// of an aurora-postgresql family.
func (s *Service) CreateDBClusterParameterGroup(ctx context.Context, name, family, description string, tags []Tag) (*ParameterGroup, error) {
	return s.createGroup(ctx, clusterGroupKind, name, family, description, tags)
}

func (s *Service) createGroup(ctx context.Context, k groupKind, name, family, description string, tags []Tag) (*ParameterGroup, error) {
	param := "DBParameterGroupName"
	if k.cluster {
		param = "DBClusterParameterGroupName"
	}
	name, err := validNewGroup(param, name, "Description", description, tags)
	if err != nil {
		return nil, err
	}
	if family == "" {
		return nil, missing("DBParameterGroupFamily")
	}
	e, _, ok := s.buildOfFamily(family)
	if !ok || k.cluster && e.Name() != auroraPostgres {
		return nil, invalidValue("DBParameterGroupFamily %s is not supported: no build of it is installed. Installed families: %s.",
			family, strings.Join(s.families(k), ", "))
	}
	s.lock()
	defer s.unlock()
	if s.groupsOf(k)[name] != nil {
		return nil, groupExists(name)
	}
	g := &groupRecord{Name: name, Family: family, Engine: e.Name(), Description: description,
		Params: map[string]userParam{}, Tags: tags}
	if err := s.saveGroupLocked(ctx, k, g, "Created "+k.noun()+" "+name); err != nil {
		return nil, err
	}
	s.groupsOf(k)[name] = g
	return s.describeGroup(k, g), nil
}

// validNewGroup checks the name (as param), description (as descParam)
// and tags of a group to create, and returns the name in lower case.
func validNewGroup(param, name, descParam, description string, tags []Tag) (string, error) {
	name = strings.ToLower(name)
	if err := validIdentifier(param, name, 255); err != nil {
		return "", err
	}
	if description == "" {
		return "", missing(descParam)
	}
	if strings.HasPrefix(name, "default.") || strings.HasPrefix(name, "default") && strings.Contains(name, ".") {
		return "", invalidValue("The parameter group name cannot start with default.")
	}
	return name, validTags(tags)
}

// CopyDBParameterGroup creates a group with the family and the values of
// another (by name or ARN).
func (s *Service) CopyDBParameterGroup(ctx context.Context, source, target, description string, tags []Tag) (*ParameterGroup, error) {
	return s.copyGroup(ctx, dbGroupKind, source, target, description, tags)
}

// CopyDBClusterParameterGroup is CopyDBParameterGroup for cluster groups.
func (s *Service) CopyDBClusterParameterGroup(ctx context.Context, source, target, description string, tags []Tag) (*ParameterGroup, error) {
	return s.copyGroup(ctx, clusterGroupKind, source, target, description, tags)
}

func (s *Service) copyGroup(ctx context.Context, k groupKind, source, target, description string, tags []Tag) (*ParameterGroup, error) {
	srcParam, param, descParam, typ := "SourceDBParameterGroupIdentifier", "TargetDBParameterGroupIdentifier", "TargetDBParameterGroupDescription", TypeParameterGroup
	if k.cluster {
		srcParam, param, descParam, typ = "SourceDBClusterParameterGroupIdentifier", "TargetDBClusterParameterGroupIdentifier",
			"TargetDBClusterParameterGroupDescription", TypeClusterParameterGroup
	}
	if source == "" {
		return nil, missing(srcParam)
	}
	from, err := s.scope().Identifier(typ, srcParam, source)
	if err != nil {
		return nil, err
	}
	name, err := validNewGroup(param, target, descParam, description, tags)
	if err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	src := s.groupsOf(k)[from]
	if src == nil {
		return nil, groupNotFound(from)
	}
	if s.groupsOf(k)[name] != nil {
		return nil, groupExists(name)
	}
	g := &groupRecord{Name: name, Family: src.Family, Engine: src.Engine, Description: description,
		Params: maps.Clone(src.Params), Tags: tags}
	if g.Params == nil {
		g.Params = map[string]userParam{}
	}
	if err := s.saveGroupLocked(ctx, k, g, "Created "+k.noun()+" "+name+" as a copy of "+from); err != nil {
		return nil, err
	}
	s.groupsOf(k)[name] = g
	return s.describeGroup(k, g), nil
}

// DescribeEngineDefaultParameters lists the parameters of a family's
// default group.
func (s *Service) DescribeEngineDefaultParameters(ctx context.Context, family string, page Page) ([]Parameter, string, error) {
	return s.engineDefaults(ctx, dbGroupKind, family, page)
}

// DescribeEngineDefaultClusterParameters lists the parameters of a
// family's default cluster group.
func (s *Service) DescribeEngineDefaultClusterParameters(ctx context.Context, family string, page Page) ([]Parameter, string, error) {
	return s.engineDefaults(ctx, clusterGroupKind, family, page)
}

func (s *Service) engineDefaults(ctx context.Context, k groupKind, family string, page Page) ([]Parameter, string, error) {
	if family == "" {
		return nil, "", missing("DBParameterGroupFamily")
	}
	s.mu.Lock()
	_, ok := s.groupsOf(k)["default."+family]
	s.mu.Unlock()
	if !ok {
		return nil, "", invalidValue("DBParameterGroupFamily %s is not supported: no build of it is installed. Installed families: %s.",
			family, strings.Join(s.families(k), ", "))
	}
	return s.describeParams(ctx, k, "default."+family, "", page)
}

// families are the families of groups of kind k: those of every
// installed build, or of the cluster engine's only.
func (s *Service) families(k groupKind) []string {
	var out []string
	for _, e := range s.engines {
		if k.cluster && e.Name() != auroraPostgres {
			continue
		}
		for _, b := range e.Builds() {
			out = append(out, b.Family())
		}
	}
	sort.Strings(out)
	return out
}

func (s *Service) saveGroupLocked(ctx context.Context, k groupKind, g *groupRecord, message string) error {
	return s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Put(k.storeKind(), g.Name, g); err != nil {
			return err
		}
		if message == "" {
			return nil
		}
		return tx.AddEvent(store.Event{SourceType: "db-parameter-group", SourceID: g.Name,
			SourceArn: s.groupArnOf(k, g.Name), Message: message, Categories: []string{"configuration change"}})
	})
}

func (s *Service) describeGroup(k groupKind, g *groupRecord) *ParameterGroup {
	return &ParameterGroup{DBParameterGroupName: g.Name, DBParameterGroupFamily: g.Family,
		Description: g.Description, DBParameterGroupArn: s.groupArnOf(k, g.Name)}
}

// DescribeDBParameterGroups lists parameter groups, or one by name.
func (s *Service) DescribeDBParameterGroups(ctx context.Context, name string, page Page) ([]ParameterGroup, string, error) {
	return s.describeGroups(ctx, dbGroupKind, name, page)
}

// DescribeDBClusterParameterGroups lists cluster parameter groups, or one
// by name.
func (s *Service) DescribeDBClusterParameterGroups(ctx context.Context, name string, page Page) ([]ParameterGroup, string, error) {
	return s.describeGroups(ctx, clusterGroupKind, name, page)
}

func (s *Service) describeGroups(ctx context.Context, k groupKind, name string, page Page) ([]ParameterGroup, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := s.groupsOf(k)
	if name != "" {
		g := groups[strings.ToLower(name)]
		if g == nil {
			return nil, "", groupNotFound(name)
		}
		return []ParameterGroup{*s.describeGroup(k, g)}, "", nil
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []ParameterGroup
	for _, n := range names {
		if n <= after {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DBParameterGroupName), nil
		}
		out = append(out, *s.describeGroup(k, groups[n]))
	}
	return out, "", nil
}

// DescribeDBParameters lists a group's parameters; source, when given, keeps
// only those from user, system or engine-default.
func (s *Service) DescribeDBParameters(ctx context.Context, name, source string, page Page) ([]Parameter, string, error) {
	return s.describeParams(ctx, dbGroupKind, name, source, page)
}

// DescribeDBClusterParameters lists a cluster group's parameters.
func (s *Service) DescribeDBClusterParameters(ctx context.Context, name, source string, page Page) ([]Parameter, string, error) {
	return s.describeParams(ctx, clusterGroupKind, name, source, page)
}

func (s *Service) describeParams(ctx context.Context, k groupKind, name, source string, page Page) ([]Parameter, string, error) {
	if name == "" {
		return nil, "", missing("DBParameterGroupName")
	}
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	if source != "" && source != "user" && source != "system" && source != "engine-default" {
		return nil, "", invalidValue("Invalid Source %s: it must be user, system or engine-default.", source)
	}
	s.mu.Lock()
	g := s.groupsOf(k)[strings.ToLower(name)]
	s.mu.Unlock()
	if g == nil {
		return nil, "", groupNotFound(name)
	}
	e, b, ok := s.buildOfFamily(g.Family)
	if !ok {
		return nil, "", invalidGroupState("No build of family %s is installed, so its parameters are unknown.", g.Family)
	}
	catalog, err := e.Parameters(b)
	if err != nil {
		return nil, "", err
	}
	defaults := e.Defaults(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Parameter
	for _, p := range catalog {
		if p.Name <= after {
			continue
		}
		d := Parameter{
			ParameterName:        p.Name,
			Description:          p.Description,
			Source:               "engine-default",
			ApplyType:            "dynamic",
			DataType:             string(p.Type),
			AllowedValues:        allowedValues(p),
			IsModifiable:         p.Modifiable,
			MinimumEngineVersion: b.Major(),
			ApplyMethod:          applyPendingReboot,
		}
		if p.Static {
			d.ApplyType = "static"
		}
		if v, ok := defaults[p.Name]; ok {
			d.Source, d.ParameterValue = "system", v
		}
		if u, ok := g.Params[p.Name]; ok {
			d.Source, d.ParameterValue, d.ApplyMethod = "user", u.Value, u.ApplyMethod
		}
		if source != "" && d.Source != source {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].ParameterName), nil
		}
		out = append(out, d)
	}
	return out, "", nil
}

func allowedValues(p engine.ParamInfo) string {
	if len(p.AllowedValues) > 0 {
		return strings.Join(p.AllowedValues, ",")
	}
	if p.Min != "" && p.Max != "" {
		return p.Min + "-" + p.Max
	}
	return ""
}

// ModifyDBParameterGroup sets parameters of a user group. Immediate values
// reach every available instance of the group at once (a reload); the others
// make those instances pending-reboot. The whole request is validated first:
// one bad parameter changes nothing.
func (s *Service) ModifyDBParameterGroup(ctx context.Context, name string, changes []ParameterChange) (string, error) {
	return s.changeGroup(ctx, dbGroupKind, name, changes, false)
}

// ModifyDBClusterParameterGroup sets parameters of a cluster group; they
// reach every instance of the clusters that use it, as ModifyDBParameterGroup's do.
func (s *Service) ModifyDBClusterParameterGroup(ctx context.Context, name string, changes []ParameterChange) (string, error) {
	return s.changeGroup(ctx, clusterGroupKind, name, changes, false)
}

// ResetDBClusterParameterGroup returns a cluster group's parameters (or all) to their defaults.
func (s *Service) ResetDBClusterParameterGroup(ctx context.Context, name string, all bool, changes []ParameterChange) (string, error) {
	return s.resetGroup(ctx, clusterGroupKind, name, all, changes)
}

// ResetDBParameterGroup returns parameters (or all) to their defaults.
// Dynamic ones are reset at once, static ones at the next reboot.
func (s *Service) ResetDBParameterGroup(ctx context.Context, name string, all bool, changes []ParameterChange) (string, error) {
	return s.resetGroup(ctx, dbGroupKind, name, all, changes)
}

func (s *Service) resetGroup(ctx context.Context, k groupKind, name string, all bool, changes []ParameterChange) (string, error) {
	if all && len(changes) > 0 {
		return "", invalidCombination("ResetAllParameters and Parameters cannot be given together.")
	}
	if !all && len(changes) == 0 {
		return "", invalidCombination("Give either ResetAllParameters or the Parameters to reset.")
	}
	if all {
		s.lock()
		if g := s.groupsOf(k)[strings.ToLower(name)]; g != nil {
			for p := range g.Params {
				changes = append(changes, ParameterChange{ParameterName: p})
			}
		}
		s.unlock()
	}
	return s.changeGroup(ctx, k, name, changes, true)
}

func (s *Service) changeGroup(ctx context.Context, k groupKind, name string, changes []ParameterChange, reset bool) (string, error) {
	if name == "" {
		return "", missing("DBParameterGroupName")
	}
	name = strings.ToLower(name)
	if !reset && len(changes) == 0 {
		return "", missing("Parameters")
	}
	if len(changes) > 20 && !reset {
		return "", invalidValue("At most 20 parameters can be modified in one request.")
	}
	s.lock()
	g := s.groupsOf(k)[name]
	s.unlock()
	if g == nil {
		return "", groupNotFound(name)
	}
	if g.Default {
		return "", invalidValue("Default parameter groups cannot be modified: %s. Create a parameter group of family %s instead.", name, g.Family)
	}
	e, b, ok := s.buildOfFamily(g.Family)
	if !ok {
		return "", invalidGroupState("No build of family %s is installed, so its parameters cannot be checked.", g.Family)
	}
	catalog, err := e.Parameters(b)
	if err != nil {
		return "", err
	}
	byName := map[string]engine.ParamInfo{}
	for _, p := range catalog {
		byName[p.Name] = p
	}
	type applied struct {
		name, value string // value "" means back to the default
		immediate   bool
	}
	s.lock()
	held := map[string]bool{}
	for k := range g.Params {
		held[k] = true
	}
	s.unlock()
	var plan []applied
	for _, c := range changes {
		p, ok := byName[c.ParameterName]
		if reset && held[c.ParameterName] {
			// Taking a value out is always safe, even one of a parameter
			// that is no longer modifiable or no longer exists.
			plan = append(plan, applied{name: c.ParameterName, immediate: ok && !p.Static})
			continue
		}
		if !ok {
			return "", invalidValue("Could not find parameter with name: %s", c.ParameterName)
		}
		if !p.Modifiable {
			return "", invalidValue("The parameter %s cannot be modified.", c.ParameterName)
		}
		if reset {
			plan = append(plan, applied{name: p.Name, immediate: !p.Static})
			continue
		}
		if c.ApplyMethod == "" {
			return "", invalidValue("The ApplyMethod of parameter %s is required: immediate or pending-reboot.", p.Name)
		}
		if c.ApplyMethod != applyImmediate && c.ApplyMethod != applyPendingReboot {
			return "", invalidValue("Invalid ApplyMethod %s for parameter %s: it must be immediate or pending-reboot.", c.ApplyMethod, p.Name)
		}
		if p.Static && c.ApplyMethod == applyImmediate {
			return "", invalidCombination("cannot use immediate apply method for static parameter %s", p.Name)
		}
		if err := validParamValue(e.Name(), p, c.ParameterValue); err != nil {
			return "", err
		}
		plan = append(plan, applied{name: p.Name, value: c.ParameterValue, immediate: c.ApplyMethod == applyImmediate})
	}

	// The change is made to copies of the group and of its instances'
	// applied values, saved in one transaction, and only then published:
	// a failed save changes nothing.
	s.lock()
	params := maps.Clone(g.Params)
	if params == nil {
		params = map[string]userParam{}
	}
	type instanceChange struct {
		r       *instanceRecord
		applied map[string]string
		pending bool
		reload  bool
		next    instanceRecord // as saved, then published
	}
	var touched []*instanceChange
	for _, r := range s.sortedLocked() {
		if s.usesGroupLocked(k, r, name) && r.Applied != nil {
			touched = append(touched, &instanceChange{r: r, applied: maps.Clone(r.Applied), pending: r.PendingReboot})
		}
	}
	for _, a := range plan {
		if reset {
			delete(params, a.name)
		} else {
			params[a.name] = userParam{Value: a.value, ApplyMethod: map[bool]string{true: applyImmediate, false: applyPendingReboot}[a.immediate]}
		}
	}
	// What an instance runs with comes from both its groups (a cluster's
	// and its own, which wins), so the value applied is the one the
	// instance's layers give once the group has changed.
	for _, c := range touched {
		effective := s.effectiveWithLocked(c.r, k, name, params)
		for _, a := range plan {
			if !a.immediate {
				c.pending = true
				continue
			}
			if v, ok := effective[a.name]; ok {
				c.applied[a.name] = v
			} else {
				delete(c.applied, a.name)
			}
			c.reload = true
		}
	}
	nextGroup := *g
	nextGroup.Params = params
	err = s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Put(k.storeKind(), g.Name, &nextGroup); err != nil {
			return err
		}
		if err := tx.AddEvent(store.Event{SourceType: "db-parameter-group", SourceID: g.Name, SourceArn: s.groupArnOf(k, g.Name),
			Message: "Updated parameters of parameter group " + name, Categories: []string{"configuration change"}}); err != nil {
			return err
		}
		for _, c := range touched {
			c.next = *c.r
			c.next.Applied, c.next.PendingReboot = c.applied, c.pending
			if err := tx.Put(store.KindInstance, c.next.ResourceID, &c.next); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.unlock()
		return "", err
	}
	g.Params = params
	var reload []string
	for _, c := range touched {
		*c.r = c.next
		if c.r.Status == StatusFailed {
			s.rewriteFailedConfigLocked(e, c.r)
		} else if c.reload && c.r.Status == StatusAvailable {
			reload = append(reload, c.r.ResourceID)
		}
	}
	s.unlock()

	// The servers reload outside the lock, each with the values current
	// when its file is written.
	for _, rid := range reload {
		s.reloadConfig(ctx, e, rid)
	}
	return name, nil
}

// reloadConfig writes an instance's configuration from its applied values
// and has its server reload it. The instance's config lock orders writers,
// and the values are read under it, so the last file written holds the
// latest values. A failure leaves the change pending a reboot.
func (s *Service) reloadConfig(ctx context.Context, e engine.Engine, rid string) {
	unlock := s.lockConfig(rid)
	defer unlock()
	s.lock()
	r := s.instances[rid]
	if r == nil || r.Status != StatusAvailable {
		s.unlock()
		return
	}
	l, err := s.layout(r)
	config, rep := serverConfig(r, r.Applied), s.replicationLocked(r)
	s.unlock()
	if err == nil {
		if err = e.WriteConfig(l, config, rep); err == nil {
			err = e.Reload(ctx, l)
		}
	}
	if err == nil {
		return
	}
	s.log.Error("apply parameters", "instance", rid, "err", err)
	s.lock()
	defer s.unlock()
	if r = s.instances[rid]; r == nil {
		return
	}
	if serr := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.PendingReboot = true
		return configuration("Could not apply parameter changes at once; they apply at the next reboot: " + engine.Explain(err))
	}); serr != nil {
		s.log.Error("save pending reboot", "instance", r.Identifier, "err", serr)
	}
}

// lockConfig serialises the writers of one instance's configuration file.
func (s *Service) lockConfig(rid string) (unlock func()) {
	s.mu.Lock()
	m := s.configLocks[rid]
	if m == nil {
		m = &sync.Mutex{}
		s.configLocks[rid] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// rewriteFailedConfigLocked writes the whole group into the configuration
// of a failed instance. Its server may be failing on a value the change
// just fixed: the supervisor's next attempt to start it, or a reboot, then
// reads the fixed file.
func (s *Service) rewriteFailedConfigLocked(e engine.Engine, r *instanceRecord) {
	params := s.effectiveParamsLocked(r)
	l, err := s.layout(r)
	if err == nil {
		err = e.WriteConfig(l, serverConfig(r, params), s.replicationLocked(r))
	}
	if err != nil {
		s.log.Error("rewrite configuration of failed instance", "instance", r.Identifier, "err", err)
		return
	}
	if err := s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.Applied, next.PendingReboot = params, false
		return note{}
	}); err != nil {
		// The file holds the group's values either way; the record says
		// what was applied before, which a reboot rewrites.
		s.log.Error("save instance", "instance", r.Identifier, "err", err)
	}
}

// Parameter values are judged before anything is stored, so that no value
// can break a configuration file or be read differently by the server:
//   - every value is valid UTF-8 without control characters (no setting
//     needs one, and a line break would end a line of the file);
//   - a boolean is one of the words both engines read as one;
//   - an integer is digits with an optional sign, and for PostgreSQL an
//     optional unit; it is compared with the bounds as an exact number, so
//     no value is too large to check;
//   - a float is a finite decimal number within the bounds;
//   - an enum is one of its values, or a plain word when they are unknown.
var (
	intValueRE   = regexp.MustCompile(`^([-+]?[0-9]+)\s*([A-Za-z]*)$`)
	floatValueRE = regexp.MustCompile(`^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$`)
	enumValueRE  = regexp.MustCompile(`^[A-Za-z0-9_.,+-]+$`)
)

// unitScale is one unit an integer value may carry: how many of the
// smallest unit of its kind it holds, and the largest base unit the engine
// measures a parameter of that kind in.
type unitScale struct {
	factor, largestBase int64
}

// integerUnits are the units integer values may carry, by engine.
// PostgreSQL converts a value with a unit to the parameter's base unit:
// bytes, kB, 8 kB blocks or MB for memory, ms, s or min for time. MariaDB's
// SET GLOBAL takes plain numbers only.
var integerUnits = map[string]map[string]unitScale{
	"postgres": {
		"B": {1, 1 << 20}, "kB": {1 << 10, 1 << 20}, "MB": {1 << 20, 1 << 20},
		"GB": {1 << 30, 1 << 20}, "TB": {1 << 40, 1 << 20},
		"us": {1, 60e6}, "ms": {1e3, 60e6}, "s": {1e6, 60e6},
		"min": {60e6, 60e6}, "h": {3600e6, 60e6}, "d": {86400e6, 60e6},
	},
}

// Without bounds from the engine, an integer must still fit in 64 bits,
// signed or not, which is the widest any server reads.
var (
	minInteger = new(big.Int).Lsh(big.NewInt(-1), 63)
	maxInteger = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
)

func validParamValue(engineName string, p engine.ParamInfo, v string) error {
	bad := func(format string, args ...any) error {
		return invalidValue("Value %q for parameter %s is not valid: %s", v, p.Name, fmt.Sprintf(format, args...))
	}
	if !utf8.ValidString(v) {
		return bad("it is not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return bad("it contains a control character (%U)", r)
		}
	}
	switch p.Type {
	case engine.TypeBoolean:
		switch strings.ToLower(v) {
		case "0", "1", "on", "off", "true", "false":
		default:
			return bad("it must be 0 or 1")
		}
	case engine.TypeInteger:
		return validInteger(engineName, p, v, bad)
	case engine.TypeFloat:
		if !floatValueRE.MatchString(v) {
			return bad("it must be a decimal number")
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(n, 0) {
			return bad("it is out of range")
		}
		if min, err := strconv.ParseFloat(p.Min, 64); err == nil && n < min {
			return bad("it is below the minimum %s", p.Min)
		}
		if max, err := strconv.ParseFloat(p.Max, 64); err == nil && n > max {
			return bad("it is above the maximum %s", p.Max)
		}
	case engine.TypeEnum:
		if len(p.AllowedValues) > 0 {
			for _, a := range p.AllowedValues {
				if a == v {
					return nil
				}
			}
			return bad("allowed values are %s", strings.Join(p.AllowedValues, ", "))
		}
		if !enumValueRE.MatchString(v) {
			return bad("it is not one of the parameter's values")
		}
	}
	return nil
}

func validInteger(engineName string, p engine.ParamInfo, v string, bad func(string, ...any) error) error {
	m := intValueRE.FindStringSubmatch(v)
	if m == nil {
		return bad("it must be an integer")
	}
	n, ok := new(big.Int).SetString(m[1], 10)
	if !ok {
		return bad("it must be an integer")
	}
	min, hasMin := new(big.Int).SetString(p.Min, 10)
	max, hasMax := new(big.Int).SetString(p.Max, 10)
	if !hasMin {
		min = minInteger
	}
	if !hasMax {
		max = maxInteger
	}
	if m[2] == "" {
		if n.Cmp(min) < 0 {
			return bad("it is below the minimum %s", min)
		}
		if n.Cmp(max) > 0 {
			return bad("it is above the maximum %s", max)
		}
		return nil
	}
	u, ok := integerUnits[engineName][m[2]]
	if !ok {
		units := make([]string, 0, len(integerUnits[engineName]))
		for k := range integerUnits[engineName] {
			units = append(units, k)
		}
		if len(units) == 0 {
			return bad("it must be a plain integer, without a unit")
		}
		sort.Strings(units)
		return bad("%s is not a unit; the units are %s", m[2], strings.Join(units, ", "))
	}
	if n.Sign() < 0 {
		return bad("a value with a unit cannot be negative")
	}
	// The parameter's base unit is not known here. The value is refused
	// when even the largest base unit of its kind would put it above the
	// maximum; the server checks the rest exactly when it reads the file.
	inBase := new(big.Int).Mul(n, big.NewInt(u.factor))
	inBase.Quo(inBase, big.NewInt(u.largestBase))
	if inBase.Cmp(max) > 0 {
		return bad("it is above the maximum %s (in the parameter's base unit)", max)
	}
	return nil
}

// DeleteDBParameterGroup deletes a user group that no instance uses.
func (s *Service) DeleteDBParameterGroup(ctx context.Context, name string) error {
	return s.deleteGroup(ctx, dbGroupKind, name)
}

// DeleteDBClusterParameterGroup deletes a cluster group no cluster uses.
func (s *Service) DeleteDBClusterParameterGroup(ctx context.Context, name string) error {
	return s.deleteGroup(ctx, clusterGroupKind, name)
}

func (s *Service) deleteGroup(ctx context.Context, k groupKind, name string) error {
	if name == "" {
		if k.cluster {
			return missing("DBClusterParameterGroupName")
		}
		return missing("DBParameterGroupName")
	}
	name = strings.ToLower(name)
	s.lock()
	defer s.unlock()
	g := s.groupsOf(k)[name]
	if g == nil {
		return groupNotFound(name)
	}
	if g.Default {
		if !k.cluster {
			return invalidGroupState("Default DBParameterGroup cannot be deleted: %s", name)
		}
		return invalidGroupState("Default DBClusterParameterGroup cannot be deleted: %s", name)
	}
	for _, r := range s.sortedLocked() {
		if !k.cluster && r.ParameterGroup == name {
			return invalidGroupState("One or more database instances are still members of this parameter group %s, so the group cannot be deleted", name)
		}
	}
	for _, c := range s.clusters {
		if k.cluster && c.ParameterGroup == name {
			return invalidGroupState("One or more DB clusters still use the DB cluster parameter group %s, so it cannot be deleted", name)
		}
	}
	if err := s.commitLocked(ctx, func(tx *store.Tx) error {
		if err := tx.Delete(k.storeKind(), name); err != nil {
			return err
		}
		return tx.AddEvent(store.Event{SourceType: "db-parameter-group", SourceID: name, SourceArn: s.groupArnOf(k, name),
			Message: "Deleted " + k.noun() + " " + name, Categories: []string{"deletion"}})
	}); err != nil {
		return err
	}
	delete(s.groupsOf(k), name)
	return nil
}

// clusterGroupForLocked resolves the cluster parameter group of a cluster
// of build b.
func (s *Service) clusterGroupForLocked(name string, b engine.Build) (string, error) {
	return s.groupOfKindLocked(clusterGroupKind, name, b)
}

// applyClusterGroupLocked takes a cluster's new parameter group to its
// instances: like a new DB parameter group, it applies at their next
// reboot.
func (s *Service) applyClusterGroupLocked(c *clusterRecord) {
	for _, m := range s.membersLocked(c.ResourceID) {
		if m.PendingReboot || m.Applied == nil {
			continue
		}
		if err := s.updateInstanceLocked(m, func(next *instanceRecord) note {
			next.PendingReboot = true
			return configuration("DB cluster parameter group changed to " + c.ParameterGroup + "; it applies at the next reboot")
		}); err != nil {
			s.log.Error("save DB instance", "instance", m.Identifier, "err", err)
		}
	}
}
