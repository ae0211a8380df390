package asynchttp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrepareAccepts(t *testing.T) {
	for _, tt := range []struct {
		name       string
		uri        string
		key        string
		dial       string
		sni        string
		tls        bool
		target     string
		hostHeader string
	}{
		{"plain", "http://example.com/", "http://example.com:80", "example.com:80", "example.com", false, "/", "example.com"},
		{"default path", "http://example.com", "http://example.com:80", "example.com:80", "example.com", false, "/", "example.com"},
		{"https default port", "https://example.com/a", "https://example.com:443", "example.com:443", "example.com", true, "/a", "example.com"},
		{"explicit port", "http://example.com:8080/a/b", "http://example.com:8080", "example.com:8080", "example.com", false, "/a/b", "example.com:8080"},
		{"explicit default port", "http://example.com:80/", "http://example.com:80", "example.com:80", "example.com", false, "/", "example.com:80"},
		{"leading zero port", "http://example.com:0080/", "http://example.com:80", "example.com:80", "example.com", false, "/", "example.com:0080"},
		{"empty port", "http://example.com:/x", "http://example.com:80", "example.com:80", "example.com", false, "/x", "example.com"},
		{"query", "http://h/p?q=1&r=%20", "http://h:80", "h:80", "h", false, "/p?q=1&r=%20", "h"},
		{"query no path", "http://h?q=1", "http://h:80", "h:80", "h", false, "/?q=1", "h"},
		{"empty query kept", "http://h/p?", "http://h:80", "h:80", "h", false, "/p?", "h"},
		{"fragment dropped", "http://h/p?q#frag ment", "http://h:80", "h:80", "h", false, "/p?q", "h"},
		{"fragment only", "http://h#f", "http://h:80", "h:80", "h", false, "/", "h"},
		{"uppercase", "HTTPS://ExAmPlE.COM:8443/Path", "https://example.com:8443", "example.com:8443", "example.com", true, "/Path", "ExAmPlE.COM:8443"},
		{"ipv4", "http://127.0.0.1:9000/", "http://127.0.0.1:9000", "127.0.0.1:9000", "127.0.0.1", false, "/", "127.0.0.1:9000"},
		{"ipv6", "http://[::1]:8080/x", "http://[::1]:8080", "[::1]:8080", "::1", false, "/x", "[::1]:8080"},
		{"ipv6 default port", "https://[2001:DB8::1]/", "https://[2001:db8::1]:443", "[2001:db8::1]:443", "2001:db8::1", true, "/", "[2001:DB8::1]"},
		{"idna", "http://bücher.example/x", "http://xn--bcher-kva.example:80", "xn--bcher-kva.example:80", "xn--bcher-kva.example", false, "/x", "xn--bcher-kva.example"},
		{"idna port", "http://bücher.example:81/", "http://xn--bcher-kva.example:81", "xn--bcher-kva.example:81", "xn--bcher-kva.example", false, "/", "xn--bcher-kva.example:81"},
		{"non-ascii path escaped", "http://h/ü?é", "http://h:80", "h:80", "h", false, "/%C3%BC?%C3%A9", "h"},
		{"userinfo stripped", "http://u:p@h/", "http://h:80", "h:80", "h", false, "/", "h"},
		{"max port", "http://h:65535/", "http://h:65535", "h:65535", "h", false, "/", "h:65535"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := AcquireRequest()
			defer ReleaseRequest(r)
			r.SetRequestURI(tt.uri)
			require.NoError(t, r.prepare())
			assert.Equal(t, tt.key, string(r.hostKey()))
			assert.Equal(t, tt.dial, r.dialAddr())
			assert.Equal(t, tt.sni, r.serverName())
			assert.Equal(t, tt.tls, r.isTLS())
			head := writeHeadString(t, r, false)
			assert.Equal(t, "GET "+tt.target+" HTTP/1.1\r\nHost: "+tt.hostHeader+"\r\n", strings.SplitAfterN(head, "\r\n", 3)[0]+strings.SplitAfterN(head, "\r\n", 3)[1])
		})
	}
}

