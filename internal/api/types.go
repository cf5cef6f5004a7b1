package api

import "github.com/tealdb/teal/internal/rds"

// The answer shapes below follow the RDS service model: element names are
// the model's member names, and each list names its member's locationName.
// They hold what teal knows; members teal has no notion of are left out,
// which the clients read as unset.

type tagXML struct {
	Key   string
	Value string
}

func tagsXML(tags []rds.Tag) list[tagXML] {
	out := make([]tagXML, len(tags))
	for i, t := range tags {
		out[i] = tagXML{Key: t.Key, Value: t.Value}
	}
	return listOf("Tag", out)
}

type endpointXML struct {
	Address string
	Port    int
}

type parameterGroupStatusXML struct {
	DBParameterGroupName string
	ParameterApplyStatus string
}

type statusInfoXML struct {
	StatusType string
	Normal     bool
	Status     string
	Message    string `xml:",omitempty"`
}

type dbInstanceXML struct {
	DBInstanceIdentifier                  string
	DBClusterIdentifier                   string `xml:",omitempty"`
	DBInstanceClass                       string
	Engine                                string
	DBInstanceStatus                      string
	MasterUsername                        string       `xml:",omitempty"`
	DBName                                string       `xml:",omitempty"`
	Endpoint                              *endpointXML `xml:",omitempty"`
	AllocatedStorage                      int
	InstanceCreateTime                    string `xml:",omitempty"`
	PreferredBackupWindow                 string
	BackupRetentionPeriod                 int
	LatestRestorableTime                  string `xml:",omitempty"`
	DBSecurityGroups                      list[dbSecurityGroupMembershipXML]
	VpcSecurityGroups                     list[vpcSecurityGroupMembershipXML]
	DBParameterGroups                     list[parameterGroupStatusXML]
	AvailabilityZone                      string
	DBSubnetGroup                         *dbSubnetGroupXML `xml:",omitempty"`
	PreferredMaintenanceWindow            string
	PendingModifiedValues                 struct{}
	MultiAZ                               bool
	EngineVersion                         string
	AutoMinorVersionUpgrade               bool
	ReadReplicaSourceDBInstanceIdentifier string `xml:",omitempty"`
	ReadReplicaDBInstanceIdentifiers      list[string]
	ReadReplicaDBClusterIdentifiers       list[string]
	LicenseModel                          string `xml:",omitempty"`
	Iops                                  int    `xml:",omitempty"`
	StorageThroughput                     int    `xml:",omitempty"`
	OptionGroupMemberships                list[optionGroupMembershipXML]
	PubliclyAccessible                    bool
	StatusInfos                           *list[statusInfoXML] `xml:",omitempty"`
	PercentProgress                       string               `xml:",omitempty"`
	StorageType                           string
	DbInstancePort                        int
	StorageEncrypted                      bool
	DbiResourceId                         string
	CACertificateIdentifier               string
	CopyTagsToSnapshot                    bool
	MonitoringInterval                    int
	MonitoringRoleArn                     string `xml:",omitempty"`
	PromotionTier                         int
	DBInstanceArn                         string
	IAMDatabaseAuthenticationEnabled      bool
	DatabaseInsightsMode                  string
	PerformanceInsightsEnabled            bool
	DeletionProtection                    bool
	AssociatedRoles                       list[dbInstanceRoleXML]
	MaxAllocatedStorage                   int `xml:",omitempty"`
	TagList                               list[tagXML]
	CustomerOwnedIpEnabled                bool
	NetworkType                           string
	BackupTarget                          string
	CertificateDetails                    certificateDetailsXML
}

type dbInstanceRoleXML struct {
	RoleArn     string
	FeatureName string
	Status      string
}

type certificateDetailsXML struct {
	CAIdentifier string
	ValidTill    string `xml:",omitempty"`
}

var licenseModels = map[string]string{"postgres": "postgresql-license", "mariadb": "general-public-license", "mysql": "general-public-license"}

