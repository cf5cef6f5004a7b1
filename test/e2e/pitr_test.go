package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/tealdb/teal/internal/server"
)

// TestPointInTimeRestore commits rows at recorded times and restores the
// instance to a time between two commits: exactly the earlier rows are
// there. Then to the latest restorable time, and from the backups a
// deleted instance retained. PostgreSQL and MariaDB, through
// aws-sdk-go-v2.
func TestPointInTimeRestore(t *testing.T) {
	// Not parallel: it copies data directories, and runs before the
	// parallel tests rather than beside them on two cores.
	dir := dataDir(t)
	svc := openServiceWith(t, dir, func(c *server.Config) { c.BackupInterval = 2 * time.Second })
	requireVersions(t, svc, "15", "10.11")
	api := startAPI(t, svc).client
	for _, e := range snapshotEngines {
		t.Run(e.engine, func(t *testing.T) {
			t.Parallel()
			testPointInTimeRestore(t, api, e)
		})
	}
}

func testPointInTimeRestore(t *testing.T, api *awsrds.Client, e snapshotEngine) {
	ctx := context.Background()
	id := "pitr-" + e.engine
	if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		Engine: aws.String(e.engine), EngineVersion: aws.String(e.version), DBInstanceClass: aws.String("db.t3.micro"),
		MasterUsername: aws.String(e.user), MasterUserPassword: aws.String(masterPass), DBName: aws.String("app"),
		BackupRetentionPeriod: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id)
	earliest := waitRestorable(t, api, id)
	db := openDB(t, e, endpointPort(t, api, id))
	mustExec(t, db, "CREATE TABLE events (name varchar(10) PRIMARY KEY)")

	// Three commits, seconds apart; binary log times are whole seconds.
	commit := func(name string) (before, after time.Time) {
		before = time.Now()
		mustExec(t, db, fmt.Sprintf("INSERT INTO events VALUES ('%s')", name))
		return before, time.Now()
	}
	_, afterA := commit("a")
	time.Sleep(2200 * time.Millisecond)
	beforeB, _ := commit("b")
	time.Sleep(2200 * time.Millisecond)
	commit("c")
	between := afterA.Add(beforeB.Sub(afterA) / 2)

	_, err := api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String(id),
		TargetDBInstanceIdentifier: aws.String(id + "-x"), RestoreTime: aws.Time(between), UseLatestRestorableTime: aws.Bool(true)})
	wantCode(t, "RestoreTime with UseLatestRestorableTime", err, "InvalidParameterCombination")
	_, err = api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String(id),
		TargetDBInstanceIdentifier: aws.String(id + "-x"), RestoreTime: aws.Time(earliest.Add(-time.Hour))})
	wantCode(t, "a time before the earliest restorable", err, "InvalidRestoreFault")
	_, err = api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String(id),
		TargetDBInstanceIdentifier: aws.String(id + "-x"), RestoreTime: aws.Time(time.Now().Add(time.Hour))})
	wantCode(t, "a time in the future", err, "InvalidRestoreFault")

	if _, err := api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String(id),
		TargetDBInstanceIdentifier: aws.String(id + "-between"), RestoreTime: aws.Time(between)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String(id),
		TargetDBInstanceIdentifier: aws.String(id + "-latest"), UseLatestRestorableTime: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id+"-between")
	checkNames(t, openDB(t, e, endpointPort(t, api, id+"-between")), "a")
	waitAvailable(t, api, id+"-latest")
	checkNames(t, openDB(t, e, endpointPort(t, api, id+"-latest")), "a b c")

	// Deleted with its backups retained, the instance still restores.
	mustExec(t, db, "INSERT INTO events VALUES ('d')")
	db.Close()
	rid := aws.ToString(describeAPI(t, api, id).DbiResourceId)
	if _, err := api.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		SkipFinalSnapshot: aws.Bool(true), DeleteAutomatedBackups: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	waitDeleted(t, api, id)
	kept, err := api.DescribeDBInstanceAutomatedBackups(ctx, &awsrds.DescribeDBInstanceAutomatedBackupsInput{DbiResourceId: aws.String(rid)})
	if err != nil || len(kept.DBInstanceAutomatedBackups) != 1 || aws.ToString(kept.DBInstanceAutomatedBackups[0].Status) != "retained" {
		t.Fatalf("the retained backups: %v %+v", err, kept)
	}
	arn := aws.ToString(kept.DBInstanceAutomatedBackups[0].DBInstanceAutomatedBackupsArn)
	if _, err := api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceAutomatedBackupsArn: aws.String(arn),
		TargetDBInstanceIdentifier: aws.String(id + "-retained"), UseLatestRestorableTime: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id+"-retained")
	checkNames(t, openDB(t, e, endpointPort(t, api, id+"-retained")), "a b c d")
	if _, err := api.DeleteDBInstanceAutomatedBackup(ctx, &awsrds.DeleteDBInstanceAutomatedBackupInput{DbiResourceId: aws.String(rid)}); err != nil {
		t.Fatal(err)
	}
	_, err = api.DescribeDBInstanceAutomatedBackups(ctx, &awsrds.DescribeDBInstanceAutomatedBackupsInput{DbiResourceId: aws.String(rid)})
	wantCode(t, "describe deleted automated backups", err, "DBInstanceAutomatedBackupNotFound")
}

