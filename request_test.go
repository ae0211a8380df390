// Preparing a request: what it accepts and refuses, body replay,
// idempotency, accessors and Reset.

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

func TestRequestBodyReplayNeedsBufferOrGetBody(t *testing.T) {
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
