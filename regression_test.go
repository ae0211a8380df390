// Regression tests: each one reproduces a bug found in review of the engine, now fixed.

package asynchttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rvWait waits on ch for at most d and reports whether it was closed or
// received from.
func rvWait[T any](ch <-chan T, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// rvConn wraps a client conn: it reports when the client sets a deadline in
// the past (the context watch's interrupt) and runs one-shot hooks after a
// successful Write or Read, on the client's goroutine.
type rvConn struct {
	net.Conn
	interrupted chan struct{}
	once        sync.Once

	mu      sync.Mutex
	onWrite func()
	onRead  func()
}

func (c *rvConn) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	if !t.IsZero() && t.Before(time.Now().Add(-time.Hour)) {
		c.once.Do(func() { close(c.interrupted) })
	}
	return err
}

func (c *rvConn) take(f *func()) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := *f
	*f = nil
	return g
}

func (c *rvConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil {
		if f := c.take(&c.onWrite); f != nil {
			f()
		}
	}
	return n, err
}

func (c *rvConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if f := c.take(&c.onRead); f != nil {
			f()
		}
	}
	return n, err
}

// rvDialer dials wrapped conns; arm sets the hooks of the next conn dialed.
type rvDialer struct {
	mu              sync.Mutex
	onWrite, onRead func(c *rvConn)
	last            *rvConn
}

func (d *rvDialer) lastConn() *rvConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func (c *rvConn) setOnRead(f func()) {
	c.mu.Lock()
	c.onRead = f
	c.mu.Unlock()
}

func (d *rvDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := &rvConn{Conn: nc, interrupted: make(chan struct{})}
	d.mu.Lock()
	if f := d.onWrite; f != nil {
		c.onWrite = func() { f(c) }
	}
	if f := d.onRead; f != nil {
		c.onRead = func() { f(c) }
	}
	d.onWrite, d.onRead = nil, nil
	d.last = c
	d.mu.Unlock()
	return c, nil
}

// cancelAndWaitInterrupt cancels the request's context from inside the
// client's I/O and waits until the context watch has set its past deadline.
func cancelAndWaitInterrupt(cancel context.CancelFunc) func(c *rvConn) {
	return func(c *rvConn) {
		cancel()
		rvWait(c.interrupted, 5*time.Second)
	}
}

// An idle conn keeps the socket deadline of the last caller's context. Once
// that deadline has passed, the liveness check (RawConn.Read) fails on the
// expired deadline and the healthy conn is thrown away as "server closed":
// callers with per-request timeouts never reuse a conn idle longer than
// their timeout.
func TestRegressionIdleConnSurvivesPreviousCallersDeadline(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	dl := time.Now().Add(200 * time.Millisecond)
	ctx1, cancel1 := context.WithDeadline(context.Background(), dl)
	defer cancel1()
	_, body, err := get(ctx1, c, "GET", srv.URL())
	require.NoError(t, err)
	require.Equal(t, "ok", body)

	// The scenario itself: the conn stays idle past the first caller's
	// deadline (and the socket timer set to it has fired).
	after, cancel2 := context.WithDeadline(context.Background(), dl.Add(100*time.Millisecond))
	defer cancel2()
	<-after.Done()

	_, body, err = get(testCtx(t), c, "GET", srv.URL())
	require.NoError(t, err)
	require.Equal(t, "ok", body)
	st := c.Stats()
	assert.Zero(t, st.ClosedBy[asynchttp.CloseServerClosed], "healthy idle conn discarded by the liveness check")
	assert.Equal(t, 1, srv.Accepted(), "the idle conn should have been reused")
}

// A caller waiting only for a total slot (its host has no conn) is failed
// by Close, but its host stays in the map: pool.close never drops it.
func TestRegressionCloseDropsHostsOfFailedWaiters(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxTotalConns: 1})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srvA := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "a")
	}))
	srvB := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "b")
	}))
	ctx := testCtx(t)
	holder := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srvA.URL()); holder <- err }()
	require.True(t, rvWait(entered, 10*time.Second), "holder in flight")
	waiter := make(chan error, 1)
	go func() { _, _, err := get(ctx, c, "GET", srvB.URL()); waiter <- err }()
	eventually(t, "waiter queued for a total slot", func() bool { return c.Stats().Waiting == 1 })

	require.NoError(t, c.Close())
	require.ErrorIs(t, <-waiter, asynchttp.ErrClientClosed)
	close(release)
	require.NoError(t, <-holder)
	assert.Empty(t, asynchttp.CheckInvariants(c), "after Close every host is empty and lingers")
	assert.Zero(t, asynchttp.ActiveHostCount(c), "hosts with conns or waiters after Close")
}

