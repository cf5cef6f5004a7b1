// Package rds implements the RDS operations on teal's resources: DB
// instances, read replicas and DB parameter groups. It owns their state and
// lifecycle; the HTTP protocol lives in internal/api, the database servers in
// internal/engine and internal/supervisor, the endpoints in internal/proxy.
package rds

import (
	"time"
)

// Instance statuses, as RDS names them.
const (
	StatusCreating  = "creating"
	StatusAvailable = "available"
	StatusModifying = "modifying"
	StatusRebooting = "rebooting"
	StatusRenaming  = "renaming"
	StatusDeleting  = "deleting"
	StatusFailed    = "failed"
	StatusStarting  = "starting"
)

// Tag is a resource tag.
type Tag struct {
	Key   string
	Value string
}

// Endpoint is where clients connect: teal's proxy for the identifier.
type Endpoint struct {
	Address string
	Port    int
}

// ParameterGroupStatus is an instance's parameter group and whether its
// values are all applied.
type ParameterGroupStatus struct {
	DBParameterGroupName string
	ParameterApplyStatus string // in-sync, pending-reboot, applying
}

// StatusInfo is an RDS DBInstanceStatusInfo (used for read replication).
type StatusInfo struct {
	StatusType string
	Normal     bool
	Status     string
	Message    string
}

// DBInstance is the description of a DB instance, as DescribeDBInstances
// returns it.
type DBInstance struct {
	DBInstanceIdentifier                  string
	DbiResourceId                         string
	DBInstanceArn                         string
	DBInstanceClass                       string
	Engine                                string
	EngineVersion                         string
	DBInstanceStatus                      string
	MasterUsername                        string
	DBName                                string
	Endpoint                              *Endpoint
	AllocatedStorage                      int
	StorageType                           string
	InstanceCreateTime                    time.Time
	BackupRetentionPeriod                 int
	DBParameterGroups                     []ParameterGroupStatus
	DeletionProtection                    bool
	ReadReplicaSourceDBInstanceIdentifier string
	ReadReplicaDBInstanceIdentifiers      []string
	StatusInfos                           []StatusInfo
	TagList                               []Tag
	PubliclyAccessible                    bool
	MultiAZ                               bool
	AutoMinorVersionUpgrade               bool
	StorageEncrypted                      bool
	DbInstancePort                        int
	DBClusterIdentifier                   string
	// PercentProgress is how much of its snapshot an instance being
	// restored has copied, "0" to "99"; empty otherwise.
	PercentProgress string
	// LatestRestorableTime is zero when the instance has no automated
	// backup to restore from yet.
	LatestRestorableTime time.Time
	// The instance's groups (netgroups.go): every instance is in a DB
	// subnet group and an option group.
	DBSubnetGroup          *DBSubnetGroup
	VpcSecurityGroups      []VpcSecurityGroupMembership
	DBSecurityGroups       []DBSecurityGroupMembership
	OptionGroupMemberships []OptionGroupMembership
	// The settings (settings.go), each as RDS shows it.
	AvailabilityZone           string
	PreferredBackupWindow      string
	PreferredMaintenanceWindow string
	MaxAllocatedStorage        int // 0: storage autoscaling is off
	Iops                       int // 0: the storage type has none
	StorageThroughput          int // 0: the storage type has none
	CACertificateIdentifier    string
	CertificateDetails         CertificateDetails
	MonitoringInterval         int
	MonitoringRoleArn          string
	CopyTagsToSnapshot         bool
	PromotionTier              int
	AssociatedRoles            []InstanceRole
	NetworkType                string
	BackupTarget               string
	DatabaseInsightsMode       string
}

// CertificateDetails names the CA of an instance's server certificate and
// when the certificate expires.
type CertificateDetails struct {
	CAIdentifier string
	ValidTill    time.Time
}

// InstanceRole is an IAM role associated with an instance for a feature
// (AddRoleToDBInstance).
type InstanceRole struct {
	RoleArn     string
	FeatureName string
	Status      string
}

