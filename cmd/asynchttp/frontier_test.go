// The crawl frontier (order, budget, URLs of one host in flight) and which
// hosts a crawl may visit.

package main

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrontier(t *testing.T) {
	u := func(s string) crawlItem {
		p, err := url.Parse(s)
		require.NoError(t, err)
		return crawlItem{u: p, key: hostPort(p)}
	}
	ctx := context.Background()
	f := newFrontier(3, 0)
	f.add(u("http://a/1"), u("http://a/1"), u("http://a/2"))
	it, ok := f.next(ctx)
	require.True(t, ok)
	assert.Equal(t, "http://a/1", it.u.String(), "FIFO")
	f.add(u("http://b/1"), u("http://b/2")) // only one fits in the budget of 3
	found, queued := f.counts()
	assert.Equal(t, 4, found)
	assert.Equal(t, 3, queued)
	f.done(it)
	for range 2 {
		it, ok = f.next(ctx)
		require.True(t, ok)
		f.done(it)
	}
	_, ok = f.next(ctx)
	assert.False(t, ok, "empty and nothing in flight: the end")

	// One URL of a host in flight at a time: b/1 overtakes a/2, and a
	// canceled context ends a wait.
	f = newFrontier(10, 1)
	f.add(u("http://a/1"), u("http://a/2"), u("http://b/1"))
	a1, ok := f.next(ctx)
	require.True(t, ok)
	b1, ok := f.next(ctx)
	require.True(t, ok)
	assert.Equal(t, "http://b/1", b1.u.String(), "a/2 waits for a/1")
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, ok = f.next(cctx)
	assert.False(t, ok, "a/2 waits while a/1 is in flight")
	f.done(a1)
	a2, ok := f.next(ctx)
	require.True(t, ok)
	assert.Equal(t, "http://a/2", a2.u.String())
	f.done(a2)
	f.done(b1)
}

func TestAllowFunc(t *testing.T) {
	seed, _ := url.Parse("http://a.test:8080/")
	def := allowFunc([]*url.URL{seed}, nil)
	assert.True(t, def("a.test:8080"))
	assert.False(t, def("a.test:80"))
	f := allowFunc([]*url.URL{seed}, []string{"b.test", "c.test:81", "[::1]:8"})
	assert.False(t, f("a.test:8080"), "an explicit list replaces the default")
	assert.True(t, f("b.test:1"))
	assert.True(t, f("c.test:81"))
	assert.False(t, f("c.test:82"))
	assert.True(t, f("[::1]:8"))
	assert.True(t, allowFunc(nil, []string{"*"})("x:1"))
}
