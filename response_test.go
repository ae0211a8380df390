// Reading a response head: framing, fields, 1xx, errors and limits.

package asynchttp

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll parses a response head and reads its body like the client does.
func readAll(t *testing.T, in string, isHead bool, maxBody int64) (*Response, bodyFraming, error) {
	t.Helper()
	resp := &Response{}
	br := bufio.NewReader(strings.NewReader(in))
	f, err := readResponseHead(br, resp, 0, isHead, nil)
	if err != nil {
		return resp, f, err
	}
	var b bodyReader
	b.reset(br, f, maxBody, &resp.Trailer)
	resp.body, err = b.appendTo(resp.body[:0])
	if err == nil {
		require.True(t, b.done())
	}
	return resp, f, err
}

func TestReadResponseFraming(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		isHead  bool
		code    int
		minor   int
		mode    framingMode
		close   bool
		cl      int64
		body    string
		trailer map[string]string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, 1, framingLength, false, 5, "hello", nil},
		{"content-length zero", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, 1, framingLength, false, 0, "", nil},
		{"content-length list equal", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", false, 200, 1, framingLength, false, 3, "abc", nil},
		{"duplicate content-length equal", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc", false, 200, 1, framingLength, false, 3, "abc", nil},
		{"content-length leading zeros", "HTTP/1.1 200 OK\r\nContent-Length: 003\r\n\r\nabc", false, 200, 1, framingLength, false, 3, "abc", nil},
		{"bare LF lines", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", false, 200, 1, framingLength, false, 2, "hi", nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", false, 200, 1, framingChunked, false, -1, "hello world", nil},
		{"chunked case", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", false, 200, 1, framingChunked, false, -1, "", nil},
		{"chunked hex and extensions", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA;name=val\r\n0123456789\r\n1 ; a=\"b\"\r\nX\r\n0;last\r\n\r\n", false, 200, 1, framingChunked, false, -1, "0123456789X", nil},
		{"chunked trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\nX-Other:  v \r\n\r\n", false, 200, 1, framingChunked, false, -1, "abc", map[string]string{"X-Sum": "42", "x-other": "v"}},
		{"chunked bare LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", false, 200, 1, framingChunked, false, -1, "abc", nil},
		{"chunked uppercase hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00B\r\nhello world\r\n0\r\n\r\n", false, 200, 1, framingChunked, false, -1, "hello world", nil},
		{"chunked with CL: chunked wins, close", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", false, 200, 1, framingChunked, true, -1, "hi", nil},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nuntil close", false, 200, 1, framingClose, true, -1, "until close", nil},
		{"close-delimited empty", "HTTP/1.1 200 OK\r\n\r\n", false, 200, 1, framingClose, true, -1, "", nil},
		{"HEAD with CL", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", true, 200, 1, framingNone, false, 1234, "", nil},
		{"HEAD chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, 200, 1, framingNone, false, -1, "", nil},
		{"HEAD gzip TE ignored", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", true, 200, 1, framingNone, false, -1, "", nil},
		{"HEAD no CL", "HTTP/1.1 404 Not Found\r\n\r\n", true, 404, 1, framingNone, false, -1, "", nil},
		{"204", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, 204, 1, framingNone, false, 0, "", nil},
		{"304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, 304, 1, framingNone, false, 0, "", nil},
		{"101 final", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, 101, 1, framingNone, true, 0, "", nil},
		{"100 skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, 1, framingLength, false, 2, "ok", nil},
		{"103 and 102 skipped", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", false, 201, 1, framingLength, false, 0, "", nil},
		{"HTTP/1.0 close", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", false, 200, 0, framingLength, true, 2, "hi", nil},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", false, 200, 0, framingLength, false, 2, "hi", nil},
		{"HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nhi", false, 200, 0, framingClose, true, -1, "hi", nil},
		// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing;
		// the body is read to the close, never as chunks.
		{"HTTP/1.0 with Transfer-Encoding reads to close", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, 200, 0, framingClose, true, -1, "0\r\n\r\n", nil},
		{"HTTP/1.0 with Transfer-Encoding and Content-Length reads to close", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", false, 200, 0, framingClose, true, -1, "5\r\nhello", nil},
		{"HTTP/1.0 with an unknown Transfer-Encoding reads to close", "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", false, 200, 0, framingClose, true, -1, "raw", nil},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", false, 200, 1, framingLength, true, 2, "hi", nil},
		{"connection close in list", "HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 0\r\n\r\n", false, 200, 1, framingLength, true, 0, "", nil},
		{"missing reason with space", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false, 200, 1, framingLength, false, 0, "", nil},
		{"missing reason no space", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, 200, 1, framingLength, false, 0, "", nil},
		{"status 999", "HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", false, 999, 1, framingLength, false, 0, "", nil},
		{"empty field value", "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n", false, 200, 1, framingLength, false, 0, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, f, err := readAll(t, tt.in, tt.isHead, 0)
			require.NoError(t, err)
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Equal(t, 1, resp.ProtoMajor)
			assert.Equal(t, tt.minor, resp.ProtoMinor)
			assert.Equal(t, tt.mode, f.mode)
			assert.Equal(t, tt.close, f.close, "close")
			assert.Equal(t, tt.cl, resp.ContentLength)
			assert.Equal(t, tt.body, string(resp.Body()))
			assert.Equal(t, tt.body, resp.BodyString())
			assert.Equal(t, len(tt.trailer), resp.Trailer.Len())
			for k, v := range tt.trailer {
				assert.Equal(t, v, resp.Trailer.Get(k))
			}
		})
	}
}

func TestReadResponseHeadFields(t *testing.T) {
	in := "HTTP/1.1 200 Very OK\r\nSet-Cookie: a=1\r\nX-Dup: 1\r\nset-cookie: b=2\r\nX-Spaced: \t v a l \t\r\nSET-COOKIE: c=3\r\nX-Obs: caf\xe9\r\nContent-Length: 0\r\n\r\n"
	resp := AcquireResponse()
	defer ReleaseResponse(resp)
	_, err := readResponseHead(bufio.NewReader(strings.NewReader(in)), resp, 0, false, nil)
	require.NoError(t, err)
	assert.Equal(t, "Very OK", resp.Reason())
	assert.Equal(t, []string{"a=1", "b=2", "c=3"}, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "v a l", resp.Header.Get("x-spaced"))
	assert.Equal(t, "caf\xe9", resp.Header.Get("X-Obs"))
	var names []string
	resp.Header.VisitAll(func(k, _ []byte) { names = append(names, string(k)) })
	assert.Equal(t, []string{"Set-Cookie", "X-Dup", "set-cookie", "X-Spaced", "SET-COOKIE", "X-Obs", "Content-Length"}, names)
}

func TestReadResponseHead1xxCallback(t *testing.T) {
	in := "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nLink: </app.js>\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	type seen struct {
		code  int
		links []string
	}
	var got []seen
	resp := AcquireResponse()
	defer ReleaseResponse(resp)
	f, err := readResponseHead(bufio.NewReader(strings.NewReader(in)), resp, 0, false, func(code int, h *Header) error {
		got = append(got, seen{code, h.Values("Link")})
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, framingLength, f.mode)
	assert.Equal(t, []seen{{100, nil}, {103, []string{"</style.css>; rel=preload", "</app.js>"}}}, got)
	assert.Equal(t, 200, resp.StatusCode)
	assert.False(t, resp.Header.Has("Link"), "interim fields do not leak into the final header")
	assert.Equal(t, "OK", resp.Reason())

	stop := errors.New("stop")
	_, err = readResponseHead(bufio.NewReader(strings.NewReader(in)), resp, 0, false, func(int, *Header) error { return stop })
	assert.ErrorIs(t, err, stop)
}

func TestReadResponseHeadTooMany1xx(t *testing.T) {
	in := strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", maxInterimResponses+2) + "HTTP/1.1 200 OK\r\n\r\n"
	_, err := readResponseHead(bufio.NewReader(strings.NewReader(in)), &Response{}, 0, false, nil)
	assert.ErrorIs(t, err, ErrMalformedResponse)
}

func TestReadResponseHeadErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		err  error
		what string // ProtocolError.What, if err is ErrMalformedResponse
	}{
		{"empty", "", io.EOF, ""},
		{"partial status line", "HTTP/1.1 20", io.ErrUnexpectedEOF, ""},
		{"eof in header", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", io.ErrUnexpectedEOF, ""},
		{"eof mid field", "HTTP/1.1 200 OK\r\nContent-Len", io.ErrUnexpectedEOF, ""},
		{"eof after 100", "HTTP/1.1 100 Continue\r\n\r\n", io.ErrUnexpectedEOF, ""},
		{"status letter O", "HTTP/1.1 2OO OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"lowercase http", "http/1.1 200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"missing code", "HTTP/1.1 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"missing code with spaces", "HTTP/1.1  \r\n\r\n", ErrMalformedResponse, "status line"},
		{"two digit code", "HTTP/1.1 20 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"four digit code", "HTTP/1.1 2000 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"code 099", "HTTP/1.1 099 X\r\n\r\n", ErrMalformedResponse, "status line"},
		{"double space", "HTTP/1.1  200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"tab separator", "HTTP/1.1\t200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"garbage", "garbage\r\n\r\n", ErrMalformedResponse, "status line"},
		{"empty status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n", ErrMalformedResponse, "status line"},
		{"bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", ErrMalformedResponse, "status line"},
		{"NUL in value", "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", ErrMalformedResponse, "header field"},
		{"NUL in name", "HTTP/1.1 200 OK\r\nX\x00: ab\r\n\r\n", ErrMalformedResponse, "header field"},
		{"bare CR in value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", ErrMalformedResponse, "header field"},
		{"CR CR LF", "HTTP/1.1 200 OK\r\nX: ab\r\r\n\r\n", ErrMalformedResponse, "header field"},
		{"bare CR line", "HTTP/1.1 200 OK\r\n\r\r\n", ErrMalformedResponse, "header field"},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", ErrMalformedResponse, "header field"},
		{"space in name", "HTTP/1.1 200 OK\r\nX Y: z\r\n\r\n", ErrMalformedResponse, "header field"},
		{"empty name", "HTTP/1.1 200 OK\r\n: z\r\n\r\n", ErrMalformedResponse, "header field"},
		{"no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", ErrMalformedResponse, "header field"},
		{"bad name char", "HTTP/1.1 200 OK\r\nX(y): z\r\n\r\n", ErrMalformedResponse, "header field"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ErrMalformedResponse, "obs-fold"},
		{"obs-fold tab", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", ErrMalformedResponse, "obs-fold"},
		{"whitespace before first field", "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", ErrMalformedResponse, "obs-fold"},
		{"CL different", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", ErrMalformedResponse, "Content-Length"},
		{"CL list different", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", ErrMalformedResponse, "Content-Length"},
		{"CL negative", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL plus", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL inner space", "HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL leading space digits", "HTTP/1.1 200 OK\r\nContent-Length:  5 5\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL abc", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL hex", "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL empty", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL overflow", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"CL huge overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", ErrMalformedResponse, "Content-Length"},
		{"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ErrMalformedResponse, "Transfer-Encoding"},
		{"TE chunked then gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ErrMalformedResponse, "Transfer-Encoding"},
		{"TE gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrMalformedResponse, "Transfer-Encoding"},
		{"TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrMalformedResponse, "Transfer-Encoding"},
		{"TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", ErrMalformedResponse, "Transfer-Encoding"},
		{"TE identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nx", ErrMalformedResponse, "Transfer-Encoding"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(t, tt.in, false, 0)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.err)
			if tt.what != "" {
				var pe *ProtocolError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.what, pe.What, pe.Error())
			} else {
				assert.Equal(t, tt.err, err, "I/O errors are not wrapped")
			}
		})
	}
}

// netErr stands for a network error that must come back unchanged.
type netErr struct{}

func (netErr) Error() string   { return "read: connection reset by peer" }
func (netErr) Timeout() bool   { return false }
func (netErr) Temporary() bool { return false }

func TestReadResponseHeadNetErrorUnwrapped(t *testing.T) {
	for _, in := range []string{"", "HTTP/1.1 200 OK\r\nX: "} {
		r := io.MultiReader(strings.NewReader(in), errReader{netErr{}})
		_, err := readResponseHead(bufio.NewReader(r), &Response{}, 0, false, nil)
		assert.Equal(t, netErr{}, err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReadResponseHeadLimit(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nA: 1234567890\r\n\r\n" // 35 bytes
	for _, tt := range []struct {
		name string
		max  int
		ok   bool
	}{
		{"exact", len(head), true},
		{"one short", len(head) - 1, false},
		{"status line too long", 10, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{16, 4096} { // also lines longer than the buffer
				br := bufio.NewReaderSize(strings.NewReader(head), size)
				_, err := readResponseHead(br, &Response{}, tt.max, false, nil)
				if tt.ok {
					require.NoError(t, err)
					continue
				}
				require.ErrorIs(t, err, ErrHeaderTooLarge)
				var le *LimitError
				require.ErrorAs(t, err, &le)
				assert.Equal(t, "MaxResponseHeaderBytes", le.Limit)
				assert.Equal(t, int64(tt.max), le.Max)
			}
		})
	}
}

// endless yields its pattern forever.
type endless struct {
	pattern string
	off     int
	n       int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.pattern[e.off]
		e.off = (e.off + 1) % len(e.pattern)
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadResponseHeadEndlessInputBounded(t *testing.T) {
	const max = 64 << 10
	for _, tt := range []struct{ name, prefix, pattern string }{
		{"endless fields", "HTTP/1.1 200 OK\r\n", "X-Field: value\r\n"},
		{"endless line", "HTTP/1.1 200 OK\r\nX-Long: ", "aaaaaaaaaaaaaaaa"},
		{"endless status line", "HTTP/1.1 200 ", "reason "},
		{"endless 100s", "", "HTTP/1.1 100 Continue\r\nX: y\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &endless{pattern: tt.pattern}
			br := bufio.NewReaderSize(io.MultiReader(strings.NewReader(tt.prefix), src), 4096)
			resp := &Response{}
			_, err := readResponseHead(br, resp, max, false, nil)
			require.Error(t, err)
			if tt.name == "endless 100s" {
				require.ErrorIs(t, err, ErrMalformedResponse)
			} else {
				require.ErrorIs(t, err, ErrHeaderTooLarge)
			}
			assert.LessOrEqual(t, src.n, int64(max+2*4096), "read no more than the limit plus a buffer")
			assert.LessOrEqual(t, cap(resp.scratch)+cap(resp.Header.buf), 4*max)
		})
	}
}

func TestResponseResetAndPool(t *testing.T) {
	resp := AcquireResponse()
	_, _, err := func() (*Response, bodyFraming, error) {
		br := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: 1\r\n\r\n"))
		f, err := readResponseHead(br, resp, 0, false, nil)
		require.NoError(t, err)
		var b bodyReader
		b.reset(br, f, 0, &resp.Trailer)
		resp.body, err = b.appendTo(resp.body[:0])
		return resp, f, err
	}()
	require.NoError(t, err)
	assert.Equal(t, "x", string(resp.Body()))
	assert.Equal(t, "1", resp.Trailer.Get("t"))
	resp.Reset()
	assert.Equal(t, 0, resp.StatusCode)
	assert.Equal(t, int64(0), resp.ContentLength)
	assert.Equal(t, 0, resp.Header.Len())
	assert.Equal(t, 0, resp.Trailer.Len())
	assert.Empty(t, resp.Body())
	assert.Equal(t, "", resp.Reason())
	ReleaseResponse(resp)
}

const smallResponse = "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nServer: test\r\n\r\nHello, World!"

const chunkedResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nHello, \r\n6\r\nWorld!\r\n0\r\nX-T: 1\r\n\r\n"

func TestReadResponseNoAlloc(t *testing.T) {
	for _, in := range []string{smallResponse, chunkedResponse} {
		resp := AcquireResponse()
		sr := strings.NewReader(in)
		br := bufio.NewReader(sr)
		var b bodyReader
		run := func() {
			sr.Reset(in)
			br.Reset(sr)
			f, err := readResponseHead(br, resp, 1<<20, false, nil)
			if err != nil {
				panic(err)
			}
			b.reset(br, f, 1<<20, &resp.Trailer)
			resp.body, err = b.appendTo(resp.body[:0])
			if err != nil || !b.done() || string(resp.body) != "Hello, World!" {
				panic("bad body")
			}
		}
		run()
		assert.Zero(t, testing.AllocsPerRun(200, run))
		ReleaseResponse(resp)
	}
}

func BenchmarkReadResponseHead(b *testing.B) {
	resp := AcquireResponse()
	defer ReleaseResponse(resp)
	sr := strings.NewReader(smallResponse)
	br := bufio.NewReader(sr)
	b.ReportAllocs()
	b.SetBytes(int64(len(smallResponse)))
	for b.Loop() {
		sr.Reset(smallResponse)
		br.Reset(sr)
		if _, err := readResponseHead(br, resp, 1<<20, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadResponse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{{"length", smallResponse}, {"chunked", chunkedResponse}} {
		b.Run(bc.name, func(b *testing.B) {
			resp := AcquireResponse()
			defer ReleaseResponse(resp)
			sr := strings.NewReader(bc.in)
			br := bufio.NewReader(sr)
			var body bodyReader
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				sr.Reset(bc.in)
				br.Reset(sr)
				f, err := readResponseHead(br, resp, 1<<20, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				body.reset(br, f, 0, &resp.Trailer)
				if resp.body, err = body.appendTo(resp.body[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzReadResponseHead(f *testing.F) {
	for _, s := range []string{
		smallResponse,
		chunkedResponse,
		"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200\nContent-Length: 1\n\nx",
		"HTTP/1.1 2OO OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
	} {
		f.Add([]byte(s), false, int64(0))
	}
	f.Add([]byte(smallResponse), true, int64(5))
	f.Fuzz(func(t *testing.T, in []byte, isHead bool, maxBody int64) {
		resp := &Response{}
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		fr, err := readResponseHead(br, resp, 512, isHead, nil)
		if err != nil {
			checkParseErr(t, err)
			return
		}
		require.GreaterOrEqual(t, resp.StatusCode, 100)
		require.LessOrEqual(t, resp.StatusCode, 999)
		require.Equal(t, 1, resp.ProtoMajor)
		require.Contains(t, []int{0, 1}, resp.ProtoMinor)
		resp.Header.VisitAll(func(k, v []byte) {
			require.True(t, validToken(k))
			require.True(t, validFieldValue(v))
			require.Equal(t, string(trimOWS(v)), string(v))
		})
		if isHead || resp.StatusCode < 200 || resp.StatusCode == 204 || resp.StatusCode == 304 {
			require.Equal(t, framingNone, fr.mode)
		}
		if fr.mode == framingClose {
			require.True(t, fr.close)
		}
		var b bodyReader
		b.reset(br, fr, maxBody, &resp.Trailer)
		body, err := b.appendTo(nil)
		if maxBody > 0 {
			require.LessOrEqual(t, int64(len(body)), maxBody)
		}
		if fr.mode == framingLength {
			require.LessOrEqual(t, int64(len(body)), fr.length)
			require.Equal(t, fr.length, resp.ContentLength)
		}
		if err != nil {
			checkParseErr(t, err)
			require.False(t, b.done())
			return
		}
		require.True(t, b.done())
		if fr.mode == framingLength {
			require.Equal(t, fr.length, int64(len(body)))
		}
	})
}

// checkParseErr asserts err is one of the errors a parser may return.
func checkParseErr(t *testing.T, err error) {
	t.Helper()
	ok := errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrHeaderTooLarge) ||
		errors.Is(err, ErrBodyTooLarge) || err == io.EOF || err == io.ErrUnexpectedEOF
	require.True(t, ok, "unexpected error %T %v", err, err)
}
