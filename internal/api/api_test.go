package api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// fakeCaller allows the actions in allow (all when nil).
type fakeCaller struct {
	root  bool
	allow map[string]bool
	seen  *[]string
}

func (c fakeCaller) IsRoot() bool  { return c.root }
func (c fakeCaller) KeyID() string { return "AKIDTEST" }
func (c fakeCaller) Authorize(action string, resources ...string) error {
	if c.seen != nil {
		*c.seen = append(*c.seen, action+" "+strings.Join(resources, ","))
	}
	if c.root || c.allow == nil || c.allow[action] {
		return nil
	}
	return &rds.Fault{Code: "AccessDenied", Status: 403, Message: "not authorized to perform: " + action}
}

// fakeAuth accepts requests with an Authorization header as caller.
type fakeAuth struct{ caller fakeCaller }

func (a fakeAuth) Authenticate(r *http.Request, body []byte) (Caller, error) {
	if r.Header.Get("Authorization") == "" {
		return nil, &rds.Fault{Code: "MissingAuthenticationToken", Status: 403, Message: "Request is missing Authentication Token"}
	}
	return a.caller, nil
}

type fakeKeys struct {
	keys []AccessKey
	err  error
}

func (k *fakeKeys) CreateKey(ctx context.Context, policy []byte, description string) (AccessKey, error) {
	if k.err != nil {
		return AccessKey{}, k.err
	}
	key := AccessKey{AccessKeyID: "AKIANEW", SecretAccessKey: "s3cr3t", Description: description, Policy: policy,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.UTC)}
	k.keys = append(k.keys, key)
	return key, nil
}

func (k *fakeKeys) ListKeys(ctx context.Context) ([]AccessKey, error) { return k.keys, k.err }
func (k *fakeKeys) DeleteKey(ctx context.Context, id string) error {
	if id != "AKIANEW" {
		return &rds.Fault{Code: "NoSuchEntity", Status: 404, Message: "The Access Key with id " + id + " cannot be found."}
	}
	return nil
}

