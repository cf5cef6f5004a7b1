package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestInstanceFields: the members of CreateDBInstance and ModifyDBInstance
// automation sets, through aws-sdk-go-v2. A PostgreSQL instance is created
// with its windows, storage performance, autoscaling limit, CA, Enhanced
// Monitoring and flags, and DescribeDBInstances returns them as RDS does;
// ModifyDBInstance changes them; bad values get RDS's faults and change
// nothing, and what teal cannot honour is refused, not ignored. Roles are
// associated and removed, CopyTagsToSnapshot tags a snapshot, and
// CreateBlueGreenDeployment checks green's target storage.
func TestInstanceFields(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	api := startAPI(t, svc).client
	ctx := context.Background()
	const id = "fields"
	const role = "arn:aws:iam::" + apiAccount + ":role/rds-monitoring"
	base := func() *awsrds.CreateDBInstanceInput {
		return &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
			EngineVersion: aws.String("15"), DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String("master"),
			MasterUserPassword: aws.String(masterPass), BackupRetentionPeriod: aws.Int32(0)}
	}

	// Refused creations create nothing.
	for _, c := range []struct {
		what string
		set  func(*awsrds.CreateDBInstanceInput)
		code string
	}{
		{"overlapping windows", func(in *awsrds.CreateDBInstanceInput) {
			in.PreferredBackupWindow, in.PreferredMaintenanceWindow = aws.String("05:00-05:30"), aws.String("sun:05:15-sun:05:45")
		}, "InvalidParameterValue"},
		{"a short backup window", func(in *awsrds.CreateDBInstanceInput) { in.PreferredBackupWindow = aws.String("05:00-05:20") }, "InvalidParameterValue"},
		{"a maintenance window without days", func(in *awsrds.CreateDBInstanceInput) { in.PreferredMaintenanceWindow = aws.String("05:00-05:30") },
			"InvalidParameterValue"},
		{"MultiAZ", func(in *awsrds.CreateDBInstanceInput) { in.MultiAZ = aws.Bool(true) }, "InvalidParameterValue"},
		{"encryption", func(in *awsrds.CreateDBInstanceInput) { in.StorageEncrypted = aws.Bool(true) }, "InvalidParameterValue"},
		{"a KMS key", func(in *awsrds.CreateDBInstanceInput) { in.KmsKeyId = aws.String("alias/aws/rds") }, "InvalidParameterValue"},
		{"Performance Insights", func(in *awsrds.CreateDBInstanceInput) { in.EnablePerformanceInsights = aws.Bool(true) }, "InvalidParameterValue"},
		{"log exports", func(in *awsrds.CreateDBInstanceInput) { in.EnableCloudwatchLogsExports = []string{"postgresql"} }, "InvalidParameterValue"},
		{"a secrets manager password", func(in *awsrds.CreateDBInstanceInput) { in.ManageMasterUserPassword = aws.Bool(true) }, "InvalidParameterValue"},
		{"io1 without IOPS", func(in *awsrds.CreateDBInstanceInput) { in.StorageType = aws.String("io1") }, "InvalidParameterCombination"},
		{"IOPS on small gp3", func(in *awsrds.CreateDBInstanceInput) {
			in.StorageType, in.Iops = aws.String("gp3"), aws.Int32(12000)
		}, "InvalidParameterCombination"},
		{"autoscaling below the storage", func(in *awsrds.CreateDBInstanceInput) { in.MaxAllocatedStorage = aws.Int32(10) }, "InvalidParameterCombination"},
		{"an unknown CA", func(in *awsrds.CreateDBInstanceInput) { in.CACertificateIdentifier = aws.String("rds-ca-nope") }, "CertificateNotFound"},
		{"monitoring without a role", func(in *awsrds.CreateDBInstanceInput) { in.MonitoringInterval = aws.Int32(60) }, "InvalidParameterCombination"},
		{"another zone", func(in *awsrds.CreateDBInstanceInput) { in.AvailabilityZone = aws.String(apiRegion + "b") }, "InvalidParameterValue"},
		{"another engine's license", func(in *awsrds.CreateDBInstanceInput) { in.LicenseModel = aws.String("license-included") },
			"InvalidParameterCombination"},
	} {
		in := base()
		c.set(in)
		_, err := api.CreateDBInstance(ctx, in)
		wantCode(t, "create with "+c.what, err, c.code)
	}
	_, err := api.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	wantCode(t, "describe after refused creations", err, "DBInstanceNotFound")

	in := base()
	in.StorageType, in.AllocatedStorage, in.Iops, in.StorageThroughput = aws.String("gp3"), aws.Int32(400), aws.Int32(15000), aws.Int32(600)
	in.MaxAllocatedStorage = aws.Int32(1000)
	in.PreferredBackupWindow, in.PreferredMaintenanceWindow = aws.String("22:00-22:30"), aws.String("Mon:01:00-mon:01:30")
	in.CACertificateIdentifier = aws.String("rds-ca-ecc384-g1")
	in.MonitoringInterval, in.MonitoringRoleArn = aws.Int32(30), aws.String(role)
	in.PubliclyAccessible, in.AutoMinorVersionUpgrade, in.CopyTagsToSnapshot = aws.Bool(true), aws.Bool(false), aws.Bool(true)
	in.AvailabilityZone, in.LicenseModel, in.NetworkType = aws.String(apiRegion+"a"), aws.String("postgresql-license"), aws.String("IPV4")
	in.MultiAZ, in.StorageEncrypted, in.EnableIAMDatabaseAuthentication = aws.Bool(false), aws.Bool(false), aws.Bool(false)
	in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}
	if _, err := api.CreateDBInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, api, id)
	d := describeAPI(t, api, id)
	for what, got := range map[string][2]any{
		"PreferredBackupWindow":      {aws.ToString(d.PreferredBackupWindow), "22:00-22:30"},
		"PreferredMaintenanceWindow": {aws.ToString(d.PreferredMaintenanceWindow), "mon:01:00-mon:01:30"},
		"StorageType":                {aws.ToString(d.StorageType), "gp3"},
		"AllocatedStorage":           {aws.ToInt32(d.AllocatedStorage), int32(400)},
		"Iops":                       {aws.ToInt32(d.Iops), int32(15000)},
		"StorageThroughput":          {aws.ToInt32(d.StorageThroughput), int32(600)},
		"MaxAllocatedStorage":        {aws.ToInt32(d.MaxAllocatedStorage), int32(1000)},
		"CACertificateIdentifier":    {aws.ToString(d.CACertificateIdentifier), "rds-ca-ecc384-g1"},
		"CertificateDetails":         {d.CertificateDetails != nil && aws.ToString(d.CertificateDetails.CAIdentifier) == "rds-ca-ecc384-g1" && d.CertificateDetails.ValidTill != nil, true},
		"MonitoringInterval":         {aws.ToInt32(d.MonitoringInterval), int32(30)},
		"MonitoringRoleArn":          {aws.ToString(d.MonitoringRoleArn), role},
		"PubliclyAccessible":         {aws.ToBool(d.PubliclyAccessible), true},
		"AutoMinorVersionUpgrade":    {aws.ToBool(d.AutoMinorVersionUpgrade), false},
		"CopyTagsToSnapshot":         {aws.ToBool(d.CopyTagsToSnapshot), true},
		"AvailabilityZone":           {aws.ToString(d.AvailabilityZone), apiRegion + "a"},
		"MultiAZ":                    {aws.ToBool(d.MultiAZ), false},
		"PromotionTier":              {aws.ToInt32(d.PromotionTier), int32(1)},
		"NetworkType":                {aws.ToString(d.NetworkType), "IPV4"},
		"LicenseModel":               {aws.ToString(d.LicenseModel), "postgresql-license"},
	} {
		if got[0] != got[1] {
			t.Errorf("created: %s = %v, want %v", what, got[0], got[1])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Refused modifications change nothing, even the members that were
	// fine in the same request.
	for _, c := range []struct {
		what string
		in   awsrds.ModifyDBInstanceInput
		code string
	}{
		{"a maintenance window over the backup window",
			awsrds.ModifyDBInstanceInput{PreferredMaintenanceWindow: aws.String("tue:22:15-tue:22:45")}, "InvalidParameterValue"},
		{"io1 above 50 IOPS per GiB",
			awsrds.ModifyDBInstanceInput{StorageType: aws.String("io1"), Iops: aws.Int32(20001)}, "InvalidParameterCombination"},
		{"throughput on io1",
			awsrds.ModifyDBInstanceInput{StorageType: aws.String("io1"), Iops: aws.Int32(4000), StorageThroughput: aws.Int32(500)}, "InvalidParameterCombination"},
		{"a role without monitoring",
			awsrds.ModifyDBInstanceInput{MonitoringInterval: aws.Int32(0), MonitoringRoleArn: aws.String(role)}, "InvalidParameterCombination"},
		{"an interval RDS does not take", awsrds.ModifyDBInstanceInput{MonitoringInterval: aws.Int32(7)}, "InvalidParameterValue"},
		{"log exports", awsrds.ModifyDBInstanceInput{CloudwatchLogsExportConfiguration: &types.CloudwatchLogsExportConfiguration{
			EnableLogTypes: []string{"postgresql"}}}, "InvalidParameterValue"},
		{"an engine upgrade in place", awsrds.ModifyDBInstanceInput{EngineVersion: aws.String("16")}, "InvalidParameterValue"},
		{"IAM authentication", awsrds.ModifyDBInstanceInput{EnableIAMDatabaseAuthentication: aws.Bool(true)}, "InvalidParameterValue"},
	} {
		c.in.DBInstanceIdentifier = aws.String(id)
		c.in.DeletionProtection, c.in.PreferredBackupWindow = aws.Bool(true), aws.String("23:00-23:30")
		if c.in.PreferredMaintenanceWindow != nil {
			c.in.PreferredBackupWindow = nil
		}
		_, err := api.ModifyDBInstance(ctx, &c.in)
		wantCode(t, "modify with "+c.what, err, c.code)
	}
	after := describeAPI(t, api, id)
	if aws.ToBool(after.DeletionProtection) || aws.ToString(after.PreferredBackupWindow) != "22:00-22:30" ||
		aws.ToString(after.StorageType) != "gp3" || aws.ToInt32(after.MonitoringInterval) != 30 {
		t.Fatalf("refused modifications changed the instance: protection %v, backup window %s, storage %s, monitoring %d",
			aws.ToBool(after.DeletionProtection), aws.ToString(after.PreferredBackupWindow), aws.ToString(after.StorageType),
			aws.ToInt32(after.MonitoringInterval))
	}

	// A modification: io1 storage, autoscaling off (Terraform sends the
	// storage itself), monitoring off, a backup window next to the
	// maintenance window, a new CA and promotion tier.
	if _, err := api.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		StorageType: aws.String("io1"), Iops: aws.Int32(4000), MaxAllocatedStorage: aws.Int32(400),
		MonitoringInterval: aws.Int32(0), PreferredBackupWindow: aws.String("00:30-01:00"),
		CACertificateIdentifier: aws.String("rds-ca-rsa4096-g1"), CertificateRotationRestart: aws.Bool(false),
		PromotionTier: aws.Int32(0), PubliclyAccessible: aws.Bool(false), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	d = describeAPI(t, api, id)
	if aws.ToString(d.DBInstanceStatus) != "available" || aws.ToString(d.StorageType) != "io1" || aws.ToInt32(d.Iops) != 4000 ||
		d.StorageThroughput != nil || d.MaxAllocatedStorage != nil || aws.ToInt32(d.MonitoringInterval) != 0 || d.MonitoringRoleArn != nil ||
		aws.ToString(d.PreferredBackupWindow) != "00:30-01:00" || aws.ToString(d.PreferredMaintenanceWindow) != "mon:01:00-mon:01:30" ||
		aws.ToString(d.CACertificateIdentifier) != "rds-ca-rsa4096-g1" || aws.ToInt32(d.PromotionTier) != 0 ||
		aws.ToBool(d.PubliclyAccessible) || aws.ToBool(d.AutoMinorVersionUpgrade) {
		t.Fatalf("modified: %s %s iops %d throughput %v max %v monitoring %d %v windows %s %s CA %s tier %d public %v minor %v",
			aws.ToString(d.DBInstanceStatus), aws.ToString(d.StorageType), aws.ToInt32(d.Iops), d.StorageThroughput, d.MaxAllocatedStorage,
			aws.ToInt32(d.MonitoringInterval), d.MonitoringRoleArn, aws.ToString(d.PreferredBackupWindow),
			aws.ToString(d.PreferredMaintenanceWindow), aws.ToString(d.CACertificateIdentifier), aws.ToInt32(d.PromotionTier),
			aws.ToBool(d.PubliclyAccessible), aws.ToBool(d.AutoMinorVersionUpgrade))
	}

	// IAM roles for PostgreSQL's features.
	const s3Role = "arn:aws:iam::" + apiAccount + ":role/s3-import"
	if _, err := api.AddRoleToDBInstance(ctx, &awsrds.AddRoleToDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		RoleArn: aws.String(s3Role), FeatureName: aws.String("s3Import")}); err != nil {
		t.Fatal(err)
	}
	_, err = api.AddRoleToDBInstance(ctx, &awsrds.AddRoleToDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		RoleArn: aws.String(s3Role), FeatureName: aws.String("s3Export")})
	wantCode(t, "the same role again", err, "DBInstanceRoleAlreadyExists")
	_, err = api.AddRoleToDBInstance(ctx, &awsrds.AddRoleToDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		RoleArn: aws.String(role), FeatureName: aws.String("Comprehend")})
	wantCode(t, "a feature postgres lacks", err, "InvalidParameterValue")
	roles := describeAPI(t, api, id).AssociatedRoles
	if len(roles) != 1 || aws.ToString(roles[0].RoleArn) != s3Role || aws.ToString(roles[0].FeatureName) != "s3Import" ||
		aws.ToString(roles[0].Status) != "ACTIVE" {
		t.Fatalf("associated roles: %+v", roles)
	}
	if _, err := api.RemoveRoleFromDBInstance(ctx, &awsrds.RemoveRoleFromDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		RoleArn: aws.String(s3Role), FeatureName: aws.String("s3Import")}); err != nil {
		t.Fatal(err)
	}
	_, err = api.RemoveRoleFromDBInstance(ctx, &awsrds.RemoveRoleFromDBInstanceInput{DBInstanceIdentifier: aws.String(id),
		RoleArn: aws.String(s3Role), FeatureName: aws.String("s3Import")})
	wantCode(t, "a role no longer there", err, "DBInstanceRoleNotFound")
	if roles := describeAPI(t, api, id).AssociatedRoles; len(roles) != 0 {
		t.Fatalf("associated roles after removal: %+v", roles)
	}

	// A snapshot without tags of its own takes the instance's.
	if _, err := api.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(id),
		DBSnapshotIdentifier: aws.String(id + "-snap")}); err != nil {
		t.Fatal(err)
	}
	snap := waitSnapshot(t, api, id+"-snap")
	if len(snap.TagList) != 1 || aws.ToString(snap.TagList[0].Key) != "team" || aws.ToString(snap.TagList[0].Value) != "data" {
		t.Fatalf("snapshot tags: %+v", snap.TagList)
	}

	// Green's storage is checked against blue's before anything is built.
	arn := aws.ToString(d.DBInstanceArn)
	for _, c := range []struct {
		what string
		in   awsrds.CreateBlueGreenDeploymentInput
		code string
	}{
		{"io2 without IOPS", awsrds.CreateBlueGreenDeploymentInput{TargetStorageType: aws.String("io2")}, "InvalidParameterCombination"},
		{"magnetic storage", awsrds.CreateBlueGreenDeploymentInput{TargetStorageType: aws.String("standard")}, "StorageTypeNotSupported"},
		{"IOPS past io1's ratio", awsrds.CreateBlueGreenDeploymentInput{TargetIops: aws.Int32(30000)}, "InvalidParameterCombination"},
		{"a KMS key for green", awsrds.CreateBlueGreenDeploymentInput{TargetResourceConfigurations: []types.TargetResourceConfiguration{
			{SourceArn: aws.String(arn), TargetKmsKeyId: aws.String("alias/green")}}}, "InvalidParameterValue"},
	} {
		c.in.BlueGreenDeploymentName, c.in.Source = aws.String("fields-bg"), aws.String(arn)
		_, err := api.CreateBlueGreenDeployment(ctx, &c.in)
		wantCode(t, "blue/green with "+c.what, err, c.code)
	}
	if out, err := api.DescribeBlueGreenDeployments(ctx, &awsrds.DescribeBlueGreenDeploymentsInput{}); err != nil || len(out.BlueGreenDeployments) != 0 {
		t.Fatalf("refused deployments left %+v, %v", out, err)
	}
}