func dbInstanceOf(d *rds.DBInstance) dbInstanceXML {
	x := dbInstanceXML{
		DBInstanceIdentifier:                  d.DBInstanceIdentifier,
		DBClusterIdentifier:                   d.DBClusterIdentifier,
		DBInstanceClass:                       d.DBInstanceClass,
		Engine:                                d.Engine,
		DBInstanceStatus:                      d.DBInstanceStatus,
		MasterUsername:                        d.MasterUsername,
		DBName:                                d.DBName,
		AllocatedStorage:                      d.AllocatedStorage,
		InstanceCreateTime:                    isoTime(d.InstanceCreateTime),
		BackupRetentionPeriod:                 d.BackupRetentionPeriod,
		LatestRestorableTime:                  isoTime(d.LatestRestorableTime),
		MultiAZ:                               d.MultiAZ,
		EngineVersion:                         d.EngineVersion,
		AutoMinorVersionUpgrade:               d.AutoMinorVersionUpgrade,
		ReadReplicaSourceDBInstanceIdentifier: d.ReadReplicaSourceDBInstanceIdentifier,
		ReadReplicaDBInstanceIdentifiers:      listOf("ReadReplicaDBInstanceIdentifier", d.ReadReplicaDBInstanceIdentifiers),
		ReadReplicaDBClusterIdentifiers:       listOf[string]("ReadReplicaDBClusterIdentifier", nil),
		LicenseModel:                          licenseModels[d.Engine],
		PubliclyAccessible:                    d.PubliclyAccessible,
		PercentProgress:                       d.PercentProgress,
		StorageType:                           d.StorageType,
		DbInstancePort:                        d.DbInstancePort,
		StorageEncrypted:                      d.StorageEncrypted,
		DbiResourceId:                         d.DbiResourceId,
		DBInstanceArn:                         d.DBInstanceArn,
		DeletionProtection:                    d.DeletionProtection,
		TagList:                               tagsXML(d.TagList),
		AvailabilityZone:                      d.AvailabilityZone,
		PreferredBackupWindow:                 d.PreferredBackupWindow,
		PreferredMaintenanceWindow:            d.PreferredMaintenanceWindow,
		Iops:                                  d.Iops,
		StorageThroughput:                     d.StorageThroughput,
		MaxAllocatedStorage:                   d.MaxAllocatedStorage,
		CACertificateIdentifier:               d.CACertificateIdentifier,
		CertificateDetails: certificateDetailsXML{CAIdentifier: d.CertificateDetails.CAIdentifier,
			ValidTill: isoTime(d.CertificateDetails.ValidTill)},
		CopyTagsToSnapshot:   d.CopyTagsToSnapshot,
		MonitoringInterval:   d.MonitoringInterval,
		MonitoringRoleArn:    d.MonitoringRoleArn,
		PromotionTier:        d.PromotionTier,
		DatabaseInsightsMode: d.DatabaseInsightsMode,
		NetworkType:          d.NetworkType,
		BackupTarget:         d.BackupTarget,
	}
	roles := make([]dbInstanceRoleXML, len(d.AssociatedRoles))
	for i, r := range d.AssociatedRoles {
		roles[i] = dbInstanceRoleXML(r)
	}
	x.AssociatedRoles = listOf("DBInstanceRole", roles)
	if d.Endpoint != nil {
		x.Endpoint = &endpointXML{Address: d.Endpoint.Address, Port: d.Endpoint.Port}
	}
	groups := make([]parameterGroupStatusXML, len(d.DBParameterGroups))
	for i, g := range d.DBParameterGroups {
		groups[i] = parameterGroupStatusXML{DBParameterGroupName: g.DBParameterGroupName, ParameterApplyStatus: g.ParameterApplyStatus}
	}
	x.DBParameterGroups = listOf("DBParameterGroup", groups)
	instanceGroupsXML(d, &x)
	if len(d.StatusInfos) > 0 {
		infos := make([]statusInfoXML, len(d.StatusInfos))
		for i, s := range d.StatusInfos {
			infos[i] = statusInfoXML{StatusType: s.StatusType, Normal: s.Normal, Status: s.Status, Message: s.Message}
		}
		l := listOf("DBInstanceStatusInfo", infos)
		x.StatusInfos = &l
	}
	return x
}

// dbInstanceResult is the answer of the operations on one instance
// (CreateDBInstance, ModifyDBInstance, …): <DBInstance>.
type dbInstanceResult struct {
	DBInstance dbInstanceXML
}

func instanceResult(d *rds.DBInstance, err error) (dbInstanceResult, error) {
	if err != nil {
		return dbInstanceResult{}, err
	}
	return dbInstanceResult{DBInstance: dbInstanceOf(d)}, nil
}

type describeDBInstancesResult struct {
	Marker      string `xml:",omitempty"`
	DBInstances list[dbInstanceXML]
}

type parameterGroupXML struct {
	DBParameterGroupName   string
	DBParameterGroupFamily string
	Description            string
	DBParameterGroupArn    string
}

func parameterGroupOf(g rds.ParameterGroup) parameterGroupXML {
	return parameterGroupXML{DBParameterGroupName: g.DBParameterGroupName, DBParameterGroupFamily: g.DBParameterGroupFamily,
		Description: g.Description, DBParameterGroupArn: g.DBParameterGroupArn}
}

type createDBParameterGroupResult struct {
	DBParameterGroup parameterGroupXML
}

