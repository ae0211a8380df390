// Connection caps: MaxConnsPerHost, MaxTotalConns (with eviction of other
// hosts' idle conns), MaxPendingPerHost, and what a caller meets at a full
// cap: fail-fast, AcquireTimeout or its context's deadline.

package asynchttp_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

func TestPerHostCapQueuesTheRest(t *testing.T) {
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

func TestTotalCapHoldsAcrossHosts(t *testing.T) {
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

func TestTotalCapEvictsIdleConnOfOtherHost(t *testing.T) {
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

func TestAcquireAtCapFailsFastOrTimesOut(t *testing.T) {
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

func TestAcquireTimeoutWaitsExactlyItsDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		srv := &pipeServer{serve: serveOK(hold)}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, MaxConnsPerHost: 1, AcquireTimeout: time.Minute})
		defer c.Close()
		held := make(chan error, 1)
		go func() {
			_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/hold")
			held <- err
		}()
		synctest.Wait()
		start := time.Now()
		_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1:80/")
		require.ErrorIs(t, err, asynchttp.ErrTooManyConns)
		assert.Equal(t, time.Minute, time.Since(start), "waited exactly AcquireTimeout")
		close(hold)
		require.NoError(t, <-held)
		assert.Empty(t, asynchttp.CheckInvariants(c))
	})
}

func TestMaxPendingPerHostRefusesExtraWaiters(t *testing.T) {
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

func TestMaxIdleConnsCapsIdleConnsAcrossHosts(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxIdleConns: 2})
	ctx := testCtx(t)
	var srvs []*testserver.Counting
	for range 4 {
		srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
		srvs = append(srvs, srv)
		_, _, err := get(ctx, c, "GET", srv.URL()+"/")
		require.NoError(t, err)
	}
	st := c.Stats()
	assert.Equal(t, 2, st.Idle, "the two hosts used last keep theirs")
	assert.Equal(t, uint64(2), st.ClosedBy[asynchttp.CloseIdleCap])
	assert.Equal(t, 1, st.Hosts[srvs[3].URL()].Idle)
	assert.Equal(t, 1, st.Hosts[srvs[2].URL()].Idle)
	assert.Zero(t, st.Hosts[srvs[0].URL()].Idle)

	// The zero Config keeps at most DefaultMaxIdleConns; negative: no cap.
	unbounded := newClient(t, asynchttp.Config{MaxIdleConns: -1})
	for _, srv := range srvs {
		_, _, err := get(ctx, unbounded, "GET", srv.URL()+"/")
		require.NoError(t, err)
	}
	assert.Equal(t, 4, unbounded.Stats().Idle)
}
