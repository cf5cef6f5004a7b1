package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// stubRDS answers a few RDS Query actions with canned XML, enough to test
// what the client does with pages, errors and signatures. The real server
// is exercised by test/e2e.
type stubRDS struct {
	mu       sync.Mutex
	requests []map[string]string // form of each request
	auth     []string            // Authorization header of each request
	statuses []string            // statuses to report for instance "a" and cluster "c1", one per poll
}

var stubInstances = []string{"a", "b", "c", "d", "e"}

func (s *stubRDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	s.mu.Lock()
	s.requests = append(s.requests, form)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	status := "available"
	if len(s.statuses) > 0 {
		status = s.statuses[0]
		if len(s.statuses) > 1 {
			s.statuses = s.statuses[1:]
		}
	}
	s.mu.Unlock()

	action := form["Action"]
	var body strings.Builder
	switch action {
	case "DescribeDBInstances":
		id := form["DBInstanceIdentifier"]
		if id != "" && (id != "a" || status == "gone") {
			queryError(w, 404, "DBInstanceNotFound", "DBInstance "+id+" not found.")
			return
		}
		// Two instances a page; the marker is the index to go on from.
		start := 0
		fmt.Sscan(form["Marker"], &start)
		end := min(start+2, len(stubInstances))
		if id != "" {
			start, end = 0, 1
		}
		for _, name := range stubInstances[start:end] {
			fmt.Fprintf(&body, "<DBInstance><DBInstanceIdentifier>%s</DBInstanceIdentifier><Engine>postgres</Engine><DBInstanceStatus>%s</DBInstanceStatus></DBInstance>", name, status)
		}
		marker := ""
		if end < len(stubInstances) && id == "" {
			marker = fmt.Sprintf("<Marker>%d</Marker>", end)
		}
		fmt.Fprintf(w, `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances>%s</DBInstances>%s</DescribeDBInstancesResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`, body.String(), marker)
	case "DescribeDBClusters":
		// One cluster, "c1"; once gone, a list without it.
		id := form["DBClusterIdentifier"]
		if id != "" && (id != "c1" || status == "gone") {
			queryError(w, 404, "DBClusterNotFoundFault", "DBCluster "+id+" not found.")
			return
		}
		if status != "gone" {
			fmt.Fprintf(&body, "<DBCluster><DBClusterIdentifier>c1</DBClusterIdentifier><Engine>aurora-postgresql</Engine><Status>%s</Status></DBCluster>", status)
		}
		fmt.Fprintf(w, `<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBClustersResult><DBClusters>%s</DBClusters></DescribeDBClustersResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></DescribeDBClustersResponse>`, body.String())
	case "TealCreateAccessKey":
		fmt.Fprintf(w, `<TealCreateAccessKeyResponse><TealCreateAccessKeyResult><AccessKey><AccessKeyId>AKIANEW</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey><Description>%s</Description><PolicyDocument>{}</PolicyDocument><CreateDate>2026-03-04T05:06:07Z</CreateDate></AccessKey></TealCreateAccessKeyResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></TealCreateAccessKeyResponse>`, form["Description"])
	case "TealListAccessKeys":
		fmt.Fprint(w, `<TealListAccessKeysResponse><TealListAccessKeysResult><AccessKeys><AccessKey><AccessKeyId>AKIA1</AccessKeyId><Description>ci</Description><CreateDate>2026-03-04T05:06:07Z</CreateDate></AccessKey><AccessKey><AccessKeyId>AKIA2</AccessKeyId><CreateDate>2026-03-05T05:06:07Z</CreateDate></AccessKey></AccessKeys></TealListAccessKeysResult></TealListAccessKeysResponse>`)
	case "TealDeleteAccessKey":
		queryError(w, 404, "NoSuchEntity", "The access key "+form["AccessKeyId"]+" does not exist.")
	default:
		queryError(w, 400, "InvalidAction", "no "+action)
	}
}

