package rds

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func ip(n int) *int   { return &n }
func bp(b bool) *bool { return &b }
func faultOf(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// wantFault checks err is a fault with code whose message holds msg.
func wantFault(t *testing.T, err error, code, msg string) {
	t.Helper()
	f := faultOf(err)
	if f == nil || f.Code != code || !strings.Contains(f.Message, msg) {
		t.Fatalf("got %v, want %s with %q", err, code, msg)
	}
}

func TestSettlePerformance(t *testing.T) {
	for _, c := range []struct {
		name                 string
		st                   storagePlan
		iops, throughput     *int
		cur, curT            int
		wantIops, wantT      int
		code, msg            string
		shownIops, shownThru int
	}{
		{name: "gp2", st: storagePlan{typ: "gp2", gib: 100}},
		{name: "gp2 with IOPS", st: storagePlan{typ: "gp2", gib: 100}, iops: ip(3000), code: "InvalidParameterCombination", msg: "no provisioned IOPS"},
		{name: "gp2 with IOPS 0 (leaving io1)", st: storagePlan{typ: "gp2", gib: 100, typeChanged: true}, iops: ip(0), cur: 3000},
		{name: "standard with throughput", st: storagePlan{typ: "standard", gib: 100}, throughput: ip(125), code: "InvalidParameterCombination", msg: "gp3"},
		{name: "small gp3 has its baseline", st: storagePlan{typ: "gp3", gib: 20}, shownIops: 3000, shownThru: 125},
		{name: "small gp3 takes no IOPS", st: storagePlan{typ: "gp3", gib: 399}, iops: ip(12000), code: "InvalidParameterCombination", msg: "less than 400"},
		{name: "small gp3 takes no throughput", st: storagePlan{typ: "gp3", gib: 20}, throughput: ip(125), code: "InvalidParameterCombination", msg: "less than 400"},
		{name: "large gp3 defaults", st: storagePlan{typ: "gp3", gib: 400}, shownIops: 12000, shownThru: 500},
		{name: "large gp3 provisioned", st: storagePlan{typ: "gp3", gib: 500}, iops: ip(20000), throughput: ip(1000),
			wantIops: 20000, wantT: 1000, shownIops: 20000, shownThru: 1000},
		{name: "large gp3 under the floor", st: storagePlan{typ: "gp3", gib: 500}, iops: ip(11999), code: "InvalidParameterValue", msg: "12000 to 64000"},
		{name: "large gp3 over the ceiling", st: storagePlan{typ: "gp3", gib: 500}, throughput: ip(4001), code: "InvalidParameterValue", msg: "500 to 4000"},
		{name: "large gp3 throughput per IOPS", st: storagePlan{typ: "gp3", gib: 500}, throughput: ip(3001), code: "InvalidParameterCombination", msg: "0.25"},
		{name: "large gp3 keeps its IOPS", st: storagePlan{typ: "gp3", gib: 800, changed: true}, cur: 16000, curT: 600,
			wantIops: 16000, wantT: 600, shownIops: 16000, shownThru: 600},
		{name: "gp3 growing past 400 takes the larger baseline", st: storagePlan{typ: "gp3", gib: 400, changed: true},
			shownIops: 12000, shownThru: 500},
		{name: "io1 needs IOPS", st: storagePlan{typ: "io1", gib: 100}, code: "InvalidParameterCombination", msg: "give Iops"},
		{name: "io1", st: storagePlan{typ: "io1", gib: 100}, iops: ip(1000), wantIops: 1000, shownIops: 1000},
		{name: "io1 at 50 per GiB", st: storagePlan{typ: "io1", gib: 20}, iops: ip(1000), wantIops: 1000, shownIops: 1000},
		{name: "io1 over 50 per GiB", st: storagePlan{typ: "io1", gib: 100}, iops: ip(5001), code: "InvalidParameterCombination", msg: "0.5 to 50"},
		{name: "io1 under 0.5 per GiB", st: storagePlan{typ: "io1", gib: 4000}, iops: ip(1999), code: "InvalidParameterCombination", msg: "0.5 to 50"},
		{name: "io2 at 1000 per GiB", st: storagePlan{typ: "io2", gib: 100}, iops: ip(100000), wantIops: 100000, shownIops: 100000},
		{name: "io1 under 1000", st: storagePlan{typ: "io1", gib: 20}, iops: ip(999), code: "InvalidParameterValue", msg: "1000 to 256000"},
		{name: "io1 with throughput", st: storagePlan{typ: "io1", gib: 100}, iops: ip(1000), throughput: ip(125), code: "InvalidParameterCombination", msg: "gp3"},
		{name: "io1 keeps its IOPS", st: storagePlan{typ: "io1", gib: 200, changed: true}, cur: 3000, wantIops: 3000, shownIops: 3000},
		{name: "io1 growing past its ratio", st: storagePlan{typ: "io1", gib: 2001, changed: true}, cur: 1000, code: "InvalidParameterCombination", msg: "ratio"},
		{name: "a new type drops the old IOPS", st: storagePlan{typ: "io2", gib: 100, changed: true, typeChanged: true}, cur: 3000,
			code: "InvalidParameterCombination", msg: "give Iops"},
		{name: "negative", st: storagePlan{typ: "io1", gib: 100}, iops: ip(-1), code: "InvalidParameterValue", msg: "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			iops, thr, err := settlePerformance(c.st, c.iops, c.throughput, c.cur, c.curT)
			if c.code != "" {
				wantFault(t, err, c.code, c.msg)
				return
			}
			if err != nil || iops != c.wantIops || thr != c.wantT {
				t.Fatalf("got %d %d %v, want %d %d", iops, thr, err, c.wantIops, c.wantT)
			}
			if si, st := performance(c.st.typ, c.st.gib, iops, thr); si != c.shownIops || st != c.shownThru {
				t.Fatalf("shown %d %d, want %d %d", si, st, c.shownIops, c.shownThru)
			}
		})
	}
}

