package rds

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func faultCode(err error) string {
	var f *Fault
	if errors.As(err, &f) {
		return f.Code
	}
	if err != nil {
		return "not a fault: " + err.Error()
	}
	return ""
}

func TestNewGroupName(t *testing.T) {
	for _, c := range []struct {
		typ, name, want, code string
	}{
		{TypeSubnetGroup, "My_Subnets 1.a", "my_subnets 1.a", ""},
		{TypeSubnetGroup, "10-subnets", "10-subnets", ""},
		{TypeSubnetGroup, "default", "", "InvalidParameterValue"},
		{TypeSubnetGroup, "Default", "", "InvalidParameterValue"},
		{TypeSubnetGroup, "", "", "MissingParameter"},
		{TypeSubnetGroup, "trailing ", "", "InvalidParameterValue"},
		{TypeSubnetGroup, "a:b", "", "InvalidParameterValue"},
		{TypeSubnetGroup, "a/b", "", "InvalidParameterValue"},
		{TypeSubnetGroup, strings.Repeat("a", 256), "", "InvalidParameterValue"},
		{TypeSecurityGroup, "web-tier", "web-tier", ""},
		{TypeSecurityGroup, "web_tier", "", "InvalidParameterValue"},
		{TypeSecurityGroup, "web--tier", "", "InvalidParameterValue"},
		{TypeSecurityGroup, "1web", "", "InvalidParameterValue"},
		{TypeOptionGroup, "Pg15-Opts", "pg15-opts", ""},
		{TypeOptionGroup, "default:postgres-15", "", "InvalidParameterValue"},
		{TypeOptionGroup, "default:mine", "", "InvalidParameterValue"},
		{TypeOptionGroup, "other:postgres-15", "", "InvalidParameterValue"},
	} {
		got, err := newGroupName(c.typ, "Name", c.name)
		if faultCode(err) != c.code || got != c.want {
			t.Errorf("newGroupName(%s, %q) = %q, %v; want %q, %s", c.typ, c.name, got, err, c.want, c.code)
		}
	}
}

func TestValidSubnets(t *testing.T) {
	got, err := validSubnets([]string{"subnet-0a1b2c3d", "subnet-0a1b2c3d", "subnet-12345678901234567"})
	if err != nil || !slices.Equal(got, []string{"subnet-0a1b2c3d", "subnet-12345678901234567"}) {
		t.Errorf("validSubnets = %v, %v; want the two subnets once each", got, err)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = "subnet-" + strings.Repeat("a", i+1)
	}
	for _, c := range []struct {
		ids  []string
		code string
	}{
		{nil, "DBSubnetGroupDoesNotCoverEnoughAZs"},
		{[]string{}, "DBSubnetGroupDoesNotCoverEnoughAZs"},
		{[]string{"sg-0a1b"}, "InvalidSubnet"},
		{[]string{"subnet-"}, "InvalidSubnet"},
		{[]string{"subnet-0a1b\n"}, "InvalidSubnet"},
		{[]string{"subnet-0a1b/../x"}, "InvalidSubnet"},
		{[]string{"subnet-" + strings.Repeat("f", 33)}, "InvalidSubnet"},
		{many, "DBSubnetQuotaExceededFault"},
		{many[:20], ""},
	} {
		if _, err := validSubnets(c.ids); faultCode(err) != c.code {
			t.Errorf("validSubnets(%q): %v, want %s", c.ids, err, c.code)
		}
	}
}

func TestValidVpcSecurityGroups(t *testing.T) {
	if got, err := validVpcSecurityGroups(nil); got != nil || err != nil {
		t.Errorf("validVpcSecurityGroups(nil) = %v, %v; want nil: not given", got, err)
	}
	if got, err := validVpcSecurityGroups([]string{}); got == nil || len(got) != 0 || err != nil {
		t.Errorf("validVpcSecurityGroups([]) = %#v, %v; want an empty list: remove them all", got, err)
	}
	got, err := validVpcSecurityGroups([]string{"sg-0123abcd", "sg-0123abcd", "sg-1"})
	if err != nil || !slices.Equal(got, []string{"sg-0123abcd", "sg-1"}) {
		t.Errorf("validVpcSecurityGroups = %v, %v", got, err)
	}
	for _, ids := range [][]string{{"subnet-1"}, {"sg-"}, {"sg-1 "}, {"default"}, {"sg-1", "sg-@"}} {
		if _, err := validVpcSecurityGroups(ids); faultCode(err) != "InvalidParameterValue" {
			t.Errorf("validVpcSecurityGroups(%q): %v, want InvalidParameterValue", ids, err)
		}
	}
}

func TestValidDescription(t *testing.T) {
	for _, c := range []struct {
		d    string
		code string
	}{
		{"Subnets of the app", ""},
		{"Managed by Terraform ✓", ""},
		{strings.Repeat("é", 255), ""},
		{"", "MissingParameter"},
		{strings.Repeat("a", 256), "InvalidParameterValue"},
		{"line\nbreak", "InvalidParameterValue"},
		{"bad \xff utf-8", "InvalidParameterValue"},
	} {
		if err := validDescription("Description", c.d); faultCode(err) != c.code {
			t.Errorf("validDescription(%q): %v, want %q", c.d, err, c.code)
		}
	}
}