func writeHeadString(t *testing.T, r *Request, closeConn bool) string {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	require.NoError(t, r.writeHead(bw, closeConn))
	require.NoError(t, bw.Flush())
	return buf.String()
}

func TestPrepareRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(r *Request)
		field string
	}{
		{"no scheme", func(r *Request) { r.SetRequestURI("example.com/x") }, "URL"},
		{"relative", func(r *Request) { r.SetRequestURI("/x") }, "URL"},
		{"empty uri", func(r *Request) { r.SetRequestURI("") }, "URL"},
		{"ftp scheme", func(r *Request) { r.SetRequestURI("ftp://h/") }, "URL"},
		{"empty scheme", func(r *Request) { r.SetRequestURI("://h/") }, "URL"},
		{"empty host", func(r *Request) { r.SetRequestURI("http:///x") }, "host"},
		{"only port", func(r *Request) { r.SetRequestURI("http://:80/") }, "host"},
		{"host with space", func(r *Request) { r.SetRequestURI("http://ex ample.com/") }, "host"},
		{"host with CRLF", func(r *Request) { r.SetRequestURI("http://h\r\nX-Evil: 1/") }, "host"},
		{"host with NUL", func(r *Request) { r.SetRequestURI("http://h\x00/") }, "host"},
		{"host with backslash", func(r *Request) { r.SetRequestURI("http://h\\x/") }, "host"},
		{"port 0", func(r *Request) { r.SetRequestURI("http://h:0/") }, "host"},
		{"port 99999", func(r *Request) { r.SetRequestURI("http://h:99999/") }, "host"},
		{"port 65536", func(r *Request) { r.SetRequestURI("http://h:65536/") }, "host"},
		{"port abc", func(r *Request) { r.SetRequestURI("http://h:abc/") }, "host"},
		{"port negative", func(r *Request) { r.SetRequestURI("http://h:-1/") }, "host"},
		{"port long", func(r *Request) { r.SetRequestURI("http://h:000080/") }, "host"},
		{"ipv6 unbracketed", func(r *Request) { r.SetRequestURI("http://::1/") }, "host"},
		{"ipv6 unclosed", func(r *Request) { r.SetRequestURI("http://[::1/") }, "host"},
		{"ipv6 junk after bracket", func(r *Request) { r.SetRequestURI("http://[::1]x/") }, "host"},
		{"ipv6 bad literal", func(r *Request) { r.SetRequestURI("http://[::g]/") }, "host"},
		{"ipv4 in brackets", func(r *Request) { r.SetRequestURI("http://[1.2.3.4]/") }, "host"},
		{"bad idna", func(r *Request) { r.SetRequestURI("http://a\u00a0b.com/") }, "host"},
		{"target space", func(r *Request) { r.SetRequestURI("http://h/a b") }, "URL"},
		{"target tab", func(r *Request) { r.SetRequestURI("http://h/a\tb") }, "URL"},
		{"target CR", func(r *Request) { r.SetRequestURI("http://h/a\rb") }, "URL"},
		{"target LF in query", func(r *Request) { r.SetRequestURI("http://h/a?x=\n") }, "URL"},
		{"target NUL", func(r *Request) { r.SetRequestURI("http://h/\x00") }, "URL"},
		{"target DEL", func(r *Request) { r.SetRequestURI("http://h/\x7f") }, "URL"},
		{"userinfo bad percent", func(r *Request) { r.SetRequestURI("http://u%zz:p@h/") }, "URL"},
		{"userinfo truncated percent", func(r *Request) { r.SetRequestURI("http://u:p%4@h/") }, "URL"},
		{"userinfo space", func(r *Request) { r.SetRequestURI("http://u p@h/") }, "URL"},
		{"method with space", func(r *Request) { r.SetMethod("GE T") }, "method"},
		{"method with CRLF", func(r *Request) { r.SetMethod("GET\r\n") }, "method"},
		{"method with slash", func(r *Request) { r.SetMethod("GET/") }, "method"},
		{"header name space", func(r *Request) { r.Header.Add("X Y", "v") }, "header name"},
		{"header name colon", func(r *Request) { r.Header.Add("X:Y", "v") }, "header name"},
		{"header name CR", func(r *Request) { r.Header.Add("X\r", "v") }, "header name"},
		{"header name LF", func(r *Request) { r.Header.Add("X\nY", "v") }, "header name"},
		{"header name NUL", func(r *Request) { r.Header.Add("X\x00", "v") }, "header name"},
		{"header name empty", func(r *Request) { r.Header.Add("", "v") }, "header name"},
		{"header value CR", func(r *Request) { r.Header.Add("X", "a\rb") }, "header value"},
		{"header value LF", func(r *Request) { r.Header.Add("X", "a\nInjected: 1") }, "header value"},
		{"header value CRLF", func(r *Request) { r.Header.Add("X", "a\r\n\r\nGET / HTTP/1.1") }, "header value"},
		{"header value NUL", func(r *Request) { r.Header.Add("X", "a\x00") }, "header value"},
		{"header value CTL", func(r *Request) { r.Header.Add("X", "a\x1b") }, "header value"},
		{"host field bad", func(r *Request) { r.Header.Add("Host", "a b") }, "host"},
		{"host field bad port", func(r *Request) { r.Header.Add("Host", "h:0") }, "host"},
		{"SetHost CRLF", func(r *Request) { r.SetHost("h\r\nX: y") }, "host"},
		{"SetHost space", func(r *Request) { r.SetHost("h y") }, "host"},
		{"SetHost bad port", func(r *Request) { r.SetHost("h:99999") }, "host"},
		{"nil stream with size", func(r *Request) { r.SetBodyStream(nil, 5) }, "body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := AcquireRequest()
			defer ReleaseRequest(r)
			r.SetRequestURI("http://example.com/")
			tt.setup(r)
			err := r.prepare()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidRequest)
			var re *RequestError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.field, re.Field, re.Error())
		})
	}
}

