package api

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
)

// TestInputsDeclareEveryMember checks that the inputs of the operations
// that must ignore nothing declare every member the SDK sends, as used or
// as unsupported: a member the SDK gains fails here until teal decides
// what to do with it.
func TestInputsDeclareEveryMember(t *testing.T) {
	for _, c := range []struct {
		sdk, teal any
	}{
		{awsrds.CreateDBInstanceInput{}, createDBInstanceInput{}},
		{awsrds.ModifyDBInstanceInput{}, modifyDBInstanceInput{}},
		{awsrds.CreateBlueGreenDeploymentInput{}, createBlueGreenInput{}},
		{awsrds.RestoreDBInstanceFromDBSnapshotInput{}, restoreFromSnapshotInput{}},
		{awsrds.RestoreDBInstanceToPointInTimeInput{}, restorePointInTimeInput{}},
		{awsrds.CreateDBInstanceReadReplicaInput{}, createReadReplicaInput{}},
		{awsrds.CopyDBSnapshotInput{}, copyDBSnapshotInput{}},
		{awsrds.CreateDBSnapshotInput{}, createDBSnapshotInput{}},
	} {
		declared := map[string]bool{}
		tt := reflect.TypeOf(c.teal)
		for _, sf := range reflect.VisibleFields(tt) {
			if !sf.Anonymous {
				name, _, _ := strings.Cut(specOf(sf).name, ".")
				declared[name] = true
			}
		}
		st := reflect.TypeOf(c.sdk)
		for i := 0; i < st.NumField(); i++ {
			if f := st.Field(i); f.IsExported() && !declared[f.Name] {
				t.Errorf("%s: %s does not declare %s", st.Name(), tt.Name(), f.Name)
			}
		}
	}
}

func TestUnsupportedInstanceMembersAreRefused(t *testing.T) {
	for _, form := range []string{
		"DBInstanceIdentifier=a&DBInstanceClass=db.t3.micro&Engine=postgres&KmsKeyId=k",
		"DBInstanceIdentifier=a&DBInstanceClass=db.t3.micro&Engine=postgres&DomainDnsIps.member.1=10.0.0.1",
		"DBInstanceIdentifier=a&DBInstanceClass=db.t3.micro&Engine=postgres&ProcessorFeatures.ProcessorFeature.1.Name=coreCount",
		"DBInstanceIdentifier=a&DBInstanceClass=db.t3.micro&Engine=postgres&TagSpecifications.item.1.ResourceType=auto-backup",
	} {
		var in createDBInstanceInput
		err := decode(formOf(t, form), &in)
		if err == nil || !strings.Contains(err.Error(), "does not support the parameter") {
			t.Errorf("%s: %v, want a refusal", form, err)
		}
	}
	var in modifyDBInstanceInput
	if err := decode(formOf(t, "DBInstanceIdentifier=a&CloudwatchLogsExportConfiguration.EnableLogTypes.member.1=postgresql"), &in); err != nil {
		t.Fatal(err)
	}
	if got := in.CloudwatchLogsExportConfiguration.EnableLogTypes; len(got) != 1 || got[0] != "postgresql" {
		t.Errorf("EnableLogTypes = %v", got)
	}
}

func formOf(t *testing.T, raw string) *form {
	t.Helper()
	values, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return newForm(values)
}