func TestDefaultOptionGroupName(t *testing.T) {
	for _, c := range [][3]string{
		{"postgres", "15", "default:postgres-15"},
		{"mariadb", "10.11", "default:mariadb-10-11"},
		{"aurora-postgresql", "17", "default:aurora-postgresql-17"},
	} {
		name := defaultOptionGroupName(c[0], c[1])
		if name != c[2] {
			t.Errorf("defaultOptionGroupName(%s, %s) = %s, want %s", c[0], c[1], name, c[2])
		}
		// A default group is named by its ARN too, colon and all.
		arn := Scope{Region: "us-east-1", AccountID: "000000000000"}.ARN(TypeOptionGroup, name)
		a, err := ParseARN(arn)
		if err != nil || a.Type != TypeOptionGroup || a.Name != name {
			t.Errorf("ParseARN(%s) = %+v, %v", arn, a, err)
		}
	}
	for _, bad := range []string{
		"arn:aws:rds:us-east-1:000000000000:og:other:postgres-15",
		"arn:aws:rds:us-east-1:000000000000:og:default:",
		"arn:aws:rds:us-east-1:000000000000:pg:default:postgres-15",
		"arn:aws:rds:us-east-1:000000000000:og:default:postgres-15:x",
	} {
		if a, err := ParseARN(bad); err == nil {
			t.Errorf("ParseARN(%s) = %+v, want an error", bad, a)
		}
	}
}

func TestCheckIngress(t *testing.T) {
	s := &Service{cfg: Config{Region: "us-east-1", AccountID: "000000000000"}}
	for _, c := range []struct {
		in   SecurityGroupIngress
		want ingress
		code string
	}{
		{SecurityGroupIngress{CIDRIP: "203.0.113.7/24"}, ingress{cidr: "203.0.113.0/24"}, ""},
		{SecurityGroupIngress{CIDRIP: "2001:db8::/32"}, ingress{cidr: "2001:db8::/32"}, ""},
		{SecurityGroupIngress{EC2SecurityGroupId: "sg-0abc"}, ingress{ec2: ec2GroupRef{ID: "sg-0abc", OwnerID: "000000000000"}}, ""},
		{SecurityGroupIngress{EC2SecurityGroupName: "web", EC2SecurityGroupOwnerId: "123456789012"},
			ingress{ec2: ec2GroupRef{Name: "web", OwnerID: "123456789012"}}, ""},
		{SecurityGroupIngress{}, ingress{}, "InvalidParameterCombination"},
		{SecurityGroupIngress{CIDRIP: "10.0.0.0/8", EC2SecurityGroupId: "sg-1"}, ingress{}, "InvalidParameterCombination"},
		{SecurityGroupIngress{EC2SecurityGroupOwnerId: "123456789012"}, ingress{}, "InvalidParameterCombination"},
		{SecurityGroupIngress{CIDRIP: "10.0.0.0"}, ingress{}, "InvalidParameterValue"},
		{SecurityGroupIngress{CIDRIP: "10.0.0.0/33"}, ingress{}, "InvalidParameterValue"},
		{SecurityGroupIngress{EC2SecurityGroupId: "sg-1;drop"}, ingress{}, "InvalidParameterValue"},
		{SecurityGroupIngress{EC2SecurityGroupName: "web", EC2SecurityGroupOwnerId: "me"}, ingress{}, "InvalidParameterValue"},
		{SecurityGroupIngress{EC2SecurityGroupName: "a\x00b"}, ingress{}, "InvalidParameterValue"},
	} {
		got, err := s.checkIngress(c.in)
		if faultCode(err) != c.code || got != c.want {
			t.Errorf("checkIngress(%+v) = %+v, %v; want %+v, %s", c.in, got, err, c.want, c.code)
		}
	}
}

