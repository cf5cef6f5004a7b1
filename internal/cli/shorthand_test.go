package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func TestParseShorthand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]any
	}{
		{"a=b", map[string]any{"a": "b"}},
		{"a=b,c", map[string]any{"a": []any{"b", "c"}}},
		{"a=b,c=d", map[string]any{"a": "b", "c": "d"}},
		{"a=b,c,d=e", map[string]any{"a": []any{"b", "c"}, "d": "e"}},
		{"Name=engine,Values=postgres,mysql", map[string]any{"Name": "engine", "Values": []any{"postgres", "mysql"}}},
		{"Key=a,Value=b", map[string]any{"Key": "a", "Value": "b"}},
		{"ParameterName=max_connections,ParameterValue=100,ApplyMethod=pending-reboot",
			map[string]any{"ParameterName": "max_connections", "ParameterValue": "100", "ApplyMethod": "pending-reboot"}},
		// A first value may hold '=' and spaces; only a comma ends it.
		{"Key=url,Value=http://h/?a=b", map[string]any{"Key": "url", "Value": "http://h/?a=b"}},
		{"Key=note,Value=two words", map[string]any{"Key": "note", "Value": "two words"}},
		{"a = b , c = d", map[string]any{"a": "b", "c": "d"}},
		{`a=b\,c`, map[string]any{"a": "b,c"}},
		{`a="b,c",d='e f'`, map[string]any{"a": "b,c", "d": "e f"}},
		{`a="say \"hi\""`, map[string]any{"a": `say "hi"`}},
		{"a=", map[string]any{"a": ""}},
		{"a=[b,c],d=e", map[string]any{"a": []any{"b", "c"}, "d": "e"}},
		{"a=[]", map[string]any{"a": []any{}}},
		{"a={b=c,d=[e,f]}", map[string]any{"a": map[string]any{"b": "c", "d": []any{"e", "f"}}}},
		{"a=日本,b=ü", map[string]any{"a": "日本", "b": "ü"}},
	} {
		got, err := parseShorthand(tc.in)
		if err != nil {
			t.Errorf("parseShorthand(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseShorthand(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestParseShorthandErrors(t *testing.T) {
	for in, want := range map[string]string{
		"a":                           `expected '='`,
		"a=b,":                        "expected a value",
		"a=[b,c":                      "expected",
		`a="b`:                        "closing",
		"Key=a,Value=b,Key=c,Value=d": `key "Key" appears twice`,
		"a=b,c=d,a=e":                 `key "a" appears twice`,
	} {
		_, err := parseShorthand(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseShorthand(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}

// TestParseFlags fills SDK inputs from command lines written as for the
// AWS CLI.
func TestParseFlags(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "params.json")
	if err := os.WriteFile(policy, []byte(`[{"ParameterName":"work_mem","ParameterValue":"8MB","ApplyMethod":"immediate"}]`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		in   any
		want any
	}{
		{[]string{"--db-instance-identifier", "db1", "--engine=postgres", "--allocated-storage", "20",
			"--deletion-protection", "--no-multi-az", "--vpc-security-group-ids", "sg-1", "sg-2",
			"--tags", "Key=team,Value=data", "Key=env,Value=prod"},
			&rds.CreateDBInstanceInput{}, &rds.CreateDBInstanceInput{
				DBInstanceIdentifier: aws.String("db1"), Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
				DeletionProtection: aws.Bool(true), MultiAZ: aws.Bool(false), VpcSecurityGroupIds: []string{"sg-1", "sg-2"},
				Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}, {Key: aws.String("env"), Value: aws.String("prod")}}}},
		{[]string{"--tags", `[{"Key":"a","Value":"b"}]`, "--resource-name", "arn:aws:rds:us-east-1:000000000000:db:db1"},
			&rds.AddTagsToResourceInput{}, &rds.AddTagsToResourceInput{
				ResourceName: aws.String("arn:aws:rds:us-east-1:000000000000:db:db1"),
				Tags:         []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}},
		{[]string{"--tags", `{"Key":"a","Value":"b"}`, `{"Key":"c"}`, "--resource-name", "r"},
			&rds.AddTagsToResourceInput{}, &rds.AddTagsToResourceInput{ResourceName: aws.String("r"),
				Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}, {Key: aws.String("c")}}}},
		{[]string{"--filters", "Name=engine,Values=postgres,mysql", "Name=db-instance-id,Values=db1"},
			&rds.DescribeDBInstancesInput{}, &rds.DescribeDBInstancesInput{Filters: []types.Filter{
				{Name: aws.String("engine"), Values: []string{"postgres", "mysql"}},
				{Name: aws.String("db-instance-id"), Values: []string{"db1"}}}}},
		{[]string{"--db-parameter-group-name", "pg", "--parameters", "ParameterName=max_connections,ParameterValue=100,ApplyMethod=pending-reboot"},
			&rds.ModifyDBParameterGroupInput{}, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("pg"),
				Parameters: []types.Parameter{{ParameterName: aws.String("max_connections"), ParameterValue: aws.String("100"), ApplyMethod: types.ApplyMethodPendingReboot}}}},
		{[]string{"--db-parameter-group-name", "pg", "--parameters", "file://" + policy},
			&rds.ModifyDBParameterGroupInput{}, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("pg"),
				Parameters: []types.Parameter{{ParameterName: aws.String("work_mem"), ParameterValue: aws.String("8MB"), ApplyMethod: types.ApplyMethodImmediate}}}},
		{[]string{"--resource-name", "r", "--tag-keys", "a", "b"},
			&rds.RemoveTagsFromResourceInput{}, &rds.RemoveTagsFromResourceInput{ResourceName: aws.String("r"), TagKeys: []string{"a", "b"}}},
		{[]string{"--resource-name", "r", "--tag-keys", `["a","b"]`},
			&rds.RemoveTagsFromResourceInput{}, &rds.RemoveTagsFromResourceInput{ResourceName: aws.String("r"), TagKeys: []string{"a", "b"}}},
		{[]string{"--source-type", "db-instance", "--start-time", "2026-01-02T03:04:05Z", "--end-time", "1767323045", "--duration", "60"},
			&rds.DescribeEventsInput{}, &rds.DescribeEventsInput{SourceType: types.SourceTypeDbInstance,
				StartTime: aws.Time(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), EndTime: aws.Time(time.Unix(1767323045, 0).UTC()), Duration: aws.Int32(60)}},
		{[]string{"--db-instance-identifier", "db1", "--apply-immediately", "--db-instance-class", "db.t3.small", "--engine-version", "17.2"},
			&rds.ModifyDBInstanceInput{}, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("db1"), ApplyImmediately: aws.Bool(true),
				DBInstanceClass: aws.String("db.t3.small"), EngineVersion: aws.String("17.2")}},
		{[]string{"--db-instance-identifier", "db1", "--skip-final-snapshot", "--no-delete-automated-backups"},
			&rds.DeleteDBInstanceInput{}, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("db1"), SkipFinalSnapshot: aws.Bool(true),
				DeleteAutomatedBackups: aws.Bool(false)}},
	} {
		if err := parseFlags(tc.args, memberFlags(tc.in)); err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(tc.in, tc.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", tc.args, tc.in, tc.want)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db-instance-identifer", "x"}, "unknown option --db-instance-identifer (did you mean --db-instance-identifier?)"},
		{[]string{"--allocated-storage", "big"}, `--allocated-storage: expected an integer, got "big"`},
		{[]string{"--allocated-storage", "99999999999"}, "expected an integer"},
		{[]string{"--deletion-protection=yes"}, "option --deletion-protection takes no value"},
		{[]string{"--engine"}, "option --engine needs a value"},
		{[]string{"--engine", "a", "b"}, `unexpected argument "b"`},
		{[]string{"--engine", "a", "--engine", "b"}, "option --engine is given twice"},
		{[]string{"--tags", "Key=a,Colour=b"}, `unknown key "Colour", must be one of: Key, Value`},
		{[]string{"--tags", `[{"Key": 1}]`}, "expected a string"},
		{[]string{"--tags", `[{"Key":`}, "invalid JSON"},
		{[]string{"--port", "file:///nonexistent/teal"}, "no such file"},
	} {
		err := parseFlags(tc.args, memberFlags(&rds.CreateDBInstanceInput{}))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !isUsage(err) {
			t.Errorf("%v: error %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
	if err := parseFlags([]string{"--engine", "x", "--help"}, memberFlags(&rds.CreateDBInstanceInput{})); err != errHelp {
		t.Errorf("--help: %v", err)
	}
}
