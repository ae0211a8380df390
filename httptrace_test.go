// net/http/httptrace hooks through Do and RoundTrip, in net/http's order.

package asynchttp_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traceLog records the httptrace hooks called, in order.
type traceLog struct {
	mu     sync.Mutex
	events []string
	got    []httptrace.GotConnInfo
}

func (l *traceLog) add(s string) { l.mu.Lock(); l.events = append(l.events, s); l.mu.Unlock() }

func (l *traceLog) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { l.add("GetConn") },
		GotConn: func(i httptrace.GotConnInfo) {
			l.mu.Lock()
			l.got = append(l.got, i)
			l.mu.Unlock()
			l.add("GotConn")
		},
		PutIdleConn:          func(err error) { l.add(fmt.Sprintf("PutIdleConn(%v)", err == nil)) },
		ConnectStart:         func(string, string) { l.add("ConnectStart") },
		ConnectDone:          func(_, _ string, err error) { l.add("ConnectDone") },
		TLSHandshakeStart:    func() { l.add("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { l.add("TLSHandshakeDone") },
		WroteHeaders:         func() { l.add("WroteHeaders") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { l.add("WroteRequest") },
		GotFirstResponseByte: func() { l.add("GotFirstResponseByte") },
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			l.add(fmt.Sprintf("Got1xx(%d,%s)", code, h.Get("Link")))
			return nil
		},
	}
}

func (l *traceLog) take() ([]string, []httptrace.GotConnInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, g := l.events, l.got
	l.events, l.got = nil, nil
	return e, g
}

func TestHTTPTraceHooksRunInOrder(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</a.css>")
			w.WriteHeader(103)
		}
		okHandler(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := newClient(t, asynchttp.Config{TLSConfig: &tls.Config{RootCAs: roots}})
	var l traceLog
	ctx := httptrace.WithClientTrace(testCtx(t), l.trace())

	// Through Do.
	_, _, err := get(ctx, c, "GET", srv.URL+"/")
	require.NoError(t, err)
	events, got := l.take()
	assert.Equal(t, []string{"GetConn", "ConnectStart", "ConnectDone", "TLSHandshakeStart", "TLSHandshakeDone",
		"GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte", "PutIdleConn(true)"}, events)
	require.Len(t, got, 1)
	assert.False(t, got[0].Reused)

	// Through RoundTrip, reusing the conn, with a 103 on the way.
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/hints", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: c}).Do(req)
	require.NoError(t, err)
	io.ReadAll(resp.Body)
	resp.Body.Close()
	events, got = l.take()
	assert.Equal(t, []string{"GetConn", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte",
		"Got1xx(103,</a.css>)", "PutIdleConn(true)"}, events)
	require.Len(t, got, 1)
	assert.True(t, got[0].Reused)
	assert.True(t, got[0].WasIdle)
	assert.Positive(t, got[0].IdleTime)
	assert.NotNil(t, resp.TLS, "RoundTrip fills resp.TLS")
}
