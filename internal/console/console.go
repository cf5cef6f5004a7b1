// Package console serves teal's web console at /console: a page of its
// own that signs in with an access key and then drives the RDS API as that
// key. It owns the sign-in, the sessions and their CSRF tokens; every
// action the page takes is an RDS API request, decoded, authorized by the
// key's policy and run by internal/api exactly as a signed request is.
package console

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tealdb/teal/internal/api"
	"github.com/tealdb/teal/internal/fault"
)

//go:embed assets
var assets embed.FS

// SessionLifetime is how long a sign-in lasts.
const SessionLifetime = 8 * time.Hour

const (
	// The __Host- prefix makes browsers refuse this cookie from any other
	// service of the host (another port, a sibling name): nobody can plant
	// a session of their own in a user's browser.
	cookieName = "__Host-teal_console"
	csrfHeader = "X-Teal-Csrf"
	// maxBody bounds what the console's own endpoints read; API requests
	// are bounded by internal/api.
	maxBody = 64 << 10
	// At most failedSignIns refused sign-ins from one address per
	// signInWindow: a secret cannot be guessed through the form.
	failedSignIns = 10
	signInWindow  = time.Minute
	maxSessions   = 10000
	// A key holds at most keySessions sessions; a new one ends its oldest.
	keySessions = 20
)

// Keys are what the console needs of the access keys.
type Keys interface {
	// SignIn checks an access key id and secret and returns its caller.
	SignIn(id, secret string) (api.Caller, error)
	// Caller is the caller of an access key id as it is now; false once
	// the key is deleted.
	Caller(id string) (api.Caller, bool)
}

// Console is the http.Handler of /console.
type Console struct {
	api   *api.API
	keys  Keys
	log   *slog.Logger
	now   func() time.Time
	files http.Handler

	mu       sync.Mutex
	sessions map[string]*session // by the cookie's token
	failures map[string][]time.Time
}

// session is one signed-in browser.
type session struct {
	keyID   string
	csrf    string
	expires time.Time
}

// New returns the console, which serves API requests through a.
func New(a *api.API, keys Keys, log *slog.Logger) (*Console, error) {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	return &Console{api: a, keys: keys, log: log, now: time.Now, files: http.FileServerFS(sub),
		sessions: map[string]*session{}, failures: map[string][]time.Time{}}, nil
}

// ServeHTTP serves the page, its files, and the console's endpoints.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The page runs its own scripts only, and no other site may frame it.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if !TrustedHost(r) {
		writeError(w, http.StatusMisdirectedRequest, "AccessDenied",
			"Over plain HTTP the console answers to a loopback address or localhost only: open it as http://127.0.0.1:<port>/console, or serve the API with TLS.")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/console")
	switch {
	case r.Method == http.MethodGet && (path == "" || path == "/"):
		h.Set("Cache-Control", "no-store")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/"
		c.files.ServeHTTP(w, r2)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/assets/"):
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(path, "/assets")
		c.files.ServeHTTP(w, r2)
	case r.Method == http.MethodPost && path == "/signin":
		c.signIn(w, r)
	case r.Method == http.MethodPost && path == "/signout":
		c.signOut(w, r)
	case r.Method == http.MethodGet && path == "/session":
		c.describeSession(w, r)
	case r.Method == http.MethodPost && path == "/api":
		c.serveAPI(w, r)
	case r.Method == http.MethodPost && path == "/can":
		c.can(w, r)
	default:
		writeError(w, http.StatusNotFound, "NotFound", "No such page.")
	}
}

