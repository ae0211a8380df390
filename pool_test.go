// Pool behaviour observed from real servers on 127.0.0.1: caps, eviction,
// idle cap, timeouts, lifetime, waiter order, and the host map's size.

package asynchttp_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate holds handlers until it is opened, so a test controls how many
// requests are in flight at once.
type gate struct {
	ch     chan struct{}
	once   sync.Once
	inside atomic.Int32
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

func (g *gate) wait(r *http.Request) {
	g.inside.Add(1)
	select {
	case <-g.ch:
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func okHandler(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }

// holdServer answers "ok", holding requests for /hold at its gate until
// the gate opens.
func holdServer(t *testing.T) (*testserver.Counting, *gate) {
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.wait(r)
		}
		okHandler(w, r)
	}))
	return srv, g
}

func TestPerHostCap(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 4})
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			code, body, err := get(ctx, c, "GET", srv.URL()+"/")
			if err == nil && (code != 200 || body != "ok") {
				err = fmt.Errorf("got %d %q", code, body)
			}
			errs <- err
		})
	}
	// Four requests reach the server; the other 60 wait for a slot.
	eventually(t, "4 in flight, 60 waiting", func() bool {
		return g.inside.Load() == 4 && c.Stats().Waiting == 60
	})
	g.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, srv.MaxOpen(), 4)
	assert.Equal(t, 4, srv.Accepted())
	st := c.Stats()
	assert.Equal(t, uint64(4), st.Created)
	assert.Equal(t, uint64(60), st.Reused)
	assert.Equal(t, 4, st.Idle)
}

// multiServer is one net/http server listening on several ports (hosts),
// counting the connections open across all of them.
type multiServer struct {
	srv           *http.Server
	urls          []string
	mu            sync.Mutex
	open, maxOpen int
}

func newMultiServer(t *testing.T, n int, h http.Handler) *multiServer {
	m := &multiServer{}
	m.srv = &http.Server{Handler: h, ConnState: func(_ net.Conn, st http.ConnState) {
		m.mu.Lock()
		defer m.mu.Unlock()
		switch st {
		case http.StateNew:
			m.open++
			m.maxOpen = max(m.maxOpen, m.open)
		case http.StateClosed, http.StateHijacked:
			m.open--
		}
	}}
	var wg sync.WaitGroup
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		m.urls = append(m.urls, "http://"+ln.Addr().String())
		wg.Go(func() { m.srv.Serve(ln) })
	}
	t.Cleanup(func() {
		m.srv.Close()
		wg.Wait()
	})
	return m
}

func (m *multiServer) counts() (open, maxOpen int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open, m.maxOpen
}

// countingDialer dials like net.Dialer and counts the conns it made that
// are not closed yet: the client-side view of the caps, exact even while a
// server has not yet seen the FIN of a conn the client closed.
type countingDialer struct {
	mu            sync.Mutex
	open, maxOpen int
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.open--
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}

func (d *countingDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.open++
	d.maxOpen = max(d.maxOpen, d.open)
	d.mu.Unlock()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		d.mu.Lock()
		d.open--
		d.mu.Unlock()
		return nil, err
	}
	return &countedConn{Conn: nc, d: d}, nil
}

func (d *countingDialer) max() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.maxOpen
}

func TestTotalCapAcrossHosts(t *testing.T) {
	var d countingDialer
	c := newClient(t, asynchttp.Config{MaxTotalConns: 8, Dial: d.Dial})
	g := newGate()
	m := newMultiServer(t, 4, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 64 {
		wg.Go(func() {
			code, _, err := get(ctx, c, "GET", m.urls[i%4]+"/")
			if err != nil || code != 200 {
				failed.Add(1)
			}
		})
	}
	eventually(t, "8 in flight, 56 waiting", func() bool {
		return g.inside.Load() == 8 && c.Stats().Waiting == 56
	})
	open, maxOpen := m.counts()
	assert.Equal(t, 8, open, "the server sees 8 conns while the cap is full")
	assert.Equal(t, 8, maxOpen)
	g.open()
	wg.Wait()
	assert.Zero(t, failed.Load())
	// After the gate opens, hosts whose queue runs dry give their idle
	// conns up to hosts that still wait: each conn is closed before its
	// replacement is dialed, so the client never has more than 8 open.
	// (The server may count a closed conn a moment longer, until it reads
	// the FIN, so the exact figure is the dialer's.)
	assert.LessOrEqual(t, d.max(), 8)
	assert.LessOrEqual(t, c.Stats().Open, 8)
}

func TestIdleConnOfOtherHostIsEvicted(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxTotalConns: 2, AcquireTimeout: -1})
	g := newGate()
	a := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	b := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	// Two conns to A, both idle afterwards: the total cap is full.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			_, _, err := get(ctx, c, "GET", a.URL())
			assert.NoError(t, err)
		})
	}
	eventually(t, "2 in flight", func() bool { return g.inside.Load() == 2 })
	g.open()
	wg.Wait()
	require.Equal(t, 2, c.Stats().Idle)

	// B gets a slot at once (AcquireTimeout < 0 would fail otherwise):
	// A's least recently used idle conn is closed for it.
	code, _, err := get(ctx, c, "GET", b.URL())
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	st := c.Stats()
	assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseEvicted])
	assert.Equal(t, 1, st.Hosts[a.URL()].Idle)
	assert.Equal(t, 2, st.Open)
	a.WaitOpen(t, 1, 5*time.Second)
}

