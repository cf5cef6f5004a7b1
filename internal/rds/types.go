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
	// LatestRestorableTime is zero when the instance has no automated
	// backup to restore from yet.
	LatestRestorableTime time.Time
	// The instance's groups (netgroups.go): every instance is in a DB
	// subnet group and an option group.
	DBSubnetGroup          *DBSubnetGroup
	VpcSecurityGroups      []VpcSecurityGroupMembership
	DBSecurityGroups       []DBSecurityGroupMembership
	OptionGroupMemberships []OptionGroupMembership
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
	InstanceGroups
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
