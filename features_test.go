// Pool controls beyond the core: events, MaxRequestsPerConn, lifetime
// jitter, Keep-Alive timeouts, DrainHost, Prewarm, Bootstrap, wait and age
// stats, multi-address hosts and rebalancing, and httptrace.

package asynchttp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
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

// eventLog records pool events.
type eventLog struct {
	mu                          sync.Mutex
	created, acquired, released int
	reusedAcq                   int
	closed                      map[asynchttp.CloseReason]int
}

func (l *eventLog) events() asynchttp.Events {
	l.closed = map[asynchttp.CloseReason]int{}
	return asynchttp.Events{
		ConnCreated: func(asynchttp.ConnInfo) { l.mu.Lock(); l.created++; l.mu.Unlock() },
		ConnAcquired: func(_ asynchttp.ConnInfo, reused bool) {
			l.mu.Lock()
			l.acquired++
			if reused {
				l.reusedAcq++
			}
			l.mu.Unlock()
		},
		ConnReleased: func(asynchttp.ConnInfo) { l.mu.Lock(); l.released++; l.mu.Unlock() },
		ConnClosed: func(_ asynchttp.ConnInfo, why asynchttp.CloseReason) {
			l.mu.Lock()
			l.closed[why]++
			l.mu.Unlock()
		},
	}
}

func TestEventsAndMaxRequestsPerConn(t *testing.T) {
	var log eventLog
	c := newClient(t, asynchttp.Config{MaxRequestsPerConn: 3, Events: log.events()})
	var mu sync.Mutex
	var closing []bool
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		closing = append(closing, r.Close)
		mu.Unlock()
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	for range 7 {
		_, _, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
	}
	assert.Equal(t, 3, srv.Accepted(), "3 + 3 + 1 requests")
	assert.Equal(t, []bool{false, false, true, false, false, true, false}, closing,
		"the request that retires a conn says Connection: close")
	st := c.Stats()
	assert.Equal(t, uint64(2), st.ClosedBy[asynchttp.CloseMaxRequests])

	log.mu.Lock()
	defer log.mu.Unlock()
	assert.Equal(t, 3, log.created)
	assert.Equal(t, 7, log.acquired)
	assert.Equal(t, 4, log.reusedAcq)
	assert.Equal(t, 7, log.released)
	assert.Equal(t, 2, log.closed[asynchttp.CloseMaxRequests])
}

// TestSlowEventCallbackDoesNotStallThePool: a ConnReleased callback that
// blocks holds up its own goroutine only.
func TestSlowEventCallbackDoesNotStallThePool(t *testing.T) {
	block := make(chan struct{})
	var first atomic.Bool
	c := newClient(t, asynchttp.Config{Events: asynchttp.Events{
		ConnReleased: func(asynchttp.ConnInfo) {
			if first.CompareAndSwap(false, true) {
				<-block
			}
		},
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	slow := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); slow <- err }()
	eventually(t, "first callback blocking", first.Load)
	for range 5 {
		_, _, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err, "other callers go on")
	}
	st := c.Stats() // the pool's lock is free
	assert.Equal(t, 1, st.InUse, "the blocked caller's conn")
	close(block)
	require.NoError(t, <-slow)
}

// TestPanickingEventCallbacks: a panic in any Events callback is recovered
// and counted; no request fails and no conn is stranded.
func TestPanickingEventCallbacks(t *testing.T) {
	boom := func() { panic("callback bug") }
	c := newClient(t, asynchttp.Config{MaxRequestsPerConn: 2, MaxConnsPerHost: 1, Events: asynchttp.Events{
		ConnCreated:  func(asynchttp.ConnInfo) { boom() },
		ConnAcquired: func(asynchttp.ConnInfo, bool) { boom() },
		ConnReleased: func(asynchttp.ConnInfo) { boom() },
		ConnClosed:   func(asynchttp.ConnInfo, asynchttp.CloseReason) { boom() },
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	for range 4 {
		_, _, err := get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, "GET", srv.URL(), nil)
	require.NoError(t, err)
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	st := c.Stats()
	assert.Zero(t, st.InUse, "no conn stranded in use")
	// 3 conns created, 5 acquired, 5 released, 2 closed by MaxRequestsPerConn.
	assert.Equal(t, uint64(3+5+5+2), st.EventPanics)
}

func TestLifetimeJitterSpreadsRetirement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		srv := &pipeServer{serve: serveOK(hold)}
		const n = 32
		c := asynchttp.New(asynchttp.Config{
			Dial: srv.dial, MaxConnLifetime: 10 * time.Minute, LifetimeJitter: 0.5, IdleTimeout: time.Hour,
		})
		defer c.Close()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, _, err := get(t.Context(), c, "GET", "http://10.255.0.1/hold")
				assert.NoError(t, err)
			})
		}
		synctest.Wait()
		close(hold)
		wg.Wait()
		require.Equal(t, n, c.Stats().Idle, "all made at the same instant")
		time.Sleep(5*time.Minute - time.Second)
		synctest.Wait()
		assert.Equal(t, n, c.Stats().Idle, "no lifetime is shorter than (1-jitter)·MaxConnLifetime")
		time.Sleep(2*time.Minute + 30*time.Second)
		synctest.Wait()
		mid := c.Stats().Idle
		assert.Greater(t, mid, 0, "some retire later")
		assert.Less(t, mid, n, "some retire earlier")
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		assert.Zero(t, c.Stats().Idle, "none outlives MaxConnLifetime")
	})
}

