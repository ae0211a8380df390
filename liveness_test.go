// Reusing an idle conn safely: the liveness check finds conns the server
// closed, is not fooled by a previous caller's deadline, and bytes nobody
// asked for are never read as a response.

package asynchttp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
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

// An idle conn may still carry the socket deadline of its last caller's
// context. The liveness check does not mistake that expired deadline for a
// closed conn: a healthy conn idle past the previous caller's deadline is
// reused, not thrown away as "server closed".
func TestLivenessCheckIgnoresPreviousCallersDeadline(t *testing.T) {
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

// TestIdleConnsClosedByServerAreNotSeenByCaller: the server closes each
// keep-alive conn after 20ms of idleness (its keep-alive timeout). The
// client holds four such conns when the server closes them; the next
// requests, concurrent and sequential, succeed without the caller seeing an
// error.
func TestIdleConnsClosedByServerAreNotSeenByCaller(t *testing.T) {
	for _, how := range via {
		t.Run(how, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{MaxConnsPerHost: 4})
			const warm = 4
			ready := make(chan struct{})
			var accepted, hungUp atomic.Int32
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				if accepted.Add(1) == warm {
					close(ready)
				}
				defer hungUp.Add(1)
				br := bufio.NewReader(nc)
				for i := 0; ; i++ {
					if i > 0 {
						// Idle for 20ms: hang up, as a keep-alive timeout does.
						nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
					}
					req, _, err := testserver.ReadRequest(br)
					if err != nil {
						return
					}
					nc.SetReadDeadline(time.Time{})
					if req.URL.Path == "/warm" {
						// Hold the first responses until four conns are open.
						select {
						case <-ready:
						case <-time.After(5 * time.Second):
						}
					}
					if testserver.Respond(nc, 200, req.URL.Path) != nil {
						return
					}
				}
			})
			ctx := testCtx(t)
			var wg sync.WaitGroup
			for range warm {
				wg.Go(func() {
					_, body, err := fetch(ctx, c, how, srv.URL()+"/warm")
					assert.NoError(t, err)
					assert.Equal(t, "/warm", body)
				})
			}
			wg.Wait()
			require.Equal(t, warm, c.Stats().Idle)
			eventually(t, "the server hung up all four", func() bool { return hungUp.Load() == warm })

			for i := range 2 * warm {
				wg.Go(func() {
					path := "/c" + strconv.Itoa(i)
					_, body, err := fetch(ctx, c, how, srv.URL()+path)
					assert.NoError(t, err)
					assert.Equal(t, path, body)
				})
			}
			wg.Wait()
			for i := range 3 {
				path := "/s" + strconv.Itoa(i)
				_, body, err := fetch(ctx, c, how, srv.URL()+path)
				require.NoError(t, err)
				assert.Equal(t, path, body)
			}
			st := c.Stats()
			// Each stale conn was found dead by the liveness check, or its
			// request failed before a response byte and went out again.
			// (More may have gone the same way if a scheduling pause let the
			// server's 20ms pass again.)
			assert.GreaterOrEqual(t, st.ClosedBy[asynchttp.CloseServerClosed]+st.ClosedBy[asynchttp.CloseError], uint64(warm))
			checkPoolEmpty(t, c)
		})
	}
}

// TestStaleConnFoundDeadOrRetried: the server answers one request per conn
// and then hangs up, either at once or only after reading the next request
// (the request fails before any response byte). A conn closed while idle is
// found dead by the liveness check when it was idle long enough to be
// checked; a conn taken back at once is reused unchecked and fails like the
// second case. Either way an idempotent request succeeds without the caller
// seeing an error.
func TestStaleConnFoundDeadOrRetried(t *testing.T) {
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

// TestUnaskedBytesNeverReadAsNextResponse: bytes after a complete response,
// or sent to a conn while it is idle (and checked: here at every reuse, in
// use after 1 ms of idleness), are never read as the next request's
// response.
func TestUnaskedBytesNeverReadAsNextResponse(t *testing.T) {
	const right = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nright"
	const forged = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforge"
	for _, idle := range []bool{false, true} {
		name := "extra bytes after the response"
		if idle {
			name = "bytes sent to the idle conn"
		}
		t.Run(name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			if idle {
				asynchttp.SetPeekAfterIdle(c, 0)
			}
			poke, poked := make(chan struct{}), make(chan struct{})
			var conns atomic.Int32
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				first := conns.Add(1) == 1
				br := bufio.NewReader(nc)
				for {
					if _, _, err := testserver.ReadRequest(br); err != nil {
						return
					}
					if !first {
						io.WriteString(nc, right)
						continue
					}
					first = false
					if !idle {
						io.WriteString(nc, right+forged) // one response too many
						continue
					}
					io.WriteString(nc, right)
					<-poke
					io.WriteString(nc, forged) // unasked, while the conn is idle
					close(poked)
				}
			})
			ctx := testCtx(t)
			_, body, err := get(ctx, c, "GET", srv.URL())
			require.NoError(t, err)
			assert.Equal(t, "right", body)
			if idle {
				require.Equal(t, 1, c.Stats().Idle)
				close(poke)
				<-poked
			}
			for range 2 {
				_, body, err = get(ctx, c, "GET", srv.URL())
				require.NoError(t, err)
				assert.Equal(t, "right", body)
			}
			assert.Equal(t, 2, srv.Accepted())
		})
	}
}
