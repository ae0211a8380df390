// The identity of RoundTrip's errors: what callers written for net/http
// compare with ==, type-assert or match as text.

package asynchttp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp"
	"github.com/asynchttp/asynchttp/internal/testserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stallingServer reads a request and then sends nothing until the test
// ends.
func stallingServer(t *testing.T) *testserver.Scripted {
	return testserver.NewScripted(t, func(c net.Conn) {
		testserver.ReadRequest(bufio.NewReader(c))
		io.Copy(io.Discard, c) // until the client or the server closes
	})
}

func TestRoundTripReturnsTheContextsOwnError(t *testing.T) {
	errMine := errors.New("my cause")
	for _, tt := range []struct {
		name string
		ctx  func(parent context.Context) (context.Context, func())
		want func(ctx context.Context) error
	}{
		{"canceled", func(p context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancel(p)
			return ctx, cancel
		}, func(context.Context) error { return context.Canceled }},
		{"cause", func(p context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(p)
			return ctx, func() { cancel(errMine) }
		}, func(context.Context) error { return errMine }},
		{"deadline", func(p context.Context) (context.Context, func()) {
			ctx, cancel := context.WithTimeout(p, 50*time.Millisecond)
			_ = cancel // ends by itself; testCtx's end releases it
			return ctx, nil
		}, func(context.Context) error { return context.DeadlineExceeded }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, tr := range referenceTransports(t) {
				t.Run(tr.name, func(t *testing.T) {
					srv := stallingServer(t)
					ctx, end := tt.ctx(testCtx(t))
					req := newHTTPRequest(t, "GET", srv.URL(), nil).WithContext(ctx)
					errc := make(chan error, 1)
					go func() {
						resp, err := tr.rt.RoundTrip(req)
						if err == nil {
							resp.Body.Close()
						}
						errc <- err
					}()
					if end != nil {
						eventually(t, "the server accepted", func() bool { return srv.Accepted() > 0 })
						end()
					}
					err := <-errc
					assert.True(t, err == tt.want(ctx), "got %T %v", err, err)
				})
			}
		})
	}
}

func TestResponseBodyErrorsAreNetHTTPs(t *testing.T) {
	for _, tt := range []struct{ name, raw string }{
		{"sized body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{"chunked body cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, tr := range referenceTransports(t) {
				t.Run(tr.name, func(t *testing.T) {
					srv := testserver.NewScripted(t, func(c net.Conn) {
						if _, _, err := testserver.ReadRequest(bufio.NewReader(c)); err == nil {
							io.WriteString(c, tt.raw)
						}
					})
					resp, err := tr.rt.RoundTrip(newHTTPRequest(t, "GET", srv.URL(), nil))
					require.NoError(t, err)
					defer resp.Body.Close()
					_, err = io.ReadAll(resp.Body)
					assert.True(t, err == io.ErrUnexpectedEOF, "got %T %v", err, err)
				})
			}
		})
	}

	t.Run("context canceled while reading", func(t *testing.T) {
		for _, tr := range referenceTransports(t) {
			t.Run(tr.name, func(t *testing.T) {
				srv := testserver.NewScripted(t, func(c net.Conn) {
					if _, _, err := testserver.ReadRequest(bufio.NewReader(c)); err == nil {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
						io.Copy(io.Discard, c)
					}
				})
				ctx, cancel := context.WithCancel(testCtx(t))
				resp, err := tr.rt.RoundTrip(newHTTPRequest(t, "GET", srv.URL(), nil).WithContext(ctx))
				require.NoError(t, err)
				defer resp.Body.Close()
				buf := make([]byte, 3)
				_, err = io.ReadFull(resp.Body, buf)
				require.NoError(t, err)
				cancel()
				_, err = io.ReadAll(resp.Body)
				assert.True(t, err == context.Canceled, "got %T %v", err, err)
			})
		}
	})
}

func TestTLSAndDialErrorsAreTheirPackagesOwn(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer tlsSrv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	for _, tr := range referenceTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			_, err := tr.rt.RoundTrip(newHTTPRequest(t, "GET", tlsSrv.URL, nil))
			_, ok := err.(*tls.CertificateVerificationError)
			assert.True(t, ok, "untrusted certificate: got %T %v", err, err)

			_, err = tr.rt.RoundTrip(newHTTPRequest(t, "GET", refused, nil))
			oe, ok := err.(*net.OpError)
			if assert.True(t, ok, "refused: got %T %v", err, err) {
				assert.Equal(t, "dial", oe.Op)
			}
		})
	}
	// The typed errors still say what happened for errors.As users.
	c := newClient(t, asynchttp.Config{})
	_, err = c.RoundTrip(newHTTPRequest(t, "GET", tlsSrv.URL, nil))
	var cve *tls.CertificateVerificationError
	assert.ErrorAs(t, err, &cve)
}

func TestRefusedRequestsUseNetHTTPsWords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, tt := range []struct {
		name string
		make func(t *testing.T) *http.Request
	}{
		{"unsupported scheme", func(t *testing.T) *http.Request {
			return newHTTPRequest(t, "GET", "ftp://127.0.0.1/file", nil)
		}},
		{"invalid header name", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.Header["Bad Name"] = []string{"x"}
			return r
		}},
		{"invalid header value", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.Header.Set("X-Bad", "a\nb")
			return r
		}},
		{"invalid trailer value", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.Trailer = http.Header{"X-T": {"a\rb"}}
			return r
		}},
		{"invalid method", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.Method = "BAD METHOD"
			return r
		}},
		{"no host", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.URL = &url.URL{Scheme: "http", Path: "/"}
			return r
		}},
		{"nil URL", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.URL = nil
			return r
		}},
		{"nil header", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "GET", srv.URL, nil)
			r.Header = nil
			return r
		}},
		{"forbidden trailer name", func(t *testing.T) *http.Request {
			r := newHTTPRequest(t, "POST", srv.URL, nil)
			r.Trailer = http.Header{"Content-Length": nil}
			r.Body, r.ContentLength = io.NopCloser(io.LimitReader(zeros{}, 3)), -1
			return r
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var texts []string
			for _, tr := range referenceTransports(t) {
				resp, err := tr.rt.RoundTrip(tt.make(t))
				if err == nil {
					resp.Body.Close()
				}
				require.Error(t, err, tr.name)
				texts = append(texts, err.Error())
				if tr.name == "asynchttp" {
					assert.ErrorIs(t, err, asynchttp.ErrInvalidRequest)
				}
			}
			assert.Equal(t, texts[0], texts[1], "net/http, then asynchttp")
		})
	}
}
