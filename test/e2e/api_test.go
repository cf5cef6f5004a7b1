package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// The tests in this file drive teal through aws-sdk-go-v2, unmodified, as a
// user's automation would: every RDS operation teal implements, the SDK's
// waiters and paginators, and the error codes the SDK hands back.

func tagMap(tags []types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// TestAPIInstances covers an instance's life through the API: create with a
// parameter group and tags, describe, tags, a read replica and its
// promotion, rename, reboot, deletion protection and delete, with the
// refusals along the way.
func TestAPIInstances(t *testing.T) {
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	r := startAPI(t, svc)
	c := r.client
	ctx := ctxFor(t, 5*time.Minute)

	if _, err := c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("api-pg15"),
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("for the API test")}); err != nil {
		t.Fatal(err)
	}
	create := func(id string, mod func(*awsrds.CreateDBInstanceInput)) (*awsrds.CreateDBInstanceOutput, error) {
		in := &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
			EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String(masterUser),
			MasterUserPassword: aws.String(masterPass), DBName: aws.String("app"), BackupRetentionPeriod: aws.Int32(0)}
		if mod != nil {
			mod(in)
		}
		return c.CreateDBInstance(ctx, in)
	}
	out, err := create("api-db", func(in *awsrds.CreateDBInstanceInput) {
		in.DBParameterGroupName = aws.String("api-pg15")
		in.Tags = []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := out.DBInstance; aws.ToString(got.DBInstanceStatus) != "creating" ||
		aws.ToString(got.DBInstanceArn) != "arn:aws:rds:us-east-1:000000000000:db:api-db" || tagMap(got.TagList)["env"] != "test" {
		t.Fatalf("create answered %+v", got)
	}

	// Refusals of CreateDBInstance; none of them creates anything.
	_, err = create("API-DB", nil)
	wantCode(t, "create an existing identifier", err, "DBInstanceAlreadyExists")
	_, err = create("api-bad", func(in *awsrds.CreateDBInstanceInput) { in.DBInstanceClass = aws.String("db.huge") })
	wantCode(t, "create with an unknown class", err, "InvalidParameterCombination")
	_, err = create("-bad-", nil)
	wantCode(t, "create with a bad identifier", err, "InvalidParameterValue")
	_, err = create("api-bad", func(in *awsrds.CreateDBInstanceInput) { in.MasterUserPassword = nil })
	wantCode(t, "create without a password", err, "MissingParameter")
	_, err = create("api-bad", func(in *awsrds.CreateDBInstanceInput) { in.DBParameterGroupName = aws.String("nope") })
	wantCode(t, "create with an unknown group", err, "DBParameterGroupNotFound")
	_, err = create("api-bad", func(in *awsrds.CreateDBInstanceInput) { in.Tags = []types.Tag{{Key: aws.String("aws:x")}} })
	wantCode(t, "create with a reserved tag key", err, "InvalidParameterValue")
	_, err = c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("api-bad")})
	wantCode(t, "describe a refused instance", err, "DBInstanceNotFound")

	waitAvailable(t, c, "api-db")
	d, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("api-db")})
	if err != nil {
		t.Fatal(err)
	}
	inst := d.DBInstances[0]
	if inst.Endpoint == nil || aws.ToString(inst.Endpoint.Address) != "127.0.0.1" || aws.ToInt32(inst.Endpoint.Port) == 0 ||
		!strings.HasPrefix(aws.ToString(inst.EngineVersion), "15.") || inst.InstanceCreateTime == nil ||
		!strings.HasPrefix(aws.ToString(inst.DbiResourceId), "db-") ||
		len(inst.DBParameterGroups) != 1 || aws.ToString(inst.DBParameterGroups[0].DBParameterGroupName) != "api-pg15" ||
		aws.ToString(inst.DBParameterGroups[0].ParameterApplyStatus) != "in-sync" || inst.PendingModifiedValues == nil {
		t.Fatalf("described %+v", inst)
	}
	db, err := tryConnect(ctx, int(aws.ToInt32(inst.Endpoint.Port)), "app")
	if err != nil {
		t.Fatalf("connect through the endpoint the API gave: %v", err)
	}
	db.Close(ctx)

	// Tags on the instance, by ARN.
	arn := inst.DBInstanceArn
	if _, err := c.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{ResourceName: arn,
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("me")}, {Key: aws.String("env"), Value: aws.String("ci")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveTagsFromResource(ctx, &awsrds.RemoveTagsFromResourceInput{ResourceName: arn, TagKeys: []string{"owner", "absent"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: arn})
	if err != nil || fmt.Sprint(tagMap(tags.TagList)) != "map[env:ci]" {
		t.Fatalf("tags after add and remove: %v %v", tags, err)
	}
	_, err = c.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{ResourceName: arn, Tags: []types.Tag{{Key: aws.String("rds:x"), Value: aws.String("")}}})
	wantCode(t, "reserved tag key", err, "InvalidParameterValue")
	_, err = c.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String("arn:aws:rds:us-east-1:000000000000:db:nope")})
	wantCode(t, "tags of an unknown instance", err, "DBInstanceNotFound")
	_, err = c.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String("not-an-arn")})
	wantCode(t, "tags of a non-ARN", err, "InvalidParameterValue")

	// A read replica, then its promotion.
	_, err = c.CreateDBInstanceReadReplica(ctx, &awsrds.CreateDBInstanceReadReplicaInput{DBInstanceIdentifier: aws.String("api-db-r1"),
		SourceDBInstanceIdentifier: arn})
	if err != nil {
		t.Fatalf("create read replica: %v", err)
	}
	_, err = c.CreateDBInstanceReadReplica(ctx, &awsrds.CreateDBInstanceReadReplicaInput{DBInstanceIdentifier: aws.String("api-db-r2"),
		SourceDBInstanceIdentifier: aws.String("nope")})
	wantCode(t, "replica of an unknown source", err, "DBInstanceNotFound")
	waitAvailable(t, c, "api-db-r1")
	src, _ := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("api-db")})
	rep, _ := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("api-db-r1")})
	if fmt.Sprint(src.DBInstances[0].ReadReplicaDBInstanceIdentifiers) != "[api-db-r1]" ||
		aws.ToString(rep.DBInstances[0].ReadReplicaSourceDBInstanceIdentifier) != "api-db" ||
		len(rep.DBInstances[0].StatusInfos) != 1 || aws.ToString(rep.DBInstances[0].StatusInfos[0].Status) != "replicating" {
		t.Fatalf("source %+v\nreplica %+v", src.DBInstances[0], rep.DBInstances[0])
	}
	_, err = c.DeleteDBParameterGroup(ctx, &awsrds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String("api-pg15")})
	wantCode(t, "delete a parameter group in use", err, "InvalidDBParameterGroupState")
	_, err = c.PromoteReadReplica(ctx, &awsrds.PromoteReadReplicaInput{DBInstanceIdentifier: aws.String("api-db")})
	wantCode(t, "promote a primary", err, "InvalidDBInstanceState")
	if _, err := c.PromoteReadReplica(ctx, &awsrds.PromoteReadReplicaInput{DBInstanceIdentifier: aws.String("api-db-r1")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "api-db-r1")
	rep, _ = c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("api-db-r1")})
	if rep.DBInstances[0].ReadReplicaSourceDBInstanceIdentifier != nil || len(rep.DBInstances[0].StatusInfos) != 0 {
		t.Fatalf("promoted replica %+v", rep.DBInstances[0])
	}

	// Rename: the instance keeps its resource id under the new name.
	mod, err := c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("api-db"),
		NewDBInstanceIdentifier: aws.String("api-db2"), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("rename: %v", err)
	}
	if aws.ToString(mod.DBInstance.DBInstanceIdentifier) != "api-db2" || aws.ToString(mod.DBInstance.DbiResourceId) != aws.ToString(inst.DbiResourceId) {
		t.Fatalf("rename answered %+v", mod.DBInstance)
	}
	_, err = c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("api-db")})
	wantCode(t, "describe the old name", err, "DBInstanceNotFound")
	waitAvailable(t, c, "api-db2")
	_, err = c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("api-db2"), NewDBInstanceIdentifier: aws.String("api-db-r1")})
	wantCode(t, "rename onto an existing name", err, "DBInstanceAlreadyExists")
	_, err = c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("api-db2"), EngineVersion: aws.String("16")})
	wantCode(t, "in-place upgrade", err, "InvalidParameterValue")
	_, err = c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("nope"), ApplyImmediately: aws.Bool(true)})
	wantCode(t, "modify an unknown instance", err, "DBInstanceNotFound")

	// Reboot: while it runs, the instance refuses another.
	rb, err := c.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String("api-db2")})
	if err != nil || aws.ToString(rb.DBInstance.DBInstanceStatus) != "rebooting" {
		t.Fatalf("reboot: %v %+v", err, rb)
	}
	_, err = c.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String("api-db2")})
	wantCode(t, "reboot while rebooting", err, "InvalidDBInstanceState")
	waitAvailable(t, c, "api-db2")

	// Delete: snapshot members, deletion protection, then for real.
	del := func(id string, mod func(*awsrds.DeleteDBInstanceInput)) error {
		in := &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}
		if mod != nil {
			mod(in)
		}
		_, err := c.DeleteDBInstance(ctx, in)
		return err
	}
	wantCode(t, "delete without SkipFinalSnapshot", del("api-db2", func(in *awsrds.DeleteDBInstanceInput) { in.SkipFinalSnapshot = nil }),
		"InvalidParameterCombination")
	wantCode(t, "delete with a final snapshot and SkipFinalSnapshot", del("api-db2", func(in *awsrds.DeleteDBInstanceInput) {
		in.FinalDBSnapshotIdentifier = aws.String("final")
	}), "InvalidParameterCombination")
	wantCode(t, "delete with an automated snapshot's name as the final one", del("api-db2", func(in *awsrds.DeleteDBInstanceInput) {
		in.SkipFinalSnapshot, in.FinalDBSnapshotIdentifier = nil, aws.String("rds:final")
	}), "InvalidParameterValue")
	if _, err := c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("api-db2"), DeletionProtection: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete a protected instance", del("api-db2", nil), "InvalidParameterCombination")
	// As RDS: a missing instance first, then deletion protection, then
	// the snapshot members.
	err = del("api-db2", func(in *awsrds.DeleteDBInstanceInput) { in.SkipFinalSnapshot = nil })
	if apiCode(err) != "InvalidParameterCombination" || !strings.Contains(err.Error(), "Cannot delete protected DB Instance") {
		t.Fatalf("delete a protected instance without SkipFinalSnapshot: %v", err)
	}
	wantCode(t, "delete a missing instance without SkipFinalSnapshot",
		del("api-nobody", func(in *awsrds.DeleteDBInstanceInput) { in.SkipFinalSnapshot = nil }), "DBInstanceNotFound")
	if _, err := c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("api-db2"), DeletionProtection: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if err := del("api-db2", nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// Stopping the server takes far longer than this second request.
	wantCode(t, "delete while deleting", del("api-db2", nil), "InvalidDBInstanceState")
	if err := del("api-db-r1", nil); err != nil {
		t.Fatalf("delete the promoted replica: %v", err)
	}
	waitDeleted(t, c, "api-db2")
	waitDeleted(t, c, "api-db-r1")
	wantCode(t, "delete a deleted instance", del("api-db2", nil), "DBInstanceNotFound")

	// The instance's history, in order, under the names it had.
	ev, err := c.DescribeEvents(ctx, &awsrds.DescribeEventsInput{SourceType: types.SourceTypeDbInstance, SourceIdentifier: aws.String("api-db2")})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range ev.Events {
		msgs = append(msgs, aws.ToString(e.Message))
		if e.Date == nil || aws.ToString(e.SourceArn) != "arn:aws:rds:us-east-1:000000000000:db:api-db2" {
			t.Fatalf("event %+v", e)
		}
	}
	if all := strings.Join(msgs, "|"); !strings.Contains(all, "Renamed instance from api-db to api-db2") || !strings.HasSuffix(all, "DB instance deleted") {
		t.Fatalf("events of api-db2: %q", msgs)
	}
	ev, err = c.DescribeEvents(ctx, &awsrds.DescribeEventsInput{EventCategories: []string{"deletion"}, Duration: aws.Int32(60)})
	if err != nil || len(ev.Events) < 2 {
		t.Fatalf("deletion events: %v %+v", err, ev)
	}
	_, err = c.DescribeEvents(ctx, &awsrds.DescribeEventsInput{SourceIdentifier: aws.String("api-db2")})
	wantCode(t, "events by identifier without a type", err, "InvalidParameterCombination")
}

