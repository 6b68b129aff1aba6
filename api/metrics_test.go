package api_test

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
)

// metricFamily is the gathered family called name, or nil.
func metricFamily(t *testing.T, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// labelsOf reads a metric's labels into a map.
func labelsOf(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixtureIn(t, "../definitions", func(c *api.Config) { c.Metrics = reg })
	token := f.token(auth.RoleAgent)

	require.Equal(t, http.StatusOK, f.call("GET", "/healthz", "", "", "").status)
	require.Equal(t, http.StatusOK, f.call("GET", "/healthz", "", "", "").status)
	f.problem(http.StatusNotFound, "GET", "/v1/service-requests/SR-404", token, "", "")
	f.problem(http.StatusNotFound, "GET", "/v1/service-requests/SR-405", token, "", "")
	f.problem(http.StatusNotFound, "GET", "/no/such/thing", "", "", "")
	f.problem(http.StatusMethodNotAllowed, "DELETE", "/healthz", "", "", "")

	requests := func(method, route, status string) float64 {
		t.Helper()
		return requestCount(t, reg, method, route, status)
	}
	require.InDelta(t, 2, requests("GET", "/healthz", "200"), 0)
	// The route template, never the id: one series for every service request.
	require.InDelta(t, 2, requests("GET", "/v1/service-requests/:id", "404"), 0)
	require.InDelta(t, 1, requests("GET", "unmatched", "404"), 0)
	require.InDelta(t, 1, requests("DELETE", "unmatched", "405"), 0)

	counters := metricFamily(t, reg, "fieldflow_http_requests_total")
	require.NotNil(t, counters)
	for _, m := range counters.GetMetric() {
		require.NotContains(t, labelsOf(m)["route"], "SR-", "a raw path leaked into the route label")
	}

	durations := metricFamily(t, reg, "fieldflow_http_request_duration_seconds")
	require.NotNil(t, durations)
	observed := map[string]uint64{}
	for _, m := range durations.GetMetric() {
		l := labelsOf(m)
		observed[l["method"]+" "+l["route"]+" "+l["status"]] = m.GetHistogram().GetSampleCount()
	}
	require.Equal(t, map[string]uint64{
		"GET /healthz 200":                 2,
		"GET /v1/service-requests/:id 404": 2,
		"GET unmatched 404":                1,
		"DELETE unmatched 405":             1,
	}, observed)
}

// requestCount is the value of fieldflow_http_requests_total{method,route,status}.
func requestCount(t *testing.T, g prometheus.Gatherer, method, route, status string) float64 {
	t.Helper()
	mf := metricFamily(t, g, "fieldflow_http_requests_total")
	require.NotNil(t, mf)
	want := map[string]string{"method": method, "route": route, "status": status}
	for _, m := range mf.GetMetric() {
		if reflect.DeepEqual(labelsOf(m), want) {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestHTTPMetricsTwoServersOneRegistry(t *testing.T) {
	// A second API on the same registry shares the metrics rather than failing to register them.
	reg := prometheus.NewRegistry()
	a := newFixtureIn(t, "../definitions", func(c *api.Config) { c.Metrics = reg })
	b := newFixtureIn(t, "../definitions", func(c *api.Config) { c.Metrics = reg })
	require.Equal(t, http.StatusOK, a.call("GET", "/healthz", "", "", "").status)
	require.Equal(t, http.StatusOK, b.call("GET", "/healthz", "", "", "").status)
	require.InDelta(t, 2, requestCount(t, reg, "GET", "/healthz", "200"), 0)
}

func TestHTTPMetricsOff(t *testing.T) {
	// Without a registry the API records nothing and still answers.
	f := newFixture(t)
	require.Equal(t, http.StatusOK, f.call("GET", "/healthz", "", "", "").status)
}

func TestMetricsHandler(t *testing.T) {
	reg := api.NewMetricsRegistry()
	server, err := api.ListenMetrics("127.0.0.1:0", reg)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- server.Serve() }()

	res, err := http.Get(server.URL())
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), "go_goroutines")

	res, err = http.Get("http://" + server.Addr() + "/v1/service-requests")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusNotFound, res.StatusCode, "the metrics listener serves /metrics only")

	require.NoError(t, server.Close(context.Background()))
	require.NoError(t, <-served)
}

func TestTemporalMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := api.TemporalMetrics(reg)
	require.NoError(t, err)

	// What the SDK's worker records, under the names it uses.
	tagged := h.WithTags(map[string]string{"task_queue": "fieldflow", "workflow_type": "ServiceRequest"})
	tagged.Counter("temporal_request").Inc(3)
	tagged.Timer("temporal_workflow_task_execution_latency").Record(40 * time.Millisecond)
	tagged.Timer("temporal_activity_execution_latency").Record(2 * time.Second)
	tagged.Gauge("temporal_sticky_cache_size").Update(7)
	tagged.Gauge("temporal_worker_task_slots_available").Update(1000)

	requests := metricFamily(t, reg, "temporal_request_total")
	require.NotNil(t, requests)
	require.Equal(t, dto.MetricType_COUNTER, requests.GetType())
	require.InDelta(t, 3, requests.GetMetric()[0].GetCounter().GetValue(), 0)
	require.Equal(t, "fieldflow", labelsOf(requests.GetMetric()[0])["task_queue"])

	latency := metricFamily(t, reg, "temporal_workflow_task_execution_latency_seconds")
	require.NotNil(t, latency)
	hist := latency.GetMetric()[0].GetHistogram()
	require.Equal(t, uint64(1), hist.GetSampleCount())
	require.InDelta(t, 0.04, hist.GetSampleSum(), 1e-9)
	// Sub-second buckets, so a 40ms workflow task is told apart from a slow one.
	var under50ms uint64
	for _, b := range hist.GetBucket() {
		if b.GetUpperBound() == 0.05 {
			under50ms = b.GetCumulativeCount()
		}
	}
	require.Equal(t, uint64(1), under50ms)
	require.NotNil(t, metricFamily(t, reg, "temporal_activity_execution_latency_seconds"))

	cache := metricFamily(t, reg, "temporal_sticky_cache_size")
	require.NotNil(t, cache)
	require.InDelta(t, 7, cache.GetMetric()[0].GetGauge().GetValue(), 0)
	require.NotNil(t, metricFamily(t, reg, "temporal_worker_task_slots_available"))
}
