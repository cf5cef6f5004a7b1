package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	connectionsDesc = prometheus.NewDesc("teal_endpoint_connections",
		"Connections of an endpoint now: forwarded (by teal or by the kernel) or held during a switchover.",
		[]string{"endpoint", "state"}, nil)
	refusedDesc = prometheus.NewDesc("teal_endpoint_connections_refused_total",
		"Connections an endpoint closed at once since it opened: over the limits, or with no server to go to.",
		[]string{"endpoint"}, nil)
	bytesDesc = prometheus.NewDesc("teal_endpoint_bytes_total",
		"Bytes teal forwarded for an endpoint since it opened, by direction (the kernel's forwarding is not counted).",
		[]string{"endpoint", "direction"}, nil)
	kernelErrDesc = prometheus.NewDesc("teal_endpoint_kernel_sessions_unknown",
		"1 when the kernel's forwarded sessions could not be counted at this scrape.", nil, nil)
)

// Collector is the endpoints' metrics, read at each scrape.
func (m *Manager) Collector() prometheus.Collector { return managerCollector{m} }

type managerCollector struct{ m *Manager }

func (c managerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connectionsDesc, refusedDesc, bytesDesc, kernelErrDesc} {
		ch <- d
	}
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	endpoints := make([]*endpoint, 0, len(m.endpoints))
	for _, e := range m.endpoints {
		endpoints = append(endpoints, e)
	}
	r := m.router
	m.mu.Unlock()
	kernel, err := r.sessions()
	unknown := 0.0
	if err != nil {
		unknown = 1
	}
	ch <- prometheus.MustNewConstMetric(kernelErrDesc, prometheus.GaugeValue, unknown)
	for _, e := range endpoints {
		forwarded := e.connCount() + kernel[e.port]
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(forwarded), e.name, "forwarded")
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(e.heldCount()), e.name, "held")
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(e.refused.Load()), e.name)
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(e.toServer.Load()), e.name, "to_server")
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(e.toClient.Load()), e.name, "to_client")
	}
}
