package rds

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/store"
)

// DB subnet groups and DB security groups say, on RDS, in which VPC
// subnets an instance lives and who may reach it. teal has no VPC: its
// endpoints listen where the operator configures them (--endpoint-address)
// and whoever reaches them reaches the database. The groups are kept as
// what they are to tools that always pass them (Terraform, CloudFormation
// templates, scripts written for RDS): stored with their members, checked
// when an instance names them, shown on the instance, and refused while in
// use, but they decide nothing about access. The same holds for VPC
// security groups (EC2 "sg-…" ids), which teal checks only for form.
//
// Every instance is in a DB subnet group: the "default" one, which always
// exists, when it names none, as in a default VPC. Its VpcId is tealVpcID
// and its subnets are in one availability zone, the region's "a".

const (
	kindSubnetGroup   = "db-subnet-group"
	kindSecurityGroup = "db-security-group"

	// defaultGroupName is the name of the default DB subnet group and of
	// the default DB security group, which exist implicitly.
	defaultGroupName = "default"
	// tealVpcID is the VpcId of every DB subnet group: teal's one network.
	tealVpcID = "vpc-teal"

	// RDS's default quotas.
	maxSubnetGroups     = 50
	maxSubnetsPerGroup  = 20
	maxSecurityGroups   = 25
	maxAuthorizations   = 20
	maxVpcSecurityGroup = 16
	maxDescription      = 255
)

var (
	subnetIDRE         = regexp.MustCompile(`^subnet-[0-9A-Za-z]{1,32}$`)
	vpcSecurityGroupRE = regexp.MustCompile(`^sg-[0-9A-Za-z]{1,32}$`)
)

// subnetGroupRecord is the persisted state of a DB subnet group. The
// default group is stored only once changed (tagged).
type subnetGroupRecord struct {
	store.Version
	Name        string
	Description string
	Subnets     []string
	Tags        []Tag `json:",omitempty"`
}

func (g *subnetGroupRecord) clone() subnetGroupRecord {
	n := *g
	n.Subnets = slices.Clone(g.Subnets)
	n.Tags = slices.Clone(g.Tags)
	return n
}

// securityGroupRecord is the persisted state of a DB security group: the
// ingress it records, which teal does not enforce.
type securityGroupRecord struct {
	store.Version
	Name        string
	Description string
	IPRanges    []string      `json:",omitempty"` // CIDRs
	EC2Groups   []ec2GroupRef `json:",omitempty"`
	Tags        []Tag         `json:",omitempty"`
}

// ec2GroupRef is an EC2 security group a DB security group authorizes.
type ec2GroupRef struct {
	Name    string `json:",omitempty"`
	ID      string `json:",omitempty"`
	OwnerID string
}

func (g *securityGroupRecord) clone() securityGroupRecord {
	n := *g
	n.IPRanges = slices.Clone(g.IPRanges)
	n.EC2Groups = slices.Clone(g.EC2Groups)
	n.Tags = slices.Clone(g.Tags)
	return n
}

// DBSubnetGroup is the description of a DB subnet group.
type DBSubnetGroup struct {
	DBSubnetGroupName        string
	DBSubnetGroupDescription string
	VpcId                    string
	SubnetGroupStatus        string
	Subnets                  []Subnet
	DBSubnetGroupArn         string // "" in a DB instance's description, as RDS shows it
	SupportedNetworkTypes    []string
}

// Subnet is a subnet of a DB subnet group.
type Subnet struct {
	SubnetIdentifier       string
	SubnetAvailabilityZone string // the AvailabilityZone's Name
	SubnetStatus           string
}

// DBSecurityGroup is the description of a DB security group.
type DBSecurityGroup struct {
	OwnerId                    string
	DBSecurityGroupName        string
	DBSecurityGroupDescription string
	EC2SecurityGroups          []EC2SecurityGroup
	IPRanges                   []IPRange
	DBSecurityGroupArn         string
}

