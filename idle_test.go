// Idle conns: IdleTimeout (and the server's Keep-Alive timeout),
// MaxIdleConnsPerHost, LIFO/FIFO idle order, CloseIdleConnections.

package asynchttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdleTimeoutClosesConnThenHostLeaves(t *testing.T) {
	c := newClient(t, asynchttp.Config{IdleTimeout: 50 * time.Millisecond})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	_, _, err := get(testCtx(t), c, "GET", srv.URL())
	require.NoError(t, err)
	srv.WaitOpen(t, 0, 5*time.Second)
	eventually(t, "closed by idle timeout", func() bool {
		return c.Stats().ClosedBy[asynchttp.CloseIdleTimeout] == 1
	})
	// The empty host lingers for IdleTimeout with its counters, then goes.
	eventually(t, "the empty host leaves the map", func() bool { return asynchttp.HostCount(c) == 0 })
}

func TestDefaultIdleTimeoutClosesIdleConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: serveOK(nil)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial})
		defer c.Close()
		_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/")
		require.NoError(t, err)
		require.Equal(t, 1, c.Stats().Idle)

		time.Sleep(asynchttp.DefaultIdleTimeout - time.Second)
		synctest.Wait()
		assert.Equal(t, 1, c.Stats().Idle, "still idle just before the timeout")

		time.Sleep(2 * time.Second)
		synctest.Wait()
		st := c.Stats()
		assert.Zero(t, st.Open)
		assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseIdleTimeout])
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

func TestServerKeepAliveTimeoutClosesIdleConnFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: func(nc net.Conn) {
			br := bufio.NewReader(nc)
			for {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n")
			}
		}}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial}) // IdleTimeout 90s
		defer c.Close()
		_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1/")
		require.NoError(t, err)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1, c.Stats().Idle)
		time.Sleep(2 * time.Second) // 5s: the server would close now; we did first
		synctest.Wait()
		assert.Zero(t, c.Stats().Open)
		assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseIdleTimeout])
	})
}

func TestMaxIdleConnsPerHostClosesExtraAfterBurst(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxIdleConnsPerHost: 2})
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, _, err := get(ctx, c, "GET", srv.URL())
			assert.NoError(t, err)
		})
	}
	eventually(t, "10 in flight", func() bool { return g.inside.Load() == 10 })
	g.open()
	wg.Wait()
	st := c.Stats()
	assert.Equal(t, 2, st.Idle)
	assert.Equal(t, uint64(8), st.ClosedBy[asynchttp.CloseIdleCap])
	srv.WaitOpen(t, 2, 5*time.Second)
}

func TestFIFOIdleOrderSpreadsUse(t *testing.T) {
	for _, tt := range []struct {
		name  string
		order asynchttp.IdleOrder
		conns int // distinct server conns serving the sequential requests
	}{
		{"LIFO", asynchttp.LIFO, 1},
		{"FIFO", asynchttp.FIFO, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{IdleOrder: tt.order})
			g := newGate()
			var mu sync.Mutex
			seen := map[string]bool{}
			srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/warm" {
					g.wait(r)
				} else {
					mu.Lock()
					seen[r.RemoteAddr] = true
					mu.Unlock()
				}
				okHandler(w, r)
			}))
			ctx := testCtx(t)
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/warm"); assert.NoError(t, err) })
			}
			eventually(t, "3 in flight", func() bool { return g.inside.Load() == 3 })
			g.open()
			wg.Wait()
			for range 3 {
				_, _, err := get(ctx, c, "GET", srv.URL()+"/seq")
				require.NoError(t, err)
			}
			assert.Len(t, seen, tt.conns)
		})
	}
}

func TestCloseIdleConnectionsClosesIdleConns(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	_, _, err := get(testCtx(t), c, "GET", srv.URL())
	require.NoError(t, err)
	require.Equal(t, 1, c.Stats().Idle)
	c.CloseIdleConnections()
	assert.Zero(t, c.Stats().Open)
	assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseIdleClosed])
	srv.WaitOpen(t, 0, 5*time.Second)
}
