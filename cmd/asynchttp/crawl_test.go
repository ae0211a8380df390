// asynchttp crawl: following links across hosts under the caps, limits,
// per-host delay, JSON output, and interruption.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// site serves /p/N pages (N < pages) linking to the next pages of the same
// server and of the next server, an image, and a missing page.
func linkedSite(pages int) func(i int, srvs []*testServer) http.Handler {
	return func(i int, srvs []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			if strings.HasPrefix(r.URL.Path, "/img/") {
				w.Header().Set("Content-Type", "image/png")
				w.Write(make([]byte, 1000))
				return
			}
			var p int
			if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &p); err != nil || p >= pages {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			next := srvs[(i+1)%len(srvs)]
			fmt.Fprintf(w, `<html><body><a href="/p/%d">next</a> <a href="/p/%d#frag">after</a>
<a href="%s/p/%d">other host</a> <a href="/img/%d.png">img</a> <a href="mailto:x@y">mail</a></body></html>`,
				p+1, p+2, next.url, p, p)
		})
	}
}

func TestCrawl(t *testing.T) {
	const pages = 10
	srvs := startServers(t, 3, linkedSite(pages))
	allow := srvs[0].addr + "," + srvs[1].addr + "," + srvs[2].addr
	code, out, errOut := runTool(t, "crawl", "-total", "3", "-per-host", "1", "-depth", "50", "-allow-host", allow, srvs[0].url+"/p/0")
	require.Equal(t, exitOK, code, "stderr: %s\nstdout: %s", errOut, out)
	assert.Empty(t, errOut)

	header, rows := tableRows(t, out)
	// The crawl obeys robots.txt by default: the politeness columns.
	assert.Equal(t, tableHeader, header)
	assert.Len(t, rows, 3+1)
	for _, s := range srvs {
		row := rows[s.addr]
		require.NotNil(t, row, "a row for %s", s.addr)
		// Every page and image once, and one missing page (/p/10 or /p/11).
		for p := range pages {
			assert.Equal(t, 1, s.pathCount(fmt.Sprintf("/p/%d", p)), "%s /p/%d fetched once", s.addr, p)
		}
		assert.Equal(t, "1", row[4], "peak per host, client side: %v", row)
		assert.Equal(t, "1", row[9], "the cap in force: %v", row)
		assert.Equal(t, 1, s.pathCount("/robots.txt"), "robots.txt read once")
		assert.LessOrEqual(t, s.peak(), 1, "MaxConnsPerHost, server side")
		assert.Contains(t, strings.Join(row, " "), "http 404×", row)
	}
	total, _ := srvs[0].conns.peaks()
	assert.LessOrEqual(t, total, 3, "MaxTotalConns, server side")
	assert.Contains(t, out, "not HTML (skipped after the head)")
	assert.Contains(t, out, "robots.txt: read on 3 hosts (0 unreachable: allowed), 0 URLs disallowed, 0 hosts with a Crawl-delay")
	assert.Contains(t, out, ": 30 pages, 30 not HTML")
	assert.Equal(t, "20", rows[srvs[0].addr][2], "ok: 10 pages and 10 images (skipped, but fine)")
	assert.Contains(t, out, "pool: ")
	assert.Contains(t, out, "closed ")
}

func TestCrawlTightTotalCap(t *testing.T) {
	// More hosts than the total cap: idle conns are evicted for busy
	// hosts, and the cap still holds server-side.
	srvs := startServers(t, 5, linkedSite(6))
	var allow []string
	for _, s := range srvs {
		allow = append(allow, s.addr)
	}
	code, out, errOut := runTool(t, "crawl", "-max-total-conns", "2", "-c", "8", "-depth", "50",
		"-allow-host", strings.Join(allow, ","), srvs[0].url+"/p/0", srvs[3].url+"/p/0")
	require.Equal(t, exitOK, code, "stderr: %s\nstdout: %s", errOut, out)
	total, _ := srvs[0].conns.peaks()
	assert.LessOrEqual(t, total, 2, "MaxTotalConns, server side")
	_, rows := tableRows(t, out)
	assert.Equal(t, "2", rows["total"][4], "client-side peak: %v", rows["total"])
}

