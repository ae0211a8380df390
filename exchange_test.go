// Whole exchanges through Do against scripted raw-TCP servers: every body
// framing, interim responses, limits, refused requests, and which
// responses leave their connection reusable.

package asynchttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawServer answers every request on a conn with the raw bytes reply
// returns for it, and closes the conn when reply says so.
func rawServer(t *testing.T, reply func(path string) (raw string, closeAfter bool)) *testserver.Scripted {
	return testserver.NewScripted(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, _, err := testserver.ReadRequest(br)
			if err != nil {
				return
			}
			raw, closeAfter := reply(req.URL.Path)
			if _, err := io.WriteString(c, raw); err != nil || closeAfter {
				return
			}
		}
	})
}

func TestExchangeFraming(t *testing.T) {
	for _, tt := range []struct {
		name     string
		method   string
		raw      string
		serverCl bool // the server closes after replying
		code     int
		body     string
		trailer  string // "Name: value" expected in resp.Trailer
		reused   bool   // the next request reuses the conn
	}{
		{name: "content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", code: 200, body: "hello", reused: true},
		{name: "chunked with extension and trailer", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
			code: 200, body: "hello world", trailer: "X-Sum: 42", reused: true},
		{name: "close-delimited", raw: "HTTP/1.1 200 OK\r\n\r\nuntil close", serverCl: true, code: 200, body: "until close", reused: false},
		{name: "HEAD has no body", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", code: 200, body: "", reused: true},
		{name: "204", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", code: 204, reused: true},
		{name: "304 ignores its Content-Length", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", code: 304, reused: true},
		{name: "100 and 103 skipped", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: true},
		{name: "Connection: close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: false},
		{name: "HTTP/1.0 without keep-alive", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: false},
		{name: "HTTP/1.0 with keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: true},
		{name: "missing reason phrase", raw: "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			srv := rawServer(t, func(path string) (string, bool) {
				if path == "/next" {
					return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false
				}
				return tt.raw, tt.serverCl
			})
			ctx := testCtx(t)
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			if tt.method != "" {
				req.SetMethod(tt.method)
			}
			req.SetRequestURI(srv.URL() + "/x")
			require.NoError(t, c.Do(ctx, req, resp))
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Equal(t, tt.body, string(resp.Body()))
			if tt.trailer != "" {
				name, value, _ := strings.Cut(tt.trailer, ": ")
				assert.Equal(t, value, resp.Trailer.Get(name))
			}
			code, body, err := get(ctx, c, "GET", srv.URL()+"/next")
			require.NoError(t, err)
			assert.Equal(t, 200, code)
			assert.Equal(t, "next", body)
			if tt.reused {
				assert.Equal(t, 1, srv.Accepted(), "the conn was reused")
			} else {
				assert.Equal(t, 2, srv.Accepted(), "the conn was not reused")
			}
		})
	}
}

func TestExchangeErrorsCloseTheConn(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  asynchttp.Config
		raw  string
		is   error
	}{
		{"header too large", asynchttp.Config{MaxResponseHeaderBytes: 256},
			"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1000) + "\r\nContent-Length: 2\r\n\r\nok", asynchttp.ErrHeaderTooLarge},
		{"body too large", asynchttp.Config{MaxResponseBodyBytes: 10},
			"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", asynchttp.ErrBodyTooLarge},
		{"chunked body too large", asynchttp.Config{MaxResponseBodyBytes: 10},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", asynchttp.ErrBodyTooLarge},
		{"bad status line", asynchttp.Config{}, "HTTP/1.1 2OO OK\r\n\r\n", asynchttp.ErrMalformedResponse},
		{"bad content-length", asynchttp.Config{}, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", asynchttp.ErrMalformedResponse},
		{"bad chunk size", asynchttp.Config{}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", asynchttp.ErrMalformedResponse},
		{"truncated body", asynchttp.Config{}, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			srv := rawServer(t, func(path string) (string, bool) {
				if path == "/next" {
					return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false
				}
				// Truncated bodies need the server to hang up.
				return tt.raw, tt.is == io.ErrUnexpectedEOF
			})
			ctx := testCtx(t)
			_, _, err := get(ctx, c, "GET", srv.URL()+"/bad")
			require.ErrorIs(t, err, tt.is)
			assert.Zero(t, c.Stats().Open, "the conn is closed, not pooled")
			assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseError])
			code, _, err := get(ctx, c, "GET", srv.URL()+"/next")
			require.NoError(t, err)
			assert.Equal(t, 200, code)
			assert.Equal(t, 2, srv.Accepted())
		})
	}
}

func TestRefusedRequestsWriteNothing(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := rawServer(t, func(string) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false })
	ctx := testCtx(t)
	for _, tt := range []struct {
		name  string
		setup func(r *asynchttp.Request)
	}{
		{"CRLF in header value", func(r *asynchttp.Request) { r.Header.Add("X-A", "a\r\nInjected: yes") }},
		{"LF in header value", func(r *asynchttp.Request) { r.Header.Add("X-A", "a\nb") }},
		{"NUL in header value", func(r *asynchttp.Request) { r.Header.Add("X-A", "a\x00b") }},
		{"space in header name", func(r *asynchttp.Request) { r.Header.Add("X A", "v") }},
		{"colon in header name", func(r *asynchttp.Request) { r.Header.Add("X:A", "v") }},
		{"CR in header name", func(r *asynchttp.Request) { r.Header.Add("X\rA", "v") }},
		{"bad method", func(r *asynchttp.Request) { r.SetMethod("GE T") }},
		{"CRLF in method", func(r *asynchttp.Request) { r.SetMethod("GET\r\n") }},
		{"host with space", func(r *asynchttp.Request) { r.SetRequestURI("http://127.0.0.1 x/") }},
		{"Host override with CRLF", func(r *asynchttp.Request) { r.SetHost("a\r\nb") }},
		{"space in path", func(r *asynchttp.Request) { r.SetRequestURI(srv.URL() + "/a b") }},
		{"unsupported scheme", func(r *asynchttp.Request) { r.SetRequestURI("ftp://127.0.0.1/") }},
		{"no host", func(r *asynchttp.Request) { r.SetRequestURI("http:///path") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.URL() + "/")
			tt.setup(req)
			err := c.Do(ctx, req, resp)
			require.ErrorIs(t, err, asynchttp.ErrInvalidRequest)
			var re *asynchttp.RequestError
			require.ErrorAs(t, err, &re)
			assert.Zero(t, srv.Accepted(), "nothing was even dialed")
		})
	}
}

