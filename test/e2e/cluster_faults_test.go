package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestClusterFaults sends bad input to every DB cluster operation through
// the Go SDK: each gets the model's fault, and nothing changes.
func TestClusterFaults(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15", "17")
	rig := startAPI(t, svc)
	api := rig.client
	ctx := context.Background()

	create := func(id string, mut func(*awsrds.CreateDBClusterInput)) error {
		in := &awsrds.CreateDBClusterInput{DBClusterIdentifier: aws.String(id), Engine: aws.String("aurora-postgresql"),
			EngineVersion: aws.String("15"), MasterUsername: aws.String(masterUser), MasterUserPassword: aws.String(masterPass)}
		if mut != nil {
			mut(in)
		}
		_, err := api.CreateDBCluster(ctx, in)
		return err
	}
	if err := create("kept", func(in *awsrds.CreateDBClusterInput) { in.DeletionProtection = aws.Bool(true) }); err != nil {
		t.Fatalf("create a cluster: %v", err)
	}
	if _, err := api.CreateDBClusterParameterGroup(ctx, &awsrds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("g15"), DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateDBClusterParameterGroup(ctx, &awsrds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String("g17"), DBParameterGroupFamily: aws.String("aurora-postgresql17"), Description: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("kept"),
		DBClusterParameterGroupName: aws.String("g15")}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		what string
		code string
		call func() error
	}{
		{"aurora-mysql", "InvalidParameterValue", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.Engine = aws.String("aurora-mysql") })
		}},
		{"an instance engine", "InvalidParameterValue", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.Engine = aws.String("postgres") })
		}},
		{"a bad identifier", "InvalidParameterValue", func() error { return create("1-bad--id", nil) }},
		{"a version not installed", "InvalidParameterCombination", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.EngineVersion = aws.String("9") })
		}},
		{"a short password", "InvalidParameterValue", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.MasterUserPassword = aws.String("short") })
		}},
		{"a reserved user", "InvalidParameterValue", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.MasterUsername = aws.String("rdsadmin") })
		}},
		{"a missing cluster group", "DBClusterParameterGroupNotFound", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.DBClusterParameterGroupName = aws.String("nope") })
		}},
		{"a cluster group of another family", "InvalidParameterCombination", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.DBClusterParameterGroupName = aws.String("g17") })
		}},
		{"no backups", "InvalidParameterValue", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.BackupRetentionPeriod = aws.Int32(0) })
		}},
		{"a managed password", "InvalidParameterValue", func() error {
			return create("c1", func(in *awsrds.CreateDBClusterInput) { in.ManageMasterUserPassword = aws.Bool(true) })
		}},
		{"a duplicate", "DBClusterAlreadyExistsFault", func() error { return create("KEPT", nil) }},
		{"describe a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("nope")})
			return err
		}},
		{"describe with a bad filter", "InvalidParameterValue", func() error {
			_, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{Filters: []types.Filter{{Name: aws.String("color"), Values: []string{"x"}}}})
			return err
		}},
		{"describe a page of 5", "InvalidParameterValue", func() error {
			_, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{MaxRecords: aws.Int32(5)})
			return err
		}},
		{"modify a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("nope"), DeletionProtection: aws.Bool(false)})
			return err
		}},
		{"a group of another family", "InvalidParameterCombination", func() error {
			_, err := api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("kept"), DBClusterParameterGroupName: aws.String("g17")})
			return err
		}},
		{"a password without a writer", "InvalidDBClusterStateFault", func() error {
			_, err := api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("kept"), MasterUserPassword: aws.String("another-pass-1")})
			return err
		}},
		{"a new port", "InvalidParameterValue", func() error {
			_, err := api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("kept"), Port: aws.Int32(7000)})
			return err
		}},
		{"delete a protected cluster", "InvalidDBClusterStateFault", func() error {
			_, err := api.DeleteDBCluster(ctx, &awsrds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("kept"), SkipFinalSnapshot: aws.Bool(true)})
			return err
		}},
		{"delete a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.DeleteDBCluster(ctx, &awsrds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("nope"), SkipFinalSnapshot: aws.Bool(true)})
			return err
		}},
		{"fail over a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.FailoverDBCluster(ctx, &awsrds.FailoverDBClusterInput{DBClusterIdentifier: aws.String("nope")})
			return err
		}},
		{"fail over a cluster without a writer", "InvalidDBClusterStateFault", func() error {
			_, err := api.FailoverDBCluster(ctx, &awsrds.FailoverDBClusterInput{DBClusterIdentifier: aws.String("kept")})
			return err
		}},
		{"an instance in a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("m1"), DBClusterIdentifier: aws.String("nope"),
				Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large")})
			return err
		}},
		{"an instance of another engine in a cluster", "InvalidParameterCombination", func() error {
			_, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("m1"), DBClusterIdentifier: aws.String("kept"),
				Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.r6g.large")})
			return err
		}},
		{"a member with its own master user", "InvalidParameterCombination", func() error {
			_, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("m1"), DBClusterIdentifier: aws.String("kept"),
				Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large"), MasterUsername: aws.String("x"), MasterUserPassword: aws.String(masterPass)})
			return err
		}},
		{"an aurora instance outside a cluster", "InvalidParameterCombination", func() error {
			_, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("m1"),
				Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large"), MasterUsername: aws.String("x"), MasterUserPassword: aws.String(masterPass)})
			return err
		}},
		{"a custom endpoint of a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{DBClusterIdentifier: aws.String("nope"),
				DBClusterEndpointIdentifier: aws.String("e1"), EndpointType: aws.String("ANY")})
			return err
		}},
		{"a custom WRITER endpoint", "InvalidParameterValue", func() error {
			_, err := api.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{DBClusterIdentifier: aws.String("kept"),
				DBClusterEndpointIdentifier: aws.String("e1"), EndpointType: aws.String("WRITER")})
			return err
		}},
		{"static and excluded members", "InvalidParameterCombination", func() error {
			_, err := api.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{DBClusterIdentifier: aws.String("kept"),
				DBClusterEndpointIdentifier: aws.String("e1"), EndpointType: aws.String("ANY"), StaticMembers: []string{"a"}, ExcludedMembers: []string{"b"}})
			return err
		}},
		{"a missing member", "DBInstanceNotFound", func() error {
			_, err := api.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{DBClusterIdentifier: aws.String("kept"),
				DBClusterEndpointIdentifier: aws.String("e1"), EndpointType: aws.String("ANY"), StaticMembers: []string{"nobody"}})
			return err
		}},
		{"a custom endpoint named like a path", "InvalidParameterValue", func() error {
			_, err := api.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{DBClusterIdentifier: aws.String("kept"),
				DBClusterEndpointIdentifier: aws.String("../cluster:kept"), EndpointType: aws.String("ANY")})
			return err
		}},
		{"a member given as an ARN of another account", "DBInstanceNotFound", func() error {
			_, err := api.CreateDBClusterEndpoint(ctx, &awsrds.CreateDBClusterEndpointInput{DBClusterIdentifier: aws.String("kept"),
				DBClusterEndpointIdentifier: aws.String("e2"), EndpointType: aws.String("ANY"),
				StaticMembers: []string{"arn:aws:rds:us-east-1:999999999999:db:kept-1"}})
			return err
		}},
		{"a cluster named with a quote", "InvalidParameterValue", func() error { return create("o'brien", nil) }},
		{"modify a missing endpoint", "DBClusterEndpointNotFoundFault", func() error {
			_, err := api.ModifyDBClusterEndpoint(ctx, &awsrds.ModifyDBClusterEndpointInput{DBClusterEndpointIdentifier: aws.String("nope"), EndpointType: aws.String("ANY")})
			return err
		}},
		{"delete a missing endpoint", "DBClusterEndpointNotFoundFault", func() error {
			_, err := api.DeleteDBClusterEndpoint(ctx, &awsrds.DeleteDBClusterEndpointInput{DBClusterEndpointIdentifier: aws.String("nope")})
			return err
		}},
		{"endpoints of a missing cluster", "DBClusterNotFoundFault", func() error {
			_, err := api.DescribeDBClusterEndpoints(ctx, &awsrds.DescribeDBClusterEndpointsInput{DBClusterIdentifier: aws.String("nope")})
			return err
		}},
		{"a cluster group of an instance family", "InvalidParameterValue", func() error {
			_, err := api.CreateDBClusterParameterGroup(ctx, &awsrds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("g2"),
				DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("g")})
			return err
		}},
		{"a duplicate cluster group", "DBParameterGroupAlreadyExists", func() error {
			_, err := api.CreateDBClusterParameterGroup(ctx, &awsrds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("g15"),
				DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("g")})
			return err
		}},
		{"modify a default cluster group", "InvalidParameterValue", func() error {
			_, err := api.ModifyDBClusterParameterGroup(ctx, &awsrds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("default.aurora-postgresql15"),
				Parameters: []types.Parameter{{ParameterName: aws.String("work_mem"), ParameterValue: aws.String("8192"), ApplyMethod: types.ApplyMethodImmediate}}})
			return err
		}},
		{"an unknown parameter", "InvalidParameterValue", func() error {
			_, err := api.ModifyDBClusterParameterGroup(ctx, &awsrds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("g15"),
				Parameters: []types.Parameter{{ParameterName: aws.String("no_such_thing"), ParameterValue: aws.String("1"), ApplyMethod: types.ApplyMethodImmediate}}})
			return err
		}},
		{"a bad value", "InvalidParameterValue", func() error {
			_, err := api.ModifyDBClusterParameterGroup(ctx, &awsrds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("g15"),
				Parameters: []types.Parameter{{ParameterName: aws.String("work_mem"), ParameterValue: aws.String("lots; DROP"), ApplyMethod: types.ApplyMethodImmediate}}})
			return err
		}},
		{"delete a group in use", "InvalidDBParameterGroupState", func() error {
			_, err := api.DeleteDBClusterParameterGroup(ctx, &awsrds.DeleteDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("g15")})
			return err
		}},
		{"delete a default group", "InvalidDBParameterGroupState", func() error {
			_, err := api.DeleteDBClusterParameterGroup(ctx, &awsrds.DeleteDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("default.aurora-postgresql15")})
			return err
		}},
		{"reset nothing", "InvalidParameterCombination", func() error {
			_, err := api.ResetDBClusterParameterGroup(ctx, &awsrds.ResetDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("g15")})
			return err
		}},
		{"reset a missing group", "DBParameterGroupNotFound", func() error {
			_, err := api.ResetDBClusterParameterGroup(ctx, &awsrds.ResetDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("nope"),
				ResetAllParameters: aws.Bool(true)})
			return err
		}},
		{"a custom endpoint of a bad type", "InvalidParameterValue", func() error {
			_, err := api.ModifyDBClusterEndpoint(ctx, &awsrds.ModifyDBClusterEndpointInput{DBClusterEndpointIdentifier: aws.String("nope"), EndpointType: aws.String("WRITER")})
			return err
		}},
		{"parameters of a missing group", "DBParameterGroupNotFound", func() error {
			_, err := api.DescribeDBClusterParameters(ctx, &awsrds.DescribeDBClusterParametersInput{DBClusterParameterGroupName: aws.String("nope")})
			return err
		}},
		{"a deployment of a cluster without a writer", "InvalidDBClusterStateFault", func() error {
			_, err := api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{BlueGreenDeploymentName: aws.String("d1"),
				Source: aws.String("arn:aws:rds:us-east-1:000000000000:cluster:kept")})
			return err
		}},
		{"a cluster group for an instance's deployment", "InvalidParameterCombination", func() error {
			_, err := api.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{BlueGreenDeploymentName: aws.String("d1"),
				Source: aws.String("arn:aws:rds:us-east-1:000000000000:db:nope"), TargetDBClusterParameterGroupName: aws.String("g15")})
			return err
		}},
	}
	for _, c := range cases {
		wantCode(t, c.what, c.call(), c.code)
	}

	// Nothing changed: one cluster, unchanged, and the groups as made.
	out, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.DBClusters) != 1 {
		t.Fatalf("%d clusters after refused requests", len(out.DBClusters))
	}
	kept := out.DBClusters[0]
	if aws.ToString(kept.DBClusterIdentifier) != "kept" || aws.ToString(kept.DBClusterParameterGroup) != "g15" ||
		!aws.ToBool(kept.DeletionProtection) || len(kept.DBClusterMembers) != 0 || len(kept.CustomEndpoints) != 0 {
		t.Fatalf("the cluster changed: %+v", kept)
	}
	params, err := api.DescribeDBClusterParameters(ctx, &awsrds.DescribeDBClusterParametersInput{
		DBClusterParameterGroupName: aws.String("g15"), Source: aws.String("user")})
	if err != nil {
		t.Fatal(err)
	}
	if len(params.Parameters) != 0 {
		t.Fatalf("refused changes left parameters in g15: %+v", params.Parameters)
	}
	insts, err := api.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(insts.DBInstances) != 0 {
		t.Fatalf("refused requests created %d instances", len(insts.DBInstances))
	}

	// Paging: 21 clusters, 20 to a page.
	for i := range 20 {
		if err := create(fmt.Sprintf("page-%02d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	first, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{MaxRecords: aws.Int32(20)})
	if err != nil || len(first.DBClusters) != 20 || first.Marker == nil {
		t.Fatalf("first page: %v, %d clusters, marker %v", err, len(first.DBClusters), first.Marker)
	}
	second, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{MaxRecords: aws.Int32(20), Marker: first.Marker})
	if err != nil || len(second.DBClusters) != 1 || second.Marker != nil || aws.ToString(second.DBClusters[0].DBClusterIdentifier) != "page-19" {
		t.Fatalf("second page: %v %+v", err, second)
	}
	for i := range 20 {
		if _, err := api.DeleteDBCluster(ctx, &awsrds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(fmt.Sprintf("page-%02d", i)),
			SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}

	// Tags on a cluster and on a cluster parameter group.
	for _, arn := range []string{aws.ToString(kept.DBClusterArn), "arn:aws:rds:us-east-1:000000000000:cluster-pg:g15"} {
		if _, err := api.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{ResourceName: aws.String(arn),
			Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("orders")}}}); err != nil {
			t.Fatalf("tag %s: %v", arn, err)
		}
		tags, err := api.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String(arn)})
		if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "orders" {
			t.Fatalf("tags of %s: %v %+v", arn, err, tags)
		}
		if _, err := api.RemoveTagsFromResource(ctx, &awsrds.RemoveTagsFromResourceInput{ResourceName: aws.String(arn), TagKeys: []string{"team"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = api.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String("arn:aws:rds:us-east-1:000000000000:cluster:nope")})
	wantCode(t, "tags of a missing cluster", err, "DBClusterNotFoundFault")

	// The Aurora edition's permissions: a key that may do everything but
	// create DB clusters cannot create a cluster's deployment, and one
	// that may not delete DB clusters cannot delete one.
	noCluster := rig.keyFor(t, `{"Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
		{"Effect":"Deny","Action":["rds:CreateDBCluster","rds:DeleteDBCluster"],"Resource":"*"}]}`)
	_, err = noCluster.CreateBlueGreenDeployment(ctx, &awsrds.CreateBlueGreenDeploymentInput{BlueGreenDeploymentName: aws.String("d2"),
		Source: kept.DBClusterArn})
	wantCode(t, "a cluster's deployment without rds:CreateDBCluster", err, "AccessDenied")
	_, err = noCluster.DeleteDBCluster(ctx, &awsrds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("kept"), SkipFinalSnapshot: aws.Bool(true)})
	wantCode(t, "delete a cluster without rds:DeleteDBCluster", err, "AccessDenied")
	if _, err := noCluster.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("kept")}); err != nil {
		t.Fatalf("describe with rds:*: %v", err)
	}

	// And what is allowed works: rename, then delete once unprotected.
	if _, err := api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("kept"),
		NewDBClusterIdentifier: aws.String("renamed"), DeletionProtection: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteDBCluster(ctx, &awsrds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("renamed"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "describe the deleted cluster", func() error {
		_, err := api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("renamed")})
		return err
	}(), "DBClusterNotFoundFault")
}