func TestSettleMaxStorage(t *testing.T) {
	for _, c := range []struct {
		name      string
		given     *int
		cur, gib  int
		want      int
		code, msg string
	}{
		{name: "none", gib: 20},
		{name: "set", given: ip(100), gib: 20, want: 100},
		{name: "the storage itself turns it off", given: ip(20), cur: 100, gib: 20},
		{name: "0 turns it off", given: ip(0), cur: 100, gib: 20},
		{name: "below the storage", given: ip(19), gib: 20, code: "InvalidParameterCombination", msg: "greater than storage size"},
		{name: "above the largest", given: ip(65537), gib: 20, code: "InvalidParameterValue", msg: "65536"},
		{name: "negative", given: ip(-1), gib: 20, code: "InvalidParameterValue", msg: "65536"},
		{name: "storage growing to the limit", cur: 100, gib: 100, code: "InvalidParameterCombination", msg: "greater than storage size"},
		{name: "storage growing under the limit", cur: 100, gib: 50, want: 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := settleMaxStorage(c.given, c.cur, c.gib)
			if c.code != "" {
				wantFault(t, err, c.code, c.msg)
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %d %v, want %d", got, err, c.want)
			}
		})
	}
}

func TestSettleMonitoring(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/emaccess"
	for _, c := range []struct {
		name      string
		interval  *int
		role      string
		cur       int
		curRole   string
		want      int
		wantRole  string
		code, msg string
	}{
		{name: "off"},
		{name: "on", interval: ip(60), role: role, want: 60, wantRole: role},
		{name: "on without a role", interval: ip(5), code: "InvalidParameterCombination", msg: "MonitoringRoleARN value is required"},
		{name: "a role without an interval", role: role, code: "InvalidParameterCombination", msg: "other than 0"},
		{name: "an interval RDS does not take", interval: ip(2), role: role, code: "InvalidParameterValue", msg: "0, 1, 5, 10, 15, 30 or 60"},
		{name: "not a role ARN", interval: ip(60), role: "arn:aws:iam::123456789012:user/bob", code: "InvalidParameterValue", msg: "ENHANCED_MONITORING"},
		{name: "a new interval keeps the role", interval: ip(1), cur: 60, curRole: role, want: 1, wantRole: role},
		{name: "turned off drops the role", interval: ip(0), cur: 60, curRole: role},
		{name: "unchanged", cur: 30, curRole: role, want: 30, wantRole: role},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, gotRole, err := settleMonitoring(c.interval, c.role, c.cur, c.curRole)
			if c.code != "" {
				wantFault(t, err, c.code, c.msg)
				return
			}
			if err != nil || got != c.want || gotRole != c.wantRole {
				t.Fatalf("got %d %q %v, want %d %q", got, gotRole, err, c.want, c.wantRole)
			}
		})
	}
}

