package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestAuthenticateSDKSignedRequests(t *testing.T) {
	r := newRig(t)
	key, err := r.kr.CreateKey(context.Background(), []byte(readOnlyPolicy), "reader")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	root := signOpts{id: rootID, secret: rootSecret, body: queryBody}
	with := func(f func(*signOpts)) signOpts { o := root; f(&o); return o }

	tests := []struct {
		name    string
		opts    signOpts
		send    string              // body sent, if not the one signed
		path    string              // request path, if not "/"
		tamper  func(*http.Request) // after signing
		unsiged bool
		code    string // "" means accepted
		status  int
		message string // a part of the message the user must see
		wantARN string
	}{
		{name: "root key", opts: root, wantARN: "arn:aws:iam::000000000000:root"},
		{name: "created key", opts: with(func(o *signOpts) { o.id, o.secret = key.AccessKeyID, key.SecretAccessKey }),
			wantARN: "arn:aws:iam::000000000000:user/" + key.AccessKeyID},
		{name: "unsigned", unsiged: true, code: "MissingAuthenticationToken", status: 403,
			message: "Request is missing Authentication Token"},
		{name: "unknown key", opts: with(func(o *signOpts) { o.id = "AKIANOSUCHKEYNOSUCHK" }),
			code: "InvalidClientTokenId", status: 403, message: "The security token included in the request is invalid."},
		{name: "wrong secret", opts: with(func(o *signOpts) { o.secret = "not-the-secret" }),
			code: "SignatureDoesNotMatch", status: 403, message: "Check your AWS Secret Access Key"},
		{name: "tampered body", opts: root, send: "Action=DeleteDBInstance&Version=2014-10-31",
			code: "SignatureDoesNotMatch", status: 403},
		{name: "tampered signed header", opts: root,
			tamper: func(q *http.Request) { q.Header.Set("Content-Type", "text/plain") },
			code:   "SignatureDoesNotMatch", status: 403},
		{name: "path with escapes, as behind a proxy prefix", opts: root, path: "/teal db/a%2Fb~c/",
			wantARN: "arn:aws:iam::000000000000:root"},
		{name: "unsigned header added", opts: root,
			tamper: func(q *http.Request) { q.Header.Set("X-Extra", "ignored") }, wantARN: "arn:aws:iam::000000000000:root"},
		{name: "16 minutes old", opts: with(func(o *signOpts) { o.at = now.Add(-16 * time.Minute) }),
			code: "RequestExpired", status: 400, message: "Request has expired."},
		{name: "16 minutes ahead", opts: with(func(o *signOpts) { o.at = now.Add(16 * time.Minute) }),
			code: "RequestExpired", status: 400, message: "check the client's clock"},
		{name: "14 minutes old", opts: with(func(o *signOpts) { o.at = now.Add(-14 * time.Minute) }),
			wantARN: "arn:aws:iam::000000000000:root"},
		{name: "14 minutes ahead", opts: with(func(o *signOpts) { o.at = now.Add(14 * time.Minute) }),
			wantARN: "arn:aws:iam::000000000000:root"},
		{name: "other region", opts: with(func(o *signOpts) { o.region = "eu-west-1" }),
			code: "SignatureDoesNotMatch", status: 403, message: "region 'us-east-1'"},
		{name: "other service", opts: with(func(o *signOpts) { o.service = "ec2" }),
			code: "SignatureDoesNotMatch", status: 403, message: "correct service: 'rds'"},
		{name: "no date", opts: root, tamper: func(q *http.Request) { q.Header.Del("X-Amz-Date") },
			code: "IncompleteSignature", status: 403, message: "'X-Amz-Date'"},
		{name: "malformed header", opts: root,
			tamper: func(q *http.Request) { q.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+rootID) },
			code:   "IncompleteSignature", status: 403, message: "requires 'Signature' parameter"},
		{name: "signature version 2", opts: root,
			tamper: func(q *http.Request) { q.Header.Set("Authorization", "AWS "+rootID+":c2lnbmF0dXJl") },
			code:   "IncompleteSignature", status: 403, message: "Signature Version 4"},
		{name: "stated payload hash differs", opts: root,
			tamper: func(q *http.Request) { q.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") },
			code:   "SignatureDoesNotMatch", status: 403},
		{name: "session token", opts: root,
			tamper: func(q *http.Request) { q.Header.Set("X-Amz-Security-Token", "token") },
			code:   "InvalidClientTokenId", status: 403, message: "AWS_SESSION_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send := queryBody
			if tt.send != "" {
				send = tt.send
			}
			req := r.newRequest(t, send)
			if tt.path != "" {
				u, err := url.Parse(r.srv.URL + tt.path)
				if err != nil {
					t.Fatal(err)
				}
				req.URL = u
			}
			if !tt.unsiged {
				sign(t, req, tt.opts)
			}
			if tt.tamper != nil {
				tt.tamper(req)
			}
			p, err, status := r.send(t, req)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.ARN != tt.wantARN || p.Root != (tt.opts.id == rootID) {
					t.Fatalf("principal = %+v, want ARN %s", p, tt.wantARN)
				}
				return
			}
			f := faultOf(t, err)
			if f.Code != tt.code || f.Status != tt.status || status != tt.status {
				t.Fatalf("got %s (%d, HTTP %d): %s; want %s (%d)", f.Code, f.Status, status, f.Message, tt.code, tt.status)
			}
			if !strings.Contains(f.Message, tt.message) {
				t.Fatalf("message %q does not say %q", f.Message, tt.message)
			}
			if p != (Principal{}) {
				t.Fatalf("refused request still returned principal %+v", p)
			}
		})
	}
}

