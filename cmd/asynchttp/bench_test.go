// asynchttp bench: a fixed count or duration of requests, bodies, errors.

package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBench(t *testing.T) {
	srv := startServers(t, 1, hello)[0]
	code, out, errOut := runTool(t, "bench", "-n", "200", "-c", "8", "-max-conns-per-host", "3", srv.url+"/x")
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut)
	for _, want := range []string{"Requests/s:", "Latency histogram:", "50% in", "99% in", "[200] 200 responses", "Connections:"} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, int64(200), srv.requests.Load())
	assert.LessOrEqual(t, srv.peak(), 3, "server side")
	var opened, reused int
	_, err := fmt.Sscanf(out[strings.Index(out, "  opened"):], "  opened %d, requests on reused ones %d", &opened, &reused)
	require.NoError(t, err)
	assert.LessOrEqual(t, opened, 3)
	assert.Equal(t, 200, opened+reused)
}

func TestBenchDurationAndBody(t *testing.T) {
	srv := startServers(t, 1, func(int, []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.Header.Get("X-Key") != "v" {
				http.Error(w, "want POST with X-Key", http.StatusBadRequest)
				return
			}
			b := make([]byte, 16)
			n, _ := r.Body.Read(b)
			if string(b[:n]) != "payload" {
				http.Error(w, "bad body "+string(b[:n]), http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, "ok")
		})
	})[0]
	start := time.Now()
	code, out, errOut := runTool(t, "bench", "-d", "300ms", "-c", "2", "-method", "POST", "-body", "payload", "-H", "X-Key: v", srv.url)
	require.Equal(t, exitOK, code, errOut)
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Regexp(t, `\[200\] \d+ responses`, out)
	assert.NotContains(t, out, "[400]")
}

func TestBenchErrors(t *testing.T) {
	down := downAddr(t)
	code, out, errOut := runTool(t, "bench", "-n", "5", "http://"+down+"/")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "[refused] 5")
	assert.Contains(t, errOut, "no response arrived")
	code, _, errOut = runTool(t, "bench", "a", "b")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "want exactly one URL")
	code, _, _ = runTool(t, "bench", "-c", "0", "http://"+down+"/")
	assert.Equal(t, exitUsage, code)
}
