package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
)

// TestAPIOverTLS: teal serve --tls serves the API with a certificate from
// teal's CA; the teal CLI, the AWS CLI and aws-sdk-go-v2 work with the CA
// bundle, and a client without it is refused the connection.
func TestAPIOverTLS(t *testing.T) {
	t.Parallel()
	bin := buildTeal(t)
	dir := dataDir(t)
	caPath := filepath.Join(dir, "ca", "ca.pem")
	roots := x509.NewCertPool()
	trusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		// The CA appears with teal's first start: read it at each attempt.
		VerifyConnection: func(cs tls.ConnectionState) error {
			pem, err := os.ReadFile(caPath)
			if err != nil {
				return err
			}
			roots.AppendCertsFromPEM(pem)
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: cs.ServerName,
				Intermediates: x509.NewCertPool()})
			return err
		},
		InsecureSkipVerify: true, // verified by VerifyConnection above, against teal's CA only
	}}}
	endpoint := startServeWith(t, bin, dir, envWithout(), trusting, "--tls")
	if !strings.HasPrefix(endpoint, "https://") {
		t.Fatalf("endpoint %s", endpoint)
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}

	teal := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir, "TEAL_CA_BUNDLE="+caPath)}
	out, _ := teal.ok(t, "ca")
	if out != string(pem) {
		t.Fatalf("teal ca over TLS printed:\n%s", out)
	}
	teal.ok(t, "describe-db-instances")
	untrusting := tealCLI{bin: bin, env: append(envWithout(), "TEAL_ENDPOINT="+endpoint, "TEAL_DATA_DIR="+dir)}
	if _, stderr, code := untrusting.run(t, "describe-db-instances"); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("without the CA bundle: exit %d: %s", code, stderr)
	}

	// The AWS CLI, with the credentials teal wrote on its first start.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli := exec.CommandContext(ctx, "aws", "rds", "describe-db-engine-versions", "--endpoint-url", endpoint,
		"--profile", "teal", "--region", "us-east-1", "--output", "json")
	cli.Env = append(envWithout(), "AWS_CA_BUNDLE="+caPath, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_CONFIG_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	if b, err := cli.CombinedOutput(); err != nil || !strings.Contains(string(b), "DBEngineVersions") {
		t.Fatalf("aws rds over TLS: %v\n%s", err, b)
	}

	// boto3, with the bundle as botocore reads it.
	py := exec.CommandContext(ctx, "python3", "-c", `import boto3, sys
c = boto3.session.Session(profile_name="teal").client("rds", endpoint_url=sys.argv[1], region_name="us-east-1")
print(len(c.describe_db_instances()["DBInstances"]))`, endpoint)
	py.Env = cli.Env
	if b, err := py.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("boto3 over TLS: %v\n%s", err, b)
	}

	// aws-sdk-go-v2 with the bundle as its roots.
	sc, err := config.LoadSharedConfigProfile(ctx, "teal", func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{filepath.Join(dir, "credentials")}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := awsrds.New(awsrds.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(sc.Credentials.AccessKeyID, sc.Credentials.SecretAccessKey, ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	if _, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{}); err != nil {
		t.Fatalf("aws-sdk-go-v2 over TLS: %v", err)
	}
}
