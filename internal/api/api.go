// Package api serves the Amazon RDS API over the AWS Query protocol: it
// authenticates each request, decodes its form into an operation's input,
// authorizes it, calls internal/rds and encodes the answer or the fault as
// the XML the official AWS clients parse. Nothing here decides what an
// operation does; that is internal/rds.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// APIVersion is the only RDS API version teal speaks.
const APIVersion = "2014-10-31"

// MaxBodyBytes bounds a request body. The largest legitimate RDS requests
// (20 parameters, 50 tags) are a few kilobytes.
const MaxBodyBytes = 1 << 20

// Caller is the principal a request was authenticated as.
type Caller interface {
	// Authorize returns nil, or an *rds.Fault AccessDenied, for the IAM
	// action ("rds:CreateDBInstance") on every one of the resource ARNs.
	Authorize(action string, resources ...string) error
	// IsRoot reports whether the caller holds the root key, the only one
	// that may manage access keys.
	IsRoot() bool
	// KeyID is the caller's access key id, for the request log.
	KeyID() string
}

// Authenticator verifies a request's signature. It returns an *rds.Fault
// (MissingAuthenticationToken, InvalidClientTokenId, SignatureDoesNotMatch,
// RequestExpired, IncompleteSignature) when the request is not signed by a
// known key.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (Caller, error)
}

// AccessKey is an access key as the Teal*AccessKey actions show it.
type AccessKey struct {
	AccessKeyID     string
	SecretAccessKey string // only in the answer of TealCreateAccessKey
	Description     string
	Policy          []byte
	Created         time.Time
}

// Keys manages the access keys other than root.
type Keys interface {
	CreateKey(ctx context.Context, policy []byte, description string) (AccessKey, error)
	ListKeys(ctx context.Context) ([]AccessKey, error)
	DeleteKey(ctx context.Context, id string) error
}

// Config is what the API needs.
type Config struct {
	Service   *rds.Service
	Auth      Authenticator
	Keys      Keys // nil makes the Teal*AccessKey actions refuse
	Region    string
	AccountID string
	Logger    *slog.Logger
}

// API is the http.Handler of the RDS API.
type API struct {
	svc       *rds.Service
	auth      Authenticator
	keys      Keys
	region    string
	accountID string
	log       *slog.Logger
	metrics   *apiMetrics
}

// New returns the API handler.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	return &API{svc: cfg.Service, auth: cfg.Auth, keys: cfg.Keys, region: cfg.Region,
		accountID: cfg.AccountID, log: cfg.Logger, metrics: newAPIMetrics()}
}

// ServeHTTP answers one request signed with SigV4.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.handle(w, r, func(body []byte) (Caller, error) { return a.auth.Authenticate(r, body) })
}

// ServeAs answers one request made by caller, whom the front end that
// received it has authenticated in its own way (the console's session):
// the request is decoded, authorized and run as a signed one would be.
func (a *API) ServeAs(w http.ResponseWriter, r *http.Request, caller Caller) {
	a.handle(w, r, func([]byte) (Caller, error) { return caller, nil })
}

// handle answers one request. Every outcome, success or failure, leaves
// through writeResult or writeFault; serve only returns errors.
func (a *API) handle(w http.ResponseWriter, r *http.Request, authenticate func(body []byte) (Caller, error)) {
	start := time.Now()
	id := newRequestID()
	w.Header().Set("x-amzn-RequestId", id)
	action, caller, result, err := a.serve(w, r, authenticate)
	status := http.StatusOK
	if err == nil {
		err = writeResult(w, action, id, result)
	}
	if err != nil {
		f := a.faultOf(err, action, id)
		status = f.Status
		writeFault(w, f, id)
	}
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	}
	keyID := ""
	if caller != nil {
		keyID = caller.KeyID()
	}
	took := time.Since(start)
	a.metrics.observe(action, status, took)
	a.log.Log(r.Context(), level, "api request", "action", action, "status", status,
		"request_id", id, "access_key_id", keyID, "duration", took.Round(time.Microsecond))
}

