// Expect: 100-continue: the body goes out on 100 or after
// ExpectContinueTimeout, never after a final response, and an unsent body
// is closed.

package asynchttp_test

import (
	"bufio"
	"context"
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

func TestExpectContinueSendsBodyOnlyWhenAsked(t *testing.T) {
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

// Expect: 100-continue to a server that says nothing within
// ExpectContinueTimeout: the body then goes out, and when the server answers
// 413 and stops reading, the caller gets the 413 (as it does without
// Expect) instead of being wedged in the write until its context ends.
func TestExpectContinueTimeoutThenEarlyResponse(t *testing.T) {
	c := newClient(t, asynchttp.Config{ExpectContinueTimeout: 20 * time.Millisecond})
	release := make(chan struct{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.ReadFull(req.Body, make([]byte, 1)); err != nil {
			return // the body started after the timeout
		}
		io.WriteString(nc, "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!")
		<-release // never read the rest
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("PUT")
	req.SetRequestURI(srv.URL())
	req.Header.Set("Expect", "100-continue")
	const size = 1 << 30
	req.SetBodyStream(io.LimitReader(zeros{}, size), size)
	require.NoError(t, c.Do(ctx, req, resp))
	assert.Equal(t, 413, resp.StatusCode)
}

type closeTracker struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *closeTracker) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// Expect: 100-continue answered at once by a final response: the body is
// never sent and the call succeeds, and RoundTrip still closes the request
// body, as an http.RoundTripper must.
func TestExpectContinueUnsentBodyIsClosed(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		if _, err := http.ReadRequest(br); err != nil { // head only
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		http.ReadRequest(br) // until the client hangs up
	})
	body := &closeTracker{Reader: strings.NewReader("payload"), closed: make(chan struct{})}
	hreq, err := http.NewRequestWithContext(testCtx(t), "POST", srv.URL(), body)
	require.NoError(t, err)
	hreq.Header.Set("Expect", "100-continue")
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	assert.True(t, recvWithin(body.closed, 5*time.Second), "request body never closed")
}