func TestPrepareEmptyMethodDefaultsToGET(t *testing.T) {
	r := AcquireRequest()
	defer ReleaseRequest(r)
	r.SetRequestURI("http://h/")
	r.SetMethod("")
	require.NoError(t, r.prepare())
	assert.Equal(t, "GET", r.Method())
}

func TestWriteHead(t *testing.T) {
	for _, tt := range []struct {
		name      string
		setup     func(r *Request)
		closeConn bool
		head      string
		body      string
	}{
		{
			"GET", func(r *Request) {},
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", "",
		},
		{
			"GET with fields in order", func(r *Request) {
				r.Header.Add("Accept", "*/*")
				r.Header.Add("X-Multi", "1")
				r.Header.Add("User-Agent", "t")
				r.Header.Add("x-multi", "2")
			},
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Multi: 1\r\nUser-Agent: t\r\nx-multi: 2\r\n\r\n", "",
		},
		{
			"POST buffered", func(r *Request) {
				r.SetMethod("POST")
				r.Header.Add("Content-Type", "text/plain")
				r.SetBodyString("hello")
			},
			false,
			"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", "hello",
		},
		{
			"POST no body", func(r *Request) { r.SetMethod("POST") },
			false,
			"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n", "",
		},
		{
			"PUT no body", func(r *Request) { r.SetMethod("PUT") },
			false,
			"PUT /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n", "",
		},
		{
			"PATCH no body", func(r *Request) { r.SetMethod("PATCH") },
			false,
			"PATCH /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n", "",
		},
		{
			"DELETE no body", func(r *Request) { r.SetMethod("DELETE") },
			false,
			"DELETE /p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", "",
		},
		{
			"GET with buffered body", func(r *Request) { r.SetBody([]byte("xy")) },
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\n", "xy",
		},
		{
			"framing fields ignored", func(r *Request) {
				r.SetMethod("POST")
				r.Header.Add("Content-Length", "999")
				r.Header.Add("Transfer-Encoding", "chunked")
				r.SetBodyString("abc")
			},
			false,
			"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n", "abc",
		},
		{
			"stream with size", func(r *Request) {
				r.SetMethod("PUT")
				r.SetBodyStream(strings.NewReader("0123456789"), 10)
			},
			false,
			"PUT /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n", "0123456789",
		},
		{
			"stream size zero", func(r *Request) {
				r.SetMethod("POST")
				r.SetBodyStream(strings.NewReader(""), 0)
			},
			false,
			"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n", "",
		},
		{
			"stream unknown size", func(r *Request) {
				r.SetMethod("POST")
				r.SetBodyStream(&chunkyReader{parts: []string{"hello", " ", "world"}}, -1)
			},
			false,
			"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
			"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
		},
		{
			"stream unknown size empty", func(r *Request) {
				r.SetMethod("POST")
				r.SetBodyStream(strings.NewReader(""), -1)
			},
			false,
			"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
			"0\r\n\r\n",
		},
		{
			"connection close by caller", func(r *Request) {},
			true,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", "",
		},
		{
			"SetConnectionClose", func(r *Request) { r.SetConnectionClose(true) },
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", "",
		},
		{
			"connection close already in header", func(r *Request) { r.Header.Add("Connection", "Close") },
			true,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: Close\r\n\r\n", "",
		},
		{
			"connection keep-alive plus close", func(r *Request) { r.Header.Add("Connection", "keep-alive") },
			true,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", "",
		},
		{
			"Host field overrides", func(r *Request) {
				r.Header.Add("X-A", "1")
				r.Header.Add("host", "other.example:8080")
			},
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: other.example:8080\r\nX-A: 1\r\n\r\n", "",
		},
		{
			"SetHost overrides all", func(r *Request) {
				r.Header.Add("Host", "field.example")
				r.SetHost("set.example")
			},
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: set.example\r\n\r\n", "",
		},
		{
			"SetHost idna", func(r *Request) { r.SetHost("bücher.example:81") },
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: xn--bcher-kva.example:81\r\n\r\n", "",
		},
		{
			"userinfo", func(r *Request) { r.SetRequestURI("http://Aladdin:open%20sesame@example.com/p?q=1") },
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n", "",
		},
		{
			"userinfo no password", func(r *Request) { r.SetRequestURI("http://user@example.com/p?q=1") },
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nAuthorization: Basic dXNlcjo=\r\n\r\n", "",
		},
		{
			"userinfo with explicit Authorization", func(r *Request) {
				r.SetRequestURI("http://u:p@example.com/p?q=1")
				r.Header.Add("authorization", "Bearer t")
			},
			false,
			"GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nauthorization: Bearer t\r\n\r\n", "",
		},
		{
			"HEAD", func(r *Request) { r.SetMethod("HEAD") },
			false,
			"HEAD /p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", "",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := AcquireRequest()
			defer ReleaseRequest(r)
			r.SetRequestURI("http://example.com/p?q=1#frag")
			tt.setup(r)
			require.NoError(t, r.prepare())
			var buf bytes.Buffer
			bw := bufio.NewWriterSize(&buf, 64) // small: exercises flushes
			require.NoError(t, r.writeHead(bw, tt.closeConn))
			require.NoError(t, r.writeBody(bw))
			require.NoError(t, bw.Flush())
			assert.Equal(t, tt.head+tt.body, buf.String())
		})
	}
}

