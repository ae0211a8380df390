// Runnable examples: a client instrumented against the SDK's ManualReader.

package asynchttpotel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/asynchttpotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func ExampleInstrument() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	// In a service this is the SDK set up with an exporter, usually
	// installed with otel.SetMeterProvider and then found by default.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	var cfg asynchttp.Config
	if err := asynchttpotel.Instrument(&cfg, asynchttpotel.WithMeterProvider(mp)); err != nil {
		fmt.Println(err)
		return
	}
	c := asynchttp.New(cfg)
	defer c.Close()

	for range 3 {
		req := asynchttp.AcquireRequest()
		resp := asynchttp.AcquireResponse()
		req.SetRequestURI(srv.URL + "/")
		if err := c.Do(context.Background(), req, resp); err != nil {
			fmt.Println(err)
		}
		asynchttp.ReleaseRequest(req)
		asynchttp.ReleaseResponse(resp)
	}
	c.CloseIdleConnections()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Histogram[float64]:
			lines = append(lines, fmt.Sprintf("%s (%s): %d recorded", m.Name, m.Unit, d.DataPoints[0].Count))
		case metricdata.Sum[int64]:
			lines = append(lines, fmt.Sprintf("%s (%s): %d", m.Name, m.Unit, d.DataPoints[0].Value))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// asynchttp.client.connection.closed ({connection}): 1
	// http.client.active_requests ({request}): 0
	// http.client.connection.duration (s): 1 recorded
	// http.client.request.duration (s): 3 recorded
}

func ExampleObserveStats() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	unregister, err := asynchttpotel.ObserveStats(c, asynchttpotel.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unregister()

	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(srv.URL + "/")
	if err := c.Do(context.Background(), req, resp); err != nil {
		fmt.Println(err)
		return
	}

	// Stats is read when the reader collects.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "http.client.open_connections" {
			continue
		}
		states := map[string]int64{}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			state, _ := dp.Attributes.Value("http.connection.state")
			states[state.AsString()] += dp.Value
		}
		fmt.Printf("open connections: active %d, idle %d\n", states["active"], states["idle"])
	}
	// Output: open connections: active 0, idle 1
}
