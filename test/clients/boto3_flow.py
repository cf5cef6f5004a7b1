"""A first session with teal through boto3, as an RDS user would write it.

Run by test/e2e/clients_test.go against a real `teal serve`. The endpoint
comes from TEAL_ENDPOINT and the credentials from the usual AWS variables.
Every step asserts what a user would check; any failure exits non-zero.
"""
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ["TEAL_ENDPOINT"]
PREFIX = os.environ.get("TEAL_TEST_PREFIX", "boto")
ENGINE = os.environ.get("TEAL_TEST_ENGINE", "postgres")
VERSION = os.environ.get("TEAL_TEST_VERSION", "15")
FAMILY = os.environ.get("TEAL_TEST_FAMILY", "postgres15")

rds = boto3.client("rds", endpoint_url=ENDPOINT, region_name="us-east-1")
fast = {"Delay": 1, "MaxAttempts": 180}


def step(msg):
    print(f"boto3: {msg}", flush=True)


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"{fn.__name__}: got {got}, want {code}: {e}"
        return e
    raise AssertionError(f"{fn.__name__} succeeded, want {code}")


primary = f"{PREFIX}-db"
group = f"{PREFIX}-params"

step("engine versions")
versions = rds.describe_db_engine_versions(Engine=ENGINE)["DBEngineVersions"]
assert any(v["EngineVersion"].startswith(VERSION) for v in versions), versions

step("parameter group")
rds.create_db_parameter_group(DBParameterGroupName=group, DBParameterGroupFamily=FAMILY,
                              Description="boto3 test group", Tags=[{"Key": "team", "Value": "db"}])
expect_error("DBParameterGroupAlreadyExists", rds.create_db_parameter_group, DBParameterGroupName=group,
             DBParameterGroupFamily=FAMILY, Description="again")
rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
    {"ParameterName": "work_mem", "ParameterValue": "8192", "ApplyMethod": "immediate"}] if ENGINE == "postgres" else [
    {"ParameterName": "max_connections", "ParameterValue": "200", "ApplyMethod": "pending-reboot"}])
user_params = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")["Parameters"]
assert [p["ParameterName"] for p in user_params] in (["work_mem"], ["max_connections"]), user_params
all_params = []
for page in rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group,
                                                                  PaginationConfig={"PageSize": 20}):
    all_params += page["Parameters"]
assert len(all_params) > 100, len(all_params)
assert len({p["ParameterName"] for p in all_params}) == len(all_params), "paging repeated parameters"

step("create instance")
created = rds.create_db_instance(DBInstanceIdentifier=primary, Engine=ENGINE, EngineVersion=VERSION,
                                 DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="master",
                                 MasterUserPassword="secret-pass-1", DBName="app", DBParameterGroupName=group,
                                 Tags=[{"Key": "env", "Value": "test"}])["DBInstance"]
assert created["DBInstanceStatus"] == "creating", created["DBInstanceStatus"]
assert created["DbiResourceId"].startswith("db-"), created
expect_error("DBInstanceAlreadyExists", rds.create_db_instance, DBInstanceIdentifier=primary, Engine=ENGINE,
             EngineVersion=VERSION, DBInstanceClass="db.t3.micro", AllocatedStorage=20,
             MasterUsername="master", MasterUserPassword="secret-pass-1")
expect_error("InvalidParameterValue", rds.create_db_instance, DBInstanceIdentifier="bad--name", Engine=ENGINE,
             DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="master",
             MasterUserPassword="secret-pass-1")
rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=primary, WaiterConfig=fast)
inst = rds.describe_db_instances(DBInstanceIdentifier=primary)["DBInstances"][0]
assert inst["DBInstanceStatus"] == "available"
assert inst["Endpoint"]["Address"] == "127.0.0.1" and inst["Endpoint"]["Port"] > 0, inst["Endpoint"]
assert inst["DBParameterGroups"][0]["DBParameterGroupName"] == group, inst["DBParameterGroups"]
assert {"Key": "env", "Value": "test"} in inst["TagList"], inst["TagList"]

