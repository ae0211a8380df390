package compat

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newProxy puts an httputil.ReverseProxy whose Transport is rt in front of
// backend.
func newProxy(t *testing.T, backend string, rt http.RoundTripper) *httptest.Server {
	u, err := url.Parse(backend)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = rt
	rp.ErrorLog = nil
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

// halfCloseBackend upgrades to the "echo" protocol, echoes until the client
// half-closes, then writes "bye" and closes: "bye" only arrives if the
// client's CloseWrite reached it while its own writes still go through.
func halfCloseBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(waitTimeout))
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		if brw.Flush() != nil {
			return
		}
		if _, err := io.Copy(conn, brw); err != nil {
			return
		}
		_, _ = conn.Write([]byte("bye"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func upgradeRequest(t *testing.T, ctx context.Context, url string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	return req
}

// A WebSocket echo works through a ReverseProxy whose Transport is the one
// under test (the proxy needs the 101 body to be an io.ReadWriteCloser).
func TestReverseProxyWebSocketEcho(t *testing.T) {
	backend := echoServer(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		proxy := newProxy(t, backend.URL, tr.make(t, nil))
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		wsEcho(t, ctx, proxy.URL, http.DefaultTransport)
	})
}

// The client half-closes its side of an upgraded stream through the proxy;
// the proxy passes the half-close on to the backend over the transport's
// 101 body (CloseWrite), and the backend's last bytes still come back.
func TestReverseProxyUpgradeHalfClose(t *testing.T) {
	backend := halfCloseBackend(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		proxy := newProxy(t, backend.URL, tr.make(t, nil))
		conn, err := net.DialTimeout("tcp", proxy.Listener.Addr().String(), waitTimeout)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(waitTimeout)))
		_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+proxy.Listener.Addr().String()+"\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		_, err = io.WriteString(conn, "ping")
		require.NoError(t, err)
		buf := make([]byte, 4)
		_, err = io.ReadFull(br, buf)
		require.NoError(t, err)
		require.Equal(t, "ping", string(buf))
		require.NoError(t, conn.(*net.TCPConn).CloseWrite())
		rest, err := io.ReadAll(br)
		require.NoError(t, err)
		require.Equal(t, "bye", string(rest))
	})
}

// The 101 body itself supports CloseWrite, as net/http's does.
func TestUpgradeBodyCloseWrite(t *testing.T) {
	backend := halfCloseBackend(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		resp, err := (&http.Client{Transport: tr.make(t, nil)}).Do(upgradeRequest(t, ctx, backend.URL))
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		require.True(t, ok, "101 body is %T, not an io.ReadWriteCloser", resp.Body)
		defer rwc.Close()
		_, err = io.WriteString(rwc, "ping")
		require.NoError(t, err)
		cw, ok := rwc.(interface{ CloseWrite() error })
		require.True(t, ok, "101 body %T has no CloseWrite", rwc)
		require.NoError(t, cw.CloseWrite())
		rest, err := io.ReadAll(rwc)
		require.NoError(t, err)
		require.Equal(t, "pingbye", string(rest))
	})
}

// A context cancelled after the 101 does not kill the upgraded stream;
// one cancelled before the request fails it with the context's error.
func TestUpgradeContextCancellation(t *testing.T) {
	backend := halfCloseBackend(t)
	eachTransport(t, func(t *testing.T, tr transport) {
		client := &http.Client{Transport: tr.make(t, nil)}
		t.Run("after101", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			resp, err := client.Do(upgradeRequest(t, ctx, backend.URL))
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			cancel()
			rwc, ok := resp.Body.(io.ReadWriteCloser)
			require.True(t, ok, "101 body is %T, not an io.ReadWriteCloser", resp.Body)
			defer rwc.Close()
			done := make(chan error, 1)
			go func() {
				if _, err := io.WriteString(rwc, "still here"); err != nil {
					done <- err
					return
				}
				buf := make([]byte, len("still here"))
				_, err := io.ReadFull(rwc, buf)
				if err == nil && string(buf) != "still here" {
					err = errors.New("echo mismatch: " + string(buf))
				}
				done <- err
			}()
			require.NoError(t, recv(t, done))
		})
		t.Run("before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			resp, err := client.Do(upgradeRequest(t, ctx, backend.URL))
			if resp != nil {
				resp.Body.Close()
			}
			require.Error(t, err)
			require.ErrorIs(t, err, context.Canceled)
		})
	})
}

