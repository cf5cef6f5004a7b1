package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestAPIParameterGroups manages a parameter group through the SDK: create,
// modify, the paginated parameter list with its sources, reset, tags and
// delete, with each refusal. No database server is needed.
func TestAPIParameterGroups(t *testing.T) {
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	c := startAPI(t, svc).client
	ctx := ctxFor(t, time.Minute)
	name := aws.String("api-tuned")

	cg, err := c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: name,
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("tuned <&> fast"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("db")}}})
	if err != nil {
		t.Fatal(err)
	}
	if g := cg.DBParameterGroup; aws.ToString(g.DBParameterGroupArn) != "arn:aws:rds:us-east-1:000000000000:pg:api-tuned" ||
		aws.ToString(g.Description) != "tuned <&> fast" || aws.ToString(g.DBParameterGroupFamily) != "postgres15" {
		t.Fatalf("created %+v", g)
	}
	_, err = c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: name,
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("again")})
	wantCode(t, "create twice", err, "DBParameterGroupAlreadyExists")
	_, err = c.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("api-other"),
		DBParameterGroupFamily: aws.String("oracle19"), Description: aws.String("x")})
	wantCode(t, "unknown family", err, "InvalidParameterValue")

	groups, err := c.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range groups.DBParameterGroups {
		names[aws.ToString(g.DBParameterGroupName)] = true
	}
	if !names["api-tuned"] || !names["default.postgres15"] {
		t.Fatalf("groups %v", names)
	}
	_, err = c.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{DBParameterGroupName: aws.String("nope")})
	wantCode(t, "describe an unknown group", err, "DBParameterGroupNotFound")

	modify := func(group *string, ps ...types.Parameter) error {
		out, err := c.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{DBParameterGroupName: group, Parameters: ps})
		if err == nil && aws.ToString(out.DBParameterGroupName) != aws.ToString(group) {
			t.Fatalf("modify answered group %q", aws.ToString(out.DBParameterGroupName))
		}
		return err
	}
	param := func(n, v string, m types.ApplyMethod) types.Parameter {
		return types.Parameter{ParameterName: aws.String(n), ParameterValue: aws.String(v), ApplyMethod: m}
	}
	if err := modify(name, param("work_mem", "8192", types.ApplyMethodImmediate),
		param("max_connections", "150", types.ApplyMethodPendingReboot)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "bad value", modify(name, param("work_mem", "lots", types.ApplyMethodImmediate)), "InvalidParameterValue")
	wantCode(t, "static parameter at once", modify(name, param("shared_buffers", "16384", types.ApplyMethodImmediate)), "InvalidParameterCombination")
	wantCode(t, "modify a default group", modify(aws.String("default.postgres15"), param("work_mem", "8192", types.ApplyMethodImmediate)), "InvalidParameterValue")
	wantCode(t, "modify an unknown group", modify(aws.String("nope"), param("work_mem", "8192", types.ApplyMethodImmediate)), "DBParameterGroupNotFound")

	// Every parameter, a page at a time; the user's values are marked.
	p := awsrds.NewDescribeDBParametersPaginator(c, &awsrds.DescribeDBParametersInput{DBParameterGroupName: name, MaxRecords: aws.Int32(20)})
	seen := map[string]types.Parameter{}
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, prm := range page.Parameters {
			n := aws.ToString(prm.ParameterName)
			if _, dup := seen[n]; dup {
				t.Fatalf("parameter %s on two pages", n)
			}
			seen[n] = prm
		}
	}
	if len(seen) < 200 || pages != (len(seen)+19)/20 {
		t.Fatalf("%d parameters on %d pages", len(seen), pages)
	}
	if wm := seen["work_mem"]; aws.ToString(wm.Source) != "user" || aws.ToString(wm.ParameterValue) != "8192" ||
		wm.ApplyMethod != types.ApplyMethodImmediate || !aws.ToBool(wm.IsModifiable) || aws.ToString(wm.ApplyType) != "dynamic" {
		t.Fatalf("work_mem %+v", wm)
	}
	if wl := seen["wal_level"]; aws.ToString(wl.Source) != "system" || aws.ToString(wl.ParameterValue) != "logical" || aws.ToString(wl.ApplyType) != "static" {
		t.Fatalf("wal_level %+v", wl)
	}
	userParams := func() []string {
		out, err := c.DescribeDBParameters(ctx, &awsrds.DescribeDBParametersInput{DBParameterGroupName: name, Source: aws.String("user")})
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, prm := range out.Parameters {
			ns = append(ns, aws.ToString(prm.ParameterName))
		}
		return ns
	}
	if got := strings.Join(userParams(), ","); got != "max_connections,work_mem" {
		t.Fatalf("user parameters %s", got)
	}
	_, err = c.DescribeDBParameters(ctx, &awsrds.DescribeDBParametersInput{DBParameterGroupName: name,
		Filters: []types.Filter{{Name: aws.String("parameter-name"), Values: []string{"work_mem"}}}})
	wantCode(t, "parameter-name filter", err, "InvalidParameterValue")
	_, err = c.DescribeDBParameters(ctx, &awsrds.DescribeDBParametersInput{DBParameterGroupName: aws.String("nope")})
	wantCode(t, "parameters of an unknown group", err, "DBParameterGroupNotFound")

	// Reset one, then all.
	if _, err := c.ResetDBParameterGroup(ctx, &awsrds.ResetDBParameterGroupInput{DBParameterGroupName: name,
		Parameters: []types.Parameter{{ParameterName: aws.String("work_mem"), ApplyMethod: types.ApplyMethodImmediate}}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(userParams(), ","); got != "max_connections" {
		t.Fatalf("user parameters after resetting work_mem: %s", got)
	}
	_, err = c.ResetDBParameterGroup(ctx, &awsrds.ResetDBParameterGroupInput{DBParameterGroupName: name})
	wantCode(t, "reset nothing", err, "InvalidParameterCombination")
	if _, err := c.ResetDBParameterGroup(ctx, &awsrds.ResetDBParameterGroupInput{DBParameterGroupName: name, ResetAllParameters: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if got := userParams(); len(got) != 0 {
		t.Fatalf("user parameters after resetting all: %v", got)
	}

	tags, err := c.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: cg.DBParameterGroup.DBParameterGroupArn})
	if err != nil || tagMap(tags.TagList)["team"] != "db" {
		t.Fatalf("group tags: %v %+v", err, tags)
	}

	_, err = c.DeleteDBParameterGroup(ctx, &awsrds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String("default.postgres15")})
	wantCode(t, "delete a default group", err, "InvalidDBParameterGroupState")
	if _, err := c.DeleteDBParameterGroup(ctx, &awsrds.DeleteDBParameterGroupInput{DBParameterGroupName: name}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{DBParameterGroupName: name})
	wantCode(t, "describe a deleted group", err, "DBParameterGroupNotFound")
	_, err = c.DeleteDBParameterGroup(ctx, &awsrds.DeleteDBParameterGroupInput{DBParameterGroupName: name})
	wantCode(t, "delete twice", err, "DBParameterGroupNotFound")

	ev, err := c.DescribeEvents(ctx, &awsrds.DescribeEventsInput{SourceType: types.SourceTypeDbParameterGroup, SourceIdentifier: name})
	if err != nil || len(ev.Events) < 3 || aws.ToString(ev.Events[len(ev.Events)-1].Message) != "Deleted parameter group api-tuned" {
		t.Fatalf("group events: %v %+v", err, ev)
	}
}

