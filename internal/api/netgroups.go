package api

import (
	"context"

	"github.com/tealdb/teal/internal/rds"
)

// The DB subnet group, DB security group and option group operations.
// teal keeps these groups as metadata (internal/rds/netgroups.go): they
// decide nothing about who reaches an instance.

type subnetAvailabilityZoneXML struct {
	Name string
}

type subnetXML struct {
	SubnetIdentifier       string
	SubnetAvailabilityZone subnetAvailabilityZoneXML
	SubnetStatus           string
}

type dbSubnetGroupXML struct {
	DBSubnetGroupName        string
	DBSubnetGroupDescription string
	VpcId                    string
	SubnetGroupStatus        string
	Subnets                  list[subnetXML]
	DBSubnetGroupArn         string `xml:",omitempty"`
	SupportedNetworkTypes    list[string]
}

func dbSubnetGroupOf(g *rds.DBSubnetGroup) dbSubnetGroupXML {
	subnets := make([]subnetXML, len(g.Subnets))
	for i, s := range g.Subnets {
		subnets[i] = subnetXML{SubnetIdentifier: s.SubnetIdentifier,
			SubnetAvailabilityZone: subnetAvailabilityZoneXML{Name: s.SubnetAvailabilityZone}, SubnetStatus: s.SubnetStatus}
	}
	return dbSubnetGroupXML{
		DBSubnetGroupName:        g.DBSubnetGroupName,
		DBSubnetGroupDescription: g.DBSubnetGroupDescription,
		VpcId:                    g.VpcId,
		SubnetGroupStatus:        g.SubnetGroupStatus,
		Subnets:                  listOf("Subnet", subnets),
		DBSubnetGroupArn:         g.DBSubnetGroupArn,
		SupportedNetworkTypes:    listOf("member", g.SupportedNetworkTypes),
	}
}

type dbSubnetGroupResult struct {
	DBSubnetGroup dbSubnetGroupXML
}

func subnetGroupResult(g *rds.DBSubnetGroup, err error) (dbSubnetGroupResult, error) {
	if err != nil {
		return dbSubnetGroupResult{}, err
	}
	return dbSubnetGroupResult{DBSubnetGroup: dbSubnetGroupOf(g)}, nil
}

type createDBSubnetGroupInput struct {
	DBSubnetGroupName        string     `query:",required,name=subgrp"`
	DBSubnetGroupDescription string     `query:",required"`
	SubnetIds                []string   `query:"SubnetIds.SubnetIdentifier,required"`
	Tags                     []tagInput `query:"Tags.Tag"`
}

func (a *API) createDBSubnetGroup(ctx context.Context, in *createDBSubnetGroupInput) (dbSubnetGroupResult, error) {
	return subnetGroupResult(a.svc.CreateDBSubnetGroup(ctx, in.DBSubnetGroupName, in.DBSubnetGroupDescription, in.SubnetIds, tagsOf(in.Tags)))
}

type modifyDBSubnetGroupInput struct {
	DBSubnetGroupName        string `query:",required,id=subgrp"`
	DBSubnetGroupDescription string
	SubnetIds                []string `query:"SubnetIds.SubnetIdentifier,required"`
}

func (a *API) modifyDBSubnetGroup(ctx context.Context, in *modifyDBSubnetGroupInput) (dbSubnetGroupResult, error) {
	return subnetGroupResult(a.svc.ModifyDBSubnetGroup(ctx, in.DBSubnetGroupName, in.DBSubnetGroupDescription, in.SubnetIds))
}

type describeDBSubnetGroupsInput struct {
	DBSubnetGroupName string `query:",id=subgrp"`
	MaxRecords        int
	Marker            string
	// No filter is implemented; ignoring one would answer with more
	// groups than were asked for.
	Filters []filterInput `query:"Filters.Filter,unsupported"`
}

type describeDBSubnetGroupsResult struct {
	Marker         string `xml:",omitempty"`
	DBSubnetGroups list[dbSubnetGroupXML]
}

func (a *API) describeDBSubnetGroups(ctx context.Context, in *describeDBSubnetGroupsInput) (describeDBSubnetGroupsResult, error) {
	groups, marker, err := a.svc.DescribeDBSubnetGroups(ctx, in.DBSubnetGroupName, rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBSubnetGroupsResult{}, err
	}
	out := make([]dbSubnetGroupXML, len(groups))
	for i := range groups {
		out[i] = dbSubnetGroupOf(&groups[i])
	}
	return describeDBSubnetGroupsResult{Marker: marker, DBSubnetGroups: listOf("DBSubnetGroup", out)}, nil
}

type subnetGroupNameInput struct {
	DBSubnetGroupName string `query:",required,id=subgrp"`
}

