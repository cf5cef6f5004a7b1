package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go/middleware"
)

func sampleInstances() *rds.DescribeDBInstancesOutput {
	created := time.Date(2026, 3, 4, 5, 6, 7, 250_000_000, time.UTC)
	return &rds.DescribeDBInstancesOutput{
		DBInstances: []types.DBInstance{
			{DBInstanceIdentifier: aws.String("db1"), Engine: aws.String("postgres"), EngineVersion: aws.String("17.2"),
				DBInstanceStatus: aws.String("available"), DBInstanceClass: aws.String("db.t3.micro"),
				Endpoint:           &types.Endpoint{Address: aws.String("127.0.0.1"), Port: aws.Int32(40001)},
				InstanceCreateTime: &created, MultiAZ: aws.Bool(false), AllocatedStorage: aws.Int32(20),
				ReadReplicaDBInstanceIdentifiers: []string{"db1-replica"},
				TagList:                          []types.Tag{{Key: aws.String("team"), Value: aws.String("<data & co>")}}},
			{DBInstanceIdentifier: aws.String("db1-replica"), Engine: aws.String("postgres"), EngineVersion: aws.String("17.2"),
				DBInstanceStatus: aws.String("creating"), DBInstanceClass: aws.String("db.t3.micro"),
				ReadReplicaSourceDBInstanceIdentifier: aws.String("db1")},
		},
		ResultMetadata: middleware.Metadata{},
	}
}

func render(t *testing.T, format string, res any, extra ...member) string {
	t.Helper()
	var b bytes.Buffer
	if err := (&outputFormat{name: format}).render(&b, res, extra...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestJSONOutput(t *testing.T) {
	// As `aws rds describe-db-instances` prints the same response: API
	// member names, four-space indent, Python's isoformat timestamps,
	// absent members left out, no ResponseMetadata.
	want := `{
    "DBInstances": [
        {
            "AllocatedStorage": 20,
            "DBInstanceClass": "db.t3.micro",
            "DBInstanceIdentifier": "db1",
            "DBInstanceStatus": "available",
            "Endpoint": {
                "Address": "127.0.0.1",
                "Port": 40001
            },
            "Engine": "postgres",
            "EngineVersion": "17.2",
            "InstanceCreateTime": "2026-03-04T05:06:07.250000+00:00",
            "MultiAZ": false,
            "ReadReplicaDBInstanceIdentifiers": [
                "db1-replica"
            ],
            "TagList": [
                {
                    "Key": "team",
                    "Value": "<data & co>"
                }
            ]
        },
        {
            "DBInstanceClass": "db.t3.micro",
            "DBInstanceIdentifier": "db1-replica",
            "DBInstanceStatus": "creating",
            "Engine": "postgres",
            "EngineVersion": "17.2",
            "ReadReplicaSourceDBInstanceIdentifier": "db1"
        }
    ],
    "NextToken": "tok"
}
`
	if got := render(t, "json", sampleInstances(), member{"NextToken", "tok"}); got != want {
		t.Errorf("json output:\n%s\nwant:\n%s", got, want)
	}
	if got := render(t, "json", &rds.DescribeDBInstancesOutput{DBInstances: []types.DBInstance{}}); got != "{\n    \"DBInstances\": []\n}\n" {
		t.Errorf("empty list: %q", got)
	}
	if got := render(t, "json", &rds.AddTagsToResourceOutput{}); got != "" {
		t.Errorf("an empty response prints nothing, as in the AWS CLI; got %q", got)
	}
	if got := isoTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))); got != "2026-01-02T02:04:05+00:00" {
		t.Errorf("isoTime = %s", got)
	}
}

func TestTextOutput(t *testing.T) {
	// awscli/text.py: scalars of each item on one line, sorted by member
	// name and led by the list's name; nested members on their own lines.
	want := "DBINSTANCES\t20\tdb.t3.micro\tdb1\tavailable\tpostgres\t17.2\t2026-03-04T05:06:07.250000+00:00\tFalse\t\n" +
		"ENDPOINT\t127.0.0.1\t40001\n" +
		"READREPLICADBINSTANCEIDENTIFIERS\tdb1-replica\n" +
		"TAGLIST\tteam\t<data & co>\n" +
		"DBINSTANCES\t\tdb.t3.micro\tdb1-replica\tcreating\tpostgres\t17.2\t\t\tdb1\n"
	if got := render(t, "text", sampleInstances()); got != want {
		t.Errorf("text output:\n%q\nwant:\n%q", got, want)
	}
}