// TestStaleConnRetried: the server answers one request per conn and then
// hangs up, either at once or only after reading the next request (the
// request fails before any response byte). A conn closed while idle is
// found dead by the liveness check when it was idle long enough to be
// checked; a conn taken back at once is reused unchecked and fails like
// the second case. Either way an idempotent request succeeds without the
// caller seeing an error.
func TestStaleConnRetried(t *testing.T) {
	for _, tt := range []struct {
		name      string
		readFirst bool
		peekAfter time.Duration
	}{
		{"closed while idle, checked", false, 0},
		{"closed while idle, reused unchecked", false, time.Hour},
		{"closed after reading the next request", true, 0},
	} {
		readFirst := tt.readFirst
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			asynchttp.SetPeekAfterIdle(c, tt.peekAfter)
			hungUp := make(chan struct{}, 8)
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				defer func() {
					nc.Close() // before the signal: the test waits for the hang-up
					hungUp <- struct{}{}
				}()
				br := bufio.NewReader(nc)
				if _, _, err := testserver.ReadRequest(br); err != nil {
					return
				}
				testserver.Respond(nc, 200, "once")
				if readFirst {
					testserver.ReadRequest(br)
				}
			})
			ctx := testCtx(t)
			_, body, err := get(ctx, c, "GET", srv.URL())
			require.NoError(t, err)
			require.Equal(t, "once", body)
			if !readFirst {
				waitChan(t, hungUp)
			}
			code, body, err := get(ctx, c, "GET", srv.URL())
			require.NoError(t, err)
			assert.Equal(t, 200, code)
			assert.Equal(t, "once", body)
			assert.Equal(t, 2, srv.Accepted())
			st := c.Stats()
			if readFirst || tt.peekAfter > 0 {
				assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseError], "failed on the reused conn, then retried")
			} else {
				assert.Equal(t, uint64(1), st.ClosedBy[asynchttp.CloseServerClosed], "found dead by the liveness check")
			}
		})
	}
}

func waitChan(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
}

