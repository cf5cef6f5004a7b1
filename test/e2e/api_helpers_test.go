package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"

	"github.com/tealdb/teal/internal/auth"
	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/server"
)

const (
	apiRegion     = "us-east-1"
	apiAccount    = "000000000000"
	apiRootID     = "AKIATESTROOTKEY00001"
	apiRootSecret = "test-root-secret-0123456789abcdefghijklm"
)

// apiRig is teal's HTTP handler over a real service, on 127.0.0.1, with the
// root key known to the test.
type apiRig struct {
	svc    *rds.Service
	keys   *auth.Keyring
	url    string
	client *awsrds.Client // signed with the root key
}

// startAPI serves teal's API for a service until the test ends.
func startAPI(t *testing.T, svc *rds.Service) *apiRig {
	t.Helper()
	keys, err := auth.NewKeyring(context.Background(), svc.Store(), apiRootID, apiRootSecret, apiRegion, apiAccount)
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(server.Handler(svc, keys, testLogger(t), server.HandlerOptions{}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	r := &apiRig{svc: svc, keys: keys, url: srv.URL}
	r.client = r.clientFor(t, apiRootID, apiRootSecret)
	return r
}

// clientFor is an aws-sdk-go-v2 RDS client of the rig, configured the way a
// user would: static credentials and BaseEndpoint.
func (r *apiRig) clientFor(t *testing.T, id, secret string) *awsrds.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(apiRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	return awsrds.NewFromConfig(cfg, func(o *awsrds.Options) {
		o.BaseEndpoint = aws.String(r.url)
	})
}

// apiCode is the error code the SDK parsed from teal's answer ("" for no
// error, "not an API error: …" otherwise).
func apiCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

// wantCode fails the test unless err is the API error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Fatalf("%s: got error %q (%v), want %s", what, got, err, code)
	}
}

// rawPost sends a form to the API as is, signed with the key unless id is
// empty, and returns the status and body. It reaches what the SDK cannot
// send: missing members, unknown actions, teal's own actions.
func (r *apiRig) rawPost(t *testing.T, id, secret, form string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+"/", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if id != "" {
		sum := sha256.Sum256([]byte(form))
		creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "rds", apiRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// waitAvailable waits with the SDK's own waiter, polling often.
func waitAvailable(t *testing.T, c *awsrds.Client, id string) {
	t.Helper()
	err := awsrds.NewDBInstanceAvailableWaiter(c, func(o *awsrds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 3*time.Minute)
	if err != nil {
		t.Fatalf("wait for %s to be available: %v", id, err)
	}
}

func waitDeleted(t *testing.T, c *awsrds.Client, id string) {
	t.Helper()
	err := awsrds.NewDBInstanceDeletedWaiter(c, func(o *awsrds.DBInstanceDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).Wait(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
	if err != nil {
		t.Fatalf("wait for %s to be deleted: %v", id, err)
	}
}