step("read replica")
rds.create_db_instance_read_replica(DBInstanceIdentifier=f"{primary}-r1", SourceDBInstanceIdentifier=primary)
rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=f"{primary}-r1", WaiterConfig=fast)
replica = rds.describe_db_instances(DBInstanceIdentifier=f"{primary}-r1")["DBInstances"][0]
assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary, replica
inst = rds.describe_db_instances(DBInstanceIdentifier=primary)["DBInstances"][0]
assert inst["ReadReplicaDBInstanceIdentifiers"] == [f"{primary}-r1"], inst

step("filters and paging")
found = rds.describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [inst["DbiResourceId"]]}])
assert [i["DBInstanceIdentifier"] for i in found["DBInstances"]] == [primary], found
names = []
for page in rds.get_paginator("describe_db_instances").paginate(PaginationConfig={"PageSize": 20}):
    names += [i["DBInstanceIdentifier"] for i in page["DBInstances"]]
assert primary in names and f"{primary}-r1" in names, names

step("tags")
arn = inst["DBInstanceArn"]
rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "owner", "Value": "ops"}])
tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
assert {"Key": "owner", "Value": "ops"} in tags and {"Key": "env", "Value": "test"} in tags, tags
rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["env"])
tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
assert tags == [{"Key": "owner", "Value": "ops"}], tags

step("modify: rename and deletion protection")
rds.modify_db_instance(DBInstanceIdentifier=primary, NewDBInstanceIdentifier=f"{primary}-v2",
                       DeletionProtection=True, ApplyImmediately=True)
renamed = rds.describe_db_instances(DBInstanceIdentifier=f"{primary}-v2")["DBInstances"][0]
assert renamed["DbiResourceId"] == inst["DbiResourceId"] and renamed["DeletionProtection"], renamed
expect_error("DBInstanceNotFound", rds.describe_db_instances, DBInstanceIdentifier=primary)
expect_error("InvalidParameterCombination", rds.delete_db_instance, DBInstanceIdentifier=f"{primary}-v2",
             SkipFinalSnapshot=True)
rds.modify_db_instance(DBInstanceIdentifier=f"{primary}-v2", DeletionProtection=False, ApplyImmediately=True)

step("reboot")
rds.reboot_db_instance(DBInstanceIdentifier=f"{primary}-v2")
rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=f"{primary}-v2", WaiterConfig=fast)

step("events")
events = rds.describe_events(SourceType="db-instance", SourceIdentifier=f"{primary}-v2", Duration=60)["Events"]
assert any("Renamed" in e["Message"] for e in events), events

step("snapshots")
snap, v2 = f"{PREFIX}-snap", f"{primary}-v2"
taken = rds.create_db_snapshot(DBSnapshotIdentifier=snap, DBInstanceIdentifier=v2,
                               Tags=[{"Key": "kind", "Value": "manual"}])["DBSnapshot"]
assert taken["Status"] == "creating" and taken["SnapshotType"] == "manual", taken
expect_error("DBSnapshotAlreadyExists", rds.create_db_snapshot, DBSnapshotIdentifier=snap, DBInstanceIdentifier=v2)
expect_error("DBInstanceNotFound", rds.create_db_snapshot, DBSnapshotIdentifier=f"{snap}-x",
             DBInstanceIdentifier=f"{PREFIX}-missing")
rds.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier=snap, WaiterConfig=fast)
taken = rds.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]
assert taken["Status"] == "available" and taken["PercentProgress"] == 100, taken
assert taken["Engine"] == ENGINE and taken["EngineVersion"].startswith(VERSION), taken
assert taken["DBInstanceIdentifier"] == v2 and taken["MasterUsername"] == "master", taken
rds.copy_db_snapshot(SourceDBSnapshotIdentifier=snap, TargetDBSnapshotIdentifier=f"{snap}-copy", CopyTags=True)
rds.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier=f"{snap}-copy", WaiterConfig=fast)
copied = rds.describe_db_snapshots(DBSnapshotIdentifier=f"{snap}-copy")["DBSnapshots"][0]
assert {"Key": "kind", "Value": "manual"} in rds.list_tags_for_resource(
    ResourceName=copied["DBSnapshotArn"])["TagList"], copied
listed = []
for page in rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=v2, SnapshotType="manual", PaginationConfig={"PageSize": 20}):
    listed += [s["DBSnapshotIdentifier"] for s in page["DBSnapshots"]]