func TestServerKeepAliveTimeoutHonoured(t *testing.T) {
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

func TestDrainHost(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	g := newGate()
	var lastClose atomic.Bool
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			g.wait(r)
			lastClose.Store(r.Close)
		}
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/warm"); assert.NoError(t, err) })
	}
	wg.Wait()
	// Idle conns (one or two), then one more in use.
	held := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/hold"); held <- err }()
	eventually(t, "held", func() bool { return g.inside.Load() == 1 })
	before := c.Stats()
	require.Equal(t, 1, before.InUse)
	idleBefore := before.Idle

	ok, err := c.DrainHost(srv.URL())
	require.NoError(t, err)
	assert.True(t, ok)
	st := c.Stats()
	assert.Zero(t, st.Idle)
	assert.Equal(t, uint64(idleBefore), st.ClosedBy[asynchttp.CloseDrained])
	g.open()
	require.NoError(t, <-held)
	assert.Zero(t, c.Stats().Open, "the in-use conn closed on release")
	assert.Equal(t, uint64(idleBefore+1), c.Stats().ClosedBy[asynchttp.CloseDrained])

	// New connections are not affected.
	_, _, err = get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
	assert.Equal(t, 1, c.Stats().Idle)

	_, err = c.DrainHost("http://bad host/")
	require.ErrorIs(t, err, asynchttp.ErrInvalidRequest)
	ok, err = c.DrainHost("http://127.0.0.1:1")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestPrewarm(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 3})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	n, err := c.Prewarm(testCtx(t), srv.URL(), 5)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "capped by MaxConnsPerHost")
	assert.Equal(t, 3, c.Stats().Idle)
	srv.WaitOpen(t, 3, 5*time.Second)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _, _, err := get(ctx, c, "GET", srv.URL()); assert.NoError(t, err) })
	}
	wg.Wait()
	assert.Equal(t, uint64(3), c.Stats().Created, "the burst dialed nothing")

	n, err = c.Prewarm(testCtx(t), "http://127.0.0.1:1", 2)
	require.Error(t, err, "nothing listens there")
	assert.Zero(t, n)
}

func TestBootstrap(t *testing.T) {
	var calls atomic.Int32
	fail := errors.New("handshake refused")
	c := newClient(t, asynchttp.Config{Bootstrap: func(ctx context.Context, nc net.Conn) error {
		if calls.Add(1) == 1 {
			return fail
		}
		return nc.(*net.TCPConn).SetNoDelay(true)
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx := testCtx(t)
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.ErrorIs(t, err, fail)
	assert.Zero(t, c.Stats().Open)
	for range 3 {
		_, _, err = get(ctx, c, "GET", srv.URL())
		require.NoError(t, err)
	}
	assert.Equal(t, int32(2), calls.Load(), "once per new connection")
}

func TestWaitAndAgeStats(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	srv, g := holdServer(t)
	ctx := testCtx(t)
	held := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()+"/hold"); held <- err }()
	eventually(t, "held", func() bool { return g.inside.Load() == 1 })
	waited := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srv.URL()); waited <- err }()
	eventually(t, "queued", func() bool { return c.Stats().Waiting == 1 })
	g.open()
	require.NoError(t, <-held)
	require.NoError(t, <-waited)
	st := c.Stats()
	h := st.Hosts[srv.URL()]
	assert.Equal(t, uint64(1), h.Waits)
	assert.Positive(t, h.WaitTime)
	assert.Equal(t, h.WaitTime, h.MaxWait)
	assert.Positive(t, h.OldestConn)
	assert.Equal(t, h.OldestConn, h.MeanConnAge, "one conn")
	assert.Equal(t, uint64(1), st.Waits)
}

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
		DNSDone: func(httptrace.DNSDoneInfo) { dnsDone.Add(1) },
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

