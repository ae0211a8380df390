// Request bodies against servers that answer early, Expect: 100-continue,
// and bytes that no request asked for.

package asynchttp_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEarlyResponseDuringUpload: the server reads the head of a 5 MiB
// upload, answers 413 and closes without reading the body. The caller gets
// the 413, through Do and through RoundTrip, buffered or streamed body.
func TestEarlyResponseDuringUpload(t *testing.T) {
	body := bytes.Repeat([]byte("u"), 5<<20)
	for _, tt := range []struct {
		name   string
		stream bool
	}{{"buffered", false}, {"stream", true}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				br := bufio.NewReader(nc)
				if _, err := http.ReadRequest(br); err != nil { // head only
					return
				}
				io.WriteString(nc, "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!")
				// A polite server half-closes and discards what still comes,
				// so that its reply is not lost to a reset.
				nc.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, io.LimitReader(nc, 64<<20))
			})
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetMethod("POST")
			req.SetRequestURI(srv.URL() + "/upload")
			if tt.stream {
				req.SetBodyStream(bytes.NewReader(body), int64(len(body)))
			} else {
				req.SetBody(body)
			}
			require.NoError(t, c.Do(testCtx(t), req, resp))
			assert.Equal(t, 413, resp.StatusCode)
			assert.Equal(t, "too big!", string(resp.Body()))
			assert.Zero(t, c.Stats().Open, "the conn is not reused")

			hreq, err := http.NewRequestWithContext(testCtx(t), "PUT", srv.URL()+"/upload", bytes.NewReader(body))
			require.NoError(t, err)
			hresp, err := c.RoundTrip(hreq)
			require.NoError(t, err)
			b, _ := io.ReadAll(hresp.Body)
			hresp.Body.Close()
			assert.Equal(t, 413, hresp.StatusCode)
			assert.Equal(t, "too big!", string(b))
		})
	}
}

// TestServerThatStopsReadingDoesNotWedge: the server answers 200 at once,
// keeps the connection open and never reads the 5 MiB body. The caller
// gets the response; the connection, whose body was cut short, is closed.
func TestServerThatStopsReadingDoesNotWedge(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	release := make(chan struct{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		<-release // never read the body
	})
	defer close(release)
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("POST")
	req.SetRequestURI(srv.URL())
	req.SetBody(bytes.Repeat([]byte("x"), 5<<20))
	require.NoError(t, c.Do(testCtx(t), req, resp))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok", string(resp.Body()))
	assert.Zero(t, c.Stats().Open)
}

func TestExpectContinue(t *testing.T) {
	for _, tt := range []struct {
		name     string
		reply    string // what the server sends after the head; "" = nothing
		bodySent bool
		code     int
		cfg      asynchttp.Config
	}{
		{"100 then final", "HTTP/1.1 100 Continue\r\n\r\n", true, 200, asynchttp.Config{}},
		{"final first", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", false, 401, asynchttp.Config{}},
		{"silent server: body after the timeout", "", true, 200, asynchttp.Config{ExpectContinueTimeout: 50 * time.Millisecond}},
		{"negative timeout: body at once", "", true, 200, asynchttp.Config{ExpectContinueTimeout: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			gotBody := make(chan string, 1)
			srv := testserver.NewScripted(t, func(nc net.Conn) {
				br := bufio.NewReader(nc)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				assert.Equal(t, "100-continue", req.Header.Get("Expect"))
				if tt.reply != "" {
					io.WriteString(nc, tt.reply)
				}
				if !tt.bodySent {
					gotBody <- ""
					nc.Read(make([]byte, 1)) // until the client hangs up
					return
				}
				b, err := io.ReadAll(req.Body)
				if err != nil {
					return
				}
				gotBody <- string(b)
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				nc.Read(make([]byte, 1))
			})
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetMethod("PUT")
			req.SetRequestURI(srv.URL())
			req.Header.Set("Expect", "100-continue")
			req.SetBodyString("the body")
			require.NoError(t, c.Do(testCtx(t), req, resp))
			assert.Equal(t, tt.code, resp.StatusCode)
			select {
			case b := <-gotBody:
				if tt.bodySent {
					assert.Equal(t, "the body", b)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("server saw no request")
			}
			if !tt.bodySent {
				assert.Zero(t, c.Stats().Open, "a conn whose body was never sent is closed")
			}
		})
	}
}

// TestDesync: bytes after a complete response, or sent to a conn while it
// is idle (and checked: here at every reuse, in use after 1 ms of
// idleness), are never read as the next request's response.
func TestDesync(t *testing.T) {
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

// TestFullDuplexEcho: the server answers 200 at once and echoes the body
// as it arrives. The client keeps sending while it reads the response, as
// net/http does, and the conn stays reusable.
func TestFullDuplexEcho(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		io.Copy(w, r.Body)
	}))
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for range 2 {
		req := asynchttp.AcquireRequest()
		resp := asynchttp.AcquireResponse()
		req.SetMethod("POST")
		req.SetRequestURI(srv.URL())
		req.SetBody(body)
		require.NoError(t, c.Do(testCtx(t), req, resp))
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, len(body), len(resp.Body()))
		assert.True(t, bytes.Equal(body, resp.Body()))
		asynchttp.ReleaseRequest(req)
		asynchttp.ReleaseResponse(resp)
	}
	assert.Equal(t, 1, srv.Accepted(), "the conn was reused")

	hreq, err := http.NewRequestWithContext(testCtx(t), "PUT", srv.URL(), bytes.NewReader(body))
	require.NoError(t, err)
	hresp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	got, err := io.ReadAll(hresp.Body)
	require.NoError(t, err)
	hresp.Body.Close()
	assert.True(t, bytes.Equal(body, got))
}