assert sorted(listed) == [snap, f"{snap}-copy"], listed
rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=snap, AttributeName="restore", ValuesToAdd=["123456789012"])
attrs = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snap)["DBSnapshotAttributesResult"]
assert attrs["DBSnapshotAttributes"] == [{"AttributeName": "restore", "AttributeValues": ["123456789012"]}], attrs
expect_error("InvalidParameterValue", rds.modify_db_snapshot_attribute, DBSnapshotIdentifier=snap,
             AttributeName="restore", ValuesToAdd=["not-an-account"])
rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=f"{PREFIX}-restored", DBSnapshotIdentifier=snap)
rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=f"{PREFIX}-restored", WaiterConfig=fast)
restored = rds.describe_db_instances(DBInstanceIdentifier=f"{PREFIX}-restored")["DBInstances"][0]
source = rds.describe_db_instances(DBInstanceIdentifier=v2)["DBInstances"][0]
assert restored["DbiResourceId"] != source["DbiResourceId"], restored
assert restored["Endpoint"]["Port"] != source["Endpoint"]["Port"], restored["Endpoint"]
assert restored["EngineVersion"] == taken["EngineVersion"], restored
rds.delete_db_instance(DBInstanceIdentifier=f"{PREFIX}-restored", FinalDBSnapshotIdentifier=f"{snap}-final")
rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=f"{PREFIX}-restored", WaiterConfig=fast)
final = rds.describe_db_snapshots(DBSnapshotIdentifier=f"{snap}-final")["DBSnapshots"][0]
assert final["Status"] == "available" and final["DBInstanceIdentifier"] == f"{PREFIX}-restored", final
for name in (snap, f"{snap}-copy", f"{snap}-final"):
    rds.delete_db_snapshot(DBSnapshotIdentifier=name)
expect_error("DBSnapshotNotFound", rds.describe_db_snapshots, DBSnapshotIdentifier=snap)

step("automated backups")
# The record is made by teal's backup loop as soon as the instance is
# available.
deadline = time.time() + 30
while True:
    try:
        backups = rds.describe_db_instance_automated_backups(DbiResourceId=source["DbiResourceId"])
        break
    except ClientError as e:
        assert e.response["Error"]["Code"] == "DBInstanceAutomatedBackupNotFound", e
        assert time.time() < deadline, "no automated backup record for the instance"
        time.sleep(0.5)
backups = backups["DBInstanceAutomatedBackups"]
assert backups[0]["Status"] == "active" and backups[0]["BackupRetentionPeriod"] == 1, backups
# Before the first base backup nothing is restorable; after it, 2001 is
# outside the window.
based = "EarliestTime" in backups[0].get("RestoreWindow", {})
expect_error("InvalidRestoreFault" if based else "PointInTimeRestoreNotEnabled", rds.restore_db_instance_to_point_in_time,
             SourceDBInstanceIdentifier=v2, TargetDBInstanceIdentifier=f"{PREFIX}-pitr",
             RestoreTime="2001-01-01T00:00:00Z")

step("blue/green deployment")
source_arn = rds.describe_db_instances(DBInstanceIdentifier=f"{primary}-v2")["DBInstances"][0]["DBInstanceArn"]
bgd = rds.create_blue_green_deployment(BlueGreenDeploymentName=f"{PREFIX}-bgd", Source=source_arn,
                                       Tags=[{"Key": "change", "Value": "test"}])["BlueGreenDeployment"]
bgd_id = bgd["BlueGreenDeploymentIdentifier"]
assert bgd["Status"] == "PROVISIONING" and bgd_id.startswith("bgd-"), bgd


def wait_bgd(want, limit=180):
    deadline = time.time() + limit
    while True:
        d = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=bgd_id)["BlueGreenDeployments"][0]
        if d["Status"] in want:
            return d
        assert d["Status"] not in ("INVALID_CONFIGURATION", "SWITCHOVER_FAILED"), d
        assert time.time() < deadline, d
        time.sleep(0.5)


