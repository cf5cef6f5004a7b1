package api

import (
	"context"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// The automated backup operations: point-in-time restores and the
// automated backups of instances, live and deleted.

type restoreWindowXML struct {
	EarliestTime string `xml:",omitempty"`
	LatestTime   string `xml:",omitempty"`
}

type automatedBackupXML struct {
	DBInstanceArn                    string
	DbiResourceId                    string
	Region                           string
	DBInstanceIdentifier             string
	RestoreWindow                    restoreWindowXML
	AllocatedStorage                 int
	Status                           string
	Port                             int
	InstanceCreateTime               string `xml:",omitempty"`
	MasterUsername                   string
	Engine                           string
	EngineVersion                    string
	LicenseModel                     string `xml:",omitempty"`
	Encrypted                        bool
	StorageType                      string
	IAMDatabaseAuthenticationEnabled bool
	BackupRetentionPeriod            int
	DBInstanceAutomatedBackupsArn    string
}

func automatedBackupOf(b *rds.DBInstanceAutomatedBackup) automatedBackupXML {
	return automatedBackupXML{
		DBInstanceArn:                 b.DBInstanceArn,
		DbiResourceId:                 b.DbiResourceId,
		Region:                        b.Region,
		DBInstanceIdentifier:          b.DBInstanceIdentifier,
		RestoreWindow:                 restoreWindowXML{EarliestTime: isoTime(b.EarliestTime), LatestTime: isoTime(b.LatestTime)},
		AllocatedStorage:              b.AllocatedStorage,
		Status:                        b.Status,
		Port:                          b.Port,
		InstanceCreateTime:            isoTime(b.InstanceCreateTime),
		MasterUsername:                b.MasterUsername,
		Engine:                        b.Engine,
		EngineVersion:                 b.EngineVersion,
		LicenseModel:                  licenseModels[b.Engine],
		StorageType:                   b.StorageType,
		BackupRetentionPeriod:         b.BackupRetentionPeriod,
		DBInstanceAutomatedBackupsArn: b.DBInstanceAutomatedBackupsArn,
	}
}

type describeAutomatedBackupsInput struct {
	DbiResourceId                 string
	DBInstanceIdentifier          string        `query:",id=db"`
	DBInstanceAutomatedBackupsArn string        `query:",arn=auto-backup"`
	Filters                       []filterInput `query:"Filters.Filter"`
	MaxRecords                    int
	Marker                        string
}

type describeAutomatedBackupsResult struct {
	Marker                     string `xml:",omitempty"`
	DBInstanceAutomatedBackups list[automatedBackupXML]
}

func (a *API) describeAutomatedBackups(ctx context.Context, in *describeAutomatedBackupsInput) (describeAutomatedBackupsResult, error) {
	bs, marker, err := a.svc.DescribeDBInstanceAutomatedBackups(ctx, in.DbiResourceId, in.DBInstanceIdentifier,
		in.DBInstanceAutomatedBackupsArn, filtersOf(in.Filters), rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeAutomatedBackupsResult{}, err
	}
	out := make([]automatedBackupXML, len(bs))
	for i := range bs {
		out[i] = automatedBackupOf(&bs[i])
	}
	return describeAutomatedBackupsResult{Marker: marker, DBInstanceAutomatedBackups: listOf("DBInstanceAutomatedBackup", out)}, nil
}

type deleteAutomatedBackupInput struct {
	DbiResourceId                 string
	DBInstanceAutomatedBackupsArn string `query:",arn=auto-backup"`
}

type deleteAutomatedBackupResult struct {
	DBInstanceAutomatedBackup automatedBackupXML
}

func (a *API) deleteAutomatedBackup(ctx context.Context, in *deleteAutomatedBackupInput) (deleteAutomatedBackupResult, error) {
	b, err := a.svc.DeleteDBInstanceAutomatedBackup(ctx, in.DbiResourceId, in.DBInstanceAutomatedBackupsArn)
	if err != nil {
		return deleteAutomatedBackupResult{}, err
	}
	return deleteAutomatedBackupResult{DBInstanceAutomatedBackup: automatedBackupOf(b)}, nil
}

type restorePointInTimeInput struct {
	SourceDBInstanceIdentifier          string `query:",id=db"`
	SourceDbiResourceId                 string
	SourceDBInstanceAutomatedBackupsArn string `query:",arn=auto-backup"`
	TargetDBInstanceIdentifier          string `query:",required,name=db"`
	RestoreTime                         time.Time
	UseLatestRestorableTime             bool
	DBInstanceClass                     string
	Engine                              string
	Port                                int
	DBParameterGroupName                string `query:",id=pg"`
	DeletionProtection                  bool
	Tags                                []tagInput `query:"Tags.Tag"`
	StorageType                         string
	AllocatedStorage                    int
	BackupRetentionPeriod               *int
	DBSubnetGroupName                   string   `query:",id=subgrp"`
	VpcSecurityGroupIds                 []string `query:"VpcSecurityGroupIds.VpcSecurityGroupId"`
	OptionGroupName                     string   `query:",id=og"`
	// What a restore here cannot honour is refused, never ignored.
	ManageMasterUserPassword *bool  `query:",unsupported"`
	DBName                   string `query:",unsupported"`
	TdeCredentialArn         string `query:",unsupported"`
	Domain                   string `query:",unsupported"`
	CustomIamInstanceProfile string `query:",unsupported"`
	// Settings, as CreateDBInstance takes them.
	restoreSettingsInput
	MaxAllocatedStorage *int
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

func (a *API) restorePointInTime(ctx context.Context, in *restorePointInTimeInput) (dbInstanceResult, error) {
	settings := in.settings()
	settings.MaxAllocatedStorage = in.MaxAllocatedStorage
	return instanceResult(a.svc.RestoreDBInstanceToPointInTime(ctx, rds.RestorePointInTimeInput{
		SourceDBInstanceIdentifier:          in.SourceDBInstanceIdentifier,
		SourceDbiResourceId:                 in.SourceDbiResourceId,
		SourceDBInstanceAutomatedBackupsArn: in.SourceDBInstanceAutomatedBackupsArn,
		TargetDBInstanceIdentifier:          in.TargetDBInstanceIdentifier,
		RestoreTime:                         in.RestoreTime,
		UseLatestRestorableTime:             in.UseLatestRestorableTime,
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