func (a *API) deleteDBSubnetGroup(ctx context.Context, in *subnetGroupNameInput) (noResult, error) {
	return noResult{}, a.svc.DeleteDBSubnetGroup(ctx, in.DBSubnetGroupName)
}

type ec2SecurityGroupXML struct {
	Status                  string
	EC2SecurityGroupName    string `xml:",omitempty"`
	EC2SecurityGroupId      string `xml:",omitempty"`
	EC2SecurityGroupOwnerId string
}

type ipRangeXML struct {
	Status string
	CIDRIP string
}

type dbSecurityGroupXML struct {
	OwnerId                    string
	DBSecurityGroupName        string
	DBSecurityGroupDescription string
	EC2SecurityGroups          list[ec2SecurityGroupXML]
	IPRanges                   list[ipRangeXML]
	DBSecurityGroupArn         string
}

func dbSecurityGroupOf(g *rds.DBSecurityGroup) dbSecurityGroupXML {
	ec2 := make([]ec2SecurityGroupXML, len(g.EC2SecurityGroups))
	for i, e := range g.EC2SecurityGroups {
		ec2[i] = ec2SecurityGroupXML(e)
	}
	ips := make([]ipRangeXML, len(g.IPRanges))
	for i, r := range g.IPRanges {
		ips[i] = ipRangeXML(r)
	}
	return dbSecurityGroupXML{
		OwnerId:                    g.OwnerId,
		DBSecurityGroupName:        g.DBSecurityGroupName,
		DBSecurityGroupDescription: g.DBSecurityGroupDescription,
		EC2SecurityGroups:          listOf("EC2SecurityGroup", ec2),
		IPRanges:                   listOf("IPRange", ips),
		DBSecurityGroupArn:         g.DBSecurityGroupArn,
	}
}

type dbSecurityGroupResult struct {
	DBSecurityGroup dbSecurityGroupXML
}

func securityGroupResult(g *rds.DBSecurityGroup, err error) (dbSecurityGroupResult, error) {
	if err != nil {
		return dbSecurityGroupResult{}, err
	}
	return dbSecurityGroupResult{DBSecurityGroup: dbSecurityGroupOf(g)}, nil
}

type createDBSecurityGroupInput struct {
	DBSecurityGroupName        string     `query:",required,name=secgrp"`
	DBSecurityGroupDescription string     `query:",required"`
	Tags                       []tagInput `query:"Tags.Tag"`
}

func (a *API) createDBSecurityGroup(ctx context.Context, in *createDBSecurityGroupInput) (dbSecurityGroupResult, error) {
	return securityGroupResult(a.svc.CreateDBSecurityGroup(ctx, in.DBSecurityGroupName, in.DBSecurityGroupDescription, tagsOf(in.Tags)))
}

type describeDBSecurityGroupsInput struct {
	DBSecurityGroupName string `query:",id=secgrp"`
	MaxRecords          int
	Marker              string
	Filters             []filterInput `query:"Filters.Filter,unsupported"`
}

type describeDBSecurityGroupsResult struct {
	Marker           string `xml:",omitempty"`
	DBSecurityGroups list[dbSecurityGroupXML]
}