// TestRebalanceAfterRestart: three servers behind one name; one restarts
// and loses its connections to the other two. MaxConnLifetime (with
// jitter) moves connections back to it within a few lifetimes.
func TestRebalanceAfterRestart(t *testing.T) {
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

// traceLog records the httptrace hooks called, in order.
type traceLog struct {
	mu     sync.Mutex
	events []string
	got    []httptrace.GotConnInfo
}

func (l *traceLog) add(s string) { l.mu.Lock(); l.events = append(l.events, s); l.mu.Unlock() }

func (l *traceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { l.add("GetConn") },
		GotConn: func(i httptrace.GotConnInfo) {
			l.mu.Lock()
			l.got = append(l.got, i)
			l.mu.Unlock()
			l.add("GotConn")
		},
		PutIdleConn:          func(err error) { l.add(fmt.Sprintf("PutIdleConn(%v)", err == nil)) },
		ConnectStart:         func(string, string) { l.add("ConnectStart") },
		ConnectDone:          func(_, _ string, err error) { l.add("ConnectDone") },
		TLSHandshakeStart:    func() { l.add("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { l.add("TLSHandshakeDone") },
		WroteHeaders:         func() { l.add("WroteHeaders") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { l.add("WroteRequest") },
		GotFirstResponseByte: func() { l.add("GotFirstResponseByte") },
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			l.add(fmt.Sprintf("Got1xx(%d,%s)", code, h.Get("Link")))
			return nil
		},
	}
}

func (l *traceLog) take() ([]string, []httptrace.GotConnInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, g := l.events, l.got
	l.events, l.got = nil, nil
	return e, g
}

func TestHTTPTrace(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</a.css>")
			w.WriteHeader(103)
		}
		okHandler(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := newClient(t, asynchttp.Config{TLSConfig: &tls.Config{RootCAs: roots}})
	var l traceLog
	ctx := httptrace.WithClientTrace(testCtx(t), l.trace())

	// Through Do.
	_, _, err := get(ctx, c, "GET", srv.URL+"/")
	require.NoError(t, err)
	events, got := l.take()
	assert.Equal(t, []string{"GetConn", "ConnectStart", "ConnectDone", "TLSHandshakeStart", "TLSHandshakeDone",
		"GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte", "PutIdleConn(true)"}, events)
	require.Len(t, got, 1)
	assert.False(t, got[0].Reused)

	// Through RoundTrip, reusing the conn, with a 103 on the way.
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/hints", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: c}).Do(req)
	require.NoError(t, err)
	io.ReadAll(resp.Body)
	resp.Body.Close()
	events, got = l.take()
	assert.Equal(t, []string{"GetConn", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte",
		"Got1xx(103,</a.css>)", "PutIdleConn(true)"}, events)
	require.Len(t, got, 1)
	assert.True(t, got[0].Reused)
	assert.True(t, got[0].WasIdle)
	assert.Positive(t, got[0].IdleTime)
	assert.NotNil(t, resp.TLS, "RoundTrip fills resp.TLS")
}

// TestDrainHostCatchesDials: a conn being dialed when DrainHost runs is
// retired when released, like the conns in use.
func TestDrainHostCatchesDials(t *testing.T) {
	dialing := make(chan struct{})
	proceed := make(chan struct{})
	var d net.Dialer
	var first atomic.Bool
	c := newClient(t, asynchttp.Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if first.CompareAndSwap(false, true) {
			close(dialing)
			<-proceed
		}
		return d.DialContext(ctx, network, addr)
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	done := make(chan error, 1)
	go func() { _, _, err := get(testCtx(t), c, "GET", srv.URL()); done <- err }()
	<-dialing
	ok, err := c.DrainHost(srv.URL())
	require.NoError(t, err)
	assert.True(t, ok, "the host is in the pool while its conn dials")
	close(proceed)
	require.NoError(t, <-done)
	st := c.Stats()
	assert.Zero(t, st.Open)
	assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseDrained])
}

// TestPanickingHooksGiveBackTheirConn: the caller's code that runs while
// the pool holds a slot or a conn for it (Config.Dial, Bootstrap, httptrace
// hooks) may panic; a caller that recovers (an HTTP server does) finds the
// pool whole: nothing in use, and with MaxConnsPerHost 1 the next request
// goes through.
func TestPanickingHooksGiveBackTheirConn(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		okHandler(w, r)
	}))
	var armed atomic.Bool
	boom := func() {
		if armed.CompareAndSwap(true, false) {
			panic("hook bug")
		}
	}
	var d net.Dialer
	for _, tt := range []struct {
		name  string
		cfg   func(*asynchttp.Config)
		trace *httptrace.ClientTrace
		post  bool
	}{
		{name: "Dial", cfg: func(c *asynchttp.Config) {
			c.Dial = func(ctx context.Context, n, a string) (net.Conn, error) { boom(); return d.DialContext(ctx, n, a) }
		}},
		{name: "Bootstrap", cfg: func(c *asynchttp.Config) {
			c.Bootstrap = func(context.Context, net.Conn) error { boom(); return nil }
		}},
		{name: "GotConn", trace: &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { boom() }}},
		{name: "WroteHeaders", trace: &httptrace.ClientTrace{WroteHeaders: boom}},
		{name: "GotFirstResponseByte, body still streaming", post: true,
			trace: &httptrace.ClientTrace{GotFirstResponseByte: boom}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := asynchttp.Config{MaxConnsPerHost: 1}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newClient(t, cfg)
			ctx := testCtx(t)
			if tt.trace != nil {
				ctx = httptrace.WithClientTrace(ctx, tt.trace)
			}
			do := func() (err error, panicked any) {
				defer func() { panicked = recover() }()
				req := asynchttp.AcquireRequest()
				resp := asynchttp.AcquireResponse()
				defer asynchttp.ReleaseRequest(req)
				defer asynchttp.ReleaseResponse(resp)
				req.SetRequestURI(srv.URL())
				if tt.post {
					req.SetMethod("POST")
					req.SetBody(bytes.Repeat([]byte("x"), 1<<20)) // sent by a goroutine
				}
				return c.Do(ctx, req, resp), nil
			}
			armed.Store(true)
			_, panicked := do()
			require.Equal(t, "hook bug", panicked)
			st := c.Stats()
			assert.Zero(t, st.InUse, "nothing stranded in use")
			assert.Zero(t, st.Dialing)
			err, panicked := do()
			require.Nil(t, panicked)
			require.NoError(t, err, "the next request gets the host's one slot")
		})
	}
}

