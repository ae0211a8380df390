package compat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gocolly/colly/v2"
	"github.com/stretchr/testify/require"
)

// chainSite serves /p0 … /p9, each page linking to the next.
func chainSite(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p"))
		if err != nil || n < 0 || n > 9 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		link := ""
		if n < 9 {
			link = fmt.Sprintf(`<a href="/p%d">next</a>`, n+1)
		}
		fmt.Fprintf(w, "<html><body><h1>page %d</h1>%s</body></html>", n, link)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// crawl runs a colly collector over rt from /p0, cancelling ctx once the
// page cancelAt has been fetched (never if cancelAt < 0). It returns the
// paths fetched and the first visit error.
func crawl(t *testing.T, rt http.RoundTripper, base string, cancelAt int) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c := colly.NewCollector(colly.StdlibContext(ctx), colly.MaxDepth(20))
	c.WithTransport(rt)
	var mu sync.Mutex
	var visited []string
	var visitErr error
	c.OnResponse(func(r *colly.Response) {
		mu.Lock()
		visited = append(visited, r.Request.URL.Path)
		mu.Unlock()
		if r.Request.URL.Path == fmt.Sprintf("/p%d", cancelAt) {
			cancel()
		}
	})
	c.OnHTML("a[href]", func(e *colly.HTMLElement) {
		if err := e.Request.Visit(e.Attr("href")); err != nil {
			mu.Lock()
			if visitErr == nil {
				visitErr = err
			}
			mu.Unlock()
		}
	})
	err := c.Visit(base + "/p0")
	c.Wait()
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	return visited, visitErr
}

// A small crawl follows every link; cancelling the collector's context
// stops it: the next fetch fails with context.Canceled and no page after
// the cancel is fetched.
func TestCollyCrawlAndCancellation(t *testing.T) {
	srv := chainSite(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		t.Run("full", func(t *testing.T) {
			visited, err := crawl(t, tr.make(t, nil), srv.URL, -1)
			require.NoError(t, err)
			require.Equal(t, []string{"/p0", "/p1", "/p2", "/p3", "/p4", "/p5", "/p6", "/p7", "/p8", "/p9"}, visited)
		})
		t.Run("cancelled", func(t *testing.T) {
			visited, err := crawl(t, tr.make(t, nil), srv.URL, 2)
			require.Equal(t, []string{"/p0", "/p1", "/p2"}, visited)
			require.Error(t, err)
			require.True(t, errors.Is(err, context.Canceled), "visit error %v is not context.Canceled", err)
		})
	})
}
