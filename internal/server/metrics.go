package server

import (
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tealdb/teal/internal/api"
	"github.com/tealdb/teal/internal/console"
	"github.com/tealdb/teal/internal/rds"
)

// metricsHandler serves GET /metrics in the Prometheus text format: the
// API's requests, the service's instances, replicas, deployments and
// switchovers, the endpoints' connections, and the Go runtime and process.
// With a token, a scrape must bring it as a bearer token; without one,
// only clients on the loopback interface are answered.
func metricsHandler(svc *rds.Service, a *api.API, token string, logger *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collectors()...)
	reg.MustRegister(svc.Collector(), svc.EndpointCollector(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !metricsAllowed(r, token) {
			if token != "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="teal metrics"`)
				http.Error(w, "a bearer token is required", http.StatusUnauthorized)
				return
			}
			http.Error(w, "metrics are served to loopback clients only; start teal serve with --metrics-token-file to serve them elsewhere", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func metricsAllowed(r *http.Request, token string) bool {
	if token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	// A loopback client, asking for this server by a name no other site
	// can rebind to 127.0.0.1.
	return ip != nil && ip.IsLoopback() && console.TrustedHost(r)
}
