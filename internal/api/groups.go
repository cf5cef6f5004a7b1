package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

type createDBParameterGroupInput struct {
	DBParameterGroupName   string     `query:",required,name=pg"`
	DBParameterGroupFamily string     `query:",required"`
	Description            string     `query:",required"`
	Tags                   []tagInput `query:"Tags.Tag"`
}

func (a *API) createDBParameterGroup(ctx context.Context, in *createDBParameterGroupInput) (createDBParameterGroupResult, error) {
	g, err := a.svc.CreateDBParameterGroup(ctx, in.DBParameterGroupName, in.DBParameterGroupFamily, in.Description, tagsOf(in.Tags))
	if err != nil {
		return createDBParameterGroupResult{}, err
	}
	return createDBParameterGroupResult{DBParameterGroup: parameterGroupOf(*g)}, nil
}

// parameterInput is a Parameter of ModifyDBParameterGroup and
// ResetDBParameterGroup; the other members of the model's Parameter are
// descriptive and ignored in a request.
type parameterInput struct {
	ParameterName  string
	ParameterValue string
	ApplyMethod    string
}

func changesOf(in []parameterInput) []rds.ParameterChange {
	out := make([]rds.ParameterChange, len(in))
	for i, p := range in {
		out[i] = rds.ParameterChange(p)
	}
	return out
}

type modifyDBParameterGroupInput struct {
	DBParameterGroupName string           `query:",required,id=pg"`
	Parameters           []parameterInput `query:"Parameters.Parameter,required"`
}

func (a *API) modifyDBParameterGroup(ctx context.Context, in *modifyDBParameterGroupInput) (parameterGroupNameResult, error) {
	name, err := a.svc.ModifyDBParameterGroup(ctx, in.DBParameterGroupName, changesOf(in.Parameters))
	return parameterGroupNameResult{DBParameterGroupName: name}, err
}

type resetDBParameterGroupInput struct {
	DBParameterGroupName string `query:",required,id=pg"`
	ResetAllParameters   bool
	Parameters           []parameterInput `query:"Parameters.Parameter"`
}

func (a *API) resetDBParameterGroup(ctx context.Context, in *resetDBParameterGroupInput) (parameterGroupNameResult, error) {
	name, err := a.svc.ResetDBParameterGroup(ctx, in.DBParameterGroupName, in.ResetAllParameters, changesOf(in.Parameters))
	return parameterGroupNameResult{DBParameterGroupName: name}, err
}

type describeDBParameterGroupsInput struct {
	DBParameterGroupName string `query:",id=pg"`
	MaxRecords           int
	Marker               string
}

func (a *API) describeDBParameterGroups(ctx context.Context, in *describeDBParameterGroupsInput) (describeDBParameterGroupsResult, error) {
	groups, marker, err := a.svc.DescribeDBParameterGroups(ctx, in.DBParameterGroupName,
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBParameterGroupsResult{}, err
	}
	out := make([]parameterGroupXML, len(groups))
	for i, g := range groups {
		out[i] = parameterGroupOf(g)
	}
	return describeDBParameterGroupsResult{Marker: marker, DBParameterGroups: listOf("DBParameterGroup", out)}, nil
}

type describeDBParametersInput struct {
	DBParameterGroupName string `query:",required,id=pg"`
	Source               string
	MaxRecords           int
	Marker               string
	// The parameter-name filter is not implemented; ignoring it would
	// answer with every parameter instead of the ones asked for.
	Filters []filterInput `query:"Filters.Filter,unsupported"`
}

func (a *API) describeDBParameters(ctx context.Context, in *describeDBParametersInput) (describeDBParametersResult, error) {
	params, marker, err := a.svc.DescribeDBParameters(ctx, in.DBParameterGroupName, in.Source,
		rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBParametersResult{}, err
	}
	return describeDBParametersResult{Parameters: parametersOf(params), Marker: marker}, nil
}

// groupNameInput is the input of DeleteDBParameterGroup.
type groupNameInput struct {
	DBParameterGroupName string `query:",required,id=pg"`
}

