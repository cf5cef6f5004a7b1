package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

// The DB cluster operations: clusters, their custom endpoints and their
// parameter groups.

type createDBClusterInput struct {
	DBClusterIdentifier         string `query:",required,name=cluster"`
	Engine                      string `query:",required"`
	EngineVersion               string
	MasterUsername              string
	MasterUserPassword          string
	DatabaseName                string
	DBClusterParameterGroupName string `query:",id=cluster-pg"`
	Port                        int
	BackupRetentionPeriod       *int
	DeletionProtection          bool
	Tags                        []tagInput `query:"Tags.Tag"`
	// A master password kept by Secrets Manager, a global database or a
	// serverless cluster are not what teal builds; accepting them silently
	// would lie.
	ManageMasterUserPassword    *bool  `query:",unsupported"`
	GlobalClusterIdentifier     string `query:",unsupported"`
	EngineMode                  string `query:",unsupported"`
	ReplicationSourceIdentifier string `query:",unsupported"`
}

func (a *API) createDBCluster(ctx context.Context, in *createDBClusterInput) (dbClusterResult, error) {
	return clusterResult(a.svc.CreateDBCluster(ctx, rds.CreateDBClusterInput{
		DBClusterIdentifier:         in.DBClusterIdentifier,
		Engine:                      in.Engine,
		EngineVersion:               in.EngineVersion,
		MasterUsername:              in.MasterUsername,
		MasterUserPassword:          in.MasterUserPassword,
		DatabaseName:                in.DatabaseName,
		DBClusterParameterGroupName: in.DBClusterParameterGroupName,
		Port:                        in.Port,
		BackupRetentionPeriod:       in.BackupRetentionPeriod,
		DeletionProtection:          in.DeletionProtection,
		Tags:                        tagsOf(in.Tags),
	}))
}

type describeDBClustersInput struct {
	DBClusterIdentifier string        `query:",id=cluster"`
	Filters             []filterInput `query:"Filters.Filter"`
	MaxRecords          int
	Marker              string
	IncludeShared       bool
}

func (a *API) describeDBClusters(ctx context.Context, in *describeDBClustersInput) (describeDBClustersResult, error) {
	cs, marker, err := a.svc.DescribeDBClusters(ctx, in.DBClusterIdentifier, filtersOf(in.Filters),
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBClustersResult{}, err
	}
	out := make([]dbClusterXML, len(cs))
	for i := range cs {
		out[i] = dbClusterOf(&cs[i])
	}
	return describeDBClustersResult{Marker: marker, DBClusters: listOf("DBCluster", out)}, nil
}

type modifyDBClusterInput struct {
	DBClusterIdentifier         string `query:",required,id=cluster"`
	NewDBClusterIdentifier      string `query:",name=cluster"`
	DBClusterParameterGroupName string `query:",id=cluster-pg"`
	MasterUserPassword          string
	DeletionProtection          *bool
	BackupRetentionPeriod       *int
	ApplyImmediately            bool
	// An upgrade is a blue/green deployment; a new port would move the
	// endpoint clients use.
	EngineVersion                string `query:",unsupported"`
	Port                         *int   `query:",unsupported"`
	DBInstanceParameterGroupName string `query:",unsupported"`
	ManageMasterUserPassword     *bool  `query:",unsupported"`
}

func (a *API) modifyDBCluster(ctx context.Context, in *modifyDBClusterInput) (dbClusterResult, error) {
	return clusterResult(a.svc.ModifyDBCluster(ctx, rds.ModifyDBClusterInput{
		DBClusterIdentifier:         in.DBClusterIdentifier,
		NewDBClusterIdentifier:      in.NewDBClusterIdentifier,
		DBClusterParameterGroupName: in.DBClusterParameterGroupName,
		MasterUserPassword:          in.MasterUserPassword,
		DeletionProtection:          in.DeletionProtection,
		BackupRetentionPeriod:       in.BackupRetentionPeriod,
	}))
}

type deleteDBClusterInput struct {
	DBClusterIdentifier       string `query:",required,id=cluster"`
	SkipFinalSnapshot         bool
	FinalDBSnapshotIdentifier string
	DeleteAutomatedBackups    *bool
}

func (a *API) deleteDBCluster(ctx context.Context, in *deleteDBClusterInput) (dbClusterResult, error) {
	return clusterResult(a.svc.DeleteDBCluster(ctx, in.DBClusterIdentifier, in.SkipFinalSnapshot, in.FinalDBSnapshotIdentifier))
}

type failoverDBClusterInput struct {
	DBClusterIdentifier        string `query:",required,id=cluster"`
	TargetDBInstanceIdentifier string `query:",id=db"`
}

