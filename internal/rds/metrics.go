package rds

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/deployment"
)

// serviceMetrics are what the service counts as things happen; the rest
// of its metrics are read from its state at each scrape (Collector).
type serviceMetrics struct {
	restarts    *prometheus.CounterVec
	switchovers *prometheus.CounterVec
	phases      *prometheus.HistogramVec
}

func newServiceMetrics() *serviceMetrics {
	return &serviceMetrics{
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "teal_db_instance_restarts_total",
			Help: "Times an instance's database server stopped unexpectedly and was restarted, by DbiResourceId.",
		}, []string{"dbi_resource_id"}),
		switchovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "teal_switchovers_total",
			Help: "Blue/green switchovers ended, by outcome: completed or rolled_back.",
		}, []string{"outcome"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "teal_switchover_phase_duration_seconds",
			Help:    "Time each phase of a switchover took.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"phase"}),
	}
}

// switchoverEnded counts a switchover whose outcome was just saved.
func (m *serviceMetrics) switchoverEnded(st deployment.State) {
	outcome := "completed"
	if st.Status == bluegreen.StatusSwitchoverFailed {
		outcome = "rolled_back"
	}
	m.switchovers.WithLabelValues(outcome).Inc()
	if st.Switchover == nil {
		return
	}
	for phase, ms := range st.Switchover.Timings {
		m.phases.WithLabelValues(phase).Observe(ms / 1000)
	}
}

var (
	instanceStatusDesc = prometheus.NewDesc("teal_db_instance_status",
		"1 for each instance, labelled with its status.",
		[]string{"instance", "dbi_resource_id", "engine", "status"}, nil)
	replicaLagDesc = prometheus.NewDesc("teal_replica_lag_seconds",
		"How far a read replica's replay is behind its source, measured at the scrape.",
		[]string{"instance", "source"}, nil)
	deploymentStatusDesc = prometheus.NewDesc("teal_bluegreen_deployment_status",
		"1 for each blue/green deployment, labelled with its status.",
		[]string{"deployment", "status"}, nil)
	deploymentLagSecondsDesc = prometheus.NewDesc("teal_bluegreen_replication_lag_seconds",
		"How far green is behind blue in time, as the monitor last measured it.",
		[]string{"deployment"}, nil)
	deploymentLagBytesDesc = prometheus.NewDesc("teal_bluegreen_replication_lag_bytes",
		"How far green is behind blue in WAL bytes, as the monitor last measured it.",
		[]string{"deployment"}, nil)
)

// EndpointCollector is the endpoints' metrics (internal/proxy).
func (s *Service) EndpointCollector() prometheus.Collector { return s.proxy.Collector() }

// Collector is the service's metrics: the counters above, and its state
// read at each scrape. A replica's lag is measured then, each within a
// second.
func (s *Service) Collector() prometheus.Collector { return serviceCollector{s} }

type serviceCollector struct{ s *Service }

func (c serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	m := c.s.metrics
	m.restarts.Describe(ch)
	m.switchovers.Describe(ch)
	m.phases.Describe(ch)
	for _, d := range []*prometheus.Desc{instanceStatusDesc, replicaLagDesc, deploymentStatusDesc, deploymentLagSecondsDesc, deploymentLagBytesDesc} {
		ch <- d
	}
}

func (c serviceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	m := s.metrics
	m.restarts.Collect(ch)
	m.switchovers.Collect(ch)
	m.phases.Collect(ch)

	type replica struct{ id, source string }
	var replicas []replica
	s.mu.Lock()
	for _, r := range s.sortedLocked() {
		ch <- prometheus.MustNewConstMetric(instanceStatusDesc, prometheus.GaugeValue, 1, r.Identifier, r.ResourceID, r.Engine, r.Status)
		if src := s.instances[r.SourceResourceID]; src != nil && r.Status == StatusAvailable {
			replicas = append(replicas, replica{r.Identifier, src.Identifier})
		}
	}
	ids := make([]string, 0, len(s.deployments))
	for id := range s.deployments {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d := s.deployments[id]
		ch <- prometheus.MustNewConstMetric(deploymentStatusDesc, prometheus.GaugeValue, 1, id, d.Status)
		if live := s.live[id]; live != nil && live.err == nil {
			ch <- prometheus.MustNewConstMetric(deploymentLagSecondsDesc, prometheus.GaugeValue, live.status.LagSeconds, id)
			ch <- prometheus.MustNewConstMetric(deploymentLagBytesDesc, prometheus.GaugeValue, float64(live.status.LagBytes), id)
		}
	}
	s.mu.Unlock()

	for _, r := range replicas {
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		lag, err := s.ReplicaLag(ctx, r.id)
		cancel()
		if err != nil {
			continue // not measurable now: no sample rather than a wrong one
		}
		ch <- prometheus.MustNewConstMetric(replicaLagDesc, prometheus.GaugeValue, lag.Seconds, r.id, r.source)
	}
}
