// What RoundTrip puts on the wire for an http.Request, compared with what
// net/http's Transport sends: request-target forms, User-Agent, trailers.

package asynchttp_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seenRequest is what a server can see of a request.
type seenRequest struct {
	Line    string // request line as sent
	Header  http.Header
	Body    string
	Trailer http.Header
}

// recordingServer answers every request with an empty 200 and a close,
// and reports what it received.
func recordingServer(t *testing.T) (*testserver.Scripted, <-chan seenRequest) {
	seen := make(chan seenRequest, 4)
	srv := testserver.NewScripted(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body) // fills req.Trailer at the end
		h := req.Header.Clone()
		delete(h, "Accept-Encoding") // each transport's own gzip choice is tested elsewhere
		seen <- seenRequest{
			Line:    req.Method + " " + req.RequestURI + " " + req.Proto,
			Header:  h,
			Body:    string(body),
			Trailer: req.Trailer,
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	})
	return srv, seen
}

// trailerBody is a body of unknown length that sets its request's trailer
// values when it reaches its end, as a streaming caller does.
type trailerBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set("X-Checksum", "42")
		b.trailer.Set("X-Count", "3")
	}
	return n, err
}

func (b *trailerBody) Close() error { return nil }

func TestRequestOnTheWireMatchesNetHTTP(t *testing.T) {
	for _, tt := range []struct {
		name string
		make func(t *testing.T, srvURL string) *http.Request
		want func(t *testing.T, got seenRequest)
	}{
		{"default User-Agent", func(t *testing.T, u string) *http.Request {
			return newHTTPRequest(t, "GET", u+"/ua", nil)
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "Go-http-client/1.1", got.Header.Get("User-Agent"))
		}},
		{"User-Agent set to empty sends none", func(t *testing.T, u string) *http.Request {
			r := newHTTPRequest(t, "GET", u+"/ua", nil)
			r.Header.Set("User-Agent", "")
			return r
		}, func(t *testing.T, got seenRequest) {
			assert.NotContains(t, got.Header, "User-Agent")
		}},
		{"several User-Agents send the first", func(t *testing.T, u string) *http.Request {
			r := newHTTPRequest(t, "GET", u+"/ua", nil)
			r.Header["User-Agent"] = []string{"first/1", "second/2"}
			return r
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, []string{"first/1"}, got.Header["User-Agent"])
		}},
		{"CONNECT uses the authority form", func(t *testing.T, u string) *http.Request {
			pu, _ := url.Parse(u)
			return &http.Request{Method: "CONNECT", URL: &url.URL{Scheme: "http", Host: pu.Host},
				Host: "tunnel.example:443", Header: http.Header{}}
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "CONNECT tunnel.example:443 HTTP/1.1", got.Line)
		}},
		{"CONNECT with an opaque URL", func(t *testing.T, u string) *http.Request {
			pu, _ := url.Parse(u)
			return &http.Request{Method: "CONNECT", URL: &url.URL{Scheme: "http", Host: pu.Host, Opaque: "opaque.example:8443"},
				Header: http.Header{}}
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "CONNECT opaque.example:8443 HTTP/1.1", got.Line)
		}},
		{"OPTIONS * uses the asterisk form", func(t *testing.T, u string) *http.Request {
			pu, _ := url.Parse(u)
			return &http.Request{Method: "OPTIONS", URL: &url.URL{Scheme: "http", Host: pu.Host, Path: "*"},
				Header: http.Header{}}
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "OPTIONS * HTTP/1.1", got.Line)
		}},
		{"trailers after a chunked body", func(t *testing.T, u string) *http.Request {
			r := newHTTPRequest(t, "POST", u+"/upload", nil)
			r.Trailer = http.Header{"X-Checksum": nil, "X-Count": nil}
			r.Body = &trailerBody{r: strings.NewReader("abc"), trailer: r.Trailer}
			r.ContentLength = -1
			return r
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "abc", got.Body)
			assert.Equal(t, http.Header{"X-Checksum": {"42"}, "X-Count": {"3"}}, got.Trailer)
		}},
		{"trailers declared on a sized body", func(t *testing.T, u string) *http.Request {
			r := newHTTPRequest(t, "POST", u+"/upload", bytes.NewReader([]byte("abc")))
			r.Trailer = http.Header{"X-Checksum": {"ignored"}}
			return r
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "abc", got.Body)
		}},
		{"header order and case", func(t *testing.T, u string) *http.Request {
			r := newHTTPRequest(t, "PUT", u+"/p?q=1", strings.NewReader("x"))
			r.Header["x-lower"] = []string{"a"}
			r.Header.Add("X-Multi", "1")
			r.Header.Add("X-Multi", "2")
			return r
		}, func(t *testing.T, got seenRequest) {
			assert.Equal(t, "PUT /p?q=1 HTTP/1.1", got.Line)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []seenRequest
			for _, tr := range referenceTransports(t) {
				srv, seen := recordingServer(t)
				resp, err := tr.rt.RoundTrip(tt.make(t, srv.URL()))
				require.NoError(t, err, tr.name)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				select {
				case s := <-seen:
					tt.want(t, s)
					got = append(got, s)
				case <-testCtx(t).Done():
					t.Fatal("the server saw no request")
				}
			}
			assert.Equal(t, got[0], got[1], "net/http, then asynchttp")
		})
	}
}

func newHTTPRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(testCtx(t), method, url, body)
	require.NoError(t, err)
	return r
}
