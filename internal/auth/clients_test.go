package auth

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"

	"github.com/tealdb/teal/internal/fault"
)

// TestRDSClient sends requests with aws-sdk-go-v2's RDS client, exactly as
// the teal CLI does, and checks what the client reports for each outcome.
func TestRDSClient(t *testing.T) {
	r := newRig(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := r.kr.Authenticate(req, body)
		if err == nil {
			err = p.Authorize("rds:DescribeDBInstances", "arn:aws:rds:us-east-1:000000000000:db:*")
		}
		var f *fault.Fault
		if errors.As(err, &f) {
			w.WriteHeader(f.Status)
			var msg strings.Builder
			xml.EscapeText(&msg, []byte(f.Message))
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, f.Code, msg.String())
			return
		}
		fmt.Fprint(w, `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances/></DescribeDBInstancesResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`)
	}))
	t.Cleanup(srv.Close)

	ctx := context.Background()
	reader, err := r.kr.CreateKey(ctx, []byte(readOnlyPolicy), "reader")
	if err != nil {
		t.Fatal(err)
	}
	denied, err := r.kr.CreateKey(ctx, []byte(`{"Statement":{"Effect":"Allow","Action":"rds:Create*","Resource":"*"}}`), "creator")
	if err != nil {
		t.Fatal(err)
	}
	client := func(id, secret, region string) *awsrds.Client {
		return awsrds.New(awsrds.Options{
			Region:           region,
			BaseEndpoint:     aws.String(srv.URL),
			Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
			RetryMaxAttempts: 1,
		})
	}
	tests := []struct {
		name, id, secret, region string
		code                     string
	}{
		{"root", rootID, rootSecret, testRegion, ""},
		{"policy allows", reader.AccessKeyID, reader.SecretAccessKey, testRegion, ""},
		{"policy does not allow", denied.AccessKeyID, denied.SecretAccessKey, testRegion, "AccessDenied"},
		{"wrong secret", rootID, "wrong", testRegion, "SignatureDoesNotMatch"},
		{"unknown key", "AKIAUNKNOWNUNKNOWNUN", rootSecret, testRegion, "InvalidClientTokenId"},
		{"other region", rootID, rootSecret, "eu-west-1", "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(tt.id, tt.secret, tt.region).DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
}

// signedByBotocore is a request botocore signed, as boto3 and the AWS CLI
// would send it.
type signedByBotocore struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func botocoreSign(t *testing.T, mode, url, id, secret, body string) *http.Request {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	if exec.Command(python, "-c", "import botocore").Run() != nil {
		t.Skip("botocore is not installed")
	}
	cmd := exec.Command(python, "testdata/sign_botocore.py", mode, url, id, testRegion, body)
	cmd.Env = append(os.Environ(), "SIGN_SECRET="+secret)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sign with botocore: %v", err)
	}
	var s signedByBotocore
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("decode botocore output %q: %v", out, err)
	}
	req, err := http.NewRequest(s.Method, s.URL, strings.NewReader(s.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	return req
}

func TestAuthenticateBotocoreSignedRequests(t *testing.T) {
	r := newRig(t)
	key, err := r.kr.CreateKey(context.Background(), []byte(readOnlyPolicy), "boto")
	if err != nil {
		t.Fatal(err)
	}
	presignURL := r.srv.URL + "/?Action=DescribeDBInstances&Version=2014-10-31&Marker=a%20b%2Fc"

	t.Run("header", func(t *testing.T) {
		p, err, _ := r.send(t, botocoreSign(t, "header", r.srv.URL+"/", key.AccessKeyID, key.SecretAccessKey, queryBody))
		if err != nil || p.AccessKeyID != key.AccessKeyID || p.Root {
			t.Fatalf("principal %+v, err %v", p, err)
		}
	})
	t.Run("path with escapes", func(t *testing.T) {
		p, err, _ := r.send(t, botocoreSign(t, "header", r.srv.URL+"/teal%20db/a%2Fb/", rootID, rootSecret, queryBody))
		if err != nil || !p.Root {
			t.Fatalf("principal %+v, err %v", p, err)
		}
	})
	t.Run("presigned", func(t *testing.T) {
		p, err, _ := r.send(t, botocoreSign(t, "presign", presignURL, rootID, rootSecret, ""))
		if err != nil || !p.Root {
			t.Fatalf("principal %+v, err %v", p, err)
		}
	})
	t.Run("tampered body", func(t *testing.T) {
		req := botocoreSign(t, "header", r.srv.URL+"/", key.AccessKeyID, key.SecretAccessKey, queryBody)
		req.Body = io.NopCloser(strings.NewReader(strings.Replace(queryBody, "Describe", "Delete__", 1)))
		_, err, status := r.send(t, req)
		if f := faultOf(t, err); f.Code != "SignatureDoesNotMatch" || status != http.StatusForbidden {
			t.Fatalf("got %v (HTTP %d)", f, status)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err, _ := r.send(t, botocoreSign(t, "header", r.srv.URL+"/", key.AccessKeyID, "wrong", queryBody))
		if f := faultOf(t, err); f.Code != "SignatureDoesNotMatch" {
			t.Fatalf("got %v", f)
		}
	})
}