// serve authenticates, decodes, authorizes and runs a request.
func (a *API) serve(w http.ResponseWriter, r *http.Request, authenticate func(body []byte) (Caller, error)) (action string, caller Caller, result any, err error) {
	// No request may bring the server down: a bug in an operation becomes
	// an InternalFailure for that request alone.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic serving %s: %v", action, p)
		}
	}()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", nil, nil, &rds.Fault{Code: "RequestEntityTooLarge", Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("The request body is larger than %d bytes.", MaxBodyBytes)}
		}
		return "", nil, nil, &rds.Fault{Code: "MalformedQueryString", Status: http.StatusBadRequest,
			Message: "The request body could not be read."}
	}
	if caller, err = authenticate(body); err != nil {
		return "", nil, nil, err
	}
	action, op, call, err := a.decodeRequest(r, body)
	if err != nil {
		return action, caller, nil, err
	}
	if op.rootOnly && !caller.IsRoot() {
		return action, caller, nil, &rds.Fault{Code: "AccessDenied", Status: http.StatusForbidden,
			Message: fmt.Sprintf("Only the root access key may perform %s.", action)}
	}
	if err := authorize(caller, action, call.access); err != nil {
		return action, caller, nil, err
	}
	result, err = call.run(r.Context())
	return action, caller, result, err
}

// authorize checks every grant a decoded request needs.
func authorize(caller Caller, action string, acc access) error {
	for _, g := range acc {
		name := g.action
		if name == "" {
			name = action
		}
		if err := caller.Authorize("rds:"+name, g.resources...); err != nil {
			return err
		}
	}
	return nil
}

// decodeRequest finds the operation a request names and decodes its
// members, with the resources they name in canonical form (identifiers.go),
// which the authorization rule and the handler both use. It has no effect: whatever the bytes, it returns a decoded call
// or an *rds.Fault with a 4xx status.
func (a *API) decodeRequest(r *http.Request, body []byte) (string, operation, call, error) {
	values, err := requestValues(r, body)
	if err != nil {
		return "", operation{}, call{}, err
	}
	op, action, err := lookup(values)
	if err != nil {
		return action, operation{}, call{}, err
	}
	c, err := op.prepare(a, newForm(values))
	return action, op, c, err
}

// requestValues parses the request's form: the body of a POST, the query
// string of a GET. A POST may also carry members in its query string, as the
// AWS Query protocol allows; the body wins.
func requestValues(r *http.Request, body []byte) (url.Values, error) {
	malformed := &rds.Fault{Code: "MalformedQueryString", Status: http.StatusNotFound,
		Message: "The query string contains a syntax error."}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, malformed
	}
	if r.Method != http.MethodPost {
		return values, nil
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, &rds.Fault{Code: "InvalidParameterValue", Status: http.StatusBadRequest,
			Message: "The request body must be application/x-www-form-urlencoded."}
	}
	fromBody, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed
	}
	for k, v := range fromBody {
		values[k] = v
	}
	return values, nil
}

// lookup finds the operation a request names and checks its API version.
func lookup(values url.Values) (operation, string, error) {
	action := values.Get("Action")
	if action == "" {
		return operation{}, "", &rds.Fault{Code: "MissingAction", Status: http.StatusBadRequest,
			Message: "The request must contain the parameter Action"}
	}
	op, ok := operations[action]
	if !ok {
		return operation{}, action, &rds.Fault{Code: "InvalidAction", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("The action %s is not valid for this web service.", action)}
	}
	switch v := values.Get("Version"); v {
	case APIVersion:
	case "":
		return operation{}, action, missingParameter("Version")
	default:
		return operation{}, action, &rds.Fault{Code: "NoSuchVersion", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("The requested version (%s) of service Amazon RDS does not exist; teal implements %s.", v, APIVersion)}
	}
	return op, action, nil
}

// faultOf is the one place an error becomes what the client sees. A fault
// of internal/rds (or of decoding, or of auth) goes out as it is; anything
// else is a bug or an environment failure, logged here in full and answered
// with a generic InternalFailure so that no detail (a path, a password in a
// command line) leaks to the caller.
func (a *API) faultOf(err error, action, requestID string) *rds.Fault {
	var f *rds.Fault
	if errors.As(err, &f) && f.Code != "" && f.Status >= 400 && f.Status <= 599 {
		return f
	}
	a.log.Error("api request failed", "action", action, "request_id", requestID, "err", err)
	return &rds.Fault{Code: "InternalFailure", Status: http.StatusInternalServerError,
		Message: "The request processing has failed because of an unknown error, exception or failure. Request ID: " + requestID}
}
