// -metrics: the pool's Prometheus figures served while crawl or bench runs.

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeMetricsExposesThePoolsStats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := (&http.Client{Transport: c}).Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	var stderr bytes.Buffer
	stop, err := serveMetrics("127.0.0.1:0", c, &stderr)
	require.NoError(t, err)
	defer stop()
	addr := regexp.MustCompile(`http://(\S+)/metrics`).FindStringSubmatch(stderr.String())
	require.Len(t, addr, 2, "the address is printed: %q", stderr.String())

	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr[1]+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	host := srv.URL // "http://127.0.0.1:port" is the host key
	assert.Contains(t, string(body), `asynchttp_connections_created_total{host="`+host+`"} 1`)
	assert.Contains(t, string(body), `asynchttp_connections_reused_total{host="`+host+`"} 2`)
	assert.Contains(t, string(body), `asynchttp_connections_idle{host="`+host+`"} 1`)
	http.DefaultClient.CloseIdleConnections()
}

func TestServeMetricsRefusesABadAddress(t *testing.T) {
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	_, err := serveMetrics("127.0.0.1:notaport", c, io.Discard)
	require.Error(t, err)
	stop, err := serveMetrics("", c, io.Discard)
	require.NoError(t, err)
	stop()
}
