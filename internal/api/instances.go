package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

// Inputs of the DB instance operations. Members teal does not use are not
// declared, so they are ignored, except where ignoring one would mislead:
// those are marked unsupported and refused.

type tagInput struct {
	Key   string
	Value string
}

func tagsOf(in []tagInput) []rds.Tag {
	if in == nil {
		return nil
	}
	out := make([]rds.Tag, len(in))
	for i, t := range in {
		out[i] = rds.Tag(t)
	}
	return out
}

type filterInput struct {
	Name   string   `query:",required"`
	Values []string `query:"Values.Value,required"`
}

func filtersOf(in []filterInput) []rds.Filter {
	out := make([]rds.Filter, len(in))
	for i, f := range in {
		out[i] = rds.Filter(f)
	}
	return out
}

type createDBInstanceInput struct {
	DBInstanceIdentifier  string `query:",required,name=db"`
	DBInstanceClass       string `query:",required"`
	Engine                string `query:",required"`
	EngineVersion         string
	MasterUsername        string
	MasterUserPassword    string
	DBName                string
	Port                  int
	AllocatedStorage      int
	StorageType           string
	DBParameterGroupName  string `query:",id=pg"`
	BackupRetentionPeriod *int
	DeletionProtection    bool
	Tags                  []tagInput `query:"Tags.Tag"`
	DBClusterIdentifier   string     `query:",id=cluster"`
	// The groups are kept and shown; they decide nothing about access.
	DBSubnetGroupName   string   `query:",id=subgrp"`
	VpcSecurityGroupIds []string `query:"VpcSecurityGroupIds.VpcSecurityGroupId"`
	DBSecurityGroups    []string `query:"DBSecurityGroups.DBSecurityGroupName"`
	OptionGroupName     string   `query:",id=og"`
	// No secrets manager keeps passwords here.
	ManageMasterUserPassword *bool `query:",unsupported"`
}

func (a *API) createDBInstance(ctx context.Context, in *createDBInstanceInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{
		DBInstanceIdentifier:  in.DBInstanceIdentifier,
		Engine:                in.Engine,
		EngineVersion:         in.EngineVersion,
		DBInstanceClass:       in.DBInstanceClass,
		MasterUsername:        in.MasterUsername,
		MasterUserPassword:    in.MasterUserPassword,
		DBName:                in.DBName,
		Port:                  in.Port,
		AllocatedStorage:      in.AllocatedStorage,
		StorageType:           in.StorageType,
		DBParameterGroupName:  in.DBParameterGroupName,
		Tags:                  tagsOf(in.Tags),
		DeletionProtection:    in.DeletionProtection,
		BackupRetentionPeriod: in.BackupRetentionPeriod,
		DBClusterIdentifier:   in.DBClusterIdentifier,
		InstanceGroups: rds.InstanceGroups{DBSubnetGroupName: in.DBSubnetGroupName, VpcSecurityGroupIds: in.VpcSecurityGroupIds,
			DBSecurityGroups: in.DBSecurityGroups, OptionGroupName: in.OptionGroupName},
	}))
}

type describeDBInstancesInput struct {
	DBInstanceIdentifier string        `query:",id=db"`
	Filters              []filterInput `query:"Filters.Filter"`
	MaxRecords           int
	Marker               string
}

func (a *API) describeDBInstances(ctx context.Context, in *describeDBInstancesInput) (describeDBInstancesResult, error) {
	insts, marker, err := a.svc.DescribeDBInstances(ctx, in.DBInstanceIdentifier, filtersOf(in.Filters),
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBInstancesResult{}, err
	}
	out := make([]dbInstanceXML, len(insts))
	for i := range insts {
		out[i] = dbInstanceOf(&insts[i])
	}
	return describeDBInstancesResult{Marker: marker, DBInstances: listOf("DBInstance", out)}, nil
}

