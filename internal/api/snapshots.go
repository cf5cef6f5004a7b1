package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

// The DB snapshot operations.

type dbSnapshotXML struct {
	DBSnapshotIdentifier             string
	DBInstanceIdentifier             string
	SnapshotCreateTime               string `xml:",omitempty"`
	Engine                           string
	AllocatedStorage                 int
	Status                           string
	Port                             int
	InstanceCreateTime               string `xml:",omitempty"`
	MasterUsername                   string
	EngineVersion                    string
	LicenseModel                     string `xml:",omitempty"`
	SnapshotType                     string
	PercentProgress                  int
	SourceRegion                     string `xml:",omitempty"`
	SourceDBSnapshotIdentifier       string `xml:",omitempty"`
	StorageType                      string
	Iops                             int `xml:",omitempty"`
	StorageThroughput                int `xml:",omitempty"`
	Encrypted                        bool
	BackupRetentionPeriod            int
	DBSnapshotArn                    string
	IAMDatabaseAuthenticationEnabled bool
	DbiResourceId                    string
	TagList                          list[tagXML]
	OriginalSnapshotCreateTime       string `xml:",omitempty"`
	SnapshotTarget                   string
}

func dbSnapshotOf(d *rds.DBSnapshot) dbSnapshotXML {
	return dbSnapshotXML{
		DBSnapshotIdentifier:       d.DBSnapshotIdentifier,
		DBInstanceIdentifier:       d.DBInstanceIdentifier,
		SnapshotCreateTime:         isoTime(d.SnapshotCreateTime),
		Engine:                     d.Engine,
		AllocatedStorage:           d.AllocatedStorage,
		Status:                     d.Status,
		Port:                       d.Port,
		InstanceCreateTime:         isoTime(d.InstanceCreateTime),
		MasterUsername:             d.MasterUsername,
		EngineVersion:              d.EngineVersion,
		LicenseModel:               licenseModels[d.Engine],
		SnapshotType:               d.SnapshotType,
		PercentProgress:            d.PercentProgress,
		SourceRegion:               d.SourceRegion,
		SourceDBSnapshotIdentifier: d.SourceDBSnapshotIdentifier,
		StorageType:                d.StorageType,
		Iops:                       d.Iops,
		StorageThroughput:          d.StorageThroughput,
		Encrypted:                  d.Encrypted,
		BackupRetentionPeriod:      d.BackupRetentionPeriod,
		DBSnapshotArn:              d.DBSnapshotArn,
		DbiResourceId:              d.DbiResourceId,
		TagList:                    tagsXML(d.TagList),
		OriginalSnapshotCreateTime: isoTime(d.OriginalSnapshotCreateTime),
		SnapshotTarget:             "region",
	}
}

type dbSnapshotResult struct {
	DBSnapshot dbSnapshotXML
}

func snapshotResult(d *rds.DBSnapshot, err error) (dbSnapshotResult, error) {
	if err != nil {
		return dbSnapshotResult{}, err
	}
	return dbSnapshotResult{DBSnapshot: dbSnapshotOf(d)}, nil
}

type createDBSnapshotInput struct {
	DBSnapshotIdentifier string     `query:",required,name=snapshot"`
	DBInstanceIdentifier string     `query:",required,id=db"`
	Tags                 []tagInput `query:"Tags.Tag"`
}

func (a *API) createDBSnapshot(ctx context.Context, in *createDBSnapshotInput) (dbSnapshotResult, error) {
	return snapshotResult(a.svc.CreateDBSnapshot(ctx, in.DBSnapshotIdentifier, in.DBInstanceIdentifier, tagsOf(in.Tags)))
}

type describeDBSnapshotsInput struct {
	DBInstanceIdentifier string `query:",id=db"`
	DBSnapshotIdentifier string `query:",id=snapshot"`
	DbiResourceId        string
	SnapshotType         string
	Filters              []filterInput `query:"Filters.Filter"`
	MaxRecords           int
	Marker               string
	IncludeShared        bool
	IncludePublic        bool
}

type describeDBSnapshotsResult struct {
	Marker      string `xml:",omitempty"`
	DBSnapshots list[dbSnapshotXML]
}

func (a *API) describeDBSnapshots(ctx context.Context, in *describeDBSnapshotsInput) (describeDBSnapshotsResult, error) {
	snaps, marker, err := a.svc.DescribeDBSnapshots(ctx, rds.DescribeSnapshotsInput{
		DBInstanceIdentifier: in.DBInstanceIdentifier,
		DBSnapshotIdentifier: in.DBSnapshotIdentifier,
		DbiResourceId:        in.DbiResourceId,
		SnapshotType:         in.SnapshotType,
		Filters:              filtersOf(in.Filters),
		IncludeShared:        in.IncludeShared,
		IncludePublic:        in.IncludePublic,
		Page:                 rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords},
	})
	if err != nil {
		return describeDBSnapshotsResult{}, err
	}
	out := make([]dbSnapshotXML, len(snaps))
	for i := range snaps {
		out[i] = dbSnapshotOf(&snaps[i])
	}
	return describeDBSnapshotsResult{Marker: marker, DBSnapshots: listOf("DBSnapshot", out)}, nil
}

