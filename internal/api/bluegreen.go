package api

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// The blue/green deployment operations.

type createBlueGreenInput struct {
	BlueGreenDeploymentName    string `query:",required"`
	Source                     string `query:",required,arn=db|cluster"`
	TargetEngineVersion        string
	TargetDBParameterGroupName string `query:",id=pg"`
	TargetDBInstanceClass      string
	Tags                       []tagInput `query:"Tags.Tag"`
	// The green cluster's parameter group, when Source is a DB cluster.
	TargetDBClusterParameterGroupName string `query:",id=cluster-pg"`
	// Green's storage, when it differs from blue's.
	TargetAllocatedStorage  int
	TargetStorageType       string
	TargetIops              *int
	TargetStorageThroughput *int
	// UpgradeTargetStorageConfig asks for RDS's newer storage file system
	// on green. teal's storage is the host's file system, with nothing
	// older to upgrade from, so either value leaves green as it is.
	UpgradeTargetStorageConfig *bool
	// Its only setting is a KMS key for green's encryption; there is no
	// KMS here.
	TargetResourceConfigurations []struct{} `query:"TargetResourceConfigurations.TargetResourceConfiguration,unsupported"`
}

type describeBlueGreenInput struct {
	BlueGreenDeploymentIdentifier string        `query:",id=deployment"`
	Filters                       []filterInput `query:"Filters.Filter"`
	Marker                        string
	MaxRecords                    int
}

type switchoverBlueGreenInput struct {
	BlueGreenDeploymentIdentifier string `query:",required,id=deployment"`
	SwitchoverTimeout             *int
}

type deleteBlueGreenInput struct {
	BlueGreenDeploymentIdentifier string `query:",required,id=deployment"`
	DeleteTarget                  bool
}

type switchoverDetailXML struct {
	SourceMember string
	TargetMember string `xml:",omitempty"`
	Status       string
}

type taskXML struct {
	Name   string
	Status string
}

type blueGreenXML struct {
	BlueGreenDeploymentIdentifier string
	BlueGreenDeploymentName       string
	Source                        string
	Target                        string `xml:",omitempty"`
	SwitchoverDetails             list[switchoverDetailXML]
	Tasks                         list[taskXML]
	Status                        string
	StatusDetails                 string `xml:",omitempty"`
	CreateTime                    string
	DeleteTime                    string `xml:",omitempty"`
	TagList                       list[tagXML]
	// teal's own members, which the SDKs skip and the console shows:
	// green's replication lag while it is available, the preflight's
	// findings, and the phase and timings of the switchover.
	TealReplicaLagSeconds *float64 `xml:",omitempty"`
	TealReplicaLagBytes   *int64   `xml:",omitempty"`
	TealFindings          *list[findingXML]
	TealSwitchoverPhase   string `xml:",omitempty"`
	TealSwitchoverTimings *list[phaseTimingXML]
}

type findingXML struct {
	Kind, Database, Object string
	Blocking               bool
	Message                string
}

// order is a switchover phase's place in bluegreen.Phases.
func order(phase string) int {
	if i := slices.Index(bluegreen.Phases, phase); i >= 0 {
		return i
	}
	return len(bluegreen.Phases)
}

type phaseTimingXML struct {
	Phase        string
	Milliseconds float64
}

func blueGreenOf(d rds.BlueGreenDeployment) blueGreenXML {
	details := make([]switchoverDetailXML, len(d.SwitchoverDetails))
	for i, s := range d.SwitchoverDetails {
		details[i] = switchoverDetailXML(s)
	}
	tasks := make([]taskXML, len(d.Tasks))
	for i, t := range d.Tasks {
		tasks[i] = taskXML(t)
	}
	out := blueGreenXML{
		BlueGreenDeploymentIdentifier: d.BlueGreenDeploymentIdentifier,
		BlueGreenDeploymentName:       d.BlueGreenDeploymentName,
		Source:                        d.Source,
		Target:                        d.Target,
		SwitchoverDetails:             listOf("member", details),
		Tasks:                         listOf("member", tasks),
		Status:                        d.Status,
		StatusDetails:                 d.StatusDetails,
		CreateTime:                    isoTime(d.CreateTime),
		TagList:                       tagsXML(d.TagList),
	}
	if d.DeleteTime != nil {
		out.DeleteTime = isoTime(*d.DeleteTime)
	}
	if d.Status == bluegreen.StatusAvailable {
		out.TealReplicaLagSeconds, out.TealReplicaLagBytes = &d.ReplicaLagSeconds, &d.ReplicaLagBytes
	}
	if len(d.Findings) > 0 {
		f := make([]findingXML, len(d.Findings))
		for i, x := range d.Findings {
			f[i] = findingXML(x)
		}
		l := listOf("member", f)
		out.TealFindings = &l
	}
	out.TealSwitchoverPhase = d.SwitchoverPhase
	if len(d.SwitchoverTimings) > 0 {
		// In the order they ran; any other after, by name.
		phases := slices.Sorted(maps.Keys(d.SwitchoverTimings))
		slices.SortStableFunc(phases, func(a, b string) int { return order(a) - order(b) })
		t := make([]phaseTimingXML, len(phases))
		for i, p := range phases {
			t[i] = phaseTimingXML{p, d.SwitchoverTimings[p]}
		}
		l := listOf("member", t)
		out.TealSwitchoverTimings = &l
	}
	return out
}

