// The fields of the http.Response that RoundTrip returns, compared with
// what net/http's Transport makes of the same bytes.

package asynchttp_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// responseView is what a caller of http.Client can see of a response.
type responseView struct {
	Status           string
	StatusCode       int
	Proto            string
	ProtoMajor       int
	ProtoMinor       int
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Close            bool
	Uncompressed     bool
	TrailerBefore    http.Header // Trailer before the body is read
	Body             string
	BodyErr          bool
	TrailerAfter     http.Header
}

func viewResponse(t *testing.T, rt http.RoundTripper, method, url string) responseView {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, url, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	v := responseView{
		Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto,
		ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
		Header: resp.Header.Clone(), ContentLength: resp.ContentLength,
		TransferEncoding: resp.TransferEncoding, Close: resp.Close,
		Uncompressed: resp.Uncompressed, TrailerBefore: resp.Trailer.Clone(),
	}
	b, err := io.ReadAll(resp.Body)
	v.Body, v.BodyErr = string(b), err != nil
	v.TrailerAfter = resp.Trailer.Clone()
	return v
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func TestResponseFieldsMatchNetHTTP(t *testing.T) {
	gz := gzipped("hello, gzip")
	for _, tt := range []struct {
		name, method, raw string
	}{
		{"chunked with declared and undeclared trailers", "GET",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A, x-c\r\n\r\n5\r\nhello\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n"},
		{"chunked without trailers", "GET",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"chunked with undeclared trailers only", "GET",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Late: yes\r\n\r\n"},
		{"chunked and Content-Length", "GET",
			"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"},
		{"Trailer field without chunks stays in Header", "GET",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTrailer: X-A\r\n\r\nhi"},
		{"Connection close", "GET",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"},
		{"Connection close among other tokens", "GET",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: foo, close\r\n\r\nhi"},
		{"HTTP/1.0 without keep-alive", "GET",
			"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"},
		{"HTTP/1.0 keep-alive", "GET",
			"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi"},
		{"HTTP/1.0 with Transfer-Encoding reads to close", "GET",
			"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"body to close", "GET",
			"HTTP/1.1 200 OK\r\n\r\nuntil close"},
		{"204 with Content-Length", "GET",
			"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
		{"304", "GET",
			"HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n"},
		{"HEAD with Content-Length", "HEAD",
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
		{"HEAD answered chunked with a trailer", "HEAD",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A\r\nContent-Length: 7\r\n\r\n"},
		{"204 saying chunked", "GET",
			"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"HEAD without Content-Length", "HEAD",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"},
		{"gzip decoded", "GET",
			"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz},
		{"odd names, repeated fields, unusual reason", "GET",
			"HTTP/1.1 299 Fine Thanks\r\nx-lower: a\r\nX-LOUD: b\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"},
		{"no reason phrase", "GET",
			"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.NewScripted(t, func(c net.Conn) {
				if _, _, err := testserver.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, tt.raw)
				// Closing after the response: a body to close ends here.
			})
			var views []responseView
			for _, tr := range referenceTransports(t) {
				views = append(views, viewResponse(t, tr.rt, tt.method, srv.URL()))
			}
			assert.Equal(t, views[0], views[1], "net/http, then asynchttp")
		})
	}
}

func TestResponseWithForbiddenTrailerNameFails(t *testing.T) {
	// net/http refuses a Trailer field naming Content-Length (or
	// Transfer-Encoding, or Trailer): so does RoundTrip, and the conn is
	// not pooled.
	for _, tr := range referenceTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			srv := testserver.NewScripted(t, func(c net.Conn) {
				if _, _, err := testserver.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n")
			})
			req, err := http.NewRequestWithContext(testCtx(t), "GET", srv.URL(), nil)
			require.NoError(t, err)
			resp, err := tr.rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), `bad trailer key "Content-Length"`)
		})
	}
}
