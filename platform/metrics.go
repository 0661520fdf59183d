package platform

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roosthq/roost/rpc"
)

// metrics is the rpc.Observer that feeds Prometheus.
type metrics struct {
	reg      *prometheus.Registry
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roost_rpc_requests_total",
			Help: "RPC calls by endpoint, method and outcome (ok or the wire error type).",
		}, []string{"endpoint", "method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roost_rpc_duration_seconds",
			Help:    "RPC call latency by endpoint, method and outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint", "method", "outcome"}),
	}
	m.reg.MustRegister(m.calls, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) Observe(_ context.Context, r rpc.Record) {
	method := r.Method
	if method == "" {
		method = "unknown" // keeps label cardinality bounded
	}
	m.calls.WithLabelValues(r.Endpoint, method, r.Outcome).Inc()
	m.duration.WithLabelValues(r.Endpoint, method, r.Outcome).Observe(r.Duration.Seconds())
}
