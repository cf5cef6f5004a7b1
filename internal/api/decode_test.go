package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

type nestedInput struct {
	Name   string   `query:",required"`
	Values []string `query:"Values.Value,required"`
}

type sampleInput struct {
	ID        string `query:"DBInstanceIdentifier,required"`
	Count     int
	Since     int64
	Limit     *int
	Flag      bool
	Maybe     *bool
	When      time.Time
	Tags      []tagInput    `query:"Tags.Tag"`
	Keys      []string      `query:"TagKeys.member"`
	Filters   []nestedInput `query:"Filters.Filter"`
	Forbidden string        `query:",unsupported"`
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		form string
		want sampleInput
		code string // the fault's code when decoding must fail
		msg  string // part of its message
	}{
		{name: "scalars", form: "DBInstanceIdentifier=db1&Count=7&Since=1764684000000&Limit=0&Flag=true&Maybe=FALSE&When=2026-01-02T03:04:05Z",
			want: sampleInput{ID: "db1", Count: 7, Since: 1764684000000, Limit: intp(0), Flag: true, Maybe: boolp(false),
				When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{name: "fractional and short timestamps", form: "DBInstanceIdentifier=a&When=2009-07-08T18:00Z",
			want: sampleInput{ID: "a", When: time.Date(2009, 7, 8, 18, 0, 0, 0, time.UTC)}},
		{name: "list of structs in order", form: "DBInstanceIdentifier=a&Tags.Tag.2.Key=b&Tags.Tag.2.Value=2&Tags.Tag.1.Key=a&Tags.Tag.1.Value=1",
			want: sampleInput{ID: "a", Tags: []tagInput{{"a", "1"}, {"b", "2"}}}},
		{name: "numbered past 9 sorts numerically", form: "DBInstanceIdentifier=a&TagKeys.member.10=j&TagKeys.member.2=b&TagKeys.member.1=a",
			want: sampleInput{ID: "a", Keys: []string{"a", "b", "j"}}},
		{name: "empty list", form: "DBInstanceIdentifier=a&Tags=&TagKeys=",
			want: sampleInput{ID: "a", Tags: []tagInput{}, Keys: []string{}}},
		{name: "nested list", form: "DBInstanceIdentifier=a&Filters.Filter.1.Name=engine&Filters.Filter.1.Values.Value.1=postgres&Filters.Filter.1.Values.Value.2=mariadb",
			want: sampleInput{ID: "a", Filters: []nestedInput{{Name: "engine", Values: []string{"postgres", "mariadb"}}}}},
		{name: "unknown and non-member keys are ignored",
			form: "DBInstanceIdentifier=a&MultiAZ=true&Tags.Tag.01.Key=x&Tags.Tag.0.Key=y&Tags.Tag.x.Key=z&Tags.Tag.-1.Key=w",
			want: sampleInput{ID: "a"}},
		{name: "huge index allocates nothing", form: "DBInstanceIdentifier=a&TagKeys.member.999999999=z",
			want: sampleInput{ID: "a", Keys: []string{"z"}}},
		{name: "missing required", form: "Count=1", code: "MissingParameter", msg: "The request must contain the parameter DBInstanceIdentifier"},
		{name: "missing nested required", form: "DBInstanceIdentifier=a&Filters.Filter.1.Values.Value.1=x",
			code: "MissingParameter", msg: "Filters.Filter.1.Name"},
		{name: "bad integer", form: "DBInstanceIdentifier=a&Count=twenty", code: "InvalidParameterValue", msg: "Count"},
		{name: "integer overflow", form: "DBInstanceIdentifier=a&Limit=99999999999", code: "InvalidParameterValue", msg: "Limit"},
		{name: "long overflow", form: "DBInstanceIdentifier=a&Since=99999999999999999999", code: "InvalidParameterValue", msg: "Since"},
		{name: "bad boolean", form: "DBInstanceIdentifier=a&Flag=yes", code: "InvalidParameterValue", msg: "true or false"},
		{name: "bad timestamp", form: "DBInstanceIdentifier=a&When=yesterday", code: "InvalidParameterValue", msg: "ISO 8601"},
		{name: "bad element", form: "DBInstanceIdentifier=a&Filters.Filter.1.Name=n&Filters.Filter.1.Values.Value.1=v&Filters.Filter.2.Name=m",
			code: "MissingParameter", msg: "Filters.Filter.2.Values"},
		{name: "unsupported member", form: "DBInstanceIdentifier=a&Forbidden=x", code: "InvalidParameterValue", msg: "does not support the parameter Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			var got sampleInput
			err = decode(newForm(values), &got)
			if tt.code != "" {
				var f *rds.Fault
				if !errors.As(err, &f) || f.Code != tt.code || f.Status != 400 || !strings.Contains(f.Message, tt.msg) {
					t.Fatalf("decode(%s) = %v; want %s containing %q", tt.form, err, tt.code, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode(%s): %v", tt.form, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decode(%s)\n got %+v\nwant %+v", tt.form, got, tt.want)
			}
		})
	}
}

// TestDecodeOperations decodes real SDK request bodies (the fuzz seeds) into
// each operation's input and checks what a handler would receive.
func TestDecodeOperations(t *testing.T) {
	a := New(Config{Region: "eu-west-1", AccountID: "123456789012"})
	tests := []struct {
		body   string
		want   any
		access access
	}{
		{
			body: "Action=CreateDBInstance&Version=2014-10-31&DBInstanceIdentifier=DB1&DBInstanceClass=db.t3.micro&Engine=postgres&BackupRetentionPeriod=0&DBParameterGroupName=tuned&Tags.Tag.1.Key=env&Tags.Tag.1.Value=prod",
			want: &createDBInstanceInput{DBInstanceIdentifier: "db1", DBInstanceClass: "db.t3.micro", Engine: "postgres",
				BackupRetentionPeriod: intp(0), DBParameterGroupName: "tuned", Tags: []tagInput{{"env", "prod"}}},
			access: access{
				{resources: []string{"arn:aws:rds:eu-west-1:123456789012:db:db1", "arn:aws:rds:eu-west-1:123456789012:pg:tuned"}},
				{action: "AddTagsToResource", resources: []string{"arn:aws:rds:eu-west-1:123456789012:db:db1"}},
			},
		},
		{
			body:   "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=20",
			want:   &describeDBInstancesInput{MaxRecords: 20},
			access: access{{resources: []string{"arn:aws:rds:eu-west-1:123456789012:db:*"}}},
		},
		{
			body:   "Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=a&NewDBInstanceIdentifier=b&DeletionProtection=false&ApplyImmediately=true",
			want:   &modifyDBInstanceInput{DBInstanceIdentifier: "a", NewDBInstanceIdentifier: "b", DeletionProtection: boolp(false), ApplyImmediately: true},
			access: access{{resources: []string{"arn:aws:rds:eu-west-1:123456789012:db:a", "arn:aws:rds:eu-west-1:123456789012:db:b"}}},
		},
		{
			body:   "Action=CreateDBInstanceReadReplica&Version=2014-10-31&DBInstanceIdentifier=r&SourceDBInstanceIdentifier=arn%3Aaws%3Ards%3Aeu-west-1%3A123456789012%3Adb%3Asrc&Tags=",
			want:   &createReadReplicaInput{DBInstanceIdentifier: "r", SourceDBInstanceIdentifier: "src", Tags: []tagInput{}},
			access: access{{resources: []string{"arn:aws:rds:eu-west-1:123456789012:db:r", "arn:aws:rds:eu-west-1:123456789012:db:src"}}},
		},
		{
			body: "Action=ModifyDBParameterGroup&Version=2014-10-31&DBParameterGroupName=tuned&Parameters.Parameter.1.ParameterName=work_mem&Parameters.Parameter.1.ParameterValue=8192&Parameters.Parameter.1.ApplyMethod=immediate",
			want: &modifyDBParameterGroupInput{DBParameterGroupName: "tuned",
				Parameters: []parameterInput{{ParameterName: "work_mem", ParameterValue: "8192", ApplyMethod: "immediate"}}},
			access: access{{resources: []string{"arn:aws:rds:eu-west-1:123456789012:pg:tuned"}}},
		},
		{
			body:   "Action=RemoveTagsFromResource&Version=2014-10-31&ResourceName=arn%3Aaws%3Ards%3Aeu-west-1%3A123456789012%3Apg%3Atuned&TagKeys.member.1=k",
			want:   &removeTagsInput{ResourceName: "arn:aws:rds:eu-west-1:123456789012:pg:tuned", TagKeys: []string{"k"}},
			access: access{{resources: []string{"arn:aws:rds:eu-west-1:123456789012:pg:tuned"}}},
		},
		{
			body:   "Action=DescribeEvents&Version=2014-10-31&EventCategories.EventCategory.1=creation",
			want:   &describeEventsInput{EventCategories: []string{"creation"}},
			access: access{{}},
		},
	}
	for _, tt := range tests {
		action, _, c, err := a.decodeRequest(formRequest(tt.body), []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if !reflect.DeepEqual(c.input, tt.want) {
			t.Errorf("%s: decoded\n %+v\nwant %+v", action, c.input, tt.want)
		}
		if !reflect.DeepEqual(c.access, tt.access) {
			t.Errorf("%s: access %+v, want %+v", action, c.access, tt.access)
		}
	}
}

func formRequest(body string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

// FuzzDecode feeds arbitrary bodies through everything that runs before an
// operation: parsing, the operation lookup, decoding and the authorization
// rule. Whatever the bytes, it must not panic, and it must either decode or
// refuse with a fault the client is to blame for (4xx).
func FuzzDecode(f *testing.F) {
	f.Add([]byte("Action=DescribeDBInstances&Version=2014-10-31"))
	a := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, c, err := a.decodeRequest(formRequest(""), body)
		if err == nil {
			if c.run == nil {
				t.Fatalf("decoded %q without a call", body)
			}
			return
		}
		var fault *rds.Fault
		if !errors.As(err, &fault) || fault.Status < 400 || fault.Status > 499 || fault.Code == "" {
			t.Fatalf("decode %q: %v; want a 4xx fault", body, err)
		}
	})
}

// TestDecodeEmbedded checks that the members of an embedded struct are
// read as members of the request itself.
func TestDecodeEmbedded(t *testing.T) {
	var in restorePointInTimeInput
	if err := decode(formOf(t, "TargetDBInstanceIdentifier=x&PubliclyAccessible=true&PreferredBackupWindow=04:00-04:30"+
		"&EnableCloudwatchLogsExports.member.1=postgresql&MaxAllocatedStorage=100"), &in); err != nil {
		t.Fatal(err)
	}
	s := in.settings()
	if in.TargetDBInstanceIdentifier != "x" || s.PubliclyAccessible == nil || !*s.PubliclyAccessible ||
		s.PreferredBackupWindow != "04:00-04:30" || len(s.EnableLogTypes) != 1 || in.MaxAllocatedStorage == nil || *in.MaxAllocatedStorage != 100 {
		t.Errorf("decoded %+v", in)
	}
	if err := decode(formOf(t, "TargetDBInstanceIdentifier=x&PubliclyAccessible=maybe"), &in); err == nil {
		t.Error("an embedded member's bad value was taken")
	}
}