func TestMaxIdleConnsPerHostAfterBurst(t *testing.T) {
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

func TestIdleTimeoutSeenByServer(t *testing.T) {
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

func TestLifetimeRetiresConns(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnLifetime: 50 * time.Millisecond, IdleTimeout: time.Hour})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
	srv.WaitOpen(t, 0, 5*time.Second)
	assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseLifetime])
	_, _, err = get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Accepted())
}

func TestWaitersServedInArrivalOrder(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	g := newGate()
	var mu sync.Mutex
	var order []string
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.wait(r)
		}
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _, err := get(ctx, c, "GET", srv.URL()+"/hold")
		assert.NoError(t, err)
	})
	eventually(t, "holder in flight", func() bool { return g.inside.Load() == 1 })
	var want []string
	for i := range 8 {
		path := "/" + strconv.Itoa(i)
		want = append(want, path)
		wg.Go(func() {
			_, _, err := get(ctx, c, "GET", srv.URL()+path)
			assert.NoError(t, err)
		})
		eventually(t, "waiter queued", func() bool { return c.Stats().Waiting == i+1 })
	}
	g.open()
	wg.Wait()
	assert.Equal(t, append([]string{"/hold"}, want...), order)
	assert.Equal(t, 1, srv.Accepted())
}

func TestAcquireLimits(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cfg   asynchttp.Config
		ctx   time.Duration
		check func(t *testing.T, err error)
	}{
		{"fail-fast", asynchttp.Config{MaxConnsPerHost: 1, AcquireTimeout: -1}, 0, func(t *testing.T, err error) {
			require.ErrorIs(t, err, asynchttp.ErrTooManyConns)
		}},
		{"acquire-timeout", asynchttp.Config{MaxConnsPerHost: 1, AcquireTimeout: 30 * time.Millisecond}, 0, func(t *testing.T, err error) {
			require.ErrorIs(t, err, asynchttp.ErrTooManyConns)
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout())
		}},
		{"context-deadline", asynchttp.Config{MaxConnsPerHost: 1}, 30 * time.Millisecond, func(t *testing.T, err error) {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout())
		}},
		{"total-cap-fail-fast", asynchttp.Config{MaxTotalConns: 1, AcquireTimeout: -1}, 0, func(t *testing.T, err error) {
			require.ErrorIs(t, err, asynchttp.ErrTooManyConns)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			srv, g := holdServer(t)
			t.Cleanup(g.open)
			ctx := testCtx(t)
			done := make(chan error, 1)
			go func() {
				_, _, err := get(ctx, c, "GET", srv.URL()+"/hold")
				done <- err
			}()
			eventually(t, "first request in flight", func() bool { return g.inside.Load() == 1 })
			wctx := ctx
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			_, _, err := get(wctx, c, "GET", srv.URL()+"/second")
			tt.check(t, err)
			assert.Zero(t, c.Stats().Waiting)
			g.open()
			require.NoError(t, <-done)
			// The slot is usable again.
			_, _, err = get(ctx, c, "GET", srv.URL()+"/third")
			require.NoError(t, err)
			assert.Equal(t, 1, srv.Accepted())
		})
	}
}

func TestMaxPendingPerHost(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, MaxPendingPerHost: 2})
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, _, err := get(ctx, c, "GET", srv.URL())
			assert.NoError(t, err)
		})
	}
	eventually(t, "1 in flight and 2 waiting", func() bool {
		return g.inside.Load() == 1 && c.Stats().Waiting == 2
	})
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.ErrorIs(t, err, asynchttp.ErrTooManyPending)
	g.open()
	wg.Wait()
}

func TestCloseFailsWaitersAndLaterCalls(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	g := newGate()
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.wait(r)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	holder := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); holder <- err }()
	eventually(t, "holder in flight", func() bool { return g.inside.Load() == 1 })
	waiter := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); waiter <- err }()
	eventually(t, "waiter queued", func() bool { return c.Stats().Waiting == 1 })

	require.NoError(t, c.Close())
	require.ErrorIs(t, <-waiter, asynchttp.ErrClientClosed)
	g.open()
	require.NoError(t, <-holder, "a request in flight completes")
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.ErrorIs(t, err, asynchttp.ErrClientClosed)
	st := c.Stats()
	assert.Zero(t, st.Open, "the in-use conn was closed on release")
	srv.WaitOpen(t, 0, 5*time.Second)
}

func TestCloseIdleConnections(t *testing.T) {
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
