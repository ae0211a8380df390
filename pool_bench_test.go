package asynchttp

import (
	"context"
	"net"
	"testing"
)

// BenchmarkPoolAcquireRelease measures the pool alone under contention:
// every goroutine takes an idle conn and gives it back, over net.Pipe conns
// that carry no traffic.
func BenchmarkPoolAcquireRelease(b *testing.B) {
	for _, conns := range []int{1, 64} {
		b.Run(map[int]string{1: "1-conn", 64: "64-conns"}[conns], func(b *testing.B) {
			var ends []net.Conn
			c := New(Config{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns,
				Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					a, z := net.Pipe()
					ends = append(ends, z)
					return a, nil
				}})
			defer func() {
				c.Close()
				for _, z := range ends {
					z.Close()
				}
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
