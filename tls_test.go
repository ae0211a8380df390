// HTTPS: conns reused across requests, unknown CAs refused, handshake
// timeout, HTTP/1.1 by ALPN and SNI from the request's host.

package asynchttp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPSReusesConnsAndRejectsUnknownCA(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the bad-CA handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := newClient(t, asynchttp.Config{TLSConfig: &tls.Config{RootCAs: roots}})
	ctx := testCtx(t)
	for range 3 {
		code, body, err := get(ctx, c, "GET", srv.URL+"/")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Equal(t, "secure HTTP/1.1", body)
	}
	st := c.Stats()
	assert.Equal(t, uint64(1), st.Created)
	assert.Equal(t, uint64(2), st.Reused, "TLS conns pass the liveness check")

	// An unknown CA fails the handshake with a clear error.
	bad := newClient(t, asynchttp.Config{})
	_, _, err := get(ctx, bad, "GET", srv.URL+"/")
	var ue x509.UnknownAuthorityError
	require.ErrorAs(t, err, &ue)
	assert.Zero(t, bad.Stats().Open)
}

func TestTLSHandshakeTimeoutAndALPN(t *testing.T) {
	c := newClient(t, asynchttp.Config{TLSHandshakeTimeout: 50 * time.Millisecond})
	// A peer that accepts TCP and never says a word of TLS.
	release := make(chan struct{})
	mute := testserver.NewScripted(t, func(nc net.Conn) { <-release })
	defer close(release)
	_, _, err := get(testCtx(t), c, "GET", "https://"+mute.Addr()+"/")
	var te *asynchttp.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "tls handshake", te.Op)
	assert.Zero(t, c.Stats().Open)

	// A server offering h2 gets http/1.1 from us: we speak HTTP/1.1 only.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	var d net.Dialer
	c2 := newClient(t, asynchttp.Config{
		TLSConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}}, // overridden: HTTP/1.1 only
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, srv.Listener.Addr().String()) // example.com is this server
		},
	})
	req, err := http.NewRequestWithContext(testCtx(t), "GET", "https://example.com/", nil)
	require.NoError(t, err)
	resp, err := c2.RoundTrip(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "HTTP/1.1", string(b))
	require.NotNil(t, resp.TLS)
	assert.Equal(t, "http/1.1", resp.TLS.NegotiatedProtocol)
	assert.Equal(t, "example.com", resp.TLS.ServerName, "SNI from the request's host")
}
