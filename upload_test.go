// Request bodies against servers that answer early, stop reading, or echo
// as the body arrives (full duplex).

package asynchttp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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

// TestEarlyResponseDuringUploadReachesCaller: the server reads the head of a
// 5 MiB upload, answers 413 and closes without reading the body. The caller
// gets the 413, through Do and through RoundTrip, buffered or streamed body.
func TestEarlyResponseDuringUploadReachesCaller(t *testing.T) {
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

// A server that answers before reading the whole upload (413, 401, ...)
// and keeps the conn open without reading the rest: RoundTrip returns the
// response, as net/http does, while the endless body is still going out.
func TestEarlyResponseWhileServerIgnoresEndlessUpload(t *testing.T) {
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
	hreq, err := http.NewRequestWithContext(ctx, "POST", srv.URL(), io.NopCloser(zeros{}))
	require.NoError(t, err)
	resp, err := c.RoundTrip(hreq)
	require.NoError(t, err, "net/http returns the early response")
	resp.Body.Close()
	assert.Equal(t, 413, resp.StatusCode)
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

// TestFullDuplexEchoKeepsConnReusable: the server answers 200 at once and
// echoes the body as it arrives. The client keeps sending while it reads the
// response, as net/http does, and the conn stays reusable.
func TestFullDuplexEchoKeepsConnReusable(t *testing.T) {
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

// deadlineHookConn lets a test see (and order) the deadlines the client sets.
type deadlineHookConn struct {
	*net.TCPConn
	onSetDeadline     func(time.Time)
	onSetReadDeadline func(time.Time)
}

func (c *deadlineHookConn) SetDeadline(d time.Time) error {
	if f := c.onSetDeadline; f != nil {
		f(d)
	}
	return c.TCPConn.SetDeadline(d)
}

func (c *deadlineHookConn) SetReadDeadline(d time.Time) error {
	if f := c.onSetReadDeadline; f != nil {
		f(d)
	}
	return c.TCPConn.SetReadDeadline(d)
}

// A full-duplex exchange (the 2xx head arrives while the streamed body is
// still going out), then the request body's reader fails. Do ends at once
// with the body's error, not a timeout, rather than block reading a
// response body the server will never send (it waits for the rest of the
// request). The body sender wakes the reader with a past read deadline;
// the conn's SetDeadline hook forces that wake-up to land just as the
// engine sets its own deadline after the head, an order the scheduler may
// otherwise pick on its own.
func TestFullDuplexBodyErrorAfterHeadEndsDo(t *testing.T) {
	boom := errors.New("request body source failed")
	pr, pw := io.Pipe()
	sawPastRead := make(chan struct{})
	var pastOnce atomic.Bool
	var deadlines atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rc := &deadlineHookConn{TCPConn: nc.(*net.TCPConn)}
		rc.onSetReadDeadline = func(d time.Time) {
			if d.Before(time.Unix(1000, 0)) && pastOnce.CompareAndSwap(false, true) {
				close(sawPastRead) // the sender's wake-up
			}
		}
		rc.onSetDeadline = func(d time.Time) {
			if d.Before(time.Unix(1000, 0)) {
				return // an interrupt
			}
			if deadlines.Add(1) == 2 { // sendAndReadHead, after the head
				pw.CloseWithError(boom)
				select {
				case <-sawPastRead:
				case <-time.After(5 * time.Second):
				}
			}
		}
		return rc, nil
	}
	c := newClient(t, asynchttp.Config{Dial: dial})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return // the request never completes
		}
		io.WriteString(nc, "done")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("POST")
	req.SetRequestURI(srv.URL())
	req.SetBodyStream(pr, -1)
	start := time.Now()
	err := c.Do(ctx, req, resp)
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Less(t, elapsed, 2*time.Second, "Do must end when the request body fails, not when ctx does: %v", err)
	assert.ErrorIs(t, err, boom, "the request body's error, not a timeout")
}