// chunkyReader returns one part per Read.
type chunkyReader struct {
	parts  []string
	err    error // returned after the parts (io.EOF if nil)
	closed int
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func (c *chunkyReader) Close() error { c.closed++; return nil }

func TestWriteBodyLargeStreams(t *testing.T) {
	big := strings.Repeat("abcdefghij", 10000) // 100 kB, many buffer fills
	for _, size := range []int64{int64(len(big)), -1} {
		r := AcquireRequest()
		r.SetRequestURI("http://h/")
		r.SetMethod("POST")
		src := &chunkyReader{parts: []string{big[:3], big[3:50000], big[50000:]}}
		r.SetBodyStream(src, size)
		require.NoError(t, r.prepare())
		var buf bytes.Buffer
		bw := bufio.NewWriterSize(&buf, 4096)
		require.NoError(t, r.writeHead(bw, false))
		require.NoError(t, r.writeBody(bw))
		require.NoError(t, bw.Flush())
		assert.Equal(t, 1, src.closed)
		_, body, ok := strings.Cut(buf.String(), "\r\n\r\n")
		require.True(t, ok)
		if size >= 0 {
			assert.Equal(t, big, body)
		} else {
			// Decode with our own chunked reader.
			var b bodyReader
			b.reset(bufio.NewReader(strings.NewReader(body)), bodyFraming{mode: framingChunked}, 0, nil)
			got, err := b.appendTo(nil)
			require.NoError(t, err)
			assert.Equal(t, big, string(got))
			assert.True(t, b.done())
		}
		ReleaseRequest(r)
	}
}

func TestWriteBodyStreamErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		name  string
		src   *chunkyReader
		size  int64
		cause error
	}{
		{"short", &chunkyReader{parts: []string{"abc"}}, 5, errBodyShort},
		{"long", &chunkyReader{parts: []string{"abcdef"}}, 5, errBodyLong},
		{"long in later read", &chunkyReader{parts: []string{"abcde", "f"}}, 5, errBodyLong},
		{"reader error sized", &chunkyReader{parts: []string{"ab"}, err: boom}, 5, boom},
		{"reader error chunked", &chunkyReader{parts: []string{"ab"}, err: boom}, -1, boom},
		{"reader error after exact size", &chunkyReader{parts: []string{"abcde"}, err: boom}, 5, boom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := AcquireRequest()
			defer ReleaseRequest(r)
			r.SetRequestURI("http://h/")
			r.SetMethod("POST")
			r.SetBodyStream(tt.src, tt.size)
			require.NoError(t, r.prepare())
			bw := bufio.NewWriter(io.Discard)
			require.NoError(t, r.writeHead(bw, false))
			err := r.writeBody(bw)
			require.Error(t, err)
			var bre bodyReadError
			require.ErrorAs(t, err, &bre)
			assert.ErrorIs(t, err, tt.cause)
			assert.Equal(t, 1, tt.src.closed, "stream closed after failure")
		})
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestWriteBodyWriteErrorIsNotBodyReadError(t *testing.T) {
	wErr := errors.New("broken pipe")
	r := AcquireRequest()
	defer ReleaseRequest(r)
	r.SetRequestURI("http://h/")
	r.SetMethod("POST")
	src := &chunkyReader{parts: []string{strings.Repeat("x", 10000)}}
	r.SetBodyStream(src, 10000)
	require.NoError(t, r.prepare())
	bw := bufio.NewWriterSize(failWriter{wErr}, 256)
	_ = r.writeHead(bw, false)
	err := r.writeBody(bw)
	require.ErrorIs(t, err, wErr)
	var bre bodyReadError
	assert.False(t, errors.As(err, &bre))
	assert.Equal(t, 1, src.closed)
}

