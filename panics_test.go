// Panics in the caller's code (Dial, Bootstrap, httptrace hooks, TLS
// callbacks, body streams) while the pool holds a slot or conn: the slot
// or conn is given back and sockets are closed.

package asynchttp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPanickingHooksGiveBackTheirConn: the caller's code that runs while
// the pool holds a slot or a conn for it (Config.Dial, Bootstrap, httptrace
// hooks) may panic; a caller that recovers (an HTTP server does) finds the
// pool whole: nothing in use, and with MaxConnsPerHost 1 the next request
// goes through.
func TestPanickingHooksGiveBackTheirConn(t *testing.T) {
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		okHandler(w, r)
	}))
	var armed atomic.Bool
	boom := func() {
		if armed.CompareAndSwap(true, false) {
			panic("hook bug")
		}
	}
	var d net.Dialer
	for _, tt := range []struct {
		name  string
		cfg   func(*asynchttp.Config)
		trace *httptrace.ClientTrace
		post  bool
	}{
		{name: "Dial", cfg: func(c *asynchttp.Config) {
			c.Dial = func(ctx context.Context, n, a string) (net.Conn, error) { boom(); return d.DialContext(ctx, n, a) }
		}},
		{name: "Bootstrap", cfg: func(c *asynchttp.Config) {
			c.Bootstrap = func(context.Context, net.Conn) error { boom(); return nil }
		}},
		{name: "GotConn", trace: &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { boom() }}},
		{name: "WroteHeaders", trace: &httptrace.ClientTrace{WroteHeaders: boom}},
		{name: "GotFirstResponseByte, body still streaming", post: true,
			trace: &httptrace.ClientTrace{GotFirstResponseByte: boom}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := asynchttp.Config{MaxConnsPerHost: 1}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newClient(t, cfg)
			ctx := testCtx(t)
			if tt.trace != nil {
				ctx = httptrace.WithClientTrace(ctx, tt.trace)
			}
			do := func() (err error, panicked any) {
				defer func() { panicked = recover() }()
				req := asynchttp.AcquireRequest()
				resp := asynchttp.AcquireResponse()
				defer asynchttp.ReleaseRequest(req)
				defer asynchttp.ReleaseResponse(resp)
				req.SetRequestURI(srv.URL())
				if tt.post {
					req.SetMethod("POST")
					req.SetBody(bytes.Repeat([]byte("x"), 1<<20)) // sent by a goroutine
				}
				return c.Do(ctx, req, resp), nil
			}
			armed.Store(true)
			_, panicked := do()
			require.Equal(t, "hook bug", panicked)
			st := c.Stats()
			assert.Zero(t, st.InUse, "nothing stranded in use")
			assert.Zero(t, st.Dialing)
			err, panicked := do()
			require.Nil(t, panicked)
			require.NoError(t, err, "the next request gets the host's one slot")
		})
	}
}

// panicReader panics on its first Read.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("body bug") }

// TestPanickingBodyStreamFailsRequest: a request body whose Read panics runs
// in the body sender's goroutine, out of the caller's reach; the request
// fails with the *PanicError instead of ending the process, and the conn is
// not reused.
func TestPanickingBodyStreamFailsRequest(t *testing.T) {
	c := newClient(t, asynchttp.Config{MaxConnsPerHost: 1})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		okHandler(w, r)
	}))
	ctx := testCtx(t)
	req := asynchttp.AcquireRequest()
	resp := asynchttp.AcquireResponse()
	defer asynchttp.ReleaseRequest(req)
	defer asynchttp.ReleaseResponse(resp)
	req.SetMethod("POST")
	req.SetRequestURI(srv.URL())
	req.SetBodyStream(panicReader{}, -1)
	err := c.Do(ctx, req, resp)
	var pe *asynchttp.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "body bug", pe.Value)
	assert.Zero(t, c.Stats().InUse)
	_, _, err = get(ctx, c, "GET", srv.URL())
	require.NoError(t, err)
}

// With an "https" proxy, the caller's TLS callbacks (Config.TLSConfig, and
// httptrace's TLSHandshakeStart/Done) also run in the handshake with the
// proxy. A panic there closes the proxy's TCP socket, as one in the
// origin's handshake does, and gives the slot back: the next request
// through the proxy succeeds.
func TestPanickingTLSCallbackOnHTTPSProxyClosesSocket(t *testing.T) {
	var armed atomic.Bool
	boom := func() {
		if armed.CompareAndSwap(true, false) {
			panic("tls callback bug")
		}
	}
	for _, tt := range []struct {
		name  string
		tls   func(*tls.Config)
		trace *httptrace.ClientTrace
	}{
		{name: "VerifyConnection", tls: func(c *tls.Config) {
			c.VerifyConnection = func(tls.ConnectionState) error { boom(); return nil }
		}},
		{name: "TLSHandshakeDone", trace: &httptrace.ClientTrace{
			TLSHandshakeDone: func(tls.ConnectionState, error) { boom() },
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var dialed []net.Conn
			var d net.Dialer
			tcfg := &tls.Config{InsecureSkipVerify: true}
			if tt.tls != nil {
				tt.tls(tcfg)
			}
			var proxyURL atomic.Pointer[url.URL]
			c := newClient(t, asynchttp.Config{
				MaxConnsPerHost: 1,
				TLSConfig:       tcfg,
				Proxy:           func(*http.Request) (*url.URL, error) { return proxyURL.Load(), nil },
				Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
					nc, err := d.DialContext(ctx, n, a)
					if err == nil {
						mu.Lock()
						dialed = append(dialed, nc) // kept: a leaked socket is not closed by GC
						mu.Unlock()
					}
					return nc, err
				},
			})
			// The proxy speaks TLS; plain-HTTP proxying sends absolute-form
			// requests, which it answers itself.
			proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "proxied")
			}))
			proxy.Config.ErrorLog = log.New(io.Discard, "", 0)
			proxy.StartTLS()
			t.Cleanup(proxy.Close)
			t.Cleanup(func() { // runs first: before newClient's leak check
				mu.Lock()
				defer mu.Unlock()
				for _, nc := range dialed {
					nc.Close()
				}
			})
			pu, err := url.Parse("https://" + proxy.Listener.Addr().String())
			require.NoError(t, err)
			proxyURL.Store(pu)

			ctx := testCtx(t)
			if tt.trace != nil {
				ctx = httptrace.WithClientTrace(ctx, tt.trace)
			}
			do := func() (code int, err error, panicked any) {
				defer func() { panicked = recover() }()
				code, _, err = get(ctx, c, "GET", "http://app.test/")
				return code, err, nil
			}
			armed.Store(true)
			_, _, panicked := do()
			require.Equal(t, "tls callback bug", panicked)
			st := c.Stats()
			assert.Zero(t, st.InUse)
			assert.Zero(t, st.Dialing, "the dial guard gave the slot back")

			mu.Lock()
			require.Len(t, dialed, 1)
			first := dialed[0]
			mu.Unlock()
			// A socket already closed refuses a deadline with net.ErrClosed.
			err = first.SetReadDeadline(time.Time{})
			assert.True(t, errors.Is(err, net.ErrClosed),
				"the proxy socket whose TLS handshake panicked must be closed, got %v", err)

			code, err, panicked := do()
			require.Nil(t, panicked)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, code)
		})
	}
}
