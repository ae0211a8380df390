// Test helpers: a MeterProvider over a ManualReader, lookups in what it
// collects, and local servers.

package asynchttpotel_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 10 * time.Second

// meterProvider is a real SDK MeterProvider read on demand.
type meterProvider struct {
	*sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

func newMeterProvider(t *testing.T) *meterProvider {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &meterProvider{MeterProvider: mp, reader: r}
}

// collected is one collection: the metrics by name.
type collected map[string]metricdata.Metrics

func (mp *meterProvider) collect(t *testing.T) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, mp.reader.Collect(context.Background(), &rm))
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, "github.com/asynchttp/asynchttp/asynchttpotel", sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sum returns the value of the int64 sum name for exactly the attributes
// kv, and whether there is such a point.
func (c collected) sum(t *testing.T, name string, kv ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	m, ok := c[name]
	if !ok {
		return 0, false
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T, not an int64 sum", name, m.Data)
	want := attribute.NewSet(kv...)
	for _, dp := range s.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value, true
		}
	}
	return 0, false
}

// hist returns the float64 histogram point of name for exactly the
// attributes kv.
func (c collected) hist(t *testing.T, name string, kv ...attribute.KeyValue) (metricdata.HistogramDataPoint[float64], bool) {
	t.Helper()
	m, ok := c[name]
	if !ok {
		return metricdata.HistogramDataPoint[float64]{}, false
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a %T, not a float64 histogram", name, m.Data)
	want := attribute.NewSet(kv...)
	for _, dp := range h.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp, true
		}
	}
	return metricdata.HistogramDataPoint[float64]{}, false
}

// histCount is the number of measurements in all points of name.
func (c collected) histCount(t *testing.T, name string) uint64 {
	t.Helper()
	m, ok := c[name]
	if !ok {
		return 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	var n uint64
	for _, dp := range h.DataPoints {
		n += dp.Count
	}
	return n
}

// points is the number of data points of name.
func (c collected) points(name string) int {
	m, ok := c[name]
	if !ok {
		return 0
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		return len(d.DataPoints)
	}
	return -1
}

// target is a local server as the attributes name it.
type target struct {
	url  string // "http://127.0.0.1:port"
	port int
}

func (tg target) key() string { return tg.url }

func newServer(t *testing.T, h http.HandlerFunc) target {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return targetOf(t, srv.URL)
}

func targetOf(t *testing.T, u string) target {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return target{url: u, port: p}
}

// refusedTarget is an address on 127.0.0.1 where nothing listens.
func refusedTarget(t *testing.T) target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return targetOf(t, "http://"+addr)
}

// do sends one request and returns the status and error.
func do(ctx context.Context, c *asynchttp.Client, method, url string) (int, error) {
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod(method)
	req.SetRequestURI(url)
	err := c.Do(ctx, req, resp)
	return resp.StatusCode, err
}

// recv waits for a value on ch, at most waitLimit.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}