func TestReplay(t *testing.T) {
	r := AcquireRequest()
	defer ReleaseRequest(r)
	r.SetRequestURI("http://h/")
	r.SetMethod("POST")

	assert.True(t, r.canReplay(), "no body")
	r.SetBodyString("abc")
	assert.True(t, r.canReplay(), "buffered")
	require.NoError(t, r.rewindBody())

	r.SetBodyStream(strings.NewReader("abc"), 3)
	assert.False(t, r.canReplay(), "stream without GetBody")
	require.NoError(t, r.rewindBody(), "unread stream needs no rewind")
	require.NoError(t, r.prepare())
	bw := bufio.NewWriter(io.Discard)
	require.NoError(t, r.writeBody(bw))
	require.ErrorIs(t, r.rewindBody(), ErrInvalidRequest)

	calls := 0
	r.SetBodyStream(strings.NewReader("abc"), 3)
	r.SetGetBody(func() (io.ReadCloser, error) {
		calls++
		return io.NopCloser(strings.NewReader("abc")), nil
	})
	assert.True(t, r.canReplay())
	for range 2 {
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		require.NoError(t, r.writeBody(bw))
		require.NoError(t, bw.Flush())
		assert.Equal(t, "abc", buf.String())
		require.NoError(t, r.rewindBody())
	}
	assert.Equal(t, 2, calls)

	boom := errors.New("boom")
	r.SetBodyStream(strings.NewReader("abc"), 3)
	r.SetGetBody(func() (io.ReadCloser, error) { return nil, boom })
	require.NoError(t, r.writeBody(bufio.NewWriter(io.Discard)))
	require.ErrorIs(t, r.rewindBody(), boom)
}

