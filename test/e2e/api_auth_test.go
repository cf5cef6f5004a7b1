package e2e

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

type apiError struct {
	Error struct{ Type, Code, Message string }
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e apiError
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an ErrorResponse: %v: %s", err, body)
	}
	return e.Error.Code
}

// TestAPIProtocolErrors sends what the SDK would not: unsigned and badly
// signed requests, missing members and unknown actions. Each is refused with
// the AWS code and status, and the server keeps serving.
func TestAPIProtocolErrors(t *testing.T) {
	svc := openService(t, dataDir(t))
	r := startAPI(t, svc)
	ctx := ctxFor(t, time.Minute)

	for _, tt := range []struct {
		name, id, form string
		status         int
		code           string
	}{
		{"unsigned", "", "Action=DescribeDBInstances&Version=2014-10-31", 403, "MissingAuthenticationToken"},
		{"unknown key", "AKIAUNKNOWNUNKNOWN00", "Action=DescribeDBInstances&Version=2014-10-31", 403, "InvalidClientTokenId"},
		{"missing member", apiRootID, "Action=RebootDBInstance&Version=2014-10-31", 400, "MissingParameter"},
		{"missing list", apiRootID, "Action=ModifyDBParameterGroup&Version=2014-10-31&DBParameterGroupName=x", 400, "MissingParameter"},
		{"unknown action", apiRootID, "Action=DropAllDatabases&Version=2014-10-31", 400, "InvalidAction"},
		{"other version", apiRootID, "Action=DescribeDBInstances&Version=2012-09-17", 400, "NoSuchVersion"},
		{"bad number", apiRootID, "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=many", 400, "InvalidParameterValue"},
		{"bad boolean", apiRootID, "Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=x&SkipFinalSnapshot=maybe", 400, "InvalidParameterValue"},
	} {
		secret := apiRootSecret
		status, body := r.rawPost(t, tt.id, secret, tt.form)
		if status != tt.status || errorCode(t, body) != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	status, body := r.rawPost(t, apiRootID, apiRootSecret, "Action=RebootDBInstance&Version=2014-10-31")
	if !strings.Contains(body, "The request must contain the parameter DBInstanceIdentifier") || status != 400 {
		t.Errorf("missing member message: %s", body)
	}

	bad := r.clientFor(t, apiRootID, "wrong-secret")
	_, err := bad.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	wantCode(t, "wrong secret", err, "SignatureDoesNotMatch")
	_, err = r.client.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("ghost")})
	wantCode(t, "unknown instance", err, "DBInstanceNotFound")

	resp, err := http.Get(r.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(hb) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, hb)
	}
	out, err := r.client.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil || len(out.DBInstances) != 0 {
		t.Fatalf("after the refusals: %v %+v", err, out)
	}
}

type createdKey struct {
	AccessKeyID     string `xml:"TealCreateAccessKeyResult>AccessKey>AccessKeyId"`
	SecretAccessKey string `xml:"TealCreateAccessKeyResult>AccessKey>SecretAccessKey"`
}

// TestAPIAccessKeys creates a limited key as root, uses it through the SDK
// where its policy allows and is refused where it does not, and deletes it.
func TestAPIAccessKeys(t *testing.T) {
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	r := startAPI(t, svc)
	ctx := ctxFor(t, time.Minute)

	policy := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"},
		{"Effect":"Allow","Action":"rds:CreateDBParameterGroup","Resource":"arn:aws:rds:us-east-1:000000000000:pg:team-*"}]}`
	status, body := r.rawPost(t, apiRootID, apiRootSecret, "Action=TealCreateAccessKey&Version=2014-10-31&Description=ci&PolicyDocument="+url.QueryEscape(policy))
	var k createdKey
	if err := xml.Unmarshal([]byte(body), &k); status != 200 || err != nil || !strings.HasPrefix(k.AccessKeyID, "AKIA") || k.SecretAccessKey == "" {
		t.Fatalf("create key: %d %v %s", status, err, body)
	}
	user := r.clientFor(t, k.AccessKeyID, k.SecretAccessKey)

	if _, err := user.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{}); err != nil {
		t.Fatalf("allowed describe: %v", err)
	}
	if _, err := user.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("team-a"),
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("allowed")}); err != nil {
		t.Fatalf("allowed create: %v", err)
	}
	_, err := user.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("other"),
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("outside the policy")})
	wantCode(t, "create outside the policy's resources", err, "AccessDenied")
	// A create with tags also needs rds:AddTagsToResource, which the policy lacks.
	_, err = user.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("team-b"),
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("tagged"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, "create with tags without rds:AddTagsToResource", err, "AccessDenied")
	_, err = user.DeleteDBParameterGroup(ctx, &awsrds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String("team-a")})
	wantCode(t, "delete not allowed", err, "AccessDenied")
	if _, err := r.client.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{DBParameterGroupName: aws.String("team-b")}); apiCode(err) != "DBParameterGroupNotFound" {
		t.Fatalf("a refused create left a group behind: %v", err)
	}
	status, body = r.rawPost(t, k.AccessKeyID, k.SecretAccessKey, "Action=TealListAccessKeys&Version=2014-10-31")
	if status != 403 || errorCode(t, body) != "AccessDenied" {
		t.Fatalf("a non-root key listed keys: %d %s", status, body)
	}

	status, body = r.rawPost(t, apiRootID, apiRootSecret, "Action=TealListAccessKeys&Version=2014-10-31")
	if status != 200 || !strings.Contains(body, "<AccessKeyId>"+k.AccessKeyID+"</AccessKeyId>") || strings.Contains(body, k.SecretAccessKey) {
		t.Fatalf("list keys: %d %s", status, body)
	}
	status, body = r.rawPost(t, apiRootID, apiRootSecret, "Action=TealCreateAccessKey&Version=2014-10-31&PolicyDocument=%7Bnot+json")
	if status != 400 || errorCode(t, body) != "InvalidParameterValue" {
		t.Fatalf("bad policy: %d %s", status, body)
	}
	status, body = r.rawPost(t, apiRootID, apiRootSecret, "Action=TealDeleteAccessKey&Version=2014-10-31&AccessKeyId="+k.AccessKeyID)
	if status != 200 {
		t.Fatalf("delete key: %d %s", status, body)
	}
	_, err = user.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{})
	wantCode(t, "deleted key", err, "InvalidClientTokenId")
}