func TestCrawlLimits(t *testing.T) {
	srvs := startServers(t, 2, linkedSite(100))
	t.Run("seed hosts only by default", func(t *testing.T) {
		code, out, _ := runTool(t, "crawl", "-depth", "3", srvs[0].url+"/p/0")
		require.Equal(t, exitOK, code)
		assert.Zero(t, srvs[1].requests.Load(), "the other host is not the seed's")
		_, rows := tableRows(t, out)
		assert.Len(t, rows, 2)
	})
	t.Run("depth", func(t *testing.T) {
		before := srvs[0].pathCount("/p/3")
		code, _, _ := runTool(t, "crawl", "-depth", "1", srvs[0].url+"/p/0")
		require.Equal(t, exitOK, code)
		assert.Equal(t, before, srvs[0].pathCount("/p/3"), "/p/3 is 2 hops away")
	})
	t.Run("max pages", func(t *testing.T) {
		before := srvs[0].requests.Load() + srvs[1].requests.Load()
		code, out, _ := runTool(t, "crawl", "-robots=false", "-max-pages", "7", "-depth", "1000", "-allow-host", "127.0.0.1", srvs[0].url+"/p/0")
		require.Equal(t, exitOK, code)
		after := srvs[0].requests.Load() + srvs[1].requests.Load()
		assert.Equal(t, int64(7), after-before, "server-side requests")
		assert.Contains(t, out, "crawled 7 URLs")
	})
}

func TestCrawlDelayPerHost(t *testing.T) {
	srv := startServers(t, 1, linkedSite(5))[0]
	code, _, errOut := runTool(t, "crawl", "-delay-per-host", "40ms", "-depth", "10", srv.url+"/p/0")
	require.Equal(t, exitOK, code, errOut)
	srv.mu.Lock()
	times := append([]time.Time(nil), srv.times...)
	srv.mu.Unlock()
	require.Greater(t, len(times), 5)
	for i := 1; i < len(times); i++ {
		// Requests start 40ms apart; they reach the server with some jitter.
		assert.Greater(t, times[i].Sub(times[i-1]), 25*time.Millisecond, "request %d", i)
	}
}

func TestCrawlJSON(t *testing.T) {
	srv := startServers(t, 1, linkedSite(4))[0]
	code, out, errOut := runTool(t, "crawl", "-json", "-depth", "10", srv.url+"/p/0")
	require.Equal(t, exitOK, code, errOut)
	var recs []pageRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r pageRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), "line %q", line)
		recs = append(recs, r)
	}
	byURL := map[string]pageRecord{}
	for _, r := range recs {
		byURL[r.URL] = r
	}
	assert.Len(t, byURL, len(recs), "each URL once")
	p0 := byURL[srv.url+"/p/0"]
	assert.Equal(t, 200, p0.Status)
	assert.Equal(t, 0, p0.Depth)
	assert.Equal(t, 4, p0.Links, "next, after, other host, image (mailto dropped)")
	assert.Positive(t, p0.Bytes)
	img := byURL[srv.url+"/img/0.png"]
	assert.True(t, img.Skipped, "the image is skipped after its head")
	assert.Equal(t, "image/png", img.ContentType)
	assert.Equal(t, 404, byURL[srv.url+"/p/4"].Status)
	// The table went to stderr.
	_, rows := tableRows(t, errOut)
	assert.Contains(t, rows, srv.addr)
}

func TestCrawlNothing(t *testing.T) {
	down := downAddr(t)
	code, out, errOut := runTool(t, "crawl", "http://"+down+"/")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "connection refused by "+down)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	_, rows := tableRows(t, out)
	assert.Contains(t, strings.Join(rows[down], " "), "refused×1")

	code, _, errOut = runTool(t, "crawl", "-total", "x", "http://"+down+"/")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "invalid value")
	code, _, errOut = runTool(t, "crawl", "-depth", "-1", "http://"+down+"/")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "-depth")
}

func TestCrawlInterrupt(t *testing.T) {
	srv := startServers(t, 1, func(int, []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var p int
			fmt.Sscanf(r.URL.Path, "/p/%d", &p)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<a href="/p/%d">a</a><a href="/p/%d">b</a>`, 2*p+1, 2*p+2)
		})
	})[0]
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel) // Ctrl-C
	var out, errOut strings.Builder
	start := time.Now()
	code := run(ctx, []string{"crawl", "-depth", "1000", "-c", "4", srv.url + "/p/0"}, &out, &errOut)
	assert.Less(t, time.Since(start), 5*time.Second, "stops promptly")
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, out.String(), "interrupted")
	_, rows := tableRows(t, out.String())
	assert.Contains(t, rows, srv.addr, "the table is still printed")
}