func TestIsIdempotent(t *testing.T) {
	for _, tt := range []struct {
		method string
		header string
		want   bool
	}{
		{"", "", true},
		{"GET", "", true},
		{"HEAD", "", true},
		{"OPTIONS", "", true},
		{"TRACE", "", true},
		{"PUT", "", true},
		{"DELETE", "", true},
		{"POST", "", false},
		{"PATCH", "", false},
		{"CONNECT", "", false},
		{"get", "", false}, // methods are case-sensitive
		{"POST", "Idempotency-Key", true},
		{"POST", "idempotency-key", true},
		{"PATCH", "X-Idempotency-Key", true},
		{"POST", "X-Other", false},
	} {
		t.Run(tt.method+"/"+tt.header, func(t *testing.T) {
			r := AcquireRequest()
			defer ReleaseRequest(r)
			r.SetMethod(tt.method)
			if tt.header != "" {
				r.Header.Add(tt.header, "k1")
			}
			assert.Equal(t, tt.want, r.isIdempotent())
			assert.Equal(t, tt.method == "HEAD", r.isHead())
		})
	}
}

func TestConnectionCloseAccessor(t *testing.T) {
	r := AcquireRequest()
	defer ReleaseRequest(r)
	assert.False(t, r.ConnectionClose())
	r.Header.Add("Connection", "foo, close")
	assert.True(t, r.ConnectionClose())
	r.Header.Reset()
	r.SetConnectionClose(true)
	assert.True(t, r.ConnectionClose())
	r.Reset()
	assert.False(t, r.ConnectionClose())
}

func TestRequestAccessorsAndReset(t *testing.T) {
	r := AcquireRequest()
	r.SetRequestURI("http://h/x")
	r.SetMethod("POST")
	r.SetHost("o")
	r.SetBody([]byte("b"))
	r.Header.Add("A", "1")
	assert.Equal(t, "http://h/x", r.RequestURI())
	assert.Equal(t, "POST", r.Method())
	assert.Equal(t, "o", r.Host())
	assert.Equal(t, "b", string(r.Body()))
	r.Reset()
	assert.Equal(t, "", r.RequestURI())
	assert.Equal(t, "GET", r.Method())
	assert.Equal(t, "", r.Host())
	assert.Empty(t, r.Body())
	assert.Equal(t, 0, r.Header.Len())
	ReleaseRequest(r)
}

func TestWriteHeadBeforePreparePanics(t *testing.T) {
	r := AcquireRequest()
	defer ReleaseRequest(r)
	assert.Panics(t, func() { _ = r.writeHead(bufio.NewWriter(io.Discard), false) })
}