func do(t *testing.T, h http.Handler, method, body string, signed bool) *httptest.ResponseRecorder {
	t.Helper()
	target := "/"
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, target+"?"+body, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if signed {
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 fake")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type errorDoc struct {
	XMLName xml.Name `xml:"http://rds.amazonaws.com/doc/2014-10-31/ ErrorResponse"`
	Error   struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestErrors(t *testing.T) {
	keys := &fakeKeys{}
	user := New(Config{Auth: fakeAuth{fakeCaller{allow: map[string]bool{}}}, Keys: keys})
	root := New(Config{Auth: fakeAuth{fakeCaller{root: true}}, Keys: &fakeKeys{err: errors.New("open /secret/path: permission denied")}})
	noKeys := New(Config{Auth: fakeAuth{fakeCaller{root: true}}})
	tests := []struct {
		name   string
		h      http.Handler
		method string
		body   string
		signed bool
		status int
		code   string
		msg    string
	}{
		{"unsigned before anything else", user, "POST", "%%%garbage", false, 403, "MissingAuthenticationToken", "Authentication Token"},
		{"malformed form", user, "POST", "Action=DescribeDBInstances&Marker=%zz", true, 404, "MalformedQueryString", "syntax error"},
		{"no action", user, "POST", "Version=2014-10-31", true, 400, "MissingAction", "Action"},
		{"unknown action", user, "POST", "Action=DropDatabase&Version=2014-10-31", true, 400, "InvalidAction", "DropDatabase is not valid"},
		{"no version", user, "POST", "Action=DescribeDBInstances", true, 400, "MissingParameter", "parameter Version"},
		{"other version", user, "POST", "Action=DescribeDBInstances&Version=2013-01-10", true, 400, "NoSuchVersion", "2013-01-10"},
		{"missing member", user, "POST", "Action=RebootDBInstance&Version=2014-10-31", true, 400, "MissingParameter",
			"The request must contain the parameter DBInstanceIdentifier"},
		{"bad number", user, "GET", "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=lots", true, 400, "InvalidParameterValue", "MaxRecords"},
		{"policy refuses", user, "POST", "Action=RebootDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1", true, 403, "AccessDenied", "rds:RebootDBInstance"},
		{"root only", user, "POST", "Action=TealListAccessKeys&Version=2014-10-31", true, 403, "AccessDenied", "root"},
		{"no keyring", noKeys, "POST", "Action=TealListAccessKeys&Version=2014-10-31", true, 400, "InvalidAction", "access keys"},
		{"not found passes through", root, "POST", "Action=TealDeleteAccessKey&Version=2014-10-31&AccessKeyId=AKIAOLD", true, 404, "NoSuchEntity", "AKIAOLD"},
		{"internal error hides details", root, "POST", "Action=TealListAccessKeys&Version=2014-10-31", true, 500, "InternalFailure", "unknown error"},
		{"body too large", user, "POST", "Action=DescribeDBInstances&Version=2014-10-31&Marker=" + strings.Repeat("x", MaxBodyBytes), true,
			413, "RequestEntityTooLarge", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, tt.h, tt.method, tt.body, tt.signed)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			var doc errorDoc
			if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("not an ErrorResponse: %v: %s", err, w.Body)
			}
			wantType := "Sender"
			if tt.status >= 500 {
				wantType = "Receiver"
			}
			if doc.Error.Code != tt.code || doc.Error.Type != wantType || !strings.Contains(doc.Error.Message, tt.msg) {
				t.Errorf("got %+v, want %s %s with %q", doc.Error, wantType, tt.code, tt.msg)
			}
			if strings.Contains(w.Body.String(), "/secret/path") {
				t.Errorf("the answer leaks the internal error: %s", w.Body)
			}
			if id := w.Header().Get("x-amzn-RequestId"); !uuidRE.MatchString(id) || id != doc.RequestID {
				t.Errorf("request id header %q, body %q", id, doc.RequestID)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestAccessKeyActions(t *testing.T) {
	keys := &fakeKeys{}
	h := New(Config{Auth: fakeAuth{fakeCaller{root: true}}, Keys: keys})
	w := do(t, h, "POST", "Action=TealCreateAccessKey&Version=2014-10-31&Description=ci&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D", true)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<TealCreateAccessKeyResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><TealCreateAccessKeyResult>` +
		`<AccessKey><AccessKeyId>AKIANEW</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey><Description>ci</Description>` +
		`<PolicyDocument>{&#34;Version&#34;:&#34;2012-10-17&#34;}</PolicyDocument><CreateDate>2026-01-02T03:04:05.600Z</CreateDate></AccessKey>` +
		`</TealCreateAccessKeyResult><ResponseMetadata><RequestId>` + w.Header().Get("x-amzn-RequestId") +
		`</RequestId></ResponseMetadata></TealCreateAccessKeyResponse>`
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("create: %d\n got %s\nwant %s", w.Code, w.Body, want)
	}
	w = do(t, h, "POST", "Action=TealListAccessKeys&Version=2014-10-31", true)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<AccessKeys><AccessKey><AccessKeyId>AKIANEW</AccessKeyId><Description>ci</Description>") ||
		strings.Contains(w.Body.String(), "s3cr3t") {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	w = do(t, h, "POST", "Action=TealDeleteAccessKey&Version=2014-10-31&AccessKeyId=AKIANEW", true)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<TealDeleteAccessKeyResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><ResponseMetadata><RequestId>`) {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
}

func TestAuthorizeChecksEveryGrant(t *testing.T) {
	var seen []string
	h := New(Config{Auth: fakeAuth{fakeCaller{allow: map[string]bool{"rds:CreateDBInstance": true}, seen: &seen}}})
	w := do(t, h, "POST", "Action=CreateDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1&DBInstanceClass=db.t3.micro&Engine=postgres&Tags.Tag.1.Key=k&Tags.Tag.1.Value=v", true)
	if w.Code != 403 || !strings.Contains(w.Body.String(), "rds:AddTagsToResource") {
		t.Fatalf("create with tags but no rds:AddTagsToResource: %d %s", w.Code, w.Body)
	}
	want := []string{"rds:CreateDBInstance arn:aws:rds:us-east-1:000000000000:db:db1",
		"rds:AddTagsToResource arn:aws:rds:us-east-1:000000000000:db:db1"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("checked %q, want %q", seen, want)
	}
}

// TestPanicIsInternalFailure: a bug in one operation fails that request
// alone, without detail, and the handler keeps serving.
func TestPanicIsInternalFailure(t *testing.T) {
	operations["TealTestPanic"] = op(func(*API, context.Context, *struct{}) (noResult, error) {
		panic("boom: secret detail")
	}, nobody[struct{}])
	defer delete(operations, "TealTestPanic")
	h := New(Config{Auth: fakeAuth{fakeCaller{root: true}}, Keys: &fakeKeys{}})
	w := do(t, h, "POST", "Action=TealTestPanic&Version=2014-10-31", true)
	if w.Code != 500 || !strings.Contains(w.Body.String(), "<Code>InternalFailure</Code>") || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("panic answered %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "POST", "Action=TealListAccessKeys&Version=2014-10-31", true); w.Code != 200 {
		t.Fatalf("after a panic: %d %s", w.Code, w.Body)
	}
}
