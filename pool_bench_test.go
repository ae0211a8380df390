// Benchmarks of the pool alone: acquire/release under contention, and many
// waiters across hosts.

package asynchttp

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkPoolAcquireRelease measures the pool alone under contention:
// every goroutine takes an idle conn and gives it back, over net.Pipe conns
// that carry no traffic.
func BenchmarkPoolAcquireRelease(b *testing.B) {
	for _, conns := range []int{1, 64} {
		b.Run(map[int]string{1: "1-conn", 64: "64-conns"}[conns], func(b *testing.B) {
			var pipes pipeDials
			c := New(Config{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, Dial: pipes.dial})
			defer func() {
				c.Close()
				pipes.close()
			}()
			if n, err := c.Prewarm(context.Background(), "http://10.255.0.1/", conns); err != nil || n != conns {
				b.Fatal(n, err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := AcquireRequest()
				defer ReleaseRequest(req)
				req.SetRequestURI("http://10.255.0.1/")
				if err := req.prepare(); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					cn, err := c.pool.acquire(ctx, req, false)
					if err != nil {
						b.Error(err)
						return
					}
					c.pool.release(cn)
				}
			})
		})
	}
}

// BenchmarkPoolManyWaiters is a crawler's pool at its per-host caps: 512
// hosts with one conn each and four callers per host, so that about 1,500
// callers wait at any moment. An acquire or a release must not cost in
// proportion to the callers waiting for other hosts.
func BenchmarkPoolManyWaiters(b *testing.B) {
	const hosts, perHost = 512, 4
	var pipes pipeDials
	c := New(Config{MaxConnsPerHost: 1, MaxTotalConns: hosts, Dial: pipes.dial})
	defer func() {
		c.Close()
		pipes.close()
	}()
	ctx := context.Background()
	reqs := make([]*Request, hosts)
	for i := range reqs {
		u := fmt.Sprintf("http://10.255.%d.%d/", i/250, i%250+1)
		if n, err := c.Prewarm(ctx, u, 1); err != nil || n != 1 {
			b.Fatal(n, err)
		}
		reqs[i] = AcquireRequest()
		reqs[i].SetRequestURI(u)
		if err := reqs[i].prepare(); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int32
	b.SetParallelism(hosts * perHost / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := reqs[int(next.Add(1))%hosts]
		for pb.Next() {
			cn, err := c.pool.acquire(ctx, req, false)
			if err != nil {
				b.Error(err)
				return
			}
			c.pool.release(cn)
		}
	})
}
