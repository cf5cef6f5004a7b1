package console

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/api"
	"github.com/tealdb/teal/internal/fault"
)

// caller may do what its actions list, on any resource.
type caller struct {
	id      string
	actions []string
}

func (c caller) Authorize(action string, _ ...string) error {
	for _, a := range c.actions {
		if a == action {
			return nil
		}
	}
	return &fault.Fault{Code: "AccessDenied", Status: http.StatusForbidden, Message: "no"}
}
func (c caller) IsRoot() bool  { return false }
func (c caller) KeyID() string { return c.id }

type keys map[string]caller // by secret

func (k keys) SignIn(id, secret string) (api.Caller, error) {
	if c, ok := k[secret]; ok && c.id == id {
		return c, nil
	}
	return nil, &fault.Fault{Code: "InvalidClientTokenId", Status: http.StatusForbidden, Message: "wrong"}
}

func (k keys) Caller(id string) (api.Caller, bool) {
	for _, c := range k {
		if c.id == id {
			return c, true
		}
	}
	return nil, false
}

// browser is a client of the console as a page of it is: requests carry
// the page's Origin, and the cookies the console set.
type browser struct {
	t       *testing.T
	c       *Console
	remote  string
	host    string // default 127.0.0.1:7480
	cookies []*http.Cookie
	csrf    string
}

func (b *browser) do(method, path, body string, header map[string]string) (int, map[string]any, http.Header) {
	b.t.Helper()
	host := b.host
	if host == "" {
		host = "127.0.0.1:7480"
	}
	r := httptest.NewRequest(method, "http://"+host+path, strings.NewReader(body))
	r.RemoteAddr = b.remote
	r.Header.Set("Origin", "http://"+host)
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	for k, v := range header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	b.c.ServeHTTP(w, r)
	res := w.Result()
	if cs := res.Cookies(); len(cs) > 0 {
		b.cookies = cs
	}
	var out map[string]any
	data, _ := io.ReadAll(res.Body)
	json.Unmarshal(data, &out) // not every answer is an object
	return res.StatusCode, out, res.Header
}

