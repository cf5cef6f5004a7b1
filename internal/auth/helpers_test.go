package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tealdb/teal/internal/fault"
	"github.com/tealdb/teal/internal/store"
)

const (
	testRegion  = "us-east-1"
	testAccount = "000000000000"
	rootID      = "AKIAROOTROOTROOTROOT"
	rootSecret  = "rootSecretrootSecretrootSecretrootSecre"
	queryBody   = "Action=DescribeDBInstances&Version=2014-10-31"
)

// rig is a keyring behind a real HTTP server, so requests reach Authenticate
// the way Go's server hands them to teal: Host moved out of the header map,
// Content-Length as sent, the body still to be read.
type rig struct {
	st   *store.Store
	path string
	kr   *Keyring
	srv  *httptest.Server
	logs *syncBuffer

	mu   sync.Mutex
	last result
}

type result struct {
	p   Principal
	err error
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRig(t *testing.T) *rig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "teal.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{st: st, path: path, logs: &syncBuffer{}}
	r.kr = r.keyring(t, st)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := r.kr.Authenticate(req, body)
		r.mu.Lock()
		r.last = result{p, err}
		r.mu.Unlock()
		var f *fault.Fault
		if errors.As(err, &f) {
			w.WriteHeader(f.Status)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// keyring opens a keyring on st that logs everything, down to Debug, into
// the rig's buffer, so tests can check what reaches the logs.
func (r *rig) keyring(t *testing.T, st *store.Store) *Keyring {
	t.Helper()
	kr, err := NewKeyring(context.Background(), st, rootID, rootSecret, testRegion, testAccount)
	if err != nil {
		t.Fatal(err)
	}
	kr.log = slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return kr
}

// send sends req to the rig and returns what Authenticate decided and the
// HTTP status the fault carried.
func (r *rig) send(t *testing.T, req *http.Request) (Principal, error, int) {
	t.Helper()
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last.p, r.last.err, resp.StatusCode
}

// newRequest builds the POST / that the RDS Query clients send.
func (r *rig) newRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return req
}

type signOpts struct {
	id, secret, region, service, body string
	at                                time.Time
}

// sign signs req with aws-sdk-go-v2's signer, as the SDK's RDS client does.
func sign(t *testing.T, req *http.Request, o signOpts) {
	t.Helper()
	if o.region == "" {
		o.region = testRegion
	}
	if o.service == "" {
		o.service = "rds"
	}
	if o.at.IsZero() {
		o.at = time.Now()
	}
	sum := sha256.Sum256([]byte(o.body))
	creds := aws.Credentials{AccessKeyID: o.id, SecretAccessKey: o.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), o.service, o.region, o.at); err != nil {
		t.Fatal(err)
	}
}

// faultOf returns the *fault.Fault in err, failing the test if there is none.
func faultOf(t *testing.T, err error) *fault.Fault {
	t.Helper()
	var f *fault.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not an *fault.Fault", err, err)
	}
	return f
}

const readOnlyPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`
