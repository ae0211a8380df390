// Cancellation: a canceled context ends Do and RoundTrip in every phase,
// with its cause, and the engine's own deadlines never hide it.

package asynchttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookedConn wraps a client conn: it reports when the client sets a deadline in
// the past (the context watch's interrupt) and runs one-shot hooks after a
// successful Write or Read, on the client's goroutine.
type hookedConn struct {
	net.Conn
	interrupted chan struct{}
	once        sync.Once

	mu      sync.Mutex
	onWrite func()
	onRead  func()
}

func (c *hookedConn) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	if !t.IsZero() && t.Before(time.Now().Add(-time.Hour)) {
		c.once.Do(func() { close(c.interrupted) })
	}
	return err
}

func (c *hookedConn) take(f *func()) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := *f
	*f = nil
	return g
}

func (c *hookedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil {
		if f := c.take(&c.onWrite); f != nil {
			f()
		}
	}
	return n, err
}

func (c *hookedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if f := c.take(&c.onRead); f != nil {
			f()
		}
	}
	return n, err
}

// hookedDialer dials wrapped conns; onWrite and onRead, when set, become
// the hooks of the next conn dialed.
type hookedDialer struct {
	mu              sync.Mutex
	onWrite, onRead func(c *hookedConn)
	last            *hookedConn
}

func (d *hookedDialer) lastConn() *hookedConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func (c *hookedConn) setOnRead(f func()) {
	c.mu.Lock()
	c.onRead = f
	c.mu.Unlock()
}

func (d *hookedDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := &hookedConn{Conn: nc, interrupted: make(chan struct{})}
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
func cancelAndWaitInterrupt(cancel context.CancelFunc) func(c *hookedConn) {
	return func(c *hookedConn) {
		cancel()
		recvWithin(c.interrupted, 5*time.Second)
	}
}

func TestCancelMidRequestReturnsCause(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	reading := make(chan struct{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		testserver.ReadRequest(bufio.NewReader(nc))
		close(reading)
		nc.Read(make([]byte, 1))
	})
	ctx, cancel := context.WithCancelCause(testCtx(t))
	cause := errors.New("user gave up")
	go func() {
		<-reading
		cancel(cause)
	}()
	_, _, err := get(ctx, c, "GET", srv.URL())
	require.ErrorIs(t, err, cause)
	assert.Zero(t, c.Stats().Open)
	assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseCanceled])
}

// A context that ends between two steps of an exchange (right after the
// request is written, or right after the head arrives) ends the call, even
// though the engine sets read deadlines of its own at those steps: they
// must not overwrite the context watch's interrupt (a past deadline), or
// the cancel would wait for ResponseHeaderTimeout in the first case, and
// for as long as the server stalls the body in the second.
func TestCancelNotOverwrittenByDeadlineReset(t *testing.T) {
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
			d := &hookedDialer{}
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

// A canceled request context ends RoundTrip at once even while the request
// body stream blocks (a pipe whose writer stalls), as with net/http's
// Transport: the caller's goroutine is never stuck writing the body.
func TestRoundTripCancelWhileRequestBodyStalls(t *testing.T) {
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

func TestRoundTripCancelDuringResponseBody(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		testserver.ReadRequest(bufio.NewReader(nc))
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nsome")
		nc.Read(make([]byte, 1))
	})
	ctx, cancel := context.WithCancel(testCtx(t))
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL(), nil)
	require.NoError(t, err)
	resp, err := c.RoundTrip(req)
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	cancel()
	_, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, resp.Body.Close())
	assert.Zero(t, c.Stats().Open)
}

// Closing a streamed body while the Read that reaches its end is under
// way: Close interrupts the conn with a past deadline, and the Read still
// returns io.EOF. The conn, released and handed straight to a waiter (no
// liveness check), must not keep that past deadline on its socket: the
// waiter's request succeeds.
func TestBodyCloseRacingEOFLeavesConnUsable(t *testing.T) {
	d := &hookedDialer{}
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
		recvWithin(closed, 5*time.Second)
	})
	readDone := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); readDone <- err }()
	once.Do(func() { close(sendLast) })
	require.True(t, recvWithin(readDone, 10*time.Second), "body read finished")

	var r result
	select {
	case r = <-waiter:
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not served")
	}
	require.NoError(t, r.err, "the conn handed to the waiter carries the past deadline set by Close")
	assert.Equal(t, 200, r.code)
}
