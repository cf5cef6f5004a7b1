package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
)

// An op is one `aws rds` command: how to make its SDK input and send it.
// Its options come from the input's fields, so adding a command is one
// line in ops.
type op struct {
	name    string
	summary string
	input   func() any // a new *<Op>Input
	call    func(context.Context, *rds.Client, any) (any, error)
}

func rdsOp[In, Out any](name, summary string, call func(*rds.Client, context.Context, *In, ...func(*rds.Options)) (*Out, error)) op {
	return op{
		name:    name,
		summary: summary,
		input:   func() any { return new(In) },
		call: func(ctx context.Context, c *rds.Client, in any) (any, error) {
			return call(c, ctx, in.(*In))
		},
	}
}

var ops = []op{
	rdsOp("create-db-instance", "Create a DB instance.", (*rds.Client).CreateDBInstance),
	rdsOp("describe-db-instances", "List DB instances.", (*rds.Client).DescribeDBInstances),
	rdsOp("modify-db-instance", "Change a DB instance's settings.", (*rds.Client).ModifyDBInstance),
	rdsOp("reboot-db-instance", "Restart a DB instance's database server.", (*rds.Client).RebootDBInstance),
	rdsOp("stop-db-instance", "Stop a DB instance's database server; its data and endpoint stay.", (*rds.Client).StopDBInstance),
	rdsOp("start-db-instance", "Start a stopped DB instance.", (*rds.Client).StartDBInstance),
	rdsOp("delete-db-instance", "Delete a DB instance.", (*rds.Client).DeleteDBInstance),
	rdsOp("describe-db-log-files", "List a DB instance's log files.", (*rds.Client).DescribeDBLogFiles),
	rdsOp("download-db-log-file-portion", "Read part of a DB instance's log file.", (*rds.Client).DownloadDBLogFilePortion),
	rdsOp("add-role-to-db-instance", "Associate an IAM role with a DB instance (kept and shown as AssociatedRoles).", (*rds.Client).AddRoleToDBInstance),
	rdsOp("remove-role-from-db-instance", "Remove an IAM role from a DB instance.", (*rds.Client).RemoveRoleFromDBInstance),
	rdsOp("create-db-snapshot", "Take a snapshot of a DB instance.", (*rds.Client).CreateDBSnapshot),
	rdsOp("describe-db-snapshots", "List DB snapshots, manual and automated.", (*rds.Client).DescribeDBSnapshots),
	rdsOp("copy-db-snapshot", "Copy a DB snapshot to a new manual snapshot.", (*rds.Client).CopyDBSnapshot),
	rdsOp("delete-db-snapshot", "Delete a manual DB snapshot.", (*rds.Client).DeleteDBSnapshot),
	rdsOp("modify-db-snapshot-attribute", "Change the accounts a manual DB snapshot is shared with.", (*rds.Client).ModifyDBSnapshotAttribute),
	rdsOp("describe-db-snapshot-attributes", "List the attributes of a DB snapshot.", (*rds.Client).DescribeDBSnapshotAttributes),
	rdsOp("restore-db-instance-from-db-snapshot", "Create a DB instance from a DB snapshot.", (*rds.Client).RestoreDBInstanceFromDBSnapshot),
	rdsOp("restore-db-instance-to-point-in-time", "Create a DB instance with another's data as it was at a time.", (*rds.Client).RestoreDBInstanceToPointInTime),
	rdsOp("describe-db-instance-automated-backups", "List the automated backups of DB instances, live and deleted.", (*rds.Client).DescribeDBInstanceAutomatedBackups),
	rdsOp("delete-db-instance-automated-backup", "Delete the retained automated backups of a deleted DB instance.", (*rds.Client).DeleteDBInstanceAutomatedBackup),
	rdsOp("create-db-instance-read-replica", "Create a read replica of a DB instance.", (*rds.Client).CreateDBInstanceReadReplica),
	rdsOp("promote-read-replica", "Make a read replica a standalone DB instance.", (*rds.Client).PromoteReadReplica),
	rdsOp("create-db-cluster", "Create a DB cluster (aurora-postgresql); create-db-instance --db-cluster-identifier adds its instances.", (*rds.Client).CreateDBCluster),
	rdsOp("describe-db-clusters", "List DB clusters.", (*rds.Client).DescribeDBClusters),
	rdsOp("modify-db-cluster", "Change a DB cluster's settings.", (*rds.Client).ModifyDBCluster),
	rdsOp("delete-db-cluster", "Delete a DB cluster that has no instances left.", (*rds.Client).DeleteDBCluster),
	rdsOp("failover-db-cluster", "Make a reader instance of a DB cluster its writer.", (*rds.Client).FailoverDBCluster),
	rdsOp("create-db-cluster-endpoint", "Create a custom endpoint of a DB cluster.", (*rds.Client).CreateDBClusterEndpoint),
	rdsOp("modify-db-cluster-endpoint", "Change the type or members of a custom endpoint.", (*rds.Client).ModifyDBClusterEndpoint),
	rdsOp("delete-db-cluster-endpoint", "Delete a custom endpoint of a DB cluster.", (*rds.Client).DeleteDBClusterEndpoint),
	rdsOp("describe-db-cluster-endpoints", "List the endpoints of DB clusters: writer, reader and custom.", (*rds.Client).DescribeDBClusterEndpoints),
	rdsOp("create-db-parameter-group", "Create a DB parameter group.", (*rds.Client).CreateDBParameterGroup),
	rdsOp("copy-db-parameter-group", "Create a DB parameter group with the values of another.", (*rds.Client).CopyDBParameterGroup),
	rdsOp("describe-engine-default-parameters", "List the default parameters of a DB parameter group family.", (*rds.Client).DescribeEngineDefaultParameters),
	rdsOp("modify-db-parameter-group", "Set parameters of a DB parameter group.", (*rds.Client).ModifyDBParameterGroup),
	rdsOp("reset-db-parameter-group", "Return parameters of a DB parameter group to their defaults.", (*rds.Client).ResetDBParameterGroup),
	rdsOp("describe-db-parameter-groups", "List DB parameter groups.", (*rds.Client).DescribeDBParameterGroups),
	rdsOp("describe-db-parameters", "List the parameters of a DB parameter group.", (*rds.Client).DescribeDBParameters),
	rdsOp("delete-db-parameter-group", "Delete a DB parameter group.", (*rds.Client).DeleteDBParameterGroup),
	rdsOp("create-db-cluster-parameter-group", "Create a DB cluster parameter group.", (*rds.Client).CreateDBClusterParameterGroup),
	rdsOp("copy-db-cluster-parameter-group", "Create a DB cluster parameter group with the values of another.", (*rds.Client).CopyDBClusterParameterGroup),
	rdsOp("describe-engine-default-cluster-parameters", "List the default cluster parameters of a DB parameter group family.", (*rds.Client).DescribeEngineDefaultClusterParameters),
	rdsOp("modify-db-cluster-parameter-group", "Set parameters of a DB cluster parameter group.", (*rds.Client).ModifyDBClusterParameterGroup),
	rdsOp("reset-db-cluster-parameter-group", "Return parameters of a DB cluster parameter group to their defaults.", (*rds.Client).ResetDBClusterParameterGroup),
	rdsOp("describe-db-cluster-parameter-groups", "List DB cluster parameter groups.", (*rds.Client).DescribeDBClusterParameterGroups),
	rdsOp("describe-db-cluster-parameters", "List the parameters of a DB cluster parameter group.", (*rds.Client).DescribeDBClusterParameters),
	rdsOp("delete-db-cluster-parameter-group", "Delete a DB cluster parameter group.", (*rds.Client).DeleteDBClusterParameterGroup),
	rdsOp("describe-orderable-db-instance-options", "List the engine versions, instance classes and storage types CreateDBInstance accepts.", (*rds.Client).DescribeOrderableDBInstanceOptions),
	rdsOp("describe-db-engine-versions", "List the engine versions this server can run.", (*rds.Client).DescribeDBEngineVersions),
	rdsOp("create-db-subnet-group", "Create a DB subnet group (kept for tools that pass one; teal has no VPC).", (*rds.Client).CreateDBSubnetGroup),
	rdsOp("describe-db-subnet-groups", "List DB subnet groups.", (*rds.Client).DescribeDBSubnetGroups),
	rdsOp("modify-db-subnet-group", "Replace the subnets of a DB subnet group.", (*rds.Client).ModifyDBSubnetGroup),
	rdsOp("delete-db-subnet-group", "Delete a DB subnet group no DB instance is in.", (*rds.Client).DeleteDBSubnetGroup),
	rdsOp("create-db-security-group", "Create a DB security group (kept as metadata; teal does not enforce it).", (*rds.Client).CreateDBSecurityGroup),
	rdsOp("describe-db-security-groups", "List DB security groups.", (*rds.Client).DescribeDBSecurityGroups),
	rdsOp("delete-db-security-group", "Delete a DB security group no DB instance is in.", (*rds.Client).DeleteDBSecurityGroup),
	rdsOp("authorize-db-security-group-ingress", "Record an ingress rule in a DB security group (not enforced).", (*rds.Client).AuthorizeDBSecurityGroupIngress),
	rdsOp("revoke-db-security-group-ingress", "Remove an ingress rule from a DB security group.", (*rds.Client).RevokeDBSecurityGroupIngress),
	rdsOp("create-option-group", "Create an option group (teal offers no options; groups stay empty).", (*rds.Client).CreateOptionGroup),
	rdsOp("copy-option-group", "Create an option group like another.", (*rds.Client).CopyOptionGroup),
	rdsOp("describe-option-groups", "List option groups.", (*rds.Client).DescribeOptionGroups),
	rdsOp("delete-option-group", "Delete an option group no DB instance is in.", (*rds.Client).DeleteOptionGroup),
	rdsOp("describe-option-group-options", "List the options an engine's option groups can hold (none here).", (*rds.Client).DescribeOptionGroupOptions),
	rdsOp("add-tags-to-resource", "Add tags to a resource.", (*rds.Client).AddTagsToResource),
	rdsOp("list-tags-for-resource", "List the tags of a resource.", (*rds.Client).ListTagsForResource),
	rdsOp("remove-tags-from-resource", "Remove tags from a resource.", (*rds.Client).RemoveTagsFromResource),
	rdsOp("describe-events", "List events: of the last hour unless --duration or --start-time says otherwise.", (*rds.Client).DescribeEvents),
	rdsOp("create-blue-green-deployment", "Create a green copy of a DB instance kept in sync by replication (--wait follows it).", (*rds.Client).CreateBlueGreenDeployment),
	rdsOp("describe-blue-green-deployments", "List blue/green deployments.", (*rds.Client).DescribeBlueGreenDeployments),
	rdsOp("switchover-blue-green-deployment", "Switch production over to the green environment (--wait follows it).", (*rds.Client).SwitchoverBlueGreenDeployment),
	rdsOp("delete-blue-green-deployment", "Delete a blue/green deployment (--wait follows it).", (*rds.Client).DeleteBlueGreenDeployment),
}

