// The request body handed to RoundTrip is closed exactly once on every
// path (success, early response, cancellation, refusal, dial error, retry),
// as net/http's RoundTripper contract promises. Each case also runs
// against net/http's Transport, the reference.

package asynchttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingBody is a request body that counts its Close calls. It serves
// size bytes (size < 0: endless until closed). With block set, Read waits
// until release is called or the body is closed (bounded by 20s).
type countingBody struct {
	closes atomic.Int32
	size   int64

	mu   sync.Mutex
	sent int64

	block       bool
	readStarted chan struct{}
	startOnce   sync.Once
	released    chan struct{}
	closed      chan struct{}
	closeOnce   sync.Once
}

func newCountingBody(size int64, block bool) *countingBody {
	return &countingBody{
		size:        size,
		block:       block,
		readStarted: make(chan struct{}),
		released:    make(chan struct{}),
		closed:      make(chan struct{}),
	}
}

var errBodyClosed = errors.New("countingBody: read after close")

func (b *countingBody) Read(p []byte) (int, error) {
	b.startOnce.Do(func() { close(b.readStarted) })
	if b.block {
		select {
		case <-b.released:
		case <-b.closed:
			return 0, errBodyClosed
		case <-time.After(20 * time.Second):
			return 0, errors.New("countingBody: never released nor closed")
		}
	}
	select {
	case <-b.closed:
		return 0, errBodyClosed
	default:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := int64(len(p))
	if b.size >= 0 {
		if left := b.size - b.sent; left < n {
			n = left
		}
		if n == 0 {
			return 0, io.EOF
		}
	}
	for i := range p[:n] {
		p[i] = 'x'
	}
	b.sent += n
	return int(n), nil
}

func (b *countingBody) Close() error {
	b.closes.Add(1)
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// bodyTransport is one RoundTripper under test and how to settle it: after
// settle returns (asynchttp: Close waited for the pool's goroutines), every
// body must have been closed; async says the closing may still be under
// way in a goroutine the transport does not wait for (net/http).
type bodyTransport struct {
	name   string
	rt     http.RoundTripper
	settle func()
	async  bool
}

func bodyTransports(t *testing.T) []bodyTransport {
	c := newClient(t, asynchttp.Config{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return []bodyTransport{
		{name: "asynchttp", rt: c, settle: func() { require.NoError(t, c.Close()) }},
		{name: "net/http", rt: tr, settle: tr.CloseIdleConnections, async: true},
	}
}

// requireClosedOnce checks, once the transport settled, that every body was
// closed exactly once.
func requireClosedOnce(t *testing.T, bt bodyTransport, bodies ...*countingBody) {
	t.Helper()
	bt.settle()
	for i, b := range bodies {
		if bt.async {
			eventually(t, "body closed", func() bool { return b.closes.Load() >= 1 })
		}
		assert.Equal(t, int32(1), b.closes.Load(), "body %d closes", i)
	}
}

// eachBodyTransport runs f as a subtest for every transport.
func eachBodyTransport(t *testing.T, f func(t *testing.T, bt bodyTransport)) {
	for _, bt := range bodyTransports(t) {
		t.Run(strings.ReplaceAll(bt.name, "/", "_"), func(t *testing.T) { f(t, bt) })
	}
}

func echoServer(t *testing.T) *testserver.Counting {
	return testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Got", itoa(n))
	}))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRoundTripClosesBufferedBodyOnceOnSuccess(t *testing.T) {
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		srv := echoServer(t)
		body := newCountingBody(5, false)
		var got []*countingBody
		req, err := http.NewRequestWithContext(testCtx(t), "PUT", srv.URL(), body)
		require.NoError(t, err)
		req.ContentLength = 5
		req.GetBody = func() (io.ReadCloser, error) {
			b := newCountingBody(5, false)
			got = append(got, b)
			return b, nil
		}
		resp, err := bt.rt.RoundTrip(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, "5", resp.Header.Get("X-Got"))
		requireClosedOnce(t, bt, append([]*countingBody{body}, got...)...)
	})
}

func TestRoundTripClosesStreamedBodyOnceOnSuccess(t *testing.T) {
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		srv := echoServer(t)
		body := newCountingBody(100_000, false)
		req, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL(), body)
		require.NoError(t, err)
		req.ContentLength = -1
		resp, err := bt.rt.RoundTrip(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, "100000", resp.Header.Get("X-Got"))
		requireClosedOnce(t, bt, body)
	})
}

// The server answers 413 with Connection: close right after the head,
// reading none of an endless body: the client must stop sending (closing
// the body) and close it once in all.
func TestRoundTripClosesBodyOnceOnEarlyResponse(t *testing.T) {
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		srv := testserver.NewScripted(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			if testserver.Respond(c, 413, "too big", "Connection: close") != nil {
				return
			}
			// Read what the client still sends until it hangs up, so
			// that no reset destroys the response before it is read.
			_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, _ = io.Copy(io.Discard, c)
		})
		body := newCountingBody(-1, false)
		req, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL(), body)
		require.NoError(t, err)
		req.ContentLength = -1
		resp, err := bt.rt.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 413, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "too big", string(b))
		require.NoError(t, resp.Body.Close())
		requireClosedOnce(t, bt, body)
	})
}