// signIn checks the key typed into the form and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "AccessDenied", "Sign in from teal's own console page.")
		return
	}
	if !secureTransport(r) {
		writeError(w, http.StatusForbidden, "AccessDenied",
			"The console signs in over HTTPS, or over HTTP from this machine only: serve the API with TLS to use it from elsewhere.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	addr := throttleKey(r)
	// The attempt counts from now, so that parallel guesses cannot all
	// pass the check; a sign-in that succeeds takes it back.
	attempt, ok := c.allowSignIn(addr)
	if !ok {
		writeError(w, http.StatusTooManyRequests, "Throttling", "Too many refused sign-ins from this address; wait a minute.")
		return
	}
	var in struct{ AccessKeyID, SecretAccessKey string }
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterValue", "The sign-in form could not be read.")
		return
	}
	caller, err := c.keys.SignIn(strings.TrimSpace(in.AccessKeyID), in.SecretAccessKey)
	if err != nil {
		c.log.Info("console sign-in refused", "remote", r.RemoteAddr, "access_key_id", loggable(in.AccessKeyID))
		writeFault(w, err)
		return
	}
	c.forgive(addr, attempt)
	token, csrf := randomToken(), randomToken()
	s := &session{keyID: caller.KeyID(), csrf: csrf, expires: c.now().Add(SessionLifetime)}
	c.mu.Lock()
	c.dropExpiredLocked()
	c.limitKeyLocked(s.keyID)
	if len(c.sessions) >= maxSessions {
		c.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "Throttling", "Too many console sessions are open; sign out of some.")
		return
	}
	c.sessions[token] = s
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", Expires: s.expires,
		MaxAge: int(SessionLifetime.Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	c.log.Info("console sign-in", "remote", r.RemoteAddr, "access_key_id", s.keyID)
	writeJSON(w, map[string]any{"AccessKeyId": s.keyID, "Root": caller.IsRoot(), "CsrfToken": csrf, "Expires": s.expires.UTC()})
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	token, _, ok := c.checked(w, r)
	if !ok {
		return
	}
	c.mu.Lock()
	delete(c.sessions, token)
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, map[string]any{})
}

// describeSession tells the page who is signed in and the token its
// changes must carry. Another site cannot read it: the answer has no CORS
// headers, and the cookie is not sent to it cross-site.
func (c *Console) describeSession(w http.ResponseWriter, r *http.Request) {
	_, s, caller, ok := c.session(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"AccessKeyId": s.keyID, "Root": caller.IsRoot(), "CsrfToken": s.csrf, "Expires": s.expires.UTC()})
}

// serveAPI runs one RDS API request as the session's key.
func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request) {
	_, caller, ok := c.checked(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	c.api.ServeAs(w, r, caller)
}

// can answers which of the actions the page may offer the session's key
// may perform, each on its resource, by the same policy that will decide
// the request: the page disables what would be refused.
func (c *Console) can(w http.ResponseWriter, r *http.Request) {
	_, caller, ok := c.checked(w, r)
	if !ok {
		return
	}
	var in []struct{ Action, Resource string }
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&in); err != nil || len(in) > 200 {
		writeError(w, http.StatusBadRequest, "InvalidParameterValue", "Give a list of at most 200 actions and resources.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	out := make([]bool, len(in))
	for i, q := range in {
		var res []string
		if q.Resource != "" {
			res = []string{q.Resource}
		}
		out[i] = caller.Authorize("rds:"+strings.TrimPrefix(q.Action, "rds:"), res...) == nil
	}
	writeJSON(w, out)
}

// checked is session for a change: the request must also come from the
// console's page, with the session's CSRF token.
func (c *Console) checked(w http.ResponseWriter, r *http.Request) (string, api.Caller, bool) {
	token, s, caller, ok := c.session(w, r)
	if !ok {
		return "", nil, false
	}
	if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(s.csrf)) != 1 {
		writeError(w, http.StatusForbidden, "AccessDenied", "The request did not come from the console's page (missing or wrong CSRF token).")
		return "", nil, false
	}
	return token, caller, true
}

// session finds the request's session and its key as it is now.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (string, *session, api.Caller, bool) {
	cookie, err := r.Cookie(cookieName)
	var s *session
	if err == nil {
		c.mu.Lock()
		s = c.sessions[cookie.Value]
		if s != nil && !c.now().Before(s.expires) {
			delete(c.sessions, cookie.Value)
			s = nil
		}
		c.mu.Unlock()
	}
	if s == nil {
		writeError(w, http.StatusUnauthorized, "NotSignedIn", "Sign in with an access key.")
		return "", nil, nil, false
	}
	caller, ok := c.keys.Caller(s.keyID)
	if !ok {
		c.mu.Lock()
		delete(c.sessions, cookie.Value)
		c.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "NotSignedIn", "The access key of this session was deleted; sign in again.")
		return "", nil, nil, false
	}
	return cookie.Value, s, caller, true
}

