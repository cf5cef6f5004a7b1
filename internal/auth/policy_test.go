package auth

import (
	"strings"
	"testing"
)

const (
	dbX   = "arn:aws:rds:us-east-1:000000000000:db:x"
	dbY   = "arn:aws:rds:us-east-1:000000000000:db:y"
	pgX   = "arn:aws:rds:us-east-1:000000000000:pg:x"
	dbEU  = "arn:aws:rds:eu-west-1:000000000000:db:x"
	bgdX  = "arn:aws:rds:us-east-1:000000000000:deployment:bgd-x"
	myARN = "arn:aws:iam::000000000000:user/AKIATEST"
)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatalf("ParsePolicy(%s): %v", doc, err)
	}
	return p
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		policy   string
		action   string
		resource string
		want     Decision
	}{
		{"describe wildcard allows", `{"Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`,
			"rds:DescribeDBInstances", dbX, Allowed},
		{"describe wildcard does not allow create", `{"Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`,
			"rds:CreateDBInstance", dbX, ImplicitDeny},
		{"actions match case-insensitively", `{"Statement":[{"Effect":"Allow","Action":"RDS:describe*","Resource":"*"}]}`,
			"rds:DescribeDBInstances", dbX, Allowed},
		{"question mark is one character", `{"Statement":[{"Effect":"Allow","Action":"rds:?eleteDBInstance","Resource":"*"}]}`,
			"rds:DeleteDBInstance", dbX, Allowed},
		{"question mark is not zero characters", `{"Statement":[{"Effect":"Allow","Action":"rds:?DeleteDBInstance","Resource":"*"}]}`,
			"rds:DeleteDBInstance", dbX, ImplicitDeny},
		{"star action allows everything", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
			"rds:DeleteDBInstance", dbX, Allowed},
		{"other service never matches", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}`,
			"rds:DescribeDBInstances", dbX, ImplicitDeny},
		{"explicit deny wins", `{"Statement":[
			{"Effect":"Allow","Action":"rds:*","Resource":"*"},
			{"Effect":"Deny","Action":"rds:DeleteDBInstance","Resource":"*"}]}`,
			"rds:DeleteDBInstance", dbX, ExplicitDeny},
		{"explicit deny wins whatever the order", `{"Statement":[
			{"Effect":"Deny","Action":"rds:Delete*","Resource":"*"},
			{"Effect":"Allow","Action":"rds:DeleteDBInstance","Resource":"*"}]}`,
			"rds:DeleteDBInstance", dbX, ExplicitDeny},
		{"deny of another resource does not apply", `{"Statement":[
			{"Effect":"Allow","Action":"rds:*","Resource":"*"},
			{"Effect":"Deny","Action":"rds:*","Resource":"` + dbY + `"}]}`,
			"rds:DeleteDBInstance", dbX, Allowed},
		{"deny alone is still a deny", `{"Statement":{"Effect":"Deny","Action":"rds:*","Resource":"*"}}`,
			"rds:DescribeDBInstances", dbX, ExplicitDeny},
		{"resource wildcard in last segment", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:us-east-1:000000000000:db:*"}}`,
			"rds:ModifyDBInstance", dbX, Allowed},
		{"resource wildcard does not cross resource types", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:us-east-1:000000000000:db:*"}}`,
			"rds:ModifyDBParameterGroup", pgX, ImplicitDeny},
		{"resource wildcard in region segment", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:000000000000:db:x"}}`,
			"rds:ModifyDBInstance", dbEU, Allowed},
		{"region wildcard stays in its segment", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:us-*:000000000000:db:x"}}`,
			"rds:ModifyDBInstance", dbEU, ImplicitDeny},
		{"resource name prefix", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:us-east-1:000000000000:db:app-*"}}`,
			"rds:ModifyDBInstance", "arn:aws:rds:us-east-1:000000000000:db:app-green-1", Allowed},
		{"resources match case-sensitively", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:us-east-1:000000000000:db:X"}}`,
			"rds:ModifyDBInstance", dbX, ImplicitDeny},
		{"resource list", `{"Statement":{"Effect":"Allow","Action":["rds:ModifyDBInstance","rds:RebootDBInstance"],"Resource":["` + dbY + `","` + dbX + `"]}}`,
			"rds:RebootDBInstance", dbX, Allowed},
		{"resource-less action needs star", `{"Statement":{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:*:*"}}`,
			"rds:DescribeAccountAttributes", "*", ImplicitDeny},
		{"not action allows the rest", `{"Statement":{"Effect":"Allow","NotAction":"rds:Delete*","Resource":"*"}}`,
			"rds:CreateDBInstance", dbX, Allowed},
		{"not action excludes its own", `{"Statement":{"Effect":"Allow","NotAction":"rds:Delete*","Resource":"*"}}`,
			"rds:DeleteDBInstance", dbX, ImplicitDeny},
		{"deny everything but describe", `{"Statement":[
			{"Effect":"Allow","Action":"*","Resource":"*"},
			{"Effect":"Deny","NotAction":"rds:Describe*","Resource":"*"}]}`,
			"rds:ModifyDBInstance", dbX, ExplicitDeny},
		{"not resource", `{"Statement":{"Effect":"Allow","Action":"rds:*","NotResource":"` + dbY + `"}}`,
			"rds:DeleteDBInstance", dbX, Allowed},
		{"not resource excludes its own", `{"Statement":{"Effect":"Allow","Action":"rds:*","NotResource":"` + dbY + `"}}`,
			"rds:DeleteDBInstance", dbY, ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.policy).Decide(tt.action, tt.resource); got != tt.want {
				t.Fatalf("Decide(%s, %s) = %v, want %v", tt.action, tt.resource, got, tt.want)
			}
		})
	}
}

