package cli

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"testing"
)

func TestFlagName(t *testing.T) {
	// Each flag here is as `aws rds <command> help` prints it.
	for member, flag := range map[string]string{
		"DBInstanceIdentifier":              "db-instance-identifier",
		"DBInstanceClass":                   "db-instance-class",
		"DBName":                            "db-name",
		"DBParameterGroupFamily":            "db-parameter-group-family",
		"MultiAZ":                           "multi-az",
		"VpcSecurityGroupIds":               "vpc-security-group-ids",
		"KmsKeyId":                          "kms-key-id",
		"TdeCredentialArn":                  "tde-credential-arn",
		"MonitoringRoleArn":                 "monitoring-role-arn",
		"AwsBackupRecoveryPointArn":         "aws-backup-recovery-point-arn",
		"EnableIAMDatabaseAuthentication":   "enable-iam-database-authentication",
		"CACertificateIdentifier":           "ca-certificate-identifier",
		"DomainIAMRoleName":                 "domain-iam-role-name",
		"DomainOu":                          "domain-ou",
		"DomainFqdn":                        "domain-fqdn",
		"DomainDnsIps":                      "domain-dns-ips",
		"Iops":                              "iops",
		"NcharCharacterSetName":             "nchar-character-set-name",
		"PreSignedUrl":                      "pre-signed-url",
		"NewDBInstanceIdentifier":           "new-db-instance-identifier",
		"DBPortNumber":                      "db-port-number",
		"ResumeFullAutomationModeMinutes":   "resume-full-automation-mode-minutes",
		"EnableCloudwatchLogsExports":       "enable-cloudwatch-logs-exports",
		"CloudwatchLogsExportConfiguration": "cloudwatch-logs-export-configuration",
		"SourceDBInstanceIdentifier":        "source-db-instance-identifier",
		"FinalDBSnapshotIdentifier":         "final-db-snapshot-identifier",
		"ResourceName":                      "resource-name",
		"TagKeys":                           "tag-keys",
		"DBSystemId":                        "db-system-id",
		"Filters":                           "filters",
		// botocore's rule for a pluralised acronym at the end.
		"SubnetARNs": "subnet-arns",
	} {
		if got := flagName(member); got != flag {
			t.Errorf("flagName(%q) = %q, want %q", member, got, flag)
		}
	}
}

// TestFlagsMatchAWSCLI checks every command's options against those the AWS
// CLI shows (testdata/awscli-flags.txt, from `aws rds <command> help`).
func TestFlagsMatchAWSCLI(t *testing.T) {
	// Members the SDK has and the recorded AWS CLI does not yet.
	newer := map[string]bool{
		"create-db-instance --db-capacity-reservation-identifier":                   true,
		"create-db-instance-read-replica --db-capacity-reservation-identifier":      true,
		"modify-db-instance --db-capacity-reservation-identifier":                   true,
		"modify-db-instance --engine-lifecycle-support":                             true,
		"create-blue-green-deployment --target-resource-configurations":             true,
		"create-db-cluster --associated-roles":                                      true,
		"modify-db-cluster --engine-lifecycle-support":                              true,
		"stop-db-instance --detach-from-db-capacity-reservation":                    true,
		"start-db-instance --db-capacity-reservation-identifier":                    true,
		"copy-db-snapshot --tag-specifications":                                     true,
		"restore-db-instance-from-db-snapshot --db-capacity-reservation-identifier": true,
		"restore-db-instance-to-point-in-time --db-capacity-reservation-identifier": true,
	}
	f, err := os.Open("testdata/awscli-flags.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	checked := map[string]bool{}
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ": ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		o, found := findOp(name)
		if !found {
			t.Errorf("no command %s", name)
			continue
		}
		checked[name] = true
		if name == "download-db-log-file-portion" {
			// The AWS CLI reads the whole file portion by portion
			// (--starting-token, --max-items, --page-size); teal's CLI
			// reads one portion, with the API's --marker and
			// --number-of-lines.
			continue
		}
		want := strings.Fields(rest)
		var got []string
		in := o.input()
		defs := memberFlags(in)
		if isPaged(in) {
			defs = append(defs, (&paging{}).flags()...)
		}
		for _, d := range defs {
			if isPaged(in) && (d.name == "marker" || d.name == "max-records" || d.name == "no-paginate") {
				continue // hidden by the AWS CLI, or one of its global options
			}
			if newer[name+" --"+d.name] {
				continue
			}
			got = append(got, "--"+d.name)
			if d.negatable {
				got = append(got, "--no-"+d.name)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if !checked[o.name] {
			t.Errorf("%s is not in testdata/awscli-flags.txt", o.name)
		}
	}
}

func TestRequiredMembers(t *testing.T) {
	o, _ := findOp("create-db-instance")
	got := requiredMembers(o)
	for _, name := range []string{"db-instance-identifier", "db-instance-class", "engine"} {
		if !got[name] {
			t.Errorf("--%s is not marked required: %v", name, got)
		}
	}
	if got["allocated-storage"] {
		t.Errorf("--allocated-storage is marked required")
	}
}
