package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CRI counts and times the requests served on the CRI socket. The gRPC
// interceptors of package criserver feed it, once per call, so no handler
// carries metrics code.
type CRI struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewCRI creates the CRI request collectors and registers them on reg.
func NewCRI(reg prometheus.Registerer) (*CRI, error) {
	m := &CRI{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cri", Name: "requests_total",
			Help: "gRPC requests served on the CRI socket, by method and gRPC status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "cri", Name: "request_duration_seconds",
			Help: "Time from receiving a gRPC request to its answer (for streams: the stream's life), by method and gRPC status code.",
			// From sub-millisecond lists to image pulls of minutes.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"method", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveRequest records one finished call. method is the gRPC method
// ("runtime.v1.RuntimeService/Version"), code the status code's name.
func (m *CRI) ObserveRequest(method, code string, took time.Duration) {
	m.requests.WithLabelValues(method, code).Inc()
	m.duration.WithLabelValues(method, code).Observe(took.Seconds())
}
