package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
)

const (
	defaultEndpoint = "http://127.0.0.1:7480"
	defaultRegion   = "us-east-1"
	credProfile     = "teal"
)

// conn says which teal server to talk to and as whom.
type conn struct {
	endpoint string
	region   string
	dataDir  string
}

func newConn() *conn {
	return &conn{
		endpoint: env("TEAL_ENDPOINT", defaultEndpoint),
		region:   env("AWS_REGION", defaultRegion),
		dataDir:  env("TEAL_DATA_DIR", ".teal"),
	}
}

func (c *conn) flags() []*flagDef {
	str := func(name, arg, usage string, p *string) *flagDef {
		return &flagDef{name: name, arg: arg, usage: usage, set: func(w []string) error { *p = w[0]; return nil }}
	}
	return []*flagDef{
		str("endpoint-url", "URL", "the teal server (env TEAL_ENDPOINT; default "+defaultEndpoint+")", &c.endpoint),
		str("region", "REGION", "region to sign requests for (env AWS_REGION; default "+defaultRegion+")", &c.region),
		str("data-dir", "DIR", "the server's data directory, where its credentials file is (env TEAL_DATA_DIR; default .teal)", &c.dataDir),
	}
}

// credentials finds the access key: TEAL_ACCESS_KEY_ID and
// TEAL_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// else profile "teal" of <data-dir>/credentials, which `teal serve` writes
// on its first start.
func (c *conn) credentials(ctx context.Context) (aws.Credentials, error) {
	for _, prefix := range []string{"TEAL", "AWS"} {
		id, secret := os.Getenv(prefix+"_ACCESS_KEY_ID"), os.Getenv(prefix+"_SECRET_ACCESS_KEY")
		if id != "" && secret != "" {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret,
				SessionToken: os.Getenv(prefix + "_SESSION_TOKEN"), Source: prefix + " environment"}, nil
		}
	}
	path := filepath.Join(c.dataDir, "credentials")
	if _, err := os.Stat(path); err != nil {
		return aws.Credentials{}, fmt.Errorf("no credentials: set TEAL_ACCESS_KEY_ID and TEAL_SECRET_ACCESS_KEY, or point --data-dir (env TEAL_DATA_DIR) at the server's data directory: %w", err)
	}
	sc, err := config.LoadSharedConfigProfile(ctx, credProfile, func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{path}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("read credentials from %s: %w", path, err)
	}
	if !sc.Credentials.HasKeys() {
		return aws.Credentials{}, fmt.Errorf("%s: profile %q has no aws_access_key_id and aws_secret_access_key", path, credProfile)
	}
	return sc.Credentials, nil
}

// caBundle is the file of the certificates a server over https is
// verified against, besides the system's: TEAL_CA_BUNDLE, else
// AWS_CA_BUNDLE, as the AWS CLI reads it.
func caBundle() string {
	return env("TEAL_CA_BUNDLE", os.Getenv("AWS_CA_BUNDLE"))
}

// httpClient is the HTTP client of every call to the server: with the CA
// bundle, when one is given, among the roots.
func httpClient() (*http.Client, error) {
	path := caBundle()
	if path == "" {
		return http.DefaultClient, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

func (c *conn) rdsClient(ctx context.Context) (*rds.Client, error) {
	creds, err := c.credentials(ctx)
	if err != nil {
		return nil, err
	}
	hc, err := httpClient()
	if err != nil {
		return nil, err
	}
	return rds.New(rds.Options{
		HTTPClient:   hc,
		Region:       c.region,
		BaseEndpoint: aws.String(c.endpoint),
		Credentials:  aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			// A refused connection means no server is there; retrying with
			// backoff would only delay saying so.
			o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if errors.Is(err, syscall.ECONNREFUSED) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			})}, o.Retryables...)
		}),
	}), nil
}

// describeError turns an error into the one line the user sees.
func (c *conn) describeError(err error) string {
	var api smithy.APIError
	var invalid smithy.InvalidParamsError
	var dns *net.DNSError
	switch {
	case errors.As(err, &api):
		return api.ErrorCode() + ": " + api.ErrorMessage()
	case errors.As(err, &invalid):
		return missingParams(invalid)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot connect to %s: connection refused; is `teal serve` running there? (set --endpoint-url or TEAL_ENDPOINT)", c.endpoint)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot connect to %s: %v (set --endpoint-url or TEAL_ENDPOINT)", c.endpoint, dns)
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer from %s in time: %v", c.endpoint, err)
	}
	return err.Error()
}

// missingParams names the options that the SDK found missing before
// sending anything, e.g. "CreateDBInstanceInput.Engine" → --engine.
func missingParams(invalid smithy.InvalidParamsError) string {
	var names []string
	for _, e := range invalid.Errs() {
		var p smithy.InvalidParamError
		if !errors.As(e, &p) {
			names = append(names, e.Error())
			continue
		}
		field := strings.TrimPrefix(p.Field(), invalid.Context+".")
		top, rest, nested := strings.Cut(field, ".")
		if i := strings.IndexByte(top, '['); i >= 0 {
			top, rest, nested = top[:i], top[i:]+"."+rest, true
		}
		name := "--" + flagName(top)
		if nested {
			name += " (" + strings.TrimSuffix(rest, ".") + ")"
		}
		names = append(names, name)
	}
	return "missing required option " + strings.Join(names, ", ")
}
