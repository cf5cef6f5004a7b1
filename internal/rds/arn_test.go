package rds

import (
	"errors"
	"strings"
	"testing"
)

func TestParseARN(t *testing.T) {
	good := []struct {
		in   string
		want ARN
	}{
		{"arn:aws:rds:us-east-1:000000000000:db:prod", ARN{"aws", "us-east-1", "000000000000", "db", "prod"}},
		{"arn:aws:rds:us-east-1:000000000000:db:PROD", ARN{"aws", "us-east-1", "000000000000", "db", "prod"}},
		{"arn:aws-cn:rds:cn-north-1:123456789012:pg:Tuned-1", ARN{"aws-cn", "cn-north-1", "123456789012", "pg", "tuned-1"}},
		{"arn:aws:rds:eu-west-1:000000000000:pg:default.postgres15", ARN{"aws", "eu-west-1", "000000000000", "pg", "default.postgres15"}},
		{"arn:aws:rds:us-east-1:000000000000:deployment:bgd-abc", ARN{"aws", "us-east-1", "000000000000", "deployment", "bgd-abc"}},
		{"arn:aws:rds:us-east-1:000000000000:cluster:aurora", ARN{"aws", "us-east-1", "000000000000", "cluster", "aurora"}},
		{"arn:aws:rds:us-east-1:000000000000:snapshot:before-upgrade", ARN{"aws", "us-east-1", "000000000000", "snapshot", "before-upgrade"}},
		{"arn:aws:rds:us-east-1:000000000000:snapshot:rds:prod-2026-12-01-04-10", ARN{"aws", "us-east-1", "000000000000", "snapshot", "rds:prod-2026-12-01-04-10"}},
	}
	for _, tt := range good {
		got, err := ParseARN(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseARN(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if err == nil && !strings.EqualFold(got.String(), tt.in) {
			t.Errorf("ParseARN(%q).String() = %q", tt.in, got.String())
		}
	}
	bad := []string{
		"",
		"prod",
		"arn:x:db:prod",
		"arn:aws:rds:us-east-1:000000000000:db:app-x:db:prod", // the name may hold no further segments
		"arn:aws:rds:us-east-1:000000000000:db:",
		"arn:aws:rds:us-east-1:000000000000:db",
		"arn:aws:rds:us-east-1:000000000000:db:*",
		"arn:aws:rds:us-east-1:000000000000:db:pro?",
		"arn:aws:rds:us-east-1:000000000000:db:app_x",
		"arn:aws:rds:us-east-1:000000000000:db:-prod",
		"arn:aws:rds:us-east-1:000000000000:db:prod-",
		"arn:aws:rds:us-east-1:000000000000:db:pr--od",
		"arn:aws:rds:us-east-1:000000000000:db:default.postgres15", // dots only in parameter group names
		"arn:aws:rds:us-east-1:000000000000:db:" + strings.Repeat("a", 64),
		"arn:aws:rds:us-east-1:000000000000:db:pro\u212a", // KELVIN SIGN lower-cases to k
		"arn:aws:rds:us-east-1:000000000000:db:prod ",
		"arn:aws:rds:us-east-1:000000000000:DB:prod",
		"arn:aws:rds:us-east-1:000000000000:es:prod", // an event subscription: not a type teal has
		"arn:aws:rds:us-east-1:000000000000:snapshot:rds:",
		"arn:aws:rds:us-east-1:000000000000:db:rds:prod",
		"arn:aws:rds:us-east-1:000000000000:snapshot:aws:prod",
		"arn:aws:rds:us-east-1:000000000000:db/prod",
		"ARN:aws:rds:us-east-1:000000000000:db:prod",
		"arn:AWS:rds:us-east-1:000000000000:db:prod",
		"arn:aws:RDS:us-east-1:000000000000:db:prod",
		"arn:aws:ec2:us-east-1:000000000000:db:prod",
		"arn:aws:rds:*:000000000000:db:prod",
		"arn:aws:rds:us-east-1:*:db:prod",
		"arn:aws:rds::000000000000:db:prod",
		"arn:aws:rds:us-east-1::db:prod",
		"arn:aws:rds:US-EAST-1:000000000000:db:prod",
		"arn::rds:us-east-1:000000000000:db:prod",
	}
	for _, s := range bad {
		if a, err := ParseARN(s); err == nil {
			t.Errorf("ParseARN(%q) = %+v; want an error", s, a)
		}
	}
}

// TestScopeIdentifier covers every way a reference to an existing resource
// is resolved, including the ones that reached instance prod past a policy.
func TestScopeIdentifier(t *testing.T) {
	sc := Scope{Region: "us-east-1", AccountID: "000000000000"}
	tests := []struct {
		name, typ, ref string
		want           string // the canonical identifier, or
		code           string // the fault
	}{
		{"plain", TypeInstance, "prod", "prod", ""},
		{"upper case", TypeInstance, "PROD", "prod", ""},
		{"mixed case", TypeInstance, "App-X", "app-x", ""},
		{"own ARN", TypeInstance, "arn:aws:rds:us-east-1:000000000000:db:prod", "prod", ""},
		{"own ARN, upper-case name", TypeInstance, "arn:aws:rds:us-east-1:000000000000:db:PROD", "prod", ""},
		{"group", TypeParameterGroup, "Tuned", "tuned", ""},
		{"default group", TypeParameterGroup, "default.postgres15", "default.postgres15", ""},
		{"group ARN", TypeParameterGroup, "arn:aws:rds:us-east-1:000000000000:pg:tuned", "tuned", ""},
		{"deployment ARN", TypeDeployment, "arn:aws:rds:us-east-1:000000000000:deployment:bgd-0123", "bgd-0123", ""},

		{"a second :db: inside the ARN", TypeInstance, "arn:aws:rds:us-east-1:000000000000:db:app-x:db:prod", "", "InvalidParameterValue"},
		{"short ARN", TypeInstance, "arn:x:db:prod", "", "InvalidParameterValue"},
		{"upper-case prefix", TypeInstance, "ARN:aws:rds:us-east-1:000000000000:db:prod", "", "InvalidParameterValue"},
		{"wildcard name", TypeInstance, "arn:aws:rds:us-east-1:000000000000:db:*", "", "InvalidParameterValue"},
		{"bad plain identifier", TypeInstance, "prod_1", "", "InvalidParameterValue"},
		{"plain identifier with a dot", TypeInstance, "default.postgres15", "", "InvalidParameterValue"},
		{"non-ASCII identifier", TypeInstance, "pro\u212a", "", "InvalidParameterValue"},
		{"another resource type", TypeInstance, "arn:aws:rds:us-east-1:000000000000:pg:prod", "", "InvalidParameterValue"},
		{"another region", TypeInstance, "arn:aws:rds:eu-west-1:000000000000:db:prod", "", "DBInstanceNotFound"},
		{"another account", TypeInstance, "arn:aws:rds:us-east-1:111111111111:db:prod", "", "DBInstanceNotFound"},
		{"another partition", TypeInstance, "arn:aws-cn:rds:us-east-1:000000000000:db:prod", "", "DBInstanceNotFound"},
		{"group of another region", TypeParameterGroup, "arn:aws:rds:eu-west-1:000000000000:pg:tuned", "", "DBParameterGroupNotFound"},
		{"deployment of another account", TypeDeployment, "arn:aws:rds:us-east-1:111111111111:deployment:bgd-0123", "", "BlueGreenDeploymentNotFoundFault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sc.Identifier(tt.typ, "DBInstanceIdentifier", tt.ref)
			if tt.code != "" {
				var f *Fault
				if !errors.As(err, &f) || f.Code != tt.code || f.Status < 400 || f.Status > 499 || !strings.Contains(f.Message, tt.ref) {
					t.Fatalf("Identifier(%q) = %q, %v; want %s naming the reference", tt.ref, got, err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Identifier(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
		})
	}
}

func TestScopeResolveARN(t *testing.T) {
	sc := Scope{Region: "us-east-1", AccountID: "000000000000"}
	tests := []struct {
		ref  string
		want string
		code string
	}{
		{"arn:aws:rds:us-east-1:000000000000:db:prod", "arn:aws:rds:us-east-1:000000000000:db:prod", ""},
		{"arn:aws:rds:us-east-1:000000000000:db:PROD", "arn:aws:rds:us-east-1:000000000000:db:prod", ""},
		{"arn:aws:rds:us-east-1:000000000000:pg:Tuned", "arn:aws:rds:us-east-1:000000000000:pg:tuned", ""},
		{"arn:aws:rds:us-east-1:000000000000:cluster:aurora", "arn:aws:rds:us-east-1:000000000000:cluster:aurora", ""},
		{"prod", "", "InvalidParameterValue"},
		{"arn:aws:rds:us-east-1:000000000000:db:app-x:db:prod", "", "InvalidParameterValue"},
		{"arn:x:db:prod", "", "InvalidParameterValue"},
		{"arn:aws:rds:us-east-1:000000000000:deployment:bgd-1", "", "InvalidParameterValue"},
		{"arn:aws:rds:eu-west-1:000000000000:db:prod", "", "DBInstanceNotFound"},
		{"arn:aws:rds:eu-west-1:000000000000:pg:tuned", "", "DBParameterGroupNotFound"},
		{"arn:aws:rds:eu-west-1:000000000000:cluster:aurora", "", "DBClusterNotFoundFault"},
	}
	for _, tt := range tests {
		got, err := sc.ResolveARN("ResourceName", tt.ref, TypeInstance, TypeParameterGroup, TypeCluster)
		if tt.code != "" {
			var f *Fault
			if !errors.As(err, &f) || f.Code != tt.code {
				t.Errorf("ResolveARN(%q) = %v, %v; want %s", tt.ref, got, err, tt.code)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ResolveARN(%q) = %v, %v; want %s", tt.ref, got, err, tt.want)
		}
	}
}

func TestName(t *testing.T) {
	if got, err := Name(TypeInstance, "DBInstanceIdentifier", "New-DB"); err != nil || got != "new-db" {
		t.Errorf("Name(New-DB) = %q, %v", got, err)
	}
	// A resource to create is named by its identifier, never by an ARN.
	for _, s := range []string{"arn:aws:rds:us-east-1:000000000000:db:new", "app-x:db:prod", "", "-x"} {
		if _, err := Name(TypeInstance, "DBInstanceIdentifier", s); !errors.Is(err, ErrInvalidParameterValue) {
			t.Errorf("Name(%q): %v; want InvalidParameterValue", s, err)
		}
	}
}

// TestFindLockedIsStrict: the service finds an instance only by its
// identifier or its own canonical ARN, never by the text after a ":db:".
func TestFindLockedIsStrict(t *testing.T) {
	s := &Service{cfg: Config{Region: "us-east-1", AccountID: "000000000000"},
		instances: map[string]*instanceRecord{"db-1": {ResourceID: "db-1", Identifier: "prod"}}}
	for _, ref := range []string{"prod", "PROD", "arn:aws:rds:us-east-1:000000000000:db:prod", "arn:aws:rds:us-east-1:000000000000:db:Prod"} {
		if s.findLocked(ref) == nil {
			t.Errorf("findLocked(%q) found nothing", ref)
		}
	}
	for _, ref := range []string{
		"arn:aws:rds:us-east-1:000000000000:db:app-x:db:prod",
		"arn:aws:rds:eu-west-1:000000000000:db:prod",
		"arn:aws:rds:us-east-1:111111111111:db:prod",
		"arn:x:db:prod",
		"ARN:aws:rds:us-east-1:000000000000:db:prod",
		"arn:aws:rds:us-east-1:000000000000:pg:prod",
	} {
		if r := s.findLocked(ref); r != nil {
			t.Errorf("findLocked(%q) found %s", ref, r.Identifier)
		}
	}
}
