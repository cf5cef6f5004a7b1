package api

import (
	"context"
	"strings"

	"github.com/tealdb/teal/internal/rds"
)

// operations is the table of actions teal answers. Each entry names the
// handler and what the request needs to be authorized: the operation's own
// IAM action (rds:<Action>) on the resources it touches, plus any other
// action RDS checks for it. Adding an operation is one entry here, an input
// struct with query tags and a handler.
var operations = map[string]operation{
	"CreateDBInstance": op((*API).createDBInstance, func(a *API, in *createDBInstanceInput) access {
		db := a.dbArn(in.DBInstanceIdentifier)
		acc := self(db).withGroup(a, in.DBParameterGroupName).
			withNetGroups(a, in.DBSubnetGroupName, in.OptionGroupName, in.DBSecurityGroups).
			andIf(len(in.Tags) > 0, "AddTagsToResource", db)
		if in.DBClusterIdentifier != "" {
			acc[0].resources = append(acc[0].resources, a.clusterArn(in.DBClusterIdentifier))
		}
		return acc
	}),
	"DescribeDBInstances": op((*API).describeDBInstances, func(a *API, in *describeDBInstancesInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"ModifyDBInstance": op((*API).modifyDBInstance, func(a *API, in *modifyDBInstanceInput) access {
		acc := self(a.dbArn(in.DBInstanceIdentifier)).withGroup(a, in.DBParameterGroupName).
			withNetGroups(a, in.DBSubnetGroupName, in.OptionGroupName, in.DBSecurityGroups)
		if in.NewDBInstanceIdentifier != "" {
			acc[0].resources = append(acc[0].resources, a.dbArn(in.NewDBInstanceIdentifier))
		}
		return acc
	}),
	"AddRoleToDBInstance": op((*API).addRoleToDBInstance, func(a *API, in *instanceRoleInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"RemoveRoleFromDBInstance": op((*API).removeRoleFromDBInstance, func(a *API, in *instanceRoleInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"RebootDBInstance": op((*API).rebootDBInstance, func(a *API, in *instanceIDInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"StopDBInstance": op((*API).stopDBInstance, func(a *API, in *stopDBInstanceInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier)).
			andIf(in.DBSnapshotIdentifier != "", "CreateDBSnapshot", a.snapshotArn(in.DBSnapshotIdentifier), a.dbArn(in.DBInstanceIdentifier))
	}),
	"StartDBInstance": op((*API).startDBInstance, func(a *API, in *instanceIDInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"DescribeDBLogFiles": op((*API).describeDBLogFiles, func(a *API, in *describeDBLogFilesInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"DownloadDBLogFilePortion": op((*API).downloadDBLogFilePortion, func(a *API, in *downloadDBLogFilePortionInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"DeleteDBInstance": op((*API).deleteDBInstance, func(a *API, in *deleteDBInstanceInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier)).
			andIf(in.FinalDBSnapshotIdentifier != "", "CreateDBSnapshot", a.snapshotArn(in.FinalDBSnapshotIdentifier), a.dbArn(in.DBInstanceIdentifier))
	}),
	"CreateDBInstanceReadReplica": op((*API).createReadReplica, func(a *API, in *createReadReplicaInput) access {
		db := a.dbArn(in.DBInstanceIdentifier)
		return self(db, a.dbArn(in.SourceDBInstanceIdentifier)).withGroup(a, in.DBParameterGroupName).
			andIf(len(in.Tags) > 0, "AddTagsToResource", db)
	}),
	"PromoteReadReplica": op((*API).promoteReadReplica, func(a *API, in *instanceIDInput) access {
		return self(a.dbArn(in.DBInstanceIdentifier))
	}),
	"CreateDBParameterGroup": op((*API).createDBParameterGroup, func(a *API, in *createDBParameterGroupInput) access {
		pg := a.pgArn(in.DBParameterGroupName)
		return self(pg).andIf(len(in.Tags) > 0, "AddTagsToResource", pg)
	}),
	"CopyDBParameterGroup": op((*API).copyDBParameterGroup, func(a *API, in *copyDBParameterGroupInput) access {
		pg := a.pgArn(in.TargetDBParameterGroupIdentifier)
		return self(a.pgArn(in.SourceDBParameterGroupIdentifier), pg).andIf(len(in.Tags) > 0, "AddTagsToResource", pg)
	}),
	"ModifyDBParameterGroup": op((*API).modifyDBParameterGroup, func(a *API, in *modifyDBParameterGroupInput) access {
		return self(a.pgArn(in.DBParameterGroupName))
	}),
	"ResetDBParameterGroup": op((*API).resetDBParameterGroup, func(a *API, in *resetDBParameterGroupInput) access {
		return self(a.pgArn(in.DBParameterGroupName))
	}),
	"DescribeDBParameterGroups": op((*API).describeDBParameterGroups, func(a *API, in *describeDBParameterGroupsInput) access {
		return self(a.pgArn(in.DBParameterGroupName))
	}),
	"DescribeDBParameters": op((*API).describeDBParameters, func(a *API, in *describeDBParametersInput) access {
		return self(a.pgArn(in.DBParameterGroupName))
	}),
	"DeleteDBParameterGroup": op((*API).deleteDBParameterGroup, func(a *API, in *groupNameInput) access {
		return self(a.pgArn(in.DBParameterGroupName))
	}),

	"DescribeOrderableDBInstanceOptions": op((*API).describeOrderable, func(a *API, in *describeOrderableInput) access {
		return self()
	}),

	// DB snapshots.
	"CreateDBSnapshot": op((*API).createDBSnapshot, func(a *API, in *createDBSnapshotInput) access {
		sn := a.snapshotArn(in.DBSnapshotIdentifier)
		return self(sn, a.dbArn(in.DBInstanceIdentifier)).andIf(len(in.Tags) > 0, "AddTagsToResource", sn)
	}),
	"DescribeDBSnapshots": op((*API).describeDBSnapshots, func(a *API, in *describeDBSnapshotsInput) access {
		return self(a.snapshotArn(in.DBSnapshotIdentifier))
	}),
	"DeleteDBSnapshot": op((*API).deleteDBSnapshot, func(a *API, in *snapshotIDInput) access {
		return self(a.snapshotArn(in.DBSnapshotIdentifier))
	}),
	"CopyDBSnapshot": op((*API).copyDBSnapshot, func(a *API, in *copyDBSnapshotInput) access {
		sn := a.snapshotArn(in.TargetDBSnapshotIdentifier)
		return self(a.snapshotArn(in.SourceDBSnapshotIdentifier), sn).andIf(len(in.Tags) > 0, "AddTagsToResource", sn)
	}),
	"ModifyDBSnapshotAttribute": op((*API).modifyDBSnapshotAttribute, func(a *API, in *modifyDBSnapshotAttributeInput) access {
		return self(a.snapshotArn(in.DBSnapshotIdentifier))
	}),
	"DescribeDBSnapshotAttributes": op((*API).describeDBSnapshotAttributes, func(a *API, in *snapshotIDInput) access {
		return self(a.snapshotArn(in.DBSnapshotIdentifier))
	}),
	"RestoreDBInstanceFromDBSnapshot": op((*API).restoreFromSnapshot, func(a *API, in *restoreFromSnapshotInput) access {
		db := a.dbArn(in.DBInstanceIdentifier)
		return self(db, a.snapshotArn(in.DBSnapshotIdentifier)).withGroup(a, in.DBParameterGroupName).
			withNetGroups(a, in.DBSubnetGroupName, in.OptionGroupName, nil).
			andIf(len(in.Tags) > 0, "AddTagsToResource", db)
	}),

	// Automated backups and point-in-time restores. A restore is authorized
	// on the source instance (or its automated backups) and the target.
	"RestoreDBInstanceToPointInTime": op((*API).restorePointInTime, func(a *API, in *restorePointInTimeInput) access {
		db := a.dbArn(in.TargetDBInstanceIdentifier)
		src := a.dbArn(in.SourceDBInstanceIdentifier)
		if in.SourceDBInstanceIdentifier == "" {
			src = a.arn(rds.TypeAutoBackup, in.SourceDBInstanceAutomatedBackupsArn)
			if in.SourceDBInstanceAutomatedBackupsArn != "" {
				src = in.SourceDBInstanceAutomatedBackupsArn
			}
		}
		return self(db, src).withGroup(a, in.DBParameterGroupName).withNetGroups(a, in.DBSubnetGroupName, in.OptionGroupName, nil).
			andIf(len(in.Tags) > 0, "AddTagsToResource", db)
	}),
	"DescribeDBInstanceAutomatedBackups": op((*API).describeAutomatedBackups, func(a *API, in *describeAutomatedBackupsInput) access {
		return self(a.arn(rds.TypeAutoBackup, ""))
	}),
	"DeleteDBInstanceAutomatedBackup": op((*API).deleteAutomatedBackup, func(a *API, in *deleteAutomatedBackupInput) access {
		if in.DBInstanceAutomatedBackupsArn != "" {
			return self(in.DBInstanceAutomatedBackupsArn)
		}
		return self(a.arn(rds.TypeAutoBackup, ""))
	}),

	// DB subnet groups, DB security groups and option groups.
	"CreateDBSubnetGroup": op((*API).createDBSubnetGroup, func(a *API, in *createDBSubnetGroupInput) access {
		g := a.arn(rds.TypeSubnetGroup, in.DBSubnetGroupName)
		return self(g).andIf(len(in.Tags) > 0, "AddTagsToResource", g)
	}),
	"DescribeDBSubnetGroups": op((*API).describeDBSubnetGroups, func(a *API, in *describeDBSubnetGroupsInput) access {
		return self(a.arn(rds.TypeSubnetGroup, in.DBSubnetGroupName))
	}),
	"ModifyDBSubnetGroup": op((*API).modifyDBSubnetGroup, func(a *API, in *modifyDBSubnetGroupInput) access {
		return self(a.arn(rds.TypeSubnetGroup, in.DBSubnetGroupName))
	}),
	"DeleteDBSubnetGroup": op((*API).deleteDBSubnetGroup, func(a *API, in *subnetGroupNameInput) access {
		return self(a.arn(rds.TypeSubnetGroup, in.DBSubnetGroupName))
	}),
	"CreateDBSecurityGroup": op((*API).createDBSecurityGroup, func(a *API, in *createDBSecurityGroupInput) access {
		g := a.arn(rds.TypeSecurityGroup, in.DBSecurityGroupName)
		return self(g).andIf(len(in.Tags) > 0, "AddTagsToResource", g)
	}),
	"DescribeDBSecurityGroups": op((*API).describeDBSecurityGroups, func(a *API, in *describeDBSecurityGroupsInput) access {
		return self(a.arn(rds.TypeSecurityGroup, in.DBSecurityGroupName))
	}),
	"DeleteDBSecurityGroup": op((*API).deleteDBSecurityGroup, func(a *API, in *securityGroupNameInput) access {
		return self(a.arn(rds.TypeSecurityGroup, in.DBSecurityGroupName))
	}),
	"AuthorizeDBSecurityGroupIngress": op((*API).authorizeDBSecurityGroupIngress, func(a *API, in *securityGroupIngressInput) access {
		return self(a.arn(rds.TypeSecurityGroup, in.DBSecurityGroupName))
	}),
	"RevokeDBSecurityGroupIngress": op((*API).revokeDBSecurityGroupIngress, func(a *API, in *securityGroupIngressInput) access {
		return self(a.arn(rds.TypeSecurityGroup, in.DBSecurityGroupName))
	}),
	"CreateOptionGroup": op((*API).createOptionGroup, func(a *API, in *createOptionGroupInput) access {
		g := a.arn(rds.TypeOptionGroup, in.OptionGroupName)
		return self(g).andIf(len(in.Tags) > 0, "AddTagsToResource", g)
	}),
	"CopyOptionGroup": op((*API).copyOptionGroup, func(a *API, in *copyOptionGroupInput) access {
		g := a.arn(rds.TypeOptionGroup, in.TargetOptionGroupIdentifier)
		return self(a.arn(rds.TypeOptionGroup, in.SourceOptionGroupIdentifier), g).andIf(len(in.Tags) > 0, "AddTagsToResource", g)
	}),
	"DescribeOptionGroups": op((*API).describeOptionGroups, func(a *API, in *describeOptionGroupsInput) access {
		return self(a.arn(rds.TypeOptionGroup, in.OptionGroupName))
	}),
	"ModifyOptionGroup": op((*API).modifyOptionGroup, func(a *API, in *modifyOptionGroupInput) access {
		return self(a.arn(rds.TypeOptionGroup, in.OptionGroupName))
	}),
	"DeleteOptionGroup": op((*API).deleteOptionGroup, func(a *API, in *optionGroupNameInput) access {
		return self(a.arn(rds.TypeOptionGroup, in.OptionGroupName))
	}),

	// DB clusters, their endpoints and their parameter groups.
	"CreateDBCluster": op((*API).createDBCluster, func(a *API, in *createDBClusterInput) access {
		c := a.clusterArn(in.DBClusterIdentifier)
		acc := self(c)
		if in.DBClusterParameterGroupName != "" {
			acc[0].resources = append(acc[0].resources, a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
		}
		return acc.andIf(len(in.Tags) > 0, "AddTagsToResource", c)
	}),
	"DescribeDBClusters": op((*API).describeDBClusters, func(a *API, in *describeDBClustersInput) access {
		return self(a.clusterArn(in.DBClusterIdentifier))
	}),
	"ModifyDBCluster": op((*API).modifyDBCluster, func(a *API, in *modifyDBClusterInput) access {
		acc := self(a.clusterArn(in.DBClusterIdentifier))
		if in.NewDBClusterIdentifier != "" {
			acc[0].resources = append(acc[0].resources, a.clusterArn(in.NewDBClusterIdentifier))
		}
		if in.DBClusterParameterGroupName != "" {
			acc[0].resources = append(acc[0].resources, a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
		}
		return acc
	}),
	"DeleteDBCluster": op((*API).deleteDBCluster, func(a *API, in *deleteDBClusterInput) access {
		return self(a.clusterArn(in.DBClusterIdentifier))
	}),
	"FailoverDBCluster": op((*API).failoverDBCluster, func(a *API, in *failoverDBClusterInput) access {
		return self(a.clusterArn(in.DBClusterIdentifier))
	}),
	"CreateDBClusterEndpoint": op((*API).createDBClusterEndpoint, func(a *API, in *createDBClusterEndpointInput) access {
		ep := a.arn(rds.TypeClusterEndpoint, in.DBClusterEndpointIdentifier)
		return self(ep, a.clusterArn(in.DBClusterIdentifier)).andIf(len(in.Tags) > 0, "AddTagsToResource", ep)
	}),
	"ModifyDBClusterEndpoint": op((*API).modifyDBClusterEndpoint, func(a *API, in *modifyDBClusterEndpointInput) access {
		return self(a.arn(rds.TypeClusterEndpoint, in.DBClusterEndpointIdentifier))
	}),
	"DeleteDBClusterEndpoint": op((*API).deleteDBClusterEndpoint, func(a *API, in *clusterEndpointIDInput) access {
		return self(a.arn(rds.TypeClusterEndpoint, in.DBClusterEndpointIdentifier))
	}),
	"DescribeDBClusterEndpoints": op((*API).describeDBClusterEndpoints, func(a *API, in *describeDBClusterEndpointsInput) access {
		return self(a.clusterArn(in.DBClusterIdentifier))
	}),
	"CreateDBClusterParameterGroup": op((*API).createDBClusterParameterGroup, func(a *API, in *createDBClusterParameterGroupInput) access {
		g := a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName)
		return self(g).andIf(len(in.Tags) > 0, "AddTagsToResource", g)
	}),
	"DescribeDBClusterParameterGroups": op((*API).describeDBClusterParameterGroups, func(a *API, in *describeDBClusterParameterGroupsInput) access {
		return self(a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
	}),
	"DescribeDBClusterParameters": op((*API).describeDBClusterParameters, func(a *API, in *describeDBClusterParametersInput) access {
		return self(a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
	}),
	"CopyDBClusterParameterGroup": op((*API).copyDBClusterParameterGroup, func(a *API, in *copyDBClusterParameterGroupInput) access {
		g := a.arn(rds.TypeClusterParameterGroup, in.TargetDBClusterParameterGroupIdentifier)
		return self(a.arn(rds.TypeClusterParameterGroup, in.SourceDBClusterParameterGroupIdentifier), g).andIf(len(in.Tags) > 0, "AddTagsToResource", g)
	}),
	"ModifyDBClusterParameterGroup": op((*API).modifyDBClusterParameterGroup, func(a *API, in *modifyDBClusterParameterGroupInput) access {
		return self(a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
	}),
	"ResetDBClusterParameterGroup": op((*API).resetDBClusterParameterGroup, func(a *API, in *resetDBClusterParameterGroupInput) access {
		return self(a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
	}),
	"DeleteDBClusterParameterGroup": op((*API).deleteDBClusterParameterGroup, func(a *API, in *clusterGroupNameInput) access {
		return self(a.arn(rds.TypeClusterParameterGroup, in.DBClusterParameterGroupName))
	}),

	// IAM has no resource for these: the action is checked on "*".
	"DescribeEngineDefaultParameters": op((*API).describeEngineDefaultParameters, func(a *API, in *describeEngineDefaultParametersInput) access {
		return self()
	}),
	"DescribeEngineDefaultClusterParameters": op((*API).describeEngineDefaultClusterParameters, func(a *API, in *describeEngineDefaultParametersInput) access {
		return self()
	}),
	"DescribeDBEngineVersions": op((*API).describeDBEngineVersions, func(a *API, in *describeDBEngineVersionsInput) access {
		return self()
	}),
	"DescribeOptionGroupOptions": op((*API).describeOptionGroupOptions, func(a *API, in *describeOptionGroupOptionsInput) access {
		return self()
	}),
	"DescribeEvents": op((*API).describeEvents, func(a *API, in *describeEventsInput) access {
		return self()
	}),
	"AddTagsToResource": op((*API).addTagsToResource, func(a *API, in *addTagsInput) access {
		return self(in.ResourceName)
	}),
	"ListTagsForResource": op((*API).listTagsForResource, func(a *API, in *resourceNameInput) access {
		return self(in.ResourceName)
	}),
	"RemoveTagsFromResource": op((*API).removeTagsFromResource, func(a *API, in *removeTagsInput) access {
		return self(in.ResourceName)
	}),

	// Blue/green deployments, with the checks RDS makes on the instances
	// they create, switch over and delete.
	"CreateBlueGreenDeployment": op((*API).createBlueGreen, func(a *API, in *createBlueGreenInput) access {
		acc := self(a.deploymentArn(""), in.Source).withGroup(a, in.TargetDBParameterGroupName)
		if in.TargetDBClusterParameterGroupName != "" {
			acc[0].resources = append(acc[0].resources, a.arn(rds.TypeClusterParameterGroup, in.TargetDBClusterParameterGroupName))
		}
		if strings.Contains(in.Source, ":"+rds.TypeCluster+":") {
			// A cluster's green is a new cluster with new instances and
			// endpoints, as the Aurora edition lists it.
			return acc.andIf(true, "CreateDBCluster", a.clusterArn("")).
				andIf(true, "CreateDBInstance", a.dbArn("")).
				andIf(true, "CreateDBClusterEndpoint", a.arn(rds.TypeClusterEndpoint, "")).
				andIf(true, "AddTagsToResource", a.clusterArn(""), a.dbArn(""))
		}
		return acc.andIf(true, "CreateDBInstanceReadReplica", in.Source).
			andIf(true, "AddTagsToResource", a.dbArn(""))
	}),
	"DescribeBlueGreenDeployments": op((*API).describeBlueGreen, func(a *API, in *describeBlueGreenInput) access {
		return self(a.deploymentArn(in.BlueGreenDeploymentIdentifier))
	}),
	"SwitchoverBlueGreenDeployment": op((*API).switchoverBlueGreen, func(a *API, in *switchoverBlueGreenInput) access {
		id := in.BlueGreenDeploymentIdentifier
		members := append(a.membersOf(id, false, false), a.membersOf(id, true, false)...)
		clusters := append(a.membersOf(id, false, true), a.membersOf(id, true, true)...)
		return self(a.deploymentArn(id)).
			andIf(len(members) > 0, "ModifyDBInstance", members...).
			andIf(len(members) > 0, "PromoteReadReplica", members...).
			andIf(len(clusters) > 0, "ModifyDBCluster", clusters...).
			andIf(len(clusters) > 0, "PromoteReadReplicaDBCluster", clusters...)
	}),
	"DeleteBlueGreenDeployment": op((*API).deleteBlueGreen, func(a *API, in *deleteBlueGreenInput) access {
		green := a.membersOf(in.BlueGreenDeploymentIdentifier, true, false)
		clusters := a.membersOf(in.BlueGreenDeploymentIdentifier, true, true)
		return self(a.deploymentArn(in.BlueGreenDeploymentIdentifier)).
			andIf(len(green) > 0, "DeleteDBInstance", green...).
			andIf(len(clusters) > 0, "DeleteDBCluster", clusters...).
			andIf(len(clusters) > 0, "DeleteDBClusterEndpoint", a.arn(rds.TypeClusterEndpoint, ""))
	}),

	// teal's own actions: access keys, for the root key only.
	"TealCreateAccessKey": rootOnly(op((*API).createAccessKey, nobody[createAccessKeyInput])),
	"TealListAccessKeys":  rootOnly(op((*API).listAccessKeys, nobody[struct{}])),
	"TealDeleteAccessKey": rootOnly(op((*API).deleteAccessKey, nobody[accessKeyIDInput])),
}

// operation is an entry of the table.
type operation struct {
	rootOnly bool
	// prepare decodes a request's members. It changes nothing: a request
	// is decoded and authorized before anything runs.
	prepare func(a *API, f *form) (call, error)
}

// call is a decoded request: what it must be authorized for, and the work.
type call struct {
	input  any // the decoded members, a pointer to the handler's input
	access access
	run    func(ctx context.Context) (any, error)
}

// op builds an operation from a typed handler and its authorization rule.
func op[In, Out any](handler func(a *API, ctx context.Context, in *In) (Out, error), rule func(a *API, in *In) access) operation {
	return operation{prepare: func(a *API, f *form) (call, error) {
		in := new(In)
		if err := decode(f, in); err != nil {
			return call{}, err
		}
		if err := canonicalize(a.scope(), in); err != nil {
			return call{}, err
		}
		return call{
			input:  in,
			access: rule(a, in),
			run: func(ctx context.Context) (any, error) {
				out, err := handler(a, ctx, in)
				if err != nil {
					return nil, err
				}
				return out, nil
			},
		}, nil
	}}
}

func rootOnly(o operation) operation {
	o.rootOnly = true
	return o
}

// nobody is the rule of root-only operations: root needs no policy.
func nobody[In any](*API, *In) access { return nil }

// grant is one IAM check: an action on resources. An empty action is the
// operation's own.
type grant struct {
	action    string
	resources []string
}

// access is every check a request must pass; the first is always the
// operation's own action.
type access []grant

func self(resources ...string) access { return access{{resources: resources}} }

// andIf adds a check of another action when cond holds, as RDS checks
// rds:AddTagsToResource for a create with tags.
func (acc access) andIf(cond bool, action string, resources ...string) access {
	if !cond {
		return acc
	}
	return append(acc, grant{action: action, resources: resources})
}

// withGroup adds the parameter group a request names to the resources of its
// own action, as IAM lists pg as a resource of CreateDBInstance and
// ModifyDBInstance.
func (acc access) withGroup(a *API, group string) access {
	if group != "" {
		acc[0].resources = append(acc[0].resources, a.pgArn(group))
	}
	return acc
}

// The rules build ARNs from members canonicalize has already rewritten: an
// identifier is checked and lower-case, so the ARN a policy is checked on is
// the canonical ARN of the resource the operation acts on. A member that must
// be an ARN (ResourceName, Source) is used as it is, already canonical.

// dbArn is the ARN of a DB instance; without an identifier, every instance.
func (a *API) dbArn(id string) string { return a.arn(rds.TypeInstance, id) }

// clusterArn is the ARN of a DB cluster; without an identifier, every cluster.
func (a *API) clusterArn(id string) string { return a.arn(rds.TypeCluster, id) }

// snapshotArn is the ARN of a DB snapshot; without an identifier, every snapshot.
func (a *API) snapshotArn(id string) string { return a.arn(rds.TypeSnapshot, id) }

// pgArn is the ARN of a DB parameter group; without a name, every group.
func (a *API) pgArn(name string) string { return a.arn(rds.TypeParameterGroup, name) }

func (a *API) arn(typ, id string) string {
	if id == "" {
		id = "*"
	}
	return a.scope().ARN(typ, id)
}

// scope is where the resources this API serves live.
func (a *API) scope() rds.Scope { return rds.Scope{Region: a.region, AccountID: a.accountID} }
