package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
)

// TestStopStartInstance stops an instance through the Go SDK: its
// endpoint refuses connections and it stays stopped through a restart of
// teal; started again, it has its data on the same endpoint. What cannot
// be stopped or started is refused with the model's faults.
func TestStopStartInstance(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15")
	api := startAPI(t, svc).client
	ctx := context.Background()
	if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("nightly"),
		Engine: aws.String("postgres"), EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"),
		MasterUsername: aws.String(masterUser), MasterUserPassword: aws.String(masterPass), DBName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	_, err := api.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("nightly"),
		ManageMasterUserPassword: aws.Bool(true)})
	wantCode(t, "a password kept by a secrets manager", err, "InvalidParameterValue")
	waitAvailable(t, api, "nightly")
	port := int(aws.ToInt32(describeAPI(t, api, "nightly").Endpoint.Port))
	if _, err := connectPort(t, port, "app").Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the stop')"); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateDBInstanceReadReplica(ctx, &awsrds.CreateDBInstanceReadReplicaInput{
		DBInstanceIdentifier: aws.String("nightly-r"), SourceDBInstanceIdentifier: aws.String("nightly")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, "nightly-r")

	_, err = api.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("nightly-r")})
	wantCode(t, "stop a read replica", err, "InvalidDBInstanceState")
	_, err = api.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("nightly")})
	wantCode(t, "stop the source of a read replica", err, "InvalidDBInstanceState")
	_, err = api.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("nobody")})
	wantCode(t, "stop a missing instance", err, "DBInstanceNotFound")
	_, err = api.StartDBInstance(ctx, &awsrds.StartDBInstanceInput{DBInstanceIdentifier: aws.String("nightly")})
	wantCode(t, "start an available instance", err, "InvalidDBInstanceState")
	if _, err := api.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("nightly-r"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitDeleted(t, api, "nightly-r")
	_, err = api.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("nightly"), DBSnapshotIdentifier: aws.String("rds:before-stop")})
	wantCode(t, "stop with an automated snapshot's name", err, "InvalidParameterValue")

	// The stop takes a snapshot first.
	out, err := api.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("nightly"), DBSnapshotIdentifier: aws.String("before-stop")})
	if err != nil || aws.ToString(out.DBInstance.DBInstanceStatus) != "stopping" {
		t.Fatalf("stop: %v %+v", err, out)
	}
	eventually(t, time.Minute, "nightly is stopped", func() error {
		if s := aws.ToString(describeAPI(t, api, "nightly").DBInstanceStatus); s != "stopped" {
			return errorf("status %s", s)
		}
		return nil
	})
	snaps, err := api.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("before-stop")})
	if err != nil || len(snaps.DBSnapshots) != 1 || aws.ToString(snaps.DBSnapshots[0].Status) != "available" ||
		aws.ToString(snaps.DBSnapshots[0].DBInstanceIdentifier) != "nightly" {
		t.Fatalf("the snapshot taken before the stop: %v %+v", err, snaps)
	}
	if c, err := tryConnect(ctx, port, "app"); err == nil {
		c.Close(ctx)
		t.Fatal("a stopped instance's endpoint took a connection")
	}
	_, err = api.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String("nightly")})
	wantCode(t, "reboot a stopped instance", err, "InvalidDBInstanceState")

	// teal restarts: the instance stays stopped, its server is not started.
	svc.Close()
	svc = openService(t, dir)
	api = startAPI(t, svc).client
	time.Sleep(time.Second)
	if s := aws.ToString(describeAPI(t, api, "nightly").DBInstanceStatus); s != "stopped" {
		t.Fatalf("after a restart of teal the stopped instance is %s", s)
	}
	if n := len(serverProcesses(t, dir)); n != 0 {
		t.Fatalf("%d servers run for a stopped instance", n)
	}

	if _, err := api.StartDBInstance(ctx, &awsrds.StartDBInstanceInput{DBInstanceIdentifier: aws.String("nightly")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, "nightly")
	var v string
	if err := connectPort(t, port, "app").QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "before the stop" {
		t.Fatalf("after the start, through the same endpoint: %q %v", v, err)
	}
	events, err := api.DescribeEvents(ctx, &awsrds.DescribeEventsInput{SourceType: "db-instance", SourceIdentifier: aws.String("nightly")})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events.Events {
		seen[aws.ToString(e.Message)] = true
	}
	if !seen["DB instance stopped"] || !seen["DB instance started"] {
		t.Fatalf("events: %v", seen)
	}
	// The server's log, under the name RDS gives it, read in portions.
	files, err := api.DescribeDBLogFiles(ctx, &awsrds.DescribeDBLogFilesInput{DBInstanceIdentifier: aws.String("nightly")})
	if err != nil || len(files.DescribeDBLogFiles) != 1 || aws.ToString(files.DescribeDBLogFiles[0].LogFileName) != "error/postgresql.log" ||
		aws.ToInt64(files.DescribeDBLogFiles[0].Size) == 0 {
		t.Fatalf("log files: %v %+v", err, files)
	}
	first, err := api.DownloadDBLogFilePortion(ctx, &awsrds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String("nightly"),
		LogFileName: aws.String("error/postgresql.log"), Marker: aws.String("0"), NumberOfLines: aws.Int32(2)})
	if err != nil || strings.Count(aws.ToString(first.LogFileData), "\n") != 2 || !aws.ToBool(first.AdditionalDataPending) {
		t.Fatalf("the first two lines: %v %+v", err, first)
	}
	var whole strings.Builder
	whole.WriteString(aws.ToString(first.LogFileData))
	for marker, more, i := first.Marker, true, 0; more; i++ {
		if i > 1000 {
			t.Fatal("the log never ends")
		}
		p, err := api.DownloadDBLogFilePortion(ctx, &awsrds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String("nightly"),
			LogFileName: aws.String("error/postgresql.log"), Marker: marker, NumberOfLines: aws.Int32(50)})
		if err != nil {
			t.Fatal(err)
		}
		whole.WriteString(aws.ToString(p.LogFileData))
		marker, more = p.Marker, aws.ToBool(p.AdditionalDataPending)
	}
	if n := strings.Count(whole.String(), "database system is ready to accept connections"); n < 2 {
		t.Fatalf("the log read in portions shows %d starts of the server, want 2 or more:\n%s", n, whole.String())
	}
	tail, err := api.DownloadDBLogFilePortion(ctx, &awsrds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String("nightly"),
		LogFileName: aws.String("error/postgresql.log"), NumberOfLines: aws.Int32(1)})
	if last := aws.ToString(tail.LogFileData); err != nil || len(last) < 2 || strings.Count(last, "\n") != 1 || !strings.HasSuffix(last, "\n") {
		t.Fatalf("the last line: %v %+v", err, tail)
	}
	_, err = api.DownloadDBLogFilePortion(ctx, &awsrds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String("nightly"),
		LogFileName: aws.String("../../teal.db")})
	wantCode(t, "a path as log file name", err, "DBLogFileNotFoundFault")
	_, err = api.DescribeDBLogFiles(ctx, &awsrds.DescribeDBLogFilesInput{DBInstanceIdentifier: aws.String("nobody")})
	wantCode(t, "log files of a missing instance", err, "DBInstanceNotFound")
}
