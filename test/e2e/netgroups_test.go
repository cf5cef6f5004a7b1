package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestNetworkGroups: DB subnet groups, DB security groups and option
// groups, through aws-sdk-go-v2, as tools that always pass them use them.
// An instance is created in the groups, shows them, moves to others with
// ModifyDBInstance; references to missing or unfitting groups are refused
// with RDS's faults and change nothing; a group in use, or a default one,
// cannot be deleted; the groups and the instance's membership survive a
// restart of teal.
func TestNetworkGroups(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "16")
	api := startAPI(t, svc).client
	ctx := context.Background()
	const arnPrefix = "arn:aws:rds:" + apiRegion + ":" + apiAccount + ":"

	// The defaults exist from the start.
	subs, err := api.DescribeDBSubnetGroups(ctx, &awsrds.DescribeDBSubnetGroupsInput{DBSubnetGroupName: aws.String("default")})
	if err != nil || len(subs.DBSubnetGroups) != 1 || aws.ToString(subs.DBSubnetGroups[0].VpcId) != "vpc-teal" {
		t.Fatalf("default DB subnet group: %+v, %v", subs, err)
	}
	ogs, err := api.DescribeOptionGroups(ctx, &awsrds.DescribeOptionGroupsInput{EngineName: aws.String("postgres"), MajorEngineVersion: aws.String("15")})
	if err != nil || len(ogs.OptionGroupsList) != 1 || aws.ToString(ogs.OptionGroupsList[0].OptionGroupName) != "default:postgres-15" {
		t.Fatalf("default option group of postgres 15: %+v, %v", ogs, err)
	}

	// DB subnet groups.
	created, err := api.CreateDBSubnetGroup(ctx, &awsrds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("app-subnets"),
		DBSubnetGroupDescription: aws.String("the app's subnets"), SubnetIds: []string{"subnet-0a1b2c3d", "subnet-0e5f6a7b"},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}})
	if err != nil {
		t.Fatal(err)
	}
	g := created.DBSubnetGroup
	if aws.ToString(g.DBSubnetGroupArn) != arnPrefix+"subgrp:app-subnets" || aws.ToString(g.SubnetGroupStatus) != "Complete" ||
		len(g.Subnets) != 2 || aws.ToString(g.Subnets[1].SubnetIdentifier) != "subnet-0e5f6a7b" ||
		aws.ToString(g.Subnets[0].SubnetAvailabilityZone.Name) != apiRegion+"a" || aws.ToString(g.Subnets[0].SubnetStatus) != "Active" {
		t.Fatalf("created DB subnet group: %+v", g)
	}
	_, err = api.CreateDBSubnetGroup(ctx, &awsrds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("APP-SUBNETS"),
		DBSubnetGroupDescription: aws.String("again"), SubnetIds: []string{"subnet-1"}})
	wantCode(t, "create an existing DB subnet group", err, "DBSubnetGroupAlreadyExists")
	_, err = api.CreateDBSubnetGroup(ctx, &awsrds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("bad-subnets"),
		DBSubnetGroupDescription: aws.String("bad"), SubnetIds: []string{"subnet-1", "vpc-1"}})
	wantCode(t, "create a DB subnet group of a malformed subnet", err, "InvalidSubnet")
	if _, err := api.CreateDBSubnetGroup(ctx, &awsrds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("other-subnets"),
		DBSubnetGroupDescription: aws.String("other"), SubnetIds: []string{"subnet-1"}}); err != nil {
		t.Fatal(err)
	}

	// Option groups: empty, of an installed engine major version.
	for _, in := range []*awsrds.CreateOptionGroupInput{
		{OptionGroupName: aws.String("pg15-opts"), EngineName: aws.String("postgres"), MajorEngineVersion: aws.String("15"), OptionGroupDescription: aws.String("pg 15")},
		{OptionGroupName: aws.String("pg16-opts"), EngineName: aws.String("postgres"), MajorEngineVersion: aws.String("16"), OptionGroupDescription: aws.String("pg 16")},
	} {
		if _, err := api.CreateOptionGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	_, err = api.CreateOptionGroup(ctx, &awsrds.CreateOptionGroupInput{OptionGroupName: aws.String("pg99"), EngineName: aws.String("postgres"),
		MajorEngineVersion: aws.String("99"), OptionGroupDescription: aws.String("no such version")})
	wantCode(t, "create an option group of a major version not installed", err, "InvalidParameterCombination")
	_, err = api.ModifyOptionGroup(ctx, &awsrds.ModifyOptionGroupInput{OptionGroupName: aws.String("pg15-opts"),
		OptionsToInclude: []types.OptionConfiguration{{OptionName: aws.String("TIMEZONE")}}})
	wantCode(t, "add an option", err, "InvalidParameterValue")
	copied, err := api.CopyOptionGroup(ctx, &awsrds.CopyOptionGroupInput{SourceOptionGroupIdentifier: aws.String(arnPrefix + "og:default:postgres-15"),
		TargetOptionGroupIdentifier: aws.String("pg15-copy"), TargetOptionGroupDescription: aws.String("a copy")})
	if err != nil || aws.ToString(copied.OptionGroup.SourceOptionGroup) != "default:postgres-15" ||
		aws.ToString(copied.OptionGroup.MajorEngineVersion) != "15" || aws.ToString(copied.OptionGroup.OptionGroupArn) != arnPrefix+"og:pg15-copy" {
		t.Fatalf("copy of the default option group: %+v, %v", copied, err)
	}
	opts, err := api.DescribeOptionGroupOptions(ctx, &awsrds.DescribeOptionGroupOptionsInput{EngineName: aws.String("postgres")})
	if err != nil || len(opts.OptionGroupOptions) != 0 {
		t.Fatalf("option group options of postgres: %+v, %v", opts, err)
	}

	// DB security groups: ingress recorded, not enforced.
	if _, err := api.CreateDBSecurityGroup(ctx, &awsrds.CreateDBSecurityGroupInput{DBSecurityGroupName: aws.String("legacy"),
		DBSecurityGroupDescription: aws.String("from before VPCs")}); err != nil {
		t.Fatal(err)
	}
	auth, err := api.AuthorizeDBSecurityGroupIngress(ctx, &awsrds.AuthorizeDBSecurityGroupIngressInput{DBSecurityGroupName: aws.String("legacy"),
		CIDRIP: aws.String("10.0.0.0/8")})
	if err != nil || len(auth.DBSecurityGroup.IPRanges) != 1 || aws.ToString(auth.DBSecurityGroup.IPRanges[0].Status) != "authorized" {
		t.Fatalf("authorize ingress: %+v, %v", auth, err)
	}
	_, err = api.AuthorizeDBSecurityGroupIngress(ctx, &awsrds.AuthorizeDBSecurityGroupIngressInput{DBSecurityGroupName: aws.String("legacy"),
		CIDRIP: aws.String("10.0.0.0/8")})
	wantCode(t, "authorize the same ingress again", err, "AuthorizationAlreadyExists")

	// Bad references create nothing.
	const id = "net-pg"
	create := func(change func(*awsrds.CreateDBInstanceInput)) error {
		in := &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
			EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String(masterUser),
			MasterUserPassword: aws.String(masterPass), DBName: aws.String("app")}
		change(in)
		_, err := api.CreateDBInstance(ctx, in)
		return err
	}
	for _, c := range []struct {
		what   string
		change func(*awsrds.CreateDBInstanceInput)
		code   string
	}{
		{"a missing DB subnet group", func(in *awsrds.CreateDBInstanceInput) { in.DBSubnetGroupName = aws.String("nope") }, "DBSubnetGroupNotFoundFault"},
		{"a missing option group", func(in *awsrds.CreateDBInstanceInput) { in.OptionGroupName = aws.String("nope") }, "OptionGroupNotFoundFault"},
		{"an option group of another version", func(in *awsrds.CreateDBInstanceInput) { in.OptionGroupName = aws.String("pg16-opts") }, "InvalidParameterCombination"},
		{"a malformed VPC security group", func(in *awsrds.CreateDBInstanceInput) { in.VpcSecurityGroupIds = []string{"sg-1", "web"} }, "InvalidParameterValue"},
		{"a missing DB security group", func(in *awsrds.CreateDBInstanceInput) { in.DBSecurityGroups = []string{"legacy", "nope"} }, "DBSecurityGroupNotFound"},
	} {
		wantCode(t, "create an instance with "+c.what, create(c.change), c.code)
	}
	_, err = api.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	wantCode(t, "describe after refused creates", err, "DBInstanceNotFound")

	// An instance in the groups shows them.
	if err := create(func(in *awsrds.CreateDBInstanceInput) {
		in.DBSubnetGroupName = aws.String("App-Subnets")
		in.VpcSecurityGroupIds = []string{"sg-0123456789abcdef0"}
		in.DBSecurityGroups = []string{"legacy"}
		in.OptionGroupName = aws.String("pg15-opts")
	}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id)
	checkGroups := func(what string, api *awsrds.Client, subnetGroup string, subnets int, vpc []string, dbsg []string, og string) {
		t.Helper()
		d := describeAPI(t, api, id)
		var gotVpc, gotDBSG []string
		for _, m := range d.VpcSecurityGroups {
			if aws.ToString(m.Status) != "active" {
				t.Errorf("%s: VPC security group %s is %s", what, aws.ToString(m.VpcSecurityGroupId), aws.ToString(m.Status))
			}
			gotVpc = append(gotVpc, aws.ToString(m.VpcSecurityGroupId))
		}
		for _, m := range d.DBSecurityGroups {
			gotDBSG = append(gotDBSG, aws.ToString(m.DBSecurityGroupName))
		}
		if d.DBSubnetGroup == nil || aws.ToString(d.DBSubnetGroup.DBSubnetGroupName) != subnetGroup ||
			len(d.DBSubnetGroup.Subnets) != subnets || aws.ToString(d.DBSubnetGroup.VpcId) != "vpc-teal" ||
			!slices.Equal(gotVpc, vpc) || !slices.Equal(gotDBSG, dbsg) || len(d.OptionGroupMemberships) != 1 ||
			aws.ToString(d.OptionGroupMemberships[0].OptionGroupName) != og || aws.ToString(d.OptionGroupMemberships[0].Status) != "in-sync" {
			t.Fatalf("%s: subnet group %+v, VPC security groups %v, DB security groups %v, option groups %+v; want %s (%d subnets), %v, %v, %s",
				what, d.DBSubnetGroup, gotVpc, gotDBSG, d.OptionGroupMemberships, subnetGroup, subnets, vpc, dbsg, og)
		}
	}
	checkGroups("created", api, "app-subnets", 2, []string{"sg-0123456789abcdef0"}, []string{"legacy"}, "pg15-opts")

	// Groups in use, and default groups, are not deleted.
	_, err = api.DeleteDBSubnetGroup(ctx, &awsrds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String("app-subnets")})
	wantCode(t, "delete a DB subnet group in use", err, "InvalidDBSubnetGroupStateFault")
	_, err = api.DeleteDBSubnetGroup(ctx, &awsrds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String("default")})
	wantCode(t, "delete the default DB subnet group", err, "InvalidDBSubnetGroupStateFault")
	_, err = api.DeleteOptionGroup(ctx, &awsrds.DeleteOptionGroupInput{OptionGroupName: aws.String("pg15-opts")})
	wantCode(t, "delete an option group in use", err, "InvalidOptionGroupStateFault")
	_, err = api.DeleteOptionGroup(ctx, &awsrds.DeleteOptionGroupInput{OptionGroupName: aws.String("default:postgres-15")})
	wantCode(t, "delete a default option group", err, "InvalidOptionGroupStateFault")
	_, err = api.DeleteDBSecurityGroup(ctx, &awsrds.DeleteDBSecurityGroupInput{DBSecurityGroupName: aws.String("legacy")})
	wantCode(t, "delete a DB security group in use", err, "InvalidDBSecurityGroupState")

	// A refused modification changes nothing; an accepted one moves the
	// instance to other groups, the default option group included.
	modify := func(in *awsrds.ModifyDBInstanceInput) error {
		in.DBInstanceIdentifier, in.ApplyImmediately = aws.String(id), aws.Bool(true)
		_, err := api.ModifyDBInstance(ctx, in)
		return err
	}
	wantCode(t, "modify to an option group of another version", modify(&awsrds.ModifyDBInstanceInput{
		DBSubnetGroupName: aws.String("other-subnets"), OptionGroupName: aws.String("pg16-opts")}), "InvalidParameterCombination")
	wantCode(t, "modify to a missing DB subnet group", modify(&awsrds.ModifyDBInstanceInput{
		DBSubnetGroupName: aws.String("nope"), VpcSecurityGroupIds: []string{"sg-1"}}), "DBSubnetGroupNotFoundFault")
	checkGroups("after refused modifications", api, "app-subnets", 2, []string{"sg-0123456789abcdef0"}, []string{"legacy"}, "pg15-opts")
	if err := modify(&awsrds.ModifyDBInstanceInput{DBSubnetGroupName: aws.String("other-subnets"),
		VpcSecurityGroupIds: []string{"sg-1", "sg-2"}, DBSecurityGroups: []string{}, OptionGroupName: aws.String("default:postgres-15")}); err != nil {
		t.Fatal(err)
	}
	checkGroups("modified", api, "other-subnets", 1, []string{"sg-1", "sg-2"}, nil, "default:postgres-15")

	// The groups it left are free.
	if _, err := api.DeleteDBSubnetGroup(ctx, &awsrds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String("app-subnets")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteOptionGroup(ctx, &awsrds.DeleteOptionGroupInput{OptionGroupName: aws.String("pg15-opts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteDBSecurityGroup(ctx, &awsrds.DeleteDBSecurityGroupInput{DBSecurityGroupName: aws.String("legacy")}); err != nil {
		t.Fatal(err)
	}
	_, err = api.DescribeDBSubnetGroups(ctx, &awsrds.DescribeDBSubnetGroupsInput{DBSubnetGroupName: aws.String("app-subnets")})
	wantCode(t, "describe a deleted DB subnet group", err, "DBSubnetGroupNotFoundFault")

	// Tags by ARN, a default option group's included.
	defaultOG := arnPrefix + "og:default:postgres-15"
	if _, err := api.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{ResourceName: aws.String(defaultOG),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}}); err != nil {
		t.Fatal(err)
	}

	// Everything is where it was after a restart of teal.
	svc.Close()
	api = startAPI(t, openService(t, dir)).client
	checkGroups("after a restart", api, "other-subnets", 1, []string{"sg-1", "sg-2"}, nil, "default:postgres-15")
	tags, err := api.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String(defaultOG)})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "env" {
		t.Fatalf("tags of %s after a restart: %+v, %v", defaultOG, tags, err)
	}
	ogs, err = api.DescribeOptionGroups(ctx, &awsrds.DescribeOptionGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, og := range ogs.OptionGroupsList {
		names = append(names, aws.ToString(og.OptionGroupName))
	}
	if !slices.Contains(names, "default:postgres-15") || !slices.Contains(names, "pg15-copy") ||
		!slices.Contains(names, "pg16-opts") || slices.Contains(names, "pg15-opts") {
		t.Errorf("option groups after a restart: %v", names)
	}
	subs, err = api.DescribeDBSubnetGroups(ctx, &awsrds.DescribeDBSubnetGroupsInput{})
	if err != nil || len(subs.DBSubnetGroups) != 2 || aws.ToString(subs.DBSubnetGroups[1].DBSubnetGroupName) != "other-subnets" {
		t.Errorf("DB subnet groups after a restart: %+v, %v", subs, err)
	}
}
