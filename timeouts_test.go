// ResponseHeaderTimeout and context deadlines on the exchange: each fires
// on time with the right error, and a slow body is not a header timeout.

package asynchttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimeoutsOnFreshConn(t *testing.T) {
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

// TestStallingServerCutOffOnTime: a server that never answers, or stops
// partway, is cut off by ResponseHeaderTimeout or the caller's deadline, on
// time; and ResponseHeaderTimeout does not cut a body that is merely slow.
func TestStallingServerCutOffOnTime(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
	for _, tt := range []struct {
		name   string
		cfg    asynchttp.Config
		ctx    time.Duration
		script func(nc net.Conn) // after the request is read; the conn is then held until the client hangs up
		want   time.Duration     // when the call should fail; 0: it succeeds
		check  func(t *testing.T, err error)
	}{
		{"never answers: header timeout", asynchttp.Config{ResponseHeaderTimeout: 50 * time.Millisecond}, 0,
			func(net.Conn) {}, 50 * time.Millisecond, func(t *testing.T, err error) {
				var te *asynchttp.TimeoutError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "response header", te.Op)
				assert.NotErrorIs(t, err, context.DeadlineExceeded)
			}},
		{"never answers: context deadline", asynchttp.Config{}, 50 * time.Millisecond,
			func(net.Conn) {}, 50 * time.Millisecond, deadlineExceeded},
		{"context deadline before header timeout", asynchttp.Config{ResponseHeaderTimeout: time.Minute}, 50 * time.Millisecond,
			func(net.Conn) {}, 50 * time.Millisecond, deadlineExceeded},
		{"half a status line", asynchttp.Config{ResponseHeaderTimeout: 50 * time.Millisecond}, 0,
			func(nc net.Conn) { io.WriteString(nc, "HTTP/1.1 20") }, 50 * time.Millisecond, func(t *testing.T, err error) {
				var te *asynchttp.TimeoutError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, "response header", te.Op)
			}},
		{"stalls after headers", asynchttp.Config{ResponseHeaderTimeout: 100 * time.Millisecond}, 300 * time.Millisecond,
			func(nc net.Conn) { io.WriteString(nc, head+"ab") }, 300 * time.Millisecond, deadlineExceeded},
		{"stalls inside a chunk", asynchttp.Config{}, 80 * time.Millisecond,
			func(nc net.Conn) {
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
			}, 80 * time.Millisecond, deadlineExceeded},
		{"slow body is not a header timeout", asynchttp.Config{ResponseHeaderTimeout: 100 * time.Millisecond}, 0,
			func(nc net.Conn) {
				io.WriteString(nc, head+"he")
				time.Sleep(250 * time.Millisecond)
				io.WriteString(nc, "llo")
			}, 0, nil},
	} {
		for _, how := range via {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				c := newClient(t, tt.cfg)
				srv := testserver.NewScripted(t, func(nc net.Conn) {
					br := bufio.NewReader(nc)
					for {
						req, _, err := testserver.ReadRequest(br)
						if err != nil {
							return
						}
						if req.URL.Path != "/warm" {
							break
						}
						if testserver.Respond(nc, 200, "warm") != nil {
							return
						}
					}
					tt.script(nc)
					br.ReadByte() // until the client hangs up
				})
				ctx := testCtx(t)
				// Dial first: the deadlines below are for the exchange, not
				// for a dial slowed down by a busy machine.
				_, _, err := fetch(ctx, c, how, srv.URL()+"/warm")
				require.NoError(t, err)
				if tt.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctx)
					defer cancel()
				}
				start := time.Now()
				code, body, err := fetch(ctx, c, how, srv.URL())
				took := time.Since(start)
				if tt.want == 0 {
					require.NoError(t, err)
					assert.Equal(t, 200, code)
					assert.Equal(t, "hello", body)
					return
				}
				require.Error(t, err)
				var ne net.Error
				require.ErrorAs(t, err, &ne)
				assert.True(t, ne.Timeout())
				tt.check(t, err)
				assert.GreaterOrEqual(t, took, tt.want-5*time.Millisecond, "fired early")
				assert.Less(t, took, tt.want+2*time.Second, "fired late")
				assert.Equal(t, 1, srv.Accepted())
				checkPoolEmpty(t, c)
			})
		}
	}
}

func deadlineExceeded(t *testing.T, err error) {
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