func newConsole(t *testing.T) (*Console, keys) {
	t.Helper()
	k := keys{"reader-secret": {id: "AKIAREADER", actions: []string{"rds:DescribeDBInstances"}}}
	c, err := New(nil, k, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func TestSignInSession(t *testing.T) {
	c, _ := newConsole(t)
	b := &browser{t: t, c: c, remote: "127.0.0.1:5000"}

	status, out, _ := b.do("POST", "/console/signin", `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"wrong"}`, nil)
	if status != http.StatusForbidden || out["Code"] != "InvalidClientTokenId" || len(b.cookies) != 0 {
		t.Fatalf("wrong secret: %d %v %v", status, out, b.cookies)
	}
	status, out, _ = b.do("POST", "/console/signin", `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"reader-secret"}`, nil)
	if status != http.StatusOK || out["AccessKeyId"] != "AKIAREADER" || out["CsrfToken"] == "" {
		t.Fatalf("sign-in: %d %v", status, out)
	}
	b.csrf = out["CsrfToken"].(string)
	if len(b.cookies) != 1 {
		t.Fatalf("cookies %v", b.cookies)
	}
	ck := b.cookies[0]
	if ck.Name != "__Host-teal_console" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" ||
		ck.MaxAge != int(SessionLifetime.Seconds()) || len(ck.Value) < 40 {
		t.Fatalf("session cookie %+v", ck)
	}

	status, out, _ = b.do("GET", "/console/session", "", nil)
	if status != http.StatusOK || out["CsrfToken"] != b.csrf {
		t.Fatalf("session: %d %v", status, out)
	}

	// /can answers by the key's policy.
	r := httptest.NewRequest("POST", "http://127.0.0.1:7480/console/can",
		strings.NewReader(`[{"Action":"DescribeDBInstances"},{"Action":"DeleteDBInstance","Resource":"arn:aws:rds:us-east-1:0:db:x"}]`))
	r.RemoteAddr, r.Host = b.remote, "127.0.0.1:7480"
	r.Header.Set("Origin", "http://127.0.0.1:7480")
	r.Header.Set(csrfHeader, b.csrf)
	r.AddCookie(ck)
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != "[true,false]" {
		t.Fatalf("can: %d %s", w.Code, got)
	}

	// Changes need the CSRF token and the console's origin; the API is
	// never reached without them (the console's API is nil here).
	for name, h := range map[string]map[string]string{
		"no token":     nil,
		"wrong token":  {csrfHeader: b.csrf + "x"},
		"other origin": {csrfHeader: b.csrf, "Origin": "https://evil.example"},
		"no origin":    {csrfHeader: b.csrf, "Origin": ""},
	} {
		status, out, _ := b.do("POST", "/console/api", "Action=DeleteDBInstance&DBInstanceIdentifier=x", h)
		if status != http.StatusForbidden || out["Code"] != "AccessDenied" {
			t.Errorf("%s: %d %v", name, status, out)
		}
	}

	// Sign-out ends the session: the old cookie is worth nothing.
	old := b.cookies
	if status, _, _ := b.do("POST", "/console/signout", "", map[string]string{csrfHeader: b.csrf}); status != http.StatusOK {
		t.Fatalf("sign-out: %d", status)
	}
	b.cookies = old
	if status, out, _ := b.do("GET", "/console/session", "", nil); status != http.StatusUnauthorized || out["Code"] != "NotSignedIn" {
		t.Fatalf("session after sign-out: %d %v", status, out)
	}
}

func TestSessionEnds(t *testing.T) {
	c, k := newConsole(t)
	now := time.Now()
	c.now = func() time.Time { return now }
	b := &browser{t: t, c: c, remote: "[::1]:5000"}
	if status, _, _ := b.do("POST", "/console/signin", `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"reader-secret"}`, nil); status != http.StatusOK {
		t.Fatalf("sign-in: %d", status)
	}
	now = now.Add(SessionLifetime - time.Second)
	if status, _, _ := b.do("GET", "/console/session", "", nil); status != http.StatusOK {
		t.Fatalf("session before expiry: %d", status)
	}
	now = now.Add(time.Second)
	if status, _, _ := b.do("GET", "/console/session", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("session at expiry: %d", status)
	}

	// A key deleted during a session ends it.
	if status, _, _ := b.do("POST", "/console/signin", `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"reader-secret"}`, nil); status != http.StatusOK {
		t.Fatalf("sign-in: %d", status)
	}
	delete(k, "reader-secret")
	if status, out, _ := b.do("GET", "/console/session", "", nil); status != http.StatusUnauthorized || !strings.Contains(out["Message"].(string), "deleted") {
		t.Fatalf("session of a deleted key: %d %v", status, out)
	}
}

func TestSignInRefusals(t *testing.T) {
	c, _ := newConsole(t)
	good := `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"reader-secret"}`

	// Over plain HTTP only from this machine: elsewhere the cookie would
	// cross the network in the clear.
	remote := &browser{t: t, c: c, remote: "192.0.2.7:5000"}
	if status, out, _ := remote.do("POST", "/console/signin", good, nil); status != http.StatusForbidden || !strings.Contains(out["Message"].(string), "HTTPS") {
		t.Fatalf("remote sign-in over HTTP: %d %v", status, out)
	}
	// Only from the console's own page.
	local := &browser{t: t, c: c, remote: "127.0.0.1:5000"}
	if status, _, _ := local.do("POST", "/console/signin", good, map[string]string{"Origin": "https://evil.example"}); status != http.StatusForbidden {
		t.Fatalf("cross-site sign-in: %d", status)
	}
	// Guessing is throttled per address, even the right secret after it.
	for i := 0; i < failedSignIns; i++ {
		if status, _, _ := local.do("POST", "/console/signin", `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"guess"}`, nil); status != http.StatusForbidden {
			t.Fatalf("guess %d: %d", i, status)
		}
	}
	if status, out, _ := local.do("POST", "/console/signin", good, nil); status != http.StatusTooManyRequests || out["Code"] != "Throttling" {
		t.Fatalf("sign-in after %d guesses: %d %v", failedSignIns, status, out)
	}
	other := &browser{t: t, c: c, remote: "127.0.0.2:5000"}
	if status, _, _ := other.do("POST", "/console/signin", good, nil); status != http.StatusOK {
		t.Fatalf("another address throttled too: %d", status)
	}
	// A success does not count as a refused try: the root of the throttle
	// is the refusals.
	fresh := &browser{t: t, c: c, remote: "127.0.0.3:5000"}
	for i := 0; i < 2*failedSignIns; i++ {
		if status, _, _ := fresh.do("POST", "/console/signin", good, nil); status != http.StatusOK {
			t.Fatalf("sign-in %d: %d", i, status)
		}
	}
	// Over plain HTTP, a name that is not loopback's may be another site's
	// rebound to 127.0.0.1: refused, whatever the client's address.
	rebound := &browser{t: t, c: c, remote: "127.0.0.4:5000", host: "rebound.example:7480"}
	if status, _, _ := rebound.do("POST", "/console/signin", good, nil); status != http.StatusMisdirectedRequest {
		t.Fatalf("sign-in through a rebound name: %d", status)
	}
	if status, _, _ := rebound.do("GET", "/console/", "", nil); status != http.StatusMisdirectedRequest {
		t.Fatalf("page through a rebound name: %d", status)
	}
	viaLocalhost := &browser{t: t, c: c, remote: "127.0.0.5:5000", host: "localhost:7480"}
	if status, _, _ := viaLocalhost.do("POST", "/console/signin", good, nil); status != http.StatusOK {
		t.Fatalf("sign-in through localhost: %d", status)
	}
	// The page itself is served with a policy that runs its scripts only.
	_, _, h := local.do("GET", "/console/", "", nil)
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestSessionsPerKey(t *testing.T) {
	c, _ := newConsole(t)
	now := time.Now()
	c.now = func() time.Time { now = now.Add(time.Second); return now }
	var first *browser
	for i := 0; i < keySessions+5; i++ {
		b := &browser{t: t, c: c, remote: "127.0.0.1:5000"}
		if status, _, _ := b.do("POST", "/console/signin", `{"AccessKeyID":"AKIAREADER","SecretAccessKey":"reader-secret"}`, nil); status != http.StatusOK {
			t.Fatalf("sign-in %d: %d", i, status)
		}
		if first == nil {
			first = b
		}
	}
	c.mu.Lock()
	n := len(c.sessions)
	c.mu.Unlock()
	if n != keySessions {
		t.Fatalf("%d sessions of one key, want %d", n, keySessions)
	}
	if status, _, _ := first.do("GET", "/console/session", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("the oldest session of a key past its limit: %d", status)
	}
}

func TestLoggable(t *testing.T) {
	for in, want := range map[string]string{
		"AKIAREADER":   "AKIAREADER",
		" AKIAREADER ": "AKIAREADER",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "(not an access key id)",
		strings.Repeat("A", 100):                   strings.Repeat("A", 32),
	} {
		if got := loggable(in); got != want {
			t.Errorf("loggable(%q) = %q, want %q", in, got, want)
		}
	}
}