func (a *API) describeDBSecurityGroups(ctx context.Context, in *describeDBSecurityGroupsInput) (describeDBSecurityGroupsResult, error) {
	groups, marker, err := a.svc.DescribeDBSecurityGroups(ctx, in.DBSecurityGroupName, rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	if err != nil {
		return describeDBSecurityGroupsResult{}, err
	}
	out := make([]dbSecurityGroupXML, len(groups))
	for i := range groups {
		out[i] = dbSecurityGroupOf(&groups[i])
	}
	return describeDBSecurityGroupsResult{Marker: marker, DBSecurityGroups: listOf("DBSecurityGroup", out)}, nil
}

type securityGroupNameInput struct {
	DBSecurityGroupName string `query:",required,id=secgrp"`
}

func (a *API) deleteDBSecurityGroup(ctx context.Context, in *securityGroupNameInput) (noResult, error) {
	return noResult{}, a.svc.DeleteDBSecurityGroup(ctx, in.DBSecurityGroupName)
}

// securityGroupIngressInput is the input of AuthorizeDBSecurityGroupIngress
// and RevokeDBSecurityGroupIngress.
type securityGroupIngressInput struct {
	DBSecurityGroupName     string `query:",required,id=secgrp"`
	CIDRIP                  string
	EC2SecurityGroupName    string
	EC2SecurityGroupId      string
	EC2SecurityGroupOwnerId string
}

func (in *securityGroupIngressInput) ingress() rds.SecurityGroupIngress {
	return rds.SecurityGroupIngress(*in)
}

func (a *API) authorizeDBSecurityGroupIngress(ctx context.Context, in *securityGroupIngressInput) (dbSecurityGroupResult, error) {
	return securityGroupResult(a.svc.AuthorizeDBSecurityGroupIngress(ctx, in.ingress()))
}

func (a *API) revokeDBSecurityGroupIngress(ctx context.Context, in *securityGroupIngressInput) (dbSecurityGroupResult, error) {
	return securityGroupResult(a.svc.RevokeDBSecurityGroupIngress(ctx, in.ingress()))
}

type optionGroupXML struct {
	OptionGroupName                       string
	OptionGroupDescription                string
	EngineName                            string
	MajorEngineVersion                    string
	Options                               list[struct{}] // teal offers no options
	AllowsVpcAndNonVpcInstanceMemberships bool
	OptionGroupArn                        string
	SourceOptionGroup                     string `xml:",omitempty"`
	SourceAccountId                       string `xml:",omitempty"`
	CopyTimestamp                         string `xml:",omitempty"`
}

func optionGroupOf(g *rds.OptionGroup) optionGroupXML {
	return optionGroupXML{
		OptionGroupName:                       g.OptionGroupName,
		OptionGroupDescription:                g.OptionGroupDescription,
		EngineName:                            g.EngineName,
		MajorEngineVersion:                    g.MajorEngineVersion,
		Options:                               listOf[struct{}]("Option", nil),
		AllowsVpcAndNonVpcInstanceMemberships: g.AllowsVpcAndNonVpcInstanceMemberships,
		OptionGroupArn:                        g.OptionGroupArn,
		SourceOptionGroup:                     g.SourceOptionGroup,
		SourceAccountId:                       g.SourceAccountId,
		CopyTimestamp:                         isoTime(g.CopyTimestamp),
	}
}

type optionGroupResult struct {
	OptionGroup optionGroupXML
}

func optionGroupResultOf(g *rds.OptionGroup, err error) (optionGroupResult, error) {
	if err != nil {
		return optionGroupResult{}, err
	}
	return optionGroupResult{OptionGroup: optionGroupOf(g)}, nil
}

type createOptionGroupInput struct {
	OptionGroupName        string     `query:",required,name=og"`
	EngineName             string     `query:",required"`
	MajorEngineVersion     string     `query:",required"`
	OptionGroupDescription string     `query:",required"`
	Tags                   []tagInput `query:"Tags.Tag"`
}

func (a *API) createOptionGroup(ctx context.Context, in *createOptionGroupInput) (optionGroupResult, error) {
	return optionGroupResultOf(a.svc.CreateOptionGroup(ctx, rds.CreateOptionGroupInput{
		OptionGroupName:        in.OptionGroupName,
		EngineName:             in.EngineName,
		MajorEngineVersion:     in.MajorEngineVersion,
		OptionGroupDescription: in.OptionGroupDescription,
		Tags:                   tagsOf(in.Tags),
	}))
}

type copyOptionGroupInput struct {
	SourceOptionGroupIdentifier  string     `query:",required,id=og"`
	TargetOptionGroupIdentifier  string     `query:",required,name=og"`
	TargetOptionGroupDescription string     `query:",required"`
	Tags                         []tagInput `query:"Tags.Tag"`
}

func (a *API) copyOptionGroup(ctx context.Context, in *copyOptionGroupInput) (optionGroupResult, error) {
	return optionGroupResultOf(a.svc.CopyOptionGroup(ctx, in.SourceOptionGroupIdentifier, in.TargetOptionGroupIdentifier,
		in.TargetOptionGroupDescription, tagsOf(in.Tags)))
}

// optionConfigurationInput is an OptionConfiguration of ModifyOptionGroup;
// teal has no options, so only its name matters, for the refusal.
type optionConfigurationInput struct {
	OptionName string
}

type modifyOptionGroupInput struct {
	OptionGroupName  string                     `query:",required,id=og"`
	OptionsToInclude []optionConfigurationInput `query:"OptionsToInclude.OptionConfiguration"`
	OptionsToRemove  []string                   `query:"OptionsToRemove.member"`
	ApplyImmediately bool
}

func (a *API) modifyOptionGroup(ctx context.Context, in *modifyOptionGroupInput) (optionGroupResult, error) {
	include := make([]string, len(in.OptionsToInclude))
	for i, o := range in.OptionsToInclude {
		include[i] = o.OptionName
	}
	return optionGroupResultOf(a.svc.ModifyOptionGroup(ctx, in.OptionGroupName, include, in.OptionsToRemove))
}

type describeOptionGroupsInput struct {
	OptionGroupName    string `query:",id=og"`
	EngineName         string
	MajorEngineVersion string
	MaxRecords         int
	Marker             string
	Filters            []filterInput `query:"Filters.Filter,unsupported"`
}

type describeOptionGroupsResult struct {
	OptionGroupsList list[optionGroupXML]
	Marker           string `xml:",omitempty"`
}

func (a *API) describeOptionGroups(ctx context.Context, in *describeOptionGroupsInput) (describeOptionGroupsResult, error) {
	groups, marker, err := a.svc.DescribeOptionGroups(ctx, rds.DescribeOptionGroupsInput{
		OptionGroupName:    in.OptionGroupName,
		EngineName:         in.EngineName,
		MajorEngineVersion: in.MajorEngineVersion,
		Page:               rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords},
	})
	if err != nil {
		return describeOptionGroupsResult{}, err
	}
	out := make([]optionGroupXML, len(groups))
	for i := range groups {
		out[i] = optionGroupOf(&groups[i])
	}
	return describeOptionGroupsResult{OptionGroupsList: listOf("OptionGroup", out), Marker: marker}, nil
}