// A retry (fresh acquire) under a full MaxTotalConns evicts the LRU idle
// conn, which may be the last conn of its own host: reserveLocked retires
// the victim first, forgetLocked drops the now empty host from the map, and
// the new conn is then dialed into a hostPool that is no longer in the map.
// The total semaphore and the per-host counts drift apart for good.
func TestRegressionRetryEvictingOwnHostsLastIdleConn(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxTotalConns: 2})
	var mu sync.Mutex
	accepted := 0
	srvA := testserver.NewScripted(t, func(nc net.Conn) {
		mu.Lock()
		accepted++
		n := accepted
		mu.Unlock()
		br := bufio.NewReader(nc)
		for i := 0; ; i++ {
			if _, _, err := testserver.ReadRequest(br); err != nil {
				return
			}
			if n == 2 && i == 1 {
				return // conn Y: hang up on its second request, before any response byte
			}
			if testserver.Respond(nc, 200, "a") != nil {
				return
			}
		}
	})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srvB := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "b")
	}))
	ctx := testCtx(t)

	// Two idle conns to A: X idled first (the pool's LRU), then Y.
	rt := func() *http.Response {
		hreq, err := http.NewRequestWithContext(ctx, "GET", srvA.URL(), nil)
		require.NoError(t, err)
		resp, err := c.RoundTrip(hreq)
		require.NoError(t, err)
		return resp
	}
	rx, ry := rt(), rt()
	for _, r := range []*http.Response{rx, ry} {
		_, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		r.Body.Close()
	}
	require.Equal(t, 2, c.Stats().Idle)

	// A PUT takes Y (LIFO), which fails before any response byte; while
	// it rewinds its body, a request to B takes the slot Y freed.
	bDone := make(chan error, 1)
	req := asynchttp.AcquireRequest()
	defer asynchttp.ReleaseRequest(req)
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("PUT")
	req.SetRequestURI(srvA.URL())
	req.SetBodyStream(strings.NewReader("x"), 1)
	req.SetGetBody(func() (io.ReadCloser, error) {
		go func() { _, _, err := get(ctx, c, "GET", srvB.URL()); bDone <- err }()
		rvWait(entered, 10*time.Second)
		return io.NopCloser(strings.NewReader("x")), nil
	})
	require.NoError(t, c.Do(ctx, req, resp))
	assert.Equal(t, "a", string(resp.Body()))
	assert.Empty(t, asynchttp.CheckInvariants(c), "pool accounting after the retry")
	st := c.Stats()
	assert.Equal(t, st.Open, st.Hosts[srvA.URL()].Open+st.Hosts[srvB.URL()].Open,
		"Open over hosts must add up to the total")

	close(release)
	require.NoError(t, <-bDone)
}

// The context watch's interrupt (a past deadline) is overwritten by the
// engine's own SetReadDeadline/SetDeadline when the context ends between
// two steps of sendAndReadHead (do.go:336 and do.go:351). The cancel is
// then ignored: until ResponseHeaderTimeout in the first case, and for as
// long as the server stalls the body in the second.
func TestRegressionCancelNotOverwrittenByDeadlineReset(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write bool // cancel right after the request is written, else right after the head arrives
		rht   time.Duration
	}{
		{name: "after write, before the header wait", write: true, rht: 8 * time.Second},
		{name: "after the head, before the body", write: false, rht: 8 * time.Second},
		{name: "after the head, before the body, no ResponseHeaderTimeout", write: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &rvDialer{}
			c := newClient(t, asynchttp.Config{ResponseHeaderTimeout: tt.rht, Dial: d.dial})
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				br := bufio.NewReader(nc)
				if _, _, err := testserver.ReadRequest(br); err != nil {
					return
				}
				if !tt.write {
					io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
				}
				testserver.ReadRequest(br) // stall until the client hangs up
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.write {
				d.onWrite = cancelAndWaitInterrupt(cancel)
			} else {
				d.onRead = cancelAndWaitInterrupt(cancel)
			}
			done := make(chan error, 1)
			go func() { _, _, err := get(ctx, c, "GET", srv.URL()); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(3 * time.Second):
				t.Errorf("Do ignored the canceled context for 3s")
				srv.Close() // unblock it
				err = <-done
			}
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
}

// The request body is written synchronously by the caller's goroutine: a
// body stream that blocks (a pipe whose writer stalls) makes RoundTrip
// ignore req.Context() entirely. net/http's Transport returns at once.
func TestRegressionCancelWhileRequestBodyStalls(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		testserver.ReadRequest(br)
	})
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), pr)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := c.RoundTrip(hreq)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	_, err = pw.Write([]byte("first")) // returns once the client has read it
	require.NoError(t, err)
	cancel()
	select {
	case err = <-done:
	case <-time.After(3 * time.Second):
		t.Errorf("RoundTrip ignored the canceled context for 3s while the body stream blocked")
		pw.CloseWithError(errors.New("test gives up"))
		err = <-done
	}
	assert.ErrorIs(t, err, context.Canceled)
}