func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r0</RequestId></ErrorResponse>`, code, msg)
}

func (s *stubRDS) forms() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]string(nil), s.requests...)
}

// startStub serves a stubRDS on 127.0.0.1 and points the client at it with
// credentials from the environment.
func startStub(t *testing.T) *stubRDS {
	t.Helper()
	s := &stubRDS{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Setenv("TEAL_ENDPOINT", srv.URL)
	t.Setenv("TEAL_ACCESS_KEY_ID", "AKIATEST")
	t.Setenv("TEAL_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "")
	return s
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return o.String(), e.String(), code
}

func ids(t *testing.T, out string) []string {
	t.Helper()
	var res struct {
		DBInstances []struct{ DBInstanceIdentifier string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bad json %q: %v", out, err)
	}
	var got []string
	for _, i := range res.DBInstances {
		got = append(got, i.DBInstanceIdentifier)
	}
	return got
}

func TestDescribeFetchesAllPages(t *testing.T) {
	s := startStub(t)
	out, errOut, code := run(t, "describe-db-instances", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := strings.Join(ids(t, out), ","); got != "a,b,c,d,e" {
		t.Errorf("instances %s, want all five pages' worth", got)
	}
	if strings.Contains(out, "Marker") {
		t.Errorf("output keeps a Marker:\n%s", out)
	}
	if n := len(s.forms()); n != 3 {
		t.Errorf("%d requests, want 3 pages", n)
	}
	if a := s.auth[0]; !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIATEST/") || !strings.Contains(a, "/us-east-1/rds/aws4_request") {
		t.Errorf("Authorization = %q", a)
	}

	// --max-items stops inside a page and hands out a token that goes on
	// from there.
	out, _, code = run(t, "describe-db-instances", "--output", "json", "--max-items", "3")
	var res struct{ NextToken string }
	json.Unmarshal([]byte(out), &res)
	if got := strings.Join(ids(t, out), ","); code != 0 || got != "a,b,c" || res.NextToken == "" {
		t.Fatalf("--max-items 3: exit %d, instances %s, token %q", code, got, res.NextToken)
	}
	out, _, code = run(t, "--output", "json", "describe-db-instances", "--starting-token", res.NextToken)
	if got := strings.Join(ids(t, out), ","); code != 0 || got != "d,e" || strings.Contains(out, "NextToken") {
		t.Errorf("--starting-token: exit %d, instances %s\n%s", code, got, out)
	}

	// --no-paginate and --page-size.
	before := len(s.forms())
	out, _, _ = run(t, "describe-db-instances", "--output", "json", "--no-paginate")
	if got := strings.Join(ids(t, out), ","); got != "a,b" || len(s.forms()) != before+1 || !strings.Contains(out, `"Marker": "2"`) {
		t.Errorf("--no-paginate: %s\n%s", got, out)
	}
	run(t, "describe-db-instances", "--page-size", "2")
	if f := s.forms()[len(s.forms())-1]; f["MaxRecords"] != "2" {
		t.Errorf("--page-size sent MaxRecords=%q", f["MaxRecords"])
	}
}

func TestDescribeTable(t *testing.T) {
	startStub(t)
	out, _, code := run(t, "describe-db-instances", "--db-instance-identifier", "a")
	want := "IDENTIFIER   ENGINE     VERSION   STATUS      ENDPOINT   CLASS\na            postgres   -         available   -          -\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, table:\n%s\nwant:\n%s", code, out, want)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	s := startStub(t)
	out, errOut, code := run(t, "describe-db-instances", "--db-instance-identifier", "missing")
	if code != 1 || out != "" || errOut != "teal: DBInstanceNotFound: DBInstance missing not found.\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Mistakes on the command line exit 2 without a request.
	before := len(s.forms())
	for _, args := range [][]string{
		{"create-db-instance", "--engine", "postgres"},
		{"describe-db-instances", "--no-such-option"},
		{"describe-db-instances", "--filters", "Name=engine,Values"},
		{"describe-db-instances", "--output", "yaml"},
		{"no-such-command"},
	} {
		_, errOut, code := run(t, args...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "teal: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", args, code, errOut)
		}
	}
	if _, errOut, _ := run(t, "create-db-instance", "--engine", "postgres"); !strings.Contains(errOut, "missing required option --db-instance-identifier, --db-instance-class") {
		t.Errorf("missing options: %q", errOut)
	}
	if n := len(s.forms()); n != before {
		t.Errorf("%d requests sent for bad command lines", n-before)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("TEAL_ACCESS_KEY_ID", "AKIATEST")
	t.Setenv("TEAL_SECRET_ACCESS_KEY", "secret")
	_, errOut, code := run(t, "describe-db-instances", "--endpoint-url", endpoint)
	want := "teal: cannot connect to " + endpoint + ": connection refused; is `teal serve` running there? (set --endpoint-url or TEAL_ENDPOINT)\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestCredentialsFile(t *testing.T) {
	s := startStub(t)
	t.Setenv("TEAL_ACCESS_KEY_ID", "")
	t.Setenv("TEAL_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	dir := t.TempDir()
	_, errOut, code := run(t, "describe-db-instances", "--data-dir", dir)
	if code != 1 || !strings.Contains(errOut, "no credentials") {
		t.Errorf("without credentials: exit %d, %q", code, errOut)
	}
	// The format `teal serve` writes.
	data := "[teal]\naws_access_key_id = AKIAFILE\naws_secret_access_key = filesecret\n"
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEAL_DATA_DIR", dir)
	if _, errOut, code := run(t, "describe-db-instances"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if a := s.auth[len(s.auth)-1]; !strings.Contains(a, "Credential=AKIAFILE/") {
		t.Errorf("Authorization = %q, want the key from the credentials file", a)
	}
}

func TestAccessKeyCommands(t *testing.T) {
	s := startStub(t)
	policy := filepath.Join(t.TempDir(), "policy.json")
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`
	if err := os.WriteFile(policy, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "iam", "create-access-key", "--policy-file", policy, "--description", "read only")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	f := s.forms()[0]
	if f["Action"] != "TealCreateAccessKey" || f["Version"] != "2014-10-31" || f["PolicyDocument"] != doc || f["Description"] != "read only" {
		t.Errorf("request form %v", f)
	}
	if a := s.auth[0]; !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIATEST/") || !strings.Contains(a, "/rds/aws4_request") {
		t.Errorf("Authorization = %q", a)
	}
	for _, want := range []string{"AccessKeyId       AKIANEW", "SecretAccessKey   s3cr3t", "Description       read only"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, _ = run(t, "iam", "create-access-key", "--policy-file", policy, "--output", "json")
	if !strings.Contains(out, `"SecretAccessKey": "s3cr3t"`) || !strings.HasPrefix(out, "{\n    \"AccessKey\": {") {
		t.Errorf("json:\n%s", out)
	}

	out, _, code = run(t, "iam", "list-access-keys")
	want := "ACCESS KEY ID   DESCRIPTION   CREATED\nAKIA1           ci            2026-03-04 05:06:07Z\nAKIA2           -             2026-03-05 05:06:07Z\n"
	if code != 0 || out != want {
		t.Errorf("list: exit %d\n%s\nwant:\n%s", code, out, want)
	}

	_, errOut, code = run(t, "iam", "delete-access-key", "--access-key-id", "AKIAGONE")
	if code != 1 || errOut != "teal: NoSuchEntity: The access key AKIAGONE does not exist.\n" {
		t.Errorf("delete: exit %d, %q", code, errOut)
	}
	_, errOut, code = run(t, "iam", "create-access-key")
	if code != 2 || !strings.Contains(errOut, "missing required option --policy-file") {
		t.Errorf("no policy: exit %d, %q", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o600)
	if _, errOut, code = run(t, "iam", "create-access-key", "--policy-file", bad); code != 2 || !strings.Contains(errOut, "not valid JSON") {
		t.Errorf("bad policy: exit %d, %q", code, errOut)
	}
}

func TestWait(t *testing.T) {
	s := startStub(t)
	s.statuses = []string{"creating", "creating", "backing-up", "available"}
	_, errOut, code := run(t, "wait", "db-instance-available", "--db-instance-identifier", "a", "--interval", "10ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Not a terminal: one line for each change of status.
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "a: creating (") || !strings.HasPrefix(lines[1], "a: backing-up (") || !strings.HasPrefix(lines[2], "a: available (") {
		t.Errorf("progress:\n%s", errOut)
	}

	s.statuses = []string{"deleting", "gone"}
	if _, errOut, code := run(t, "wait", "db-instance-deleted", "--db-instance-identifier", "a", "--interval", "10ms"); code != 0 || !strings.Contains(errOut, "a: deleting (") || !strings.Contains(errOut, "a: deleted (") {
		t.Errorf("deleted: exit %d: %s", code, errOut)
	}

	s.statuses = []string{"failed"}
	if _, errOut, code := run(t, "wait", "db-instance-available", "--db-instance-identifier", "a", "--interval", "10ms"); code != 1 || !strings.Contains(errOut, "teal: db-instance-available: a is failed") {
		t.Errorf("failed: exit %d: %q", code, errOut)
	}

	s.statuses = []string{"creating"}
	if _, errOut, code := run(t, "wait", "db-instance-available", "--db-instance-identifier", "a", "--interval", "10ms", "--timeout", "100ms"); code != 1 || !strings.Contains(errOut, "gave up after 100ms") {
		t.Errorf("timeout: exit %d: %q", code, errOut)
	}
	if _, errOut, code := run(t, "wait", "db-instance-available", "--timeout", "soon"); code != 2 {
		t.Errorf("bad timeout: exit %d: %q", code, errOut)
	}
}
