// The crawl's politeness through the client's host policy: robots.txt
// (Disallow and Crawl-delay), -rate, -adaptive, and bad values.

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

// politeSite is linkedSite with a robots.txt.
func politeSite(pages int, robotsTxt string) func(i int, srvs []*testServer) http.Handler {
	inner := linkedSite(pages)
	return func(i int, srvs []*testServer) http.Handler {
		h := inner(i, srvs)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				fmt.Fprint(w, robotsTxt)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// gaps returns the least and the mean gap between the requests srv saw.
func gaps(t *testing.T, srv *testServer) (least, mean time.Duration) {
	srv.mu.Lock()
	times := append([]time.Time(nil), srv.times...)
	srv.mu.Unlock()
	require.Greater(t, len(times), 3)
	least = time.Hour
	for i := 1; i < len(times); i++ {
		least = min(least, times[i].Sub(times[i-1]))
	}
	return least, times[len(times)-1].Sub(times[0]) / time.Duration(len(times)-1)
}

func TestCrawlObeysRobotsTxtAndItsCrawlDelay(t *testing.T) {
	srv := startServers(t, 1, politeSite(6, "User-agent: *\nDisallow: /p/3\nDisallow: /img/\nCrawl-delay: 0.1\n"))[0]
	code, out, errOut := runTool(t, "crawl", "-depth", "10", srv.url+"/p/0")
	require.Equal(t, exitOK, code, errOut)
	assert.Zero(t, srv.pathCount("/p/3"), "disallowed")
	for _, p := range []string{"/p/0", "/p/1", "/p/2", "/p/4", "/p/5"} {
		assert.Equal(t, 1, srv.pathCount(p), p)
	}
	assert.Contains(t, out, "robots.txt: read on 1 hosts (0 unreachable: allowed), 6 URLs disallowed, 1 hosts with a Crawl-delay")
	least, _ := gaps(t, srv)
	// Starts are 100 ms apart client-side; arrivals jitter (more on a
	// loaded machine), so the bound has a wide margin.
	assert.Greater(t, least, 50*time.Millisecond, "Crawl-delay between requests, server side")
	_, rows := tableRows(t, out)
	row := rows[srv.addr]
	require.NotNil(t, row)
	assert.NotEqual(t, "-", row[8], "time spent waiting for politeness turns: %v", row)
}

func TestCrawlRateHoldsServerSide(t *testing.T) {
	srv := startServers(t, 1, linkedSite(12))[0]
	code, _, errOut := runTool(t, "crawl", "-robots=false", "-rate", "25", "-depth", "20", "-c", "8", srv.url+"/p/0")
	require.Equal(t, exitOK, code, errOut)
	_, mean := gaps(t, srv)
	// 25/s: 40 ms apart on average (arrivals jitter; a few ms of slack).
	assert.Greater(t, mean, 36*time.Millisecond)
}

func TestCrawlAdaptiveShowsTheLimit(t *testing.T) {
	srv := startServers(t, 1, linkedSite(8))[0]
	code, out, errOut := runTool(t, "crawl", "-robots=false", "-adaptive", "-per-host", "4", "-depth", "20", srv.url+"/p/0")
	require.Equal(t, exitOK, code, errOut)
	_, rows := tableRows(t, out)
	row := rows[srv.addr]
	require.NotNil(t, row)
	assert.Contains(t, []string{"1", "2", "3", "4"}, row[9], "the adaptive cap at the end: %v", row)
	assert.LessOrEqual(t, srv.peak(), 4)
}

func TestCrawlRefusesBadPolitenessValues(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "-1"}, {"-rate", "NaN"}, {"-burst", "0"}, {"-delay", "-1s"}, {"-delay-jitter", "1.5"},
	} {
		code, _, errOut := runTool(t, append(append([]string{"crawl"}, args...), "http://127.0.0.1:1/")...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, errOut)
	}
}

func TestCrawlRetriesAndEjectsFailingHosts(t *testing.T) {
	srvs := startServers(t, 1, func(int, []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		})
	})
	down := downAddr(t)
	code, out, _ := runTool(t, "crawl", "-robots=false", "-retry", "3", "-breaker", "2", "-breaker-cooldown", "1m", "-c", "1",
		srvs[0].url+"/a", srvs[0].url+"/b", "http://"+down+"/1", "http://"+down+"/2", "http://"+down+"/3", "http://"+down+"/4")
	require.Equal(t, exitFailed, code, out)
	_, rows := tableRows(t, out)
	busy, gone := rows[srvs[0].addr], rows[down]
	require.NotNil(t, busy, out)
	require.NotNil(t, gone, out)
	assert.Equal(t, "4", busy[10], "two requests, each retried twice: %v", busy)
	assert.Equal(t, int64(6), srvs[0].requests.Load(), "server side: 2 × 3 tries")
	assert.Equal(t, "2", gone[11], "after two refused dials the breaker fails the other two at once: %v", gone)
	assert.Contains(t, strings.Join(gone, " "), "breaker×2")
}