// TestAPIPagination pages through 21 instances with the SDK's paginator,
// 20 a page, and filters them.
func TestAPIPagination(t *testing.T) {
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	r := startAPI(t, svc)
	c := r.client
	ctx := ctxFor(t, 5*time.Minute)
	var ids []string
	for i := 1; i <= 21; i++ {
		id := fmt.Sprintf("page-%02d", i)
		ids = append(ids, id)
		if _, err := c.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
			EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String(masterUser),
			MasterUserPassword: aws.String(masterPass), BackupRetentionPeriod: aws.Int32(0)}); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	// Without an identifier, the waiter waits for every instance.
	if err := awsrds.NewDBInstanceAvailableWaiter(c, func(o *awsrds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 500*time.Millisecond, 2*time.Second
	}).Wait(ctx, &awsrds.DescribeDBInstancesInput{}, 4*time.Minute); err != nil {
		t.Fatalf("wait for all: %v", err)
	}

	p := awsrds.NewDescribeDBInstancesPaginator(c, &awsrds.DescribeDBInstancesInput{MaxRecords: aws.Int32(20)})
	var got []string
	var sizes []int
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.DBInstances))
		for _, d := range page.DBInstances {
			got = append(got, aws.ToString(d.DBInstanceIdentifier))
		}
	}
	if fmt.Sprint(sizes) != "[20 1]" || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages of %v: %v", sizes, got)
	}

	filtered, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{Filters: []types.Filter{
		{Name: aws.String("engine"), Values: []string{"postgres"}},
		{Name: aws.String("db-instance-id"), Values: []string{"page-03", "arn:aws:rds:us-east-1:000000000000:db:page-07"}},
	}})
	if err != nil || len(filtered.DBInstances) != 2 || aws.ToString(filtered.DBInstances[1].DBInstanceIdentifier) != "page-07" {
		t.Fatalf("filtered: %v %+v", err, filtered)
	}
	_, err = c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{Filters: []types.Filter{{Name: aws.String("color"), Values: []string{"x"}}}})
	wantCode(t, "unknown filter", err, "InvalidParameterValue")
	_, err = c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{MaxRecords: aws.Int32(5)})
	wantCode(t, "MaxRecords below 20", err, "InvalidParameterValue")
	_, err = c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{Marker: aws.String("!!")})
	wantCode(t, "bad marker", err, "InvalidParameterValue")

	for _, id := range ids {
		if _, err := c.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	for _, id := range ids {
		waitDeleted(t, c, id)
	}
	left, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil || len(left.DBInstances) != 0 {
		t.Fatalf("after deleting all: %v %+v", err, left)
	}
	if procs := serverProcesses(t, dir); len(procs) != 0 {
		t.Fatalf("servers still running after delete: %v", procs)
	}
}