func (a *API) deleteDBParameterGroup(ctx context.Context, in *groupNameInput) (noResult, error) {
	return noResult{}, a.svc.DeleteDBParameterGroup(ctx, in.DBParameterGroupName)
}

type describeDBEngineVersionsInput struct {
	Engine                 string
	EngineVersion          string
	DBParameterGroupFamily string
	Filters                []filterInput `query:"Filters.Filter"`
	MaxRecords             int
	Marker                 string
	DefaultOnly            bool
}

func (a *API) describeDBEngineVersions(ctx context.Context, in *describeDBEngineVersionsInput) (describeDBEngineVersionsResult, error) {
	versions, marker, err := a.svc.DescribeDBEngineVersions(ctx, rds.EngineVersionsInput{
		Engine: in.Engine, EngineVersion: in.EngineVersion, DBParameterGroupFamily: in.DBParameterGroupFamily,
		DefaultOnly: in.DefaultOnly, Filters: filtersOf(in.Filters),
		Page: rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords},
	})
	if err != nil {
		return describeDBEngineVersionsResult{}, err
	}
	out := make([]engineVersionXML, len(versions))
	for i, v := range versions {
		out[i] = engineVersionOf(v)
	}
	return describeDBEngineVersionsResult{Marker: marker, DBEngineVersions: listOf("DBEngineVersion", out)}, nil
}

type copyDBParameterGroupInput struct {
	SourceDBParameterGroupIdentifier  string     `query:",required,id=pg"`
	TargetDBParameterGroupIdentifier  string     `query:",required,name=pg"`
	TargetDBParameterGroupDescription string     `query:",required"`
	Tags                              []tagInput `query:"Tags.Tag"`
}

func (a *API) copyDBParameterGroup(ctx context.Context, in *copyDBParameterGroupInput) (createDBParameterGroupResult, error) {
	g, err := a.svc.CopyDBParameterGroup(ctx, in.SourceDBParameterGroupIdentifier, in.TargetDBParameterGroupIdentifier,
		in.TargetDBParameterGroupDescription, tagsOf(in.Tags))
	if err != nil {
		return createDBParameterGroupResult{}, err
	}
	return createDBParameterGroupResult{DBParameterGroup: parameterGroupOf(*g)}, nil
}

type describeEngineDefaultParametersInput struct {
	DBParameterGroupFamily string        `query:",required"`
	Filters                []filterInput `query:"Filters.Filter"`
	MaxRecords             int
	Marker                 string
}

type engineDefaultsXML struct {
	DBParameterGroupFamily string
	Marker                 string `xml:",omitempty"`
	Parameters             list[parameterXML]
}

type engineDefaultsResult struct {
	EngineDefaults engineDefaultsXML
}

func (a *API) describeEngineDefaultParameters(ctx context.Context, in *describeEngineDefaultParametersInput) (engineDefaultsResult, error) {
	return engineDefaults(ctx, in, a.svc.DescribeEngineDefaultParameters)
}

func (a *API) describeEngineDefaultClusterParameters(ctx context.Context, in *describeEngineDefaultParametersInput) (engineDefaultsResult, error) {
	return engineDefaults(ctx, in, a.svc.DescribeEngineDefaultClusterParameters)
}

// engineDefaults answers either DescribeEngineDefault… operation with the
// service's list of a family's defaults.
func engineDefaults(ctx context.Context, in *describeEngineDefaultParametersInput,
	list func(context.Context, string, rds.Page) ([]rds.Parameter, string, error)) (engineDefaultsResult, error) {
	if len(in.Filters) > 0 {
		return engineDefaultsResult{}, invalidValue("teal does not filter engine default parameters.")
	}
	params, marker, err := list(ctx, in.DBParameterGroupFamily, rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return engineDefaultsResult{}, err
	}
	return engineDefaultsResult{EngineDefaults: engineDefaultsXML{DBParameterGroupFamily: in.DBParameterGroupFamily,
		Marker: marker, Parameters: parametersOf(params)}}, nil
}