// TestAPIEngineVersions lists the installed builds the way RDS lists
// versions, with upgrade targets, major-version resolution and DefaultOnly.
func TestAPIEngineVersions(t *testing.T) {
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15", "16")
	c := startAPI(t, svc).client
	ctx := ctxFor(t, time.Minute)

	all, err := c.DescribeDBEngineVersions(ctx, &awsrds.DescribeDBEngineVersionsInput{Engine: aws.String("postgres")})
	if err != nil {
		t.Fatal(err)
	}
	var v15 *types.DBEngineVersion
	for i, v := range all.DBEngineVersions {
		if aws.ToString(v.MajorEngineVersion) == "15" {
			v15 = &all.DBEngineVersions[i]
		}
	}
	if v15 == nil || aws.ToString(v15.DBParameterGroupFamily) != "postgres15" || aws.ToString(v15.Status) != "available" {
		t.Fatalf("versions %+v", all.DBEngineVersions)
	}
	major := false
	for _, u := range v15.ValidUpgradeTarget {
		if strings.HasPrefix(aws.ToString(u.EngineVersion), "16.") && aws.ToBool(u.IsMajorVersionUpgrade) {
			major = true
		}
	}
	if !major {
		t.Fatalf("15 has no major upgrade target to 16: %+v", v15.ValidUpgradeTarget)
	}
	one, err := c.DescribeDBEngineVersions(ctx, &awsrds.DescribeDBEngineVersionsInput{Engine: aws.String("postgres"),
		EngineVersion: aws.String("15"), DefaultOnly: aws.Bool(true)})
	if err != nil || len(one.DBEngineVersions) != 1 || aws.ToString(one.DBEngineVersions[0].EngineVersion) != aws.ToString(v15.EngineVersion) {
		t.Fatalf("default 15: %v %+v", err, one)
	}
	none, err := c.DescribeDBEngineVersions(ctx, &awsrds.DescribeDBEngineVersionsInput{Engine: aws.String("oracle-ee")})
	if err != nil || len(none.DBEngineVersions) != 0 {
		t.Fatalf("oracle: %v %+v", err, none)
	}
	_, err = c.DescribeDBEngineVersions(ctx, &awsrds.DescribeDBEngineVersionsInput{
		Filters: []types.Filter{{Name: aws.String("color"), Values: []string{"x"}}}})
	wantCode(t, "unknown filter", err, "InvalidParameterValue")
}