// A 103 Early Hints from the backend reaches the proxy's client (the proxy
// forwards 1xx responses its Transport reports through httptrace).
func TestReverseProxyForwards1xx(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "final")
	}))
	t.Cleanup(backend.Close)
	eachTransport(t, func(t *testing.T, tr transport) {
		proxy := newProxy(t, backend.URL, tr.make(t, nil))
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		var codes []int
		var links []string
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				codes = append(codes, code)
				links = append(links, h.Get("Link"))
				return nil
			},
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, proxy.URL, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "final", string(body))
		require.Equal(t, []int{http.StatusEarlyHints}, codes)
		require.Equal(t, []string{"</style.css>; rel=preload; as=style"}, links)
	})
}

// Response trailers, declared and undeclared, come from the backend through
// a proxy whose Transport is the one under test; request trailers go from
// the transport under test straight to the backend. (Stock ReverseProxy
// drops request trailers even over net/http: it clones the inbound request,
// so the trailer values filled in at EOF never reach the outbound one, and
// it strips "Trailer" as hop-by-hop.)
func TestTrailersBothWays(t *testing.T) {
	type seen struct {
		body    string
		trailer http.Header
	}
	got := make(chan seen, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{string(b), r.Trailer.Clone()}
		w.Header().Set("Trailer", "X-Declared")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "response body")
		w.Header().Set("X-Declared", "decl-value")
		w.Header().Set(http.TrailerPrefix+"X-Undeclared", "undecl-value")
	}))
	t.Cleanup(backend.Close)
	eachTransport(t, func(t *testing.T, tr transport) {
		rt := tr.make(t, nil)
		t.Run("request", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			pr, pw := io.Pipe()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, backend.URL, pr)
			require.NoError(t, err)
			req.Trailer = http.Header{"X-Req-Trailer": nil}
			go func() {
				_, _ = io.WriteString(pw, "request body")
				req.Trailer.Set("X-Req-Trailer", "req-value")
				_ = pw.Close()
			}()
			resp, err := (&http.Client{Transport: rt}).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			s := recv(t, got)
			require.Equal(t, "request body", s.body)
			require.Equal(t, "req-value", s.trailer.Get("X-Req-Trailer"))
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
		})
		t.Run("responseThroughProxy", func(t *testing.T) {
			proxy := newProxy(t, backend.URL, rt)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, proxy.URL, strings.NewReader("x"))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			recv(t, got)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, "response body", string(body))
			require.Equal(t, "decl-value", resp.Trailer.Get("X-Declared"))
			require.Equal(t, "undecl-value", resp.Trailer.Get("X-Undeclared"))
		})
	})
}

// A streamed response reaches the proxy's client chunk by chunk while the
// backend is still running: the backend only writes its second chunk after
// the client has received the first.
func TestReverseProxyFlushesStreamedChunks(t *testing.T) {
	step := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_, _ = io.WriteString(w, "first;")
		_ = rc.Flush()
		select {
		case <-step:
		case <-r.Context().Done():
			return
		case <-time.After(waitTimeout):
			return
		}
		_, _ = io.WriteString(w, "second;")
	}))
	t.Cleanup(backend.Close)
	eachTransport(t, func(t *testing.T, tr transport) {
		proxy := newProxy(t, backend.URL, tr.make(t, nil))
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, proxy.URL, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		buf := make([]byte, len("first;"))
		_, err = io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		require.Equal(t, "first;", string(buf))
		select {
		case step <- struct{}{}:
		case <-time.After(waitTimeout):
			t.Fatal("backend never waited for the step")
		}
		rest, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "second;", string(rest))
	})
}
