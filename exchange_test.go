// Whole exchanges through Do against scripted raw-TCP servers: every body
// framing, interim responses, limits, refused requests, and which
// responses leave their connection reusable.

package asynchttp_test

import (
	"io"
	"strings"
	"testing"

	"github.com/asynchttp/asynchttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExchangeFramingAndConnReuse(t *testing.T) {
	for _, tt := range []struct {
		name     string
		method   string
		raw      string
		serverCl bool // the server closes after replying
		code     int
		body     string
		trailer  string // "Name: value" expected in resp.Trailer
		reused   bool   // the next request reuses the conn
	}{
		{name: "content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", code: 200, body: "hello", reused: true},
		{name: "chunked with extension and trailer", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
			code: 200, body: "hello world", trailer: "X-Sum: 42", reused: true},
		{name: "close-delimited", raw: "HTTP/1.1 200 OK\r\n\r\nuntil close", serverCl: true, code: 200, body: "until close", reused: false},
		{name: "HEAD has no body", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", code: 200, body: "", reused: true},
		{name: "204", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", code: 204, reused: true},
		{name: "304 ignores its Content-Length", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", code: 304, reused: true},
		{name: "100 and 103 skipped", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: true},
		{name: "Connection: close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: false},
		{name: "HTTP/1.0 without keep-alive", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: false},
		{name: "HTTP/1.0 with keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: true},
		{name: "missing reason phrase", raw: "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", code: 200, body: "ok", reused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, asynchttp.Config{})
			srv := rawServer(t, func(path string) (string, bool) {
				if path == "/next" {
					return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false
				}
				return tt.raw, tt.serverCl
			})
			ctx := testCtx(t)
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			if tt.method != "" {
				req.SetMethod(tt.method)
			}
			req.SetRequestURI(srv.URL() + "/x")
			require.NoError(t, c.Do(ctx, req, resp))
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Equal(t, tt.body, string(resp.Body()))
			if tt.trailer != "" {
				name, value, _ := strings.Cut(tt.trailer, ": ")
				assert.Equal(t, value, resp.Trailer.Get(name))
			}
			code, body, err := get(ctx, c, "GET", srv.URL()+"/next")
			require.NoError(t, err)
			assert.Equal(t, 200, code)
			assert.Equal(t, "next", body)
			if tt.reused {
				assert.Equal(t, 1, srv.Accepted(), "the conn was reused")
			} else {
				assert.Equal(t, 2, srv.Accepted(), "the conn was not reused")
			}
		})
	}
}

func TestExchangeErrorsCloseTheConn(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  asynchttp.Config
		raw  string
		is   error
	}{
		{"header too large", asynchttp.Config{MaxResponseHeaderBytes: 256},
			"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1000) + "\r\nContent-Length: 2\r\n\r\nok", asynchttp.ErrHeaderTooLarge},
		{"body too large", asynchttp.Config{MaxResponseBodyBytes: 10},
			"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", asynchttp.ErrBodyTooLarge},
		{"chunked body too large", asynchttp.Config{MaxResponseBodyBytes: 10},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", asynchttp.ErrBodyTooLarge},
		{"bad status line", asynchttp.Config{}, "HTTP/1.1 2OO OK\r\n\r\n", asynchttp.ErrMalformedResponse},
		{"bad content-length", asynchttp.Config{}, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", asynchttp.ErrMalformedResponse},
		{"bad chunk size", asynchttp.Config{}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", asynchttp.ErrMalformedResponse},
		{"truncated body", asynchttp.Config{}, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			srv := rawServer(t, func(path string) (string, bool) {
				if path == "/next" {
					return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false
				}
				// Truncated bodies need the server to hang up.
				return tt.raw, tt.is == io.ErrUnexpectedEOF
			})
			ctx := testCtx(t)
			_, _, err := get(ctx, c, "GET", srv.URL()+"/bad")
			require.ErrorIs(t, err, tt.is)
			assert.Zero(t, c.Stats().Open, "the conn is closed, not pooled")
			assert.Equal(t, uint64(1), c.Stats().ClosedBy[asynchttp.CloseError])
			code, _, err := get(ctx, c, "GET", srv.URL()+"/next")
			require.NoError(t, err)
			assert.Equal(t, 200, code)
			assert.Equal(t, 2, srv.Accepted())
		})
	}
}

func TestRefusedRequestsWriteNothing(t *testing.T) {
	c := newClient(t, asynchttp.Config{})
	srv := rawServer(t, func(string) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false })
	ctx := testCtx(t)
	for _, tt := range []struct {
		name  string
		setup func(r *asynchttp.Request)
	}{
		{"CRLF in header value", func(r *asynchttp.Request) { r.Header.Add("X-A", "a\r\nInjected: yes") }},
		{"LF in header value", func(r *asynchttp.Request) { r.Header.Add("X-A", "a\nb") }},
		{"NUL in header value", func(r *asynchttp.Request) { r.Header.Add("X-A", "a\x00b") }},
		{"space in header name", func(r *asynchttp.Request) { r.Header.Add("X A", "v") }},
		{"colon in header name", func(r *asynchttp.Request) { r.Header.Add("X:A", "v") }},
		{"CR in header name", func(r *asynchttp.Request) { r.Header.Add("X\rA", "v") }},
		{"bad method", func(r *asynchttp.Request) { r.SetMethod("GE T") }},
		{"CRLF in method", func(r *asynchttp.Request) { r.SetMethod("GET\r\n") }},
		{"host with space", func(r *asynchttp.Request) { r.SetRequestURI("http://127.0.0.1 x/") }},
		{"Host override with CRLF", func(r *asynchttp.Request) { r.SetHost("a\r\nb") }},
		{"space in path", func(r *asynchttp.Request) { r.SetRequestURI(srv.URL() + "/a b") }},
		{"unsupported scheme", func(r *asynchttp.Request) { r.SetRequestURI("ftp://127.0.0.1/") }},
		{"no host", func(r *asynchttp.Request) { r.SetRequestURI("http:///path") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := asynchttp.AcquireRequest()
			resp := asynchttp.AcquireResponse()
			defer asynchttp.ReleaseRequest(req)
			defer asynchttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.URL() + "/")
			tt.setup(req)
			err := c.Do(ctx, req, resp)
			require.ErrorIs(t, err, asynchttp.ErrInvalidRequest)
			var re *asynchttp.RequestError
			require.ErrorAs(t, err, &re)
			assert.Zero(t, srv.Accepted(), "nothing was even dialed")
		})
	}
}
