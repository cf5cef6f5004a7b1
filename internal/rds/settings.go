package rds

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// instanceSettings are what RDS keeps on a DB instance that teal checks,
// keeps and shows, as RDS does, while running the instance the same
// whatever they say (docs/operations.md lists them): the windows, the
// storage's IOPS, throughput and autoscaling limit, the CA's name,
// Enhanced Monitoring, the promotion tier, associated IAM roles and a few
// flags. Only BackupWindow and CopyTagsToSnapshot change what teal does.
// The zero value reads as RDS's defaults, so an instance recorded before a
// setting existed shows what RDS would.
type instanceSettings struct {
	// BackupWindow is PreferredBackupWindow: automated backups take their
	// daily base in it (backups.go). MaintenanceWindow is
	// PreferredMaintenanceWindow (windows.go).
	BackupWindow      string `json:",omitempty"`
	MaintenanceWindow string `json:",omitempty"`
	// MaxAllocatedStorage is the storage autoscaling limit, 0 for none.
	// Iops and StorageThroughput are the provisioned values, 0 for the
	// storage type's baseline.
	MaxAllocatedStorage int    `json:",omitempty"`
	Iops                int    `json:",omitempty"`
	StorageThroughput   int    `json:",omitempty"`
	CACertificate       string `json:",omitempty"`
	MonitoringInterval  int    `json:",omitempty"`
	MonitoringRoleArn   string `json:",omitempty"`
	PubliclyAccessible  bool   `json:",omitempty"`
	// NoAutoMinorVersionUpgrade is AutoMinorVersionUpgrade=false: RDS's
	// default is true.
	NoAutoMinorVersionUpgrade bool `json:",omitempty"`
	// CopyTagsToSnapshot: snapshots taken without tags of their own get
	// the instance's (snapshotOfLocked).
	CopyTagsToSnapshot bool           `json:",omitempty"`
	PromotionTier      *int           `json:",omitempty"` // nil: RDS's default, 1
	Roles              []InstanceRole `json:",omitempty"`
}

// The CA names RDS offers for server certificates. Whichever is chosen,
// the servers present a certificate from teal's own CA (tls.go).
var caCertificates = []string{"rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"}

const defaultCACertificate = "rds-ca-rsa2048-g1"

var monitoringIntervals = []int{0, 1, 5, 10, 15, 30, 60}

var iamRoleArnRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,576}$`)

// checkFixedSettings refuses what teal cannot honour: a feature it does not
// have turned on, or a member at a value other than the one that describes
// every instance here.
func checkFixedSettings(in *InstanceSettings, engineName string) error {
	for _, f := range []struct {
		name string
		on   *bool
		why  string
	}{
		{"MultiAZ", in.MultiAZ, "teal runs each DB instance on one host, with no standby in another zone; a read replica or a DB cluster keeps a second copy"},
		{"StorageEncrypted", in.StorageEncrypted, "teal does not encrypt storage and there is no KMS here; put the data directory on an encrypted file system"},
		{"EnablePerformanceInsights", in.EnablePerformanceInsights, "there is no Performance Insights here; teal's metrics are on its /metrics endpoint"},
		{"EnableIAMDatabaseAuthentication", in.EnableIAMDatabaseAuthentication, "database logins take passwords; there are no IAM authentication tokens here"},
		{"EnableCustomerOwnedIp", in.EnableCustomerOwnedIp, "there are no Outposts here"},
		{"MultiTenant", in.MultiTenant, "it is for RDS for Oracle"},
		{"DedicatedLogVolume", in.DedicatedLogVolume, "teal does not provision volumes; the logs are on the instance's storage"},
	} {
		if f.on != nil && *f.on {
			return invalidValue("teal does not support %s=true: %s.", f.name, f.why)
		}
	}
	if len(in.EnableLogTypes) > 0 {
		return invalidValue("There is no CloudWatch Logs here to export the %s log to: read the logs with DescribeDBLogFiles and DownloadDBLogFilePortion.",
			in.EnableLogTypes[0])
	}
	if in.LicenseModel != "" && in.LicenseModel != licenseModels[engineName] {
		return invalidCombination("RDS does not support creating a DB instance with the following combination: Engine=%s, LicenseModel=%s. "+
			"The license model of %s is %s.", engineName, in.LicenseModel, engineName, licenseModels[engineName])
	}
	for _, f := range []struct{ name, got, want, why string }{
		{"NetworkType", in.NetworkType, "IPV4", "the endpoints are IPv4"},
		{"BackupTarget", in.BackupTarget, "region", "backups are kept on this host, teal's region"},
		{"DatabaseInsightsMode", in.DatabaseInsightsMode, "standard", "there is no advanced mode without Performance Insights"},
		{"MasterUserAuthenticationType", in.MasterUserAuthenticationType, "password", "there is no IAM database authentication here"},
	} {
		if f.got != "" && f.got != f.want {
			return invalidValue("Invalid value %q for %s: teal takes only %s (%s).", f.got, f.name, f.want, f.why)
		}
	}
	return nil
}

// clusterMemberSettings refuses what a member of a DB cluster takes from
// its cluster: the backup window and the storage. gib is the
// AllocatedStorage given (0: none).
func clusterMemberSettings(in *InstanceSettings, storageType string, gib int) error {
	var name string
	switch {
	case in.PreferredBackupWindow != "":
		name = "PreferredBackupWindow"
	case storageType != "":
		name = "StorageType"
	case gib != 0:
		name = "AllocatedStorage"
	case in.MaxAllocatedStorage != nil:
		name = "MaxAllocatedStorage"
	case in.Iops != nil:
		name = "Iops"
	case in.StorageThroughput != nil:
		name = "StorageThroughput"
	default:
		return nil
	}
	return invalidCombination("The DB instance is a member of a DB cluster: its %s is the DB cluster's, and cannot be set on the instance.", name)
}

// checkTargetStorage checks the green storage members of
// CreateBlueGreenDeployment by themselves.
func checkTargetStorage(t TargetStorage) error {
	if t.TargetStorageType != "" {
		if err := validStorageType(t.TargetStorageType); err != nil {
			return err
		}
		if t.TargetStorageType == "standard" {
			return fault("StorageTypeNotSupported", http.StatusBadRequest, "Invalid TargetStorageType standard: it must be gp2, gp3, io1 or io2.")
		}
	}
	if t.TargetAllocatedStorage != 0 {
		return validStorage(t.TargetAllocatedStorage)
	}
	return nil
}

// greenStorage is the storage and settings of the green copy of b: b's,
// with the deployment's target storage applied. Green's storage may be
// larger or smaller than blue's, as in RDS.
func greenStorage(b *instanceRecord, t TargetStorage) (storagePlan, instanceSettings, error) {
	st := storagePlan{typ: cmp.Or(t.TargetStorageType, b.StorageType), gib: cmp.Or(t.TargetAllocatedStorage, b.AllocatedStorage)}
	st.typeChanged = st.typ != b.StorageType
	st.changed = st.typeChanged || st.gib != b.AllocatedStorage
	settings, err := settleSettings(b.instanceSettings, &InstanceSettings{Iops: t.TargetIops, StorageThroughput: t.TargetStorageThroughput}, st)
	return st, settings, err
}

// storagePlan is an instance's storage after a request: its type and size,
// whether either changes, and whether the type does.
type storagePlan struct {
	typ         string
	gib         int
	changed     bool
	typeChanged bool
}

// settleSettings checks the settings a request gives and returns the
// instance's: cur with the request applied. st is the instance's storage
// once the request is applied.
func settleSettings(cur instanceSettings, in *InstanceSettings, st storagePlan) (instanceSettings, error) {
	next := cur
	var err error
	if next.BackupWindow, next.MaintenanceWindow, err = settleWindows(in.PreferredBackupWindow, in.PreferredMaintenanceWindow,
		cur.BackupWindow, cur.MaintenanceWindow); err != nil {
		return cur, err
	}
	if st.changed || in.Iops != nil || in.StorageThroughput != nil {
		if next.Iops, next.StorageThroughput, err = settlePerformance(st, in.Iops, in.StorageThroughput, cur.Iops, cur.StorageThroughput); err != nil {
			return cur, err
		}
	}
	if st.changed || in.MaxAllocatedStorage != nil {
		if next.MaxAllocatedStorage, err = settleMaxStorage(in.MaxAllocatedStorage, cur.MaxAllocatedStorage, st.gib); err != nil {
			return cur, err
		}
	}
	if in.CACertificateIdentifier != "" {
		if !slices.Contains(caCertificates, in.CACertificateIdentifier) {
			return cur, fault("CertificateNotFound", http.StatusNotFound, "CACertificateIdentifier %s not found. The CA certificates are %s.",
				in.CACertificateIdentifier, strings.Join(caCertificates, ", "))
		}
		next.CACertificate = in.CACertificateIdentifier
	}
	if next.MonitoringInterval, next.MonitoringRoleArn, err = settleMonitoring(in.MonitoringInterval, in.MonitoringRoleArn,
		cur.MonitoringInterval, cur.MonitoringRoleArn); err != nil {
		return cur, err
	}
	if in.PromotionTier != nil {
		if t := *in.PromotionTier; t < 0 || t > 15 {
			return cur, invalidValue("Invalid PromotionTier %d: it must be from 0 to 15.", t)
		}
		tier := *in.PromotionTier
		next.PromotionTier = &tier
	}
	if in.PubliclyAccessible != nil {
		next.PubliclyAccessible = *in.PubliclyAccessible
	}
	if in.AutoMinorVersionUpgrade != nil {
		next.NoAutoMinorVersionUpgrade = !*in.AutoMinorVersionUpgrade
	}
	if in.CopyTagsToSnapshot != nil {
		next.CopyTagsToSnapshot = *in.CopyTagsToSnapshot
	}
	next.Roles = slices.Clone(cur.Roles)
	return next, nil
}

// Storage performance, as RDS has it for PostgreSQL and MariaDB: gp3 has
// a baseline of 3,000 IOPS and 125 MiB/s below 400 GiB, fixed; from 400
// GiB, 12,000 and 500 by default, and up to 64,000 and 4,000 MiB/s at no
// more than 0.25 MiB/s per IOPS. io1 and io2 take 1,000 to 256,000 IOPS,
// at 0.5 to 50 (io1) or 1,000 (io2) IOPS per GiB. gp2 and standard take
// neither. teal keeps and shows them; the servers' I/O is the host's.
const (
	gp3Threshold                       = 400
	gp3BaseIops, gp3BaseThroughput     = 3000, 125
	gp3LargeIops, gp3LargeThroughput   = 12000, 500
	gp3MaxIops, gp3MaxThroughput       = 64000, 4000
	provisionedMinIops, provisionedMax = 1000, 256000
)

// performance is the IOPS and throughput an instance shows: the
// provisioned ones, or the storage type's baseline.
func performance(typ string, gib, iops, throughput int) (int, int) {
	switch typ {
	case "gp3":
		if gib < gp3Threshold {
			return gp3BaseIops, gp3BaseThroughput
		}
		return cmp.Or(iops, gp3LargeIops), cmp.Or(throughput, gp3LargeThroughput)
	case "io1", "io2":
		return iops, 0
	}
	return 0, 0
}

// settlePerformance checks the IOPS and throughput a request gives
// storage st, and returns the provisioned ones (0: the baseline). Values
// not given are the current ones while the type stays, else none.
func settlePerformance(st storagePlan, iopsIn, throughputIn *int, curIops, curThroughput int) (int, int, error) {
	iops, throughput := 0, 0
	if !st.typeChanged {
		iops, throughput = curIops, curThroughput
	}
	if iopsIn != nil {
		iops = *iopsIn
	}
	if throughputIn != nil {
		throughput = *throughputIn
	}
	if iops < 0 || throughput < 0 {
		return 0, 0, invalidValue("Iops and StorageThroughput cannot be negative.")
	}
	if throughput != 0 && st.typ != "gp3" {
		return 0, 0, invalidCombination("StorageThroughput is for the gp3 storage type, not %s.", st.typ)
	}
	switch st.typ {
	case "gp3":
		if st.gib < gp3Threshold {
			if (iopsIn != nil && *iopsIn != 0) || (throughputIn != nil && *throughputIn != 0) {
				return 0, 0, invalidCombination("You can't specify IOPS or storage throughput for gp3 storage of less than %d GiB (%d GiB): "+
					"it has a baseline of %d IOPS and %d MiBps.", gp3Threshold, st.gib, gp3BaseIops, gp3BaseThroughput)
			}
			return 0, 0, nil
		}
		i, t := performance("gp3", st.gib, iops, throughput)
		if i < gp3LargeIops || i > gp3MaxIops {
			return 0, 0, invalidValue("Invalid Iops %d for gp3 storage of %d GiB: it must be from %d to %d.", i, st.gib, gp3LargeIops, gp3MaxIops)
		}
		if t < gp3LargeThroughput || t > gp3MaxThroughput {
			return 0, 0, invalidValue("Invalid StorageThroughput %d for gp3 storage of %d GiB: it must be from %d to %d MiBps.",
				t, st.gib, gp3LargeThroughput, gp3MaxThroughput)
		}
		if 4*t > i {
			return 0, 0, invalidCombination("The storage throughput (%d MiBps) can be at most 0.25 MiBps per IOPS (%d IOPS).", t, i)
		}
		return iops, throughput, nil
	case "io1", "io2":
		if iops == 0 {
			return 0, 0, invalidCombination("Storage type %s needs provisioned IOPS: give Iops.", st.typ)
		}
		if iops < provisionedMinIops || iops > provisionedMax {
			return 0, 0, invalidValue("Invalid Iops %d for storage type %s: it must be from %d to %d.", iops, st.typ, provisionedMinIops, provisionedMax)
		}
		maxRatio := 50
		if st.typ == "io2" {
			maxRatio = 1000
		}
		if 2*iops < st.gib || iops > maxRatio*st.gib {
			return 0, 0, invalidCombination("The IOPS to storage ratio of %d IOPS for %d GiB must be from 0.5 to %d for storage type %s.",
				iops, st.gib, maxRatio, st.typ)
		}
		return iops, 0, nil
	}
	if iops != 0 {
		return 0, 0, invalidCombination("Storage type %s has no provisioned IOPS: Iops is for io1, io2 and gp3.", st.typ)
	}
	return 0, 0, nil
}

// settleMaxStorage checks a MaxAllocatedStorage against the storage it
// would grow from. The storage itself, as Terraform sends it to turn
// autoscaling off, or 0, turns it off.
func settleMaxStorage(given *int, cur, gib int) (int, error) {
	max := cur
	if given != nil {
		max = *given
		if max == gib {
			max = 0
		}
	}
	switch {
	case max < 0 || max > 65536:
		return 0, invalidValue("Invalid MaxAllocatedStorage %d: it must be at most 65536 GiB.", max)
	case max != 0 && max <= gib:
		return 0, invalidCombination("Max storage size must be greater than storage size: MaxAllocatedStorage %d, AllocatedStorage %d GiB.", max, gib)
	}
	return max, nil
}

// settleMonitoring checks MonitoringInterval and MonitoringRoleArn as RDS
// does: an interval above 0 needs a role, and a role needs one. teal sends
// no metrics to CloudWatch; it keeps and shows both.
func settleMonitoring(intervalIn *int, roleIn string, cur int, curRole string) (int, string, error) {
	interval, role := cur, curRole
	if intervalIn != nil {
		interval = *intervalIn
		if !slices.Contains(monitoringIntervals, interval) {
			return 0, "", invalidValue("Invalid MonitoringInterval %d: it must be 0, 1, 5, 10, 15, 30 or 60.", interval)
		}
	}
	if roleIn != "" {
		if !iamRoleArnRE.MatchString(roleIn) {
			return 0, "", invalidValue("IAM role ARN value is invalid or does not include the required permissions for: ENHANCED_MONITORING")
		}
		if interval == 0 {
			return 0, "", invalidCombination("A MonitoringRoleArn needs a MonitoringInterval other than 0.")
		}
		role = roleIn
	}
	if interval == 0 {
		return 0, "", nil
	}
	if role == "" {
		return 0, "", invalidCombination("A MonitoringRoleARN value is required if you specify a MonitoringInterval value other than 0.")
	}
	return interval, role, nil
}

// promotionTier is the instance's PromotionTier. teal's failover picks
// the reader least behind whatever its tier (failover.go).
func (st *instanceSettings) promotionTier() int {
	if st.PromotionTier == nil {
		return 1
	}
	return *st.PromotionTier
}

// backupWindow is the instance's PreferredBackupWindow, the default when
// it was recorded without one.
func (st *instanceSettings) backupWindow() string {
	return cmp.Or(st.BackupWindow, defaultBackupWindow)
}

// describeSettingsLocked fills d with r's settings as RDS shows them.
func (s *Service) describeSettingsLocked(r *instanceRecord, d *DBInstance) {
	st := r.instanceSettings
	d.AvailabilityZone = s.cfg.Region + "a"
	d.PreferredBackupWindow = st.backupWindow()
	d.PreferredMaintenanceWindow = cmp.Or(st.MaintenanceWindow, defaultMaintenanceWindow)
	d.MaxAllocatedStorage = st.MaxAllocatedStorage
	d.Iops, d.StorageThroughput = performance(r.StorageType, r.AllocatedStorage, st.Iops, st.StorageThroughput)
	d.CACertificateIdentifier = cmp.Or(st.CACertificate, defaultCACertificate)
	d.CertificateDetails = CertificateDetails{CAIdentifier: d.CACertificateIdentifier, ValidTill: s.tlsExpiry}
	d.MonitoringInterval, d.MonitoringRoleArn = st.MonitoringInterval, st.MonitoringRoleArn
	d.PubliclyAccessible = st.PubliclyAccessible
	d.AutoMinorVersionUpgrade = !st.NoAutoMinorVersionUpgrade
	d.CopyTagsToSnapshot = st.CopyTagsToSnapshot
	d.PromotionTier = st.promotionTier()
	d.AssociatedRoles = slices.Clone(st.Roles)
	d.NetworkType, d.BackupTarget, d.DatabaseInsightsMode = "IPV4", "region", "standard"
}