func (c *Console) dropExpiredLocked() {
	now := c.now()
	for t, s := range c.sessions {
		if !now.Before(s.expires) {
			delete(c.sessions, t)
		}
	}
}

// limitKeyLocked ends the oldest sessions of a key that holds
// keySessions: one key cannot fill the table for everyone.
func (c *Console) limitKeyLocked(keyID string) {
	for {
		n, oldest, first := 0, "", time.Time{}
		for t, s := range c.sessions {
			if s.keyID != keyID {
				continue
			}
			n++
			if oldest == "" || s.expires.Before(first) {
				oldest, first = t, s.expires
			}
		}
		if n < keySessions {
			return
		}
		delete(c.sessions, oldest)
	}
}

// allowSignIn says whether addr may try to sign in now and, if so,
// counts the attempt, returning its time for forgive.
func (c *Console) allowSignIn(addr string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	cut := now.Add(-signInWindow)
	recent := c.failures[addr][:0]
	for _, t := range c.failures[addr] {
		if t.After(cut) {
			recent = append(recent, t)
		}
	}
	if len(recent) >= failedSignIns {
		c.failures[addr] = recent
		return time.Time{}, false
	}
	if _, known := c.failures[addr]; !known && len(c.failures) >= maxSessions {
		c.evictLocked(cut)
	}
	c.failures[addr] = append(recent, now)
	return now, true
}

// forgive takes back the attempt of a sign-in that succeeded.
func (c *Console) forgive(addr string, attempt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.failures[addr]
	for i, t := range ts {
		if t.Equal(attempt) {
			c.failures[addr] = append(ts[:i], ts[i+1:]...)
			break
		}
	}
	if len(c.failures[addr]) == 0 {
		delete(c.failures, addr)
	}
}

// evictLocked makes room in the table of attempts: addresses with none
// left in the window go first, then those whose last attempt is oldest.
// Memory stays bounded whatever the number of addresses, and no address's
// count is wiped while the table has room.
func (c *Console) evictLocked(cut time.Time) {
	var oldest string
	var last time.Time
	for a, ts := range c.failures {
		if len(ts) == 0 || !ts[len(ts)-1].After(cut) {
			delete(c.failures, a)
			continue
		}
		if oldest == "" || ts[len(ts)-1].Before(last) {
			oldest, last = a, ts[len(ts)-1]
		}
	}
	if len(c.failures) >= maxSessions && oldest != "" {
		delete(c.failures, oldest)
	}
}

// throttleKey is the address sign-in attempts are counted by: an IPv6
// client by its /64, which one client usually holds whole.
func throttleKey(r *http.Request) string {
	ip := net.ParseIP(clientAddr(r))
	if ip == nil {
		return clientAddr(r)
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// loggable is an access key id as the log may show it: one that looks
// like an id, cut short; anything else (a secret pasted in the wrong
// field, say) is not written.
func loggable(id string) string {
	id = strings.TrimSpace(id)
	if len(id) > 32 {
		id = id[:32]
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "(not an access key id)"
		}
	}
	return id
}

// sameOrigin says whether a request came from a page of this server: a
// browser sends Origin with every POST made by a script, and a page of
// another site cannot make it name this one.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return origin == scheme+r.Host
}

// TrustedHost says whether the request names this server in a way that
// another site cannot: over TLS the certificate vouches for the name;
// over plain HTTP only a loopback address or localhost is trusted, since
// a page of another site can make its own name resolve to 127.0.0.1 (DNS
// rebinding), and then its Origin and Host agree.
func TrustedHost(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secureTransport says whether a session cookie can be kept secret on this
// connection: TLS, or a client on this machine.
func secureTransport(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	ip := net.ParseIP(clientAddr(r))
	return ip != nil && ip.IsLoopback()
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// writeError answers with an error in the shape the page shows: the code
// and the message, as the API's faults have them.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": message})
}

func writeFault(w http.ResponseWriter, err error) {
	var f *fault.Fault
	if errors.As(err, &f) {
		writeError(w, f.Status, f.Code, f.Message)
		return
	}
	writeError(w, http.StatusInternalServerError, "InternalFailure", "The sign-in could not be checked.")
}
