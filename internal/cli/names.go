package cli

import (
	"regexp"
	"strings"
)

// These follow botocore's xform_name, which is how the AWS CLI turns a
// member name into an option name; copying its rules, rather than writing
// our own, is what makes acronyms come out the same (DBInstanceIdentifier →
// db-instance-identifier, MultiAZ → multi-az, VpcSecurityGroupIds →
// vpc-security-group-ids).
var (
	firstCap    = regexp.MustCompile(`(.)([A-Z][a-z]+)`)
	endCap      = regexp.MustCompile(`([a-z0-9])([A-Z])`)
	pluralAcron = regexp.MustCompile(`[A-Z]{2,}s$`)
)

// flagName returns the option name, without dashes, for an API member name.
func flagName(member string) string {
	if strings.Contains(member, "-") {
		return member
	}
	name := member
	// A pluralised acronym at the end (SubnetARNs) is split off whole,
	// because the rules below would otherwise cut it as "subnet-ar-ns".
	if m := pluralAcron.FindString(name); m != "" {
		name = name[:len(name)-len(m)] + "-" + strings.ToLower(m)
	}
	name = firstCap.ReplaceAllString(name, "$1-$2")
	name = endCap.ReplaceAllString(name, "$1-$2")
	return strings.ToLower(name)
}
