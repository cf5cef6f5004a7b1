package rds

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// An identifier of an RDS resource may often be given as its ARN instead,
// and the policy an access key carries is checked on ARNs. Both must name the
// resource the operation then acts on, so there is one strict reading of an
// ARN here, and one canonical form of every reference: the lower-case
// identifier, and the ARN built from it in teal's own partition, region and
// account. Nothing else in teal takes an ARN apart.

// ARN is an Amazon Resource Name of an RDS resource:
// arn:PARTITION:rds:REGION:ACCOUNT:TYPE:NAME.
type ARN struct {
	Partition string
	Region    string
	AccountID string
	Type      string // one of the resource types below: "db", "pg", …
	Name      string // a valid identifier of Type, in lower case
}

func (a ARN) String() string {
	return fmt.Sprintf("arn:%s:rds:%s:%s:%s:%s", a.Partition, a.Region, a.AccountID, a.Type, a.Name)
}

// The resource types teal knows, with what their names look like and the
// fault of a reference to one that does not exist.
const (
	TypeInstance       = "db"
	TypeParameterGroup = "pg"
	TypeCluster        = "cluster"
	// TypeClusterParameterGroup and TypeClusterEndpoint are a DB cluster
	// parameter group's and a custom endpoint's.
	TypeClusterParameterGroup = "cluster-pg"
	TypeClusterEndpoint       = "cluster-endpoint"
	TypeDeployment            = "deployment"
	TypeSnapshot              = "snapshot"
	// TypeAutoBackup is an instance's automated backups: ab-<id>.
	TypeAutoBackup = "auto-backup"
	// TypeSubnetGroup, TypeSecurityGroup and TypeOptionGroup are a DB
	// subnet group's, a DB security group's and an option group's
	// (netgroups.go, optiongroups.go).
	TypeSubnetGroup   = "subgrp"
	TypeSecurityGroup = "secgrp"
	TypeOptionGroup   = "og"
)

// automatedPrefix begins the names of automated DB snapshots, which a
// user cannot give: rds:mydb-2026-12-01-04-10.
const automatedPrefix = "rds:"

type resourceType struct {
	what     string         // for messages
	max      int            // longest name
	re       *regexp.Regexp // what a name looks like
	notFound func(ref string) *Fault
	// prefix: a name may also be prefix and a valid name ("rds:" of
	// automated snapshots, "default:" of default option groups).
	prefix string
}

var resourceTypes = map[string]resourceType{
	TypeInstance: {what: "DB instance", max: 63, re: nameRE, notFound: instanceNotFound},
	// Default parameter groups are "default.<family>".
	TypeParameterGroup:        {what: "DB parameter group", max: 255, re: groupNameRE, notFound: groupNotFound},
	TypeCluster:               {what: "DB cluster", max: 63, re: nameRE, notFound: clusterNotFound},
	TypeClusterParameterGroup: {what: "DB cluster parameter group", max: 255, re: groupNameRE, notFound: groupNotFound},
	TypeClusterEndpoint:       {what: "DB cluster endpoint", max: 63, re: nameRE, notFound: clusterEndpointNotFound},
	TypeDeployment:            {what: "blue/green deployment", max: 255, re: nameRE, notFound: deploymentNotFound},
	TypeSnapshot:              {what: "DB snapshot", max: 255, re: nameRE, notFound: snapshotNotFound, prefix: automatedPrefix},
	TypeAutoBackup:            {what: "automated backup", max: 63, re: nameRE, notFound: backupNotFound},
	TypeSubnetGroup:           {what: "DB subnet group", max: 255, re: subnetGroupNameRE, notFound: subnetGroupNotFound},
	TypeSecurityGroup:         {what: "DB security group", max: 255, re: nameRE, notFound: securityGroupNotFound},
	TypeOptionGroup:           {what: "option group", max: 255, re: nameRE, notFound: optionGroupNotFound, prefix: defaultOptionGroupPrefix},
}

var (
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	// Region and account are compared with teal's own, whatever their form;
	// here they only have to be plain words.
	scopeFieldRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	nameRE       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
	groupNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.-]*$`)
	// A DB subnet group's name may also hold periods, underscores and
	// spaces, and begin with a digit.
	subnetGroupNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ -]*$`)
)

// validName reports whether name is a well-formed identifier of type t: a
// letter first, then ASCII letters, digits and hyphens (and dots in a
// parameter group's), no two hyphens in a row, not ending in a hyphen,
// dot or space.
func (t resourceType) validName(name string) bool {
	if t.prefix != "" && strings.HasPrefix(name, t.prefix) {
		name = name[len(t.prefix):]
	}
	return len(name) <= t.max && t.re.MatchString(name) && !strings.Contains(name, "--") &&
		!strings.HasSuffix(name, "-") && !strings.HasSuffix(name, ".") && !strings.HasSuffix(name, " ")
}