type modifyDBInstanceInput struct {
	DBInstanceIdentifier    string `query:",required,id=db"`
	NewDBInstanceIdentifier string `query:",name=db"`
	DBParameterGroupName    string `query:",id=pg"`
	DeletionProtection      *bool
	BackupRetentionPeriod   *int
	DBInstanceClass         string
	AllocatedStorage        int
	MasterUserPassword      string
	ApplyImmediately        bool
	DBSubnetGroupName       string   `query:",id=subgrp"`
	VpcSecurityGroupIds     []string `query:"VpcSecurityGroupIds.VpcSecurityGroupId"`
	DBSecurityGroups        []string `query:"DBSecurityGroups.DBSecurityGroupName"`
	OptionGroupName         string   `query:",id=og"`
	// Changing these needs work teal does not do in place (an upgrade is a
	// blue/green deployment); accepting them silently would lie.
	EngineVersion            string `query:",unsupported"`
	DBPortNumber             *int   `query:",unsupported"`
	StorageType              string `query:",unsupported"`
	ManageMasterUserPassword *bool  `query:",unsupported"`
}

func (a *API) modifyDBInstance(ctx context.Context, in *modifyDBInstanceInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{
		DBInstanceIdentifier:    in.DBInstanceIdentifier,
		NewDBInstanceIdentifier: in.NewDBInstanceIdentifier,
		DBParameterGroupName:    in.DBParameterGroupName,
		DeletionProtection:      in.DeletionProtection,
		BackupRetentionPeriod:   in.BackupRetentionPeriod,
		DBInstanceClass:         in.DBInstanceClass,
		AllocatedStorage:        in.AllocatedStorage,
		MasterUserPassword:      in.MasterUserPassword,
		ApplyImmediately:        in.ApplyImmediately,
		InstanceGroups: rds.InstanceGroups{DBSubnetGroupName: in.DBSubnetGroupName, VpcSecurityGroupIds: in.VpcSecurityGroupIds,
			DBSecurityGroups: in.DBSecurityGroups, OptionGroupName: in.OptionGroupName},
	}))
}

// instanceIDInput is the input of RebootDBInstance and PromoteReadReplica.
type instanceIDInput struct {
	DBInstanceIdentifier string `query:",required,id=db"`
}

type stopDBInstanceInput struct {
	DBInstanceIdentifier string `query:",required,id=db"`
	DBSnapshotIdentifier string `query:",name=snapshot"`
}

func (a *API) stopDBInstance(ctx context.Context, in *stopDBInstanceInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.StopDBInstance(ctx, in.DBInstanceIdentifier, in.DBSnapshotIdentifier))
}

func (a *API) startDBInstance(ctx context.Context, in *instanceIDInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.StartDBInstance(ctx, in.DBInstanceIdentifier))
}

func (a *API) rebootDBInstance(ctx context.Context, in *instanceIDInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.RebootDBInstance(ctx, in.DBInstanceIdentifier))
}

func (a *API) promoteReadReplica(ctx context.Context, in *instanceIDInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.PromoteReadReplica(ctx, in.DBInstanceIdentifier))
}

type deleteDBInstanceInput struct {
	DBInstanceIdentifier      string `query:",required,id=db"`
	SkipFinalSnapshot         bool
	FinalDBSnapshotIdentifier string `query:",name=snapshot"`
	DeleteAutomatedBackups    *bool
}

func (a *API) deleteDBInstance(ctx context.Context, in *deleteDBInstanceInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.DeleteDBInstanceWith(ctx, rds.DeleteInstanceInput{DBInstanceIdentifier: in.DBInstanceIdentifier,
		SkipFinalSnapshot: in.SkipFinalSnapshot, FinalDBSnapshotIdentifier: in.FinalDBSnapshotIdentifier,
		DeleteAutomatedBackups: in.DeleteAutomatedBackups}))
}

type createReadReplicaInput struct {
	DBInstanceIdentifier       string `query:",required,name=db"`
	SourceDBInstanceIdentifier string `query:",id=db"`
	DBInstanceClass            string
	Port                       int
	DBParameterGroupName       string `query:",id=pg"`
	DeletionProtection         bool
	Tags                       []tagInput `query:"Tags.Tag"`
}

func (a *API) createReadReplica(ctx context.Context, in *createReadReplicaInput) (dbInstanceResult, error) {
	return instanceResult(a.svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{
		DBInstanceIdentifier:       in.DBInstanceIdentifier,
		SourceDBInstanceIdentifier: in.SourceDBInstanceIdentifier,
		DBInstanceClass:            in.DBInstanceClass,
		Port:                       in.Port,
		DBParameterGroupName:       in.DBParameterGroupName,
		Tags:                       tagsOf(in.Tags),
		DeletionProtection:         in.DeletionProtection,
	}))
}
