// Regression tests from the second review of the engine: each reproduced a bug, now fixed.

package asynchttp_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReview2ProxyUserinfoIsPartOfTheKey: two requests to the same target
// through the same proxy with different credentials. The host key (and the
// hostPool's proxyAuth, fixed when the host pool is made) ignores the
// proxy URL's user info, so bob's request goes out with alice's
// Proxy-Authorization (and on alice's conn / CONNECT tunnel).
func TestRegression2ProxyUserinfoIsPartOfTheKey(t *testing.T) {
	var paddr atomic.Value
	var n atomic.Int32
	c := newClient(t, asynchttp.Config{Proxy: func(*http.Request) (*url.URL, error) {
		user := "alice:pw1"
		if n.Add(1) > 1 {
			user = "bob:pw2"
		}
		return url.Parse("http://" + user + "@" + paddr.Load().(string))
	}})
	proxy := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Proxy-Authorization"))
	}))
	paddr.Store(proxy.Addr())
	ctx := testCtx(t)
	_, got1, err := get(ctx, c, "GET", "http://app.test/")
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw1")), got1)
	_, got2, err := get(ctx, c, "GET", "http://app.test/")
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("bob:pw2")), got2,
		"bob's request must not carry alice's proxy credentials")
}

// TestReview2SharedLookupCanceledByFirstCaller: A starts resolving a name;
// B needs a new conn to the same name and waits for A's lookup (the
// singleflight in candidates). A's context is canceled: its lookup fails
// with A's cancellation, which is stored as lookupErr and handed to B,
// whose own context is fine.
func TestRegression2SharedLookupCanceledByFirstCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pipeServer{serve: serveOK(nil)}
		var calls atomic.Int32
		lookup := func(ctx context.Context, host string) ([]string, error) {
			calls.Add(1)
			select { // a slow DNS server; honours ctx
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
				return []string{"10.255.0.1"}, nil
			}
		}
		c := asynchttp.New(asynchttp.Config{Dial: srv.dial, LookupHost: lookup})
		defer c.Close()
		actx, cancelA := context.WithCancel(t.Context())
		defer cancelA()
		aErr := make(chan error, 1)
		go func() { _, _, err := get(actx, c, "GET", "http://app.test/"); aErr <- err }()
		synctest.Wait() // A is in LookupHost
		bErr := make(chan error, 1)
		go func() { _, _, err := get(t.Context(), c, "GET", "http://app.test/"); bErr <- err }()
		synctest.Wait() // B waits for A's lookup
		cancelA()
		require.ErrorIs(t, <-aErr, context.Canceled)
		require.NoError(t, <-bErr, "B's context is live: A's cancellation must not fail B")
		assert.Equal(t, int32(1), calls.Load(), "one lookup, shared")
	})
}

// r2Conn lets a test see (and order) the deadlines the client sets.
type r2Conn struct {
	*net.TCPConn
	onSetDeadline     func(time.Time)
	onSetReadDeadline func(time.Time)
}

func (c *r2Conn) SetDeadline(d time.Time) error {
	if f := c.onSetDeadline; f != nil {
		f(d)
	}
	return c.TCPConn.SetDeadline(d)
}

func (c *r2Conn) SetReadDeadline(d time.Time) error {
	if f := c.onSetReadDeadline; f != nil {
		f(d)
	}
	return c.TCPConn.SetReadDeadline(d)
}

// TestReview2FullDuplexBodyErrorAfterHeadHangs: a full-duplex exchange
// (2xx head arrives while the streamed body is still going out), then the
// request body's reader fails. The bodySender wakes the reader with a past
// read deadline (send.go, startBodySender, case isBodyReadError) without
// looking at headDone; when that lands before sendAndReadHead's
// cn.setDeadline(ctx, dl) after the head, the deadline is overwritten and
// the caller blocks reading a body the server will never send (it waits
// for the rest of the request) until its context ends — forever without a
// deadline. The order is forced through the conn's SetDeadline hook; the
// scheduler may pick it on its own. Even when the wake-up works, the caller
// gets a *TimeoutError (Timeout()==true) instead of the body's error.
func TestRegression2FullDuplexBodyErrorAfterHeadHangs(t *testing.T) {
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
		rc := &r2Conn{TCPConn: nc.(*net.TCPConn)}
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

// TestReview2ExpectContinueTimeoutThenEarlyResponse: Expect: 100-continue
// to a server that says nothing within ExpectContinueTimeout; the body then
// goes out inline (send.go, readHeadOnContinue -> send), so when the server
// answers 413 and stops reading, the caller is wedged in the write until
// its context ends instead of getting the 413 (as it does without Expect,
// where the body goes out from the bodySender).
func TestRegression2ExpectContinueTimeoutThenEarlyResponse(t *testing.T) {
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
	req.SetBodyStream(io.LimitReader(rvZeros{}, size), size)
	require.NoError(t, c.Do(ctx, req, resp))
	assert.Equal(t, 413, resp.StatusCode)
}

// TestReview2DrainHostTakesProxiedStatsKey: DrainHost (and Prewarm) are
// documented to take "a host key as in Stats.Hosts", but a proxied key
// ("http://app.test:80 via http://127.0.0.1:N") is parsed as a URL and
// rejected.
func TestRegression2DrainHostTakesProxiedStatsKey(t *testing.T) {
	var paddr atomic.Value
	c := newClient(t, asynchttp.Config{Proxy: func(*http.Request) (*url.URL, error) {
		return url.Parse("http://" + paddr.Load().(string))
	}})
	proxy := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	paddr.Store(proxy.Addr())
	_, _, err := get(testCtx(t), c, "GET", "http://app.test/")
	require.NoError(t, err)
	st := c.Stats()
	require.Len(t, st.Hosts, 1)
	for key := range st.Hosts {
		ok, err := c.DrainHost(key)
		require.NoError(t, err, "key %q from Stats.Hosts", key)
		assert.True(t, ok)
	}
	assert.Zero(t, c.Stats().Idle)
}

// TestReview2CloseStopsBootstrapOfPrewarm: Close stops dials in flight
// (dial's dctx), but Bootstrap gets the caller's ctx: a Prewarm whose
// Bootstrap waits on its ctx keeps running — its goroutines and the
// socket — after Close has returned, until the caller's ctx ends.
func TestRegression2CloseStopsBootstrapOfPrewarm(t *testing.T) {
	entered := make(chan struct{}, 1)
	c := newClient(t, asynchttp.Config{Bootstrap: func(ctx context.Context, nc net.Conn) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}})
	srv := testserver.NewCounting(t, http.HandlerFunc(okHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.Prewarm(ctx, srv.URL(), 1); done <- err }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("Bootstrap never ran")
	}
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Prewarm still running after Close: its Bootstrap's ctx was not canceled")
	}
}
