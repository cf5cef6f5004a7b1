package e2e

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestPolicyOnCanonicalARN: access keys whose policies keep them away from
// instance prod try to reach it with identifiers written as ARNs (a second
// ":db:" inside, another case, region or partition). Every attempt is
// refused, prod's master password is unchanged and it has no replica, while
// the same keys still work on app-x by its identifier and by its ARN.
func TestPolicyOnCanonicalARN(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15")
	r := startAPI(t, svc)
	ctx := ctxFor(t, 5*time.Minute)
	prod := createPostgres(t, svc, "prod", "15")
	app := createPostgres(t, svc, "app-x", "15")

	const own = "arn:aws:rds:us-east-1:000000000000:db:"
	onlyApps := r.keyFor(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["rds:ModifyDBInstance","rds:CreateDBInstanceReadReplica","rds:DescribeDBInstances"],
		"Resource":"arn:aws:rds:*:*:db:app-*"}]}`)
	notProd := r.keyFor(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"rds:*","Resource":"*"},
		{"Effect":"Deny","Action":"rds:*","Resource":"arn:aws:rds:*:*:db:prod"}]}`)

	const stolen = "stolen-pass-1"
	setPassword := func(c *awsrds.Client, id, password string) error {
		_, err := c.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(id),
			MasterUserPassword: aws.String(password), ApplyImmediately: aws.Bool(true)})
		return err
	}
	replicate := func(c *awsrds.Client, source string) error {
		_, err := c.CreateDBInstanceReadReplica(ctx, &awsrds.CreateDBInstanceReadReplicaInput{
			DBInstanceIdentifier: aws.String("app-stolen"), SourceDBInstanceIdentifier: aws.String(source)})
		return err
	}
	for _, tt := range []struct {
		name string
		key  *awsrds.Client
		ref  string
		code string
	}{
		{"app-* key, a second :db: inside the ARN", onlyApps, own + "app-x:db:prod", "InvalidParameterValue"},
		{"app-* key, prod by name", onlyApps, "prod", "AccessDenied"},
		{"app-* key, prod by ARN", onlyApps, own + "prod", "AccessDenied"},
		{"deny-prod key, upper-case name in the ARN", notProd, own + "PROD", "AccessDenied"},
		{"deny-prod key, upper-case identifier", notProd, "PROD", "AccessDenied"},
		{"deny-prod key, another region", notProd, "arn:aws:rds:eu-west-1:000000000000:db:prod", "DBInstanceNotFound"},
		{"deny-prod key, another account", notProd, "arn:aws:rds:us-east-1:111111111111:db:prod", "DBInstanceNotFound"},
		{"deny-prod key, a short ARN", notProd, "arn:x:db:prod", "InvalidParameterValue"},
	} {
		wantCode(t, "set prod's password: "+tt.name, setPassword(tt.key, tt.ref, stolen), tt.code)
		wantCode(t, "replicate prod: "+tt.name, replicate(tt.key, tt.ref), tt.code)
	}
	_, err := notProd.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{ResourceName: aws.String(own + "Prod"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("mallory")}}})
	wantCode(t, "tag prod by an upper-case ARN", err, "AccessDenied")

	// Nothing reached prod.
	if _, err := tryConnectAs(ctx, prod.Endpoint.Port, masterUser, stolen, "app"); err == nil {
		t.Fatal("prod accepts the password an attempt tried to set")
	}
	c, err := tryConnectAs(ctx, prod.Endpoint.Port, masterUser, masterPass, "app")
	if err != nil {
		t.Fatalf("prod's master password changed: %v", err)
	}
	c.Close(ctx)
	all, err := r.client.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range all.DBInstances {
		ids = append(ids, aws.ToString(d.DBInstanceIdentifier))
		if aws.ToString(d.DBInstanceIdentifier) == "prod" && (len(d.ReadReplicaDBInstanceIdentifiers) != 0 || len(d.TagList) != 0) {
			t.Fatalf("prod was changed: replicas %v, tags %v", d.ReadReplicaDBInstanceIdentifiers, d.TagList)
		}
	}
	if fmt.Sprint(ids) != "[app-x prod]" {
		t.Fatalf("instances after the attempts: %v", ids)
	}

	// The same keys work on app-x, by identifier and by its ARN.
	for i, tt := range []struct {
		key *awsrds.Client
		ref string
	}{{onlyApps, "app-x"}, {onlyApps, own + "app-x"}, {notProd, "APP-X"}, {notProd, own + "App-X"}} {
		password := fmt.Sprintf("app-pass-%d", i)
		if err := setPassword(tt.key, tt.ref, password); err != nil {
			t.Fatalf("set app-x's password as %s: %v", tt.ref, err)
		}
		c, err := tryConnectAs(ctx, app.Endpoint.Port, masterUser, password, "app")
		if err != nil {
			t.Fatalf("app-x after its password was set as %s: %v", tt.ref, err)
		}
		c.Close(ctx)
	}
	// A filter by ARN still finds the instance it names.
	f, err := r.client.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{
		Filters: []types.Filter{{Name: aws.String("db-instance-id"), Values: []string{own + "app-x"}}}})
	if err != nil || len(f.DBInstances) != 1 || aws.ToString(f.DBInstances[0].DBInstanceIdentifier) != "app-x" {
		t.Fatalf("filter by ARN: %v %+v", err, f)
	}
}

// keyFor creates an access key with the policy, as root, and returns an SDK
// client signed with it.
func (r *apiRig) keyFor(t *testing.T, policy string) *awsrds.Client {
	t.Helper()
	status, body := r.rawPost(t, apiRootID, apiRootSecret, "Action=TealCreateAccessKey&Version=2014-10-31&PolicyDocument="+url.QueryEscape(policy))
	var k createdKey
	if err := xml.Unmarshal([]byte(body), &k); status != 200 || err != nil || k.SecretAccessKey == "" {
		t.Fatalf("create key: %d %v %s", status, err, body)
	}
	return r.clientFor(t, k.AccessKeyID, k.SecretAccessKey)
}
