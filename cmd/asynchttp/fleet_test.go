// crawl -redis: three worker processes crawl one site set through a real
// redis-server — every page fetched once, the fleet-wide per-host cap
// held server-side, and one merged table.

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/asynchttpredis/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inFlightPeak wraps each server's handler to count its requests in
// flight and keep the peak.
type inFlightPeak struct {
	now, peak []atomic.Int64
}

func (p *inFlightPeak) wrap(i int, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.now[i].Add(1)
		for {
			pk := p.peak[i].Load()
			if n <= pk || p.peak[i].CompareAndSwap(pk, n) {
				break
			}
		}
		defer p.now[i].Add(-1)
		time.Sleep(20 * time.Millisecond) // long enough for requests to overlap
		h.ServeHTTP(w, r)
	})
}

// buildTool builds the command into a temp dir, for tests that run it
// as separate processes.
func buildTool(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "asynchttp")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestFleetOfThreeWorkersCrawlsEachPageOnceUnderTheFleetCap(t *testing.T) {
	rs := redistest.Start(t)
	bin := buildTool(t)
	const pages, hosts = 15, 3
	peaks := &inFlightPeak{now: make([]atomic.Int64, hosts), peak: make([]atomic.Int64, hosts)}
	inner := linkedSite(pages)
	srvs := startServers(t, hosts, func(i int, srvs []*testServer) http.Handler { return peaks.wrap(i, inner(i, srvs)) })
	var allow []string
	for _, s := range srvs {
		allow = append(allow, s.addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outs := make([]string, 3)
	codes := make([]int, 3)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, bin, "crawl", "-redis", "redis://"+rs.Addr, "-crawl-id", "t1",
				"-fleet-per-host", "2", "-robots=false", "-c", "8", "-depth", "100",
				"-allow-host", strings.Join(allow, ","), srvs[0].url+"/p/0")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			codes[w] = cmd.ProcessState.ExitCode()
			outs[w] = out.String()
			if err != nil {
				t.Logf("worker %d: %v\n%s", w, err, errOut.String())
			}
		})
	}
	wg.Wait()
	var total int64
	for i, s := range srvs {
		for p := range pages {
			assert.Equal(t, 1, s.pathCount(fmt.Sprintf("/p/%d", p)), "%s /p/%d fetched once by the fleet", s.addr, p)
		}
		assert.LessOrEqual(t, peaks.peak[i].Load(), int64(2), "the fleet-wide cap of 2 per host, server side")
		t.Logf("%s: %d requests, at most %d in flight", s.addr, s.requests.Load(), peaks.peak[i].Load())
		total += s.requests.Load()
	}
	merged := 0
	for w, out := range outs {
		assert.Equal(t, exitOK, codes[w], "worker %d:\n%s", w, out)
		if i := strings.Index(out, "fleet t1: 3 workers"); i >= 0 {
			t.Logf("worker %d printed:\n%s", w, out[i:])
			merged++
			_, rows := tableRows(t, out[i:])
			require.NotNil(t, rows["total"], out[i:])
			reqs, err := strconv.ParseInt(rows["total"][1], 10, 64)
			require.NoError(t, err)
			assert.Equal(t, total, reqs, "the merged table counts every request the servers saw")
			for _, s := range srvs {
				assert.Equal(t, "3", rows[s.addr][7], "every worker reported %s: %v", s.addr, rows[s.addr])
			}
		}
	}
	assert.Equal(t, 1, merged, "the last worker to finish prints the merged table")
}

func TestFleetWithRedisDownFailsAtOnce(t *testing.T) {
	start := time.Now()
	code, _, errOut := runTool(t, "crawl", "-redis", "redis://"+downAddr(t), "http://127.0.0.1:1/")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "redis 127.0.0.1:")
	assert.Less(t, time.Since(start), 10*time.Second)
	code, _, _ = runTool(t, "crawl", "-redis", "http://nope", "http://127.0.0.1:1/")
	assert.Equal(t, exitUsage, code, "not a redis URL")
}

func TestAKilledWorkersURLsGoBackToTheFleet(t *testing.T) {
	rs := redistest.Start(t)
	bin := buildTool(t)
	const pages = 8
	inner := linkedSite(pages)
	srv := startServers(t, 1, func(i int, srvs []*testServer) http.Handler {
		h := inner(i, srvs)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			h.ServeHTTP(w, r)
		})
	})[0]
	args := []string{"crawl", "-redis", "redis://" + rs.Addr, "-crawl-id", "k1", "-fleet-lease", "1s",
		"-robots=false", "-c", "4", "-depth", "100", srv.url + "/p/0"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := exec.CommandContext(ctx, bin, args...)
	require.NoError(t, a.Start())
	deadline := time.Now().Add(20 * time.Second)
	for srv.requests.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.GreaterOrEqual(t, srv.requests.Load(), int64(3), "worker A is crawling")
	require.NoError(t, a.Process.Kill()) // SIGKILL: its taken URLs stay taken until their leases end
	a.Wait()

	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	require.NoError(t, err, "worker B:\n%s", out)
	assert.Less(t, time.Since(start), 30*time.Second)
	for p := range pages {
		assert.GreaterOrEqual(t, srv.pathCount(fmt.Sprintf("/p/%d", p)), 1, "/p/%d fetched by the fleet", p)
	}
	t.Logf("worker B: %s", strings.SplitN(string(out), "\n", 2)[0])
}
