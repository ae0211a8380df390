// Faults and hostile peers: servers that hang up, reset or lie about
// framing, met through Do and RoundTrip. Every call must end with a
// response or a typed error, nothing may hang, and the pool's accounting
// must come back to zero.

package asynchttp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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

// TestServerClosingMidBodyIsAnError: a body cut short by the server, by FIN
// or by RST, is an error for Do and for RoundTrip's body reader, never a
// short body reported as complete; the conn is not pooled.
func TestServerClosingMidBodyIsAnError(t *testing.T) {
	for _, tt := range []struct {
		name  string
		raw   string
		reset bool
		eof   bool // the error must be io.ErrUnexpectedEOF
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", false, true},
		{"content-length, no body byte", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", false, true},
		{"chunked, inside chunk data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly this", false, true},
		{"chunked, inside chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n1", false, true},
		{"chunked, before chunk CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd", false, true},
		{"chunked, between chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n", false, true},
		{"chunked, no last chunk CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n", false, true},
		{"chunked, inside trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-T: 1\r\n", false, true},
		{"content-length, reset", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true, false},
		{"chunked, reset", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly this", true, false},
	} {
		for _, how := range via {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				c := newClient(t, asynchttp.Config{})
				srv := testserver.NewScripted(t, func(nc net.Conn) {
					if _, _, err := testserver.ReadRequest(bufio.NewReader(nc)); err != nil {
						return
					}
					io.WriteString(nc, tt.raw)
					if tt.reset {
						// Let the bytes reach the client, then reset.
						time.Sleep(10 * time.Millisecond)
						nc.(*net.TCPConn).SetLinger(0)
					}
				})
				_, body, err := fetch(testCtx(t), c, how, srv.URL())
				require.Error(t, err, "a short body reported as complete: %q", body)
				if tt.eof {
					require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				}
				assert.NotErrorIs(t, err, context.DeadlineExceeded)
				assert.LessOrEqual(t, len(body), len("only this"))
				assert.Zero(t, c.Stats().Open, "the conn is closed, not pooled")
				checkPoolEmpty(t, c)
			})
		}
	}
}

// TestRSTStormLeavesExactAccounting: 200 concurrent requests, twice, against
// a server that resets half its conns: before any response byte, in the
// middle of a response, or on the second request of a kept-alive conn. Every
// call ends with a response or an error, none hangs, and once the idle conns
// are closed the pool is empty and its accounting exact.
func TestRSTStormLeavesExactAccounting(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  asynchttp.Config
	}{
		{"no cap", asynchttp.Config{}},
		{"MaxConnsPerHost 16", asynchttp.Config{MaxConnsPerHost: 16}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			var conns atomic.Int64
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				id := conns.Add(1)
				reset := func() { nc.(*net.TCPConn).SetLinger(0) } // Close then sends RST
				br := bufio.NewReader(nc)
				for k := 0; ; k++ {
					req, _, err := testserver.ReadRequest(br)
					if err != nil {
						return
					}
					if id%2 == 0 {
						switch id / 2 % 3 {
						case 0:
							reset()
							return
						case 1:
							io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
							reset()
							return
						case 2:
							if k == 1 {
								reset()
								return
							}
						}
					}
					if testserver.Respond(nc, 200, req.URL.Path) != nil {
						return
					}
				}
			})
			ctx := longCtx(t, time.Minute)
			const n = 200
			var ok, failed atomic.Int32
			for round := range 2 {
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						path := fmt.Sprintf("/%d/%d", round, i)
						code, body, err := fetch(ctx, c, via[i%2], srv.URL()+path)
						switch {
						case err != nil:
							assert.NotErrorIs(t, err, context.DeadlineExceeded, "a call hung")
							failed.Add(1)
						case code != 200 || body != path:
							t.Errorf("%s: got %d %q", path, code, body)
						default:
							ok.Add(1)
						}
					})
				}
				wg.Wait()
				assert.Empty(t, asynchttp.CheckInvariants(c), "after round %d", round)
				assert.Zero(t, c.Stats().InUse)
			}
			t.Logf("%d responses, %d errors, %d conns accepted", ok.Load(), failed.Load(), srv.Accepted())
			assert.Equal(t, int32(2*n), ok.Load()+failed.Load())
			assert.NotZero(t, failed.Load(), "the server did reset conns")
			assert.NotZero(t, ok.Load())
			checkPoolEmpty(t, c)
			st := c.Stats()
			assert.Equal(t, st.Created, st.Closed, "every conn made was closed and counted")
		})
	}
}

