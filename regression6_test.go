// Regression tests from a review of the panic-guard commits (21c3aad,
// 32d86cd), per-client waiters (00e6991), lingering-host wake-ups
// (3c0e890) and the bench server's exact counts (61d8f0f).

package asynchttp_test

import (
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegression6PanickingTLSCallbackOnHTTPSProxyClosesSocket: with an
// "https" proxy, dialProxied runs the caller's TLS callbacks
// (Config.TLSConfig, and httptrace's TLSHandshakeStart/Done) in its own
// handshake with the proxy. dialConn's guard only covers the handshake
// with the origin, so a panic in the proxy handshake leaves the proxy's
// TCP socket open for good (the dial guard gives the slot back, but the
// socket is nobody's). The origin handshake of 21c3aad closes its socket.
func TestRegression6PanickingTLSCallbackOnHTTPSProxyClosesSocket(t *testing.T) {
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