// InstanceSettings are the members of CreateDBInstance and
// ModifyDBInstance that teal checks, keeps and shows (settings.go). A nil
// or empty member is not given.
type InstanceSettings struct {
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

	// Members teal takes only at the value that describes every instance
	// here (fixedSettings): the engine's license model, IPV4, region,
	// standard, password.
	LicenseModel                 string
	NetworkType                  string
	BackupTarget                 string
	DatabaseInsightsMode         string
	MasterUserAuthenticationType string
	// Features teal does not have: false is taken, true refused.
	MultiAZ                         *bool
	StorageEncrypted                *bool
	EnablePerformanceInsights       *bool
	EnableIAMDatabaseAuthentication *bool
	EnableCustomerOwnedIp           *bool
	MultiTenant                     *bool
	DedicatedLogVolume              *bool
	// EnableLogTypes are the logs to export to CloudWatch Logs, which is
	// not here: none may be given.
	EnableLogTypes []string
}

// CreateDBInstanceInput holds the members of CreateDBInstance that teal uses.
type CreateDBInstanceInput struct {
	DBInstanceIdentifier  string
	Engine                string
	EngineVersion         string
	DBInstanceClass       string
	MasterUsername        string
	MasterUserPassword    string
	DBName                string
	Port                  int // endpoint port; 0 picks a free one
	AllocatedStorage      int
	StorageType           string
	DBParameterGroupName  string
	Tags                  []Tag
	DeletionProtection    bool
	BackupRetentionPeriod *int
	// DBClusterIdentifier adds the instance to a DB cluster: the first
	// becomes its writer, the others its readers.
	DBClusterIdentifier string
	// InstanceGroups are its DB subnet group, VPC and DB security groups
	// and option group.
	InstanceGroups
	// AvailabilityZone must be the region's zone a, the only one here.
	AvailabilityZone string
	InstanceSettings
}

// ModifyDBInstanceInput holds the members of ModifyDBInstance that teal uses.
type ModifyDBInstanceInput struct {
	DBInstanceIdentifier    string
	NewDBInstanceIdentifier string
	DBParameterGroupName    string
	DeletionProtection      *bool
	BackupRetentionPeriod   *int
	DBInstanceClass         string
	AllocatedStorage        int
	MasterUserPassword      string
	ApplyImmediately        bool
	// StorageType changes the storage's type: teal's storage is the host's
	// file system whatever it says, so the change is immediate.
	StorageType string
	InstanceGroups
	InstanceSettings
}

// TargetStorage is the storage CreateBlueGreenDeployment gives the green
// instances instead of blue's: a member not given is blue's.
type TargetStorage struct {
	TargetAllocatedStorage  int
	TargetStorageType       string
	TargetIops              *int
	TargetStorageThroughput *int
}

func (t TargetStorage) given() bool {
	return t.TargetAllocatedStorage != 0 || t.TargetStorageType != "" || t.TargetIops != nil || t.TargetStorageThroughput != nil
}

// CreateReadReplicaInput holds the members of CreateDBInstanceReadReplica.
type CreateReadReplicaInput struct {
	DBInstanceIdentifier       string
	SourceDBInstanceIdentifier string // identifier or ARN
	DBInstanceClass            string
	Port                       int
	DBParameterGroupName       string
	Tags                       []Tag
	DeletionProtection         bool
}

// Filter is a DescribeX filter.
type Filter struct {
	Name   string
	Values []string
}

// Page asks for one page of a listing.
type Page struct {
	Marker     string
	MaxRecords int // 0 means the default, 100
}

// ParameterGroup describes a DB parameter group.
type ParameterGroup struct {
	DBParameterGroupName   string
	DBParameterGroupFamily string
	Description            string
	DBParameterGroupArn    string
}

// Parameter is one parameter of a group, as DescribeDBParameters shows it.
type Parameter struct {
	ParameterName        string
	ParameterValue       string
	Description          string
	Source               string // user, system, engine-default
	ApplyType            string // static, dynamic
	DataType             string
	AllowedValues        string
	IsModifiable         bool
	MinimumEngineVersion string
	ApplyMethod          string // immediate, pending-reboot
}

// ParameterChange is one parameter of ModifyDBParameterGroup or ResetDBParameterGroup.
type ParameterChange struct {
	ParameterName  string
	ParameterValue string
	ApplyMethod    string
}

// Event is an entry of DescribeEvents.
type Event struct {
	SourceIdentifier string
	SourceType       string
	Message          string
	EventCategories  []string
	Date             time.Time
	SourceArn        string
}