// Cancelling the request while the body is blocked in Read: the client
// stops the sender by closing the body (unblocking Read), and the sender's
// own cleanup must not close it a second time. net/http is no reference
// here: it leaves the Read blocked until it returns by itself.
func TestRoundTripClosesBodyOnceWhenCancelledDuringRead(t *testing.T) {
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		if bt.async {
			t.Skip("net/http does not unblock a body's Read on cancellation")
		}
		srv := echoServer(t)
		body := newCountingBody(10, true)
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), body)
		require.NoError(t, err)
		req.ContentLength = -1
		go func() {
			select {
			case <-body.readStarted:
				cancel()
			case <-ctx.Done():
			}
		}()
		resp, err := bt.rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, context.Canceled)
		requireClosedOnce(t, bt, body)
	})
}

// Cancelling the request while waiting for the response head, the body
// already sent.
func TestRoundTripClosesBodyOnceWhenCancelledAwaitingHead(t *testing.T) {
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		gotReq := make(chan struct{}, 1)
		srv := testserver.NewScripted(t, func(c net.Conn) {
			if _, _, err := testserver.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			gotReq <- struct{}{}
			_, _ = io.Copy(io.Discard, c) // until the client hangs up
		})
		body := newCountingBody(10, false)
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), body)
		require.NoError(t, err)
		req.ContentLength = 10
		go func() {
			select {
			case <-gotReq:
				cancel()
			case <-ctx.Done():
			}
		}()
		resp, err := bt.rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, context.Canceled)
		requireClosedOnce(t, bt, body)
	})
}

// A request refused before any dial still has its body closed, once.
func TestRoundTripClosesBodyOnceWhenRefused(t *testing.T) {
	cases := []struct {
		name  string
		url   string
		setup func(*http.Request)
	}{
		{"invalid header value", "http://127.0.0.1:1/", func(r *http.Request) { r.Header.Set("X-Bad", "a\nb") }},
		{"unsupported scheme", "ftp://127.0.0.1:1/", func(*http.Request) {}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
				srv := testserver.NewScripted(t, func(net.Conn) {})
				body := newCountingBody(10, false)
				u := strings.Replace(tc.url, "127.0.0.1:1", srv.Addr(), 1)
				req, err := http.NewRequestWithContext(testCtx(t), "POST", u, body)
				require.NoError(t, err)
				req.ContentLength = 10
				tc.setup(req)
				resp, err := bt.rt.RoundTrip(req)
				if resp != nil {
					resp.Body.Close()
				}
				require.Error(t, err)
				requireClosedOnce(t, bt, body)
				assert.Equal(t, 0, srv.Accepted(), "refused before dialing")
			})
		})
	}
}

// A dial that fails (connection refused) closes the body once.
func TestRoundTripClosesBodyOnceOnDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		body := newCountingBody(10, false)
		req, err := http.NewRequestWithContext(testCtx(t), "POST", "http://"+addr+"/", body)
		require.NoError(t, err)
		req.ContentLength = 10
		resp, err := bt.rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		requireClosedOnce(t, bt, body)
	})
}

// An idempotent PUT with GetBody on a reused conn the server dropped is
// retried on a new conn: the original body and every body GetBody handed
// out (asynchttp may resend a small body it buffered instead of asking
// GetBody) are closed exactly once.
func TestRoundTripClosesEveryBodyOnceOnRetry(t *testing.T) {
	eachBodyTransport(t, func(t *testing.T, bt bodyTransport) {
		var conns atomic.Int32
		srv := testserver.NewScripted(t, func(c net.Conn) {
			first := conns.Add(1) == 1
			br := bufio.NewReader(c)
			for i := 0; ; i++ {
				if first && i == 1 {
					// The second request on the first conn: read
					// it whole (no reset) and drop the conn with
					// nothing answered.
					_, _, _ = testserver.ReadRequest(br)
					return
				}
				_, body, err := testserver.ReadRequest(br)
				if err != nil {
					return
				}
				if testserver.Respond(c, 200, itoa(int64(len(body)))) != nil {
					return
				}
			}
		})
		var mu sync.Mutex
		var bodies []*countingBody
		newReq := func() *http.Request {
			body := newCountingBody(7, false)
			bodies = append(bodies, body)
			req, err := http.NewRequestWithContext(testCtx(t), "PUT", srv.URL(), body)
			require.NoError(t, err)
			req.ContentLength = 7
			// net/http retries a PUT only with an idempotency key.
			req.Header.Set("Idempotency-Key", "k")
			req.GetBody = func() (io.ReadCloser, error) {
				b := newCountingBody(7, false)
				mu.Lock()
				bodies = append(bodies, b)
				mu.Unlock()
				return b, nil
			}
			return req
		}
		for range 2 {
			resp, err := bt.rt.RoundTrip(newReq())
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, "7", string(b))
			require.NoError(t, resp.Body.Close())
		}
		assert.Equal(t, int32(2), conns.Load(), "the second request was retried on a new conn")
		mu.Lock()
		all := append([]*countingBody(nil), bodies...)
		mu.Unlock()
		requireClosedOnce(t, bt, all...)
	})
}
