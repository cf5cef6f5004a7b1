package api

import (
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/tealdb/teal/internal/auth"
	"github.com/tealdb/teal/internal/rds"
)

// policyCaller authorizes with a real IAM-style policy.
type policyCaller struct{ p *auth.Policy }

func (c policyCaller) IsRoot() bool  { return false }
func (c policyCaller) KeyID() string { return "AKIDPOLICY" }
func (c policyCaller) Authorize(action string, resources ...string) error {
	for _, r := range resources {
		if c.p.Decide(action, r) != auth.Allowed {
			return &rds.Fault{Code: "AccessDenied", Status: 403, Message: action + " on " + r}
		}
	}
	return nil
}

func mustPolicy(t *testing.T, doc string) policyCaller {
	t.Helper()
	p, err := auth.ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return policyCaller{p}
}

// TestPolicySeesCanonicalResource sends the requests that once reached
// instance prod past a policy naming it, and their legitimate neighbours:
// each is refused before it runs, or is authorized on exactly the canonical
// ARN of the resource the handler then receives.
func TestPolicySeesCanonicalResource(t *testing.T) {
	a := New(Config{}) // us-east-1, account 000000000000
	onlyApps := mustPolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["rds:ModifyDBInstance","rds:CreateDBInstanceReadReplica","rds:Describe*"],"Resource":"arn:aws:rds:*:*:db:app-*"}]}`)
	notProd := mustPolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
		{"Effect":"Deny","Action":"rds:*","Resource":"arn:aws:rds:*:*:db:prod"}]}`)
	const own = "arn:aws:rds:us-east-1:000000000000:db:"
	tests := []struct {
		name   string
		caller policyCaller
		form   url.Values
		code   string // the refusal, or
		member string // the member the handler receives …
		want   string // … with this value
	}{
		{"modify prod through a nested :db:", onlyApps, request("ModifyDBInstance", "DBInstanceIdentifier", own+"app-x:db:prod", "MasterUserPassword", "stolen-pass"),
			"InvalidParameterValue", "", ""},
		{"replica of prod through a nested :db:", onlyApps, request("CreateDBInstanceReadReplica", "DBInstanceIdentifier", "app-r", "SourceDBInstanceIdentifier", own+"app-x:db:prod"),
			"InvalidParameterValue", "", ""},
		{"modify prod by name", onlyApps, request("ModifyDBInstance", "DBInstanceIdentifier", "prod"), "AccessDenied", "", ""},
		{"replica of prod by ARN", onlyApps, request("CreateDBInstanceReadReplica", "DBInstanceIdentifier", "app-r", "SourceDBInstanceIdentifier", own+"prod"),
			"AccessDenied", "", ""},
		{"modify app-x by name", onlyApps, request("ModifyDBInstance", "DBInstanceIdentifier", "app-x"), "", "DBInstanceIdentifier", "app-x"},
		{"modify app-x by ARN", onlyApps, request("ModifyDBInstance", "DBInstanceIdentifier", own+"app-x"), "", "DBInstanceIdentifier", "app-x"},
		{"modify app-x in upper case", onlyApps, request("ModifyDBInstance", "DBInstanceIdentifier", "APP-X"), "", "DBInstanceIdentifier", "app-x"},
		{"replica of app-x by ARN", onlyApps, request("CreateDBInstanceReadReplica", "DBInstanceIdentifier", "App-R", "SourceDBInstanceIdentifier", own+"APP-X"),
			"", "SourceDBInstanceIdentifier", "app-x"},

		{"prod in upper case", notProd, request("ModifyDBInstance", "DBInstanceIdentifier", "PROD"), "AccessDenied", "", ""},
		{"prod's ARN in upper case", notProd, request("ModifyDBInstance", "DBInstanceIdentifier", own+"PROD"), "AccessDenied", "", ""},
		{"prod in another region", notProd, request("ModifyDBInstance", "DBInstanceIdentifier", "arn:aws:rds:eu-west-1:000000000000:db:prod"),
			"DBInstanceNotFound", "", ""},
		{"prod in another account", notProd, request("RebootDBInstance", "DBInstanceIdentifier", "arn:aws:rds:us-east-1:111111111111:db:prod"),
			"DBInstanceNotFound", "", ""},
		{"short ARN", notProd, request("DeleteDBInstance", "DBInstanceIdentifier", "arn:x:db:prod"), "InvalidParameterValue", "", ""},
		{"ARN in upper case", notProd, request("DeleteDBInstance", "DBInstanceIdentifier", "ARN:aws:rds:us-east-1:000000000000:db:prod"),
			"InvalidParameterValue", "", ""},
		{"describe prod by ARN", notProd, request("DescribeDBInstances", "DBInstanceIdentifier", own+"Prod"), "AccessDenied", "", ""},
		{"tags of prod", notProd, request("ListTagsForResource", "ResourceName", own+"PROD"), "AccessDenied", "", ""},
		{"tags through a nested :db:", notProd, request("AddTagsToResource", "ResourceName", own+"x:db:prod", "Tags.Tag.1.Key", "k"),
			"InvalidParameterValue", "", ""},
		{"deployment of prod", notProd, request("CreateBlueGreenDeployment", "BlueGreenDeploymentName", "up", "Source", own+"PROD"), "AccessDenied", "", ""},
		{"deployment through a nested :db:", notProd, request("CreateBlueGreenDeployment", "BlueGreenDeploymentName", "up", "Source", own+"x:db:prod"),
			"InvalidParameterValue", "", ""},
		{"create prod in upper case", notProd, request("CreateDBInstance", "DBInstanceIdentifier", "PROD", "DBInstanceClass", "db.t3.micro", "Engine", "postgres"),
			"AccessDenied", "", ""},
		{"create named like an ARN", notProd, request("CreateDBInstance", "DBInstanceIdentifier", own+"prod", "DBInstanceClass", "db.t3.micro", "Engine", "postgres"),
			"InvalidParameterValue", "", ""},
		{"rename to prod", notProd, request("ModifyDBInstance", "DBInstanceIdentifier", "app-x", "NewDBInstanceIdentifier", "Prod"), "AccessDenied", "", ""},
		{"tags of app-x", notProd, request("ListTagsForResource", "ResourceName", own+"APP-X"), "", "ResourceName", own + "app-x"},
		{"group by ARN", notProd, request("DescribeDBParameters", "DBParameterGroupName", "arn:aws:rds:us-east-1:000000000000:pg:Tuned"),
			"", "DBParameterGroupName", "tuned"},
		{"deployment by ARN", notProd, request("DescribeBlueGreenDeployments", "BlueGreenDeploymentIdentifier", "arn:aws:rds:us-east-1:000000000000:deployment:BGD-1"),
			"", "BlueGreenDeploymentIdentifier", "bgd-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.form.Encode()
			action, _, c, err := a.decodeRequest(formRequest(body), []byte(body))
			if err == nil {
				err = authorize(tt.caller, action, c.access)
			}
			if tt.code != "" {
				var f *rds.Fault
				if !errors.As(err, &f) || f.Code != tt.code || f.Status < 400 || f.Status > 499 {
					t.Fatalf("%s: %v; want %s", body, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			got := reflect.ValueOf(c.input).Elem().FieldByName(tt.member).String()
			if got != tt.want {
				t.Fatalf("%s: the handler receives %s=%q, want %q", body, tt.member, got, tt.want)
			}
		})
	}
}

func request(action string, kv ...string) url.Values {
	v := url.Values{"Action": {action}, "Version": {APIVersion}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