type blueGreenResult struct {
	BlueGreenDeployment blueGreenXML
}

func blueGreenResultOf(d *rds.BlueGreenDeployment, err error) (blueGreenResult, error) {
	if err != nil {
		return blueGreenResult{}, err
	}
	return blueGreenResult{BlueGreenDeployment: blueGreenOf(*d)}, nil
}

type describeBlueGreenResult struct {
	BlueGreenDeployments list[blueGreenXML]
	Marker               string `xml:",omitempty"`
}

func (a *API) createBlueGreen(ctx context.Context, in *createBlueGreenInput) (blueGreenResult, error) {
	return blueGreenResultOf(a.svc.CreateBlueGreenDeployment(ctx, rds.CreateBlueGreenInput{
		BlueGreenDeploymentName:    in.BlueGreenDeploymentName,
		Source:                     in.Source,
		TargetEngineVersion:        in.TargetEngineVersion,
		TargetDBParameterGroupName: in.TargetDBParameterGroupName,
		TargetDBInstanceClass:      in.TargetDBInstanceClass,
		Tags:                       tagsOf(in.Tags),

		TargetDBClusterParameterGroupName: in.TargetDBClusterParameterGroupName,
		TargetStorage: rds.TargetStorage{TargetAllocatedStorage: in.TargetAllocatedStorage, TargetStorageType: in.TargetStorageType,
			TargetIops: in.TargetIops, TargetStorageThroughput: in.TargetStorageThroughput},
	}))
}

func (a *API) describeBlueGreen(ctx context.Context, in *describeBlueGreenInput) (describeBlueGreenResult, error) {
	deps, marker, err := a.svc.DescribeBlueGreenDeployments(ctx, in.BlueGreenDeploymentIdentifier, filtersOf(in.Filters),
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeBlueGreenResult{}, err
	}
	out := make([]blueGreenXML, len(deps))
	for i, d := range deps {
		out[i] = blueGreenOf(d)
	}
	return describeBlueGreenResult{BlueGreenDeployments: listOf("member", out), Marker: marker}, nil
}

func (a *API) switchoverBlueGreen(ctx context.Context, in *switchoverBlueGreenInput) (blueGreenResult, error) {
	return blueGreenResultOf(a.svc.SwitchoverBlueGreenDeployment(ctx, in.BlueGreenDeploymentIdentifier, in.SwitchoverTimeout))
}

func (a *API) deleteBlueGreen(ctx context.Context, in *deleteBlueGreenInput) (blueGreenResult, error) {
	return blueGreenResultOf(a.svc.DeleteBlueGreenDeployment(ctx, in.BlueGreenDeploymentIdentifier, in.DeleteTarget))
}

// deploymentNotFound matches the fault of an unknown deployment (rds.Fault
// compares codes).
var deploymentNotFound = &rds.Fault{Code: "BlueGreenDeploymentNotFoundFault"}

// deploymentArn is the ARN of a deployment; without an identifier, every one.
func (a *API) deploymentArn(id string) string { return a.arn(rds.TypeDeployment, id) }

// membersOf lists the ARNs of a deployment's instances on one side (blue
// or green), for the checks RDS makes on them. An unknown deployment has
// none; the operation itself then answers BlueGreenDeploymentNotFoundFault.
// If the members cannot be read, the check fails closed: it is made on every
// instance.
func (a *API) membersOf(id string, green, clusters bool) []string {
	deps, _, err := a.svc.DescribeBlueGreenDeployments(context.Background(), id, nil, rds.Page{})
	if errors.Is(err, deploymentNotFound) {
		return nil
	}
	if err != nil || len(deps) == 0 {
		return []string{a.dbArn("")}
	}
	var out []string
	for _, m := range deps[0].SwitchoverDetails {
		if strings.Contains(m.SourceMember, ":"+rds.TypeCluster+":") != clusters {
			continue
		}
		arn := m.SourceMember
		if green {
			arn = m.TargetMember
		}
		if arn != "" {
			out = append(out, arn)
		}
	}
	return out
}