func TestAuthenticatePresignedURL(t *testing.T) {
	r := newRig(t)
	empty := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: rootID, SecretAccessKey: rootSecret}
	presign := func(t *testing.T, at time.Time, expires time.Duration) string {
		t.Helper()
		q := url.Values{"Action": {"DescribeDBInstances"}, "Version": {"2014-10-31"}, "Filters.Filter.1.Name": {"engine name"}}
		if expires > 0 {
			q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
		}
		req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hex.EncodeToString(empty[:]), "rds", testRegion, at)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	get := func(t *testing.T, u string) (Principal, error) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err, _ := r.send(t, req)
		return p, err
	}

	t.Run("valid", func(t *testing.T) {
		p, err := get(t, presign(t, time.Now(), 5*time.Minute))
		if err != nil || !p.Root {
			t.Fatalf("principal %+v, err %v", p, err)
		}
	})
	t.Run("valid an hour later within X-Amz-Expires", func(t *testing.T) {
		if _, err := get(t, presign(t, time.Now().Add(-time.Hour), 2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		_, err := get(t, presign(t, time.Now().Add(-10*time.Minute), 5*time.Minute))
		if f := faultOf(t, err); f.Code != "RequestExpired" || f.Status != 400 {
			t.Fatalf("got %v", f)
		}
	})
	t.Run("tampered query", func(t *testing.T) {
		u := strings.Replace(presign(t, time.Now(), 5*time.Minute), "DescribeDBInstances", "DeleteDBInstance", 1)
		if f := faultOf(t, nilErr(get(t, u))); f.Code != "SignatureDoesNotMatch" {
			t.Fatalf("got %v", f)
		}
	})
	t.Run("missing parameter", func(t *testing.T) {
		u := strings.Replace(presign(t, time.Now(), 5*time.Minute), "X-Amz-SignedHeaders", "X-Ignored", 1)
		if f := faultOf(t, nilErr(get(t, u))); f.Code != "IncompleteSignature" {
			t.Fatalf("got %v", f)
		}
	})
}

func nilErr(_ Principal, err error) error { return err }

// TestSignatureKnownAnswer checks the signing steps against the worked
// example of the AWS Signature Version 4 documentation (IAM ListUsers), so
// the implementation is held to the specification and not only to the
// clients it is tested with.
func TestSignatureKnownAnswer(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("X-Amz-Date", "20150830T123600Z")
	sig := signature{scopeDate: "20150830", region: "us-east-1", service: "iam", terminator: "aws4_request", amzDate: "20150830T123600Z"}
	if err := sig.setSignedHeaders("content-type;host;x-amz-date"); err != nil {
		t.Fatal(err)
	}
	hash, err := payloadHash(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	toSign := stringToSign(sig, canonicalRequest(req, sig, hash))
	if want := "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"; !strings.HasSuffix(toSign, want) {
		t.Fatalf("string to sign:\n%s\nwant hashed canonical request %s", toSign, want)
	}
	key := signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	if got, want := hex.EncodeToString(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"; got != want {
		t.Fatalf("signing key %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(hmacSHA256(key, toSign)), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw       string
		presigned bool
		want      string
	}{
		{"", false, ""},
		{"Version=2014-10-31&Action=DescribeDBInstances", false, "Action=DescribeDBInstances&Version=2014-10-31"},
		{"b=2&a=2&a=1", false, "a=1&a=2&b=2"},
		{"k=a+b&s=%2F~%20", false, "k=a%20b&s=%2F~%20"},
		{"flag&x=", false, "flag=&x="},
		{"X-Amz-Signature=abc&X-Amz-Date=1", true, "X-Amz-Date=1"},
		{"X-Amz-Signature=abc", false, "X-Amz-Signature=abc"},
	}
	for _, tt := range tests {
		if got := canonicalQuery(tt.raw, tt.presigned); got != tt.want {
			t.Errorf("canonicalQuery(%q, %v) = %q, want %q", tt.raw, tt.presigned, got, tt.want)
		}
	}
}

func TestCheckTime(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		at      time.Time
		presign bool
		expires time.Duration
		ok      bool
	}{
		{"now", now, false, 0, true},
		{"exactly 15 minutes old", now.Add(-maxSkew), false, 0, true},
		{"15 minutes and a second old", now.Add(-maxSkew - time.Second), false, 0, false},
		{"15 minutes and a second ahead", now.Add(maxSkew + time.Second), false, 0, false},
		{"presigned within expiry", now.Add(-time.Hour), true, 2 * time.Hour, true},
		{"presigned past expiry", now.Add(-time.Hour), true, 30 * time.Minute, false},
		{"presigned without expiry, old", now.Add(-time.Hour), true, 0, false},
		{"presigned from the future", now.Add(time.Hour), true, 2 * time.Hour, false},
	}
	for _, tt := range tests {
		sig := signature{time: tt.at, amzDate: tt.at.Format(amzDateLayout), presigned: tt.presign, expires: tt.expires}
		err := checkTime(sig, now)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && faultOf(t, err).Code != "RequestExpired" {
			t.Errorf("%s: code %s", tt.name, faultOf(t, err).Code)
		}
	}
}