func (a *API) failoverDBCluster(ctx context.Context, in *failoverDBClusterInput) (dbClusterResult, error) {
	return clusterResult(a.svc.FailoverDBCluster(ctx, in.DBClusterIdentifier, in.TargetDBInstanceIdentifier))
}

type createDBClusterEndpointInput struct {
	DBClusterIdentifier         string     `query:",required,id=cluster"`
	DBClusterEndpointIdentifier string     `query:",required,name=cluster-endpoint"`
	EndpointType                string     `query:",required"`
	StaticMembers               []string   `query:"StaticMembers.member"`
	ExcludedMembers             []string   `query:"ExcludedMembers.member"`
	Tags                        []tagInput `query:"Tags.Tag"`
}

func (a *API) createDBClusterEndpoint(ctx context.Context, in *createDBClusterEndpointInput) (dbClusterEndpointXML, error) {
	return clusterEndpointResult(a.svc.CreateDBClusterEndpoint(ctx, rds.ClusterEndpointInput{
		DBClusterIdentifier: in.DBClusterIdentifier, DBClusterEndpointIdentifier: in.DBClusterEndpointIdentifier,
		EndpointType: in.EndpointType, StaticMembers: in.StaticMembers, ExcludedMembers: in.ExcludedMembers,
		Tags: tagsOf(in.Tags),
	}))
}

type modifyDBClusterEndpointInput struct {
	DBClusterEndpointIdentifier string `query:",required,id=cluster-endpoint"`
	EndpointType                string
	StaticMembers               []string `query:"StaticMembers.member"`
	ExcludedMembers             []string `query:"ExcludedMembers.member"`
}

func (a *API) modifyDBClusterEndpoint(ctx context.Context, in *modifyDBClusterEndpointInput) (dbClusterEndpointXML, error) {
	return clusterEndpointResult(a.svc.ModifyDBClusterEndpoint(ctx, rds.ClusterEndpointInput{
		DBClusterEndpointIdentifier: in.DBClusterEndpointIdentifier,
		EndpointType:                in.EndpointType, StaticMembers: in.StaticMembers, ExcludedMembers: in.ExcludedMembers,
	}))
}

type clusterEndpointIDInput struct {
	DBClusterEndpointIdentifier string `query:",required,id=cluster-endpoint"`
}

func (a *API) deleteDBClusterEndpoint(ctx context.Context, in *clusterEndpointIDInput) (dbClusterEndpointXML, error) {
	return clusterEndpointResult(a.svc.DeleteDBClusterEndpoint(ctx, in.DBClusterEndpointIdentifier))
}

type describeDBClusterEndpointsInput struct {
	DBClusterIdentifier         string        `query:",id=cluster"`
	DBClusterEndpointIdentifier string        `query:",id=cluster-endpoint"`
	Filters                     []filterInput `query:"Filters.Filter"`
	MaxRecords                  int
	Marker                      string
}

func (a *API) describeDBClusterEndpoints(ctx context.Context, in *describeDBClusterEndpointsInput) (describeDBClusterEndpointsResult, error) {
	eps, marker, err := a.svc.DescribeDBClusterEndpoints(ctx, in.DBClusterIdentifier, in.DBClusterEndpointIdentifier,
		filtersOf(in.Filters), rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBClusterEndpointsResult{}, err
	}
	out := make([]dbClusterEndpointXML, len(eps))
	for i := range eps {
		out[i] = clusterEndpointOf(&eps[i])
	}
	return describeDBClusterEndpointsResult{Marker: marker, DBClusterEndpoints: listOf("DBClusterEndpointList", out)}, nil
}

// Cluster parameter groups: the DB parameter group operations' twins.

type createDBClusterParameterGroupInput struct {
	DBClusterParameterGroupName string     `query:",required,name=cluster-pg"`
	DBParameterGroupFamily      string     `query:",required"`
	Description                 string     `query:",required"`
	Tags                        []tagInput `query:"Tags.Tag"`
}

func (a *API) createDBClusterParameterGroup(ctx context.Context, in *createDBClusterParameterGroupInput) (createDBClusterParameterGroupResult, error) {
	g, err := a.svc.CreateDBClusterParameterGroup(ctx, in.DBClusterParameterGroupName, in.DBParameterGroupFamily, in.Description, tagsOf(in.Tags))
	if err != nil {
		return createDBClusterParameterGroupResult{}, err
	}
	return createDBClusterParameterGroupResult{DBClusterParameterGroup: clusterGroupOf(*g)}, nil
}

type describeDBClusterParameterGroupsInput struct {
	DBClusterParameterGroupName string `query:",id=cluster-pg"`
	MaxRecords                  int
	Marker                      string
}

