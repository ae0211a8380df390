// ObserveStats reports the host policy's figures: the cap in force and
// the waits for rate and delay.

package asynchttpotel_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpotel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestObserveStatsReportsTheHostPolicy(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	a, b := newServer(t, handler), newServer(t, handler)
	mp := newMeterProvider(t)
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	require.NoError(t, c.SetHostPolicy(a.url, asynchttp.HostPolicy{MaxConns: 3, Delay: 200 * time.Millisecond}))
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer unregister()
	ctx := context.Background()
	for _, tg := range []target{a, a, a, b} {
		_, err := do(ctx, c, "GET", tg.url+"/")
		require.NoError(t, err)
	}
	got := mp.collect(t)
	kv := append(serverAttrs(a), attribute.String("network.protocol.version", "1.1"))

	m, ok := got[asynchttpotel.ConnectionLimitName]
	require.True(t, ok)
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%T", m.Data)
	require.Len(t, g.DataPoints, 1, "only the host with a cap")
	want := attribute.NewSet(kv...)
	assert.True(t, g.DataPoints[0].Attributes.Equals(&want))
	assert.Equal(t, int64(3), g.DataPoints[0].Value)

	n, found := got.sum(t, asynchttpotel.PolicyWaitsName, kv...)
	require.True(t, found)
	assert.Equal(t, int64(2), n, "the 2nd and 3rd requests to a waited for the delay")
	wm, ok := got[asynchttpotel.PolicyWaitTimeName]
	require.True(t, ok)
	ws, ok := wm.Data.(metricdata.Sum[float64])
	require.True(t, ok)
	require.Len(t, ws.DataPoints, 1)
	assert.Greater(t, ws.DataPoints[0].Value, 0.0)
}