// A server that answers before reading the whole upload (413, 401, ...) and
// keeps the conn open: net/http returns the response. At HEAD (890bc61) the
// body was written inline and this timed out; the uncommitted send.go
// (concurrent body sender) fixes it. Kept as a regression guard.
func TestRegressionEarlyResponseDuringUpload(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	stop := make(chan struct{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		if _, err := http.ReadRequest(br); err != nil { // head only
			return
		}
		testserver.Respond(nc, 413, "too big", "Connection: close")
		<-stop
	})
	t.Cleanup(func() { close(stop) }) // runs before the server's Close
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), io.NopCloser(rvZeros{}))
	require.NoError(t, err)
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err, "net/http returns the early response")
	resp.Body.Close()
	assert.Equal(t, 413, resp.StatusCode)
}

type rvZeros struct{}

func (rvZeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Close of a streamed body racing with the Read that reaches its end: Close
// interrupts the conn (past deadline), the Read still returns io.EOF, and
// the conn is released with the past deadline on its socket while the
// cached conn.deadline says otherwise. Handed straight to a waiter (no
// liveness check), the next request fails at once with a timeout.
func TestRegressionBodyCloseRacingEOFPoisonsConn(t *testing.T) {
	d := &rvDialer{}
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, Dial: d.dial, DisableCompression: true})
	sendLast := make(chan struct{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for i := 0; ; i++ {
			if _, _, err := testserver.ReadRequest(br); err != nil {
				return
			}
			if i == 0 {
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n")
				<-sendLast
				io.WriteString(nc, "0\r\n\r\n")
				continue
			}
			if testserver.Respond(nc, 200, "next") != nil {
				return
			}
		}
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(sendLast) }) }) // before the server's Close

	hreq, err := http.NewRequestWithContext(context.Background(), "GET", srv.URL(), nil)
	require.NoError(t, err)
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	require.Equal(t, "ab", string(buf))

	// A second caller (no deadline) waits for the host's only slot.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	type result struct {
		code int
		err  error
	}
	waiter := make(chan result, 1)
	go func() {
		code, _, err := get(wctx, c, "GET", srv.URL())
		waiter <- result{code, err}
	}()
	eventually(t, "waiter queued", func() bool { return c.Stats().Waiting == 1 })

	// The next Read blocks on the socket for the last chunk. When it
	// arrives, and before that Read returns, Close the body from another
	// goroutine and let its interrupt hit the socket.
	cn := d.lastConn()
	require.NotNil(t, cn)
	cn.setOnRead(func() {
		closed := make(chan struct{})
		go func() { resp.Body.Close(); close(closed) }()
		rvWait(closed, 5*time.Second)
	})
	readDone := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); readDone <- err }()
	once.Do(func() { close(sendLast) })
	require.True(t, rvWait(readDone, 10*time.Second), "body read finished")

	var r result
	select {
	case r = <-waiter:
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not served")
	}
	require.NoError(t, r.err, "the conn handed to the waiter carries the past deadline set by Close")
	assert.Equal(t, 200, r.code)
}

type rvCloseTracker struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *rvCloseTracker) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// Expect: 100-continue answered at once by a final response: the body is
// never sent, the call succeeds, and the body stream is never closed
// (closeUnsent only runs on error). RoundTrip must always close the body.
func TestRegressionExpectContinueUnsentBodyIsClosed(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		if _, err := http.ReadRequest(br); err != nil { // head only
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		http.ReadRequest(br) // until the client hangs up
	})
	body := &rvCloseTracker{Reader: strings.NewReader("payload"), closed: make(chan struct{})}
	hreq, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL(), body)
	require.NoError(t, err)
	hreq.Header.Set("Expect", "100-continue")
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	assert.True(t, rvWait(body.closed, 5*time.Second), "request body never closed")
}