type optionGroupNameInput struct {
	OptionGroupName string `query:",required,id=og"`
}

func (a *API) deleteOptionGroup(ctx context.Context, in *optionGroupNameInput) (noResult, error) {
	return noResult{}, a.svc.DeleteOptionGroup(ctx, in.OptionGroupName)
}

type describeOptionGroupOptionsInput struct {
	EngineName         string `query:",required"`
	MajorEngineVersion string
	MaxRecords         int
	Marker             string
	Filters            []filterInput `query:"Filters.Filter,unsupported"`
}

type describeOptionGroupOptionsResult struct {
	OptionGroupOptions list[struct{}] // none: teal offers no options
}

func (a *API) describeOptionGroupOptions(ctx context.Context, in *describeOptionGroupOptionsInput) (describeOptionGroupOptionsResult, error) {
	err := a.svc.DescribeOptionGroupOptions(ctx, in.EngineName, in.MajorEngineVersion, rds.Page{Marker: in.Marker, MaxRecords: in.MaxRecords})
	return describeOptionGroupOptionsResult{OptionGroupOptions: listOf[struct{}]("OptionGroupOption", nil)}, err
}

// The groups of an instance, as DescribeDBInstances shows them.

type vpcSecurityGroupMembershipXML struct {
	VpcSecurityGroupId string
	Status             string
}

type dbSecurityGroupMembershipXML struct {
	DBSecurityGroupName string
	Status              string
}

type optionGroupMembershipXML struct {
	OptionGroupName string
	Status          string
}

// instanceGroupsXML fills the group members of an instance's answer.
func instanceGroupsXML(d *rds.DBInstance, x *dbInstanceXML) {
	vpc := make([]vpcSecurityGroupMembershipXML, len(d.VpcSecurityGroups))
	for i, m := range d.VpcSecurityGroups {
		vpc[i] = vpcSecurityGroupMembershipXML(m)
	}
	x.VpcSecurityGroups = listOf("VpcSecurityGroupMembership", vpc)
	sec := make([]dbSecurityGroupMembershipXML, len(d.DBSecurityGroups))
	for i, m := range d.DBSecurityGroups {
		sec[i] = dbSecurityGroupMembershipXML(m)
	}
	x.DBSecurityGroups = listOf("DBSecurityGroup", sec)
	og := make([]optionGroupMembershipXML, len(d.OptionGroupMemberships))
	for i, m := range d.OptionGroupMemberships {
		og[i] = optionGroupMembershipXML(m)
	}
	x.OptionGroupMemberships = listOf("OptionGroupMembership", og)
	if d.DBSubnetGroup != nil {
		g := dbSubnetGroupOf(d.DBSubnetGroup)
		x.DBSubnetGroup = &g
	}
}

// withNetGroups adds the groups a request names to the resources of its
// own action, as IAM lists og, secgrp and subgrp as resources of
// CreateDBInstance, ModifyDBInstance and the restores. VPC security groups
// are EC2's: no RDS resource.
func (acc access) withNetGroups(a *API, subnetGroup, optionGroup string, securityGroups []string) access {
	if subnetGroup != "" {
		acc[0].resources = append(acc[0].resources, a.arn(rds.TypeSubnetGroup, subnetGroup))
	}
	if optionGroup != "" {
		acc[0].resources = append(acc[0].resources, a.arn(rds.TypeOptionGroup, optionGroup))
	}
	for _, g := range securityGroups {
		if g != "" {
			acc[0].resources = append(acc[0].resources, a.arn(rds.TypeSecurityGroup, g))
		}
	}
	return acc
}