// TestGoexitInHooksGivesBackTheirConn: runtime.Goexit in a hook (what
// t.FailNow does) ends the caller's goroutine without a panic to recover;
// the pool gives back the slot or conn all the same.
func TestGoexitInHooksGivesBackTheirConn(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var armed atomic.Bool
	exit := func() {
		if armed.CompareAndSwap(true, false) {
			runtime.Goexit()
		}
	}
	var d net.Dialer
	for _, tt := range []struct {
		name  string
		dial  func(ctx context.Context, n, a string) (net.Conn, error)
		trace *httptrace.ClientTrace
	}{
		{name: "Dial", dial: func(ctx context.Context, n, a string) (net.Conn, error) { exit(); return d.DialContext(ctx, n, a) }},
		{name: "GotConn", trace: &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { exit() }}},
		{name: "GotFirstResponseByte", trace: &httptrace.ClientTrace{GotFirstResponseByte: exit}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, Dial: tt.dial})
			ctx := testCtx(t)
			if tt.trace != nil {
				ctx = httptrace.WithClientTrace(ctx, tt.trace)
			}
			armed.Store(true)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				get(ctx, c, "GET", srv.URL())
				t.Error("the hook's runtime.Goexit did not end the caller")
			}()
			select {
			case <-ended:
			case <-ctx.Done():
				t.Fatal("the caller did not end")
			}
			st := c.Stats()
			assert.Zero(t, st.InUse, "nothing stranded in use")
			assert.Zero(t, st.Dialing)
			_, _, err := get(ctx, c, "GET", srv.URL())
			require.NoError(t, err, "the next request gets the host's one slot")
		})
	}
}

// TestPrewarmDialPanic: a Config.Dial that panics in one of Prewarm's dial
// goroutines makes Prewarm return a *PanicError instead of ending the
// process, and the other dials go on.
func TestPrewarmDialPanic(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	var armed atomic.Bool
	armed.Store(true)
	var d net.Dialer
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 3, Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		if armed.CompareAndSwap(true, false) {
			panic("dial bug")
		}
		return d.DialContext(ctx, n, a)
	}})
	n, err := c.Prewarm(testCtx(t), srv.URL(), 3)
	var pe *asynchttp.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "dial bug", pe.Value)
	assert.Equal(t, 2, n)
	st := c.Stats()
	assert.Equal(t, 2, st.Idle)
	assert.Zero(t, st.Dialing)
}

// panicReader panics on its first Read.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("body bug") }

// TestPanickingBodyStream: a request body whose Read panics runs in the
// body sender's goroutine, out of the caller's reach; the request fails
// with the *PanicError instead of ending the process, and the conn is not
// reused.
func TestPanickingBodyStream(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("POST")
	req.SetRequestURI(srv.URL())
	req.SetBodyStream(panicReader{}, -1)
	err := c.Do(ctx, req, resp)
	var pe *asynchttp.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "body bug", pe.Value)
	assert.Zero(t, c.Stats().InUse)
	_, _, err = get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
}
