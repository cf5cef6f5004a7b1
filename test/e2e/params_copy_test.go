package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestParameterGroupCopyAndDefaults copies DB and DB cluster parameter
// groups through the Go SDK, values included, and lists the engine's
// defaults of a family, a page at a time; bad input gets the model's
// faults.
func TestParameterGroupCopyAndDefaults(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	api := startAPI(t, svc).client
	ctx := context.Background()

	if _, err := api.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("tuned"),
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("tuned")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("tuned"),
		Parameters: []types.Parameter{{ParameterName: aws.String("work_mem"), ParameterValue: aws.String("8192"), ApplyMethod: types.ApplyMethodImmediate}}}); err != nil {
		t.Fatal(err)
	}
	cp, err := api.CopyDBParameterGroup(ctx, &awsrds.CopyDBParameterGroupInput{
		SourceDBParameterGroupIdentifier: aws.String("arn:aws:rds:us-east-1:000000000000:pg:tuned"),
		TargetDBParameterGroupIdentifier: aws.String("tuned-copy"), TargetDBParameterGroupDescription: aws.String("a copy")})
	if err != nil || aws.ToString(cp.DBParameterGroup.DBParameterGroupFamily) != "postgres15" {
		t.Fatalf("copy: %v %+v", err, cp)
	}
	user, err := api.DescribeDBParameters(ctx, &awsrds.DescribeDBParametersInput{DBParameterGroupName: aws.String("tuned-copy"), Source: aws.String("user")})
	if err != nil || len(user.Parameters) != 1 || aws.ToString(user.Parameters[0].ParameterValue) != "8192" {
		t.Fatalf("the copy's values: %v %+v", err, user)
	}
	_, err = api.CopyDBParameterGroup(ctx, &awsrds.CopyDBParameterGroupInput{SourceDBParameterGroupIdentifier: aws.String("nope"),
		TargetDBParameterGroupIdentifier: aws.String("c2"), TargetDBParameterGroupDescription: aws.String("x")})
	wantCode(t, "copy a missing group", err, "DBParameterGroupNotFound")
	_, err = api.CopyDBParameterGroup(ctx, &awsrds.CopyDBParameterGroupInput{SourceDBParameterGroupIdentifier: aws.String("tuned"),
		TargetDBParameterGroupIdentifier: aws.String("tuned-copy"), TargetDBParameterGroupDescription: aws.String("x")})
	wantCode(t, "copy onto an existing group", err, "DBParameterGroupAlreadyExists")
	_, err = api.CopyDBParameterGroup(ctx, &awsrds.CopyDBParameterGroupInput{SourceDBParameterGroupIdentifier: aws.String("tuned"),
		TargetDBParameterGroupIdentifier: aws.String("default.mine"), TargetDBParameterGroupDescription: aws.String("x")})
	wantCode(t, "copy to a default name", err, "InvalidParameterValue")
	// A default group copies too: a user group with no values of its own.
	if _, err := api.CopyDBParameterGroup(ctx, &awsrds.CopyDBParameterGroupInput{SourceDBParameterGroupIdentifier: aws.String("default.postgres15"),
		TargetDBParameterGroupIdentifier: aws.String("from-default"), TargetDBParameterGroupDescription: aws.String("x")}); err != nil {
		t.Fatal(err)
	}

	if _, err := api.CopyDBClusterParameterGroup(ctx, &awsrds.CopyDBClusterParameterGroupInput{
		SourceDBClusterParameterGroupIdentifier: aws.String("default.aurora-postgresql15"),
		TargetDBClusterParameterGroupIdentifier: aws.String("cluster-copy"), TargetDBClusterParameterGroupDescription: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = api.CopyDBClusterParameterGroup(ctx, &awsrds.CopyDBClusterParameterGroupInput{
		SourceDBClusterParameterGroupIdentifier: aws.String("tuned"),
		TargetDBClusterParameterGroupIdentifier: aws.String("c3"), TargetDBClusterParameterGroupDescription: aws.String("x")})
	wantCode(t, "copy a DB parameter group as a cluster group", err, "DBParameterGroupNotFound")

	// The defaults of a family, every page.
	var names []string
	p := awsrds.NewDescribeEngineDefaultParametersPaginator(api, &awsrds.DescribeEngineDefaultParametersInput{
		DBParameterGroupFamily: aws.String("postgres15"), MaxRecords: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range page.EngineDefaults.Parameters {
			names = append(names, aws.ToString(q.ParameterName))
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Fatalf("parameter %s listed twice", n)
		}
		seen[n] = true
	}
	if len(names) < 100 || !seen["work_mem"] || !seen["wal_level"] {
		t.Fatalf("%d engine default parameters", len(names))
	}
	cd, err := api.DescribeEngineDefaultClusterParameters(ctx, &awsrds.DescribeEngineDefaultClusterParametersInput{
		DBParameterGroupFamily: aws.String("aurora-postgresql15")})
	if err != nil || len(cd.EngineDefaults.Parameters) == 0 || aws.ToString(cd.EngineDefaults.DBParameterGroupFamily) != "aurora-postgresql15" {
		t.Fatalf("cluster defaults: %v", err)
	}
	_, err = api.DescribeEngineDefaultParameters(ctx, &awsrds.DescribeEngineDefaultParametersInput{DBParameterGroupFamily: aws.String("oracle19")})
	wantCode(t, "defaults of a family not installed", err, "InvalidParameterValue")
	_, err = api.DescribeEngineDefaultClusterParameters(ctx, &awsrds.DescribeEngineDefaultClusterParametersInput{DBParameterGroupFamily: aws.String("postgres15")})
	wantCode(t, "cluster defaults of an instance family", err, "InvalidParameterValue")
}