// EC2SecurityGroup is an EC2 security group a DB security group authorizes.
type EC2SecurityGroup struct {
	Status                  string
	EC2SecurityGroupName    string
	EC2SecurityGroupId      string
	EC2SecurityGroupOwnerId string
}

// IPRange is a CIDR a DB security group authorizes.
type IPRange struct {
	Status string
	CIDRIP string
}

// VpcSecurityGroupMembership, DBSecurityGroupMembership and
// OptionGroupMembership are an instance's groups, as DescribeDBInstances
// shows them.
type VpcSecurityGroupMembership struct {
	VpcSecurityGroupId string
	Status             string
}

type DBSecurityGroupMembership struct {
	DBSecurityGroupName string
	Status              string
}

type OptionGroupMembership struct {
	OptionGroupName string
	Status          string
}

// loadNetGroupsLocked makes the default groups, then loads the stored
// ones, which may replace a default that was tagged.
func (s *Service) loadNetGroups(ctx context.Context) error {
	s.subnetGroups[defaultGroupName] = &subnetGroupRecord{Name: defaultGroupName, Description: "default"}
	s.securityGroups[defaultGroupName] = &securityGroupRecord{Name: defaultGroupName, Description: "default"}
	for _, e := range s.engines {
		for _, b := range e.Builds() {
			name := defaultOptionGroupName(e.Name(), b.Major())
			s.optionGroups[name] = &optionGroupRecord{Name: name, Engine: e.Name(), Major: b.Major(), Default: true,
				Description: "Default option group for " + e.Name() + " " + b.Major()}
		}
	}
	subnets, err := store.List[subnetGroupRecord](ctx, s.store, kindSubnetGroup)
	if err != nil {
		return err
	}
	for i := range subnets {
		s.subnetGroups[subnets[i].Name] = &subnets[i]
	}
	secs, err := store.List[securityGroupRecord](ctx, s.store, kindSecurityGroup)
	if err != nil {
		return err
	}
	for i := range secs {
		s.securityGroups[secs[i].Name] = &secs[i]
	}
	ogs, err := store.List[optionGroupRecord](ctx, s.store, kindOptionGroup)
	if err != nil {
		return err
	}
	for i := range ogs {
		s.optionGroups[ogs[i].Name] = &ogs[i]
	}
	return nil
}

// createRecordLocked saves a new record under kind and key; the caller
// publishes it once this returns nil.
func (s *Service) createRecordLocked(ctx context.Context, kind, key string, rec any) error {
	if err := s.commitLocked(ctx, func(tx *store.Tx) error { return tx.Put(kind, key, rec) }); err != nil {
		return fmt.Errorf("save %s %s: %w", kind, key, err)
	}
	return nil
}

// updateRecordLocked changes a record on a copy, saves the copy, then
// publishes it: a failed save leaves the record as it was.
func updateRecordLocked[R any](ctx context.Context, s *Service, kind, key string, rec *R, clone func() R, change func(next *R)) error {
	next := clone()
	change(&next)
	if err := s.commitLocked(ctx, func(tx *store.Tx) error { return tx.Put(kind, key, &next) }); err != nil {
		return fmt.Errorf("save %s %s: %w", kind, key, err)
	}
	*rec = next
	return nil
}

// deleteRecordLocked removes a stored record; the caller forgets it once
// this returns nil.
func (s *Service) deleteRecordLocked(ctx context.Context, kind, key string) error {
	if err := s.commitLocked(ctx, func(tx *store.Tx) error { return tx.Delete(kind, key) }); err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, key, err)
	}
	return nil
}

// validDescription checks the description of a group: given, at most 255
// characters of valid UTF-8 and no control characters.
func validDescription(param, d string) error {
	if d == "" {
		return missing(param)
	}
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > maxDescription ||
		strings.IndexFunc(d, unicode.IsControl) >= 0 {
		return invalidValue("The parameter %s must be 1 to %d printable characters.", param, maxDescription)
	}
	return nil
}

