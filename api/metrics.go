package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.uber.org/zap"
)

// unmatchedRoute is the route label of requests that matched no route (404, 405): the raw path
// would give every scanner's guess a series of its own.
const unmatchedRoute = "unmatched"

// httpMetrics counts the API's requests and times them, labelled by method, route template
// (c.FullPath(), e.g. /v1/service-requests/:id) and status. With a nil registerer, or one that
// refuses the metrics (logged), it does nothing.
func httpMetrics(reg prometheus.Registerer, log *zap.Logger) gin.HandlerFunc {
	observe, err := newHTTPMetrics(reg)
	if err != nil {
		log.Error("http metrics are off", zap.Error(err))
	}
	if observe == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return observe
}

func newHTTPMetrics(reg prometheus.Registerer) (gin.HandlerFunc, error) {
	if reg == nil {
		return nil, nil
	}
	labels := []string{"method", "route", "status"}
	requests, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fieldflow_http_requests_total",
		Help: "HTTP requests the API answered, by method, route template and status.",
	}, labels))
	if err != nil {
		return nil, err
	}
	durations, err := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fieldflow_http_request_duration_seconds",
		Help:    "Time the API took to answer a request, by method, route template and status.",
		Buckets: prometheus.DefBuckets,
	}, labels))
	if err != nil {
		return nil, err
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = unmatchedRoute
		}
		status := strconv.Itoa(c.Writer.Status())
		requests.WithLabelValues(c.Request.Method, route, status).Inc()
		durations.WithLabelValues(c.Request.Method, route, status).Observe(time.Since(start).Seconds())
	}, nil
}

// register registers c, or returns the collector registered before under the same name (a second
// server on the same registry, as in tests).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("metrics: register: %w", err)
}

// NewMetricsRegistry is the one registry of a process: the Go runtime's and the process's own
// collectors, then whatever the API (Config.Metrics) and the Temporal client (TemporalMetrics) add.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsHandler serves the registry's metrics in the Prometheus format at /metrics; it is meant
// for a listener of its own (FIELDFLOW_METRICS_ADDR), never the public API port.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

// MetricsServer serves a registry at /metrics on a listener of its own.
type MetricsServer struct {
	http     *http.Server
	listener net.Listener
}

// ListenMetrics opens addr (":9464"; "127.0.0.1:0" picks a free port) for MetricsHandler(g).
func ListenMetrics(addr string, g prometheus.Gatherer) (*MetricsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return &MetricsServer{
		http:     &http.Server{Handler: MetricsHandler(g), ReadHeaderTimeout: 10 * time.Second},
		listener: l,
	}, nil
}

// Addr is the address the server listens on.
func (m *MetricsServer) Addr() string { return m.listener.Addr().String() }

// URL is where the metrics are scraped.
func (m *MetricsServer) URL() string { return "http://" + m.Addr() + "/metrics" }

// Serve answers scrapes until Close; it returns nil once closed.
func (m *MetricsServer) Serve() error {
	if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Close stops the server, letting scrapes under way finish until ctx ends.
func (m *MetricsServer) Close(ctx context.Context) error {
	err := m.http.Shutdown(ctx)
	// A listener Serve never took is not closed by Shutdown.
	_ = m.listener.Close()
	return err
}

// temporalLatencyBuckets are the histogram bounds, in seconds, of the Temporal SDK's timers: from
// a millisecond (a workflow task) to ten minutes (a schedule-to-start behind a stopped worker).
var temporalLatencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// TemporalMetrics is the Temporal client's metrics handler (client.Options.MetricsHandler),
// exported to reg: workflow and activity task latencies, sticky cache size, task slots, request
// counts (temporal_workflow_task_execution_latency_seconds, temporal_activity_execution_latency_seconds,
// temporal_sticky_cache_size, temporal_worker_task_slots_available, temporal_request_total, ...).
// It goes through the SDK's OpenTelemetry handler and the OpenTelemetry Prometheus exporter.
func TemporalMetrics(reg prometheus.Registerer) (client.MetricsHandler, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: temporal exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalLatencyBuckets}},
		)),
	)
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk-go"),
		// SDK counters only grow: exported as Prometheus counters, not gauges.
		UseMonotonicCounters: true,
		// An instrument the meter refuses is skipped (the handler's default is to panic).
		OnError: func(error) {},
	}), nil
}
