// The memory cost of many Futures in flight at once.

package asynchttp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
)

// BenchmarkFutures10k puts 10,000 futures in flight at once against a
// local server that holds every response until all have been started (64
// conns busy, the rest queued in the pool), and reports the memory each
// in-flight future costs: heap plus goroutine stack. Afterwards no
// goroutine of the futures remains.
func BenchmarkFutures10k(b *testing.B) {
	const n = 10000
	b.ReportAllocs()
	var perFuture float64
	for b.Loop() {
		perFuture = runFutures(b, n)
	}
	b.ReportMetric(perFuture, "B/future")
}

func runFutures(b *testing.B, n int) float64 {
	gate := make(chan struct{})
	srv := testserver.NewScripted(b, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			if _, _, err := testserver.ReadRequest(br); err != nil {
				return
			}
			<-gate
			if _, err := io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 64})
	defer c.Close()
	ctx := context.Background()

	reqs := make([]*asynchttp.Request, n)
	for i := range reqs {
		reqs[i] = asynchttp.AcquireRequest()
		reqs[i].SetRequestURI(srv.URL() + "/")
	}
	fs := make([]*asynchttp.Future, n)
	baseG := runtime.NumGoroutine()
	before := memInUse()
	for i := range fs {
		fs[i] = c.Execute(ctx, reqs[i])
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().Waiting+c.Stats().InUse < n && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	after := memInUse()
	close(gate)
	for i, f := range fs {
		resp, err := f.Wait()
		if err != nil {
			b.Fatal(err)
		}
		asynchttp.ReleaseResponse(resp)
		asynchttp.ReleaseRequest(reqs[i])
	}
	// Idle conns keep their server handlers alive: close them, so that only
	// a leaked future goroutine could stay above the baseline.
	c.CloseIdleConnections()
	for runtime.NumGoroutine() > baseG && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if g := runtime.NumGoroutine(); g > baseG {
		b.Fatalf("%d goroutines remain after the futures completed (baseline %d)", g, baseG)
	}
	return float64(after-before) / float64(n)
}

// memInUse is heap in use plus goroutine stacks, after a GC.
func memInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}
