// Hosts with several addresses: new conns go round-robin, a dead address
// cools down, and MaxConnLifetime rebalances after a server restarts.

package asynchttp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listenTrio starts one server on each of 127.0.0.1-3 on the same port.
func listenTrio(t *testing.T, h http.Handler) (port string, servers [3]*http.Server) {
	for range 20 {
		ln1, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		_, port, _ = net.SplitHostPort(ln1.Addr().String())
		lns := []net.Listener{ln1}
		for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
			ln, err := net.Listen("tcp", ip+":"+port)
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < 3 {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		for i, ln := range lns {
			servers[i] = serveOn(t, ln, h)
		}
		return port, servers
	}
	t.Fatal("no port free on 127.0.0.1-3")
	return "", servers
}

func serveOn(t *testing.T, ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return srv
}

// byIP counts requests per server address.
type byIP struct {
	mu sync.Mutex
	n  map[string]int
}

func (b *byIP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip, _, _ := net.SplitHostPort(r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
	b.mu.Lock()
	b.n[ip]++
	b.mu.Unlock()
	io.WriteString(w, ip)
}

func (b *byIP) take() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.n
	b.n = map[string]int{}
	return n
}

func trioLookup(ctx context.Context, host string) ([]string, error) {
	if host != "svc.test" {
		return nil, fmt.Errorf("unknown host %q", host)
	}
	return []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, nil
}

func TestMultiAddressRoundRobinAndCooldown(t *testing.T) {
	var dnsDone atomic.Int32
	c := newClient(t, asynchttp.Config{LookupHost: trioLookup, MaxConnsPerHost: 3})
	counts := &byIP{n: map[string]int{}}
	port, servers := listenTrio(t, counts)
	url := "http://svc.test:" + port + "/"
	ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
		// Callers that join a lookup in flight hear DNSDone too, marked
		// Coalesced (as with net/http): count the lookups themselves.
		DNSDone: func(info httptrace.DNSDoneInfo) {
			if !info.Coalesced {
				dnsDone.Add(1)
			}
		},
	})
	// Three new conns at once: one to each address.
	n, err := c.Prewarm(ctx, url, 3)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() { _, _, err := get(ctx, c, "GET", url); assert.NoError(t, err) })
	}
	wg.Wait()
	got := counts.take()
	assert.Len(t, got, 3, "every address served: %v", got)
	assert.Equal(t, int32(1), dnsDone.Load(), "resolved once within AddrTTL")

	// Take 127.0.0.2 down: its address fails to connect, cools down, and
	// the other two carry the load. (No idle conns here: every request
	// dials, so the round-robin shows.)
	servers[1].Close()
	c2 := newClient(t, asynchttp.Config{LookupHost: trioLookup, MaxIdleConnsPerHost: -1})
	for range 30 {
		_, body, err := get(ctx, c2, "GET", url)
		require.NoError(t, err)
		assert.NotEqual(t, "127.0.0.2", body)
	}
	got = counts.take()
	assert.Zero(t, got["127.0.0.2"])
	assert.Equal(t, 15, got["127.0.0.1"])
	assert.Equal(t, 15, got["127.0.0.3"])
	assert.Equal(t, uint64(30), c2.Stats().Created, "no request failed over the dead address more than once")
}

// TestLifetimeRebalancesAfterServerRestart: three servers behind one name;
// one restarts and loses its connections to the other two. MaxConnLifetime
// (with jitter) moves connections back to it within a few lifetimes.
func TestLifetimeRebalancesAfterServerRestart(t *testing.T) {
	c := newClient(t, asynchttp.Config{
		LookupHost: trioLookup, MaxConnsPerHost: 6,
		MaxConnLifetime: 150 * time.Millisecond, LifetimeJitter: 0.3,
		AddrCooldown: 50 * time.Millisecond,
	})
	counts := &byIP{n: map[string]int{}}
	port, servers := listenTrio(t, counts)
	url := "http://svc.test:" + port + "/"
	ctx := testCtx(t)
	load := func(d time.Duration) {
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
					_, _, err := get(ctx, c, "GET", url)
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
		wg.Wait()
	}
	load(300 * time.Millisecond)
	counts.take()

	// Restart 127.0.0.2: down while the load goes on, then back.
	servers[1].Close()
	load(200 * time.Millisecond)
	down := counts.take()
	assert.Zero(t, down["127.0.0.2"])
	ln, err := net.Listen("tcp", "127.0.0.2:"+port)
	require.NoError(t, err)
	serveOn(t, ln, counts)

	// A few lifetimes later the load is spread over all three again.
	load(600 * time.Millisecond)
	counts.take()
	load(300 * time.Millisecond)
	after := counts.take()
	total := after["127.0.0.1"] + after["127.0.0.2"] + after["127.0.0.3"]
	t.Logf("requests per server after the restart: %v", after)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		assert.Greater(t, after[ip]*10, total, "%s serves more than a tenth", ip)
	}
}