type snapshotIDInput struct {
	DBSnapshotIdentifier string `query:",required,id=snapshot"`
}

func (a *API) deleteDBSnapshot(ctx context.Context, in *snapshotIDInput) (dbSnapshotResult, error) {
	return snapshotResult(a.svc.DeleteDBSnapshot(ctx, in.DBSnapshotIdentifier))
}

type copyDBSnapshotInput struct {
	SourceDBSnapshotIdentifier string     `query:",required,id=snapshot"`
	TargetDBSnapshotIdentifier string     `query:",required,name=snapshot"`
	Tags                       []tagInput `query:"Tags.Tag"`
	CopyTags                   bool
	// Snapshots are not encrypted, and stay in this region and on this
	// machine: a key, a presigned URL of another region or another
	// place would be ignored.
	KmsKeyId                     string `query:",unsupported"`
	PreSignedUrl                 string `query:",unsupported"`
	OptionGroupName              string `query:",unsupported"`
	TargetCustomAvailabilityZone string `query:",unsupported"`
	SnapshotTarget               string `query:",unsupported"`
	CopyOptionGroup              *bool  `query:",unsupported"`
	SnapshotAvailabilityZone     string `query:",unsupported"`
	// Members a restore, a copy or a replica here does not apply yet:
	// refused, never ignored.
	SourceRegion      string     `query:",unsupported"`
	TagSpecifications []struct{} `query:"TagSpecifications.item,unsupported"`
}

func (a *API) copyDBSnapshot(ctx context.Context, in *copyDBSnapshotInput) (dbSnapshotResult, error) {
	return snapshotResult(a.svc.CopyDBSnapshot(ctx, rds.CopySnapshotInput{
		SourceDBSnapshotIdentifier: in.SourceDBSnapshotIdentifier,
		TargetDBSnapshotIdentifier: in.TargetDBSnapshotIdentifier,
		Tags:                       tagsOf(in.Tags),
		CopyTags:                   in.CopyTags,
	}))
}

type snapshotAttributeXML struct {
	AttributeName   string
	AttributeValues list[string]
}

type snapshotAttributesXML struct {
	DBSnapshotIdentifier string
	DBSnapshotAttributes list[snapshotAttributeXML]
}

type snapshotAttributesResult struct {
	DBSnapshotAttributesResult snapshotAttributesXML
}

func attributesResult(id string, attrs []rds.DBSnapshotAttribute, err error) (snapshotAttributesResult, error) {
	if err != nil {
		return snapshotAttributesResult{}, err
	}
	out := make([]snapshotAttributeXML, len(attrs))
	for i, at := range attrs {
		out[i] = snapshotAttributeXML{AttributeName: at.AttributeName, AttributeValues: listOf("AttributeValue", at.AttributeValues)}
	}
	return snapshotAttributesResult{DBSnapshotAttributesResult: snapshotAttributesXML{
		DBSnapshotIdentifier: id, DBSnapshotAttributes: listOf("DBSnapshotAttribute", out)}}, nil
}

type modifyDBSnapshotAttributeInput struct {
	DBSnapshotIdentifier string   `query:",required,id=snapshot"`
	AttributeName        string   `query:",required"`
	ValuesToAdd          []string `query:"ValuesToAdd.AttributeValue"`
	ValuesToRemove       []string `query:"ValuesToRemove.AttributeValue"`
}

func (a *API) modifyDBSnapshotAttribute(ctx context.Context, in *modifyDBSnapshotAttributeInput) (snapshotAttributesResult, error) {
	return attributesResult(a.svc.ModifyDBSnapshotAttribute(ctx, in.DBSnapshotIdentifier, in.AttributeName, in.ValuesToAdd, in.ValuesToRemove))
}

func (a *API) describeDBSnapshotAttributes(ctx context.Context, in *snapshotIDInput) (snapshotAttributesResult, error) {
	return attributesResult(a.svc.DescribeDBSnapshotAttributes(ctx, in.DBSnapshotIdentifier))
}

