package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExtractLinks(t *testing.T) {
	base, err := url.Parse("http://a.test/dir/page.html")
	require.NoError(t, err)
	for _, tt := range []struct {
		name, html string
		want       []string
	}{
		{"relative and absolute", `<a href="x.html">x</a><a href="/y">y</a><a href="http://B.test:8080/z">z</a>`,
			[]string{"http://a.test/dir/x.html", "http://a.test/y", "http://b.test:8080/z"}},
		{"fragment dropped, duplicates once", `<a href="/y#one">1</a><a href="/y#two">2</a><a href="#top">top</a>`,
			[]string{"http://a.test/y"}},
		{"other schemes dropped", `<a href="mailto:a@b">m</a><a href="javascript:x()">j</a><a href="ftp://c/">f</a><a href="https://d.test">d</a>`,
			[]string{"https://d.test/"}},
		{"base href", `<head><base href="http://c.test/sub/"></head><a href="p">p</a>`,
			[]string{"http://c.test/sub/p"}},
		{"area, whitespace, no href", `<area href=" /map "><a name="n">n</a><a href="">e</a>`,
			[]string{"http://a.test/map"}},
		{"broken HTML", `<a href="/ok">ok</a><a href="/cut`, []string{"http://a.test/ok"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, u := range extractLinks(base, []byte(tt.html)) {
				got = append(got, u.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestErrKind(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{context.Canceled, "canceled"},
		{&asynchttp.TimeoutError{Op: "acquire", Err: asynchttp.ErrTooManyConns}, "acquire timeout"},
		{asynchttp.ErrTooManyConns, "pool full"},
		{asynchttp.ErrTooManyPending, "too many pending"},
		{fmt.Errorf("asynchttp: dial: %w", syscall.ECONNREFUSED), "refused"},
		{&asynchttp.TimeoutError{Op: "response header", Err: context.DeadlineExceeded}, "timeout"},
		{asynchttp.ErrServerClosedConn, "server closed"},
		{&asynchttp.ProtocolError{What: "status line"}, "malformed"},
		{&asynchttp.LimitError{Limit: "MaxResponseBodyBytes", Max: 1}, "too large"},
		{&asynchttp.RequestError{Field: "URL", Reason: "x"}, "bad request"},
		{errors.New("something else"), "other"},
	} {
		assert.Equal(t, tt.want, errKind(tt.err), "%v", tt.err)
	}
	assert.Equal(t, "", kindOf(200, asynchttp.ErrAborted), "an abort on purpose is no error")
	assert.Equal(t, "http 503", kindOf(503, nil))
	assert.Equal(t, "", kindOf(301, nil))
}

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
	f.done()
	for range 2 {
		_, ok = f.next(ctx)
		require.True(t, ok)
		f.done()
	}
	_, ok = f.next(ctx)
	assert.False(t, ok, "empty and nothing in flight: the end")

	// A canceled context ends a wait.
	f = newFrontier(10, time.Hour)
	f.add(u("http://a/1"), u("http://a/2"))
	_, ok = f.next(ctx)
	require.True(t, ok)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, ok = f.next(cctx)
	assert.False(t, ok, "a/2 waits for the politeness delay")
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
