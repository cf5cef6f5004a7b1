package api

import (
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

func TestEncodeResult(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 891e6, time.FixedZone("CET", 3600))
	tests := []struct {
		name   string
		action string
		result any
		want   []string // fragments, in order
		absent []string
	}{
		{
			name:   "instance with lists",
			action: "DescribeDBInstances",
			result: describeDBInstancesResult{Marker: "bmV4dA", DBInstances: listOf("DBInstance", []dbInstanceXML{dbInstanceOf(&rds.DBInstance{
				DBInstanceIdentifier: "db1", DBInstanceStatus: "available", Engine: "postgres", EngineVersion: "15.8",
				Endpoint:                         &rds.Endpoint{Address: "127.0.0.1", Port: 5433},
				InstanceCreateTime:               created,
				DBParameterGroups:                []rds.ParameterGroupStatus{{DBParameterGroupName: "default.postgres15", ParameterApplyStatus: "in-sync"}},
				ReadReplicaDBInstanceIdentifiers: []string{"db1-r1", "db1-r2"},
				TagList:                          []rds.Tag{{Key: "env", Value: "a<b&c"}},
			})})},
			want: []string{
				`<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult>`,
				`<Marker>bmV4dA</Marker><DBInstances><DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier>`,
				`<Endpoint><Address>127.0.0.1</Address><Port>5433</Port></Endpoint>`,
				`<InstanceCreateTime>2026-03-04T04:06:07.891Z</InstanceCreateTime>`,
				`<DBSecurityGroups></DBSecurityGroups><VpcSecurityGroups></VpcSecurityGroups>`,
				`<DBParameterGroups><DBParameterGroup><DBParameterGroupName>default.postgres15</DBParameterGroupName><ParameterApplyStatus>in-sync</ParameterApplyStatus></DBParameterGroup></DBParameterGroups>`,
				`<PendingModifiedValues></PendingModifiedValues>`,
				`<ReadReplicaDBInstanceIdentifiers><ReadReplicaDBInstanceIdentifier>db1-r1</ReadReplicaDBInstanceIdentifier><ReadReplicaDBInstanceIdentifier>db1-r2</ReadReplicaDBInstanceIdentifier></ReadReplicaDBInstanceIdentifiers>`,
				`<LicenseModel>postgresql-license</LicenseModel>`,
				`<TagList><Tag><Key>env</Key><Value>a&lt;b&amp;c</Value></Tag></TagList>`,
				`</DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`,
			},
			absent: []string{"StatusInfos", "ReadReplicaSourceDBInstanceIdentifier"},
		},
		{
			name:   "replica status infos",
			action: "CreateDBInstanceReadReplica",
			result: dbInstanceResult{DBInstance: dbInstanceOf(&rds.DBInstance{DBInstanceIdentifier: "r", ReadReplicaSourceDBInstanceIdentifier: "src",
				StatusInfos: []rds.StatusInfo{{StatusType: "read replication", Normal: true, Status: "replicating"}}})},
			want: []string{
				`<CreateDBInstanceReadReplicaResult><DBInstance><DBInstanceIdentifier>r</DBInstanceIdentifier>`,
				`<ReadReplicaSourceDBInstanceIdentifier>src</ReadReplicaSourceDBInstanceIdentifier>`,
				`<StatusInfos><DBInstanceStatusInfo><StatusType>read replication</StatusType><Normal>true</Normal><Status>replicating</Status></DBInstanceStatusInfo></StatusInfos>`,
				`<TagList></TagList>`,
			},
		},
		{
			name:   "empty list is an empty element",
			action: "DescribeDBParameters",
			result: describeDBParametersResult{Parameters: parametersOf(nil)},
			want:   []string{`<DescribeDBParametersResult><Parameters></Parameters></DescribeDBParametersResult>`},
			absent: []string{"Marker"},
		},
		{
			name:   "events",
			action: "DescribeEvents",
			result: describeEventsResult{Events: eventsOf([]rds.Event{{SourceIdentifier: "db1", SourceType: "db-instance",
				Message: "DB instance created", EventCategories: []string{"creation"}, Date: created}})},
			want: []string{`<Events><Event><SourceIdentifier>db1</SourceIdentifier><SourceType>db-instance</SourceType>` +
				`<Message>DB instance created</Message><EventCategories><EventCategory>creation</EventCategory></EventCategories>` +
				`<Date>2026-03-04T04:06:07.891Z</Date></Event></Events>`},
		},
		{
			name:   "teal's members of a deployment: lag while available, findings, phases in the order they ran",
			action: "DescribeBlueGreenDeployments",
			result: describeBlueGreenResult{BlueGreenDeployments: listOf("member", []blueGreenXML{blueGreenOf(rds.BlueGreenDeployment{
				BlueGreenDeploymentIdentifier: "bgd-1", Status: "AVAILABLE", ReplicaLagSeconds: 0.25, ReplicaLagBytes: 4096,
				Findings:          []bluegreen.Finding{{Kind: "no-replica-identity", Database: "app", Object: "t<1>", Blocking: true, Message: "no key"}},
				SwitchoverPhase:   "done",
				SwitchoverTimings: map[string]float64{"release": 9, "guardrails": 1, "catch-up": 4, "stop-writes": 3, "zz-extra": 7},
			})})},
			want: []string{
				`<TealReplicaLagSeconds>0.25</TealReplicaLagSeconds><TealReplicaLagBytes>4096</TealReplicaLagBytes>`,
				`<TealFindings><member><Kind>no-replica-identity</Kind><Database>app</Database><Object>t&lt;1&gt;</Object><Blocking>true</Blocking><Message>no key</Message></member></TealFindings>`,
				`<TealSwitchoverPhase>done</TealSwitchoverPhase>`,
				`<TealSwitchoverTimings><member><Phase>guardrails</Phase><Milliseconds>1</Milliseconds></member>` +
					`<member><Phase>stop-writes</Phase><Milliseconds>3</Milliseconds></member>` +
					`<member><Phase>catch-up</Phase><Milliseconds>4</Milliseconds></member>` +
					`<member><Phase>release</Phase><Milliseconds>9</Milliseconds></member>` +
					`<member><Phase>zz-extra</Phase><Milliseconds>7</Milliseconds></member></TealSwitchoverTimings>`,
			},
		},
		{
			name:   "a deployment that is not available has no lag, and no empty teal members",
			action: "DescribeBlueGreenDeployments",
			result: describeBlueGreenResult{BlueGreenDeployments: listOf("member", []blueGreenXML{blueGreenOf(rds.BlueGreenDeployment{
				BlueGreenDeploymentIdentifier: "bgd-2", Status: "PROVISIONING", ReplicaLagSeconds: 3})})},
			want:   []string{`<BlueGreenDeploymentIdentifier>bgd-2</BlueGreenDeploymentIdentifier>`},
			absent: []string{"TealReplicaLag", "TealFindings", "TealSwitchoverPhase", "TealSwitchoverTimings"},
		},
		{
			name:   "no result element",
			action: "DeleteDBParameterGroup",
			result: noResult{},
			want:   []string{`<DeleteDBParameterGroupResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><ResponseMetadata>`},
			absent: []string{"DeleteDBParameterGroupResult"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := encodeResult(tt.action, "req-1", tt.result)
			if err != nil {
				t.Fatal(err)
			}
			s := string(body)
			if !strings.HasPrefix(s, `<?xml version="1.0" encoding="UTF-8"?>`) {
				t.Errorf("no XML declaration: %s", s)
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(s[at:], w)
				if i < 0 {
					t.Fatalf("missing (or out of order) %s\nin %s", w, s)
				}
				at += i + len(w)
			}
			for _, a := range tt.absent {
				if strings.Contains(s, a) {
					t.Errorf("has %s: %s", a, s)
				}
			}
		})
	}
}

func TestEncodeFault(t *testing.T) {
	got := string(encodeFault(&rds.Fault{Code: "DBInstanceNotFound", Status: 404, Message: "DBInstance <x> not found."}, "req-2"))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>` +
		`<Message>DBInstance &lt;x&gt; not found.</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if got := string(encodeFault(&rds.Fault{Code: "InternalFailure", Status: 500}, "r")); !strings.Contains(got, "<Type>Receiver</Type>") {
		t.Fatalf("a 5xx fault is the receiver's: %s", got)
	}
}