type restoreFromSnapshotInput struct {
	DBInstanceIdentifier  string `query:",required,name=db"`
	DBSnapshotIdentifier  string `query:",required,id=snapshot"`
	DBInstanceClass       string
	Engine                string
	Port                  int
	DBParameterGroupName  string `query:",id=pg"`
	DeletionProtection    bool
	Tags                  []tagInput `query:"Tags.Tag"`
	StorageType           string
	AllocatedStorage      int
	BackupRetentionPeriod *int
	DBSubnetGroupName     string   `query:",id=subgrp"`
	VpcSecurityGroupIds   []string `query:"VpcSecurityGroupIds.VpcSecurityGroupId"`
	OptionGroupName       string   `query:",id=og"`
	// What a restore here cannot honour is refused, never ignored.
	DBClusterSnapshotIdentifier string `query:",unsupported"`
	ManageMasterUserPassword    *bool  `query:",unsupported"`
	DBName                      string `query:",unsupported"`
	TdeCredentialArn            string `query:",unsupported"`
	Domain                      string `query:",unsupported"`
	CustomIamInstanceProfile    string `query:",unsupported"`
	// Settings, as CreateDBInstance takes them.
	restoreSettingsInput
	// Members a restore here does not apply: refused, never ignored.
	AdditionalStorageVolumes        []struct{} `query:"AdditionalStorageVolumes.member,unsupported"`
	DBCapacityReservationIdentifier string     `query:",unsupported"`
	DomainAuthSecretArn             string     `query:",unsupported"`
	DomainDnsIps                    []string   `query:"DomainDnsIps.member,unsupported"`
	DomainFqdn                      string     `query:",unsupported"`
	DomainIAMRoleName               string     `query:",unsupported"`
	DomainOu                        string     `query:",unsupported"`
	EngineLifecycleSupport          string     `query:",unsupported"`
	MasterUserSecretKmsKeyId        string     `query:",unsupported"`
	ProcessorFeatures               []struct{} `query:"ProcessorFeatures.ProcessorFeature,unsupported"`
	TagSpecifications               []struct{} `query:"TagSpecifications.item,unsupported"`
	TdeCredentialPassword           string     `query:",unsupported"`
	UseDefaultProcessorFeatures     *bool      `query:",unsupported"`
}

func (a *API) restoreFromSnapshot(ctx context.Context, in *restoreFromSnapshotInput) (dbInstanceResult, error) {
	settings := in.settings()
	return instanceResult(a.svc.RestoreDBInstanceFromDBSnapshot(ctx, rds.RestoreFromSnapshotInput{
		DBInstanceIdentifier: in.DBInstanceIdentifier,
		DBSnapshotIdentifier: in.DBSnapshotIdentifier,
		RestoreOptions: rds.RestoreOptions{
			DBInstanceClass:       in.DBInstanceClass,
			Engine:                in.Engine,
			Port:                  in.Port,
			DBParameterGroupName:  in.DBParameterGroupName,
			DeletionProtection:    in.DeletionProtection,
			Tags:                  tagsOf(in.Tags),
			StorageType:           in.StorageType,
			AllocatedStorage:      in.AllocatedStorage,
			BackupRetentionPeriod: in.BackupRetentionPeriod,
			InstanceGroups: rds.InstanceGroups{DBSubnetGroupName: in.DBSubnetGroupName,
				VpcSecurityGroupIds: in.VpcSecurityGroupIds, OptionGroupName: in.OptionGroupName},
			InstanceSettings: settings,
			AvailabilityZone: in.AvailabilityZone,
		},
	}))
}

// restoreSettingsInput are the settings members both restores share with
// CreateDBInstance; embedded, they are members of the request.
type restoreSettingsInput struct {
	AutoMinorVersionUpgrade         *bool
	AvailabilityZone                string
	BackupTarget                    string
	CACertificateIdentifier         string
	CopyTagsToSnapshot              *bool
	DedicatedLogVolume              *bool
	EnableCloudwatchLogsExports     []string `query:"EnableCloudwatchLogsExports.member"`
	EnableCustomerOwnedIp           *bool
	EnableIAMDatabaseAuthentication *bool
	Iops                            *int
	LicenseModel                    string
	MultiAZ                         *bool
	NetworkType                     string
	PreferredBackupWindow           string
	PubliclyAccessible              *bool
	StorageThroughput               *int
}

func (in *restoreSettingsInput) settings() rds.InstanceSettings {
	return rds.InstanceSettings{
		PreferredBackupWindow: in.PreferredBackupWindow, Iops: in.Iops, StorageThroughput: in.StorageThroughput,
		CACertificateIdentifier: in.CACertificateIdentifier, PubliclyAccessible: in.PubliclyAccessible,
		AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade, CopyTagsToSnapshot: in.CopyTagsToSnapshot,
		LicenseModel: in.LicenseModel, NetworkType: in.NetworkType, BackupTarget: in.BackupTarget,
		MultiAZ: in.MultiAZ, EnableIAMDatabaseAuthentication: in.EnableIAMDatabaseAuthentication,
		EnableCustomerOwnedIp: in.EnableCustomerOwnedIp, DedicatedLogVolume: in.DedicatedLogVolume,
		EnableLogTypes: in.EnableCloudwatchLogsExports,
	}
}