func TestTableOutput(t *testing.T) {
	want := `IDENTIFIER    ENGINE     VERSION   STATUS      ENDPOINT          CLASS         REPLICA OF   REPLICAS
db1           postgres   17.2      available   127.0.0.1:40001   db.t3.micro   -            db1-replica
db1-replica   postgres   17.2      creating    -                 db.t3.micro   db1          -
`
	if got := render(t, "table", sampleInstances()); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}

	// One instance, as create and modify return it; the replica columns
	// are left out when no row has them.
	single := &rds.CreateDBInstanceOutput{DBInstance: &types.DBInstance{DBInstanceIdentifier: aws.String("db2"),
		Engine: aws.String("postgres"), EngineVersion: aws.String("16.4"), DBInstanceStatus: aws.String("creating"),
		DBInstanceClass: aws.String("db.t3.micro")}}
	want = `IDENTIFIER   ENGINE     VERSION   STATUS     ENDPOINT   CLASS
db2          postgres   16.4      creating   -          db.t3.micro
`
	if got := render(t, "table", single); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}

	params := &rds.DescribeDBParametersOutput{Parameters: []types.Parameter{
		{ParameterName: aws.String("max_connections"), ParameterValue: aws.String("100"), Source: aws.String("user"),
			ApplyType: aws.String("static"), ApplyMethod: types.ApplyMethodPendingReboot},
		{ParameterName: aws.String("work_mem"), Source: aws.String("engine-default"), ApplyType: aws.String("dynamic")},
	}}
	want = `NAME              VALUE   SOURCE           APPLY TYPE   APPLY METHOD
max_connections   100     user             static       pending-reboot
work_mem          -       engine-default   dynamic      -
`
	if got := render(t, "table", params); got != want {
		t.Errorf("parameters:\n%s\nwant:\n%s", got, want)
	}

	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	events := &rds.DescribeEventsOutput{Events: []types.Event{{Date: &at, SourceIdentifier: aws.String("db1"),
		SourceType: types.SourceTypeDbInstance, Message: aws.String("DB instance created\nwith a second line")}}}
	want = `DATE                   SOURCE   MESSAGE
2026-03-04 05:06:07Z   db1      DB instance created with a second line
`
	if got := render(t, "table", events); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}

	if got := render(t, "table", &rds.DescribeDBInstancesOutput{}); got != "" {
		t.Errorf("no instances: %q", got)
	}
	// An output without a view shows its members by name.
	if got := render(t, "table", &rds.ModifyDBParameterGroupOutput{DBParameterGroupName: aws.String("pg1")}); got != "DBParameterGroupName   pg1\n" {
		t.Errorf("name/value output: %q", got)
	}
}

func TestAccessKeyFields(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var b bytes.Buffer
	writeFields(&b, &createAccessKeyOutput{AccessKey: &accessKey{AccessKeyId: aws.String("AKIAX"),
		SecretAccessKey: aws.String("s3cr3t"), Description: aws.String("ci"), CreateDate: &created}})
	want := `AccessKeyId       AKIAX
SecretAccessKey   s3cr3t
Description       ci
CreateDate        2026-03-04T05:06:07+00:00
`
	if b.String() != want {
		t.Errorf("fields:\n%s\nwant:\n%s", b.String(), want)
	}
	list := &listAccessKeysOutput{AccessKeys: []accessKey{{AccessKeyId: aws.String("AKIAX"), CreateDate: &created}}}
	if got := render(t, "table", list); !strings.Contains(got, "AKIAX           -             2026-03-04 05:06:07Z") {
		t.Errorf("access keys table:\n%s", got)
	}
}

