// The host map: empty hosts linger with their counters, a host with a
// conn in use never does, and the map stays bounded over many hosts.

package asynchttp_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEmptyHostLingers: a host whose last conn closed stays in Stats with
// its counters until IdleTimeout, and coming back to it finds it again.
func TestEmptyHostLingers(t *testing.T) {
	c := newClient(t, asynchttp.Config{IdleTimeout: time.Hour})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	}))
	ctx := testCtx(t)
	for range 3 {
		_, body, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
		require.Equal(t, "bye", body)
	}
	st := c.Stats()
	require.Len(t, st.Hosts, 1)
	for _, h := range st.Hosts {
		assert.Zero(t, h.Open)
		assert.Equal(t, uint64(3), h.Created)
		assert.Equal(t, uint64(3), h.ClosedBy[asynchttp.CloseNotReusable], "close reasons kept per host")
	}
	assert.Equal(t, 1, asynchttp.HostCount(c))
	assert.Zero(t, asynchttp.ActiveHostCount(c))
	ok, err := c.DrainHost(srv.URL())
	require.NoError(t, err)
	assert.False(t, ok, "an empty host has nothing to drain")
}

// startRequestAfterStaleIdleConn sets up, on a fake clock, a host whose
// only conn is idle and past IdleTimeout but not yet reaped (the reaper
// ticks on whole seconds, the conn went idle at +0.5s), then starts a
// request to it that the server holds. Taking the expired conn retires it,
// which empties the host for a moment; the request then dials a new conn
// on the same host.
func startRequestAfterStaleIdleConn(t *testing.T, c *asynchttp.Client, url string) (held chan error) {
	time.Sleep(500 * time.Millisecond)
	_, _, err := get(t.Context(), c, "GET", url+"/")
	require.NoError(t, err)
	require.Equal(t, 1, c.Stats().Idle)
	time.Sleep(time.Minute + 200*time.Millisecond) // expired at +60.5s, next reap at +61s
	synctest.Wait()
	require.Equal(t, 1, c.Stats().Idle, "not reaped yet")
	held = make(chan error, 1)
	go func() {
		_, _, err := get(t.Context(), c, "GET", url+"/hold")
		held <- err
	}()
	synctest.Wait()
	return held
}

// A host emptied by retiring an expired idle conn on take, which then gets
// a new conn in use, is active again: it is not on the lingering list, the
// accounting holds, and DrainHost sees it.
func TestRetiringStaleIdleConnOnTakeKeepsHostActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var once sync.Once
		release := func() { once.Do(func() { close(hold) }) }
		srv := &pipeServer{serve: serveOK(hold)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, IdleTimeout: time.Minute})
		defer c.Close()
		defer release()
		const url = "http://10.255.0.1:80"
		held := startRequestAfterStaleIdleConn(t, c, url)

		st := c.Stats()
		assert.Equal(t, 1, st.InUse, "the /hold request has a new conn")
		assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseIdleTimeout])
		assert.Empty(t, asynchttp.CheckInvariants(c), "a host with a conn in use must not linger")
		assert.Equal(t, 1, asynchttp.ActiveHostCount(c), "the host has a conn in use")
		ok, err := c.DrainHost(url)
		assert.NoError(t, err)
		assert.True(t, ok, "DrainHost must see a host with a conn in use")

		release()
		require.NoError(t, <-held)
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

// After startRequestAfterStaleIdleConn the host serves a long request: the
// reaper, after IdleTimeout, must not prune a host whose conn is in use.
// Were it pruned, the next request would make a second host for the same key
// and dial past MaxConnsPerHost, and the conn in use would count in the
// total under no host.
func TestReaperKeepsHostWithConnInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var once sync.Once
		release := func() { once.Do(func() { close(hold) }) }
		srv := &pipeServer{serve: serveOK(hold)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, IdleTimeout: time.Minute, MaxConnsPerHost: 1})
		defer c.Close()
		defer release()
		const url = "http://10.255.0.1:80"
		held := startRequestAfterStaleIdleConn(t, c, url)
		require.Equal(t, 2, srv.dialed)

		// A long request: the reaper prunes the "empty" host meanwhile.
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		assert.Equal(t, 1, c.Stats().InUse)
		assert.Equal(t, 1, asynchttp.HostCount(c), "a host with a conn in use stays in the map")

		second := make(chan error, 1)
		go func() {
			_, _, err := get(t.Context(), c, "GET", url+"/")
			second <- err
		}()
		synctest.Wait()
		srv.mu.Lock()
		dialed := srv.dialed
		srv.mu.Unlock()
		assert.Equal(t, 2, dialed, "MaxConnsPerHost 1: the second request waits for the held conn")
		assert.LessOrEqual(t, c.Stats().Open, 1, "open conns to one host over MaxConnsPerHost")

		release()
		require.NoError(t, <-held)
		require.NoError(t, <-second)
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

// TestHostMapStaysBounded touches 10,000 host names, all dialed to one
// server on 127.0.0.1 by a custom Dial: under a total cap idle conns of old
// hosts are evicted, their hosts leave the map, and the heap comes back.
func TestHostMapStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var d net.Dialer
	c := newClient(t, asynchttp.Config{
		MaxTotalConns: 32,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, srv.Addr())
		},
	})
	ctx := testCtx(t)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// Warm up once so the baseline includes the client's own buffers.
	_, _, err := get(ctx, c, "GET", "http://warmup.test/")
	require.NoError(t, err)
	c.CloseIdleConnections()
	base := heap()

	const hosts = 10000
	var next atomic.Int32
	var maxHosts atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > hosts {
					return
				}
				_, _, err := get(ctx, c, "GET", "http://h"+strconv.Itoa(int(i))+".test/")
				if !assert.NoError(t, err) {
					return
				}
				if n := int32(asynchttp.ActiveHostCount(c)); n > maxHosts.Load() {
					maxHosts.Store(n)
				}
				if n := asynchttp.HostCount(c); n > 32+8+256 {
					t.Errorf("%d hosts in the map: empty hosts must not pile up", n)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, int(maxHosts.Load()), 32+8, "hosts with conns or waiters at any time")
	assert.LessOrEqual(t, asynchttp.ActiveHostCount(c), 32)
	assert.LessOrEqual(t, asynchttp.HostCount(c), 32+256, "at most 256 empty hosts linger")
	st := c.Stats()
	assert.Equal(t, uint64(hosts+1), st.Created, "one conn per host")
	assert.GreaterOrEqual(t, st.ClosedBy[asynchttp.CloseEvicted], uint64(hosts-32))
	c.CloseIdleConnections()
	assert.Zero(t, asynchttp.ActiveHostCount(c))
	assert.Equal(t, 256, asynchttp.HostCount(c), "the 256 most recently emptied hosts linger")
	grown := int64(heap()) - int64(base)
	t.Logf("heap: base %d B, after 10,000 hosts %+d B", base, grown)
	assert.Less(t, grown, int64(1<<20), "heap back near its baseline")
}