func (a *API) describeDBClusterParameterGroups(ctx context.Context, in *describeDBClusterParameterGroupsInput) (describeDBClusterParameterGroupsResult, error) {
	gs, marker, err := a.svc.DescribeDBClusterParameterGroups(ctx, in.DBClusterParameterGroupName,
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBClusterParameterGroupsResult{}, err
	}
	out := make([]clusterGroupXML, len(gs))
	for i, g := range gs {
		out[i] = clusterGroupOf(g)
	}
	return describeDBClusterParameterGroupsResult{Marker: marker, DBClusterParameterGroups: listOf("DBClusterParameterGroup", out)}, nil
}

type describeDBClusterParametersInput struct {
	DBClusterParameterGroupName string `query:",required,id=cluster-pg"`
	Source                      string
	MaxRecords                  int
	Marker                      string
}

func (a *API) describeDBClusterParameters(ctx context.Context, in *describeDBClusterParametersInput) (describeDBParametersResult, error) {
	params, marker, err := a.svc.DescribeDBClusterParameters(ctx, in.DBClusterParameterGroupName, in.Source,
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBParametersResult{}, err
	}
	return describeDBParametersResult{Parameters: parametersOf(params), Marker: marker}, nil
}

type modifyDBClusterParameterGroupInput struct {
	DBClusterParameterGroupName string           `query:",required,id=cluster-pg"`
	Parameters                  []parameterInput `query:"Parameters.Parameter,required"`
}

func (a *API) modifyDBClusterParameterGroup(ctx context.Context, in *modifyDBClusterParameterGroupInput) (clusterGroupNameResult, error) {
	name, err := a.svc.ModifyDBClusterParameterGroup(ctx, in.DBClusterParameterGroupName, changesOf(in.Parameters))
	return clusterGroupNameResult{DBClusterParameterGroupName: name}, err
}

type resetDBClusterParameterGroupInput struct {
	DBClusterParameterGroupName string `query:",required,id=cluster-pg"`
	ResetAllParameters          bool
	Parameters                  []parameterInput `query:"Parameters.Parameter"`
}

func (a *API) resetDBClusterParameterGroup(ctx context.Context, in *resetDBClusterParameterGroupInput) (clusterGroupNameResult, error) {
	name, err := a.svc.ResetDBClusterParameterGroup(ctx, in.DBClusterParameterGroupName, in.ResetAllParameters, changesOf(in.Parameters))
	return clusterGroupNameResult{DBClusterParameterGroupName: name}, err
}

type copyDBClusterParameterGroupInput struct {
	SourceDBClusterParameterGroupIdentifier  string     `query:",required,id=cluster-pg"`
	TargetDBClusterParameterGroupIdentifier  string     `query:",required,name=cluster-pg"`
	TargetDBClusterParameterGroupDescription string     `query:",required"`
	Tags                                     []tagInput `query:"Tags.Tag"`
}

func (a *API) copyDBClusterParameterGroup(ctx context.Context, in *copyDBClusterParameterGroupInput) (createDBClusterParameterGroupResult, error) {
	g, err := a.svc.CopyDBClusterParameterGroup(ctx, in.SourceDBClusterParameterGroupIdentifier, in.TargetDBClusterParameterGroupIdentifier,
		in.TargetDBClusterParameterGroupDescription, tagsOf(in.Tags))
	if err != nil {
		return createDBClusterParameterGroupResult{}, err
	}
	return createDBClusterParameterGroupResult{DBClusterParameterGroup: clusterGroupOf(*g)}, nil
}

type clusterGroupNameInput struct {
	DBClusterParameterGroupName string `query:",required,id=cluster-pg"`
}

func (a *API) deleteDBClusterParameterGroup(ctx context.Context, in *clusterGroupNameInput) (noResult, error) {
	return noResult{}, a.svc.DeleteDBClusterParameterGroup(ctx, in.DBClusterParameterGroupName)
}

// Answers.

type dbClusterMemberXML struct {
	DBInstanceIdentifier          string
	IsClusterWriter               bool
	DBClusterParameterGroupStatus string
	PromotionTier                 int
}

type dbClusterXML struct {
	AllocatedStorage        int
	BackupRetentionPeriod   int
	DatabaseName            string `xml:",omitempty"`
	DBClusterIdentifier     string
	DBClusterParameterGroup string
	Status                  string
	Endpoint                string
	ReaderEndpoint          string
	CustomEndpoints         list[string]
	MultiAZ                 bool
	Engine                  string
	EngineVersion           string
	Port                    int
	MasterUsername          string
	DBClusterMembers        list[dbClusterMemberXML]
	VpcSecurityGroups       list[struct{}]
	StorageEncrypted        bool
	DbClusterResourceId     string
	DBClusterArn            string
	ClusterCreateTime       string `xml:",omitempty"`
	EngineMode              string
	DeletionProtection      bool
	TagList                 list[tagXML]
}

