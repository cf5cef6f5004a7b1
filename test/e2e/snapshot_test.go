package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// snapshotEngine is what the snapshot tests need of an engine.
type snapshotEngine struct {
	engine, version, user string
	// open connects through an endpoint port to database app as the master user.
	open func(port int) (*sql.DB, error)
}

var snapshotEngines = []snapshotEngine{
	{"postgres", "15", masterUser, func(port int) (*sql.DB, error) {
		return sql.Open("pgx", fmt.Sprintf("host=127.0.0.1 port=%d dbname=app user=%s password=%s connect_timeout=5", port, masterUser, masterPass))
	}},
	{"mariadb", "10.11", "admin", func(port int) (*sql.DB, error) {
		return sql.Open("mysql", fmt.Sprintf("admin:%s@tcp(127.0.0.1:%d)/app?timeout=5s", masterPass, port))
	}},
}

// TestSnapshotRestore takes a snapshot of an instance while a writer
// commits, changes the data, and restores the snapshot to a new instance:
// the restored data is a consistent point (every row acknowledged before
// the snapshot was asked for, and no gap after), and the original is
// unchanged. A copy of the snapshot restores the same; the instance is
// then deleted with a final snapshot, which restores its last data. For
// PostgreSQL and MariaDB, through aws-sdk-go-v2.
func TestSnapshotRestore(t *testing.T) {
	// Not parallel: it copies data directories, and runs before the
	// parallel tests rather than beside them on two cores.
	dir := dataDir(t)
	svc := openService(t, dir)
	requireVersions(t, svc, "15", "10.11")
	api := startAPI(t, svc).client
	// What CreateDBInstance accepts is listed, page by page.
	pages := awsrds.NewDescribeOrderableDBInstanceOptionsPaginator(api, &awsrds.DescribeOrderableDBInstanceOptionsInput{
		Engine: aws.String("postgres"), EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"), MaxRecords: aws.Int32(20)})
	var storage []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.OrderableDBInstanceOptions {
			storage = append(storage, aws.ToString(o.StorageType))
		}
	}
	if fmt.Sprint(storage) != "[gp2 gp3 io1 io2 standard]" {
		t.Fatalf("orderable storage types of postgres 15 db.t3.micro: %v", storage)
	}
	for _, e := range snapshotEngines {
		t.Run(e.engine, func(t *testing.T) {
			t.Parallel()
			testSnapshotRestore(t, api, e)
		})
	}
}

func testSnapshotRestore(t *testing.T, api *awsrds.Client, e snapshotEngine) {
	ctx := context.Background()
	id := "snap-" + e.engine
	if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		Engine: aws.String(e.engine), EngineVersion: aws.String(e.version), DBInstanceClass: aws.String("db.t3.micro"),
		MasterUsername: aws.String(e.user), MasterUserPassword: aws.String(masterPass), DBName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id)
	db := openDB(t, e, endpointPort(t, api, id))
	mustExec(t, db, "CREATE TABLE kept (id int PRIMARY KEY, v varchar(40))")
	mustExec(t, db, "CREATE TABLE writes (id int PRIMARY KEY)")
	for i := 1; i <= 100; i++ {
		mustExec(t, db, fmt.Sprintf("INSERT INTO kept VALUES (%d, 'before')", i))
	}

	// A writer commits rows 1, 2, 3, … one by one throughout the snapshot.
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); i < 1_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.Exec(fmt.Sprintf("INSERT INTO writes VALUES (%d)", i)); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			acked.Store(i)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	before := acked.Load()
	out, err := api.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBSnapshotIdentifier: aws.String(id + "-1"),
		DBInstanceIdentifier: aws.String(id), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(out.DBSnapshot.Status); s != "creating" || aws.ToString(out.DBSnapshot.SnapshotType) != "manual" {
		t.Fatalf("a new snapshot is %s, of type %s", s, aws.ToString(out.DBSnapshot.SnapshotType))
	}
	_, err = api.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBSnapshotIdentifier: aws.String(id + "-1"), DBInstanceIdentifier: aws.String(id)})
	wantCode(t, "a second snapshot of the same name", err, "DBSnapshotAlreadyExists")
	_, err = api.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBSnapshotIdentifier: aws.String(id + "-x"), DBInstanceIdentifier: aws.String("nobody")})
	wantCode(t, "a snapshot of a missing instance", err, "DBInstanceNotFound")
	_, err = api.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBSnapshotIdentifier: aws.String("bad--name"), DBInstanceIdentifier: aws.String(id)})
	wantCode(t, "a snapshot with a bad name", err, "InvalidParameterValue")
	snap := waitSnapshot(t, api, id+"-1")
	close(stop)
	wg.Wait()
	if aws.ToInt32(snap.PercentProgress) != 100 || aws.ToString(snap.Engine) != e.engine || aws.ToString(snap.MasterUsername) != e.user ||
		len(snap.TagList) != 1 || aws.ToString(snap.DBInstanceIdentifier) != id {
		t.Fatalf("the snapshot: %+v", snap)
	}

	// The data changes after the snapshot.
	mustExec(t, db, "UPDATE kept SET v = 'after'")
	mustExec(t, db, "DELETE FROM kept WHERE id > 50")

	_, err = api.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String(id), DBSnapshotIdentifier: aws.String(id + "-1")})
	wantCode(t, "a restore onto an existing instance", err, "DBInstanceAlreadyExists")
	_, err = api.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String(id + "-r"), DBSnapshotIdentifier: aws.String("nothing")})
	wantCode(t, "a restore of a missing snapshot", err, "DBSnapshotNotFound")
	restored, err := api.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String(id + "-r"), DBSnapshotIdentifier: aws.String(id + "-1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(restored.DBInstance.MasterUsername) != e.user || aws.ToString(restored.DBInstance.DBInstanceStatus) != "creating" {
		t.Fatalf("the restored instance: %+v", restored.DBInstance)
	}
	_, err = api.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(id + "-1")})
	wantCode(t, "delete a snapshot an instance is restored from", err, "InvalidDBSnapshotState")
	waitAvailable(t, api, id+"-r")
	rdb := openDB(t, e, endpointPort(t, api, id+"-r"))
	checkRows(t, rdb, "SELECT count(*) FROM kept WHERE v = 'before'", 100)
	var n, max int64
	if err := rdb.QueryRow("SELECT count(*), coalesce(max(id), 0) FROM writes").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != max || n < before {
		t.Fatalf("the restored writes are 1..%d with %d rows; %d were acknowledged before the snapshot was asked for", max, n, before)
	}
	t.Logf("%s: the snapshot holds writes 1..%d (%d acknowledged before it was asked for)", e.engine, max, before)
	checkRows(t, db, "SELECT count(*) FROM kept WHERE v = 'after'", 50)
	// The restored instance is an instance of its own: it takes writes.
	mustExec(t, rdb, "INSERT INTO kept VALUES (1000, 'restored')")

	// A copy restores the same data; attributes are kept.
	if _, err := api.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(id + "-1"),
		TargetDBSnapshotIdentifier: aws.String(id + "-copy"), CopyTags: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	cp := waitSnapshot(t, api, id+"-copy")
	if len(cp.TagList) != 1 || aws.ToString(cp.SourceDBSnapshotIdentifier) == "" || !aws.ToTime(cp.OriginalSnapshotCreateTime).Equal(aws.ToTime(snap.SnapshotCreateTime)) {
		t.Fatalf("the copy: %+v", cp)
	}
	if _, err := api.ModifyDBSnapshotAttribute(ctx, &awsrds.ModifyDBSnapshotAttributeInput{DBSnapshotIdentifier: aws.String(id + "-copy"),
		AttributeName: aws.String("restore"), ValuesToAdd: []string{"123456789012"}}); err != nil {
		t.Fatal(err)
	}
	_, err = api.ModifyDBSnapshotAttribute(ctx, &awsrds.ModifyDBSnapshotAttributeInput{DBSnapshotIdentifier: aws.String(id + "-copy"),
		AttributeName: aws.String("restore"), ValuesToAdd: []string{"not-an-account"}})
	wantCode(t, "share with a bad account", err, "InvalidParameterValue")
	attrs, err := api.DescribeDBSnapshotAttributes(ctx, &awsrds.DescribeDBSnapshotAttributesInput{DBSnapshotIdentifier: aws.String(id + "-copy")})
	if err != nil || len(attrs.DBSnapshotAttributesResult.DBSnapshotAttributes) != 1 ||
		fmt.Sprint(attrs.DBSnapshotAttributesResult.DBSnapshotAttributes[0].AttributeValues) != "[123456789012]" {
		t.Fatalf("attributes: %v %+v", err, attrs)
	}
	if _, err := api.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{ResourceName: cp.DBSnapshotArn,
		Tags: []types.Tag{{Key: aws.String("copy"), Value: aws.String("yes")}}}); err != nil {
		t.Fatal(err)
	}
	if tags, err := api.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: cp.DBSnapshotArn}); err != nil || len(tags.TagList) != 2 {
		t.Fatalf("tags of the copy: %v %+v", err, tags)
	}
	list, err := api.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String(id), SnapshotType: aws.String("manual")})
	if err != nil || len(list.DBSnapshots) != 2 {
		t.Fatalf("the instance's manual snapshots: %v %d", err, len(list.DBSnapshots))
	}
	if _, err := api.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(id + "-1")}); err != nil {
		t.Fatal(err)
	}
	// A restore takes the settings CreateDBInstance takes, and refuses
	// what teal cannot do.
	_, err = api.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String(id + "-c"), DBSnapshotIdentifier: aws.String(id + "-copy"), MultiAZ: aws.Bool(true)})
	wantCode(t, "a Multi-AZ restore", err, "InvalidParameterValue")
	copied, err := api.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String(id + "-c"), DBSnapshotIdentifier: aws.String(id + "-copy"),
		PreferredBackupWindow: aws.String("04:00-04:30"), CACertificateIdentifier: aws.String("rds-ca-ecc384-g1"),
		PubliclyAccessible: aws.Bool(true), CopyTagsToSnapshot: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, aws.ToString(copied.DBInstance.DBInstanceIdentifier))
	if d := describeAPI(t, api, id+"-c"); aws.ToString(d.PreferredBackupWindow) != "04:00-04:30" ||
		aws.ToString(d.CACertificateIdentifier) != "rds-ca-ecc384-g1" || !aws.ToBool(d.PubliclyAccessible) ||
		!aws.ToBool(d.CopyTagsToSnapshot) || d.PercentProgress != nil {
		t.Fatalf("the settings of the restored copy: %+v", d)
	}
	checkRows(t, openDB(t, e, endpointPort(t, api, id+"-c")), "SELECT count(*) FROM kept WHERE v = 'before'", 100)

	// Deleted with a final snapshot, the instance's last data restores.
	mustExec(t, db, "INSERT INTO kept VALUES (500, 'last')")
	db.Close()
	if _, err := api.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		FinalDBSnapshotIdentifier: aws.String(id + "-final")}); err != nil {
		t.Fatal(err)
	}
	waitDeleted(t, api, id)
	final := waitSnapshot(t, api, id+"-final")
	if aws.ToString(final.DBInstanceIdentifier) != id {
		t.Fatalf("the final snapshot: %+v", final)
	}
	if _, err := api.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String(id), DBSnapshotIdentifier: aws.String(id + "-final")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id)
	checkRows(t, openDB(t, e, endpointPort(t, api, id)), "SELECT count(*) FROM kept WHERE v = 'last'", 1)
}

func openDB(t *testing.T, e snapshotEngine, port int) *sql.DB {
	t.Helper()
	db, err := e.open(port)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func checkRows(t *testing.T, db *sql.DB, q string, want int) {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil || n != want {
		t.Fatalf("%s: %d rows (%v), want %d", q, n, err, want)
	}
}

func endpointPort(t *testing.T, api *awsrds.Client, id string) int {
	return int(aws.ToInt32(describeAPI(t, api, id).Endpoint.Port))
}

// waitSnapshot waits with the SDK's own waiter for a snapshot to be
// available.
func waitSnapshot(t *testing.T, api *awsrds.Client, id string) types.DBSnapshot {
	t.Helper()
	out, err := awsrds.NewDBSnapshotAvailableWaiter(api, func(o *awsrds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).WaitForOutput(context.Background(), &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)}, 3*time.Minute)
	if err != nil {
		t.Fatalf("wait for snapshot %s: %v", id, err)
	}
	return out.DBSnapshots[0]
}
