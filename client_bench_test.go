// Benchmarks of Do and RoundTrip through a warm pool, and the check that a
// warm Do allocates nothing.

package asynchttp_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
)

// cannedServer answers every GET with the same 13-byte response and
// allocates nothing per request, so that allocation counts measure the
// client alone (AllocsPerRun counts every goroutine of the process).
func cannedServer(t testing.TB) *testserver.Scripted {
	reply := []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!")
	return testserver.NewScripted(t, func(nc net.Conn) {
		buf := make([]byte, 4096)
		n := 0
		for {
			m, err := nc.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
			// Requests carry no body: each ends at a blank line.
			for {
				i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				if _, err := nc.Write(reply); err != nil {
					return
				}
				n = copy(buf, buf[i+4:n])
			}
			if n == len(buf) {
				return // a head larger than the buffer: not ours
			}
		}
	})
}

func helloServer(t testing.TB) *testserver.Counting {
	return testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello, World!")
	}))
}

// BenchmarkDo is a GET with a 13-byte body through a warm pool.
func BenchmarkDo(b *testing.B) { benchDo(b, asynchttp.Config{}) }

// benchDo measures Do of one GET after another against a canned server,
// through a Client made with cfg.
func benchDo(b *testing.B, cfg asynchttp.Config) {
	srv := cannedServer(b)
	c := asynchttp.New(cfg)
	defer c.Close()
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	req.SetRequestURI(srv.URL() + "/")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(ctx, req, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDoWithHostPolicy is BenchmarkDo through the host-policy layer:
// a Rate too high to ever wait (the cost of booking each start), a Delay
// of 1 ns, and an adaptive limit.
func BenchmarkDoWithHostPolicy(b *testing.B) {
	for _, bc := range []struct {
		name string
		pol  asynchttp.HostPolicy
	}{
		{"Rate", asynchttp.HostPolicy{Rate: 1e12, Burst: 1 << 20}},
		{"Delay", asynchttp.HostPolicy{Delay: 1}},
		{"Adaptive", asynchttp.HostPolicy{Adaptive: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchDo(b, asynchttp.Config{HostPolicy: func(string) asynchttp.HostPolicy { return bc.pol }})
		})
	}
}

// BenchmarkDoParallel runs Do from many goroutines against one host.
func BenchmarkDoParallel(b *testing.B) {
	srv := cannedServer(b)
	c := asynchttp.New(asynchttp.Config{MaxConnsPerHost: 64})
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := asynchttp.AcquireRequest()
		resp := asynchttp.AcquireResponse()
		defer asynchttp.ReleaseRequest(req)
		defer asynchttp.ReleaseResponse(resp)
		req.SetRequestURI(srv.URL() + "/")
		for pb.Next() {
			if err := c.Do(ctx, req, resp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRoundTrip is the same GET through http.Client, against asynchttp
// and against net/http's Transport.
func BenchmarkRoundTrip(b *testing.B) {
	srv := cannedServer(b)
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	for _, tt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"asynchttp", c}, {"net-http", &http.Transport{}}} {
		b.Run(tt.name, func(b *testing.B) {
			hc := &http.Client{Transport: tt.rt}
			req, _ := http.NewRequest("GET", srv.URL()+"/", nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

func TestDoAllocatesNothingWhenWarm(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := cannedServer(t)
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetRequestURI(srv.URL() + "/")
	ctx := context.Background()
	for range 3 {
		if err := c.Do(ctx, req, resp); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		if err := c.Do(ctx, req, resp); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Do allocated %.1f times per request", allocs)
	}
}

// BenchmarkDoConnectionClose is a GET whose response ends its conn, so each
// request dials: the cost of a dial, a conn's setup and its close.
func BenchmarkDoConnectionClose(b *testing.B) {
	reply := []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!")
	srv := testserver.NewScripted(b, func(nc net.Conn) {
		buf := make([]byte, 4096)
		n := 0
		for n < len(buf) {
			m, err := nc.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
			if bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
				nc.Write(reply)
				return
			}
		}
	})
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	req.SetRequestURI(srv.URL() + "/")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(ctx, req, resp); err != nil {
			b.Fatal(err)
		}
	}
}
