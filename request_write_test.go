// Writing a request: the head's wire form, streamed and chunked bodies,
// and their errors.

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

func writeHeadString(t *testing.T, r *Request, closeConn bool) string {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	require.NoError(t, r.writeHead(bw, closeConn))
	require.NoError(t, bw.Flush())
	return buf.String()
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
