package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/tealdb/teal/internal/api"
	"github.com/tealdb/teal/internal/auth"
	"github.com/tealdb/teal/internal/console"
	"github.com/tealdb/teal/internal/rds"
)

// HandlerOptions are the choices of teal's HTTP interface.
type HandlerOptions struct {
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// from any address; when empty, /metrics answers loopback clients only.
	MetricsToken string
}

// Handler serves teal's HTTP interface: the RDS API at /, GET /healthz,
// GET /metrics and GET /ca.pem.
func Handler(svc *rds.Service, keys *auth.Keyring, logger *slog.Logger, opts HandlerOptions) http.Handler {
	rdsAPI := api.New(api.Config{
		Service:   svc,
		Auth:      keyringAuth{keys},
		Keys:      keyringKeys{keys},
		Region:    keys.Region(),
		AccountID: keys.AccountID(),
		Logger:    logger,
	})
	mux := http.NewServeMux()
	// The web console, on the same listener; its requests reach rdsAPI as
	// the signed-in key.
	if c, err := console.New(rdsAPI, consoleKeys{keys}, logger); err != nil {
		logger.Error("the console is not served", "err", err)
	} else {
		mux.Handle("/console/", c)
		mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	// The Query protocol POSTs forms to /; a GET with the members in the
	// query string is the same request.
	mux.Handle("POST /{$}", rdsAPI)
	mux.Handle("GET /{$}", rdsAPI)
	mux.Handle("GET /metrics", metricsHandler(svc, rdsAPI, opts.MetricsToken, logger))
	// The CA certificate is public: it is what clients verify servers
	// against (sslrootcert, ssl-ca).
	mux.HandleFunc("GET /ca.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(svc.CACertificate())
	})
	return mux
}

// newHTTPServer bounds every phase of a request, so that a slow or stalled
// client holds a connection for a limited time only. Operations answer
// quickly (long work runs in the background); the write timeout leaves room
// for the few that reload database servers. A kept-alive connection is
// closed after 30 s idle, and at the listener's cap at once (apiListener):
// clients open a new one when they need it.
func newHTTPServer(h http.Handler, ln *apiListener, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ConnState:         ln.connState,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// The adapters below give internal/api the auth keyring through api's own
// small interfaces, which keep the protocol package free of auth's types.

type keyringAuth struct{ kr *auth.Keyring }

func (k keyringAuth) Authenticate(r *http.Request, body []byte) (api.Caller, error) {
	p, err := k.kr.Authenticate(r, body)
	if err != nil {
		return nil, err
	}
	return principal{p}, nil
}

type principal struct{ auth.Principal }

func (p principal) IsRoot() bool  { return p.Root }
func (p principal) KeyID() string { return p.AccessKeyID }

type keyringKeys struct{ kr *auth.Keyring }

type consoleKeys struct{ kr *auth.Keyring }

func (k consoleKeys) SignIn(id, secret string) (api.Caller, error) {
	p, err := k.kr.SignIn(id, secret)
	if err != nil {
		return nil, err
	}
	return principal{p}, nil
}

func (k consoleKeys) Caller(id string) (api.Caller, bool) {
	p, ok := k.kr.Principal(id)
	return principal{p}, ok
}

func (k keyringKeys) CreateKey(ctx context.Context, policy []byte, description string) (api.AccessKey, error) {
	key, err := k.kr.CreateKey(ctx, policy, description)
	return api.AccessKey(key), err
}

func (k keyringKeys) ListKeys(ctx context.Context) ([]api.AccessKey, error) {
	keys, err := k.kr.ListKeys(ctx)
	out := make([]api.AccessKey, len(keys))
	for i, key := range keys {
		out[i] = api.AccessKey(key)
	}
	return out, err
}

func (k keyringKeys) DeleteKey(ctx context.Context, id string) error { return k.kr.DeleteKey(ctx, id) }
