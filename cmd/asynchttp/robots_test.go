// robots.txt: read once per host, obeyed per URL, its Crawl-delay
// reported; 4xx allows all, 5xx disallows all, a host down allows all.

package main

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func robotsServer(t *testing.T, status int, body string) *testServer {
	return startServers(t, 1, func(int, []*testServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				w.WriteHeader(status)
				w.Write([]byte(body))
				return
			}
			w.Write([]byte("page"))
		})
	})[0]
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestRobotsRulesAreReadOnceAndObeyed(t *testing.T) {
	srv := robotsServer(t, 200, "User-agent: other\nDisallow: /\n\nUser-agent: *\nDisallow: /private\nAllow: /private/open\nCrawl-delay: 2\n")
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	var mu sync.Mutex
	delays := map[string]time.Duration{}
	r := newRobots(c, "asynchttp-crawl/1", func(h string, d time.Duration) {
		mu.Lock()
		delays[h] = d
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cases := map[string]bool{
		"/": true, "/a/b?x=1": true, "/private": false, "/private/x": false, "/private/open/y": true,
	}
	_, known := r.known(mustURL(t, srv.url+"/"))
	assert.False(t, known, "not read yet")
	var wg sync.WaitGroup
	for p, want := range cases {
		for range 4 { // concurrent askers share one fetch
			wg.Go(func() {
				ok, err := r.allowed(ctx, mustURL(t, srv.url+p))
				assert.NoError(t, err)
				assert.Equal(t, want, ok, p)
			})
		}
	}
	wg.Wait()
	for p, want := range cases {
		ok, known := r.known(mustURL(t, srv.url+p))
		assert.True(t, known, "read once, known without waiting")
		assert.Equal(t, want, ok, p)
	}
	assert.Equal(t, 1, srv.pathCount("/robots.txt"))
	mu.Lock()
	assert.Equal(t, map[string]time.Duration{"http://" + srv.addr: 2 * time.Second}, delays)
	mu.Unlock()
	read, failed := r.counts()
	assert.Equal(t, 1, read)
	assert.Zero(t, failed)
}

func TestRobotsStatusesAndDownHosts(t *testing.T) {
	c := asynchttp.New(asynchttp.Config{})
	defer c.Close()
	r := newRobots(c, "asynchttp-crawl/1", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	missing := robotsServer(t, 404, "Disallow: /")
	ok, err := r.allowed(ctx, mustURL(t, missing.url+"/x"))
	require.NoError(t, err)
	assert.True(t, ok, "no robots.txt (4xx): everything allowed")

	failing := robotsServer(t, 503, "")
	ok, err = r.allowed(ctx, mustURL(t, failing.url+"/x"))
	require.NoError(t, err)
	assert.False(t, ok, "5xx: nothing allowed")

	ok, err = r.allowed(ctx, mustURL(t, "http://"+downAddr(t)+"/x"))
	require.NoError(t, err)
	assert.True(t, ok, "unreachable: allowed, the page's own failure is reported")
	read, failed := r.counts()
	assert.Equal(t, 2, read)
	assert.Equal(t, 1, failed)
}
