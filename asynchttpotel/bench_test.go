// The cost of recording one request.

package asynchttpotel

import (
	"context"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkRecordRequest is what Instrument adds to each request, on top
// of the core's request callbacks: RequestStart and RequestDone recorded
// into the SDK.
func BenchmarkRecordRequest(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	c, err := newConfig([]Option{WithMeterProvider(mp)})
	if err != nil {
		b.Fatal(err)
	}
	in, err := newInstruments(c)
	if err != nil {
		b.Fatal(err)
	}
	ri := asynchttp.RequestInfo{Method: "GET", Host: "http://127.0.0.1:8080"}
	done := ri
	done.StatusCode, done.Duration = 200, 3*time.Millisecond
	b.ReportAllocs()
	for b.Loop() {
		in.requestStart(ri)
		in.requestDone(done)
	}
}
