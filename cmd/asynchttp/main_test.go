package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The table's columns, in order (the demo adds "role" after "host").
var tableHeader = []string{"host", "reqs", "ok", "conns", "peak", "reuse", "p50", "p99", "errors", "closed"}

func TestDemoSmall(t *testing.T) {
	start := time.Now()
	code, out, errOut := runTool(t, "demo", "-pages", "4", "-think", "5ms", "-slow", "50ms", "-total", "6", "-per-host", "2")
	require.Equal(t, exitOK, code, "stderr: %s\nstdout: %s", errOut, out)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Empty(t, errOut, "no status line when stderr is not a terminal")

	header, rows := tableRows(t, out)
	want := append([]string{"host", "role"}, tableHeader[1:]...)
	assert.Equal(t, want, header)
	assert.Len(t, rows, 16+1, "16 hosts and the total")
	roles := map[string]int{}
	for key, f := range rows {
		if key == "total" {
			continue
		}
		require.GreaterOrEqual(t, len(f), len(header), "row %v", f)
		role := f[1]
		if role == "slow" || role == "closes" || role == "conn:" {
			role = f[1] + " " + f[2] // two-word roles
			f = append(f[:1], f[2:]...)
		}
		roles[role]++
		switch role {
		case roleDown:
			assert.Contains(t, strings.Join(f, " "), "refused×", "the down host's errors")
			assert.Equal(t, "0", f[3], "no page from the down host")
		case role503:
			assert.Contains(t, strings.Join(f, " "), "http 503×")
		case roleConnClose:
			assert.Contains(t, strings.Join(f, " "), "not reusable", "the pool's close reason, per host")
		default:
			ok, err := strconv.Atoi(f[3])
			require.NoError(t, err)
			assert.GreaterOrEqual(t, ok, 4, "every page of %s (%s) was fetched: %v", key, role, f)
			assert.Equal(t, f[2], f[3], "and all went well: %v", f)
		}
		peak, err := strconv.Atoi(f[5])
		require.NoError(t, err)
		assert.LessOrEqual(t, peak, 2, "per-host cap, client side: %v", f)
	}
	assert.Equal(t, map[string]int{roleOK: 10, roleSlow: 2, roleIdleClose: 1, roleConnClose: 1, role503: 1, roleDown: 1}, roles)

	// The caps, counted by the servers.
	var total, perHost int
	_, err := fmt.Sscanf(out[strings.Index(out, "servers saw"):], "servers saw at most %d connections open at once, at most %d to one host", &total, &perHost)
	require.NoError(t, err)
	assert.LessOrEqual(t, total, 6)
	assert.LessOrEqual(t, perHost, 2)
	assert.Contains(t, out, "closed ")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 2)
	assert.True(t, strings.HasPrefix(lines[len(lines)-2], "try next:"), "ends with what to try next: %q", lines[len(lines)-2])
}

func TestDemoBadFlags(t *testing.T) {
	code, _, errOut := runTool(t, "demo", "-hosts", "3")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	code, _, errOut = runTool(t, "-nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "flag provided but not defined: -nope")
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"demo", "get", "crawl", "bench"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, errOut := runTool(t, cmd, "-h")
			assert.Equal(t, exitOK, code)
			assert.Empty(t, errOut)
			assert.Contains(t, out, "Usage: asynchttp")
			for _, f := range []string{"-max-total-conns", "-max-conns-per-host", "-idle-timeout", "-max-conn-lifetime", "-acquire-timeout", "Config.MaxTotalConns"} {
				assert.Contains(t, out, f)
			}
		})
	}
	code, out, _ := runTool(t, "help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "asynchttp crawl")
	code, _, errOut := runTool(t, "frob")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown command "frob"`)
}

func hello(int, []*testServer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})
}

func TestGet(t *testing.T) {
	srv := startServers(t, 1, hello)[0]
	dir := t.TempDir()
	code, out, errOut := runTool(t, "get", "-c", "1", "-v", "-o", dir, srv.url+"/a", srv.url+"/a", srv.url+"/b?x=1")
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "200 ") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3, out)
	assert.Contains(t, lines[0], "new conn")
	assert.Contains(t, lines[1], "reused", "one at a time: the second request reuses the connection")
	assert.Contains(t, lines[2], "reused")
	assert.True(t, strings.HasSuffix(lines[0], srv.url+"/a"))
	assert.Contains(t, out, "X-Test: yes", "-v prints headers")
	assert.Equal(t, 1, srv.peak(), "server-side: one connection")

	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 3)
	b, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
	require.NoError(t, err)
	assert.Equal(t, "hello /a", string(b))
}

func TestGetCaps(t *testing.T) {
	srvs := startServers(t, 2, func(int, []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			fmt.Fprint(w, "ok")
		})
	})
	var args []string
	args = append(args, "get", "-max-conns-per-host", "2", "-max-total-conns", "3")
	for i := range 10 {
		args = append(args, srvs[i%2].url+"/"+strconv.Itoa(i))
	}
	code, out, errOut := runTool(t, args...)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 10, strings.Count(out, "\n200 ")+boolInt(strings.HasPrefix(out, "200 ")))
	total, _ := srvs[0].conns.peaks()
	assert.LessOrEqual(t, total, 3)
	assert.LessOrEqual(t, srvs[0].peak(), 2)
	assert.LessOrEqual(t, srvs[1].peak(), 2)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestGetErrors(t *testing.T) {
	srv := startServers(t, 1, hello)[0]
	down := downAddr(t)
	for _, tt := range []struct {
		name  string
		args  []string
		code  int
		lines int    // lines on stderr
		want  string // on stderr
	}{
		{"malformed URL", []string{"get", "127.0.0.1/x"}, exitUsage, 1, "no scheme"},
		{"bad scheme", []string{"get", "ftp://127.0.0.1/x"}, exitUsage, 1, `scheme "ftp" not supported`},
		{"no host", []string{"get", "http:///x"}, exitUsage, 1, "no host"},
		{"bad port", []string{"get", "http://127.0.0.1:99999/"}, exitUsage, 1, "bad port"},
		{"unknown flag", []string{"get", "-frob", srv.url}, exitUsage, 1, "flag provided but not defined: -frob"},
		{"no URL", []string{"get"}, exitUsage, 1, "no URL given"},
		{"refused", []string{"get", "http://" + down + "/"}, exitFailed, 1, "connection refused by " + down},
		{"one of two refused", []string{"get", srv.url, "http://" + down + "/"}, exitFailed, 1, "connection refused by " + down},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runTool(t, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Equal(t, tt.lines, strings.Count(errOut, "\n"), errOut)
			assert.Contains(t, errOut, tt.want)
		})
	}
}

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
		assert.LessOrEqual(t, s.peak(), 1, "MaxConnsPerHost, server side")
		assert.Contains(t, strings.Join(row, " "), "http 404×", row)
	}
	total, _ := srvs[0].conns.peaks()
	assert.LessOrEqual(t, total, 3, "MaxTotalConns, server side")
	assert.Contains(t, out, "not HTML (skipped after the head)")
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
		code, out, _ := runTool(t, "crawl", "-max-pages", "7", "-depth", "1000", "-allow-host", "127.0.0.1", srvs[0].url+"/p/0")
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