func TestClusterTables(t *testing.T) {
	clusters := &rds.DescribeDBClustersOutput{DBClusters: []types.DBCluster{
		{DBClusterIdentifier: aws.String("c1"), Engine: aws.String("aurora-postgresql"), EngineVersion: aws.String("15.8"),
			Status: aws.String("available"), Endpoint: aws.String("127.0.0.1"), Port: aws.Int32(40010),
			ReaderEndpoint: aws.String("127.0.0.1:40011"),
			DBClusterMembers: []types.DBClusterMember{
				{DBInstanceIdentifier: aws.String("c1-b"), IsClusterWriter: aws.Bool(false)},
				{DBInstanceIdentifier: aws.String("c1-a"), IsClusterWriter: aws.Bool(true)},
				{DBInstanceIdentifier: aws.String("c1-c"), IsClusterWriter: aws.Bool(false)},
			}},
		// As RDS describes a reader endpoint: its host, on the cluster's port.
		{DBClusterIdentifier: aws.String("c2"), EngineVersion: aws.String("16.4"), Status: aws.String("creating"),
			Endpoint: aws.String("c2.cluster-x.rds.example"), Port: aws.Int32(5432),
			ReaderEndpoint: aws.String("c2.cluster-ro-x.rds.example")},
	}}
	want := `IDENTIFIER   VERSION   STATUS      ENDPOINT                        READER ENDPOINT                    MEMBERS
c1           15.8      available   127.0.0.1:40010                 127.0.0.1:40011                    c1-a (writer),c1-b,c1-c
c2           16.4      creating    c2.cluster-x.rds.example:5432   c2.cluster-ro-x.rds.example:5432   -
`
	if got := render(t, "table", clusters); got != want {
		t.Errorf("clusters:\n%s\nwant:\n%s", got, want)
	}
	// One cluster, as create, modify, delete and failover return it.
	single := &rds.DeleteDBClusterOutput{DBCluster: &clusters.DBClusters[1]}
	if got := render(t, "table", single); !strings.HasPrefix(got, "IDENTIFIER   VERSION   STATUS     ENDPOINT") || !strings.Contains(got, "\nc2   ") {
		t.Errorf("one cluster:\n%s", got)
	}

	endpoints := &rds.DescribeDBClusterEndpointsOutput{DBClusterEndpoints: []types.DBClusterEndpoint{
		{DBClusterIdentifier: aws.String("c1"), EndpointType: aws.String("WRITER"), Status: aws.String("available"), Endpoint: aws.String("127.0.0.1:40010")},
		{DBClusterIdentifier: aws.String("c1"), EndpointType: aws.String("READER"), Status: aws.String("available"), Endpoint: aws.String("127.0.0.1:40011")},
		{DBClusterIdentifier: aws.String("c1"), DBClusterEndpointIdentifier: aws.String("analytics"), EndpointType: aws.String("CUSTOM"),
			CustomEndpointType: aws.String("READER"), Status: aws.String("available"), Endpoint: aws.String("127.0.0.1:40012"),
			StaticMembers: []string{"c1-b", "c1-c"}},
	}}
	want = `CLUSTER   IDENTIFIER   TYPE     CUSTOM TYPE   STATUS      ENDPOINT          STATIC MEMBERS
c1        -            WRITER   -             available   127.0.0.1:40010   -
c1        -            READER   -             available   127.0.0.1:40011   -
c1        analytics    CUSTOM   READER        available   127.0.0.1:40012   c1-b,c1-c
`
	if got := render(t, "table", endpoints); got != want {
		t.Errorf("cluster endpoints:\n%s\nwant:\n%s", got, want)
	}

	groups := &rds.DescribeDBClusterParameterGroupsOutput{DBClusterParameterGroups: []types.DBClusterParameterGroup{
		{DBClusterParameterGroupName: aws.String("aurora-pg"), DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("for c1")}}}
	want = `NAME        FAMILY                DESCRIPTION
aurora-pg   aurora-postgresql15   for c1
`
	if got := render(t, "table", groups); got != want {
		t.Errorf("cluster parameter groups:\n%s\nwant:\n%s", got, want)
	}
}