func TestCheckFixedSettings(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        InstanceSettings
		engine    string
		code, msg string
	}{
		{name: "nothing", engine: "postgres"},
		{name: "the values of every instance here", engine: "postgres", in: InstanceSettings{LicenseModel: "postgresql-license",
			NetworkType: "IPV4", BackupTarget: "region", DatabaseInsightsMode: "standard", MasterUserAuthenticationType: "password",
			MultiAZ: bp(false), StorageEncrypted: bp(false), EnablePerformanceInsights: bp(false), EnableLogTypes: []string{}}},
		{name: "MultiAZ", engine: "postgres", in: InstanceSettings{MultiAZ: bp(true)}, code: "InvalidParameterValue", msg: "MultiAZ=true"},
		{name: "encryption", engine: "mariadb", in: InstanceSettings{StorageEncrypted: bp(true)}, code: "InvalidParameterValue", msg: "StorageEncrypted=true"},
		{name: "IAM authentication", engine: "postgres", in: InstanceSettings{EnableIAMDatabaseAuthentication: bp(true)},
			code: "InvalidParameterValue", msg: "IAM"},
		{name: "log exports", engine: "postgres", in: InstanceSettings{EnableLogTypes: []string{"postgresql"}},
			code: "InvalidParameterValue", msg: "CloudWatch Logs"},
		{name: "another engine's license", engine: "mariadb", in: InstanceSettings{LicenseModel: "postgresql-license"},
			code: "InvalidParameterCombination", msg: "general-public-license"},
		{name: "dual stack", engine: "postgres", in: InstanceSettings{NetworkType: "DUAL"}, code: "InvalidParameterValue", msg: "IPV4"},
		{name: "outposts", engine: "postgres", in: InstanceSettings{BackupTarget: "outposts"}, code: "InvalidParameterValue", msg: "region"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkFixedSettings(&c.in, c.engine)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantFault(t, err, c.code, c.msg)
		})
	}
}