d = wait_bgd(["AVAILABLE"])
assert all(t["Status"] == "COMPLETED" for t in d["Tasks"]), d["Tasks"]
green_name = d["Target"].rsplit(":", 1)[1]
assert green_name.startswith(f"{primary}-v2-green-"), green_name
rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd_id, SwitchoverTimeout=120)
d = wait_bgd(["SWITCHOVER_COMPLETED"])
new_prod = rds.describe_db_instances(DBInstanceIdentifier=f"{primary}-v2")["DBInstances"][0]
assert new_prod["DbiResourceId"] != renamed["DbiResourceId"], "the name did not move to green"
old = rds.describe_db_instances(DBInstanceIdentifier=f"{primary}-v2-old1")["DBInstances"][0]
assert old["DbiResourceId"] == renamed["DbiResourceId"], old
expect_error("InvalidBlueGreenDeploymentStateFault", rds.delete_blue_green_deployment,
             BlueGreenDeploymentIdentifier=bgd_id, DeleteTarget=True)
rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd_id)
deadline = time.time() + 60
while True:
    try:
        rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=bgd_id)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "BlueGreenDeploymentNotFoundFault", e
        break
    assert time.time() < deadline, "deployment not deleted"
    time.sleep(0.5)
events = rds.describe_events(SourceType="blue-green-deployment", SourceIdentifier=bgd_id, Duration=60)["Events"]
assert any("Switchover completed" in e["Message"] for e in events), events

step("promote and delete")
rds.promote_read_replica(DBInstanceIdentifier=f"{primary}-r1")
rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=f"{primary}-r1", WaiterConfig=fast)
names = [f"{primary}-r1", f"{primary}-v2", f"{primary}-v2-old1", f"{primary}-r1-old1"]
for name in names:
    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
for name in names:
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=name, WaiterConfig=fast)
expect_error("DBInstanceNotFound", rds.describe_db_instances, DBInstanceIdentifier=f"{primary}-v2")
rds.delete_db_parameter_group(DBParameterGroupName=group)
expect_error("DBParameterGroupNotFound", rds.describe_db_parameters, DBParameterGroupName=group)


def wait_cluster(cluster, cond, limit=180):
    deadline = time.time() + limit
    while True:
        c = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
        if cond(c):
            return c
        assert time.time() < deadline, c
        time.sleep(0.5)


def writer_of(c):
    writers = [m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if m["IsClusterWriter"]]
    assert len(writers) == 1, c["DBClusterMembers"]
    return writers[0]