func TestPrepareWriteHeadNoAlloc(t *testing.T) {
	r := AcquireRequest()
	defer ReleaseRequest(r)
	bw := bufio.NewWriter(io.Discard)
	run := func() {
		r.Reset()
		r.SetRequestURI("http://user:pw@Example.com:8080/path/to?x=1&y=2")
		r.Header.Add("Accept", "*/*")
		r.Header.Add("User-Agent", "asynchttp-test")
		r.SetMethod("POST")
		r.SetBody(bodyBytes)
		if err := r.prepare(); err != nil {
			panic(err)
		}
		_ = r.hostKey()
		if err := r.writeHead(bw, false); err != nil {
			panic(err)
		}
		if err := r.writeBody(bw); err != nil {
			panic(err)
		}
		_ = r.isIdempotent()
		_ = r.canReplay()
	}
	run()
	require.Zero(t, testing.AllocsPerRun(200, run))
}

var bodyBytes = []byte(`{"k":"v"}`)

func BenchmarkPrepareWriteHead(b *testing.B) {
	r := AcquireRequest()
	defer ReleaseRequest(r)
	bw := bufio.NewWriter(io.Discard)
	r.SetRequestURI("http://example.com:8080/path/to?x=1&y=2")
	r.Header.Add("Accept", "*/*")
	r.Header.Add("User-Agent", "asynchttp-bench")
	b.ReportAllocs()
	for b.Loop() {
		if err := r.prepare(); err != nil {
			b.Fatal(err)
		}
		_ = r.hostKey()
		if err := r.writeHead(bw, false); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzPrepareRequest(f *testing.F) {
	for _, s := range []struct{ uri, method, hk, hv, host string }{
		{"http://example.com/", "GET", "Accept", "*/*", ""},
		{"https://u:p@[::1]:8443/a?b#c", "POST", "X", "y", "h:1"},
		{"http://bücher.example/ü", "PUT", "Host", "o.example", ""},
		{"http://h:0/", "GET", "X Y", "v", ""},
		{"http://h/\r\n", "G T", "X", "a\r\nb", "h\r\n"},
		{"HTTP://H:65535?q", "DELETE", "Connection", "close", "[::1]"},
	} {
		f.Add(s.uri, s.method, s.hk, s.hv, s.host)
	}
	f.Fuzz(func(t *testing.T, uri, method, hk, hv, host string) {
		r := AcquireRequest()
		defer ReleaseRequest(r)
		r.SetRequestURI(uri)
		r.SetMethod(method)
		r.Header.Add(hk, hv)
		r.SetHost(host)
		if err := r.prepare(); err != nil {
			require.ErrorIs(t, err, ErrInvalidRequest)
			return
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		require.NoError(t, r.writeHead(bw, true))
		require.NoError(t, bw.Flush())
		head := buf.String()
		// The head is well formed: it ends with the only empty line, every
		// line ends in CRLF, and no CR, LF or NUL appears elsewhere.
		require.True(t, strings.HasSuffix(head, "\r\n\r\n"))
		require.Equal(t, len(head)-4, strings.Index(head, "\r\n\r\n"))
		lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
		for i, l := range lines {
			require.NotContains(t, l, "\r")
			require.NotContains(t, l, "\n")
			require.NotContains(t, l, "\x00")
			if i == 0 {
				parts := strings.Split(l, " ")
				require.Len(t, parts, 3, "request line %q", l)
				require.Equal(t, "HTTP/1.1", parts[2])
				require.True(t, strings.HasPrefix(parts[1], "/"))
			} else {
				k, _, ok := strings.Cut(l, ": ")
				require.True(t, ok)
				require.True(t, validToken(k))
			}
		}
		require.True(t, strings.HasPrefix(lines[1], "Host: "))
		key := string(r.hostKey())
		require.True(t, strings.HasPrefix(key, "http://") || strings.HasPrefix(key, "https://"))
		require.Equal(t, strings.ToLower(key), key)
	})
}
