package rds

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// CreateBlueGreenDeployment validates everything, runs the preflight on
// blue, records the deployment and its green instances, and builds the green
// environment in the background. A refused request creates nothing.
func (s *Service) CreateBlueGreenDeployment(ctx context.Context, in CreateBlueGreenInput) (*BlueGreenDeployment, error) {
	if in.BlueGreenDeploymentName == "" {
		return nil, missing("BlueGreenDeploymentName")
	}
	if err := bluegreen.ValidName(in.BlueGreenDeploymentName); err != nil {
		return nil, invalidValue("%s", err.Error())
	}
	if in.Source == "" {
		return nil, missing("Source")
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	if in.TargetDBInstanceClass != "" {
		if err := validClass(in.TargetDBInstanceClass, "postgres"); err != nil {
			return nil, err
		}
	}
	if err := checkTargetStorage(in.TargetStorage); err != nil {
		return nil, err
	}
	source, err := s.scope().ResolveARN("Source", in.Source, TypeInstance, TypeCluster)
	if err != nil {
		return nil, err
	}
	if source.Type != TypeCluster && in.TargetDBClusterParameterGroupName != "" {
		return nil, invalidCombination("TargetDBClusterParameterGroupName is for a Source that is a DB cluster.")
	}

	s.lock()
	blue, err := s.sourceLocked(source)
	if err != nil {
		s.unlock()
		return nil, err
	}
	plan, err := s.planDeploymentLocked(blue, in)
	s.unlock()
	if err != nil {
		return nil, err
	}

	// The preflight reads blue, so it runs without the lock.
	findings, err := plan.replicator.Preflight(ctx, plan.blueLayout)
	if errors.Is(err, engine.ErrUnsupported) {
		return nil, sourceNotSupported("The source DB instance %s cannot be replicated here: %v", blue.Identifier, err)
	}
	if err != nil {
		return nil, fmt.Errorf("preflight of %s: %w", blue.Identifier, err)
	}
	// What replication runs with privileges depends on green's version.
	findings = bluegreen.Classify(findings, plan.target.Major())
	if msg := bluegreen.Blocking(findings); msg != "" {
		return nil, sourceNotSupported("The source DB instance %s is not ready for a blue/green deployment: %s", blue.Identifier, msg)
	}

	s.lock()
	defer s.unlock()
	// Re-check what may have changed while the lock was released.
	if blue, err = s.sourceLocked(source); err != nil {
		return nil, err
	}
	if blue.ResourceID != plan.blue.ResourceID {
		return nil, invalidClusterState("The writer of DB cluster %s changed while the deployment was being checked; try again.", source.Name)
	}
	if plan, err = s.planDeploymentLocked(blue, in); err != nil {
		return nil, err
	}
	d, greens, greenCluster, err := s.recordDeploymentLocked(plan, findings, in)
	if err != nil {
		return nil, err
	}
	for _, g := range greens {
		s.instances[g.ResourceID] = g
	}
	if greenCluster != nil {
		s.clusters[greenCluster.ResourceID] = greenCluster
	}
	s.deployments[d.ID] = d
	id := d.ID
	s.startProvisionLocked(id)
	desc := s.describeDeploymentLocked(d)
	return &desc, nil
}

// sourceLocked finds the blue primary a Source names: the instance, or
// the writer of the cluster.
func (s *Service) sourceLocked(source ARN) (*instanceRecord, error) {
	if source.Type != TypeCluster {
		blue := s.findLocked(source.Name)
		if blue == nil {
			return nil, instanceNotFound(source.Name)
		}
		if c := s.clusters[blue.ClusterResourceID]; c != nil {
			return nil, sourceNotSupported("DB instance %s is a member of DB cluster %s: the Source of its blue/green deployment is the cluster (%s).",
				blue.Identifier, c.Identifier, s.clusterArn(c.Identifier))
		}
		return blue, nil
	}
	c := s.findClusterLocked(source.Name)
	if c == nil {
		return nil, clusterNotFound(source.Name)
	}
	if err := c.available(); err != nil {
		return nil, err
	}
	w := s.instances[c.Writer]
	if w == nil {
		return nil, invalidClusterState("DB cluster %s has no writer instance to copy.", c.Identifier)
	}
	for _, m := range s.membersLocked(c.ResourceID) {
		if m.Status != StatusAvailable {
			return nil, invalidInstanceState(m.Identifier, m.Status, StatusAvailable+" (every instance of the DB cluster is copied)")
		}
	}
	return w, nil
}

// deploymentPlan is a validated CreateBlueGreenDeployment.
type deploymentPlan struct {
	// cluster is the blue DB cluster when the Source is one, and
	// clusterGroup the green cluster's parameter group.
	cluster      *clusterRecord
	clusterGroup string
	blue         *instanceRecord
	blueLayout   engine.Layout
	replicas     []*instanceRecord
	target       engine.Build
	group        string
	class        string
	replicator   engine.Replicator
}

func (s *Service) planDeploymentLocked(blue *instanceRecord, in CreateBlueGreenInput) (*deploymentPlan, error) {
	for _, d := range s.deployments {
		if d.Name == in.BlueGreenDeploymentName && d.Status != bluegreen.StatusDeleting {
			return nil, fault("BlueGreenDeploymentAlreadyExistsFault", 400,
				"A blue/green deployment named %s already exists: %s", d.Name, d.ID)
		}
	}
	if blue.SourceResourceID != "" {
		return nil, sourceNotSupported("The source DB instance %s is a read replica; a blue/green deployment starts from a primary.", blue.Identifier)
	}
	if blue.Status != StatusAvailable {
		return nil, invalidInstanceState(blue.Identifier, blue.Status, StatusAvailable)
	}
	if d, _ := s.memberOfLocked(blue.ResourceID); d != nil {
		return nil, invalidInstanceState(blue.Identifier, "part of blue/green deployment "+d.ID, "in no other blue/green deployment")
	}
	e := s.engines[blue.Engine]
	rep, ok := e.(engine.Replicator)
	if !ok {
		return nil, sourceNotSupported("Blue/green deployments of %s are not supported yet.", blue.Engine)
	}
	bl, err := s.layout(blue)
	if err != nil {
		return nil, err
	}
	target := bl.Build
	if in.TargetEngineVersion != "" {
		if target, err = engine.Resolve(e.Builds(), in.TargetEngineVersion); err != nil {
			return nil, invalidCombination("Cannot find version %s for %s", in.TargetEngineVersion, blue.Engine)
		}
	}
	if engine.CompareVersions(target.Version, blue.EngineVersion) < 0 {
		return nil, invalidCombination("The target engine version %s is older than the source's %s; a blue/green deployment cannot downgrade.",
			target.Version, blue.EngineVersion)
	}
	group := ""
	switch {
	case in.TargetDBParameterGroupName != "":
		if group, err = s.groupForLocked(in.TargetDBParameterGroupName, target); err != nil {
			return nil, err
		}
	case target.Family() == bl.Build.Family():
		group = blue.ParameterGroup
	default:
		group = "default." + target.Family()
	}
	if err := s.checkGreenStorageLocked(blue, in.TargetStorage); err != nil {
		return nil, err
	}
	if err := rep.SourceReady(blue.Applied); err != nil {
		return nil, sourceNotSupported("The source DB instance %s runs with %v. Set it in its DB parameter group %s and reboot.",
			blue.Identifier, err, blue.ParameterGroup)
	}
	class := in.TargetDBInstanceClass
	if class == "" {
		class = blue.Class
	}
	p := &deploymentPlan{blue: blue, blueLayout: bl, replicas: s.replicasLocked(blue.ResourceID),
		target: target, group: group, class: class, replicator: rep}
	if c := s.clusters[blue.ClusterResourceID]; c != nil {
		p.cluster = c
		switch {
		case in.TargetDBClusterParameterGroupName != "":
			if p.clusterGroup, err = s.clusterGroupForLocked(in.TargetDBClusterParameterGroupName, target); err != nil {
				return nil, err
			}
		case target.Family() == bl.Build.Family():
			p.clusterGroup = c.ParameterGroup
		default:
			p.clusterGroup = "default." + target.Family()
		}
		// Every reader of a cluster follows its writer: the green
		// cluster gets one green reader for each.
		p.replicas = nil
		for _, m := range s.membersLocked(c.ResourceID) {
			if m.ResourceID != blue.ResourceID {
				p.replicas = append(p.replicas, m)
			}
		}
	}
	return p, nil
}

// checkGreenStorageLocked checks the target storage against each
// instance green copies: blue and its replicas. A DB cluster's instances
// take their storage from the cluster.
func (s *Service) checkGreenStorageLocked(blue *instanceRecord, t TargetStorage) error {
	if blue.ClusterResourceID != "" {
		if t.given() {
			return invalidCombination("The storage of a DB cluster's instances is the cluster's: TargetAllocatedStorage, TargetStorageType, " +
				"TargetIops and TargetStorageThroughput are for a Source that is a DB instance.")
		}
		return nil
	}
	for _, m := range append([]*instanceRecord{blue}, s.replicasLocked(blue.ResourceID)...) {
		if _, _, err := greenStorage(m, t); err != nil {
			return err
		}
	}
	return nil
}

// recordDeploymentLocked stores the deployment and its green instances in
// one transaction and opens the green endpoints.
func (s *Service) recordDeploymentLocked(p *deploymentPlan, findings []bluegreen.Finding, in CreateBlueGreenInput) (*deploymentRecord, []*instanceRecord, *clusterRecord, error) {
	suffix := bluegreen.NewSuffix()
	d := &deploymentRecord{
		ID:         bluegreen.NewIdentifier(),
		Name:       in.BlueGreenDeploymentName,
		Status:     bluegreen.StatusProvisioning,
		Tasks:      bluegreen.Tasks(p.target.Version != p.blue.EngineVersion, len(p.replicas) > 0),
		Upgrade:    p.target.Version != p.blue.EngineVersion,
		Tags:       in.Tags,
		CreateTime: time.Now().UTC(),
		Findings:   findings,
	}
	var greens []*instanceRecord
	newGreen := func(b *instanceRecord, source string) (*instanceRecord, error) {
		name := bluegreen.GreenName(b.Identifier, suffix)
		if s.findLocked(name) != nil {
			return nil, instanceExists(name)
		}
		// Green is a copy of b, with the deployment's targets: its
		// class and storage; its settings (windows, monitoring, roles, …)
		// are b's.
		storage, settings, err := greenStorage(b, in.TargetStorage)
		if err != nil {
			return nil, err
		}
		g := &instanceRecord{
			ResourceID: newResourceID(), Identifier: name, Engine: b.Engine, EngineVersion: p.target.Version,
			Class: p.class, AllocatedStorage: storage.gib, StorageType: storage.typ,
			MasterUsername: b.MasterUsername, DBName: b.DBName, ParameterGroup: p.group, Status: StatusCreating,
			DeletionProtection: b.DeletionProtection, BackupRetentionPeriod: b.BackupRetentionPeriod,
			Tags: append([]Tag(nil), b.Tags...), CreateTime: time.Now().UTC(), SourceResourceID: source, ReadOnly: true,
			instanceSettings: settings,
		}
		if err := s.openEndpointLocked(g, 0); err != nil {
			return nil, err
		}
		greens = append(greens, g)
		return g, nil
	}
	var gc *clusterRecord
	cleanup := func() {
		for _, g := range greens {
			s.proxy.CloseEndpoint(g.Identifier)
		}
		if gc != nil && gc.Port != 0 {
			s.closeClusterEndpoints(gc)
		}
	}
	primary, err := newGreen(p.blue, "")
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	d.Members = append(d.Members, memberRecord{Blue: p.blue.ResourceID, Green: primary.ResourceID, Status: bluegreen.MemberProvisioning})
	for _, r := range p.replicas {
		g, err := newGreen(r, primary.ResourceID)
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
		d.Members = append(d.Members, memberRecord{Blue: r.ResourceID, Green: g.ResourceID, Replica: true, Status: bluegreen.MemberProvisioning})
	}
	if c := p.cluster; c != nil {
		name := bluegreen.GreenName(c.Identifier, suffix)
		if s.findClusterLocked(name) != nil {
			cleanup()
			return nil, nil, nil, clusterExists()
		}
		gc = &clusterRecord{ResourceID: newClusterResourceID(), Identifier: name, Engine: c.Engine, EngineVersion: p.target.Version,
			MasterUsername: c.MasterUsername, MasterVerifier: c.MasterVerifier, DatabaseName: c.DatabaseName,
			ParameterGroup: p.clusterGroup, Status: StatusAvailable, DeletionProtection: c.DeletionProtection,
			BackupRetentionPeriod: c.BackupRetentionPeriod, Tags: slices.Clone(c.Tags), CreateTime: time.Now().UTC(),
			Writer: primary.ResourceID}
		if err := s.openClusterEndpointsLocked(gc, 0); err != nil {
			gc = nil
			cleanup()
			return nil, nil, nil, err
		}
		for _, g := range greens {
			g.ClusterResourceID = gc.ResourceID
		}
		d.Cluster = &clusterPair{Blue: c.ResourceID, Green: gc.ResourceID}
	}
	err = s.commitLocked(s.ctx, func(tx *store.Tx) error {
		for _, g := range greens {
			if err := tx.Put(store.KindInstance, g.ResourceID, g); err != nil {
				return err
			}
			if err := tx.AddEvent(s.instanceEvent(g, creation("DB instance created as part of blue/green deployment "+d.ID))); err != nil {
				return err
			}
		}
		if gc != nil {
			if err := tx.Put(kindCluster, gc.ResourceID, gc); err != nil {
				return err
			}
			if err := tx.AddEvent(s.clusterEvent(gc, creation("DB cluster created as part of blue/green deployment "+d.ID))); err != nil {
				return err
			}
		}
		if err := tx.Put(kindDeployment, d.ID, d); err != nil {
			return err
		}
		msg := "Blue/green deployment creation started"
		for _, f := range findings {
			msg += "; finding: " + f.Message
		}
		return tx.AddEvent(s.deploymentEvent(d, creation(msg)))
	})
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return d, greens, gc, nil
}

// A provision is a green build under way: DeleteBlueGreenDeployment
// cancels it and waits for it to end before it removes what it built.
type provision struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startProvisionLocked builds deployment id's green in the background. It
// is registered at once, so a delete that follows finds it.
func (s *Service) startProvisionLocked(id string) {
	ctx, cancel := context.WithCancel(s.ctx)
	p := &provision{cancel: cancel, done: make(chan struct{})}
	s.provisions[id] = p
	s.goWork(func(context.Context) {
		defer func() {
			s.lock()
			if s.provisions[id] == p {
				delete(s.provisions, id)
			}
			s.unlock()
			cancel()
			close(p.done)
		}()
		s.provisionDeployment(ctx, id)
	})
}

// stopProvisionLocked cancels the green build of deployment id, if one
// runs, and returns a channel closed once it has ended.
func (s *Service) stopProvisionLocked(id string) <-chan struct{} {
	p := s.provisions[id]
	if p == nil {
		ended := make(chan struct{})
		close(ended)
		return ended
	}
	p.cancel()
	return p.done
}

// provisionDeployment builds the green environment with
// internal/deployment's Build, over buildEnv. After a restart of teal the
// whole build runs again from a fresh green primary, since every step is
// idempotent.
func (s *Service) provisionDeployment(ctx context.Context, id string) {
	s.mu.Lock()
	d := s.deployments[id]
	if d == nil || d.Status != bluegreen.StatusProvisioning {
		s.mu.Unlock()
		return
	}
	st := deploymentState(d)
	s.mu.Unlock()
	deployment.NewBuild(&buildEnv{s: s, id: id}, id, st, s.log).Run(ctx)
}

// loadGreen initialises green and has the engine copy blue into it. Green
// is loaded with the engine's load settings, if it has any, and restarted
// with its own once its data is in.
func (s *Service) loadGreen(ctx context.Context, gid string, e engine.Engine, rep engine.Replicator, bl, gl engine.Layout, id string,
	config map[string]string, setProgress func(string), progress func(engine.CopyProgress)) error {
	load, loads := e.(engine.Loader)
	startConfig := config
	if loads {
		startConfig = maps.Clone(config)
		maps.Copy(startConfig, load.LoadSettings(gl.Build))
	}
	if err := s.initServer(ctx, gid, e, gl, startConfig, nil); err != nil {
		return fmt.Errorf("start green primary: %w", err)
	}
	if err := rep.StartReplication(ctx, bl, gl, id, progress); err != nil {
		return fmt.Errorf("start replication: %w", err)
	}
	if !loads {
		return nil
	}
	setProgress("restarting green with its own settings")
	if err := e.WriteConfig(gl, config, nil); err != nil {
		return fmt.Errorf("green primary: %w", err)
	}
	if err := s.sup.Restart(ctx, gid); err != nil {
		return fmt.Errorf("restart green primary: %w", err)
	}
	return nil
}

// cloneGreen makes green a physical copy of blue that follows blue up to
// the point where logical replication starts, and is then promoted; for a
// newer major, the copy follows with blue's build and settings (a standby
// needs as many connections and workers as its primary) and is then
// upgraded into green. dataIn is called once green runs, before its
// subscriptions are made.
func (s *Service) cloneGreen(ctx context.Context, gid string, e engine.Engine, cloner engine.GreenCloner, bl, gl engine.Layout, id string,
	config, blueConfig map[string]string, progress func(engine.CopyProgress), dataIn func()) error {
	if err := s.startOver(ctx, gid, gl); err != nil {
		return err
	}
	follow, clone, err := cloner.CloneGreen(ctx, bl, gl, id, progress)
	if err != nil {
		return fmt.Errorf("clone blue: %w", err)
	}
	upgrade := clone.DataDir != gl.DataDir
	startConfig := maps.Clone(config)
	if upgrade {
		startConfig = maps.Clone(blueConfig)
	}
	maps.Copy(startConfig, cloner.CloneSettings(clone.Build))
	if err := e.WriteConfig(clone, startConfig, &follow); err != nil {
		return fmt.Errorf("green primary: %w", err)
	}
	if err := s.sup.Start(ctx, gid, e.Spec(clone)); err != nil {
		return fmt.Errorf("start green primary: %w", err)
	}
	if err := cloner.AwaitPromotion(ctx, bl, clone, follow); err != nil {
		return fmt.Errorf("start replication: %w", err)
	}
	if upgrade {
		if err := s.sup.Stop(ctx, gid); err != nil {
			return fmt.Errorf("stop the copy of blue: %w", err)
		}
		if err := cloner.UpgradeClone(ctx, clone, gl, progress); err != nil {
			return fmt.Errorf("upgrade the copy of blue: %w", err)
		}
		startConfig = maps.Clone(config)
		maps.Copy(startConfig, cloner.CloneSettings(gl.Build))
		if err := e.WriteConfig(gl, startConfig, nil); err != nil {
			return fmt.Errorf("green primary: %w", err)
		}
		if err := s.sup.Start(ctx, gid, e.Spec(gl)); err != nil {
			return fmt.Errorf("start green primary: %w", err)
		}
	}
	dataIn()
	if err := cloner.FinishClone(ctx, bl, gl, id, follow); err != nil {
		return fmt.Errorf("start replication: %w", err)
	}
	// Every later start is a primary's, without the follower's settings.
	if err := e.WriteConfig(gl, config, nil); err != nil {
		return fmt.Errorf("green primary: %w", err)
	}
	return nil
}

// buildEnv is a green build's deployment.Builder. It looks up the
// deployment and its instances afresh at every call, under the lock, and
// acts outside it.
type buildEnv struct {
	s      *Service
	id     string
	cloned bool // green is a clone of blue's files, not a logical copy
}

var _ deployment.Builder = (*buildEnv)(nil)

// Save saves a build's state only while the deployment is still being
// built: a deletion that overtook the build wins.
func (e *buildEnv) Save(ctx context.Context, st deployment.State, ev deployment.Event) error {
	s := e.s
	s.lock()
	defer s.unlock()
	d := s.deployments[e.id]
	if d == nil || d.Status != bluegreen.StatusProvisioning {
		return fmt.Errorf("deployment %s is no longer being created", e.id)
	}
	return s.updateDeploymentLocked(d, func(next *deploymentRecord) note {
		applyState(next, st)
		return note{ev.Category, ev.Message}
	})
}

func (e *buildEnv) Unsaved(detail string) { (&switchEnv{s: e.s, id: e.id}).Unsaved(detail) }

// members gives the primaries' records (copies) and layouts.
func (e *buildEnv) members() (blue, green instanceRecord, bl, gl engine.Layout, err error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[e.id]
	if d == nil {
		return blue, green, bl, gl, fmt.Errorf("deployment %s is gone", e.id)
	}
	b, g := s.instances[d.Members[0].Blue], s.instances[d.Members[0].Green]
	if b == nil || g == nil {
		return blue, green, bl, gl, errors.New("a member of the deployment was deleted while it was being created")
	}
	if bl, err = s.layout(b); err != nil {
		return
	}
	if gl, err = s.layout(g); err != nil {
		return
	}
	return *b, *g, bl, gl, nil
}

func (e *buildEnv) BuildGreen(ctx context.Context, progress func(string), note func(deployment.Event) error, dataIn func()) error {
	s := e.s
	blue, green, bl, gl, err := e.members()
	if err != nil {
		return err
	}
	s.lock()
	eng := s.engines[green.Engine]
	config := serverConfig(&green, s.effectiveParamsLocked(&green))
	blueConfig := serverConfig(&blue, s.effectiveParamsLocked(&blue))
	s.unlock()
	rep, ok := eng.(engine.Replicator)
	if !ok {
		return fmt.Errorf("engine %s has no blue/green support", green.Engine)
	}
	copyProgress := func(p engine.CopyProgress) { progress(p.String()) }
	cloner, cloned := eng.(engine.GreenCloner)
	e.cloned = cloned && cloner.Clones(bl.Build, gl.Build)
	if e.cloned {
		err := s.cloneGreen(ctx, green.ResourceID, eng, cloner, bl, gl, e.id, config, blueConfig, copyProgress, dataIn)
		if !errors.Is(err, engine.ErrUpgradeRefused) {
			return err
		}
		// What pg_upgrade refuses, a logical copy may still build.
		s.log.Warn("in-place upgrade refused; copying instead", "deployment", e.id, "err", err)
		if err := note(deployment.Event{Category: "notification",
			Message: "The in-place upgrade of blue's copy refused its data (see teal's log); green is copied table by table instead"}); err != nil {
			return fmt.Errorf("save deployment: %w", err)
		}
		e.cloned = false
	}
	return s.loadGreen(ctx, green.ResourceID, eng, rep, bl, gl, e.id, config, progress, copyProgress)
}

func (e *buildEnv) PublishGreen(ctx context.Context) error {
	s := e.s
	s.lock()
	defer s.unlock()
	d := s.deployments[e.id]
	if d == nil {
		return fmt.Errorf("deployment %s is gone", e.id)
	}
	g := s.instances[d.Members[0].Green]
	if g == nil {
		return errors.New("green's primary was deleted while it was being created")
	}
	next := *g
	next.Applied = s.effectiveParamsLocked(g)
	if err := s.saveLocked(&next, note{}); err != nil {
		return err
	}
	*g = next
	name, backend := g.Identifier, g.backend()
	var err error
	s.outsideLocked(func() { err = s.proxy.SetTarget(name, backend) })
	return err
}

func (e *buildEnv) replicator() (engine.Replicator, engine.Layout, engine.Layout, error) {
	return (&switchEnv{s: e.s, id: e.id}).sides()
}

func (e *buildEnv) Baseline(ctx context.Context) (engine.SchemaState, error) {
	rep, bl, _, err := e.replicator()
	if err != nil {
		return engine.SchemaState{}, err
	}
	return rep.SchemaState(ctx, bl)
}

func (e *buildEnv) Replication(ctx context.Context) (engine.ReplicationStatus, error) {
	rep, bl, gl, err := e.replicator()
	if err != nil {
		return engine.ReplicationStatus{}, err
	}
	return rep.ReplicationStatus(ctx, bl, gl, e.id)
}

// AfterCopy collects green's statistics, unless green is a clone of
// blue's major, which has blue's. pg_upgrade carries most of them from 18
// on: then only what it left out is collected.
func (e *buildEnv) AfterCopy(ctx context.Context, progress func(string)) error {
	rep, bl, gl, err := e.replicator()
	if err != nil {
		return err
	}
	if e.cloned && bl.Build.Major() == gl.Build.Major() {
		return nil
	}
	major, _ := strconv.Atoi(gl.Build.Major())
	onlyMissing := e.cloned && major >= 18
	return rep.AfterInitialCopy(ctx, gl, onlyMissing, func(p engine.CopyProgress) { progress(p.String()) })
}

func (e *buildEnv) GreenAvailable(ctx context.Context) error {
	s := e.s
	s.lock()
	defer s.unlock()
	d := s.deployments[e.id]
	if d == nil || d.Status != bluegreen.StatusProvisioning {
		return fmt.Errorf("deployment %s is no longer being created", e.id)
	}
	g := s.instances[d.Members[0].Green]
	if g == nil {
		return errors.New("green's primary was deleted while it was being created")
	}
	return s.setStatusLocked(g, StatusAvailable, notification("Green primary is in sync with blue"))
}

func (e *buildEnv) BuildReplicas(ctx context.Context, progress func(string)) error {
	s := e.s
	s.mu.Lock()
	d := s.deployments[e.id]
	var replicas []string
	if d != nil {
		for _, m := range d.Members[1:] {
			replicas = append(replicas, m.Green)
		}
	}
	s.mu.Unlock()
	for i, rid := range replicas {
		progress(fmt.Sprintf("creating green read replica %d of %d", i+1, len(replicas)))
		s.provisionReplica(ctx, rid)
		s.mu.Lock()
		r := s.instances[rid]
		ok := r != nil && r.Status == StatusAvailable
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("green read replica could not be created")
		}
	}
	return nil
}

// ConfigureBackups implements deployment.Builder: green's primary gets
// blue's backup retention when it is created; here its server's
// configuration is written again with the archive it then has. Its first
// base backup follows as for any new instance.
func (e *buildEnv) ConfigureBackups(ctx context.Context) error {
	s := e.s
	s.mu.Lock()
	d := s.deployments[e.id]
	var rid string
	archives := false
	if d != nil {
		if g := s.instances[d.Members[0].Green]; g != nil {
			rid, archives = g.ResourceID, s.archivesLocked(g)
		}
	}
	var eng engine.Engine
	if rid != "" {
		eng = s.engines[s.instances[rid].Engine]
	}
	s.mu.Unlock()
	if rid == "" {
		return errors.New("green's primary was deleted while it was being created")
	}
	if !archives || !engine.IsPostgres(eng.Name()) {
		// Blue keeps no automated backups, nor does green; or green's
		// engine archives without a setting of its server (MariaDB's
		// binary logs are always on).
		return nil
	}
	s.reloadConfig(ctx, eng, rid)
	return nil
}
