package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

// Inputs of the DB instance operations. CreateDBInstance and
// ModifyDBInstance declare every member of the model; the other inputs
// declare the members teal uses and those that would mislead if ignored
// (marked unsupported), and decode ignores the rest.

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

// createDBInstanceInput declares every member of CreateDBInstance: those
// teal uses, and the others marked unsupported, each with why, so that
// none is silently ignored.
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
	AvailabilityZone    string
	// The settings teal checks, keeps and shows (rds/settings.go).
	PreferredBackupWindow      string
	PreferredMaintenanceWindow string
	MaxAllocatedStorage        *int
	Iops                       *int
	StorageThroughput          *int
	CACertificateIdentifier    string
	MonitoringInterval         *int
	MonitoringRoleArn          string
	PubliclyAccessible         *bool
	AutoMinorVersionUpgrade    *bool
	CopyTagsToSnapshot         *bool
	PromotionTier              *int
	// Taken at the one value that describes every instance here, or
	// false for a feature teal does not have.
	LicenseModel                    string
	NetworkType                     string
	BackupTarget                    string
	DatabaseInsightsMode            string
	MasterUserAuthenticationType    string
	MultiAZ                         *bool
	StorageEncrypted                *bool
	EnablePerformanceInsights       *bool
	EnableIAMDatabaseAuthentication *bool
	EnableCustomerOwnedIp           *bool
	MultiTenant                     *bool
	DedicatedLogVolume              *bool
	EnableCloudwatchLogsExports     []string `query:"EnableCloudwatchLogsExports.member"`

	// No secrets manager keeps passwords here, and there is no KMS.
	ManageMasterUserPassword    *bool  `query:",unsupported"`
	MasterUserSecretKmsKeyId    string `query:",unsupported"`
	KmsKeyId                    string `query:",unsupported"`
	PerformanceInsightsKMSKeyId string `query:",unsupported"`
	// Performance Insights is not here (EnablePerformanceInsights).
	PerformanceInsightsRetentionPeriod *int `query:",unsupported"`
	// No Active Directory: logins are the engines' own.
	Domain              string   `query:",unsupported"`
	DomainFqdn          string   `query:",unsupported"`
	DomainOu            string   `query:",unsupported"`
	DomainAuthSecretArn string   `query:",unsupported"`
	DomainDnsIps        []string `query:"DomainDnsIps.member,unsupported"`
	DomainIAMRoleName   string   `query:",unsupported"`
	// Members of other engines (Oracle, SQL Server, Db2) and of RDS Custom
	// and Outposts. PostgreSQL and MariaDB take their character sets in
	// the database or the parameter group.
	CharacterSetName         string     `query:",unsupported"`
	NcharCharacterSetName    string     `query:",unsupported"`
	TdeCredentialArn         string     `query:",unsupported"`
	TdeCredentialPassword    string     `query:",unsupported"`
	Timezone                 string     `query:",unsupported"`
	ProcessorFeatures        []struct{} `query:"ProcessorFeatures.ProcessorFeature,unsupported"`
	DBSystemId               string     `query:",unsupported"`
	AdditionalStorageVolumes []struct{} `query:"AdditionalStorageVolumes.member,unsupported"`
	CustomIamInstanceProfile string     `query:",unsupported"`
	// There is no extended-support calendar: the versions installed are
	// the versions offered. Nor are there EC2 capacity reservations.
	EngineLifecycleSupport          string `query:",unsupported"`
	DBCapacityReservationIdentifier string `query:",unsupported"`
	// Automated backups here carry no tags of their own.
	TagSpecifications []struct{} `query:"TagSpecifications.item,unsupported"`
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
		AvailabilityZone: in.AvailabilityZone,
		InstanceSettings: rds.InstanceSettings{
			PreferredBackupWindow: in.PreferredBackupWindow, PreferredMaintenanceWindow: in.PreferredMaintenanceWindow,
			MaxAllocatedStorage: in.MaxAllocatedStorage, Iops: in.Iops, StorageThroughput: in.StorageThroughput,
			CACertificateIdentifier: in.CACertificateIdentifier,
			MonitoringInterval:      in.MonitoringInterval, MonitoringRoleArn: in.MonitoringRoleArn,
			PubliclyAccessible: in.PubliclyAccessible, AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade,
			CopyTagsToSnapshot: in.CopyTagsToSnapshot, PromotionTier: in.PromotionTier,
			LicenseModel: in.LicenseModel, NetworkType: in.NetworkType, BackupTarget: in.BackupTarget,
			DatabaseInsightsMode: in.DatabaseInsightsMode, MasterUserAuthenticationType: in.MasterUserAuthenticationType,
			MultiAZ: in.MultiAZ, StorageEncrypted: in.StorageEncrypted, EnablePerformanceInsights: in.EnablePerformanceInsights,
			EnableIAMDatabaseAuthentication: in.EnableIAMDatabaseAuthentication, EnableCustomerOwnedIp: in.EnableCustomerOwnedIp,
			MultiTenant: in.MultiTenant, DedicatedLogVolume: in.DedicatedLogVolume, EnableLogTypes: in.EnableCloudwatchLogsExports,
		},
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