func TestNilPolicyAllowsNothing(t *testing.T) {
	var p *Policy
	if d := p.Decide("rds:DescribeDBInstances", "*"); d != ImplicitDeny {
		t.Fatalf("nil policy: %v", d)
	}
	if err := (Principal{}).Authorize("rds:DescribeDBInstances"); err == nil {
		t.Fatal("a zero Principal was authorized")
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "a", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a*b*c", "aXbYbZc", true},
		{"*x", "xxxy", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"??", "é!", true}, // characters, not bytes
		{"abc", "abcd", false},
		{"abc*", "ab", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name, doc, says string
	}{
		{"empty", ``, "empty"},
		{"not JSON", `{"Statement":`, "not a JSON object"},
		{"a list", `[]`, "not a JSON object"},
		{"bad version", `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "valid version"},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"empty statement list", `{"Statement":[]}`, "empty"},
		{"unknown top element", `{"Statment":[]}`, `"Statment"`},
		{"bad effect", `{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, "Effect must be"},
		{"no effect", `{"Statement":{"Action":"*","Resource":"*"}}`, "Effect is missing"},
		{"no action", `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "Action and NotAction"},
		{"both action forms", `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"rds:x","Resource":"*"}}`, "Action and NotAction"},
		{"no resource", `{"Statement":{"Effect":"Allow","Action":"*"}}`, "Resource and NotResource"},
		{"action without service", `{"Statement":{"Effect":"Allow","Action":"DescribeDBInstances","Resource":"*"}}`, "prefixed by a service"},
		{"action of wrong type", `{"Statement":{"Effect":"Allow","Action":7,"Resource":"*"}}`, "string or a list"},
		{"empty action list", `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "empty list"},
		{"resource not an ARN", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"db:x"}}`, "ARN"},
		{"principal", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "principal"},
		{"condition", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}}`, "Condition is not supported"},
		{"unknown statement element", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Resources":"*"}}`, `"Resources"`},
		{"second statement named", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allow"}]}`, "Statement 2"},
		{"too large", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Sid":"` + strings.Repeat("x", MaxPolicySize) + `"}}`, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			f := faultOf(t, err)
			if f.Code != "InvalidParameterValue" || f.Status != 400 {
				t.Fatalf("got %s (%d)", f.Code, f.Status)
			}
			if !strings.HasPrefix(f.Message, "MalformedPolicyDocument: ") || !strings.Contains(f.Message, tt.says) {
				t.Fatalf("message %q does not say %q", f.Message, tt.says)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	p := Principal{AccessKeyID: "AKIATEST", ARN: myARN, policy: mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["rds:Describe*","rds:ModifyDBInstance","rds:DescribeAccountAttributes"],"Resource":"*"},
		{"Effect":"Allow","Action":"rds:CreateDBInstance","Resource":"arn:aws:rds:us-east-1:000000000000:db:*"},
		{"Effect":"Deny","Action":"rds:ModifyDBInstance","Resource":"`+dbY+`"}]}`)}

	tests := []struct {
		name      string
		action    string
		resources []string
		message   string // "" means allowed
	}{
		{"allowed on one resource", "rds:CreateDBInstance", []string{dbX}, ""},
		{"bare action name is an rds action", "CreateDBInstance", []string{dbX}, ""},
		{"every resource must be allowed", "rds:CreateDBInstance", []string{dbX, pgX},
			"User: " + myARN + " is not authorized to perform: rds:CreateDBInstance on resource: " + pgX +
				" because no identity-based policy allows the rds:CreateDBInstance action"},
		{"explicit deny on the second resource", "rds:ModifyDBInstance", []string{dbX, dbY},
			"User: " + myARN + " is not authorized to perform: rds:ModifyDBInstance on resource: " + dbY +
				" with an explicit deny in an identity-based policy"},
		{"implicit deny", "rds:CreateBlueGreenDeployment", []string{bgdX},
			"User: " + myARN + " is not authorized to perform: rds:CreateBlueGreenDeployment on resource: " + bgdX +
				" because no identity-based policy allows the rds:CreateBlueGreenDeployment action"},
		{"no resource, allowed by star", "rds:DescribeAccountAttributes", nil, ""},
		{"no resource, not allowed", "rds:DeleteDBInstance", nil,
			"User: " + myARN + " is not authorized to perform: rds:DeleteDBInstance because no identity-based policy allows the rds:DeleteDBInstance action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Authorize(tt.action, tt.resources...)
			if tt.message == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			f := faultOf(t, err)
			if f.Code != "AccessDenied" || f.Status != 403 || f.Message != tt.message {
				t.Fatalf("got %s (%d) %q\nwant AccessDenied (403) %q", f.Code, f.Status, f.Message, tt.message)
			}
		})
	}

	root := Principal{AccessKeyID: rootID, Root: true, ARN: "arn:aws:iam::000000000000:root"}
	if err := root.Authorize("rds:DeleteDBInstance", dbX, dbY); err != nil {
		t.Fatalf("root refused: %v", err)
	}
}
