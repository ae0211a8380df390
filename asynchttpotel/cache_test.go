// The attribute-set cache: bounded, shared by concurrent requests.

package asynchttpotel

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestSetCacheStartsOverWhenFull(t *testing.T) {
	var c setCache
	builds := 0
	for i := range maxCachedSets + 10 {
		k := setKey{host: fmt.Sprintf("http://10.0.0.%d:%d", i%250, 1000+i)}
		s := c.get(k, func() attribute.Set {
			builds++
			return attribute.NewSet(attribute.String("server.address", k.host))
		})
		v, _ := s.Value("server.address")
		require.Equal(t, k.host, v.AsString())
		require.LessOrEqual(t, len(c.sets), maxCachedSets)
	}
	assert.Equal(t, maxCachedSets+10, builds)
	assert.Equal(t, 10, len(c.sets), "the cache started over when it reached its bound")

	// A cached set is not built again.
	k := setKey{host: "http://10.0.0.1:80"}
	build := func() attribute.Set { builds++; return attribute.NewSet() }
	c.get(k, build)
	c.get(k, build)
	assert.Equal(t, maxCachedSets+11, builds)
}

func TestConcurrentRequestsRecordEveryMeasurement(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	cfg, err := newConfig([]Option{WithMeterProvider(mp)})
	require.NoError(t, err)
	in, err := newInstruments(cfg)
	require.NoError(t, err)

	const workers, each = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ri := asynchttp.RequestInfo{Method: "GET", Host: fmt.Sprintf("http://127.0.0.1:%d", 8000+(w+i)%3)}
				in.requestStart(ri)
				ri.StatusCode, ri.Duration, ri.Wait = 200+(i%2)*303, time.Millisecond, time.Duration(i%2)*time.Millisecond
				in.requestDone(ri)
			}
		})
	}
	wg.Wait()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var durations, queued uint64
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case "http.client.request.duration":
			dps := m.Data.(metricdata.Histogram[float64]).DataPoints
			assert.Len(t, dps, 6, "3 ports × 2 statuses")
			for _, dp := range dps {
				durations += dp.Count
			}
		case TimeInQueueName:
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				queued += dp.Count
			}
		case "http.client.active_requests":
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				assert.Zero(t, dp.Value)
			}
		}
	}
	assert.Equal(t, uint64(workers*each), durations)
	assert.Equal(t, uint64(workers*each/2), queued)
}