type describeDBParameterGroupsResult struct {
	Marker            string `xml:",omitempty"`
	DBParameterGroups list[parameterGroupXML]
}

// parameterGroupNameResult answers ModifyDBParameterGroup and
// ResetDBParameterGroup.
type parameterGroupNameResult struct {
	DBParameterGroupName string
}

type parameterXML struct {
	ParameterName        string
	ParameterValue       string `xml:",omitempty"`
	Description          string `xml:",omitempty"`
	Source               string
	ApplyType            string
	DataType             string
	AllowedValues        string `xml:",omitempty"`
	IsModifiable         bool
	MinimumEngineVersion string `xml:",omitempty"`
	ApplyMethod          string `xml:",omitempty"`
}

type describeDBParametersResult struct {
	Parameters list[parameterXML]
	Marker     string `xml:",omitempty"`
}

func parametersOf(ps []rds.Parameter) list[parameterXML] {
	out := make([]parameterXML, len(ps))
	for i, p := range ps {
		out[i] = parameterXML(p)
	}
	return listOf("Parameter", out)
}

type upgradeTargetXML struct {
	Engine                string
	EngineVersion         string
	Description           string `xml:",omitempty"`
	AutoUpgrade           bool
	IsMajorVersionUpgrade bool
}

type engineVersionXML struct {
	Engine                             string
	MajorEngineVersion                 string
	EngineVersion                      string
	DBParameterGroupFamily             string
	DBEngineDescription                string
	DBEngineVersionDescription         string
	ValidUpgradeTarget                 list[upgradeTargetXML]
	SupportsLogExportsToCloudwatchLogs bool
	SupportsReadReplica                bool
	Status                             string
	SupportsParallelQuery              bool
	SupportsGlobalDatabases            bool
	TagList                            list[tagXML]
	SupportsBabelfish                  bool
	SupportsLimitlessDatabase          bool
	SupportsIntegrations               bool
}

func engineVersionOf(v rds.EngineVersion) engineVersionXML {
	targets := make([]upgradeTargetXML, len(v.ValidUpgradeTarget))
	for i, t := range v.ValidUpgradeTarget {
		targets[i] = upgradeTargetXML{Engine: t.Engine, EngineVersion: t.EngineVersion,
			Description: v.DBEngineDescription + " " + t.EngineVersion,
			AutoUpgrade: t.AutoUpgrade, IsMajorVersionUpgrade: t.IsMajorVersionUpgrade}
	}
	return engineVersionXML{
		Engine: v.Engine, MajorEngineVersion: v.MajorEngineVersion, EngineVersion: v.EngineVersion,
		DBParameterGroupFamily: v.DBParameterGroupFamily, DBEngineDescription: v.DBEngineDescription,
		DBEngineVersionDescription: v.DBEngineVersionDescription,
		ValidUpgradeTarget:         listOf("UpgradeTarget", targets),
		SupportsReadReplica:        true,
		Status:                     v.Status,
		TagList:                    tagsXML(nil),
	}
}

type describeDBEngineVersionsResult struct {
	Marker           string `xml:",omitempty"`
	DBEngineVersions list[engineVersionXML]
}

type listTagsForResourceResult struct {
	TagList list[tagXML]
}

type eventXML struct {
	SourceIdentifier string
	SourceType       string
	Message          string
	EventCategories  list[string]
	Date             string
	SourceArn        string `xml:",omitempty"`
}

type describeEventsResult struct {
	Marker string `xml:",omitempty"`
	Events list[eventXML]
}

func eventsOf(events []rds.Event) list[eventXML] {
	out := make([]eventXML, len(events))
	for i, e := range events {
		out[i] = eventXML{SourceIdentifier: e.SourceIdentifier, SourceType: e.SourceType, Message: e.Message,
			EventCategories: listOf("EventCategory", e.EventCategories), Date: isoTime(e.Date), SourceArn: e.SourceArn}
	}
	return listOf("Event", out)
}

// accessKeyXML is an access key in the Teal*AccessKey answers, in the style
// of IAM's AccessKey.
type accessKeyXML struct {
	AccessKeyId     string
	SecretAccessKey string `xml:",omitempty"`
	Description     string `xml:",omitempty"`
	PolicyDocument  string
	CreateDate      string
}

func accessKeyOf(k AccessKey) accessKeyXML {
	return accessKeyXML{AccessKeyId: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Description: k.Description,
		PolicyDocument: string(k.Policy), CreateDate: isoTime(k.Created)}
}

type createAccessKeyResult struct {
	AccessKey accessKeyXML
}

type listAccessKeysResult struct {
	AccessKeys list[accessKeyXML]
}