// newGroupName checks the name of a group of type typ to create: a valid
// identifier, not the default group's.
func newGroupName(typ, param, name string) (string, error) {
	if name == "" {
		return "", missing(param)
	}
	n, err := Name(typ, param, name)
	if err != nil {
		return "", err
	}
	if n == defaultGroupName || strings.HasPrefix(n, defaultOptionGroupPrefix) {
		return "", invalidValue("The parameter %s must not be %q: that name belongs to a default group.", param, name)
	}
	return n, nil
}

// validSubnets checks the SubnetIds of a DB subnet group and returns them
// without repeats, in the order given.
func validSubnets(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, fault("DBSubnetGroupDoesNotCoverEnoughAZs", http.StatusBadRequest,
			"A DB subnet group needs at least one subnet in SubnetIds.")
	}
	var out []string
	for _, id := range ids {
		if !subnetIDRE.MatchString(id) {
			return nil, invalidSubnet("The subnet identifier %q is not valid: it must be subnet- followed by 1 to 32 letters or digits.", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > maxSubnetsPerGroup {
		return nil, fault("DBSubnetQuotaExceededFault", http.StatusBadRequest,
			"A DB subnet group can have at most %d subnets; %d were given.", maxSubnetsPerGroup, len(out))
	}
	return out, nil
}

// validVpcSecurityGroups checks VpcSecurityGroupIds and returns them
// without repeats. teal has no EC2: a well-formed id is accepted.
func validVpcSecurityGroups(ids []string) ([]string, error) {
	if ids == nil {
		return nil, nil
	}
	out := []string{}
	for _, id := range ids {
		if !vpcSecurityGroupRE.MatchString(id) {
			return nil, invalidValue("Invalid security group: %q is not a VPC security group id (sg- followed by 1 to 32 letters or digits).", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > maxVpcSecurityGroup {
		return nil, invalidValue("At most %d VPC security groups can be given; %d were given.", maxVpcSecurityGroup, len(out))
	}
	return out, nil
}

func (s *Service) subnetGroupArn(name string) string   { return s.scope().ARN(TypeSubnetGroup, name) }
func (s *Service) securityGroupArn(name string) string { return s.scope().ARN(TypeSecurityGroup, name) }

// findSubnetGroupLocked resolves a DB subnet group by name or ARN.
func (s *Service) findSubnetGroupLocked(param, ref string) (*subnetGroupRecord, error) {
	if ref == "" {
		return nil, missing(param)
	}
	name, err := s.scope().Identifier(TypeSubnetGroup, param, ref)
	if err != nil {
		return nil, err
	}
	g := s.subnetGroups[name]
	if g == nil {
		return nil, subnetGroupNotFound(ref)
	}
	return g, nil
}

func (s *Service) describeSubnetGroup(g *subnetGroupRecord) *DBSubnetGroup {
	d := &DBSubnetGroup{
		DBSubnetGroupName:        g.Name,
		DBSubnetGroupDescription: g.Description,
		VpcId:                    tealVpcID,
		SubnetGroupStatus:        "Complete",
		Subnets:                  []Subnet{},
		DBSubnetGroupArn:         s.subnetGroupArn(g.Name),
		SupportedNetworkTypes:    []string{"IPV4"},
	}
	for _, id := range g.Subnets {
		d.Subnets = append(d.Subnets, Subnet{SubnetIdentifier: id, SubnetAvailabilityZone: s.cfg.Region + "a", SubnetStatus: "Active"})
	}
	return d
}

// CreateDBSubnetGroup creates a DB subnet group of the subnets given.
func (s *Service) CreateDBSubnetGroup(ctx context.Context, name, description string, subnetIDs []string, tags []Tag) (*DBSubnetGroup, error) {
	name, err := newGroupName(TypeSubnetGroup, "DBSubnetGroupName", name)
	if err != nil {
		return nil, err
	}
	if err := validDescription("DBSubnetGroupDescription", description); err != nil {
		return nil, err
	}
	subnets, err := validSubnets(subnetIDs)
	if err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	if s.subnetGroups[name] != nil {
		return nil, subnetGroupExists(name)
	}
	if len(s.subnetGroups)-1 >= maxSubnetGroups {
		return nil, fault("DBSubnetGroupQuotaExceeded", http.StatusBadRequest,
			"You can have at most %d DB subnet groups.", maxSubnetGroups)
	}
	g := &subnetGroupRecord{Name: name, Description: description, Subnets: subnets, Tags: tags}
	if err := s.createRecordLocked(ctx, kindSubnetGroup, name, g); err != nil {
		return nil, err
	}
	s.subnetGroups[name] = g
	return s.describeSubnetGroup(g), nil
}

// ModifyDBSubnetGroup replaces the subnets of a DB subnet group, and its
// description when one is given.
func (s *Service) ModifyDBSubnetGroup(ctx context.Context, ref, description string, subnetIDs []string) (*DBSubnetGroup, error) {
	if description != "" {
		if err := validDescription("DBSubnetGroupDescription", description); err != nil {
			return nil, err
		}
	}
	subnets, err := validSubnets(subnetIDs)
	if err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	g, err := s.findSubnetGroupLocked("DBSubnetGroupName", ref)
	if err != nil {
		return nil, err
	}
	if g.Name == defaultGroupName {
		return nil, invalidSubnetGroupState("The default DB subnet group cannot be modified.")
	}
	if err := updateRecordLocked(ctx, s, kindSubnetGroup, g.Name, g, g.clone, func(next *subnetGroupRecord) {
		next.Subnets = subnets
		if description != "" {
			next.Description = description
		}
	}); err != nil {
		return nil, err
	}
	return s.describeSubnetGroup(g), nil
}

// DescribeDBSubnetGroups lists DB subnet groups, or one by name or ARN.
func (s *Service) DescribeDBSubnetGroups(ctx context.Context, ref string, page Page) ([]DBSubnetGroup, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref != "" {
		g, err := s.findSubnetGroupLocked("DBSubnetGroupName", ref)
		if err != nil {
			return nil, "", err
		}
		return []DBSubnetGroup{*s.describeSubnetGroup(g)}, "", nil
	}
	var out []DBSubnetGroup
	for _, name := range sortedKeys(s.subnetGroups) {
		if name <= after {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DBSubnetGroupName), nil
		}
		out = append(out, *s.describeSubnetGroup(s.subnetGroups[name]))
	}
	return out, "", nil
}

// DeleteDBSubnetGroup deletes a DB subnet group no instance is in.
func (s *Service) DeleteDBSubnetGroup(ctx context.Context, ref string) error {
	s.lock()
	defer s.unlock()
	g, err := s.findSubnetGroupLocked("DBSubnetGroupName", ref)
	if err != nil {
		return err
	}
	if g.Name == defaultGroupName {
		return invalidSubnetGroupState("The default DB subnet group cannot be deleted.")
	}
	for _, r := range s.sortedLocked() {
		if r.SubnetGroup == g.Name {
			return invalidSubnetGroupState("DB subnet group %s is in use by DB instance %s.", g.Name, r.Identifier)
		}
	}
	if err := s.deleteRecordLocked(ctx, kindSubnetGroup, g.Name); err != nil {
		return err
	}
	delete(s.subnetGroups, g.Name)
	return nil
}

// findSecurityGroupLocked resolves a DB security group by name or ARN.
func (s *Service) findSecurityGroupLocked(param, ref string) (*securityGroupRecord, error) {
	if ref == "" {
		return nil, missing(param)
	}
	name, err := s.scope().Identifier(TypeSecurityGroup, param, ref)
	if err != nil {
		return nil, err
	}
	g := s.securityGroups[name]
	if g == nil {
		return nil, securityGroupNotFound(ref)
	}
	return g, nil
}

func (s *Service) describeSecurityGroup(g *securityGroupRecord) *DBSecurityGroup {
	d := &DBSecurityGroup{
		OwnerId:                    s.cfg.AccountID,
		DBSecurityGroupName:        g.Name,
		DBSecurityGroupDescription: g.Description,
		EC2SecurityGroups:          []EC2SecurityGroup{},
		IPRanges:                   []IPRange{},
		DBSecurityGroupArn:         s.securityGroupArn(g.Name),
	}
	for _, c := range g.IPRanges {
		d.IPRanges = append(d.IPRanges, IPRange{Status: "authorized", CIDRIP: c})
	}
	for _, e := range g.EC2Groups {
		d.EC2SecurityGroups = append(d.EC2SecurityGroups, EC2SecurityGroup{Status: "authorized",
			EC2SecurityGroupName: e.Name, EC2SecurityGroupId: e.ID, EC2SecurityGroupOwnerId: e.OwnerID})
	}
	return d
}

// CreateDBSecurityGroup creates a DB security group with no ingress.
func (s *Service) CreateDBSecurityGroup(ctx context.Context, name, description string, tags []Tag) (*DBSecurityGroup, error) {
	name, err := newGroupName(TypeSecurityGroup, "DBSecurityGroupName", name)
	if err != nil {
		return nil, err
	}
	if err := validDescription("DBSecurityGroupDescription", description); err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	if s.securityGroups[name] != nil {
		return nil, securityGroupExists(name)
	}
	if len(s.securityGroups)-1 >= maxSecurityGroups {
		return nil, fault("QuotaExceeded.DBSecurityGroup", http.StatusBadRequest,
			"You can have at most %d DB security groups.", maxSecurityGroups)
	}
	g := &securityGroupRecord{Name: name, Description: description, Tags: tags}
	if err := s.createRecordLocked(ctx, kindSecurityGroup, name, g); err != nil {
		return nil, err
	}
	s.securityGroups[name] = g
	return s.describeSecurityGroup(g), nil
}

// DescribeDBSecurityGroups lists DB security groups, or one by name or ARN.
func (s *Service) DescribeDBSecurityGroups(ctx context.Context, ref string, page Page) ([]DBSecurityGroup, string, error) {
	max, err := maxRecords(page.MaxRecords)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeMarker(page.Marker)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref != "" {
		g, err := s.findSecurityGroupLocked("DBSecurityGroupName", ref)
		if err != nil {
			return nil, "", err
		}
		return []DBSecurityGroup{*s.describeSecurityGroup(g)}, "", nil
	}
	var out []DBSecurityGroup
	for _, name := range sortedKeys(s.securityGroups) {
		if name <= after {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].DBSecurityGroupName), nil
		}
		out = append(out, *s.describeSecurityGroup(s.securityGroups[name]))
	}
	return out, "", nil
}

// DeleteDBSecurityGroup deletes a DB security group no instance is in.
func (s *Service) DeleteDBSecurityGroup(ctx context.Context, ref string) error {
	s.lock()
	defer s.unlock()
	g, err := s.findSecurityGroupLocked("DBSecurityGroupName", ref)
	if err != nil {
		return err
	}
	if g.Name == defaultGroupName {
		return invalidSecurityGroupState("The default DB security group cannot be deleted.")
	}
	for _, r := range s.sortedLocked() {
		if slices.Contains(r.SecurityGroups, g.Name) {
			return invalidSecurityGroupState("DB security group %s is in use by DB instance %s.", g.Name, r.Identifier)
		}
	}
	if err := s.deleteRecordLocked(ctx, kindSecurityGroup, g.Name); err != nil {
		return err
	}
	delete(s.securityGroups, g.Name)
	return nil
}

// SecurityGroupIngress holds the members of AuthorizeDBSecurityGroupIngress
// and RevokeDBSecurityGroupIngress: a CIDR, or an EC2 security group.
type SecurityGroupIngress struct {
	DBSecurityGroupName     string
	CIDRIP                  string
	EC2SecurityGroupName    string
	EC2SecurityGroupId      string
	EC2SecurityGroupOwnerId string
}

// ingress is a checked SecurityGroupIngress: cidr, or ec2.
type ingress struct {
	cidr string
	ec2  ec2GroupRef
}

func (s *Service) checkIngress(in SecurityGroupIngress) (ingress, error) {
	ec2 := in.EC2SecurityGroupName != "" || in.EC2SecurityGroupId != "" || in.EC2SecurityGroupOwnerId != ""
	switch {
	case in.CIDRIP != "" && ec2:
		return ingress{}, invalidCombination("Give either CIDRIP or an EC2 security group, not both.")
	case in.CIDRIP != "":
		_, n, err := net.ParseCIDR(in.CIDRIP)
		if err != nil {
			return ingress{}, invalidValue("Invalid CIDRIP %q: it must be an IP address range such as 203.0.113.0/24.", in.CIDRIP)
		}
		return ingress{cidr: n.String()}, nil
	case in.EC2SecurityGroupName == "" && in.EC2SecurityGroupId == "":
		return ingress{}, invalidCombination("Give CIDRIP, or EC2SecurityGroupId or EC2SecurityGroupName.")
	}
	if in.EC2SecurityGroupId != "" && !vpcSecurityGroupRE.MatchString(in.EC2SecurityGroupId) {
		return ingress{}, invalidValue("Invalid EC2SecurityGroupId %q: it must be sg- followed by 1 to 32 letters or digits.", in.EC2SecurityGroupId)
	}
	if n := in.EC2SecurityGroupName; n != "" && (!utf8.ValidString(n) || utf8.RuneCountInString(n) > 255 || strings.IndexFunc(n, unicode.IsControl) >= 0) {
		return ingress{}, invalidValue("Invalid EC2SecurityGroupName: it must be 1 to 255 printable characters.")
	}
	owner := cmp.Or(in.EC2SecurityGroupOwnerId, s.cfg.AccountID)
	if !accountIDRE.MatchString(owner) {
		return ingress{}, invalidValue("Invalid EC2SecurityGroupOwnerId %q: it must be an AWS account ID (12 digits).", owner)
	}
	return ingress{ec2: ec2GroupRef{Name: in.EC2SecurityGroupName, ID: in.EC2SecurityGroupId, OwnerID: owner}}, nil
}

// indexIn finds the ingress in g: the index of its CIDR in IPRanges, or
// of its EC2 group (by id when given, by name and owner otherwise) in
// EC2Groups; -1 when g does not have it.
func (in ingress) indexIn(g *securityGroupRecord) int {
	if in.cidr != "" {
		return slices.Index(g.IPRanges, in.cidr)
	}
	return slices.IndexFunc(g.EC2Groups, func(e ec2GroupRef) bool {
		if in.ec2.ID != "" {
			return e.ID == in.ec2.ID
		}
		return e.Name == in.ec2.Name && e.OwnerID == in.ec2.OwnerID
	})
}

// AuthorizeDBSecurityGroupIngress records an ingress in a DB security
// group. teal does not enforce it: who reaches an endpoint is decided by
// where teal's endpoints listen.
func (s *Service) AuthorizeDBSecurityGroupIngress(ctx context.Context, in SecurityGroupIngress) (*DBSecurityGroup, error) {
	ing, err := s.checkIngress(in)
	if err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	g, err := s.findSecurityGroupLocked("DBSecurityGroupName", in.DBSecurityGroupName)
	if err != nil {
		return nil, err
	}
	if ing.indexIn(g) >= 0 {
		return nil, fault("AuthorizationAlreadyExists", http.StatusBadRequest,
			"The specified CIDRIP or EC2 security group is already authorized for DB security group %s.", g.Name)
	}
	if len(g.IPRanges)+len(g.EC2Groups) >= maxAuthorizations {
		return nil, fault("AuthorizationQuotaExceeded", http.StatusBadRequest,
			"A DB security group can have at most %d authorizations.", maxAuthorizations)
	}
	if err := updateRecordLocked(ctx, s, kindSecurityGroup, g.Name, g, g.clone, func(next *securityGroupRecord) {
		if ing.cidr != "" {
			next.IPRanges = append(next.IPRanges, ing.cidr)
		} else {
			next.EC2Groups = append(next.EC2Groups, ing.ec2)
		}
	}); err != nil {
		return nil, err
	}
	return s.describeSecurityGroup(g), nil
}

// RevokeDBSecurityGroupIngress removes an ingress from a DB security group.
func (s *Service) RevokeDBSecurityGroupIngress(ctx context.Context, in SecurityGroupIngress) (*DBSecurityGroup, error) {
	ing, err := s.checkIngress(in)
	if err != nil {
		return nil, err
	}
	s.lock()
	defer s.unlock()
	g, err := s.findSecurityGroupLocked("DBSecurityGroupName", in.DBSecurityGroupName)
	if err != nil {
		return nil, err
	}
	i := ing.indexIn(g)
	if i < 0 {
		return nil, fault("AuthorizationNotFound", http.StatusNotFound,
			"The specified CIDRIP or EC2 security group is not authorized for DB security group %s.", g.Name)
	}
	if err := updateRecordLocked(ctx, s, kindSecurityGroup, g.Name, g, g.clone, func(next *securityGroupRecord) {
		if ing.cidr != "" {
			next.IPRanges = slices.Delete(next.IPRanges, i, i+1)
		} else {
			next.EC2Groups = slices.Delete(next.EC2Groups, i, i+1)
		}
	}); err != nil {
		return nil, err
	}
	return s.describeSecurityGroup(g), nil
}

// InstanceGroups are the groups a request puts an instance in. "" and nil
// leave a group as it is: the default for a new instance. An empty, not
// nil, list removes every group of its kind.
type InstanceGroups struct {
	DBSubnetGroupName   string
	VpcSecurityGroupIds []string
	DBSecurityGroups    []string
	OptionGroupName     string
}

func (g InstanceGroups) given() bool {
	return g.DBSubnetGroupName != "" || g.VpcSecurityGroupIds != nil || g.DBSecurityGroups != nil || g.OptionGroupName != ""
}

// checkGroupsLocked checks the groups a request gives an instance of
// engine engineName at major version major, and returns them canonical:
// names in lower case, lists without repeats, the default groups as "".
func (s *Service) checkGroupsLocked(in InstanceGroups, engineName, major string) (InstanceGroups, error) {
	var out InstanceGroups
	if in.DBSubnetGroupName != "" {
		g, err := s.findSubnetGroupLocked("DBSubnetGroupName", in.DBSubnetGroupName)
		if err != nil {
			return out, err
		}
		out.DBSubnetGroupName = g.Name
	}
	var err error
	if out.VpcSecurityGroupIds, err = validVpcSecurityGroups(in.VpcSecurityGroupIds); err != nil {
		return out, err
	}
	if in.DBSecurityGroups != nil {
		out.DBSecurityGroups = []string{}
		for _, ref := range in.DBSecurityGroups {
			g, err := s.findSecurityGroupLocked("DBSecurityGroups", ref)
			if err != nil {
				return out, err
			}
			if !slices.Contains(out.DBSecurityGroups, g.Name) {
				out.DBSecurityGroups = append(out.DBSecurityGroups, g.Name)
			}
		}
	}
	if in.OptionGroupName != "" {
		og, err := s.findOptionGroupLocked("OptionGroupName", in.OptionGroupName)
		if err != nil {
			return out, err
		}
		if og.Engine != engineName || og.Major != major {
			return out, invalidCombination("The option group %s is for %s %s; it cannot be used with %s %s.",
				og.Name, og.Engine, og.Major, engineName, major)
		}
		out.OptionGroupName = og.Name
	}
	return out, nil
}

// applyTo puts r in the groups of checked g; the default groups are kept
// as "", so that an instance upgraded to another major version is in that
// version's default option group.
func (g InstanceGroups) applyTo(r *instanceRecord) {
	if g.DBSubnetGroupName != "" {
		r.SubnetGroup = g.DBSubnetGroupName
		if r.SubnetGroup == defaultGroupName {
			r.SubnetGroup = ""
		}
	}
	if g.VpcSecurityGroupIds != nil {
		r.VpcSecurityGroups = slices.Clip(g.VpcSecurityGroupIds)
		if len(r.VpcSecurityGroups) == 0 {
			r.VpcSecurityGroups = nil
		}
	}
	if g.DBSecurityGroups != nil {
		r.SecurityGroups = slices.Clip(g.DBSecurityGroups)
		if len(r.SecurityGroups) == 0 {
			r.SecurityGroups = nil
		}
	}
	if g.OptionGroupName != "" {
		r.OptionGroup = g.OptionGroupName
		if r.OptionGroup == defaultOptionGroupName(r.Engine, majorOfInstance(r)) {
			r.OptionGroup = ""
		}
	}
}

// setGroupsLocked checks the groups g a request gives r (a copy not yet
// published) and puts r in them.
func (s *Service) setGroupsLocked(r *instanceRecord, g InstanceGroups) error {
	checked, err := s.checkGroupsLocked(g, r.Engine, majorOfInstance(r))
	if err != nil {
		return err
	}
	checked.applyTo(r)
	return nil
}

// checkClusterMemberGroupsLocked checks the groups a request gives a new
// member of a DB cluster of engine engineName: the cluster's network is
// its members', so only its own (the default) DB subnet group may be
// named, and no security groups; only the default option group, which
// ModifyDBInstance can change once the instance exists.
func (s *Service) checkClusterMemberGroupsLocked(g InstanceGroups, engineName string) error {
	if g.VpcSecurityGroupIds != nil || g.DBSecurityGroups != nil {
		return invalidCombination("The requested DB Instance will be a member of a DB Cluster. Set the VPC security groups for the DB cluster.")
	}
	if g.DBSubnetGroupName != "" {
		sg, err := s.findSubnetGroupLocked("DBSubnetGroupName", g.DBSubnetGroupName)
		if err != nil {
			return err
		}
		if sg.Name != defaultGroupName {
			return invalidCombination("The DB subnet group of a member of a DB cluster is its cluster's (%s), not %s.", defaultGroupName, sg.Name)
		}
	}
	if g.OptionGroupName != "" {
		og, err := s.findOptionGroupLocked("OptionGroupName", g.OptionGroupName)
		if err != nil {
			return err
		}
		if !og.Default || og.Engine != engineName {
			return invalidCombination("A new member of a DB cluster is in the default option group of its engine; "+
				"give %s with ModifyDBInstance once the instance exists.", og.Name)
		}
	}
	return nil
}

// describeGroupsLocked adds r's groups to its description d.
func (s *Service) describeGroupsLocked(r *instanceRecord, d *DBInstance) {
	name := cmp.Or(r.SubnetGroup, defaultGroupName)
	if g := s.subnetGroups[name]; g != nil {
		d.DBSubnetGroup = s.describeSubnetGroup(g)
		d.DBSubnetGroup.DBSubnetGroupArn = ""
	} else {
		d.DBSubnetGroup = &DBSubnetGroup{DBSubnetGroupName: name, VpcId: tealVpcID, SubnetGroupStatus: "Complete"}
	}
	d.VpcSecurityGroups = []VpcSecurityGroupMembership{}
	for _, id := range r.VpcSecurityGroups {
		d.VpcSecurityGroups = append(d.VpcSecurityGroups, VpcSecurityGroupMembership{VpcSecurityGroupId: id, Status: "active"})
	}
	d.DBSecurityGroups = []DBSecurityGroupMembership{}
	for _, n := range r.SecurityGroups {
		d.DBSecurityGroups = append(d.DBSecurityGroups, DBSecurityGroupMembership{DBSecurityGroupName: n, Status: "active"})
	}
	og := cmp.Or(r.OptionGroup, defaultOptionGroupName(r.Engine, majorOfInstance(r)))
	d.OptionGroupMemberships = []OptionGroupMembership{{OptionGroupName: og, Status: "in-sync"}}
}

// majorOfInstance is the major version of r's engine version.
func majorOfInstance(r *instanceRecord) string {
	return engine.Build{Engine: r.Engine, Version: r.EngineVersion}.Major()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