// waitRestorable waits until an instance's first base backup is done,
// and returns its earliest restorable time.
func waitRestorable(t *testing.T, api *awsrds.Client, id string) time.Time {
	t.Helper()
	var earliest time.Time
	eventually(t, 2*time.Minute, id+" has a restorable window", func() error {
		out, err := api.DescribeDBInstanceAutomatedBackups(context.Background(), &awsrds.DescribeDBInstanceAutomatedBackupsInput{
			DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			return err
		}
		if len(out.DBInstanceAutomatedBackups) != 1 {
			return errorf("%d automated backups", len(out.DBInstanceAutomatedBackups))
		}
		w := out.DBInstanceAutomatedBackups[0].RestoreWindow
		if w == nil || w.EarliestTime == nil || w.LatestTime == nil {
			return errorf("no restore window yet")
		}
		earliest = aws.ToTime(w.EarliestTime)
		return nil
	})
	return earliest
}

// checkNames fails unless the events table holds exactly these names.
func checkNames(t *testing.T, db *sql.DB, want string) {
	t.Helper()
	rows, err := db.Query("SELECT name FROM events ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := ""
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		if got != "" {
			got += " "
		}
		got += n
	}
	if got != want {
		t.Fatalf("restored rows %q, want %q", got, want)
	}
}

// TestAutomatedBackupRetention shortens a day of retention to seconds:
// a base backup is taken each day, the ones past the retention are
// deleted with the archived changes only they needed, and a restore to
// the new earliest restorable time works.
func TestAutomatedBackupRetention(t *testing.T) {
	// Not parallel: it copies data directories, and runs before the
	// parallel tests rather than beside them on two cores.
	dir := dataDir(t)
	svc := openServiceWith(t, dir, func(c *server.Config) { c.BackupInterval, c.BackupDay = time.Second, 8*time.Second })
	requireVersions(t, svc, "15")
	api := startAPI(t, svc).client
	ctx := context.Background()
	e := snapshotEngines[0]
	if _, err := api.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("kept"),
		Engine: aws.String("postgres"), EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"),
		MasterUsername: aws.String(masterUser), MasterUserPassword: aws.String(masterPass), DBName: aws.String("app"),
		BackupRetentionPeriod: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, "kept")
	first := waitRestorable(t, api, "kept")
	bases := func() []string {
		out, err := api.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String("kept"), SnapshotType: aws.String("automated")})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, sn := range out.DBSnapshots {
			ids = append(ids, aws.ToString(sn.DBSnapshotIdentifier))
		}
		return ids
	}
	firstBases := bases()
	if len(firstBases) != 1 || firstBases[0][:len("rds:kept-")] != "rds:kept-" {
		t.Fatalf("the first automated snapshots: %v", firstBases)
	}
	db := openDB(t, e, endpointPort(t, api, "kept"))
	mustExec(t, db, "CREATE TABLE events (name varchar(10) PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO events VALUES ('early')")

	// A day later there is a new base; a day after that, the first is gone.
	rid := aws.ToString(describeAPI(t, api, "kept").DbiResourceId)
	var earliest time.Time
	eventually(t, time.Minute, "the first base is pruned", func() error {
		now := bases()
		for _, id := range now {
			if id == firstBases[0] {
				return errorf("the first base is still there: %v", now)
			}
		}
		if len(now) == 0 {
			return errorf("no base at all")
		}
		earliest = waitRestorable(t, api, "kept")
		if !earliest.After(first) {
			return errorf("the earliest restorable time is still %s", earliest)
		}
		// No archived change older than the pruned base is kept.
		entries, err := os.ReadDir(filepath.Join(dir, "backups", "archive", rid))
		if err != nil {
			return err
		}
		for _, ent := range entries {
			if fi, err := ent.Info(); err == nil && fi.ModTime().Before(first) {
				return errorf("archived %s (%s) is older than the pruned base (%s)", ent.Name(), fi.ModTime(), first)
			}
		}
		return nil
	})
	if _, err := api.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String("kept"),
		TargetDBInstanceIdentifier: aws.String("kept-oldest"), RestoreTime: aws.Time(earliest)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, "kept-oldest")
	checkNames(t, openDB(t, e, endpointPort(t, api, "kept-oldest")), "early")
}