// TestServerHangupsBetweenResponsesNeverReachCaller: 10,000 GETs at
// concurrency 64 against a keep-alive server that hangs up at random points
// between responses (never inside one): at once after a response, after a
// short idle pause, or after reading the next request without answering it.
// The liveness check and the one retry of an idempotent request hide all of
// it: zero errors.
func TestServerHangupsBetweenResponsesNeverReachCaller(t *testing.T) {
	requests := 10000
	if testing.Short() {
		requests = 1000
	}
	for _, tt := range []struct {
		name string
		cfg  asynchttp.Config
	}{
		{"no cap", asynchttp.Config{}},
		// Under a cap, callers queue, and release hands a conn that has
		// just served a response straight to the next waiter: the one
		// retry must not take such a conn, which may be stale too.
		{"MaxConnsPerHost 8", asynchttp.Config{MaxConnsPerHost: 8}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			var seed atomic.Uint64
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				r := rand.New(rand.NewPCG(seed.Add(1), 42))
				br := bufio.NewReader(nc)
				for {
					req, _, err := testserver.ReadRequest(br)
					if err != nil {
						return
					}
					if testserver.Respond(nc, 200, req.URL.Path) != nil {
						return
					}
					switch r.IntN(12) {
					case 0: // at once
						return
					case 1: // after an idle pause, or once the next request has begun
						nc.SetReadDeadline(time.Now().Add(time.Duration(r.IntN(300)) * time.Microsecond))
						br.Peek(1)
						return
					case 2: // after reading the next request, unanswered
						testserver.ReadRequest(br)
						return
					}
				}
			})
			ctx := longCtx(t, 2*time.Minute) // a busy CI machine is slow
			const workers = 64
			var next, failed atomic.Int32
			var firstErr sync.Once
			start := time.Now()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					req := asynchttp.AcquireRequest()
					resp := asynchttp.AcquireResponse()
					defer asynchttp.ReleaseRequest(req)
					defer asynchttp.ReleaseResponse(resp)
					for {
						i := int(next.Add(1))
						if i > requests {
							return
						}
						path := "/" + strconv.Itoa(i)
						req.SetRequestURI(srv.URL() + path)
						err := c.Do(ctx, req, resp)
						if err == nil && (resp.StatusCode != 200 || string(resp.Body()) != path) {
							err = fmt.Errorf("got %d %q", resp.StatusCode, resp.Body())
						}
						if err != nil {
							failed.Add(1)
							firstErr.Do(func() { t.Errorf("request %s: %v", path, err) })
						}
					}
				})
			}
			wg.Wait()
			st := c.Stats()
			t.Logf("%d requests in %v: %d conns, %d reused, closed by %v", requests, time.Since(start).Round(time.Millisecond),
				st.Created, st.Reused, st.ClosedBy)
			assert.Zero(t, failed.Load(), "errors")
			assert.Greater(t, st.Created, uint64(workers), "the server did hang up")
			assert.Less(t, st.Created, uint64(requests/2), "conns were reused")
			checkPoolEmpty(t, c)
		})
	}
}

// hostileServer answers /bad with what bad writes, every other path with
// "next", on keep-alive conns.
func hostileServer(t *testing.T, bad func(nc net.Conn)) *testserver.Scripted {
	return testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			req, _, err := testserver.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/bad" {
				bad(nc)
				br.ReadByte() // until the client hangs up: it must
				return
			}
			if testserver.Respond(nc, 200, "next") != nil {
				return
			}
		}
	})
}

func writeRaw(raw string) func(net.Conn) {
	return func(nc net.Conn) { io.WriteString(nc, raw) }
}

