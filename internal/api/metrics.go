package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics counts the requests the API answers, by action and HTTP
// status, and times them. An action label is only ever one teal knows (or
// "unknown", or "none" for a request that never named one), so no request
// can make the label set grow.
type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newAPIMetrics() *apiMetrics {
	return &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "teal_api_requests_total",
			Help: "RDS API requests answered, by action and HTTP status code.",
		}, []string{"action", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "teal_api_request_duration_seconds",
			Help:    "Time to answer an RDS API request, by action.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"action"}),
	}
}

// actionLabel bounds the action label to the operations teal knows.
func actionLabel(action string) string {
	switch {
	case action == "":
		return "none"
	case operations[action].prepare == nil:
		return "unknown"
	}
	return action
}

func (m *apiMetrics) observe(action string, status int, took time.Duration) {
	a := actionLabel(action)
	m.requests.WithLabelValues(a, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(a).Observe(took.Seconds())
}

// Collectors are the API's metrics, for a registry.
func (a *API) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.metrics.requests, a.metrics.duration}
}