// TestRetryOnlyWhenSafe: a request that fails on a reused conn before any
// response byte goes out again only if it is idempotent and replayable.
func TestRetryOnlyWhenSafe(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(r *asynchttp.Request)
		retried bool
	}{
		{"GET", func(r *asynchttp.Request) {}, true},
		{"PUT buffered", func(r *asynchttp.Request) { r.SetMethod("PUT"); r.SetBodyString("x") }, true},
		{"DELETE", func(r *asynchttp.Request) { r.SetMethod("DELETE") }, true},
		{"POST", func(r *asynchttp.Request) { r.SetMethod("POST"); r.SetBodyString("x") }, false},
		{"POST with Idempotency-Key", func(r *asynchttp.Request) {
			r.SetMethod("POST")
			r.SetBodyString("x")
			r.Header.Set("Idempotency-Key", "k1")
		}, true},
		{"PUT stream without GetBody", func(r *asynchttp.Request) {
			r.SetMethod("PUT")
			r.SetBodyStream(strings.NewReader("x"), 1)
		}, false},
		{"PUT stream with GetBody", func(r *asynchttp.Request) {
			r.SetMethod("PUT")
			r.SetBodyStream(strings.NewReader("x"), 1)
			r.SetGetBody(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil })
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			var bodies atomic.Int32
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				br := bufio.NewReader(nc)
				for i := 0; ; i++ {
					req, body, err := testserver.ReadRequest(br)
					if err != nil {
						return
					}
					if req.URL.Path == "/second" && i == 1 {
						return // hang up without a byte of response
					}
					if len(body) > 0 {
						bodies.Add(1)
					}
					testserver.Respond(nc, 200, "ok")
				}
			})
			ctx := testCtx(t)
			_, _, err := get(ctx, c, "GET", srv.URL()+"/first")
			require.NoError(t, err)

			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.URL() + "/second")
			tt.setup(req)
			err = c.Do(ctx, req, resp)
			if tt.retried {
				require.NoError(t, err)
				assert.Equal(t, 200, resp.StatusCode)
				assert.Equal(t, 2, srv.Accepted())
			} else {
				require.ErrorIs(t, err, asynchttp.ErrServerClosedConn)
				assert.Equal(t, 1, srv.Accepted(), "not sent again")
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    asynchttp.Config
		ctx    time.Duration
		silent bool // the server sends nothing at all; else headers, then silence
		check  func(t *testing.T, err error)
	}{
		{"context deadline before headers", asynchttp.Config{}, 50 * time.Millisecond, true, func(t *testing.T, err error) {
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}},
		{"response header timeout", asynchttp.Config{ResponseHeaderTimeout: 50 * time.Millisecond}, 0, true, func(t *testing.T, err error) {
			require.False(t, errors.Is(err, context.DeadlineExceeded))
			var te *asynchttp.TimeoutError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, "response header", te.Op)
		}},
		{"context deadline during body", asynchttp.Config{ResponseHeaderTimeout: time.Minute}, 80 * time.Millisecond, false, func(t *testing.T, err error) {
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				br := bufio.NewReader(nc)
				testserver.ReadRequest(br)
				if !tt.silent {
					io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
				}
				nc.Read(make([]byte, 1)) // until the client hangs up
			})
			ctx := testCtx(t)
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			_, _, err := get(ctx, c, "GET", srv.URL())
			require.Error(t, err)
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout())
			tt.check(t, err)
			assert.Zero(t, c.Stats().Open)
		})
	}
}

func TestContextCanceledMidRequest(t *testing.T) {
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

func TestDialFailureFreesTheSlot(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1, MaxTotalConns: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	ctx := testCtx(t)
	for range 3 {
		_, _, err := get(ctx, c, "GET", "http://"+addr+"/")
		require.Error(t, err)
		var oe *net.OpError
		require.ErrorAs(t, err, &oe)
	}
	st := c.Stats()
	assert.Zero(t, st.Open)
	assert.Zero(t, asynchttp.ActiveHostCount(c))
}

func TestDialTimeout(t *testing.T) {
	c := newClient(t, asynchttp.Config{
		DialTimeout: 30 * time.Millisecond,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			<-ctx.Done() // a peer that never answers the SYN
			return nil, ctx.Err()
		},
	})
	_, _, err := get(testCtx(t), c, "GET", "http://127.0.0.1:1/")
	var te *asynchttp.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "dial", te.Op)
	assert.True(t, te.Timeout())
	assert.NotErrorIs(t, err, context.Canceled)
	assert.Zero(t, c.Stats().Open)
}
