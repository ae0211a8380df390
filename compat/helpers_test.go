// Package compat drives net/http-based tools over asynchttp's RoundTripper
// and over net/http's own Transport, so any difference shows as a failure.
package compat

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
)

// transport is one RoundTripper under test.
type transport struct {
	name string
	// make builds a fresh RoundTripper; tlsCfg may be nil.
	make func(t *testing.T, tlsCfg *tls.Config) http.RoundTripper
}

// transports is the table every test runs over: net/http is the reference.
var transports = []transport{
	{"nethttp", func(t *testing.T, tlsCfg *tls.Config) http.RoundTripper {
		tr := &http.Transport{TLSClientConfig: tlsCfg}
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}},
	{"asynchttp", func(t *testing.T, tlsCfg *tls.Config) http.RoundTripper {
		c := asynchttp.New(asynchttp.Config{TLSConfig: tlsCfg})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}},
}

// eachTransport runs f as a subtest per transport.
func eachTransport(t *testing.T, f func(t *testing.T, tr transport)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { f(t, tr) })
	}
}

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// recv waits for a value on ch, failing the test after waitTimeout.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting")
		var zero T
		return zero
	}
}