// ParseARN reads an RDS ARN strictly: exactly seven colon-separated fields,
// "arn", a partition, "rds", a region, an account, a resource type teal knows
// and a valid name of that type. The name is returned in lower case, as RDS
// identifiers are case-insensitive; every other field must already be in the
// exact form AWS writes.
func ParseARN(s string) (ARN, error) {
	f := strings.Split(s, ":")
	if len(f) == 8 {
		if p := resourceTypes[f[5]].prefix; p != "" && f[6]+":" == p {
			f = append(f[:6], p+f[7])
		}
	}
	if len(f) != 7 || f[0] != "arn" || f[2] != "rds" {
		return ARN{}, fmt.Errorf("%q is not an RDS ARN (arn:aws:rds:REGION:ACCOUNT:TYPE:NAME)", s)
	}
	if !partitionRE.MatchString(f[1]) || !scopeFieldRE.MatchString(f[3]) || !scopeFieldRE.MatchString(f[4]) {
		return ARN{}, fmt.Errorf("%q is not an RDS ARN: bad partition, region or account", s)
	}
	t, ok := resourceTypes[f[5]]
	if !ok {
		return ARN{}, fmt.Errorf("%q does not name a resource type teal has (db, pg, cluster, deployment)", s)
	}
	if !t.validName(f[6]) {
		return ARN{}, fmt.Errorf("%q does not end in a valid %s identifier", s, t.what)
	}
	return ARN{Partition: f[1], Region: f[3], AccountID: f[4], Type: f[5], Name: strings.ToLower(f[6])}, nil
}

// Scope is where teal's resources live: every canonical ARN names partition
// aws, this region and this account.
type Scope struct {
	Region    string
	AccountID string
}

// ARN is the canonical ARN of the resource of type typ named name.
func (sc Scope) ARN(typ, name string) string {
	return ARN{Partition: "aws", Region: sc.Region, AccountID: sc.AccountID, Type: typ, Name: strings.ToLower(name)}.String()
}

// Identifier resolves a reference to an existing resource of type typ, given
// as its identifier or its ARN, to the canonical identifier. param names the
// request member, for messages. A reference that is not a valid identifier or
// ARN is an InvalidParameterValue fault; an ARN of another type too. A valid
// ARN of another partition, region or account names nothing teal has: the
// type's not-found fault.
func (sc Scope) Identifier(typ, param, ref string) (string, error) {
	if !strings.HasPrefix(ref, "arn:") {
		return Name(typ, param, ref)
	}
	a, err := sc.ResolveARN(param, ref, typ)
	if err != nil {
		return "", err
	}
	return a.Name, nil
}

// Name checks the identifier of a resource of type typ, such as the one a
// create names (never an ARN), and returns it in canonical lower case.
func Name(typ, param, name string) (string, error) {
	t, ok := resourceTypes[typ]
	if !ok {
		return "", fmt.Errorf("identifier of %s: unknown resource type %q", param, typ)
	}
	if !t.validName(name) {
		return "", invalidValue("The parameter %s is not a valid identifier: %q. Identifiers must begin with a letter; "+
			"must contain only ASCII letters, digits, and hyphens; must not end with a hyphen or contain two "+
			"consecutive hyphens; and must be 1 to %d characters long.", param, name, t.max)
	}
	return strings.ToLower(name), nil
}

// ResolveARN resolves a reference that must be an ARN, of one of types, to
// the ARN in canonical form, with the same faults as Identifier.
func (sc Scope) ResolveARN(param, ref string, types ...string) (ARN, error) {
	a, err := ParseARN(ref)
	if err != nil {
		return ARN{}, invalidValue("The parameter %s is not valid: %v.", param, err)
	}
	if !slices.Contains(types, a.Type) {
		whats := make([]string, len(types))
		for i, t := range types {
			whats[i] = resourceTypes[t].what
		}
		return ARN{}, invalidValue("The parameter %s must name a %s: %q names a %s.",
			param, strings.Join(whats, " or "), ref, resourceTypes[a.Type].what)
	}
	if a.Partition != "aws" || a.Region != sc.Region || a.AccountID != sc.AccountID {
		return ARN{}, resourceTypes[a.Type].notFound(ref)
	}
	return a, nil
}

// scope is where this service's resources live.
func (s *Service) scope() Scope { return Scope{Region: s.cfg.Region, AccountID: s.cfg.AccountID} }
