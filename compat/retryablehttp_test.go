package compat

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/require"
)

// newRetryClient is a go-retryablehttp client with its default retry policy
// over rt, counting attempts. Waits are shortened so a retried 503 is quick;
// a permanent error that the policy wrongly retried still shows as more than
// one attempt.
func newRetryClient(rt http.RoundTripper, attempts *atomic.Int32) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: rt}
	c.Logger = nil
	c.RetryMax = 2
	c.RetryWaitMin = time.Millisecond
	c.RetryWaitMax = time.Millisecond
	c.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, _ int) { attempts.Add(1) }
	return c
}

// The default policy gives up at once on permanent errors (an untrusted
// certificate, a bad scheme, an invalid header value): it recognises them
// by type and by net/http's wording, so the transport must produce both.
func TestRetryableHTTPGivesUpAtOnceOnPermanentErrors(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	cases := []struct {
		name, url string
		header    [2]string
	}{
		{"untrustedCertificate", tlsSrv.URL, [2]string{}},
		{"unsupportedScheme", "ftp://127.0.0.1/file", [2]string{}},
		{"invalidHeaderValue", tlsSrv.URL, [2]string{"X", "a\nb"}},
	}
	eachTransport(t, func(t *testing.T, tr transport) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var attempts atomic.Int32
				// Default waits: a wrongly retried permanent error would sleep
				// past this context, which the assertions below catch.
				c := newRetryClient(tr.make(t, nil), &attempts)
				c.RetryWaitMin, c.RetryWaitMax, c.RetryMax = time.Second, 30*time.Second, 4
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, tc.url, nil)
				require.NoError(t, err)
				if tc.header[0] != "" {
					req.Header[tc.header[0]] = []string{tc.header[1]}
				}
				resp, err := c.Do(req)
				if resp != nil {
					resp.Body.Close()
				}
				require.Error(t, err)
				require.False(t, errors.Is(err, context.DeadlineExceeded), "retried until the context ended: %v", err)
				require.Equal(t, int32(1), attempts.Load(), "attempts; last error: %v", err)
			})
		}
	})
}

// The default policy does retry a 503.
func TestRetryableHTTPRetries503(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		}))
		t.Cleanup(srv.Close)
		var attempts atomic.Int32
		c := newRetryClient(tr.make(t, nil), &attempts)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, int32(2), attempts.Load())
		require.Equal(t, int32(2), hits.Load())
	})
}