func findOp(name string) (op, bool) {
	for _, o := range ops {
		if o.name == name {
			return o, true
		}
	}
	return op{}, false
}

// opTimeout bounds one command, all its pages included.
const opTimeout = 5 * time.Minute

func runOp(ctx context.Context, o op, args []string, stdout, stderr io.Writer) int {
	in := o.input()
	cn := newConn()
	out := &outputFormat{name: "table"}
	var pg paging
	defs := memberFlags(in)
	if isPaged(in) {
		for _, d := range defs {
			// The AWS CLI hides these behind --max-items and
			// --page-size, and turns paging off when they are used.
			d.hidden = d.hidden || d.name == "marker" || d.name == "max-records"
		}
		defs = append(defs, pg.flags()...)
	}
	var follow bool
	if isBlueGreenOp(o.name) {
		defs = append(defs, waitFlag(&follow))
	} else if followed[o.name] != "" {
		defs = append(defs, &flagDef{name: "wait", usage: "wait until " + strings.TrimPrefix(followed[o.name], "db-") + ", showing the progress",
			set: func([]string) error { follow = true; return nil }})
	}
	globals := append(cn.flags(), out.flag())
	if err := parseFlags(args, append(defs, globals...)); err != nil {
		if errors.Is(err, errHelp) {
			opHelp(stdout, o, defs, globals)
			return 0
		}
		return failUsage(stderr, o.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	client, err := cn.rdsClient(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	var res any
	var next string
	if isPaged(in) {
		res, next, err = callAllPages(ctx, o, client, in, pg)
	} else {
		res, err = o.call(ctx, client, in)
	}
	if err != nil {
		return fail(stderr, cn, o.name, err)
	}
	var extra []member
	if next != "" {
		extra = append(extra, member{"NextToken", next})
		if out.name == "table" {
			fmt.Fprintf(stderr, "teal: more items; go on with --starting-token %s\n", next)
		}
	}
	if err := out.render(stdout, res, extra...); err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	if follow {
		// The command's own timeout bounds the call; the follow has its own.
		ctx, p := context.WithoutCancel(ctx), newProgress(stderr)
		var err error
		if isBlueGreenOp(o.name) {
			err = followDeployment(ctx, client, o.name, deploymentOf(res), p)
		} else {
			err = followResource(ctx, client, o.name, res, p)
		}
		if err != nil {
			fmt.Fprintln(stderr, "teal:", cn.describeError(err))
			return 1
		}
	}
	return 0
}

// fail prints an error as one line; the exit code is 2 when the command
// line was at fault and 1 otherwise.
func fail(stderr io.Writer, cn *conn, cmd string, err error) int {
	var invalid smithy.InvalidParamsError
	switch {
	case isUsage(err):
		return failUsage(stderr, cmd, err)
	case errors.As(err, &invalid):
		return failUsage(stderr, cmd, usagef("%s", cn.describeError(err)))
	}
	fmt.Fprintln(stderr, "teal:", cn.describeError(err))
	return 1
}

func failUsage(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "teal: %v (see teal %s --help)\n", err, cmd)
	return 2
}

func opHelp(w io.Writer, o op, defs, globals []*flagDef) {
	required := requiredMembers(o)
	for _, d := range defs {
		d.required = required[d.name]
	}
	fmt.Fprintf(w, "Usage: teal %s [options]\n\n%s\nThe options are those of `aws rds %s`; its help says what each means.\n\nOptions:\n", o.name, o.summary, o.name)
	writeFlags(w, defs)
	fmt.Fprintln(w, "\nGlobal options:")
	writeFlags(w, globals)
	fmt.Fprint(w, `
Lists take several words or one JSON array: --tag-keys a b, --tags Key=a,Value=b Key=c,Value=d,
--tags '[{"Key":"a","Value":"b"}]'. A value of file://PATH is read from the file.
`)
}

// requiredMembers finds an operation's required options by letting the
// SDK validate an empty input; validation fails before anything is sent,
// and the HTTP client refuses to send anyway.
func requiredMembers(o op) map[string]bool {
	c := rds.New(rds.Options{Region: defaultRegion, BaseEndpoint: aws.String(defaultEndpoint),
		HTTPClient: refuseHTTP{}, Retryer: aws.NopRetryer{}})
	_, err := o.call(context.Background(), c, o.input())
	required := map[string]bool{}
	var invalid smithy.InvalidParamsError
	if errors.As(err, &invalid) {
		for _, e := range invalid.Errs() {
			var p *smithy.ParamRequiredError
			if errors.As(e, &p) {
				field := strings.TrimPrefix(p.Field(), invalid.Context+".")
				if !strings.ContainsAny(field, ".[") {
					required[flagName(field)] = true
				}
			}
		}
	}
	return required
}

type refuseHTTP struct{}

func (refuseHTTP) Do(*http.Request) (*http.Response, error) {
	return nil, errors.New("not sent")
}
