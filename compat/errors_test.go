package compat

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// The errors go-retryablehttp and similar code inspect, checked directly
// through http.Client: the TLS package's own error type for an untrusted
// certificate, and net/http's wording for a bad scheme and a bad header.
func TestClientErrorsMatchNetHTTP(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	do := func(t *testing.T, rt http.RoundTripper, url string, h http.Header) error {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		return err
	}
	eachTransport(t, func(t *testing.T, tr transport) {
		rt := tr.make(t, nil)
		t.Run("untrustedCertificate", func(t *testing.T) {
			err := do(t, rt, tlsSrv.URL, nil)
			var cve *tls.CertificateVerificationError
			require.True(t, errors.As(err, &cve), "error %T: %v", err, err)
		})
		t.Run("unsupportedScheme", func(t *testing.T) {
			err := do(t, rt, "ftp://127.0.0.1/file", nil)
			require.ErrorContains(t, err, `unsupported protocol scheme "ftp"`)
		})
		t.Run("invalidHeaderValue", func(t *testing.T) {
			err := do(t, rt, tlsSrv.URL, http.Header{"X": {"a\nb"}})
			require.ErrorContains(t, err, `net/http: invalid header field value for "X"`)
		})
		t.Run("invalidHeaderName", func(t *testing.T) {
			err := do(t, rt, tlsSrv.URL, http.Header{"Bad Name": {"v"}})
			require.ErrorContains(t, err, `net/http: invalid header field name "Bad Name"`)
		})
		t.Run("cancelledContext", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tlsSrv.URL, nil)
			require.NoError(t, err)
			_, err = rt.RoundTrip(req)
			require.Error(t, err)
			require.True(t, err == context.Canceled, "RoundTrip error is %T %v, not context.Canceled itself", err, err)
		})
	})
}