// TestInstanceGroups: the groups a request gives are checked against what
// exists and fits the instance, and stored with the defaults as "".
func TestInstanceGroups(t *testing.T) {
	s := &Service{cfg: Config{Region: "us-east-1", AccountID: "000000000000"},
		subnetGroups: map[string]*subnetGroupRecord{
			"default": {Name: "default"}, "app": {Name: "app", Subnets: []string{"subnet-1"}}},
		securityGroups: map[string]*securityGroupRecord{"default": {Name: "default"}, "web": {Name: "web"}},
		optionGroups: map[string]*optionGroupRecord{
			"default:postgres-15": {Name: "default:postgres-15", Engine: "postgres", Major: "15", Default: true},
			"pg15":                {Name: "pg15", Engine: "postgres", Major: "15"},
			"pg16":                {Name: "pg16", Engine: "postgres", Major: "16"},
			"maria":               {Name: "maria", Engine: "mariadb", Major: "10.11"},
		},
	}
	r := &instanceRecord{Identifier: "db1", Engine: "postgres", EngineVersion: "15.14"}
	err := s.setGroupsLocked(r, InstanceGroups{DBSubnetGroupName: "APP", VpcSecurityGroupIds: []string{"sg-1", "sg-1"},
		DBSecurityGroups: []string{"web", "arn:aws:rds:us-east-1:000000000000:secgrp:web"}, OptionGroupName: "pg15"})
	if err != nil || r.SubnetGroup != "app" || !slices.Equal(r.VpcSecurityGroups, []string{"sg-1"}) ||
		!slices.Equal(r.SecurityGroups, []string{"web"}) || r.OptionGroup != "pg15" {
		t.Fatalf("setGroupsLocked: %v; record %+v", err, r)
	}
	d := &DBInstance{}
	s.describeGroupsLocked(r, d)
	if d.DBSubnetGroup.DBSubnetGroupName != "app" || d.DBSubnetGroup.VpcId != tealVpcID || len(d.DBSubnetGroup.Subnets) != 1 ||
		d.DBSubnetGroup.Subnets[0].SubnetAvailabilityZone != "us-east-1a" ||
		!slices.Equal(d.VpcSecurityGroups, []VpcSecurityGroupMembership{{"sg-1", "active"}}) ||
		!slices.Equal(d.DBSecurityGroups, []DBSecurityGroupMembership{{"web", "active"}}) ||
		!slices.Equal(d.OptionGroupMemberships, []OptionGroupMembership{{"pg15", "in-sync"}}) {
		t.Errorf("describeGroupsLocked = %+v", d)
	}

	// Naming the defaults stores them as "": the instance follows its
	// engine version's default option group.
	if err := s.setGroupsLocked(r, InstanceGroups{DBSubnetGroupName: "default", OptionGroupName: "default:postgres-15",
		VpcSecurityGroupIds: []string{}, DBSecurityGroups: []string{}}); err != nil {
		t.Fatal(err)
	}
	if r.SubnetGroup != "" || r.OptionGroup != "" || r.VpcSecurityGroups != nil || r.SecurityGroups != nil {
		t.Errorf("after naming the defaults: %+v", r)
	}
	r.EngineVersion = "16.4"
	s.describeGroupsLocked(r, d)
	if d.DBSubnetGroup.DBSubnetGroupName != "default" || d.OptionGroupMemberships[0].OptionGroupName != "default:postgres-16" ||
		len(d.VpcSecurityGroups) != 0 || len(d.DBSecurityGroups) != 0 {
		t.Errorf("defaults described as %+v", d)
	}
	r.EngineVersion = "15.14"

	before := r.clone()
	for _, c := range []struct {
		g    InstanceGroups
		code string
	}{
		{InstanceGroups{DBSubnetGroupName: "nope"}, "DBSubnetGroupNotFoundFault"},
		{InstanceGroups{DBSubnetGroupName: "bad:name"}, "InvalidParameterValue"},
		{InstanceGroups{DBSubnetGroupName: "arn:aws:rds:eu-west-1:000000000000:subgrp:app"}, "DBSubnetGroupNotFoundFault"},
		{InstanceGroups{DBSecurityGroups: []string{"web", "nope"}}, "DBSecurityGroupNotFound"},
		{InstanceGroups{VpcSecurityGroupIds: []string{"vpc-1"}}, "InvalidParameterValue"},
		{InstanceGroups{OptionGroupName: "nope"}, "OptionGroupNotFoundFault"},
		{InstanceGroups{OptionGroupName: "pg16"}, "InvalidParameterCombination"},
		{InstanceGroups{OptionGroupName: "maria"}, "InvalidParameterCombination"},
		{InstanceGroups{DBSubnetGroupName: "app", OptionGroupName: "pg16"}, "InvalidParameterCombination"},
	} {
		next := r.clone()
		if err := s.setGroupsLocked(&next, c.g); faultCode(err) != c.code {
			t.Errorf("setGroupsLocked(%+v): %v, want %s", c.g, err, c.code)
		}
	}
	if r.SubnetGroup != before.SubnetGroup || r.OptionGroup != before.OptionGroup {
		t.Errorf("a refused change changed the record: %+v", r)
	}

	for _, c := range []struct {
		g    InstanceGroups
		code string
	}{
		{InstanceGroups{DBSubnetGroupName: "default", OptionGroupName: "default:postgres-15"}, ""},
		{InstanceGroups{VpcSecurityGroupIds: []string{"sg-1"}}, "InvalidParameterCombination"},
		{InstanceGroups{DBSubnetGroupName: "app"}, "InvalidParameterCombination"},
		{InstanceGroups{OptionGroupName: "pg15"}, "InvalidParameterCombination"},
	} {
		if err := s.checkClusterMemberGroupsLocked(c.g, "postgres"); faultCode(err) != c.code {
			t.Errorf("checkClusterMemberGroupsLocked(%+v): %v, want %q", c.g, err, c.code)
		}
	}
}