func dbClusterOf(c *rds.DBCluster) dbClusterXML {
	members := make([]dbClusterMemberXML, len(c.DBClusterMembers))
	for i, m := range c.DBClusterMembers {
		members[i] = dbClusterMemberXML(m)
	}
	return dbClusterXML{
		AllocatedStorage:        1,
		BackupRetentionPeriod:   c.BackupRetentionPeriod,
		DatabaseName:            c.DatabaseName,
		DBClusterIdentifier:     c.DBClusterIdentifier,
		DBClusterParameterGroup: c.DBClusterParameterGroup,
		Status:                  c.Status,
		Endpoint:                c.Endpoint,
		ReaderEndpoint:          c.ReaderEndpoint,
		CustomEndpoints:         listOf("member", c.CustomEndpoints),
		MultiAZ:                 c.MultiAZ,
		Engine:                  c.Engine,
		EngineVersion:           c.EngineVersion,
		Port:                    c.Port,
		MasterUsername:          c.MasterUsername,
		DBClusterMembers:        listOf("DBClusterMember", members),
		VpcSecurityGroups:       listOf[struct{}]("VpcSecurityGroupMembership", nil),
		StorageEncrypted:        c.StorageEncrypted,
		DbClusterResourceId:     c.DbClusterResourceId,
		DBClusterArn:            c.DBClusterArn,
		ClusterCreateTime:       isoTime(c.ClusterCreateTime),
		EngineMode:              "provisioned",
		DeletionProtection:      c.DeletionProtection,
		TagList:                 tagsXML(c.TagList),
	}
}

// dbClusterResult is the answer of the operations on one cluster.
type dbClusterResult struct {
	DBCluster dbClusterXML
}

func clusterResult(c *rds.DBCluster, err error) (dbClusterResult, error) {
	if err != nil {
		return dbClusterResult{}, err
	}
	return dbClusterResult{DBCluster: dbClusterOf(c)}, nil
}

type describeDBClustersResult struct {
	Marker     string `xml:",omitempty"`
	DBClusters list[dbClusterXML]
}

type dbClusterEndpointXML struct {
	DBClusterEndpointIdentifier         string `xml:",omitempty"`
	DBClusterIdentifier                 string
	DBClusterEndpointResourceIdentifier string `xml:",omitempty"`
	Endpoint                            string
	Status                              string
	EndpointType                        string
	CustomEndpointType                  string `xml:",omitempty"`
	StaticMembers                       list[string]
	ExcludedMembers                     list[string]
	DBClusterEndpointArn                string `xml:",omitempty"`
}

func clusterEndpointOf(e *rds.DBClusterEndpoint) dbClusterEndpointXML {
	return dbClusterEndpointXML{
		DBClusterEndpointIdentifier:         e.DBClusterEndpointIdentifier,
		DBClusterIdentifier:                 e.DBClusterIdentifier,
		DBClusterEndpointResourceIdentifier: e.DBClusterEndpointResourceIdentifier,
		Endpoint:                            e.Endpoint,
		Status:                              e.Status,
		EndpointType:                        e.EndpointType,
		CustomEndpointType:                  e.CustomEndpointType,
		StaticMembers:                       listOf("member", e.StaticMembers),
		ExcludedMembers:                     listOf("member", e.ExcludedMembers),
		DBClusterEndpointArn:                e.DBClusterEndpointArn,
	}
}

// The answer of Create, Modify and DeleteDBClusterEndpoint is the endpoint's
// members themselves, not wrapped.
func clusterEndpointResult(e *rds.DBClusterEndpoint, err error) (dbClusterEndpointXML, error) {
	if err != nil {
		return dbClusterEndpointXML{}, err
	}
	return clusterEndpointOf(e), nil
}

type describeDBClusterEndpointsResult struct {
	Marker             string `xml:",omitempty"`
	DBClusterEndpoints list[dbClusterEndpointXML]
}

type clusterGroupXML struct {
	DBClusterParameterGroupName string
	DBParameterGroupFamily      string
	Description                 string
	DBClusterParameterGroupArn  string
}

func clusterGroupOf(g rds.ParameterGroup) clusterGroupXML {
	return clusterGroupXML{DBClusterParameterGroupName: g.DBParameterGroupName, DBParameterGroupFamily: g.DBParameterGroupFamily,
		Description: g.Description, DBClusterParameterGroupArn: g.DBParameterGroupArn}
}

type createDBClusterParameterGroupResult struct {
	DBClusterParameterGroup clusterGroupXML
}

type describeDBClusterParameterGroupsResult struct {
	Marker                   string `xml:",omitempty"`
	DBClusterParameterGroups list[clusterGroupXML]
}

type clusterGroupNameResult struct {
	DBClusterParameterGroupName string
}