if ENGINE == "postgres":
    cluster, cgroup = f"{PREFIX}-cluster", f"{PREFIX}-cluster-params"
    family = "aurora-postgresql" + VERSION

    step("DB cluster parameter group")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=cgroup, DBParameterGroupFamily=family,
                                          Description="boto3 cluster group")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=cgroup, Parameters=[
        {"ParameterName": "work_mem", "ParameterValue": "8192", "ApplyMethod": "immediate"}])
    user_params = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=cgroup, Source="user")["Parameters"]
    assert [p["ParameterName"] for p in user_params] == ["work_mem"], user_params
    expect_error("InvalidParameterValue", rds.create_db_cluster_parameter_group, DBClusterParameterGroupName="x1",
                 DBParameterGroupFamily=FAMILY, Description="an instance family")

    step("DB cluster with a writer and a reader")
    c = rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql", EngineVersion=VERSION,
                              MasterUsername="master", MasterUserPassword="secret-pass-1", DatabaseName="app",
                              DBClusterParameterGroupName=cgroup, Tags=[{"Key": "team", "Value": "db"}])["DBCluster"]
    assert c["DbClusterResourceId"].startswith("cluster-") and c["Engine"] == "aurora-postgresql", c
    expect_error("DBClusterAlreadyExistsFault", rds.create_db_cluster, DBClusterIdentifier=cluster,
                 Engine="aurora-postgresql", MasterUsername="master", MasterUserPassword="secret-pass-1")
    expect_error("InvalidParameterValue", rds.create_db_cluster, DBClusterIdentifier=f"{cluster}-m",
                 Engine="aurora-mysql", MasterUsername="master", MasterUserPassword="secret-pass-1")
    for n in (1, 2):
        rds.create_db_instance(DBInstanceIdentifier=f"{cluster}-{n}", DBClusterIdentifier=cluster,
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=f"{cluster}-{n}", WaiterConfig=fast)
    rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier=cluster, WaiterConfig=fast)
    c = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    assert writer_of(c) == f"{cluster}-1" and len(c["DBClusterMembers"]) == 2, c["DBClusterMembers"]
    assert c["Endpoint"] == "127.0.0.1" and c["Port"] > 0 and c["ReaderEndpoint"].startswith("127.0.0.1:"), c
    member = rds.describe_db_instances(DBInstanceIdentifier=f"{cluster}-2")["DBInstances"][0]
    assert member["DBClusterIdentifier"] == cluster, member

    step("custom endpoint")
    ep = rds.create_db_cluster_endpoint(DBClusterIdentifier=cluster, DBClusterEndpointIdentifier=f"{cluster}-reports",
                                        EndpointType="READER", StaticMembers=[f"{cluster}-2"])
    assert ep["EndpointType"] == "CUSTOM" and ep["StaticMembers"] == [f"{cluster}-2"], ep
    eps = rds.describe_db_cluster_endpoints(DBClusterIdentifier=cluster)["DBClusterEndpoints"]
    assert sorted(e["EndpointType"] for e in eps) == ["CUSTOM", "READER", "WRITER"], eps

    step("failover")
    expect_error("DBClusterNotFoundFault", rds.failover_db_cluster, DBClusterIdentifier=f"{cluster}-none")
    rds.failover_db_cluster(DBClusterIdentifier=cluster, TargetDBInstanceIdentifier=f"{cluster}-2")
    c = wait_cluster(cluster, lambda c: c["Status"] == "available" and writer_of(c) == f"{cluster}-2")
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=f"{cluster}-1", WaiterConfig=fast)
    events = rds.describe_events(SourceType="db-cluster", SourceIdentifier=cluster, Duration=60)["Events"]
    assert any("Completed failover" in e["Message"] for e in events), events

    step("blue/green deployment of the cluster")
    bgd = rds.create_blue_green_deployment(BlueGreenDeploymentName=f"{PREFIX}-cluster-bgd", Source=c["DBClusterArn"],
                                           TargetDBClusterParameterGroupName=cgroup)["BlueGreenDeployment"]
    bgd_id = bgd["BlueGreenDeploymentIdentifier"]
    d = wait_bgd(["AVAILABLE"])
    assert d["Source"] == c["DBClusterArn"] and ":cluster:" + cluster + "-green-" in d["Target"], d
    assert len(d["SwitchoverDetails"]) == 3, d["SwitchoverDetails"]
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd_id, SwitchoverTimeout=120)
    wait_bgd(["SWITCHOVER_COMPLETED"])
    now = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    assert now["DbClusterResourceId"] != c["DbClusterResourceId"] and now["Port"] == c["Port"], now
    assert now["ReaderEndpoint"] == c["ReaderEndpoint"] and now["CustomEndpoints"] == c["CustomEndpoints"], now
    assert writer_of(now) == f"{cluster}-2", now["DBClusterMembers"]
    old = rds.describe_db_clusters(DBClusterIdentifier=f"{cluster}-old1")["DBClusters"][0]
    assert old["DbClusterResourceId"] == c["DbClusterResourceId"], old
    assert sorted(m["DBInstanceIdentifier"] for m in old["DBClusterMembers"]) == [f"{cluster}-1-old1", f"{cluster}-2-old1"], old
    rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=bgd_id)

    step("delete the clusters")
    expect_error("InvalidDBClusterStateFault", rds.delete_db_cluster, DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
    rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier=f"{cluster}-reports")
    for name in (cluster, f"{cluster}-old1"):
        members = rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["DBClusterMembers"]
        for m in sorted(members, key=lambda m: m["IsClusterWriter"]):
            rds.delete_db_instance(DBInstanceIdentifier=m["DBInstanceIdentifier"], SkipFinalSnapshot=True)
            rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=m["DBInstanceIdentifier"], WaiterConfig=fast)
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
        rds.get_waiter("db_cluster_deleted").wait(DBClusterIdentifier=name, WaiterConfig=fast)
    rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName=cgroup)

print("boto3: ok")