// TestHostileResponsesGiveTypedErrorsAndNewConn: framing lies and malformed
// heads, met through Do and RoundTrip. Each gives a typed error (or, for TE
// with CL, the chunked body), and the conn is never used again: the client
// hangs up, and the next request goes out on a new conn. (The parsers' own
// tables are in response_test.go and body_test.go.)
func TestHostileResponsesGiveTypedErrorsAndNewConn(t *testing.T) {
	endless := func(prefix, line string) func(net.Conn) {
		return func(nc net.Conn) {
			buf := []byte(strings.Repeat(line, 4096/len(line)))
			io.WriteString(nc, prefix)
			for sent := 0; sent < 64<<20; sent += len(buf) {
				if _, err := nc.Write(buf); err != nil {
					return // the client hung up
				}
			}
		}
	}
	for _, tt := range []struct {
		name string
		cfg  asynchttp.Config
		bad  func(net.Conn)
		body string // the body, when no error is expected
		is   error
	}{
		{name: "TE and CL: chunked wins", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"), body: "hi"},
		{name: "CL after TE: chunked wins", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n2\r\nhi\r\n0\r\n\r\n"), body: "hi"},
		{name: "TE and CL 0 smuggling a response", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"), body: "hi"},
		{name: "two different CLs", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nnext"), is: asynchttp.ErrMalformedResponse},
		{name: "CL list with two values", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 2, 4\r\n\r\nnext"), is: asynchttp.ErrMalformedResponse},
		{name: "signed CL", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "non-numeric CL", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "CL with trailing junk", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "CL overflows int64", bad: writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551617\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "chunk size overflows int64", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nabc"), is: asynchttp.ErrMalformedResponse},
		{name: "chunk size invalid char", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2g\r\nhi\r\n0\r\n\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "negative chunk size", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nhi\r\n0\r\n\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "chunk data without CRLF", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiXX0\r\n\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "chunk data longer than its size", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "TE gzip final", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"), is: asynchttp.ErrMalformedResponse},
		{name: "TE chunked then gzip", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "NUL in field value", bad: writeRaw("HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "bare CR in field value", bad: writeRaw("HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 4\r\nContent-Length: 2\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "obs-fold", bad: writeRaw("HTTP/1.1 200 OK\r\nX-A: a\r\n Content-Length: 4\r\nContent-Length: 2\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "space before colon", bad: writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "status 2OO", bad: writeRaw("HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok"), is: asynchttp.ErrMalformedResponse},
		{name: "not HTTP at all", bad: writeRaw("SSH-2.0-OpenSSH_9.2\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "endless header section", cfg: asynchttp.Config{MaxResponseHeaderBytes: 8 << 10},
			bad: endless("HTTP/1.1 200 OK\r\n", "X-Filler: abcdefgh\r\n"), is: asynchttp.ErrHeaderTooLarge},
		{name: "endless header line", cfg: asynchttp.Config{MaxResponseHeaderBytes: 8 << 10},
			bad: endless("HTTP/1.1 200 OK\r\nX-Long: ", "a"), is: asynchttp.ErrHeaderTooLarge},
		{name: "endless 1xx", bad: endless("", "HTTP/1.1 103 Early Hints\r\n\r\n"), is: asynchttp.ErrMalformedResponse},
		{name: "endless chunked body", cfg: asynchttp.Config{MaxResponseBodyBytes: 64 << 10},
			bad: endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "4\r\nabcd\r\n"), is: asynchttp.ErrBodyTooLarge},
	} {
		for _, how := range via {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				c := newClient(t, tt.cfg)
				srv := hostileServer(t, tt.bad)
				ctx := testCtx(t)
				_, body, err := fetch(ctx, c, how, srv.URL()+"/bad")
				if tt.is != nil {
					require.ErrorIs(t, err, tt.is)
				} else {
					require.NoError(t, err)
					assert.Equal(t, tt.body, body)
				}
				assert.Zero(t, c.Stats().Open, "the conn is closed, not pooled")
				code, body, err := fetch(ctx, c, how, srv.URL()+"/next")
				require.NoError(t, err)
				assert.Equal(t, 200, code)
				assert.Equal(t, "next", body)
				assert.Equal(t, 2, srv.Accepted(), "the next request went out on a new conn")
				checkPoolEmpty(t, c)
			})
		}
	}
}