// modifyDBInstanceInput declares every member of ModifyDBInstance, as
// createDBInstanceInput does.
type modifyDBInstanceInput struct {
	DBInstanceIdentifier    string `query:",required,id=db"`
	NewDBInstanceIdentifier string `query:",name=db"`
	DBParameterGroupName    string `query:",id=pg"`
	DeletionProtection      *bool
	BackupRetentionPeriod   *int
	DBInstanceClass         string
	AllocatedStorage        int
	StorageType             string
	MasterUserPassword      string
	// Changes apply at once, whatever it says (a new parameter group's
	// static values at the next reboot, as in RDS).
	ApplyImmediately    bool
	DBSubnetGroupName   string   `query:",id=subgrp"`
	VpcSecurityGroupIds []string `query:"VpcSecurityGroupIds.VpcSecurityGroupId"`
	DBSecurityGroups    []string `query:"DBSecurityGroups.DBSecurityGroupName"`
	OptionGroupName     string   `query:",id=og"`
	// The settings teal checks, keeps and shows (rds/settings.go).
	PreferredBackupWindow      string
	PreferredMaintenanceWindow string
	MaxAllocatedStorage        *int
	Iops                       *int
	StorageThroughput          *int
	CACertificateIdentifier    string
	MonitoringInterval         *int
	MonitoringRoleArn          string
	PubliclyAccessible         *bool
	AutoMinorVersionUpgrade    *bool
	CopyTagsToSnapshot         *bool
	PromotionTier              *int
	// Taken at the one value that describes every instance here, or
	// false for a feature teal does not have.
	LicenseModel                      string
	NetworkType                       string
	DatabaseInsightsMode              string
	MasterUserAuthenticationType      string
	MultiAZ                           *bool
	EnablePerformanceInsights         *bool
	EnableIAMDatabaseAuthentication   *bool
	EnableCustomerOwnedIp             *bool
	MultiTenant                       *bool
	DedicatedLogVolume                *bool
	CloudwatchLogsExportConfiguration struct {
		EnableLogTypes []string `query:"EnableLogTypes.member"`
		// No log is exported, so disabling any changes nothing.
		DisableLogTypes []string `query:"DisableLogTypes.member"`
	}
	// AllowMajorVersionUpgrade only permits an EngineVersion change, which
	// is refused; alone it changes nothing, as in RDS. A new CA name needs
	// no restart here (the certificate is teal's), so neither does
	// CertificateRotationRestart ask for one.
	AllowMajorVersionUpgrade   bool
	CertificateRotationRestart *bool

	// Changing these needs work teal does not do in place (an upgrade is a
	// blue/green deployment); accepting them silently would lie.
	EngineVersion string `query:",unsupported"`
	DBPortNumber  *int   `query:",unsupported"`
	// No secrets manager keeps passwords here, and there is no KMS.
	ManageMasterUserPassword    *bool  `query:",unsupported"`
	RotateMasterUserPassword    *bool  `query:",unsupported"`
	MasterUserSecretKmsKeyId    string `query:",unsupported"`
	PerformanceInsightsKMSKeyId string `query:",unsupported"`
	// Performance Insights is not here (EnablePerformanceInsights).
	PerformanceInsightsRetentionPeriod *int `query:",unsupported"`
	// No Active Directory: logins are the engines' own.
	Domain              string   `query:",unsupported"`
	DomainFqdn          string   `query:",unsupported"`
	DomainOu            string   `query:",unsupported"`
	DomainAuthSecretArn string   `query:",unsupported"`
	DomainDnsIps        []string `query:"DomainDnsIps.member,unsupported"`
	DomainIAMRoleName   string   `query:",unsupported"`
	DisableDomain       *bool    `query:",unsupported"`
	// Members of other engines (Oracle, SQL Server, Db2), of RDS Custom and
	// of AWS Backup.
	Engine                          string     `query:",unsupported"`
	TdeCredentialArn                string     `query:",unsupported"`
	TdeCredentialPassword           string     `query:",unsupported"`
	ProcessorFeatures               []struct{} `query:"ProcessorFeatures.ProcessorFeature,unsupported"`
	UseDefaultProcessorFeatures     *bool      `query:",unsupported"`
	ReplicaMode                     string     `query:",unsupported"`
	AutomationMode                  string     `query:",unsupported"`
	ResumeFullAutomationModeMinutes *int       `query:",unsupported"`
	AwsBackupRecoveryPointArn       string     `query:",unsupported"`
	AdditionalStorageVolumes        []struct{} `query:"AdditionalStorageVolumes.member,unsupported"`
	// There is no extended-support calendar: the versions installed are
	// the versions offered. Nor are there EC2 capacity reservations.
	EngineLifecycleSupport          string `query:",unsupported"`
	DBCapacityReservationIdentifier string `query:",unsupported"`
	// Automated backups here carry no tags of their own.
	TagSpecifications []struct{} `query:"TagSpecifications.item,unsupported"`
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
		StorageType:             in.StorageType,
		MasterUserPassword:      in.MasterUserPassword,
		ApplyImmediately:        in.ApplyImmediately,
		InstanceGroups: rds.InstanceGroups{DBSubnetGroupName: in.DBSubnetGroupName, VpcSecurityGroupIds: in.VpcSecurityGroupIds,
			DBSecurityGroups: in.DBSecurityGroups, OptionGroupName: in.OptionGroupName},
		InstanceSettings: rds.InstanceSettings{
			PreferredBackupWindow: in.PreferredBackupWindow, PreferredMaintenanceWindow: in.PreferredMaintenanceWindow,
			MaxAllocatedStorage: in.MaxAllocatedStorage, Iops: in.Iops, StorageThroughput: in.StorageThroughput,
			CACertificateIdentifier: in.CACertificateIdentifier,
			MonitoringInterval:      in.MonitoringInterval, MonitoringRoleArn: in.MonitoringRoleArn,
			PubliclyAccessible: in.PubliclyAccessible, AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade,
			CopyTagsToSnapshot: in.CopyTagsToSnapshot, PromotionTier: in.PromotionTier,
			LicenseModel: in.LicenseModel, NetworkType: in.NetworkType,
			DatabaseInsightsMode: in.DatabaseInsightsMode, MasterUserAuthenticationType: in.MasterUserAuthenticationType,
			MultiAZ: in.MultiAZ, EnablePerformanceInsights: in.EnablePerformanceInsights,
			EnableIAMDatabaseAuthentication: in.EnableIAMDatabaseAuthentication, EnableCustomerOwnedIp: in.EnableCustomerOwnedIp,
			MultiTenant: in.MultiTenant, DedicatedLogVolume: in.DedicatedLogVolume,
			EnableLogTypes: in.CloudwatchLogsExportConfiguration.EnableLogTypes,
		},
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
	// Members a restore, a copy or a replica here does not apply yet:
	// refused, never ignored.
	AdditionalStorageVolumes           []struct{} `query:"AdditionalStorageVolumes.member,unsupported"`
	AllocatedStorage                   int        `query:",unsupported"`
	AutoMinorVersionUpgrade            *bool      `query:",unsupported"`
	AvailabilityZone                   string     `query:",unsupported"`
	BackupTarget                       string     `query:",unsupported"`
	CACertificateIdentifier            string     `query:",unsupported"`
	CopyTagsToSnapshot                 *bool      `query:",unsupported"`
	CustomIamInstanceProfile           string     `query:",unsupported"`
	DBCapacityReservationIdentifier    string     `query:",unsupported"`
	DBSubnetGroupName                  string     `query:",unsupported"`
	DatabaseInsightsMode               string     `query:",unsupported"`
	DedicatedLogVolume                 *bool      `query:",unsupported"`
	Domain                             string     `query:",unsupported"`
	DomainAuthSecretArn                string     `query:",unsupported"`
	DomainDnsIps                       []string   `query:"DomainDnsIps.member,unsupported"`
	DomainFqdn                         string     `query:",unsupported"`
	DomainIAMRoleName                  string     `query:",unsupported"`
	DomainOu                           string     `query:",unsupported"`
	EnableCloudwatchLogsExports        []string   `query:"EnableCloudwatchLogsExports.member,unsupported"`
	EnableCustomerOwnedIp              *bool      `query:",unsupported"`
	EnableIAMDatabaseAuthentication    *bool      `query:",unsupported"`
	EnablePerformanceInsights          *bool      `query:",unsupported"`
	Iops                               *int       `query:",unsupported"`
	KmsKeyId                           string     `query:",unsupported"`
	MaxAllocatedStorage                *int       `query:",unsupported"`
	MonitoringInterval                 *int       `query:",unsupported"`
	MonitoringRoleArn                  string     `query:",unsupported"`
	MultiAZ                            *bool      `query:",unsupported"`
	NetworkType                        string     `query:",unsupported"`
	OptionGroupName                    string     `query:",unsupported"`
	PerformanceInsightsKMSKeyId        string     `query:",unsupported"`
	PerformanceInsightsRetentionPeriod *int       `query:",unsupported"`
	PreSignedUrl                       string     `query:",unsupported"`
	ProcessorFeatures                  []struct{} `query:"ProcessorFeatures.ProcessorFeature,unsupported"`
	PubliclyAccessible                 *bool      `query:",unsupported"`
	ReplicaMode                        string     `query:",unsupported"`
	SourceDBClusterIdentifier          string     `query:",unsupported"`
	SourceRegion                       string     `query:",unsupported"`
	StorageThroughput                  *int       `query:",unsupported"`
	StorageType                        string     `query:",unsupported"`
	TagSpecifications                  []struct{} `query:"TagSpecifications.item,unsupported"`
	UpgradeStorageConfig               *bool      `query:",unsupported"`
	UseDefaultProcessorFeatures        *bool      `query:",unsupported"`
	VpcSecurityGroupIds                []string   `query:"VpcSecurityGroupIds.VpcSecurityGroupId,unsupported"`
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

// instanceRoleInput is the input of AddRoleToDBInstance and
// RemoveRoleFromDBInstance.
type instanceRoleInput struct {
	DBInstanceIdentifier string `query:",required,id=db"`
	RoleArn              string `query:",required"`
	FeatureName          string `query:",required"`
}

func (a *API) addRoleToDBInstance(ctx context.Context, in *instanceRoleInput) (noResult, error) {
	return noResult{}, a.svc.AddRoleToDBInstance(ctx, in.DBInstanceIdentifier, in.RoleArn, in.FeatureName)
}

func (a *API) removeRoleFromDBInstance(ctx context.Context, in *instanceRoleInput) (noResult, error) {
	return noResult{}, a.svc.RemoveRoleFromDBInstance(ctx, in.DBInstanceIdentifier, in.RoleArn, in.FeatureName)
}
