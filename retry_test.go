// Retries: a request that fails on a reused conn before any response byte
// goes out again only when idempotent and replayable, rewinding its body,
// without breaking the pool's accounting.

package asynchttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
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

func TestRoundTripRetryRewindsBodyWithGetBody(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := testserver.NewScripted(t, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for i := 0; ; i++ {
			req, body, err := testserver.ReadRequest(br)
			if err != nil || (i == 1 && req.URL.Path == "/second") {
				return
			}
			testserver.Respond(nc, 200, req.Method+" "+string(body))
		}
	})
	hc := &http.Client{Transport: c}
	_, _ = httpGet(t, hc, srv.URL()+"/first")
	// http.NewRequest sets GetBody for a strings.Reader.
	req, err := http.NewRequestWithContext(testCtx(t), "PUT", srv.URL()+"/second", strings.NewReader("payload"))
	require.NoError(t, err)
	require.NotNil(t, req.GetBody)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "PUT payload", string(b))
	assert.Equal(t, 2, srv.Accepted())
}

// A retry (fresh acquire) under a full MaxTotalConns evicts the least
// recently used idle conn, which may be the last conn of its own host. The
// host stays in the map for the conn then dialed into it, so the total and
// the per-host counts keep adding up.
func TestRetryEvictingOwnHostsLastIdleConnKeepsAccounting(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxTotalConns: 2})
	var mu sync.Mutex
	accepted := 0
	srvA := testserver.NewScripted(t, func(nc net.Conn) {
		mu.Lock()
		accepted++
		n := accepted
		mu.Unlock()
		br := bufio.NewReader(nc)
		for i := 0; ; i++ {
			if _, _, err := testserver.ReadRequest(br); err != nil {
				return
			}
			if n == 2 && i == 1 {
				return // conn Y: hang up on its second request, before any response byte
			}
			if testserver.Respond(nc, 200, "a") != nil {
				return
			}
		}
	})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srvB := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "b")
	}))
	ctx := testCtx(t)

	// Two idle conns to A: X idled first (the pool's LRU), then Y.
	rt := func() *http.Response {
		hreq, err := http.NewRequestWithContext(ctx, "GET", srvA.URL(), nil)
		require.NoError(t, err)
		resp, err := c.RoundTrip(hreq)
		require.NoError(t, err)
		return resp
	}
	rx, ry := rt(), rt()
	for _, r := range []*http.Response{rx, ry} {
		_, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		r.Body.Close()
	}
	require.Equal(t, 2, c.Stats().Idle)

	// A PUT takes Y (LIFO), which fails before any response byte; while
	// it rewinds its body, a request to B takes the slot Y freed.
	bDone := make(chan error, 1)
	req := asynchttp.AcquireRequest()
	defer asynchttp.ReleaseRequest(req)
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("PUT")
	req.SetRequestURI(srvA.URL())
	req.SetBodyStream(strings.NewReader("x"), 1)
	req.SetGetBody(func() (io.ReadCloser, error) {
		go func() { _, _, err := get(ctx, c, "GET", srvB.URL()); bDone <- err }()
		recvWithin(entered, 10*time.Second)
		return io.NopCloser(strings.NewReader("x")), nil
	})
	require.NoError(t, c.Do(ctx, req, resp))
	assert.Equal(t, "a", string(resp.Body()))
	assert.Empty(t, asynchttp.CheckInvariants(c), "pool accounting after the retry")
	st := c.Stats()
	assert.Equal(t, st.Open, st.Hosts[srvA.URL()].Open+st.Hosts[srvB.URL()].Open,
		"Open over hosts must add up to the total")

	close(release)
	require.NoError(t, <-bDone)
}
