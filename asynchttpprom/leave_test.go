// Counters of a host that leaves Stats (its lingering time over) and
// comes back never go backwards.

package asynchttpprom_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestCountersSurviveAHostLeavingStats(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer s.Close()
	// A short IdleTimeout: an empty host lingers in Stats that long, then
	// it is dropped with its counters.
	c := asynchttp.New(asynchttp.Config{IdleTimeout: 20 * time.Millisecond})
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(asynchttpprom.NewCollector(c))
	host := s.URL

	for range 3 {
		get(t, c, s.URL)
	}
	before := scrape(t, reg)
	require.Equal(t, 1.0, byHost(before["asynchttp_connections_created_total"])[host])
	require.Equal(t, 2.0, byHost(before["asynchttp_connections_reused_total"])[host])

	c.CloseIdleConnections()
	require.Eventually(t, func() bool {
		_, ok := c.Stats().Hosts[host]
		return !ok
	}, 10*time.Second, 5*time.Millisecond, "the host leaves Stats after its lingering time")

	gone := scrape(t, reg)
	for _, name := range []string{"asynchttp_connections_created_total", "asynchttp_connections_reused_total", "asynchttp_connections_closed_total"} {
		after := byHost(gone[name])
		for h, v := range byHost(before[name]) {
			require.GreaterOrEqual(t, after[h], v, "%s{host=%q} after the host left", name, h)
		}
	}
	require.Equal(t, 0.0, byHost(gone["asynchttp_connections_open"])[host], "gauges of a departed host read 0")

	// Back again: its new counts add to what it had.
	for range 2 {
		get(t, c, s.URL)
	}
	back := scrape(t, reg)
	require.Equal(t, 2.0, byHost(back["asynchttp_connections_created_total"])[host])
	require.Equal(t, 3.0, byHost(back["asynchttp_connections_reused_total"])[host])
	// The series still add up to the pool's totals, which kept counting.
	var sum float64
	for _, v := range byHost(back["asynchttp_connections_created_total"]) {
		sum += v
	}
	require.Equal(t, float64(c.Stats().Created), sum)
}