func TestSettleSettings(t *testing.T) {
	// A new instance gets RDS's defaults, shown as RDS shows them.
	s := &Service{cfg: Config{Region: "eu-west-1"}}
	r := &instanceRecord{StorageType: "gp3", AllocatedStorage: 20}
	var err error
	if r.instanceSettings, err = settleSettings(instanceSettings{}, &InstanceSettings{},
		storagePlan{typ: "gp3", gib: 20, changed: true, typeChanged: true}); err != nil {
		t.Fatal(err)
	}
	var d DBInstance
	s.describeSettingsLocked(r, &d)
	if d.PreferredBackupWindow != defaultBackupWindow || d.PreferredMaintenanceWindow != defaultMaintenanceWindow ||
		d.CACertificateIdentifier != "rds-ca-rsa2048-g1" || !d.AutoMinorVersionUpgrade || d.PromotionTier != 1 ||
		d.Iops != 3000 || d.StorageThroughput != 125 || d.AvailabilityZone != "eu-west-1a" || d.MaxAllocatedStorage != 0 {
		t.Fatalf("defaults: %+v", d)
	}

	// Every setting given.
	in := InstanceSettings{PreferredBackupWindow: "01:00-01:30", PreferredMaintenanceWindow: "Mon:02:00-mon:02:30",
		MaxAllocatedStorage: ip(1000), Iops: ip(1000), CACertificateIdentifier: "rds-ca-ecc384-g1",
		MonitoringInterval: ip(15), MonitoringRoleArn: "arn:aws:iam::123456789012:role/mon",
		PubliclyAccessible: bp(true), AutoMinorVersionUpgrade: bp(false), CopyTagsToSnapshot: bp(true), PromotionTier: ip(0)}
	got, err := settleSettings(instanceSettings{}, &in, storagePlan{typ: "io1", gib: 100, changed: true, typeChanged: true})
	if err != nil {
		t.Fatal(err)
	}
	want := instanceSettings{BackupWindow: "01:00-01:30", MaintenanceWindow: "mon:02:00-mon:02:30", MaxAllocatedStorage: 1000,
		Iops: 1000, CACertificate: "rds-ca-ecc384-g1", MonitoringInterval: 15, MonitoringRoleArn: "arn:aws:iam::123456789012:role/mon",
		PubliclyAccessible: true, NoAutoMinorVersionUpgrade: true, CopyTagsToSnapshot: true}
	if got.promotionTier() != 0 {
		t.Fatalf("PromotionTier %d", got.promotionTier())
	}
	got.PromotionTier = nil
	if got.BackupWindow != want.BackupWindow || got.MaintenanceWindow != want.MaintenanceWindow ||
		got.MaxAllocatedStorage != want.MaxAllocatedStorage || got.Iops != want.Iops || got.CACertificate != want.CACertificate ||
		got.MonitoringInterval != want.MonitoringInterval || got.MonitoringRoleArn != want.MonitoringRoleArn ||
		got.PubliclyAccessible != want.PubliclyAccessible || got.NoAutoMinorVersionUpgrade != want.NoAutoMinorVersionUpgrade ||
		got.CopyTagsToSnapshot != want.CopyTagsToSnapshot {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	// A refused setting changes nothing: the current settings come back.
	for _, bad := range []struct {
		in        InstanceSettings
		code, msg string
	}{
		{InstanceSettings{CACertificateIdentifier: "rds-ca-2015"}, "CertificateNotFound", "rds-ca-rsa2048-g1"},
		{InstanceSettings{PromotionTier: ip(16)}, "InvalidParameterValue", "0 to 15"},
		{InstanceSettings{PreferredBackupWindow: "02:00-02:30"}, "InvalidParameterValue", "must not overlap"},
	} {
		cur := got
		cur.MaintenanceWindow = "mon:02:00-mon:02:30"
		after, err := settleSettings(cur, &bad.in, storagePlan{typ: "io1", gib: 100})
		wantFault(t, err, bad.code, bad.msg)
		if after.BackupWindow != cur.BackupWindow || after.CACertificate != cur.CACertificate {
			t.Fatalf("a refused request changed the settings: %+v", after)
		}
	}
}

func TestGreenStorage(t *testing.T) {
	blue := &instanceRecord{StorageType: "gp2", AllocatedStorage: 100,
		instanceSettings: instanceSettings{BackupWindow: "01:00-01:30", MaintenanceWindow: "tue:04:00-tue:04:30", MaxAllocatedStorage: 500,
			Roles: []InstanceRole{{RoleArn: "arn:aws:iam::123456789012:role/s3", FeatureName: "s3Import", Status: "ACTIVE"}}}}
	st, settings, err := greenStorage(blue, TargetStorage{})
	if err != nil || st.typ != "gp2" || st.gib != 100 || settings.BackupWindow != "01:00-01:30" || settings.MaxAllocatedStorage != 500 {
		t.Fatalf("a copy: %+v %+v %v", st, settings, err)
	}
	settings.Roles[0].Status = "changed"
	if blue.Roles[0].Status != "ACTIVE" {
		t.Fatal("green's roles share blue's")
	}
	st, settings, err = greenStorage(blue, TargetStorage{TargetStorageType: "io2", TargetAllocatedStorage: 200, TargetIops: ip(4000)})
	if err != nil || st.typ != "io2" || st.gib != 200 || settings.Iops != 4000 {
		t.Fatalf("io2: %+v %+v %v", st, settings, err)
	}
	st, _, err = greenStorage(blue, TargetStorage{TargetAllocatedStorage: 50})
	if err != nil || st.gib != 50 {
		t.Fatalf("smaller: %+v %v", st, err)
	}
	_, _, err = greenStorage(blue, TargetStorage{TargetAllocatedStorage: 600})
	wantFault(t, err, "InvalidParameterCombination", "greater than storage size")
	_, _, err = greenStorage(blue, TargetStorage{TargetStorageType: "io1"})
	wantFault(t, err, "InvalidParameterCombination", "give Iops")
	wantFault(t, checkTargetStorage(TargetStorage{TargetStorageType: "standard"}), "StorageTypeNotSupported", "gp2, gp3, io1 or io2")
	wantFault(t, checkTargetStorage(TargetStorage{TargetAllocatedStorage: 10}), "InvalidParameterValue", "20 to 65536")
}

// TestSettingsPersist: the settings are saved with the instance under
// their own names, BackupWindow as before it had company.
func TestSettingsPersist(t *testing.T) {
	tier := 3
	r := instanceRecord{Identifier: "db1", instanceSettings: instanceSettings{BackupWindow: "01:00-01:30",
		MaintenanceWindow: "mon:02:00-mon:02:30", Iops: 1000, MonitoringInterval: 5, MonitoringRoleArn: "arn:aws:iam::123456789012:role/m",
		CopyTagsToSnapshot: true, NoAutoMinorVersionUpgrade: true, PromotionTier: &tier,
		Roles: []InstanceRole{{RoleArn: "arn:aws:iam::123456789012:role/s3", FeatureName: "s3Import", Status: roleActive}}}}
	doc, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), `"BackupWindow":"01:00-01:30"`) {
		t.Fatalf("saved as %s", doc)
	}
	var back instanceRecord
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.instanceSettings, r.instanceSettings) {
		t.Fatalf("read back %+v, want %+v", back.instanceSettings, r.instanceSettings)
	}
}
