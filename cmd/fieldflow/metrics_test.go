package main

import (
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func TestStartMetrics(t *testing.T) {
	log := zaptest.NewLogger(t)

	off, err := startMetrics("", log)
	require.NoError(t, err)
	require.Nil(t, off, "no address, no metrics")
	require.Nil(t, off.temporalHandler(), "the Temporal client keeps the SDK's no-op handler")
	off.stop()

	m, err := startMetrics("127.0.0.1:0", log)
	require.NoError(t, err)
	t.Cleanup(m.stop)
	require.NotNil(t, m.temporalHandler())
	m.temporalHandler().Gauge("temporal_sticky_cache_size").Update(2)

	res, err := http.Get(m.server.URL())
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), "temporal_sticky_cache_size 2")
	require.Contains(t, string(body), "go_goroutines")

	_, err = startMetrics(m.server.Addr(), log)
	require.Error(t, err, "a taken address is refused at start")
}

func TestDevMetricsAddrFallsBack(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	require.Equal(t, "127.0.0.1:0", devMetricsAddr(l.Addr().String()), "a held port gives way to a free one")

	free := l.Addr().String()
	require.NoError(t, l.Close())
	require.Equal(t, free, devMetricsAddr(free))
}
